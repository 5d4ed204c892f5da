"""Networks of stages (batch normalization, dropout, activations on their own,
Keras's regularizers, gradient clipping) in the core, against the NumPy
reference (nnbook.reference) and against central differences.

The reference mirrors train.c operation by operation, so parity holds at
rtol 1e-12 in float64 and 1e-5 in float32 (see test_kernels.py for the
absolute floor). Gradients are checked against central differences of the
reference's loss in float64; the core's gradient is read off one SGD step
at learning rate 1 (params - params').
"""
import dataclasses

import numpy as np
import pytest

from nnbook import _nncore as core
from nnbook import reference as ref
from nnbook._network import CoreNetwork
from conftest import DTYPES, assert_close





REGS = dict(kernel_l1=0.01, kernel_l2=0.02, bias_l1=0.003, bias_l2=0.004, activity_l1=0.002,
            activity_l2=0.005)

# name: NetworkSpec keyword arguments
STAGE_NETWORKS = {
    "batchnorm": dict(sizes=(5, 8, 8, 3), activations=("relu", "linear", "softmax"),
                      kinds=("dense", "batchnorm", "dense"), loss="categorical_crossentropy"),
    "batchnorm_bare": dict(sizes=(4, 6, 6, 1), activations=("tanh", "linear", "sigmoid"),
                           kinds=("dense", "batchnorm", "dense"), has_bias=(True, False, True),
                           bn_scale=(True, False, True), bn_momentum=(0.99, 0.9, 0.99),
                           bn_epsilon=(1e-3, 1e-2, 1e-3), loss="binary_crossentropy"),
    "batchnorm_then_activation": dict(
        sizes=(4, 6, 6, 6, 2), activations=("linear", "linear", "tanh", "sigmoid"),
        kinds=("dense", "batchnorm", "activation", "dense"), loss="binary_crossentropy",
        # no bias before the normalization: its gradient is zero up to rounding,
        # which Adam would scale up to full steps
        has_bias=(False, True, True, True)),
    "batchnorm_first": dict(sizes=(5, 5, 3), activations=("linear", "softmax"),
                            kinds=("batchnorm", "dense"), loss="categorical_crossentropy"),
    "dropout": dict(sizes=(5, 9, 9, 3), activations=("relu", "linear", "softmax"),
                    kinds=("dense", "dropout", "dense"), rates=(0.0, 0.3, 0.0),
                    dropout_seed=1234, loss="categorical_crossentropy"),
    "activation_output": dict(sizes=(4, 5, 3, 3), activations=("sigmoid", "linear", "softmax"),
                              kinds=("dense", "dense", "activation"),
                              loss="categorical_crossentropy"),
    "regularized": dict(sizes=(3, 6, 2), activations=("tanh", "linear"), loss="mse",
                        **{k: (v, 2 * v) for k, v in REGS.items()}),
    "output_activity": dict(sizes=(4, 6, 3), activations=("relu", "softmax"),
                            loss="categorical_crossentropy", activity_l1=(0.0, 0.01),
                            activity_l2=(0.003, 0.02), bias_l2=(0.0, 0.01)),
    "everything": dict(
        sizes=(6, 10, 10, 10, 7, 7, 4),
        activations=("relu", "linear", "linear", "linear", "tanh", "softmax"),
        kinds=("dense", "batchnorm", "dropout", "dense", "activation", "dense"),
        rates=(0, 0, 0.25, 0, 0, 0), dropout_seed=7, loss="categorical_crossentropy",
        kernel_l2=(0.01, 0, 0, 0.02, 0, 0.01), activity_l1=(0.001, 0, 0, 0, 0.002, 0)),
}

