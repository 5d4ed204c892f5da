"""The NumPy reference of the book's classes (nnbook.reference), on its own:
the rules of docs/semantics.md, checked by hand on tiny data, and tied to the
kernel-level reference network (which test_kernels.py ties to the C core).
"""
import numpy as np
import pytest

from nnbook import reference as ref

BOOK_CLIPS = dict(zmin=-100.0, eps=1e-10)


def binary_problem(n=11, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features))
    y = (x @ np.array([1.0, -2.0, 0.5])[:features] > 0).astype(np.int64)
    return x, y


def multiclass_problem(n=13, features=4, k=3, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features))
    y = np.eye(k)[np.argmax(x[:, :k], axis=1)]
    return x, y


def flat(*arrays):
    return np.concatenate([np.ravel(a) for a in arrays])


def dual_spec(net, features, k=1, **kwargs):
    loss = "categorical_crossentropy" if k > 1 else "binary_crossentropy"
    output = "softmax" if k > 1 else "sigmoid"
    return ref.NetworkSpec(sizes=(features, net.units, k), activations=("sigmoid", output),
                           loss=loss, l1=net.l1, l2=net.l2, learning_rate=net.lr,
                           **BOOK_CLIPS, **kwargs)


def penalty(spec, params):
    return sum(ref.l1_l2_penalty_forward(w, spec.l1, spec.l2)
               for w, _ in ref.layer_params(spec, params))


# ---------------------------------------------------------------------------
# SingleLayer
# ---------------------------------------------------------------------------

def test_single_layer_learns_a_separable_set():
    x = np.array([[-2.0, 1.0], [-1.0, 0.5], [1.0, -0.5], [2.0, -1.0]])
    y = np.array([0, 0, 1, 1])
    net = ref.SingleLayer(learning_rate=0.5).fit(x, y, epochs=30)
    assert net.score(x, y) == 1.0
    assert net.losses[-1] < net.losses[0] / 2
    assert net.predict(x).shape == (4, 1)


def test_single_layer_first_epoch_by_hand():
    # w = ones, b = 0: z = row sums; err = a - y; w -= lr x^T err / m
    x = np.array([[1.0, 2.0], [-1.0, 0.0], [0.5, -3.0]])
    y = np.array([1, 0, 0])
    net = ref.SingleLayer(learning_rate=0.1, l2=0.3).fit(x, y, epochs=1)
    a = 1 / (1 + np.exp(-x.sum(axis=1)))
    err = (a - y)[:, None]
    w = np.ones((2, 1)) - 0.1 * (x.T @ err / 3 + 0.3 * np.ones((2, 1)) / 3)
    np.testing.assert_allclose(net.w, w, rtol=1e-14)
    assert net.b == pytest.approx(-0.1 * err.sum() / 3, rel=1e-14)
    # the epoch's loss: a before the update, penalty after it
    bce = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
    assert net.losses == [pytest.approx((bce + 0.15 * np.sum(w ** 2)) / 3, rel=1e-14)]
    assert len(net.w_history) == 2
    np.testing.assert_array_equal(net.w_history[0], np.ones((2, 1)))
    np.testing.assert_array_equal(net.w_history[1], net.w)


def test_float32_loss_stays_finite_when_the_sigmoid_saturates():
    # in float32, a = 1.0 exactly and 1 - 1e-10 rounds to 1.0: the clip must
    # be done in float64 or log(1 - a) is -inf
    x = np.array([[50.0], [-50.0]])
    y = np.array([0, 1])
    net = ref.SingleLayer(dtype=np.float32).fit(x, y, epochs=2)
    assert net.w.dtype == np.float32
    assert np.all(np.isfinite(net.losses))
    assert net.losses[0] == pytest.approx(-np.log(1e-10), rel=1e-5)  # both rows clip


