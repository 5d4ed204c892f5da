"""The core's data-parallel batches: a batch is split into row blocks that
depend on the batch alone, so every thread count gives the same bits, and
those bits match the reference up to the order of the gradient sums. The
thread count is nnbook's own setting, passed to every call; the vendored
BLAS stays at one thread."""
import dataclasses
import os
import signal
import time

import numpy as np
import pytest

import nnbook
from nnbook import _nncore as core
from nnbook import reference as ref

NETWORKS = {
    "softmax": ([7, 9, 4], ["sigmoid", "softmax"], "categorical_crossentropy"),
    "binary": ([5, 6, 3, 1], ["tanh", "relu", "sigmoid"], "binary_crossentropy"),
    "mse": ([4, 8, 2], ["relu", "linear"], "mse"),
}
OPTIMIZERS = [dict(optimizer="sgd", l1=0.01, l2=0.02), dict(optimizer="momentum", momentum=0.9, learning_rate=0.01),
              dict(optimizer="adam", learning_rate=0.01), dict(optimizer="rmsprop", learning_rate=0.01)]


@pytest.fixture(autouse=True)
def two_threads():
    before = nnbook.get_num_threads()
    nnbook.set_num_threads(2)
    yield
    nnbook.set_num_threads(before)


# a first layer as wide as Fashion-MNIST's: under plain SGD its weight is
# stepped inside its gradient's product, in parts (folds_first_weight)
WIDE = ([700, 100, 10], ["sigmoid", "softmax"], "categorical_crossentropy")


def problem(name, dtype, n=41, seed=0, **settings):
    sizes, acts, loss = WIDE if name == "wide" else NETWORKS[name]
    spec = ref.NetworkSpec(sizes=sizes, activations=acts, loss=loss, **settings)
    # parallel_min_flops=0: split every batch, however small
    config = core.CoreConfig(**dataclasses.asdict(spec), parallel_min_flops=0.0)
    rng = np.random.default_rng(seed)
    params = (rng.normal(size=config.param_count()) * 0.5).astype(dtype)
    x = rng.normal(size=(n, sizes[0])).astype(dtype)
    if loss == "categorical_crossentropy":
        y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, (n, sizes[-1])).astype(dtype)
    else:
        y = rng.normal(size=(n, sizes[-1])).astype(dtype)
    return spec, config, params, x, y


