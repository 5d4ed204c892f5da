"""The learning-rate schedule and stopping decisions of scikit-learn's
stochastic solvers. The arithmetic of each step (SGD with momentum, Adam)
runs in the core; this object holds what changes between epochs."""


class StochasticSchedule:
    """The current learning rate of an 'sgd' or 'adam' solver, and what
    happens when the loss (or validation score) stops improving.

    Parameters
    ----------
    solver : {'sgd', 'adam'}
    learning_rate_init : float
    lr_schedule : {'constant', 'invscaling', 'adaptive'}
        Used by 'sgd' only, as in scikit-learn.
    power_t : float

    Example
    -------
    >>> s = StochasticSchedule("sgd", 0.1, "invscaling", 0.5)
    >>> s.iteration_ends(3)
    >>> s.learning_rate
    0.05
    """

    def __init__(self, solver, learning_rate_init, lr_schedule, power_t):
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule if solver == "sgd" else "constant"
        self.power_t = power_t

    def iteration_ends(self, time_step):
        """After an epoch; time_step = samples seen so far (the estimator's t_)."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """True to stop; 'adaptive' SGD instead divides the rate by 5 until it
        falls to 1e-6."""
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False
