"""What MLPClassifier and MLPRegressor share: parameters, initialisation,
the epoch loop of the stochastic solvers, L-BFGS, prediction and pickling.

Each epoch runs in C (nnbook's core): the rows are gathered by the epoch's
order, and every batch's forward pass, backward pass and update happen there.
Python does what scikit-learn does between epochs: draw the shuffle, record
the loss, apply the stopping rules and the learning-rate schedule.
"""
import numbers
import warnings
from itertools import chain

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _coremap, _rows
from ._lbfgs import fit_lbfgs
from ._optimizer import StochasticSchedule
from ._shuffle import EpochOrders
from ._params import CONSTRAINTS

STOCHASTIC_SOLVERS = ("sgd", "adam")

# At most this many epochs per core call (see _epochs_before_a_decision):
# enough that Python's per-epoch work is paid once per call on small data,
# few enough that verbose lines still come out as training goes.
EPOCHS_PER_CALL = 16


class BaseMLP(BaseEstimator):
    """Base of nnbook's MLPClassifier and MLPRegressor; not for direct use."""

    _parameter_constraints = dict(CONSTRAINTS)

    # ---- the network ---------------------------------------------------------

    def _init_coef(self, fan_in, fan_out, dtype):
        # Glorot et al.'s uniform bound, factor 2 for logistic units, drawn
        # weights then bias from the estimator's RandomState (scikit-learn's order)
        factor = 2.0 if self.activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = self._random_state.uniform(-bound, bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    def _adopt_network(self, net):
        """Make net the estimator's network: coefs_/intercepts_ become views
        of its parameters, so training updates them in place."""
        self._net = net
        self.coefs_ = [net.weight(l) for l in range(net.n_layers)]
        self.intercepts_ = [net.bias(l) for l in range(net.n_layers)]

    def _network(self):
        """The core network holding coefs_/intercepts_; rebuilt from those
        arrays after unpickling, or when they were replaced."""
        net = self.__dict__.get("_net")
        if net is not None and len(self.coefs_) == net.n_layers and all(
                getattr(c, "base", None) is net.params and getattr(i, "base", None) is net.params
                for c, i in zip(self.coefs_, self.intercepts_)):
            return net
        dtype = np.asarray(self.coefs_[0]).dtype
        dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
        units = [np.shape(self.coefs_[0])[0]] + [np.shape(c)[1] for c in self.coefs_]
        new = _coremap.build_network(units, self.activation, self.out_activation_, dtype)
        for l, (c, i) in enumerate(zip(self.coefs_, self.intercepts_)):
            new.weight(l)[...] = c
            new.bias(l)[...] = i
        saved = self.__dict__.pop("_saved_solver_state", None)
        if saved is not None:
            settings, opt_state, step = saved
            _coremap.reconfigure(new, **settings)
            if opt_state.size == new.opt_state.size:
                new.opt_state[...] = opt_state
            new.step = step
        self._adopt_network(new)
        return new

    def _train_dtype(self, first_pass):
        if first_pass or not hasattr(self, "coefs_"):
            return np.dtype(self.dtype)
        return self._network().dtype

    # ---- fitting ---------------------------------------------------------------

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self.hidden_layer_sizes
        if not hasattr(hidden, "__iter__"):
            hidden = [hidden]
        hidden = list(hidden)
        if np.any(np.array(hidden) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        dtype = self._train_dtype(first_pass)
        X, y = self._validate_input(X, y, incremental, reset=first_pass, dtype=dtype)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [X.shape[1]] + hidden + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, dtype)
        X = _rows.as_core_input(X, dtype)
        if self.solver in STOCHASTIC_SOLVERS:
            self._fit_stochastic(X, y, sample_weight, incremental)
        else:
            net = self._network()
            y_core = np.ascontiguousarray(y, dtype=dtype)
            self.n_iter_, self.loss_ = fit_lbfgs(net, X, y_core, sample_weight, self.alpha,
                                                 self.out_activation_, self.max_iter,
                                                 self.max_fun, self.tol)
        if not all(np.isfinite(w).all() for w in chain(self.coefs_, self.intercepts_)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed.")
        return self

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        net = _coremap.build_network(layer_units, self.activation, self.out_activation_, dtype)
        for l in range(len(layer_units) - 1):
            coef, intercept = self._init_coef(layer_units[l], layer_units[l + 1], dtype)
            net.weight(l)[...] = coef
            net.bias(l)[...] = intercept
        self._adopt_network(net)
        # None: "the best parameters are the live ones" (scikit-learn's best
        # lists alias coefs_ once early stopping has restored them)
        self._best_params = net.params.copy()
        self.__dict__.pop("_schedule", None)
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _configure_solver(self, net):
        settings = _coremap.solver_settings(self, self.out_activation_, self.n_outputs_,
                                            net.dtype, self._schedule.learning_rate)
        _coremap.reconfigure(net, **settings)

    def _fit_stochastic(self, X, y, sample_weight, incremental):
        net = self._network()
        if not incremental or getattr(self, "_schedule", None) is None:
            self._schedule = StochasticSchedule(self.solver, self.learning_rate_init,
                                                self.learning_rate, self.power_t)
            self._configure_solver(net)
            net.opt_state[...] = 0
            net.step = 0
        else:
            self._configure_solver(net)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            # stratified for a single output of a classifier only, as scikit-learn does
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
            parts = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, y_train, y_val = parts[:4]
            sw_train, sw_val = parts[4:] if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
        else:
            X_train, y_train, sw_train = X, y, sample_weight
            X_val = y_val = sw_val = None
        y_train = np.ascontiguousarray(y_train, dtype=net.dtype)
        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than "
                              "sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        c = _coremap.grad_scale(self.out_activation_, self.n_outputs_)
        factor = _coremap.loss_factor(self.out_activation_, self.n_outputs_)
        orders = EpochOrders(self._random_state, n_samples, 1 if incremental else self.max_iter)
        chunked = self._epochs_can_share_a_call(early_stopping, incremental, X_train)
        try:
            self.n_iter_ = 0
            while self.n_iter_ < self.max_iter:
                count = self._epochs_before_a_decision() if chunked else 1
                epoch_orders = [orders.next() if self.shuffle else None for _ in range(count)]
                try:
                    results = _rows.train_epochs(net, X_train, y_train, batch_size,
                                                 epoch_orders, sw_train)
                except KeyboardInterrupt as stop:
                    # the epochs the core completed before the interrupt count
                    for loss_sum, penalty_sum in getattr(stop, "nnbook_epochs", ()):
                        self._end_epoch(loss_sum, penalty_sum, factor, c, n_samples, net,
                                        early_stopping, X_val, y_val, sw_val, incremental)
                    raise
                # (a stop can only come at the last of these epochs)
                if any([self._end_epoch(loss_sum, penalty_sum, factor, c, n_samples, net,
                                        early_stopping, X_val, y_val, sw_val, incremental)
                        for loss_sum, penalty_sum in results]):
                    break
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        finally:
            orders.close()
        if early_stopping and self._best_params is not None:
            net.params[...] = self._best_params
            self._best_params = None

    def _epochs_can_share_a_call(self, early_stopping, incremental, X):
        """Whether several epochs may run in one core call: nothing between
        two epochs may then change the next one. Not with early stopping
        (a validation pass after every epoch), partial_fit (one epoch),
        invscaling (a new rate every epoch) or a sparse X (densified by
        blocks); nor when the shuffles come from a RandomState the caller
        can see (None or an instance), since an interrupted call would have
        drawn the orders of epochs it never ran."""
        return (not early_stopping and not incremental and not sp.issparse(X)
                and self._schedule.lr_schedule != "invscaling"
                and isinstance(self.random_state, numbers.Integral))

    def _epochs_before_a_decision(self):
        """Epochs that can run in one call: up to the first at which the
        stopping rule could fire (or 'adaptive' change the rate). The
        no-improvement count grows by at most one an epoch and a decision
        needs it above n_iter_no_change, so none can come before the last
        epoch of this many; they run exactly as they would one call each."""
        left = self.max_iter - self.n_iter_
        until_decision = self.n_iter_no_change + 1 - self._no_improvement_count
        return int(max(1, min(left, until_decision, EPOCHS_PER_CALL)))

    def _end_epoch(self, loss_sum, penalty_sum, factor, c, n_samples, net, early_stopping,
                   X_val, y_val, sw_val, incremental):
        """What scikit-learn does after each epoch: the loss, the stopping
        rule, the learning-rate schedule. Returns True to stop (partial_fit:
        after its one epoch)."""
        schedule = self._schedule
        self.n_iter_ += 1
        self.loss_ = (loss_sum * factor + penalty_sum / c) / n_samples
        self.t_ += n_samples
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
        self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
        rate = schedule.learning_rate
        schedule.iteration_ends(self.t_)
        if self._no_improvement_count > self.n_iter_no_change:
            if early_stopping:
                msg = ("Validation score did not improve more than "
                       "tol=%f for %d consecutive epochs."
                       % (self.tol, self.n_iter_no_change))
            else:
                msg = ("Training loss did not improve more than tol=%f"
                       " for %d consecutive epochs." % (self.tol, self.n_iter_no_change))
            if schedule.trigger_stopping(msg, self.verbose):
                return True
            self._no_improvement_count = 0
        if schedule.learning_rate != rate:
            self._configure_solver(net)
        if incremental:
            return True
        if self.n_iter_ == self.max_iter:
            warnings.warn(
                "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                "optimization hasn't converged yet." % self.max_iter, ConvergenceWarning)
        return False

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val):
        if early_stopping:
            score = self._score_unchecked(X_val, y_val, sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._network().params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    # ---- prediction --------------------------------------------------------------

    def _forward_pass_fast(self, X, check_input=True):
        """The output layer's activations for X, shape (n_samples, n_outputs_)."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        net = self._network()
        return _rows.forward(net, _rows.as_core_input(X, net.dtype))

    def _score_unchecked(self, X, y, sample_weight=None):
        """The validation score (accuracy or R^2) without input checks; NaN
        when the network's outputs are not finite."""
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(y, y_pred, sample_weight=sample_weight)

    # ---- scikit-learn plumbing -----------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        net = state.pop("_net", None)
        if net is not None:
            # coefs_/intercepts_ pickle as arrays of their own; the network and
            # the optimizer's state are rebuilt from them on first use
            state["coefs_"] = [np.array(c) for c in self.coefs_]
            state["intercepts_"] = [np.array(i) for i in self.intercepts_]
            state["_saved_solver_state"] = (dict(net.settings), net.opt_state.copy(), net.step)
        return state

    def _check_is_fitted(self):
        check_is_fitted(self, "coefs_")
