"""Model and data files: nnbook's .npz format.

What a model file may contain
-----------------------------
A model file is a NumPy ``.npz`` archive: a zip whose members ``NAME.npy``
each hold one plain array (booleans, integers, floats or text). Nothing in it
is code: no member is ever unpickled, and a member whose dtype would need
pickle (Python objects) is refused unread. Two layouts exist:

* a book network (``net.save``, read by ``nnbook.load`` or ``Class.load``):
  ``nnbook_format``, ``class_name``, ``dtype``, ``hyperparameters`` (a JSON
  object), ``sizes``, ``params`` (every weight and bias, finite), ``losses``,
  ``val_losses``, optionally ``w_history`` (SingleLayer) and ``extra`` (a
  JSON object of free metadata); see :mod:`nnbook.persistence`;
* an ``nnbook.keras`` model (``model.save``, read by
  ``nnbook.keras.models.load_model`` or ``nnbook.load``): ``config`` (UTF-8
  JSON: architecture, compile settings, optimizer step), ``weight_0``,
  ``weight_1``, ... (finite) and ``optimizer_state``; see
  :mod:`nnbook.keras.saving`.

The command line's data files are ``.npz`` archives too (``x_train``,
``y_train``, ``x_val``, ``y_val``, ...; see :mod:`nnbook.cli_data`) and are
read by the same code.

Rules
-----
* Saving is atomic: the archive is written to
  ``<target>.nnbook-partial-<random>`` in the target's folder, flushed, then
  renamed over the target. Any failure (a full disk, a file-size limit,
  ``KeyboardInterrupt``) removes the temporary and leaves the old file as it
  was; only a process killed outright (SIGKILL, power loss) can leave a
  ``.nnbook-partial-`` file behind, never a damaged model. Errors name the
  target: saving onto a folder, into a missing folder or into one that
  cannot be written raises ``IsADirectoryError``, ``FileNotFoundError`` or
  ``PermissionError`` saying so.
* Loading checks before it allocates: every member's header is read from
  the zip and must declare exactly the bytes the member stores; all members
  together may hold at most ``NNBOOK_MAX_ELEMENTS`` elements (default 2**31);
  a member over 64 MiB that would inflate more than 100-fold is refused as
  a zip bomb; the declared architecture (layer sizes, each a C ``int``) must
  match the stored arrays' shapes and dtypes. Then the data is read and its
  CRC checked, and weights holding NaN or infinity are refused.
* Every problem with a model file is :class:`ModelFileError`, a
  ``ValueError`` whose one-line message starts with the file's path and
  says what is wrong (a truncated or damaged archive, a bare ``.npy``, a
  missing member, a wrong dtype or shape, invalid JSON or UTF-8, a format
  from a newer nnbook, a file holding another class). A missing file is a
  ``FileNotFoundError``.

Modules: :mod:`nnbook.io.npz` reads and writes the archives;
:mod:`nnbook.io.registry` maps the class a file names to the front door
that rebuilds it, so ``nnbook.load`` works without ``io`` importing any
front door.

Example
-------
>>> import nnbook
>>> net = nnbook.load("model.npz")                       # doctest: +SKIP
"""
from .npz import ModelFileError, NpzReader, write_npz
from .registry import class_name_of, load, register_model_class, register_provider

__all__ = ["ModelFileError", "NpzReader", "write_npz", "load",
           "register_model_class", "register_provider", "class_name_of"]
