"""Saving and loading whole models in nnbook's own file format.

The file is a NumPy ``.npz`` archive (a zip) holding:

- ``config``: UTF-8 JSON, as uint8 bytes: format name and version, the
  architecture (``Sequential.get_config()``), the compile settings and the
  optimizer's step count;
- ``weight_0``, ``weight_1``, ...: the arrays of ``get_weights()``;
- ``optimizer_state``: the optimizer's moment vectors, so training resumes
  where it stopped.

Nothing is pickled, so loading a file never runs code from it.

Example
-------
>>> model.save('model.keras')                                # doctest: +SKIP
>>> same = nnbook.keras.models.load_model('model.keras')     # doctest: +SKIP
"""
import json
import os

import numpy as np

FORMAT = "nnbook.keras"
VERSION = 1


def save_model(model, filepath, overwrite=True):
    """Write ``model`` to ``filepath`` (exactly that name; no suffix is added)."""
    model._require_built("save()")
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    from . import losses, optimizers
    compiled = None
    if model.loss is not None:
        compiled = {"loss": losses.serialize(model.loss),
                    "optimizer": optimizers.serialize(model.optimizer),
                    "metrics": list(model._metric_names)}
    config = {"format": FORMAT, "version": VERSION, "model": model.get_config(),
              "compile": compiled, "optimizer_step": int(model._core.step)}
    arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays["optimizer_state"] = model._core.opt_state
    arrays["config"] = np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)
    with open(filepath, "wb") as f:
        np.savez(f, **arrays)


def load_model(filepath, compile=True):
    """Read a model written by ``Sequential.save``.

    Parameters
    ----------
    filepath : str or os.PathLike
    compile : bool, default True
        Restore the loss, optimizer (with its state) and metrics.

    Returns
    -------
    Sequential

    Example
    -------
    >>> from nnbook.keras.models import load_model
    >>> model = load_model('model.keras')                    # doctest: +SKIP
    """
    from . import models
    filepath = os.fspath(filepath)
    try:
        archive = np.load(filepath, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{filepath} is not a model saved by nnbook.keras ({exc})") from None
    with archive:
        if "config" not in archive.files:
            raise ValueError(f"{filepath} is not a model saved by nnbook.keras "
                             f"(no 'config' entry)")
        config = json.loads(archive["config"].tobytes().decode("utf-8"))
        if config.get("format") != FORMAT or config.get("version") != VERSION:
            raise ValueError(f"{filepath}: unsupported format {config.get('format')!r} "
                             f"version {config.get('version')!r}")
        n = sum(1 for name in archive.files if name.startswith("weight_"))
        weights = [archive[f"weight_{i}"] for i in range(n)]
        state = archive["optimizer_state"]
    model = models.Sequential.from_config(config["model"])
    model.build()
    model.set_weights(weights)
    if compile and config["compile"] is not None:
        c = config["compile"]
        model.compile(optimizer=c["optimizer"], loss=c["loss"], metrics=c["metrics"])
        if state.size == model._core.opt_state.size:
            model._core.opt_state[...] = state
            model._core.step = int(config["optimizer_step"])
    return model
