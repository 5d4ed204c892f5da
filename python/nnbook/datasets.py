"""Data sets of the book's chapters 6 and 7, read from local files only.

* Breast cancer (chapter 6): scikit-learn's bundled copy, split and scaled
  exactly as the book does (:func:`breast_cancer_split`).
* Fashion-MNIST (chapter 7): the four gzip IDX files, read by our own IDX
  reader (:func:`read_idx`), found by :func:`load_fashion_mnist` in an explicit
  folder, ``$NNBOOK_DATA``, Debian's ``dataset-fashion-mnist`` package or the
  Keras cache, and split as the book does (:func:`fashion_mnist_split`).

Nothing here downloads anything: a missing data set is an error that says how
to install it.
"""
from __future__ import annotations

import glob
import gzip
import os
import zlib
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_CLASSES_KO",
    "FASHION_MNIST_FILES",
    "DEBIAN_FASHION_MNIST_DIR",
    "BreastCancerSplit",
    "FashionMNISTSplit",
    "read_idx",
    "find_fashion_mnist",
    "load_fashion_mnist",
    "load_breast_cancer",
    "breast_cancer_split",
    "fashion_mnist_split",
    "one_hot",
]

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

#: English class names, in label order (label 0 is "T-shirt/top").
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

#: The book's Korean class names, in label order.
FASHION_MNIST_CLASSES_KO = (
    "티셔츠", "바지", "스웨터", "드레스", "코트",
    "샌들", "셔츠", "스니커즈", "가방", "앵클 부츠",
)

#: Standard file names (keys: "train_images", "train_labels",
#: "test_images", "test_labels"). A folder may hold them gzipped (the
#: distributed form) or already unzipped (same name without ".gz").
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

#: Where Debian's ``dataset-fashion-mnist`` package installs the four files
#: (found with ``dpkg -L dataset-fashion-mnist``, package version
#: 0.0~git20200523.55506a9-1).
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

#: Fallback patterns, in case a later package version renames the folder or
#: moves it one level down (e.g. ``/usr/share/datasets/x/fashion-mnist``).
DEBIAN_FASHION_MNIST_GLOBS = (
    "/usr/share/datasets/*fashion*mnist*",
    "/usr/share/datasets/*/*fashion*mnist*",
)

#: The Keras cache folder, relative to the home directory
#: (``keras.datasets.fashion_mnist.load_data()`` downloads there).
KERAS_FASHION_MNIST_SUBDIR = os.path.join(".keras", "datasets",
                                          "fashion-mnist")

#: Environment variable naming a data folder (the files directly in it, or in
#: its ``fashion-mnist`` subfolder).
DATA_ENV_VAR = "NNBOOK_DATA"

_INSTALL_HINT = (
    "Install it with `sudo apt-get install dataset-fashion-mnist`, or set "
    "NNBOOK_DATA / pass path= to a folder with the four files "
    + ", ".join(FASHION_MNIST_FILES.values()) + "."
)

# IDX type codes (the third header byte). Only uint8 is used by (Fashion-)MNIST
# and only uint8 is supported; the others are named so the error is precise.
_IDX_UINT8 = 0x08
_IDX_TYPE_NAMES = {
    0x08: "uint8", 0x09: "int8", 0x0B: "int16",
    0x0C: "int32", 0x0D: "float32", 0x0E: "float64",
}
_GZIP_MAGIC = b"\x1f\x8b"
# Read the payload in slices so a corrupt header that declares terabytes
# fails as "truncated" after reading what is really there, instead of
# trying to allocate the declared size up front.
_CHUNK = 1 << 24


# --------------------------------------------------------------------------
# IDX reader
# --------------------------------------------------------------------------

