"""nnbook.sklearn.MLPClassifier: scikit-learn's MLPClassifier on nnbook's core."""
import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from ._base import STOCHASTIC_SOLVERS, BaseMLP
from ._params import DEFAULTS as D


def _first_partial_fit(clf, classes):
    """True on the first partial_fit call (it sets classes_); checks that a
    later `classes` argument agrees with the first."""
    if getattr(clf, "classes_", None) is None and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if classes is not None:
        if getattr(clf, "classes_", None) is not None:
            if not np.array_equal(clf.classes_, unique_labels(classes)):
                raise ValueError("`classes=%r` is not the same as on last call "
                                 "to partial_fit, was: %r" % (classes, clf.classes_))
        else:
            clf.classes_ = unique_labels(classes)
            return True
    return False


def _indicator(binarizer, y, fitted_on_y):
    """binarizer.transform(y).astype(bool): the targets as the network's
    output columns.

    fitted_on_y: binarizer was fitted on this very y, a moment ago. Then y
    holds only its classes and transform's checks (type_of_target, then
    label_binarize's, about 1.5 ms a fit on 455 to 1,797 rows) can
    find nothing new, and a 1-D binary or multiclass y is compared with the
    sorted classes directly: the same matrix.

    Example
    -------
    >>> y = np.array(["b", "a", "c", "a"])
    >>> lb = LabelBinarizer().fit(y)
    >>> bool((_indicator(lb, y, True) == lb.transform(y).astype(bool)).all())
    True
    """
    if fitted_on_y and y.ndim == 1 and binarizer.y_type_ in ("binary", "multiclass"):
        classes = binarizer.classes_
        if binarizer.y_type_ == "multiclass":
            return y.reshape(-1, 1) == classes.reshape(1, -1)
        if len(classes) == 1:  # one class: label_binarize gives the negative label
            return np.zeros((len(y), 1), dtype=bool)
        return (y == classes[1]).reshape(-1, 1)  # the column of the last class
    return binarizer.transform(y).astype(bool)


def _has_stochastic_solver(est):
    if est.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError("partial_fit is only available for stochastic"
                             " optimizers. %s is not stochastic." % est.solver)
    return True


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's MLPClassifier
    (same parameters, attributes and numbers) trained by nnbook's compiled core.

    It minimises the log-loss with 'adam', 'sgd' or 'lbfgs'. Binary and
    multi-label targets get logistic outputs, multi-class targets a softmax.
    Every parameter has scikit-learn's name, default and meaning (see
    scikit-learn's documentation of MLPClassifier); one is nnbook's own:

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol,
    verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
    validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun
        As in scikit-learn 1.9.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        The precision of the weights and of all training arithmetic. float64
        reproduces scikit-learn's numbers; float32 is about twice as fast.

    Attributes
    ----------
    classes_, loss_, best_loss_, loss_curve_, validation_scores_,
    best_validation_score_, t_, coefs_, intercepts_, n_features_in_,
    feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn.

    Example
    -------
    >>> from sklearn.datasets import load_iris
    >>> from nnbook.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((20,), max_iter=500, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    def __init__(self, hidden_layer_sizes=D["hidden_layer_sizes"], activation=D["activation"], *,
                 solver=D["solver"], alpha=D["alpha"], batch_size=D["batch_size"],
                 learning_rate=D["learning_rate"], learning_rate_init=D["learning_rate_init"],
                 power_t=D["power_t"], max_iter=D["max_iter"], shuffle=D["shuffle"],
                 random_state=D["random_state"], tol=D["tol"], verbose=D["verbose"],
                 warm_start=D["warm_start"], momentum=D["momentum"],
                 nesterovs_momentum=D["nesterovs_momentum"], early_stopping=D["early_stopping"],
                 validation_fraction=D["validation_fraction"], beta_1=D["beta_1"],
                 beta_2=D["beta_2"], epsilon=D["epsilon"], n_iter_no_change=D["n_iter_no_change"],
                 max_fun=D["max_fun"], dtype=D["dtype"]):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _score_function(self, y_true, y_pred, sample_weight=None):
        return accuracy_score(y_true, y_pred, sample_weight=sample_weight)

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=dtype, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        fitted_on_y = not hasattr(self, "classes_") or (not self.warm_start and not incremental)
        if fitted_on_y:
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. "
                                 f"`self.classes_` has {self.classes_}. 'y' has {classes}.")
        return X, _indicator(self._label_binarizer, y, fitted_on_y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features; dense or CSR/CSC) and
        labels y (n_samples,) or a label indicator matrix; returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_has_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over X, y. `classes` (every label that will ever be
        seen) is required on the first call; returns self."""
        if _first_partial_fit(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def predict(self, X):
        """Predicted labels for X, shape (n_samples,) or (n_samples, n_classes)."""
        self._check_is_fitted()
        return self._predict(X)

    def predict_proba(self, X):
        """Class probabilities for X, shape (n_samples, n_classes), columns
        ordered as classes_."""
        self._check_is_fitted()
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
