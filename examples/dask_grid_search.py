"""A grid search over nnbook.sklearn.MLPClassifier on a Dask cluster.

joblib sends GridSearchCV's fits to the cluster's workers; the results are
the same as in one process. This starts a LocalCluster on this machine; to
use a real cluster, pass its scheduler's address instead:
    Client("tcp://scheduler-host:8786")

Run from the repository root:  python examples/dask_grid_search.py
Needs: pip install 'nnbook[dask]'
"""
import time
import warnings

import joblib
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nnbook.sklearn import MLPClassifier

GRID = {"mlpclassifier__hidden_layer_sizes": [(50,), (100,), (100, 50)],
        "mlpclassifier__alpha": [1e-4, 1e-3, 1e-2, 1e-1]}


def main():
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(make_pipeline(StandardScaler(),
                                        MLPClassifier(max_iter=50, random_state=0)),
                          GRID, cv=5, n_jobs=-1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        print("cluster:", client.scheduler_info()["address"],
              "workers:", len(client.scheduler_info()["workers"]))
        start = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            search.fit(X, y)
        print(f"{len(search.cv_results_['params'])} candidates x 5 folds in "
              f"{time.perf_counter() - start:.1f} s")
    print("best:", search.best_params_, f"accuracy {search.best_score_:.4f}")


if __name__ == "__main__":  # the cluster's worker processes re-import this file
    main()
