"""The book's five classes on the compiled core: parity with the plain-NumPy
reference, gradients against finite differences, the book's numbers, and the
book's step-by-step methods."""
import numpy as np
import pytest

import nnbook
from nnbook import reference
from conftest import BOOK_CLASS_NAMES as CLASSES
from conftest import binary_problem, multiclass_problem


def build(name, module, **kw):
    cls = getattr(module, name)
    args = dict(kw)
    if name == "SingleLayer":
        args.pop("units", None)
    if name in ("SingleLayer", "DualLayer", "RandomInitNetwork"):
        args.pop("batch_size", None)
    return cls(**args)


def data_for(name):
    if name == "MultiClassNetwork":
        x, y = multiclass_problem()
        xv, yv = multiclass_problem(n=23, seed=5)
    else:
        x, y = binary_problem()
        xv, yv = binary_problem(n=23, seed=5)
    return x, y, xv, yv


# ---------------------------------------------------------------- parity

@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.001, 0.01)])
def test_training_matches_numpy_reference_float64(name, l1, l2):
    x, y, xv, yv = data_for(name)
    kw = dict(units=7, batch_size=10, learning_rate=0.2, l1=l1, l2=l2)
    ours = build(name, nnbook, **kw).fit(x, y, epochs=300, x_val=xv, y_val=yv)
    ref = build(name, reference, **kw).fit(x, y, epochs=300, x_val=xv, y_val=yv)
    np.testing.assert_allclose(ours.losses, ref.losses, rtol=1e-9, atol=0)
    np.testing.assert_allclose(ours.val_losses, ref.val_losses, rtol=1e-9, atol=0)
    names = ["w", "b"] if name == "SingleLayer" else ["w1", "b1", "w2", "b2"]
    for attr in names:
        np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-8, atol=1e-12,
                                   err_msg=attr)
    np.testing.assert_array_equal(ours.predict(xv), ref.predict(xv))
    assert ours.score(xv, yv) == pytest.approx(ref.score(xv, yv))


@pytest.mark.parametrize("name", CLASSES)
def test_training_matches_numpy_reference_float32(name):
    x, y, xv, yv = data_for(name)
    kw = dict(units=7, batch_size=10, learning_rate=0.2, l2=0.01, dtype=np.float32)
    ours = build(name, nnbook, **kw).fit(x, y, epochs=20, x_val=xv, y_val=yv)
    ref = build(name, reference, **kw).fit(x, y, epochs=20, x_val=xv, y_val=yv)
    np.testing.assert_allclose(ours.losses, ref.losses, rtol=1e-4)
    np.testing.assert_allclose(ours.val_losses, ref.val_losses, rtol=1e-4)
    first = ours.w if name == "SingleLayer" else ours.w1
    assert first.dtype == np.float32


def test_single_layer_w_history_is_start_plus_every_epoch():
    x, y, _, _ = data_for("SingleLayer")
    ours = nnbook.SingleLayer().fit(x, y, epochs=5)
    ref = reference.SingleLayer().fit(x, y, epochs=5)
    assert len(ours.w_history) == 6
    np.testing.assert_array_equal(ours.w_history[0], np.ones((x.shape[1], 1)))
    for a, b in zip(ours.w_history, ref.w_history):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # copies, not views of the live weights
    assert not np.shares_memory(ours.w_history[-1], ours.w)


def test_random_streams_follow_the_book():
    f, units, k = 4, 3, 5
    net = nnbook.MultiClassNetwork(units=units)
    net.init_weights(f, k)
    rs = np.random.RandomState(42)
    np.testing.assert_array_equal(net.w1, rs.normal(0, 1, (f, units)))
    np.testing.assert_array_equal(net.w2, rs.normal(0, 1, (units, k)))
    np.testing.assert_array_equal(net.b1, np.zeros(units))
    rnd = nnbook.RandomInitNetwork(units=units, random_state=7)
    rnd.init_weights(f)
    rs = np.random.RandomState(7)
    np.testing.assert_array_equal(rnd.w1, rs.normal(0, 1, (f, units)))
    np.testing.assert_array_equal(rnd.w2, rs.normal(0, 1, (units, 1)))


