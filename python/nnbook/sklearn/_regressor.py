"""nnbook.sklearn.MLPRegressor: scikit-learn's MLPRegressor on nnbook's core."""
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d, validate_data

from ._base import BaseMLP
from ._params import DEFAULTS as D


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's MLPRegressor (same
    parameters, attributes and numbers) trained by nnbook's compiled core.

    It minimises half the squared error (identity output) or half the
    Poisson deviance (exponential output) with 'adam', 'sgd' or 'lbfgs', for
    one or several outputs. Every parameter has
    scikit-learn's name, default and meaning; one is nnbook's own:

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        Half the squared error with an identity output, or half the Poisson
        deviance with an exponential output (targets >= 0), as in scikit-learn.
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol,
    verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
    validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun
        As in scikit-learn 1.9.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        The precision of the weights and of all training arithmetic.

    Attributes
    ----------
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_,
    t_, coefs_, intercepts_, n_features_in_, feature_names_in_, n_iter_,
    n_layers_, n_outputs_, out_activation_
        As in scikit-learn.

    Example
    -------
    >>> import numpy as np
    >>> from nnbook.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs", random_state=0)
    >>> reg = reg.fit(X, X.ravel() ** 2)
    >>> reg.score(X, X.ravel() ** 2) > 0.9
    True
    """

    _parameter_constraints = {**BaseMLP._parameter_constraints,
                              "loss": [StrOptions({"squared_error", "poisson"})]}

    def __init__(self, loss="squared_error", hidden_layer_sizes=D["hidden_layer_sizes"],
                 activation=D["activation"], *, solver=D["solver"], alpha=D["alpha"],
                 batch_size=D["batch_size"], learning_rate=D["learning_rate"],
                 learning_rate_init=D["learning_rate_init"], power_t=D["power_t"],
                 max_iter=D["max_iter"], shuffle=D["shuffle"], random_state=D["random_state"],
                 tol=D["tol"], verbose=D["verbose"], warm_start=D["warm_start"],
                 momentum=D["momentum"], nesterovs_momentum=D["nesterovs_momentum"],
                 early_stopping=D["early_stopping"], validation_fraction=D["validation_fraction"],
                 beta_1=D["beta_1"], beta_2=D["beta_2"], epsilon=D["epsilon"],
                 n_iter_no_change=D["n_iter_no_change"], max_fun=D["max_fun"], dtype=D["dtype"]):
        self.loss = loss
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
        return "exp" if self.loss == "poisson" else "identity"

    def _score_function(self, y_true, y_pred, sample_weight=None):
        return r2_score(y_true, y_pred, sample_weight=sample_weight)

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=dtype, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features; dense or CSR/CSC) and
        targets y (n_samples,) or (n_samples, n_outputs); returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    # scikit-learn's regressor offers partial_fit for every solver
    @available_if(lambda est: True)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X, y (one L-BFGS run with solver='lbfgs'); returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def predict(self, X):
        """Predicted targets for X, shape (n_samples,) or (n_samples, n_outputs)."""
        self._check_is_fitted()
        return self._predict(X)
