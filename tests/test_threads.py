"""The core's data-parallel batches: a batch split across threads gives the
reference's result (up to the order of the gradient sums), deterministically,
and the BLAS thread count is left as it was."""
import dataclasses

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
def two_blas_threads():
    before = nnbook.get_num_threads()
    nnbook.set_num_threads(2)
    yield
    nnbook.set_num_threads(before)


def problem(name, dtype, n=41, seed=0, **settings):
    sizes, acts, loss = NETWORKS[name]
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
        loss, step, _ = core.train_epoch(config, p, state, work, batch_size, threads, x, y, perm,
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
def test_split_batches_are_deterministic(dtype):
    _, config, params, x, y = problem("softmax", dtype)
    perms = [np.random.default_rng(2).permutation(len(x)).astype(np.int64)]
    a, la = core_epochs(config, params, x, y, perms, 16, threads=2)
    b, lb = core_epochs(config, params, x, y, perms, 16, threads=2)
    np.testing.assert_array_equal(a, b)
    assert la == lb


def test_one_blas_thread_means_no_split():
    _, config, params, x, y = problem("binary", np.float64)
    perms = [np.arange(len(x), dtype=np.int64)]
    one, _ = core_epochs(config, params, x, y, perms, 16, threads=1)
    nnbook.set_num_threads(1)
    limited, _ = core_epochs(config, params, x, y, perms, 16, threads=2)
    np.testing.assert_array_equal(one, limited)


@pytest.mark.parametrize("logits", [False, True])
def test_split_forward_matches_one_thread(logits):
    spec, config, params, x, y = problem("softmax", np.float64, n=203)
    outs, losses = [], []
    for threads in (1, 2):
        out = np.empty((len(x), 4))
        work = np.zeros(config.workspace_len(50, threads))
        losses.append(core.forward(config, params, work, 50, threads, x, out, logits, y))
        outs.append(out)
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-13, atol=1e-300)
    assert losses[1] == pytest.approx(losses[0], rel=1e-13)
    r_out, r_loss = ref.network_forward(spec, params, x, y, logits)
    np.testing.assert_allclose(outs[1], r_out, rtol=1e-12, atol=1e-300)


def test_blas_thread_count_is_restored():
    _, config, params, x, y = problem("softmax", np.float64)
    core_epochs(config, params, x, y, [np.empty(0, np.int64)], 8, threads=2)
    assert nnbook.get_num_threads() == 2
    nnbook.set_num_threads(1)
    core_epochs(config, params, x, y, [np.empty(0, np.int64)], 8, threads=2)
    assert nnbook.get_num_threads() == 1


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
    _, _, correct = core.train_epoch(config, params.copy(), np.empty(0), work, batch, threads,
                                     x, y, perm, batch, 0)
    expected, p = 0, params.copy()
    for start in range(0, len(x), batch):
        rows = perm[start:start + batch]
        out, _ = ref.network_forward(spec, p, x[rows], y[rows])
        expected += _hits(out, y[rows])
        p = ref.network_train_epoch(spec, p, x[rows], y[rows], None, batch)[0]
    assert correct == expected


def test_concurrent_calls_leave_the_blas_thread_count_alone():
    """Core calls from several Python threads at once (the GIL is released)."""
    import threading
    rng = np.random.default_rng(5)
    x = rng.random((3000, 200))
    y = np.eye(10)[rng.integers(0, 10, 3000)]
    nets = [nnbook.MultiClassNetwork(units=64, batch_size=256) for _ in range(3)]
    errors = []

    def train(net):
        try:
            net.fit(x, y, epochs=3)
        except Exception as exc:   # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=train, args=(net,)) for net in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert nnbook.get_num_threads() == 2
    # and every network trained to the same numbers as alone
    alone = nnbook.MultiClassNetwork(units=64, batch_size=256).fit(x, y, epochs=3)
    for net in nets:
        # (a call that finds the BLAS already at one thread splits less: same math,
        # other rounding)
        np.testing.assert_allclose(net.losses, alone.losses, rtol=1e-10)


def test_gathering_needs_room_for_the_batch():
    _, config, params, x, y = problem("softmax", np.float64)
    small = np.zeros(config.workspace_len(8, 1, gather=False))
    perm = np.arange(len(x), dtype=np.int64)
    with pytest.raises(ValueError, match="work is too short"):
        core.train_epoch(config, params.copy(), np.empty(0), small, 8, 1, x, y, perm, 8, 0)
    core.train_epoch(config, params.copy(), np.empty(0), small, 8, 1, x, y,
                     np.empty(0, np.int64), 8, 0)   # rows in order: no copy, fits