@pytest.mark.parametrize("name", ["MinibatchNetwork", "MultiClassNetwork"])
def test_refits_reseed_their_streams_and_never_a_given_one(name):
    x, y, _, _ = data_for(name)
    net = build(name, nnbook, units=3, batch_size=8)
    first = net.fit(x, y, epochs=4).losses.copy()
    w1 = net.w1.copy()
    net._rng.normal()            # caches a second Gaussian: the refit's draws must not see it
    again = net.fit(x, y, epochs=4)
    np.testing.assert_array_equal(again.losses, first)
    np.testing.assert_array_equal(again.w1, w1)
    # a RandomState handed in is drawn from, never reseeded, even after an int
    given = np.random.RandomState(5)
    net.random_state = given
    net.fit(x, y, epochs=2)
    state = given.get_state()[1].copy()
    net.random_state = 42
    np.testing.assert_array_equal(net.fit(x, y, epochs=4).losses, first)
    np.testing.assert_array_equal(given.get_state()[1], state)


@pytest.mark.parametrize("name", ["MinibatchNetwork", "MultiClassNetwork"])
def test_collected_models_streams_serve_new_models_and_never_a_given_one(name):
    import gc
    from nnbook import book
    gc.collect()                 # models of earlier tests: their streams are pooled now
    book._SPARE_RANDOM_STATES.clear()
    x, y, _, _ = data_for(name)
    first = build(name, nnbook, units=3, batch_size=8).fit(x, y, epochs=3)
    want = first.losses.copy()
    rng = first._rng
    rng.normal()                 # caches a Gaussian: the next model must not see it
    del first
    gc.collect()
    assert any(r is rng for r in book._SPARE_RANDOM_STATES)
    second = build(name, nnbook, units=3, batch_size=8).fit(x, y, epochs=3)
    assert second._rng is rng    # reseeded, not created
    np.testing.assert_array_equal(second.losses, want)
    # a RandomState handed in never goes to the pool
    given = np.random.RandomState(9)
    third = build(name, nnbook, units=3, batch_size=8, random_state=given).fit(x, y, epochs=1)
    del third, second
    gc.collect()
    assert not any(r is given for r in book._SPARE_RANDOM_STATES)
    assert len(book._SPARE_RANDOM_STATES) <= book._SPARE_LIMIT


def test_check_random_state_reuse_equals_a_fresh_one():
    from nnbook._validation import check_random_state
    kept = np.random.RandomState(3)
    kept.normal()                                      # leaves the second Gaussian cached
    got = check_random_state(11, reuse=kept)
    assert got is kept
    fresh = np.random.RandomState(11)
    np.testing.assert_array_equal(got.normal(size=5), fresh.normal(size=5))
    assert got.permutation(20).tolist() == fresh.permutation(20).tolist()
    given = np.random.RandomState(1)
    assert check_random_state(given, reuse=kept) is given
    assert check_random_state(None, reuse=kept) is not kept

def test_global_numpy_random_state_untouched():
    x, y, _, _ = data_for("MinibatchNetwork")
    np.random.seed(123)
    expected = np.random.random_sample()
    np.random.seed(123)
    nnbook.MinibatchNetwork(units=3).fit(x, y, epochs=3)
    nnbook.MultiClassNetwork(units=3).fit(*multiclass_problem()[:2], epochs=3)
    assert np.random.random_sample() == expected


def test_multiclass_output_bias_learns_per_class():
    x, y = multiclass_problem()
    net = nnbook.MultiClassNetwork(units=5, batch_size=16).fit(x, y, epochs=30)
    assert net.b2.shape == (y.shape[1],)
    assert np.ptp(net.b2) > 1e-3          # the book's summed gradient would keep them equal (0)
    assert abs(net.b2.sum()) < 1e-9       # softmax errors sum to 0 per row, so the total stays 0


# ------------------------------------------------------ finite differences

def _fd_check(loss_of, params, analytic, h=1e-6):
    """Central differences of loss_of() over every entry of every param array."""
    for p, g in zip(params, analytic):
        flat, gflat = p.reshape(-1), np.asarray(g, dtype=float).reshape(-1)
        num = np.empty_like(gflat)
        for i in range(flat.size):
            keep = flat[i]
            flat[i] = keep + h
            up = loss_of()
            flat[i] = keep - h
            down = loss_of()
            flat[i] = keep
            num[i] = (up - down) / (2 * h)
        err = np.abs(num - gflat) / np.maximum(np.abs(num) + np.abs(gflat), 1e-8)
        assert err.max() < 1e-6, (err.max(), num, gflat)


def _bce(a, y):
    return float(np.mean(-(y * np.log(a) + (1 - y) * np.log(1 - a))))