def read_idx(path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or plain.

    The format is: two zero bytes, a type byte (``0x08`` = unsigned byte),
    a byte with the number of dimensions ``d``, ``d`` big-endian uint32
    sizes, then the data in row-major (C) order. Compression is detected
    from the content (the gzip magic bytes), not from the file name.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    numpy.ndarray
        A writable ``uint8`` array of the declared shape.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a valid uint8 IDX file: bad magic, unsupported
        type, truncated header or payload, extra bytes after the payload, a
        corrupt gzip stream, or a ``.gz`` name on a file that is not gzip.
        The message names the file and what was wrong.

    Example
    -------
    >>> from nnbook.datasets import read_idx
    >>> y = read_idx("/usr/share/datasets/fashion-mnist/"
    ...              "t10k-labels-idx1-ubyte.gz")          # doctest: +SKIP
    >>> y.shape, y.dtype                                   # doctest: +SKIP
    ((10000,), dtype('uint8'))
    """
    name = os.fspath(path)
    # Opened outside the try: a missing file stays a FileNotFoundError.
    with open(name, "rb") as raw:
        is_gzip = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not is_gzip and name.endswith(".gz"):
            raise ValueError(
                f"{name}: the name ends in .gz but the file is not "
                "gzip-compressed (no gzip magic bytes 1f 8b)")
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip else raw
        if not is_gzip:
            return _parse_idx(raw, name)
        try:
            return _parse_idx(stream, name)
        except (OSError, EOFError, zlib.error) as exc:
            # gzip.BadGzipFile (an OSError), EOFError on a cut-off stream,
            # zlib.error on corrupt deflate data, CRC/length mismatches.
            raise ValueError(
                f"{name}: corrupt or truncated gzip data ({exc})") from exc
        finally:
            stream.close()


def _read_exact(stream, n: int) -> bytearray:
    """Read up to ``n`` bytes (fewer only at end of file)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(n - len(buf), _CHUNK))
        if not chunk:
            break
        buf += chunk
    return buf


def _parse_idx(stream, name: str) -> np.ndarray:
    head = _read_exact(stream, 4)
    if len(head) < 4:
        raise ValueError(
            f"{name}: truncated IDX header: {len(head)} of 4 magic bytes")
    if head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"{name}: bad IDX magic: expected the first two bytes to be "
            f"00 00, got {head[0]:02x} {head[1]:02x} (not an IDX file)")
    dtype_code, ndim = head[2], head[3]
    if dtype_code != _IDX_UINT8:
        kind = _IDX_TYPE_NAMES.get(dtype_code, "unknown")
        raise ValueError(
            f"{name}: unsupported IDX type byte 0x{dtype_code:02x} ({kind}); "
            "only 0x08 (uint8) is supported")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")

    dims_raw = _read_exact(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions declared, "
            f"which need {4 * ndim} size bytes, but only {len(dims_raw)} "
            "are present")
    shape = tuple(int(d) for d in np.frombuffer(bytes(dims_raw), dtype=">u4"))
    # Python ints: the product cannot overflow however large the dims.
    size = 1
    for d in shape:
        size *= d

    payload = _read_exact(stream, size)
    if len(payload) < size:
        raise ValueError(
            f"{name}: truncated IDX payload: shape {shape} needs {size} "
            f"bytes, only {len(payload)} are present")
    if stream.read(1):
        raise ValueError(
            f"{name}: IDX payload is longer than the declared shape {shape} "
            f"({size} bytes); the header or the file is corrupt")
    # np.frombuffer over a bytearray is writable and shares its memory: no
    # second copy of a 47 MB image file.
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


# --------------------------------------------------------------------------
# Fashion-MNIST: finding and loading the files
# --------------------------------------------------------------------------

def _files_in(folder: str) -> Optional[dict]:
    """Map each key of FASHION_MNIST_FILES to its file in ``folder``, or None
    if any of the four is missing. The gzipped name wins over the unzipped."""
    found = {}
    for key, gz_name in FASHION_MNIST_FILES.items():
        for candidate in (gz_name, gz_name[:-len(".gz")]):
            full = os.path.join(folder, candidate)
            if os.path.isfile(full):
                found[key] = full
                break
        else:
            return None
    return found


def _candidate_folders(path=None) -> List[Tuple[str, str]]:
    """The folders to search, in order, each with a label for messages."""
    if path is not None:
        # An explicit folder is authoritative: a typo must fail loudly rather
        # than silently load some other copy found further down the list.
        p = os.fspath(path)
        return [("path argument", p),
                ("path argument", os.path.join(p, "fashion-mnist"))]

    folders = []
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        folders.append((f"${DATA_ENV_VAR}", env))
        folders.append((f"${DATA_ENV_VAR}",
                        os.path.join(env, "fashion-mnist")))
    folders.append(("Debian dataset-fashion-mnist", DEBIAN_FASHION_MNIST_DIR))
    extra = set()
    for pattern in DEBIAN_FASHION_MNIST_GLOBS:
        extra.update(g for g in glob.glob(pattern) if os.path.isdir(g))
    for g in sorted(extra):
        if os.path.normpath(g) != os.path.normpath(DEBIAN_FASHION_MNIST_DIR):
            folders.append(("Debian dataset-fashion-mnist", g))
    keras = os.path.join(os.path.expanduser("~"), KERAS_FASHION_MNIST_SUBDIR)
    folders.append(("Keras cache", keras))
    return folders