def test_val_losses_only_with_validation_data():
    x, y = binary_problem()
    assert ref.SingleLayer().fit(x, y, epochs=3).val_losses == []
    net = ref.SingleLayer(l1=0.1).fit(x, y, epochs=3, x_val=x[:4], y_val=y[:4])
    assert len(net.val_losses) == 3
    # the last one: loss over x_val with the final weights, plus the penalty
    a = np.clip(net.activation(net.forpass(x[:4])).ravel(), 1e-10, 1 - 1e-10)
    bce = -np.sum(y[:4] * np.log(a) + (1 - y[:4]) * np.log(1 - a))
    assert net.val_losses[-1] == pytest.approx((bce + 0.1 * np.abs(net.w).sum()) / 4, rel=1e-14)


def test_fit_returns_self_and_leaves_inputs_alone():
    x, y = binary_problem()
    x0, y0 = x.copy(), y.copy()
    net = ref.MinibatchNetwork(units=4, batch_size=4)
    assert net.fit(x, y, epochs=2) is net
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


# ---------------------------------------------------------------------------
# The two-layer classes against the kernel-level reference network
# ---------------------------------------------------------------------------

def test_dual_layer_is_the_reference_network_full_batch():
    x, y = binary_problem()
    net = ref.DualLayer(units=4, learning_rate=0.2, l2=0.05).fit(x, y, epochs=3)
    spec = dual_spec(net, x.shape[1])
    params = flat(np.ones((3, 4)), np.zeros(4), np.ones((4, 1)), [0.0])  # the book's init
    for epoch in range(3):
        params, _, _, loss = ref.network_train_epoch(spec, params, x, y[:, None], batch_size=len(x))
        assert net.losses[epoch] == pytest.approx((loss + penalty(spec, params)) / len(x), rel=1e-12)
    np.testing.assert_allclose(flat(net.w1, net.b1, net.w2, net.b2), params, rtol=1e-12)


def test_random_init_draws_w1_then_w2_from_one_stream():
    net = ref.RandomInitNetwork(units=5, random_state=7)
    net.init_weights(3)
    stream = np.random.RandomState(7)
    np.testing.assert_array_equal(net.w1, stream.normal(0, 1, (3, 5)))
    np.testing.assert_array_equal(net.w2, stream.normal(0, 1, (5, 1)))
    np.testing.assert_array_equal(net.b1, np.zeros(5))
    assert net.b2 == 0


def test_random_init_never_touches_the_global_stream():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    x, y = binary_problem()
    ref.MultiClassNetwork(units=3, batch_size=4).fit(x, np.eye(2)[y], epochs=2)
    ref.MinibatchNetwork(units=3, batch_size=4).fit(x, y, epochs=2)
    assert np.random.random() == expected


def test_minibatch_network_is_the_reference_network_with_fresh_permutations():
    # init as RandomInitNetwork, then a FRESH RandomState(42) gives the epochs' orders
    x, y = binary_problem(n=11)
    net = ref.MinibatchNetwork(units=4, batch_size=4, learning_rate=0.3, l1=0.01).fit(x, y, epochs=3)
    init = np.random.RandomState(42)
    w1, w2 = init.normal(0, 1, (3, 4)), init.normal(0, 1, (4, 1))
    params = flat(w1, np.zeros(4), w2, [0.0])
    spec = dual_spec(net, x.shape[1])
    orders = np.random.RandomState(42)
    for epoch in range(3):  # 11 rows, batches of 4: 4, 4, 3
        params, _, _, loss = ref.network_train_epoch(spec, params, x, y[:, None],
                                                     orders.permutation(len(x)), batch_size=4)
        assert net.losses[epoch] == pytest.approx((loss + penalty(spec, params)) / len(x), rel=1e-12)
    np.testing.assert_allclose(flat(net.w1, net.b1, net.w2, net.b2), params, rtol=1e-12)


