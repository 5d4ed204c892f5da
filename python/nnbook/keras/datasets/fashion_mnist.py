"""``keras.datasets.fashion_mnist``, from local files (see nnbook.datasets)."""


def load_data(path=None):
    """Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``, uint8 arrays.

    Shapes (60000, 28, 28), (60000,), (10000, 28, 28), (10000,). The files are
    looked up as in ``nnbook.datasets.load_fashion_mnist``: ``path``, then
    ``NNBOOK_DATA``, Debian's dataset-fashion-mnist folder, the Keras cache.

    Example
    -------
    >>> (x_train, y_train), (x_test, y_test) = load_data()     # doctest: +SKIP
    >>> x_train.shape                                          # doctest: +SKIP
    (60000, 28, 28)
    """
    # Imported here: nnbook.datasets is only needed when data is loaded.
    from ...datasets import load_fashion_mnist
    return load_fashion_mnist(path)