def find_fashion_mnist(path=None) -> dict:
    """Locate the four Fashion-MNIST files.

    Look-up order: ``path`` (a folder, or its ``fashion-mnist`` subfolder;
    when given, nothing else is searched), then ``$NNBOOK_DATA`` (the folder
    or its ``fashion-mnist`` subfolder), then Debian's package folder
    :data:`DEBIAN_FASHION_MNIST_DIR` (and similar folders under
    ``/usr/share/datasets``), then the Keras cache
    ``~/.keras/datasets/fashion-mnist``. A folder qualifies only if it has
    all four files, gzipped or unzipped.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A folder holding the four files.

    Returns
    -------
    dict
        Keys ``train_images``, ``train_labels``, ``test_images``,
        ``test_labels``; values are file paths.

    Raises
    ------
    FileNotFoundError
        If no folder has all four files; the message lists every folder
        tried and how to install the data.

    Example
    -------
    >>> from nnbook.datasets import find_fashion_mnist
    >>> find_fashion_mnist()["test_labels"]                # doctest: +SKIP
    '/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz'
    """
    tried = []
    for label, folder in _candidate_folders(path):
        files = _files_in(folder)
        if files is not None:
            return files
        tried.append(f"  - {folder} ({label})")
    raise FileNotFoundError(
        "Fashion-MNIST not found. Looked for the four files in:\n"
        + "\n".join(tried) + "\n" + _INSTALL_HINT)


def load_fashion_mnist(path=None):
    """Load Fashion-MNIST as in ``keras.datasets.fashion_mnist.load_data()``.

    The files are searched as described in :func:`find_fashion_mnist`;
    nothing is downloaded.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A folder with the four files (``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
        ``t10k-labels-idx1-ubyte.gz``).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``uint8`` arrays of shapes (60000, 28, 28), (60000,),
        (10000, 28, 28), (10000,). Labels index
        :data:`FASHION_MNIST_CLASSES`.

    Raises
    ------
    FileNotFoundError
        If the data cannot be found (the message says how to install it).
    ValueError
        If a file is corrupt, or images and labels do not match.

    Example
    -------
    >>> from nnbook.datasets import load_fashion_mnist, FASHION_MNIST_CLASSES
    >>> (x_train, y_train), (x_test, y_test) = (
    ...     load_fashion_mnist())                          # doctest: +SKIP
    >>> x_train.shape, FASHION_MNIST_CLASSES[y_train[0]]   # doctest: +SKIP
    ((60000, 28, 28), 'Ankle boot')
    """
    files = find_fashion_mnist(path)
    out = []
    for part in ("train", "test"):
        img_file, lab_file = files[f"{part}_images"], files[f"{part}_labels"]
        x, y = read_idx(img_file), read_idx(lab_file)
        # The IDX reader accepts any shape; Fashion-MNIST has a fixed one.
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(
                f"{img_file}: expected images of shape (n, 28, 28), "
                f"got {x.shape}")
        if y.ndim != 1:
            raise ValueError(
                f"{lab_file}: expected a 1-D label vector, "
                f"got shape {y.shape}")
        if len(x) != len(y):
            raise ValueError(
                f"{img_file} has {len(x)} images but {lab_file} has "
                f"{len(y)} labels")
        if y.size and y.max() >= len(FASHION_MNIST_CLASSES):
            raise ValueError(
                f"{lab_file}: labels must be in 0..9, found {int(y.max())}")
        out.append((x, y))
    return out[0], out[1]


# --------------------------------------------------------------------------
# Breast cancer
# --------------------------------------------------------------------------

def _sklearn():
    # scikit-learn is an optional extra (nnbook[book]); importing it lazily
    # keeps `import nnbook` light and gives an actionable error.
    try:
        import sklearn.datasets  # noqa: F401
        import sklearn.model_selection  # noqa: F401
        import sklearn.preprocessing  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the book's data sets and splits need scikit-learn: "
            "pip install nnbook[book]") from exc
    import sklearn
    return sklearn


