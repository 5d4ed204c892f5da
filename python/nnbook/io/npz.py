"""nnbook's .npz files: the one place that reads and writes them.

Book networks, ``nnbook.keras`` models and the command line's data files are
all NumPy ``.npz`` archives: a zip whose members ``NAME.npy`` each hold one
array in NumPy's ``.npy`` layout. Only plain arrays are allowed: booleans,
integers, floats and text (``str``/``bytes``); nothing is ever unpickled.

Writing (:func:`write_npz`)
    The archive goes to a temporary file in the target's folder, named
    ``<target>.nnbook-partial-<random>`` so a save killed outright (SIGKILL,
    power loss) leaves a visible file whose name says what it is; it is
    flushed to disk and then renamed over the target with ``os.replace``.
    On any failure, ``KeyboardInterrupt`` included, the temporary is removed
    and the file that was there before is untouched. Errors name the target,
    never the temporary: saving onto a folder, into a missing folder or into
    one without write permission raises ``IsADirectoryError``,
    ``FileNotFoundError`` or ``PermissionError`` saying so.

Reading (:class:`NpzReader`)
    Before any array is allocated, every member's ``.npy`` header (shape,
    dtype, memory order) is read from the zip and checked:

    * the dtype is a plain one (no objects, records or dates);
    * the bytes the header declares (elements x item size) equal the bytes
      the zip directory says the member holds, so a header cannot promise
      more data than is stored;
    * all members together hold at most :data:`MAX_ELEMENTS` elements
      (``NNBOOK_MAX_ELEMENTS`` in the environment changes it);
    * a large member that inflates more than :data:`MAX_COMPRESSION_RATIO`
      times (a "zip bomb": 1 MB of zeros declaring a 1 GB array) is refused
      before it is inflated; trained weights and real data compress far less.

    Reading a member then checks the zip's CRC. Every failure (a truncated
    or damaged archive, a bare ``.npy``, a missing member, a wrong dtype or
    shape, text that is not valid JSON, non-finite weights) is raised as the
    caller's error class, by default :class:`ModelFileError` (a
    ``ValueError``), with a message that starts with the file's path.

Example
-------
>>> import numpy as np, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "example.npz")
>>> write_npz(path, {"w": np.arange(3.0)})
>>> with NpzReader(path) as f:
...     f.shape("w"), f.array("w", kinds="f")
((3,), array([0., 1., 2.]))
"""
import errno
import inspect
import json
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

__all__ = ["ModelFileError", "NpzReader", "write_npz", "write_atomically", "MAX_ELEMENTS",
           "MAX_COMPRESSION_RATIO"]


class ModelFileError(ValueError):
    """A model file that cannot be read: corrupt, foreign, too new, too large or of another class."""


def _max_elements_from_environment(default=2 ** 31):
    text = os.environ.get("NNBOOK_MAX_ELEMENTS")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"NNBOOK_MAX_ELEMENTS must be a positive integer, got {text!r}") from None
    if value < 1:
        raise ValueError(f"NNBOOK_MAX_ELEMENTS must be a positive integer, got {value}")
    return value


#: The most array elements one file may hold, all members together.
MAX_ELEMENTS = _max_elements_from_environment()

#: Members larger than LARGE_MEMBER_BYTES may inflate at most this many times.
MAX_COMPRESSION_RATIO = 100
LARGE_MEMBER_BYTES = 64 << 20

# A real model or data file has a handful of members; a zip listing millions
# would make even the header scan slow.
MAX_MEMBERS = 1024
# NumPy's own limit on a .npy header (numpy.lib.format, max_header_size).
MAX_HEADER_BYTES = 10000
# NumPy >= 1.24 bounds the header it parses; older ones read any length the
# header claims, which version 1.0 caps at 64 KiB but 2.0 does not, so 2.0
# (only needed for huge record dtypes, which nnbook never writes) is then refused.
_HEADER_LIMIT = ({"max_header_size": MAX_HEADER_BYTES} if "max_header_size" in
                 inspect.signature(np.lib.format.read_array_header_1_0).parameters else {})
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0}
if _HEADER_LIMIT:
    _HEADER_READERS[(2, 0)] = np.lib.format.read_array_header_2_0
# Plain dtypes: bool, signed/unsigned integers, floats, str, bytes.
PLAIN_KINDS = "biufUS"
_CHUNK = 1 << 20


class _Member:
    """One array of the archive, known from its header alone (nothing allocated)."""

    __slots__ = ("key", "info", "shape", "dtype", "fortran", "header_bytes")

    def __init__(self, key, info, shape, dtype, fortran, header_bytes):
        self.key, self.info, self.shape = key, info, shape
        self.dtype, self.fortran, self.header_bytes = dtype, fortran, header_bytes

    @property
    def size(self):
        return math.prod(self.shape)