OPTIMIZERS = {
    "sgd": dict(optimizer="sgd", learning_rate=0.1),
    "rmsprop": dict(optimizer="rmsprop", learning_rate=0.01),
    "adam": dict(optimizer="adam", learning_rate=0.01),
    "clipnorm": dict(optimizer="sgd", learning_rate=0.1, clipnorm=0.05),
    "global_clipnorm": dict(optimizer="rmsprop", learning_rate=0.01, global_clipnorm=0.1),
    "clipvalue": dict(optimizer="sgd", learning_rate=0.1, clipvalue=0.01),
}


def targets(loss, rng, n, k, dtype):
    if loss == "categorical_crossentropy":
        return np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, (n, k)).astype(dtype)
    return rng.standard_normal((n, k)).astype(dtype)


def initial_params(spec, rng, dtype):
    params = (rng.standard_normal(ref.param_count(spec)) * 0.6).astype(dtype)
    for l, start in enumerate(ref.state_offsets(spec)):
        if start >= 0:  # moving statistics: a plausible mean, a positive variance
            n = spec.sizes[l + 1]
            params[start + n:start + 2 * n] = rng.uniform(0.5, 2.0, n)
    return params


def problem(name, rng, dtype, n=23, **extra):
    spec = ref.NetworkSpec(**{**STAGE_NETWORKS[name], **extra})
    x = rng.standard_normal((n, spec.sizes[0])).astype(dtype)
    y = targets(spec.loss, rng, n, spec.sizes[-1], dtype)
    return spec, initial_params(spec, rng, dtype), x, y


def core_epochs(spec, params, x, y, batch_size, perms, threads=1, state=None, **core_only):
    config = core.CoreConfig(**dataclasses.asdict(spec), **core_only)
    dtype = params.dtype
    params = params.copy()
    state = config.initial_optimizer_state(dtype) if state is None else state.copy()
    work = np.zeros(config.workspace_len(batch_size, threads, True), dtype)
    step, losses = 0, []
    for perm in perms:
        order = np.empty(0, np.int64) if perm is None else np.asarray(perm, np.int64)
        loss, step, _ = core.train_epoch(config, params, state, work, threads, x, y, order,
                                         batch_size, step)
        losses.append(loss)
    return params, state, step, losses


