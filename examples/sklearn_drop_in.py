"""nnbook.sklearn as a drop-in for scikit-learn's MLPClassifier.

Only the import line differs from scikit-learn code: the same parameters,
the same fitted attributes and, in float64, the same numbers (the script
checks them against scikit-learn's own run), but trained on nnbook's core.

Run from the repository root:  python examples/sklearn_drop_in.py
Needs: pip install 'nnbook[sklearn]'
"""
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as ScikitLearnMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nnbook.sklearn import MLPClassifier  # was: from sklearn.neural_network import ...

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

for name, cls in (("nnbook", MLPClassifier), ("scikit-learn", ScikitLearnMLP)):
    model = make_pipeline(StandardScaler(),
                          cls(hidden_layer_sizes=(100,), solver="sgd", learning_rate_init=0.05,
                              max_iter=100, early_stopping=True, random_state=0))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    mlp = model[-1]
    print(f"{name:>12}: {seconds:6.2f} s, {mlp.n_iter_} epochs, final loss {mlp.loss_:.12f}, "
          f"test accuracy {model.score(X_test, y_test):.4f}")
    if name == "nnbook":
        ours = mlp
print("same loss curve as scikit-learn:",
      np.allclose(ours.loss_curve_, mlp.loss_curve_, rtol=1e-9, atol=0))