def test_multiclass_network_uses_one_stream_for_weights_and_orders():
    x, y = multiclass_problem()
    net = ref.MultiClassNetwork(units=5, batch_size=4, learning_rate=0.5, l2=0.02).fit(x, y, epochs=3)
    stream = np.random.RandomState(42)
    w1, w2 = stream.normal(0, 1, (4, 5)), stream.normal(0, 1, (5, 3))
    params = flat(w1, np.zeros(5), w2, np.zeros(3))
    spec = dual_spec(net, x.shape[1], k=3)
    for epoch in range(3):
        params, _, _, loss = ref.network_train_epoch(spec, params, x, y,
                                                     stream.permutation(len(x)), batch_size=4)
        assert net.losses[epoch] == pytest.approx((loss + penalty(spec, params)) / len(x), rel=1e-12)
    np.testing.assert_allclose(flat(net.w1, net.b1, net.w2, net.b2), params, rtol=1e-12)


def test_multiclass_output_bias_learns_per_class():
    # Under softmax each row's errors sum to 0 over the classes, so the
    # book's printed np.sum(err) leaves b2 at 0 for ever; per class it moves
    # by -lr times the column means of err = a - y.
    x, _ = multiclass_problem(n=20)
    y = np.eye(3)[[0] * 12 + [1] * 5 + [2] * 3]
    net = ref.MultiClassNetwork(units=3, batch_size=20, learning_rate=0.5).fit(x, y, epochs=1)
    stream = np.random.RandomState(42)
    w1, w2 = stream.normal(0, 1, (4, 3)), stream.normal(0, 1, (3, 3))
    a = ref.softmax_forward(ref.sigmoid_forward(x @ w1) @ w2)      # before the step
    np.testing.assert_allclose(net.b2, -0.5 * (a - y).mean(axis=0), rtol=1e-12)
    assert np.min(np.abs(net.b2)) > 1e-3
    assert abs(net.b2.sum()) < 1e-12     # the per-class steps still sum to 0


def test_multiclass_predict_and_score_use_argmax():
    x, y = multiclass_problem()
    net = ref.MultiClassNetwork(units=6, batch_size=4).fit(x, y, epochs=5)
    logits = net.forpass(x)
    np.testing.assert_array_equal(net.predict(x), np.argmax(logits, axis=1))
    assert net.score(x, y) == np.mean(np.argmax(logits, axis=1) == np.argmax(y, axis=1))


def test_softmax_is_stable_and_equals_the_books_where_finite():
    net = ref.MultiClassNetwork()
    z = np.array([[1.0, 2.0, -150.0], [800.0, 0.0, 800.0]])
    book = np.exp(np.clip(z[:1], -100, None))
    np.testing.assert_allclose(net.softmax(z[:1]), book / book.sum(), rtol=1e-15)
    np.testing.assert_array_equal(net.softmax(z[1:]), [[0.5, 0.0, 0.5]])


# ---------------------------------------------------------------------------
# The book's chapter-6 number: 0.978 validation accuracy on the breast-cancer split
# ---------------------------------------------------------------------------

@pytest.fixture
def cancer_split(cancer):
    # the book's split (test_datasets.py checks it against scikit-learn by hand)
    return cancer.x_train, cancer.y_train, cancer.x_val, cancer.y_val


@pytest.mark.parametrize("make", [
    lambda: ref.RandomInitNetwork(l2=0.01),
    lambda: ref.MinibatchNetwork(l2=0.01, batch_size=32),
], ids=["RandomInitNetwork", "MinibatchNetwork"])
def test_book_validation_accuracy_on_breast_cancer(make, cancer_split):
    x_train, y_train, x_val, y_val = cancer_split
    net = make().fit(x_train, y_train, epochs=500, x_val=x_val, y_val=y_val)
    assert net.score(x_val, y_val) == pytest.approx(0.978, abs=0.0005)
    assert len(net.val_losses) == 500


def test_reference_docstring_examples_hold():
    # every function in reference.py carries a tiny Example; they must stay true
    import doctest
    result = doctest.testmod(ref)
    assert result.attempted > 40
    assert result.failed == 0