def core_epochs(config, params, x, y, perms, batch_size, threads):
    dtype = params.dtype
    slots = config.optimizer_slots() * config.param_count()
    p, state, step, losses = params.copy(), np.zeros(slots, dtype), 0, []
    work = np.zeros(config.workspace_len(batch_size, threads), dtype)
    for perm in perms:
        loss, step, _ = core.train_epoch(config, p, state, work, threads, x, y, perm,
                                      batch_size, step)
        losses.append(loss)
    return p, losses


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("settings", OPTIMIZERS, ids=lambda s: s["optimizer"])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("batch_size", [1, 8, 41])
def test_split_batches_match_the_reference(name, settings, dtype, rtol, batch_size):
    spec, config, params, x, y = problem(name, dtype, **settings)
    rng = np.random.default_rng(1)
    perms = [rng.permutation(len(x)).astype(np.int64) for _ in range(3)]
    got, losses = core_epochs(config, params, x, y, perms, batch_size, threads=2)
    r_params, r_state, r_step = params.copy(), None, 0
    r_losses = []
    for perm in perms:
        r_params, r_state, r_step, loss = ref.network_train_epoch(
            spec, r_params, x, y, perm, batch_size, r_state, r_step)
        r_losses.append(loss)
    assert np.isfinite(losses).all() and np.isfinite(got).all()
    np.testing.assert_allclose(losses, r_losses, rtol=rtol)
    np.testing.assert_allclose(got, r_params, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("batch_size", [32, 41, 64])
def test_every_thread_count_gives_the_same_bits(dtype, name, batch_size):
    _, config, params, x, y = problem(name, dtype, n=150, optimizer="adam", learning_rate=0.01)
    assert config.row_blocks(batch_size) > 1          # the batches really are split
    perms = [np.random.default_rng(2).permutation(len(x)).astype(np.int64) for _ in range(2)]
    base, base_losses = core_epochs(config, params, x, y, perms, batch_size, threads=1)
    for threads in (2, 3, 4, 16):
        got, losses = core_epochs(config, params, x, y, perms, batch_size, threads=threads)
        np.testing.assert_array_equal(got, base)
        assert losses == base_losses


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("penalty", ["keras regularizers", "each batch"])
def test_batch_penalties_give_the_same_bits_on_every_thread_count(dtype, penalty):
    # the penalties a batch adds to its loss (Keras's weight regularizers;
    # scikit-learn's alpha, summed over the batches) are formed in fixed
    # parts, part p on thread p % T: the loss sums and penalties keep their
    # bits on any thread count
    settings = (dict(kernel_l2=[0.01, 0.02, 0.0], kernel_l1=[0.0, 0.01, 0.02],
                     bias_l2=[0.03, 0.0, 0.01], bias_l1=[0.0, 0.0, 0.01])
                if penalty == "keras regularizers" else dict(l2=0.1))
    spec, config, params, x, y = problem("binary", dtype, n=150, **settings)
    if penalty == "each batch":
        config = core.CoreConfig(**dataclasses.asdict(spec), parallel_min_flops=0.0,
                                 penalty_each_batch=True)
    assert config.row_blocks(32) > 1
    perms = np.stack([np.random.default_rng(e).permutation(len(x)) for e in range(3)]).astype(np.int64)
    results = []
    for threads in (1, 2, 3, 16):
        p = params.copy()
        state = np.zeros(config.optimizer_slots() * config.param_count(), dtype)
        work = np.zeros(config.workspace_len(32, threads), dtype)
        loss_sums, penalties = np.zeros(3), np.zeros(3)
        core.train_epochs(config, p, state, work, threads, x, y, perms, 3, 32,
                          np.empty((0, x.shape[1]), dtype), np.empty((0, y.shape[1]), dtype),
                          0, loss_sums, penalties, np.zeros(0),
                          np.zeros((3, config.counts_len()), np.int64))
        results.append((p, loss_sums, penalties))
    assert np.all(results[0][1] > 0) and np.all(results[0][2] > 0 if penalty == "each batch" else True)
    for p, loss_sums, penalties in results[1:]:
        np.testing.assert_array_equal(p, results[0][0])
        np.testing.assert_array_equal(loss_sums, results[0][1])
        np.testing.assert_array_equal(penalties, results[0][2])
    if penalty == "keras regularizers":
        # and the losses are the reference's (its penalty summed whole)
        r_params, r_state, r_step = params.copy(), None, 0
        for e in range(3):
            r_params, r_state, r_step, loss = ref.network_train_epoch(
                spec, r_params, x, y, perms[e], 32, r_state, r_step)
            np.testing.assert_allclose(results[0][1][e], loss,
                                       rtol=1e-12 if dtype == np.float64 else 1e-5)


GEMM_MODE = os.environ.get("NNBOOK_SMALL_GEMM", "auto")
FOLDED = GEMM_MODE != "always"   # "always": our kernels for every product, no fold


# SGD whose first-layer step is linear in the weight: plain, or shrunk by an
# L2 penalty (the book's, Keras's kernel regularizer with others on the
# second layer) or weight decay
FOLDING = {"plain": {}, "l2": dict(l2=0.5),
           "keras l2": dict(kernel_l2=[0.01, 0.02], kernel_l1=[0.0, 0.01], bias_l2=[0.01, 0.0]),
           "weight decay": dict(weight_decay=0.05)}


def assert_same_bits_and_reference(spec, config, params, x, y, perms, batch_size, threads, rtol):
    """Training on each thread count gives one thread's bits, and those match
    the reference (perms: one row order per epoch; empty: rows in order)."""
    base, base_losses = core_epochs(config, params, x, y, perms, batch_size, threads=1)
    for t in threads:
        got, losses = core_epochs(config, params, x, y, perms, batch_size, threads=t)
        np.testing.assert_array_equal(got, base)
        assert losses == base_losses
    r_params, r_state, r_step, r_losses = params.copy(), None, 0, []
    for perm in perms:
        r_params, r_state, r_step, loss = ref.network_train_epoch(
            spec, r_params, x, y, perm if len(perm) else np.arange(len(x)), batch_size,
            r_state, r_step)
        r_losses.append(loss)
    np.testing.assert_allclose(base_losses, r_losses, rtol=rtol)
    np.testing.assert_allclose(base, r_params, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("settings", FOLDING.values(), ids=FOLDING.keys())
def test_a_folded_first_layer_matches_the_reference_on_every_thread_count(dtype, rtol, settings):
    # 32-row batches step the 700 x 100 weight inside its gradient's
    # product; the last batch of 4 rows (one block) is small
    spec, config, params, x, y = problem("wide", dtype, n=100, learning_rate=0.05, **settings)
    assert config.folds_first_weight(32) == FOLDED
    assert config.folds_first_weight(4) == (GEMM_MODE == "never")
    rng = np.random.default_rng(4)
    perms = [rng.permutation(len(x)).astype(np.int64) for _ in range(2)]
    assert_same_bits_and_reference(spec, config, params, x, y, perms, 32, (2, 3, 16), rtol)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("in_order", [False, True], ids=["gathered", "rows in order"])
def test_a_folded_step_over_blocks_and_a_short_last_batch(dtype, rtol, in_order):
    # batches of 40 rows (two 20-row blocks) and a last one of 20 (one
    # block), each stepped by one product over the whole batch's rows: rows
    # gathered by a permutation, or read in place when they come in order
    spec, config, params, x, y = problem("wide", dtype, n=100, learning_rate=0.05, l2=0.5)
    assert config.folds_first_weight(40) == FOLDED and config.folds_first_weight(20) == FOLDED
    rng = np.random.default_rng(5)
    perms = [np.empty(0, np.int64) if in_order else rng.permutation(len(x)).astype(np.int64)
             for _ in range(2)]
    assert_same_bits_and_reference(spec, config, params, x, y, perms, 40, (2, 3), rtol)


@pytest.mark.parametrize("settings", [dict(optimizer="momentum", momentum=0.9), dict(l1=0.01),
                                      dict(kernel_l1=[0.01, 0.0]), dict(optimizer="adam"),
                                      dict(clipvalue=1.0), dict(frozen=[True, False])],
                         ids=["momentum", "l1", "keras l1", "adam", "clipvalue", "frozen"])
def test_only_a_step_linear_in_the_weight_is_folded(settings):
    _, plain, *_ = problem("wide", np.float64)
    _, config, *_ = problem("wide", np.float64, **settings)
    assert plain.folds_first_weight(32) == FOLDED
    assert not config.folds_first_weight(32)
    if GEMM_MODE == "auto":   # a narrow first layer's products are our kernels'
        assert not problem("softmax", np.float64)[1].folds_first_weight(32)


def test_row_blocks_depend_on_the_batch_only():
    _, config, *_ = problem("softmax", np.float64)
    assert [config.row_blocks(m) for m in (1, 15, 16, 31, 32, 47, 48, 64, 1000)] == \
        [1, 1, 1, 1, 2, 2, 2, 2, 2]
    assert core.ROW_BLOCKS == 2
    small = core.CoreConfig([30, 10, 1], ["sigmoid", "sigmoid"])   # the book's breast cancer net
    assert small.row_blocks(32) == 1          # too little work to split


@pytest.mark.parametrize("logits", [False, True])
def test_forward_is_the_same_on_every_thread_count(logits):
    spec, config, params, x, y = problem("softmax", np.float64, n=203)
    outs, losses = [], []
    for threads in (1, 2, 3):
        out = np.empty((len(x), 4))
        work = np.zeros(config.forward_workspace_len(50, threads))
        losses.append(core.forward(config, params, work, 50, threads, x, out, logits, y))
        outs.append(out)
    for out, loss in zip(outs[1:], losses[1:]):
        np.testing.assert_array_equal(out, outs[0])
        assert loss == losses[0]
    r_out, r_loss = ref.network_forward(spec, params, x, y, logits)
    np.testing.assert_allclose(outs[1], r_out, rtol=1e-12, atol=1e-300)


def test_the_blas_stays_single_threaded():
    _, config, params, x, y = problem("softmax", np.float64)
    core_epochs(config, params, x, y, [np.empty(0, np.int64)], 8, threads=2)
    assert core.blas_threads() == 1
    assert nnbook.get_num_threads() == 2
    nnbook.set_num_threads(1)
    core_epochs(config, params, x, y, [np.empty(0, np.int64)], 8, threads=2)
    assert nnbook.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", None, True])
def test_set_num_threads_rejects_non_counts(bad):
    with pytest.raises((TypeError, ValueError), match="n must be an integer"):
        nnbook.set_num_threads(bad)


def test_book_class_on_a_split_batch_matches_reference():
    """MultiClassNetwork at a size where the core splits batches by itself."""
    rng = np.random.default_rng(3)
    x = rng.random((600, 200))
    y = np.eye(10)[rng.integers(0, 10, 600)]
    kw = dict(units=64, batch_size=256)
    ours = nnbook.MultiClassNetwork(**kw).fit(x, y, epochs=4, x_val=x[:100], y_val=y[:100])
    theirs = ref.MultiClassNetwork(**kw).fit(x, y, epochs=4, x_val=x[:100], y_val=y[:100])
    np.testing.assert_allclose(ours.losses, theirs.losses, rtol=1e-10)
    np.testing.assert_allclose(ours.val_losses, theirs.val_losses, rtol=1e-10)
    np.testing.assert_allclose(ours.w1, theirs.w1, rtol=1e-9, atol=1e-12)


def _hits(out, y):
    if out.shape[1] == 1:
        return int(np.sum((out[:, 0] > 0.5) == (y[:, 0] > 0.5)))
    return int(np.sum(np.argmax(out, axis=1) == np.argmax(y, axis=1)))


@pytest.mark.parametrize("name", ["softmax", "binary"])
@pytest.mark.parametrize("threads", [1, 2])
def test_correct_count_scores_each_batch_before_its_update(name, threads):
    spec, config, params, x, y = problem(name, np.float64)
    perm = np.random.default_rng(4).permutation(len(x)).astype(np.int64)
    batch = 8
    work = np.zeros(config.workspace_len(batch, threads))
    _, _, correct = core.train_epoch(config, params.copy(), np.empty(0), work, threads,
                                     x, y, perm, batch, 0)
    expected, p = 0, params.copy()
    for start in range(0, len(x), batch):
        rows = perm[start:start + batch]
        out, _ = ref.network_forward(spec, p, x[rows], y[rows])
        expected += _hits(out, y[rows])
        p = ref.network_train_epoch(spec, p, x[rows], y[rows], None, batch)[0]
    assert correct == expected


def test_concurrent_fits_give_the_same_bits_as_alone():
    """Fits from several Python threads at once (the GIL is released) get the
    bits of a fit alone, and nobody sees another's thread count."""
    import threading
    rng = np.random.default_rng(5)
    x = rng.random((3000, 200))
    y = np.eye(10)[rng.integers(0, 10, 3000)]
    nets = [nnbook.MultiClassNetwork(units=64, batch_size=256) for _ in range(3)]
    errors, seen = [], []

    def train(net):
        try:
            net.fit(x, y, epochs=3)
        except Exception as exc:   # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=train, args=(net,)) for net in nets]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        seen.append(nnbook.get_num_threads())
    for t in threads:
        t.join()
    assert not errors
    assert set(seen) <= {2}
    alone = nnbook.MultiClassNetwork(units=64, batch_size=256).fit(x, y, epochs=3)
    nnbook.set_num_threads(1)
    one_thread = nnbook.MultiClassNetwork(units=64, batch_size=256).fit(x, y, epochs=3)
    for net in nets + [one_thread]:
        np.testing.assert_array_equal(net.losses, alone.losses)
        np.testing.assert_array_equal(net.w1, alone.w1)
        np.testing.assert_array_equal(net.w2, alone.w2)


def test_gathering_needs_room_for_the_batch():
    _, config, params, x, y = problem("softmax", np.float64)
    small = np.zeros(config.workspace_len(8, 1, gather=False))
    perm = np.arange(len(x), dtype=np.int64)
    with pytest.raises(ValueError, match="work is too short"):
        core.train_epoch(config, params.copy(), np.empty(0), small, 1, x, y, perm, 8, 0)
    core.train_epoch(config, params.copy(), np.empty(0), small, 1, x, y,
                     np.empty(0, np.int64), 8, 0)   # rows in order: no copy, fits


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_trains_on_threads_of_its_own():
    """The core keeps its worker threads between calls; a child of fork()
    has none of them and must start its own (not wait for the parent's)."""
    _, config, params, x, y = problem("binary", np.float64, n=150)
    perms = [np.arange(len(x), dtype=np.int64)]
    want, _ = core_epochs(config, params, x, y, perms, 41, threads=2)   # the parent's workers exist
    pid = os.fork()
    if pid == 0:   # the child: exit status 0 only if it trained and got the same bits
        status = 1
        try:
            got, _ = core_epochs(config, params, x, y, perms, 41, threads=2)
            status = 0 if np.array_equal(got, want) else 2
        finally:
            os._exit(status)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's training never finished")
    assert os.waitstatus_to_exitcode(status) == 0
    got, _ = core_epochs(config, params, x, y, perms, 41, threads=2)    # and the parent's still work
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("with_validation", [False, True])
def test_a_stop_after_an_epochs_last_batch_keeps_that_epoch_on_two_threads(with_validation):
    """A stop asked for after the last batch of an epoch (full batch: every
    batch is one) ends the call there on every thread count: no further
    update is made, nothing waits forever, and two threads give one
    thread's bits."""
    from nnbook._network import CoreNetwork
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 6))
    y = (rng.random((200, 1)) < 0.5).astype(float)
    val = (x[:50], y[:50]) if with_validation else None
    results = {}
    for threads in (1, 2):
        net = CoreNetwork([6, 8, 1], ["sigmoid", "sigmoid"], "binary_crossentropy", np.float64,
                          l2=0.01, learning_rate=0.1, parallel_min_flops=0.0)
        assert net.config.row_blocks(200) > 1
        seen = []

        def stop_after_epoch_1(progress):
            seen.append(progress[0])
            return progress[0] == 1          # the end of epoch 1's only batch

        losses, penalties, val_sums = net.train_epochs(x, y, 200, 5, val=val,
                                                       callback=stop_after_epoch_1,
                                                       threads=threads)
        assert sorted(set(seen)) == [0, 1]   # (the validation pass reports progress too)
        # with a validation pass the stop skips epoch 1's, which leaves that
        # epoch uncounted; its update stands either way
        assert len(losses) == (1 if with_validation else 2) and net.step == 2
        results[threads] = (net.params.copy(), losses, val_sums)
    np.testing.assert_array_equal(results[2][0], results[1][0])
    np.testing.assert_array_equal(results[2][1], results[1][1])
    # and the same two epochs run without a stop give the same parameters
    net = CoreNetwork([6, 8, 1], ["sigmoid", "sigmoid"], "binary_crossentropy", np.float64,
                      l2=0.01, learning_rate=0.1, parallel_min_flops=0.0)
    net.train_epochs(x, y, 200, 2, threads=2)
    np.testing.assert_array_equal(net.params, results[2][0])