def ref_epochs(spec, params, x, y, batch_size, perms):
    state, step, losses = ref.initial_optimizer_state(spec, params.dtype), 0, []
    for perm in perms:
        params, state, step, loss = ref.network_train_epoch(spec, params, x, y, perm,
                                                            batch_size, state, step)
        losses.append(loss)
    return params, state, step, losses


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("network", list(STAGE_NETWORKS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_stage_network_trains_as_reference(dtype, network, optimizer, rng):
    spec, params, x, y = problem(network, rng, dtype, **OPTIMIZERS[optimizer])
    perms = [rng.permutation(len(x)) for _ in range(2)]   # batches of 5 and a last of 3
    got = core_epochs(spec, params, x, y, 5, perms)
    want = ref_epochs(spec, params, x, y, 5, perms)
    for name, a, b in zip(("params", "optimizer state", "step", "losses"), got, want):
        assert_close(a, b, dtype, what=f"{network}/{optimizer}: {name}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("network", ["batchnorm", "batchnorm_bare", "everything"])
def test_frozen_batchnorm_runs_in_inference_mode(dtype, network, rng):
    spec = ref.NetworkSpec(**STAGE_NETWORKS[network])
    frozen = tuple(k == "batchnorm" for k in spec.kinds)
    spec, params, x, y = problem(network, rng, dtype, frozen=frozen)
    perms = [rng.permutation(len(x))]
    got, want = core_epochs(spec, params, x, y, 6, perms), ref_epochs(spec, params, x, y, 6, perms)
    assert_close(got[0], want[0], dtype)
    assert_close(got[3], want[3], dtype)
    for l, start in enumerate(ref.state_offsets(spec)):   # statistics and gamma/beta kept
        if start >= 0:
            n = spec.sizes[l + 1]
            np.testing.assert_array_equal(got[0][start:start + 2 * n], params[start:start + 2 * n])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("network", list(STAGE_NETWORKS))
def test_stage_network_forward_as_reference(dtype, network, rng):
    spec, params, x, y = problem(network, rng, dtype, n=37)
    net = CoreNetwork(spec.sizes, spec.activations, spec.loss, dtype,
                      **{k: v for k, v in dataclasses.asdict(spec).items()
                         if k not in ("sizes", "activations", "loss")})
    net.params[...] = params
    out, loss = net.forward_loss(x, y)
    want_out, want_loss = ref.network_forward(spec, params, x, y)
    assert_close(out, want_out, dtype)
    assert_close(loss, want_loss, dtype)
    assert_close(net.forward(x, logits=True), ref.network_forward(spec, params, x, logits=True)[0],
                 dtype)


@pytest.mark.parametrize("network", ["dropout", "everything"])
def test_dropout_is_off_at_inference_and_reproducible_in_training(network, rng):
    spec, params, x, y = problem(network, rng, np.float64)
    config = core.CoreConfig(**dataclasses.asdict(spec))
    no_dropout = dataclasses.replace(spec, rates=None)
    np.testing.assert_array_equal(ref.network_forward(spec, params, x)[0],
                                  ref.network_forward(no_dropout, params, x)[0])
    runs = [core_epochs(spec, params, x, y, 5, [None]) for _ in range(2)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    other_seed = core_epochs(dataclasses.replace(spec, dropout_seed=99), params, x, y, 5, [None])
    assert not np.array_equal(runs[0][0], other_seed[0])
    assert config.param_count() == ref.param_count(spec)


def test_dropout_masks_keep_the_expected_fraction():
    u = ref.dropout_mask(seed=3, step=1, layer=2, rows=400, n=250)
    assert u.min() >= 0 and u.max() < 1
    assert abs(float(np.mean(u >= 0.3)) - 0.7) < 0.01
    # different updates and stages draw different masks
    assert not np.array_equal(u, ref.dropout_mask(3, 2, 2, 400, 250))
    assert not np.array_equal(u, ref.dropout_mask(3, 1, 1, 400, 250))
    # a row's draws depend on its place in the batch, not on a block split
    np.testing.assert_array_equal(u[100:], ref.dropout_mask(3, 1, 2, 300, 250, row0=100))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("network", ["dropout", "everything", "regularized", "batchnorm"])
def test_threads_and_row_blocks_do_not_change_bits(dtype, network, rng):
    # parallel_min_flops=0 lets every batch of >= 32 rows split into row blocks
    # (batch normalization keeps one block: its statistics span the batch)
    spec, params, x, y = problem(network, rng, dtype, n=150, **OPTIMIZERS["clipnorm"])
    perms = [rng.permutation(len(x)) for _ in range(2)]
    runs = [core_epochs(spec, params, x, y, 64, perms, threads=t, parallel_min_flops=0.0)
            for t in (1, 2, 3)]
    for run in runs[1:]:
        for a, b in zip(run, runs[0]):
            np.testing.assert_array_equal(a, b)
    assert_close(runs[0][0], ref_epochs(spec, params, x, y, 64, perms)[0], dtype)


# ---------------------------------------------------------------------------
# gradients against central differences (float64)
# ---------------------------------------------------------------------------

def batch_loss(spec, params, x, y, step):
    """The batch's mean loss with Keras's penalties, in training mode at update `step`."""
    layers = ref.layer_params(spec, params)
    acts, _ = ref._forward_layers(spec, layers, x, params, True, step)
    acts[-1], loss = ref._output_layer(spec, acts[-1], y)
    loss += ref._activity_penalty(spec, acts) + len(x) * ref.weight_penalty(spec, params)
    return loss / len(x)


def trained_ranges(spec):
    return [(s, e) for l, s, e in ref._variables(spec)]


@pytest.mark.parametrize("network", list(STAGE_NETWORKS))
def test_core_gradient_is_the_derivative(network, rng):
    spec, params, x, y = problem(network, rng, np.float64, n=9, optimizer="sgd",
                                 learning_rate=1.0)
    # one SGD step at rate 1 moves the trained parameters by exactly the gradient
    stepped = core_epochs(spec, params, x, y, len(x), [None])[0]
    grad = params - stepped
    h = 1e-6
    for start, end in trained_ranges(spec):
        for i in range(start, end):
            up, down = params.copy(), params.copy()
            up[i] += h
            down[i] -= h
            fd = (batch_loss(spec, up, x, y, 1) - batch_loss(spec, down, x, y, 1)) / (2 * h)
            assert abs(grad[i] - fd) <= 1e-6 * max(1.0, abs(fd)), (network, i, grad[i], fd)


@pytest.mark.parametrize("bad", [
    dict(kinds=("dense", "batchnorm", "dense"), sizes=(3, 4, 5, 2)),       # width changes
    dict(kinds=("dense", "dropout", "dense"), rates=(0, 1.0, 0)),          # rate 1
    dict(kinds=("dense", "dropout", "dense"), rates=(0, -0.1, 0)),
    dict(kinds=("dense", "batchnorm", "dense"), activations=("relu", "relu", "softmax")),
    dict(kinds=("dense", "batchnorm", "dense"), bn_epsilon=(1e-3, 0.0, 1e-3)),
    dict(kernel_l2=(0.1, -0.1, 0)),
    dict(clipnorm=-1.0),
])
def test_config_rejects_inconsistent_stages(bad):
    base = dict(sizes=(3, 4, 4, 2), activations=("relu", "linear", "softmax"),
                loss="categorical_crossentropy")
    with pytest.raises(ValueError):
        core.CoreConfig(**{**base, **bad})


def test_state_offsets_and_views():
    spec = ref.NetworkSpec(**STAGE_NETWORKS["everything"])
    kwargs = {k: v for k, v in dataclasses.asdict(spec).items()
              if k not in ("sizes", "activations", "loss")}
    net = CoreNetwork(spec.sizes, spec.activations, spec.loss, np.float64, **kwargs)
    assert net.config.state_offsets() == ref.state_offsets(spec)
    assert net.config.param_offsets() == ref.param_offsets(spec)
    net.moving_variance(1)[...] = 2.0
    start = ref.state_offsets(spec)[1]
    assert (net.params[start + 10:start + 20] == 2.0).all()
    assert net.weight(1).shape == (10,) and net.weight(2) is None
    with pytest.raises(ValueError, match="not batchnorm"):
        net.moving_mean(0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,activations,k", [
    ("categorical_crossentropy", ("tanh", "softmax"), 5),
    ("binary_crossentropy", ("relu", "sigmoid"), 3),
    ("mse", ("relu", "linear"), 1)])
def test_epoch_counts_are_the_batches_metric_counts(dtype, loss, activations, k, rng):
    # at learning rate 0 every batch sees the same parameters, so an epoch's
    # counts are the counts of one forward pass over all rows (counts add up)
    net = CoreNetwork([6, 8, k], activations, loss, dtype, learning_rate=0.0, top_k=2,
                      threshold=0.4)
    net.params[...] = rng.standard_normal(net.params.size)
    x = rng.standard_normal((45, 6)).astype(dtype)
    y = targets(loss, rng, 45, k, dtype)
    seen = []
    net.train_epochs(x, y, 8, 2, callback=lambda p: seen.append(p[6]) and False)
    want = core.metric_counts(net.forward(x), y, loss=loss, top_k=2, threshold=0.4)
    np.testing.assert_array_equal(net.last_counts, want)
    assert net.last_correct == want[0]
    assert seen[-1] == tuple(want)                   # the hook sees the running counts
    assert len(seen[0]) == len(core.COUNTS)