def load_breast_cancer():
    """Load the Wisconsin breast-cancer data bundled with scikit-learn.

    Returns
    -------
    x : numpy.ndarray
        float64, shape (569, 30).
    y : numpy.ndarray
        int64, shape (569,): 1 = benign, 0 = malignant (scikit-learn's
        coding, which the book uses as is).

    Raises
    ------
    ImportError
        If scikit-learn is not installed (``pip install nnbook[book]``).

    Example
    -------
    >>> from nnbook.datasets import load_breast_cancer
    >>> x, y = load_breast_cancer()
    >>> x.shape, y.shape
    ((569, 30), (569,))
    """
    sk = _sklearn()
    cancer = sk.datasets.load_breast_cancer()
    x = np.ascontiguousarray(cancer.data, dtype=np.float64)
    y = np.ascontiguousarray(cancer.target, dtype=np.int64)
    return x, y


@dataclass(frozen=True)
class BreastCancerSplit:
    """Chapter 6's split of the breast-cancer data (see
    :func:`breast_cancer_split`). Features are standardised with the
    training part's mean and standard deviation; targets are float64 0/1."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def breast_cancer_split() -> BreastCancerSplit:
    """Split and scale the breast-cancer data exactly as chapter 6 does.

    ``train_test_split(x, y, stratify=y, test_size=0.2, random_state=42)``
    gives train_all (455) / test (114); the same call on train_all gives
    train (364) / val (91). A ``StandardScaler`` fitted on x_train is applied
    to x_train, x_val and x_test.

    Returns
    -------
    BreastCancerSplit
        Fields ``x_train`` (364, 30), ``y_train`` (364,), ``x_val`` (91, 30),
        ``y_val`` (91,), ``x_test`` (114, 30), ``y_test`` (114,); all float64.
        The targets are 1-D; the book's classes reshape them to columns.

    Example
    -------
    >>> from nnbook.datasets import breast_cancer_split
    >>> s = breast_cancer_split()
    >>> s.x_train.shape, s.x_val.shape, s.x_test.shape
    ((364, 30), (91, 30), (114, 30))
    """
    sk = _sklearn()
    split = sk.model_selection.train_test_split
    x, y = load_breast_cancer()
    x_train_all, x_test, y_train_all, y_test = split(
        x, y, stratify=y, test_size=0.2, random_state=42)
    x_train, x_val, y_train, y_val = split(
        x_train_all, y_train_all, stratify=y_train_all, test_size=0.2,
        random_state=42)
    scaler = sk.preprocessing.StandardScaler().fit(x_train)

    def feats(a):
        return np.ascontiguousarray(scaler.transform(a), dtype=np.float64)

    def targets(a):
        return np.ascontiguousarray(a, dtype=np.float64)

    return BreastCancerSplit(
        x_train=feats(x_train), y_train=targets(y_train),
        x_val=feats(x_val), y_val=targets(y_val),
        x_test=feats(x_test), y_test=targets(y_test))


# --------------------------------------------------------------------------
# Fashion-MNIST split and one-hot encoding
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class FashionMNISTSplit:
    """Chapter 7's split of Fashion-MNIST (see :func:`fashion_mnist_split`).

    ``x_*`` are pixels / 255 flattened to (n, 784); ``y_*`` are integer
    labels 0..9; ``y_*_encoded`` are the one-hot targets (n, 10)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    y_train_encoded: np.ndarray
    y_val_encoded: np.ndarray
    y_test_encoded: np.ndarray


def _scale_pixels(x: np.ndarray, dtype) -> np.ndarray:
    # Convert then divide in place: no float64 temporary when dtype is
    # float32. For float32 this equals float32(x / 255.0) exactly (a double
    # rounding of a division is harmless when the wide format has at least
    # 2*24+2 bits of mantissa, and float64 has 53).
    out = x.reshape(len(x), -1).astype(dtype)
    out /= out.dtype.type(255)
    return out