class NpzReader:
    """Read the arrays of one .npz file safely (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
    error : type, default ModelFileError
        Raised for anything wrong with the file; called with one message
        that starts with the path.
    what : str, default "model file"
        What the file is, for messages ("model file", "data file").
    foreign : str, optional
        What to say of a file that is not an .npz archive at all; default
        "not an nnbook <what>".
    max_elements : int, optional
        Overrides :data:`MAX_ELEMENTS` for this file.

    Raises
    ------
    FileNotFoundError
        There is no such file (not raised as ``error``: nothing is wrong
        with a file that is not there).
    error
        Everything else, before any array is read.

    Example
    -------
    >>> with NpzReader("model.npz") as f:                  # doctest: +SKIP
    ...     params = f.array("params", kinds="f", ndim=1, finite=True)
    """

    def __init__(self, path, error=ModelFileError, what="model file", foreign=None,
                 max_elements=None):
        self.path = os.fspath(path)
        self.error = error
        self.what = what
        self.foreign = foreign or f"not an nnbook {what}"
        self._zip = None
        self._open()
        try:
            self.members = self._scan(MAX_ELEMENTS if max_elements is None else max_elements)
        except BaseException:
            self.close()
            raise

    # -- opening -------------------------------------------------------------
    def fail(self, problem):
        """Raise ``error`` with the path and ``problem``."""
        raise self.error(f"{self.path}: {problem}")

    def _open(self):
        name = self.path
        if not os.path.exists(name):
            raise _os_error(FileNotFoundError, errno.ENOENT, f"{self.what} not found: {name}")
        if os.path.isdir(name):
            self.fail(f"cannot read the {self.what}: it is a directory")
        try:
            with open(name, "rb") as f:
                magic = f.read(6)
        except OSError as exc:  # no permission, an I/O error
            self.fail(f"cannot read the {self.what} ({exc.strerror or exc})")
        if magic.startswith(b"\x93NUMPY"):
            self.fail(f"{self.foreign} (a single .npy array, not an .npz archive of arrays)")
        # a zip starts with a local file header, or (no members) with its end record
        if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            kind = "empty" if not magic else f"starts with {magic[:4]!r}"
            self.fail(f"{self.foreign} (not an .npz archive: {kind})")
        try:
            self._zip = zipfile.ZipFile(name)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError,
                NotImplementedError) as exc:   # NotImplementedError: a damaged "zip version"
            self.fail(f"corrupt or truncated .npz archive ({exc})")

    def _scan(self, max_elements):
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            self.fail(f"holds {len(infos)} members; an {self.what} has at most {MAX_MEMBERS}")
        members, total = {}, 0
        for info in infos:
            if not info.filename.endswith(".npy"):
                continue  # not an array: numpy.load ignores such members too
            member = self._header(info)
            if member.key in members:
                self.fail(f"holds the array '{member.key}' twice")
            total += member.size
            if total > max_elements:
                self.fail(f"declares more than {max_elements:,} array elements (at "
                          f"'{member.key}', shape {member.shape}); nnbook refuses files that "
                          f"large (set NNBOOK_MAX_ELEMENTS to raise the limit)")
            members[member.key] = member
        return members

    def _header(self, info):
        key = info.filename[:-4]
        if info.flag_bits & 0x1:
            self.fail(f"member '{key}' is encrypted")
        try:
            with self._zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = _HEADER_READERS.get(version)
                if read_header is None:
                    self.fail(f"member '{key}' is a .npy of version {version}, which nnbook "
                              f"does not read")
                shape, fortran, dtype = read_header(f, **_HEADER_LIMIT)
                header_bytes = f.tell()
        except self.error:
            raise
        except (ValueError, TypeError, SyntaxError, OSError, EOFError, zipfile.BadZipFile,
                zlib.error, NotImplementedError) as exc:
            self.fail(f"member '{key}' is corrupt ({type(exc).__name__}: {exc})")
        if dtype.hasobject or dtype.kind not in PLAIN_KINDS or dtype.fields is not None \
                or dtype.subdtype is not None:
            self.fail(f"member '{key}' has dtype {dtype}; nnbook files hold only numbers and "
                      f"text (objects would need pickle, which nnbook never loads)")
        if not all(isinstance(n, int) and n >= 0 for n in shape):
            self.fail(f"member '{key}' declares an invalid shape {shape}")
        member = _Member(key, info, tuple(shape), dtype, fortran, header_bytes)
        declared = member.size * dtype.itemsize
        stored = info.file_size - header_bytes
        if declared != stored:
            self.fail(f"member '{key}' declares shape {member.shape} of {dtype} "
                      f"({declared:,} bytes) but stores {max(stored, 0):,} bytes")
        if stored > LARGE_MEMBER_BYTES and stored > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            self.fail(f"member '{key}' inflates {info.compress_size:,} bytes to {stored:,} "
                      f"(more than {MAX_COMPRESSION_RATIO} times); refused as a likely zip "
                      f"bomb, no trained network or real data compresses that well")
        return member

    # -- what is there -------------------------------------------------------
    def __contains__(self, key):
        return key in self.members

    @property
    def entries(self):
        """Every member name of the zip, arrays or not."""
        return self._zip.namelist()

    @property
    def keys(self):
        """The array names, in archive order."""
        return list(self.members)

    def member(self, key):
        """The header facts of ``key`` (shape, dtype, size); ``error`` if it is missing."""
        member = self.members.get(key)
        if member is None:
            self.fail(f"missing the '{key}' array; not a complete {self.what}")
        return member

    def shape(self, key):
        """The declared shape of ``key`` (read from its header; nothing allocated)."""
        return self.member(key).shape

    # -- reading -------------------------------------------------------------
    def array(self, key, kinds=None, ndim=None, finite=False, out=None):
        """Read ``key`` into a new array (or into ``out``), after checking its header.

        Parameters
        ----------
        key : str
        kinds : str, optional
            Allowed dtype kinds, e.g. "f" for floats, "iu" for integers.
        ndim : int, optional
            Required number of dimensions.
        finite : bool, default False
            Refuse NaN and infinities.
        out : numpy.ndarray, optional
            C-contiguous array of exactly the stored shape and dtype (byte
            order aside) to read into: loads a large array without a copy.
        """
        member = self.member(key)
        if kinds is not None and member.dtype.kind not in kinds:
            self.fail(f"'{key}' has dtype {member.dtype}, expected {_kind_names(kinds)}")
        if ndim is not None and len(member.shape) != ndim:
            self.fail(f"'{key}' has shape {member.shape}, expected {ndim} dimension(s)")
        if out is None:
            dtype = member.dtype.newbyteorder("=") if member.dtype.kind in "biuf" else member.dtype
            shape = member.shape[::-1] if member.fortran else member.shape
            buffer = np.empty(shape, dtype)
        else:
            if out.shape != member.shape or out.dtype != member.dtype.newbyteorder("=") \
                    or not out.flags.c_contiguous or member.fortran and out.ndim > 1:
                self.fail(f"'{key}' holds shape {member.shape} of {member.dtype}, expected "
                          f"{out.shape} of {out.dtype}")
            buffer = out
        self._fill(member, buffer)
        if buffer.dtype.kind in "biuf" and member.dtype.byteorder not in "=|" \
                and member.dtype.byteorder != _NATIVE:
            buffer.byteswap(inplace=True)
        result = buffer.T if member.fortran and out is None else buffer
        if finite and result.dtype.kind == "f" and not np.isfinite(result).all():
            bad = int(result.size - np.count_nonzero(np.isfinite(result)))
            self.fail(f"'{key}' holds {bad} NaN or infinite value(s); nnbook refuses "
                      f"non-finite weights")
        return result

    def _fill(self, member, buffer):
        raw = buffer.reshape(-1).view(np.uint8) if buffer.nbytes else None
        try:
            with self._zip.open(member.info) as f:
                f.read(member.header_bytes)
                done = 0
                while raw is not None and done < raw.size:
                    got = f.readinto(memoryview(raw[done:done + _CHUNK]))
                    if not got:
                        self.fail(f"'{member.key}' is corrupt: cut short at {done:,} of "
                                  f"{raw.size:,} bytes")
                    done += got
                f.read(1)  # reaching the end makes zipfile compare the CRC
        except self.error:
            raise
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError) as exc:
            self.fail(f"'{member.key}' is corrupt ({type(exc).__name__}: {exc})")

    def text(self, key):
        """A text entry: a 0-d str array, or UTF-8 bytes stored as a uint8 vector."""
        member = self.member(key)
        if member.dtype.kind == "U" and member.shape == ():
            return str(self.array(key))
        if member.dtype == np.uint8 and len(member.shape) == 1:
            try:
                return self.array(key).tobytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                self.fail(f"'{key}' is not UTF-8 text ({exc})")
        self.fail(f"'{key}' should be text, but holds shape {member.shape} of {member.dtype}")

    def json(self, key, kind=dict):
        """A text entry parsed as JSON; ``error`` unless it is a ``kind`` (dict by default)."""
        try:
            value = json.loads(self.text(key))
        except json.JSONDecodeError as exc:
            self.fail(f"'{key}' is not valid JSON ({exc})")
        except RecursionError:
            self.fail(f"'{key}' is JSON nested too deeply")
        if kind is not None and not isinstance(value, kind):
            self.fail(f"'{key}' should be a JSON {_json_name(kind)}, got a "
                      f"{_json_name(type(value))}")
        return value

    # -- context manager -----------------------------------------------------
    def close(self):
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_NATIVE = "<" if np.little_endian else ">"