def test_single_layer_backprop_matches_finite_differences():
    x, y = binary_problem(n=9, features=3)
    y = y.reshape(-1, 1)
    net = nnbook.SingleLayer().fit(x, y, epochs=0)
    net.w = np.random.RandomState(3).normal(size=(3, 1))
    net.b = 0.2

    def loss():
        return _bce(net.activation(net.forpass(x)), y)

    err = net.activation(net.forpass(x)) - y
    w_grad, b_grad = net.backprop(x, err)
    _fd_check(loss, [net.w, net.b], [w_grad, b_grad])


@pytest.mark.parametrize("name", ["DualLayer", "RandomInitNetwork", "MinibatchNetwork"])
def test_two_layer_backprop_matches_finite_differences(name):
    x, y = binary_problem(n=8, features=3)
    y = y.reshape(-1, 1)
    net = build(name, nnbook, units=4)
    net.init_weights(3)
    rng = np.random.RandomState(11)
    net.w1 = rng.normal(size=(3, 4))
    net.b1 = rng.normal(size=4)
    net.w2 = rng.normal(size=(4, 1))
    net.b2 = 0.1

    def loss():
        return _bce(net.activation(net.forpass(x)), y)

    err = net.activation(net.forpass(x)) - y
    grads = net.backprop(x, err)
    _fd_check(loss, [net.w1, net.b1, net.w2, net.b2], grads)


def test_multiclass_backprop_matches_finite_differences():
    x, y = multiclass_problem(n=7, features=3, classes=3)
    net = nnbook.MultiClassNetwork(units=4)
    net.init_weights(3, 3)
    net.b1 = np.random.RandomState(2).normal(size=4)
    net.b2 = [0.1, -0.2, 0.05]

    def loss():
        a = net.softmax(net.forpass(x))
        return float(np.mean(-np.sum(y * np.log(a), axis=1)))

    err = net.softmax(net.forpass(x)) - y
    grads = net.backprop(x, err)
    _fd_check(loss, [net.w1, net.b1, net.w2, net.b2], grads)


# ---------------------------------------- the book's step-by-step methods

@pytest.mark.parametrize("name", ["DualLayer", "RandomInitNetwork"])
def test_training_by_hand_equals_one_epoch_of_fit(name):
    x, y = binary_problem()
    by_fit = build(name, nnbook, units=5, l2=0.01).fit(x, y, epochs=1)
    by_hand = build(name, nnbook, units=5, l2=0.01)
    by_hand.init_weights(x.shape[1])
    a = by_hand.training(x, y.reshape(-1, 1), len(x))
    assert a.shape == (len(x), 1)
    for attr in ["w1", "b1", "w2", "b2"]:
        np.testing.assert_allclose(getattr(by_hand, attr), getattr(by_fit, attr), rtol=1e-12,
                                   atol=1e-15)


def test_gen_batch_slices_one_permutation():
    net = nnbook.MinibatchNetwork(batch_size=4)
    x = np.arange(10.0).reshape(10, 1)
    y = np.arange(10.0)
    batches = list(net.gen_batch(x, y))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    order = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(order, np.random.RandomState(42).permutation(10))
    np.testing.assert_array_equal(np.concatenate([b[0][:, 0] for b in batches]), order)


def test_forpass_keeps_a1_and_matches_numpy():
    x, y = binary_problem(n=6, features=3)
    net = nnbook.RandomInitNetwork(units=4)
    net.init_weights(3)
    z = net.forpass(x)
    a1 = 1 / (1 + np.exp(-(x @ net.w1 + net.b1)))
    np.testing.assert_allclose(net.a1, a1, rtol=1e-12)
    np.testing.assert_allclose(z, a1 @ net.w2 + net.b2, rtol=1e-12)


def test_sigmoid_and_softmax_keep_the_books_guard():
    net = nnbook.MultiClassNetwork()
    z = np.array([[-1000.0, 0.0, 1000.0]])
    a = net.softmax(z)
    np.testing.assert_allclose(a, [[0.0, 0.0, 1.0]], atol=1e-300)
    assert np.isfinite(a).all()
    s = net.sigmoid(np.array([-1000.0, 0.0]))
    assert s[0] == pytest.approx(1 / (1 + np.exp(100.0)), rel=1e-12)   # clipped at -100
    assert s[1] == 0.5


# -------------------------------------------------------- the book's numbers