def fashion_mnist_split(path=None, dtype=np.float64) -> FashionMNISTSplit:
    """Prepare Fashion-MNIST exactly as chapter 7 does.

    From the 60,000 training images,
    ``train_test_split(x_train_all, y_train_all, stratify=y_train_all,
    test_size=0.2, random_state=42)`` gives train (48,000) / val (12,000).
    Pixels are divided by 255 and each image flattened to 784 values; the
    targets are also one-hot encoded. The 10,000 t10k images are the test
    set, prepared the same way.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Folder with the four files (see :func:`load_fashion_mnist`).
    dtype : numpy dtype, default float64
        Floating type of ``x_*`` and ``y_*_encoded`` (float64 is the
        book's; float32 halves the memory).

    Returns
    -------
    FashionMNISTSplit
        ``x_train`` (48000, 784), ``x_val`` (12000, 784), ``x_test``
        (10000, 784) in [0, 1]; ``y_train``/``y_val``/``y_test`` int64
        labels; ``y_train_encoded``/``y_val_encoded``/``y_test_encoded``
        one-hot (n, 10).

    Raises
    ------
    FileNotFoundError
        If the data cannot be found.
    ImportError
        If scikit-learn is not installed.

    Example
    -------
    >>> from nnbook.datasets import fashion_mnist_split
    >>> s = fashion_mnist_split()                          # doctest: +SKIP
    >>> s.x_train.shape, s.y_train_encoded.shape           # doctest: +SKIP
    ((48000, 784), (48000, 10))
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(
            f"dtype must be a floating type (float32 or float64), "
            f"got {dtype}")
    sk = _sklearn()
    (x_train_all, y_train_all), (x_test, y_test) = load_fashion_mnist(path)
    x_train, x_val, y_train, y_val = sk.model_selection.train_test_split(
        x_train_all, y_train_all, stratify=y_train_all, test_size=0.2,
        random_state=42)
    k = len(FASHION_MNIST_CLASSES)
    labels = [np.asarray(y, dtype=np.int64) for y in (y_train, y_val, y_test)]
    return FashionMNISTSplit(
        x_train=_scale_pixels(x_train, dtype),
        y_train=labels[0],
        x_val=_scale_pixels(x_val, dtype),
        y_val=labels[1],
        x_test=_scale_pixels(x_test, dtype),
        y_test=labels[2],
        y_train_encoded=one_hot(labels[0], k, dtype),
        y_val_encoded=one_hot(labels[1], k, dtype),
        y_test_encoded=one_hot(labels[2], k, dtype),
    )


def one_hot(labels, num_classes=None, dtype=np.float64) -> np.ndarray:
    """One-hot encode integer class labels (like Keras' ``to_categorical``).

    Parameters
    ----------
    labels : array_like
        Class indices, shape (n,) or (n, 1). Integer, boolean, or floating
        with whole-number values (e.g. the float 0/1 targets of
        :func:`breast_cancer_split`).
    num_classes : int, optional
        Number of columns; default ``max(labels) + 1``.
    dtype : numpy dtype, default float64
        Type of the result.

    Returns
    -------
    numpy.ndarray
        Shape (n, num_classes); row i has a 1 in column ``labels[i]``.

    Raises
    ------
    ValueError
        For negative, fractional, NaN/Inf or too-large labels, a bad
        shape, or a bad ``num_classes``.
    TypeError
        For non-numeric labels.

    Example
    -------
    >>> from nnbook.datasets import one_hot
    >>> one_hot([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"labels must be 1-D (or a single column), got shape {y.shape}")
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    elif y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError("labels contain NaN or Inf")
        if not np.all(y == np.floor(y)):
            bad = y[y != np.floor(y)][0]
            raise ValueError(
                "labels must be whole numbers, got a non-integer label "
                f"{float(bad)!r}")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iu":
        raise TypeError(
            f"labels must be integers, got an array of dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError(
            f"labels must be non-negative, got {int(y.min())}")

    if num_classes is None:
        if y.size == 0:
            raise ValueError(
                "cannot infer num_classes from empty labels; pass num_classes")
        num_classes = int(y.max()) + 1
    else:
        if isinstance(num_classes, (bool, np.bool_)) or not isinstance(
                num_classes, (int, np.integer)):
            raise TypeError(
                "num_classes must be an int, "
                f"got {type(num_classes).__name__}")
        num_classes = int(num_classes)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if y.size and y.max() >= num_classes:
            raise ValueError(
                f"label {int(y.max())} is out of range for "
                f"num_classes={num_classes} (labels must be < num_classes)")

    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out