def _kind_names(kinds):
    names = {"b": "booleans", "i": "integers", "u": "integers", "f": "floats", "U": "text",
             "S": "bytes"}
    return " or ".join(dict.fromkeys(names[k] for k in kinds))


def _json_name(kind):
    return {dict: "object", list: "list", str: "string", int: "number", float: "number",
            bool: "boolean", type(None): "null"}.get(kind, kind.__name__)


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------

def write_npz(path, arrays, compress=True):
    """Write ``arrays`` (name -> array) to ``path`` as an .npz archive, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Written exactly as given (no suffix is added); replaced if it exists.
    arrays : dict of str to array_like
        Plain arrays only (numbers, text); object arrays raise ``ValueError``.
    compress : bool, default True
        Deflate the members.

    Raises
    ------
    IsADirectoryError, FileNotFoundError, PermissionError, OSError
        With a message naming ``path`` (never the temporary file).

    Example
    -------
    >>> write_npz("weights.npz", {"w": np.zeros((2, 3))})  # doctest: +SKIP
    """
    arrays = {key: np.asanyarray(value) for key, value in arrays.items()}
    for key, value in arrays.items():
        if value.dtype.hasobject:
            raise ValueError(f"cannot save '{key}': it holds Python objects, and nnbook files "
                             f"hold only numbers and text")
    write_atomically(path, lambda f: _write_archive(f, arrays, compress), "model.npz")