@pytest.mark.parametrize("make,epochs", [
    (lambda: nnbook.SingleLayer(l2=0.01), 10000),
    (lambda: nnbook.DualLayer(l2=0.01), 20000),
    (lambda: nnbook.MinibatchNetwork(l2=0.01, batch_size=32), 500),
    (lambda: nnbook.MinibatchNetwork(l2=0.01, batch_size=128), 500),
], ids=["SingleLayer", "DualLayer", "Minibatch32", "Minibatch128"])
def test_book_accuracy_on_breast_cancer(cancer, make, epochs):
    net = make().fit(cancer.x_train, cancer.y_train, epochs=epochs,
                     x_val=cancer.x_val, y_val=cancer.y_val)
    assert len(net.losses) == len(net.val_losses) == epochs
    assert net.score(cancer.x_val, cancer.y_val) == pytest.approx(0.978, abs=5e-4)


def test_book_dual_layer_loss_curve_matches_reference(cancer):
    kw = dict(l2=0.01)
    ours = nnbook.DualLayer(**kw).fit(cancer.x_train, cancer.y_train, epochs=2000,
                                      x_val=cancer.x_val, y_val=cancer.y_val)
    ref = reference.DualLayer(**kw).fit(cancer.x_train, cancer.y_train, epochs=2000,
                                        x_val=cancer.x_val, y_val=cancer.y_val)
    np.testing.assert_allclose(ours.losses, ref.losses, rtol=1e-9)
    np.testing.assert_allclose(ours.val_losses, ref.val_losses, rtol=1e-9)


# ------------------------------------------------------------- behaviour

def test_fit_returns_self_and_restarts_losses():
    x, y = binary_problem()
    net = nnbook.MinibatchNetwork(units=3)
    assert net.fit(x, y, epochs=4) is net
    net.fit(x, y, epochs=2)
    assert len(net.losses) == 2 and net.val_losses == []


def test_diverging_loss_becomes_nan_with_a_warning():
    x, y = binary_problem()
    net = nnbook.DualLayer(learning_rate=1e308)
    with pytest.warns(RuntimeWarning, match="diverged"):
        net.fit(x * 1e300, y, epochs=5)
    assert len(net.losses) == 5
    assert not np.isfinite(net.losses).all()


def test_repr_shows_hyperparameters():
    assert repr(nnbook.MinibatchNetwork(l2=0.01)) == (
        "MinibatchNetwork(units=10, batch_size=32, learning_rate=0.1, l1=0.0, l2=0.01, "
        "random_state=42)")


@pytest.mark.parametrize("name", ["DualLayer", "MinibatchNetwork", "MultiClassNetwork"])
def test_chunked_epochs_and_a_mid_chunk_stop_are_exact(monkeypatch, name):
    from nnbook import book
    x, y, xv, yv = data_for(name)
    whole = build(name, nnbook, units=5, batch_size=8).fit(x, y, epochs=40, x_val=xv, y_val=yv)
    runs = {}
    with monkeypatch.context() as m:
        m.setattr(book, "MAX_CHUNK_INDICES", 1)              # no callback: chunks of one epoch
        runs["memory-bound chunks"] = build(name, nnbook, units=5, batch_size=8).fit(
            x, y, epochs=40, x_val=xv, y_val=yv)
    seen = []
    for seconds in (0.0, 1e3):                            # with a callback: timed chunks
        with monkeypatch.context() as m:
            m.setattr(book, "CHUNK_SECONDS", seconds)
            runs[f"timed chunks {seconds}"] = build(name, nnbook, units=5, batch_size=8).fit(
                x, y, epochs=40, x_val=xv, y_val=yv,
                callback=lambda epoch, logs: seen.append(epoch))
    assert seen == list(range(40)) * 2
    for label, net in runs.items():
        np.testing.assert_array_equal(net.losses, whole.losses, err_msg=label)
        np.testing.assert_array_equal(net.val_losses, whole.val_losses, err_msg=label)
        np.testing.assert_array_equal(net.w1, whole.w1, err_msg=label)
    stopped = build(name, nnbook, units=5, batch_size=8).fit(
        x, y, epochs=40, callback=lambda epoch, logs: epoch == 24)
    short = build(name, nnbook, units=5, batch_size=8).fit(x, y, epochs=25)
    assert len(stopped.losses) == 25
    np.testing.assert_array_equal(stopped.losses, short.losses)
    np.testing.assert_array_equal(stopped.w1, short.w1)
    np.testing.assert_array_equal(stopped.b2, short.b2)


def test_full_batch_training_reads_the_data_in_place():
    """No permutation, no gather: the scratch holds activations, not a copy of x."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 300))
    y = (x[:, 0] > 0).astype(float)
    net = nnbook.DualLayer(units=5).fit(x, y, epochs=2, x_val=x[:100], y_val=y[:100])
    assert net._net._work.nbytes < x.nbytes / 10
    net.predict(x)
    assert net._net._work.nbytes < x.nbytes / 10