def write_atomically(path, write, example_name="model.npz"):
    """Create ``path`` by ``write(binary_file)``, atomically (see the module docstring).

    The bytes go to ``<path>.nnbook-partial-<random>`` in the same folder,
    are flushed to disk, then renamed over ``path``; on any failure,
    ``KeyboardInterrupt`` included, the temporary is removed and the old
    file stays. ``example_name`` is suggested when ``path`` is a folder.

    Example
    -------
    >>> write_atomically("notes.bin", lambda f: f.write(b"hello"))  # doctest: +SKIP
    """
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if os.path.isdir(target):
        raise _os_error(IsADirectoryError, errno.EISDIR, f"cannot save to {target}: it is a "
                        f"directory; give a file name, e.g. {os.path.join(target, example_name)}")
    if not os.path.isdir(folder):
        raise _os_error(FileNotFoundError, errno.ENOENT, f"cannot save {target}: the folder "
                        f"{folder} does not exist; create it first")
    try:
        fd, temporary = tempfile.mkstemp(prefix=os.path.basename(target) + ".nnbook-partial-",
                                         dir=folder)
    except OSError as exc:
        raise _save_error(exc, target, folder) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _file_mode(target))  # mkstemp's 0600 would hide the model
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException as exc:
        # any failure, Ctrl-C included: the old file stays, the partial one goes
        try:
            os.remove(temporary)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _save_error(exc, target, folder) from exc
        raise


def _file_mode(target):
    """The permissions ``target`` should get: those it has, else what open() would give."""
    try:
        return os.stat(target).st_mode & 0o777
    except OSError:
        pass
    # the umask can only be set, not read, without changing it process-wide for a
    # moment (which another thread could see); Linux reports it in /proc
    umask = 0o022
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o666 & ~umask


def _write_archive(f, arrays, compress):
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, "w", compression=method, allowZip64=True) as archive:
        for key, value in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


def _save_error(exc, target, folder):
    """The OSError ``exc`` re-raised with a message about ``target``."""
    if isinstance(exc, PermissionError):
        reason = f"no permission to write in {folder}"
    elif exc.errno == errno.EROFS:
        reason = f"{folder} is on a read-only file system"
    elif exc.errno == errno.ENOSPC:
        reason = f"no space left on the device of {folder}"
    elif exc.errno == errno.EFBIG:
        reason = "the file is larger than the system allows (file size limit)"
    elif isinstance(exc, IsADirectoryError):
        reason = "it is a directory; give a file name"
    else:
        reason = exc.strerror or str(exc)
    return _os_error(type(exc), exc.errno, f"cannot save {target}: {reason}")


def _os_error(cls, number, message):
    """``cls(message)`` with ``errno`` set: str() is the message alone, no "[Errno n]"."""
    error = cls(message)
    error.errno = number
    return error
