"""The model file: how ``Sequential.save`` writes and ``load_model`` reads it.

One ``.npz`` archive holds the architecture as JSON (``__minidl__``), every layer's arrays
(``layers/<i>/params/<name>``, ``layers/<i>/buffers/<name>``) and, with the optimizer, its
state (``optimizer/...``). Files are written under a temporary name and renamed over the
target only when complete, so a failed save never destroys an earlier file.
"""

from __future__ import annotations

import os
import tempfile
import zipfile

import numpy as np

from ..nn.layers.base import LAYER_CLASSES, from_minidl

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "write_atomically",
    "read_npz",
    "jsonable",
    "layer_spec",
    "refreeze",
    "compile_config",
    "training_state",
    "restore_training_state",
]

FORMAT = "minidl.Sequential"
FORMAT_VERSION = 1


def write_atomically(path: str, arrays: dict) -> None:
    """``np.savez`` to a temporary file next to ``path``, then rename it over ``path``.

    Errors name ``path`` (never the temporary file) and leave an existing ``path`` intact.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"cannot save the model to {path}: the folder {directory} does not "
            f"exist; create it first (os.makedirs({directory!r}, exist_ok=True))"
        )
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"cannot save the model to {path}: it is a folder; give a file name such as model.npz"
        )
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except OSError as err:
        reason = err.strerror or str(err)
        raise type(err)(
            err.errno,
            f"cannot save the model to {path}: {reason}; an earlier file there, if any, is unchanged",
        ) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def _file_mode(path: str) -> int:
    """The permissions a plain ``open(path, "w")`` would give: an existing file's own, else
    0o666 less the umask (``mkstemp`` creates 0o600, private whatever the umask)."""
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def read_npz(path: str) -> dict:
    """Every array of the ``.npz`` file at ``path``, or an error that says what the file is."""
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{path} is a folder; a minidl model is one .npz file written by "
            "model.save (a Keras SavedModel folder cannot be read)"
        )
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        where = "" if os.path.isdir(folder) else f" (the folder {folder} does not exist)"
        raise FileNotFoundError(
            f"no model file at {path}{where}; expected a file written by model.save(path)"
        )
    with open(path, "rb") as f:
        head = f.read(6)
    if head == b"\x93NUMPY":
        raise ValueError(
            f"{path} is a single NumPy array (.npy), not a model; load it with "
            "np.load, or save models with model.save('model.npz')"
        )
    if not head.startswith(b"PK"):
        raise ValueError(
            f"{path} is not a readable .npz file: a minidl model is a zip archive "
            f"written by model.save, but this file starts with {head!r}"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise ValueError(
            f"{path} is not a readable .npz file ({type(err).__name__}: the archive "
            "is damaged, truncated, or holds Python objects); expected a model written by model.save"
        ) from None


def jsonable(value):
    """Turn a layer/loss config into JSON: tuples to lists, objects to {"class", "config"}."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "get_config"):
        return {"class": type(value).__name__, "config": jsonable(value.get_config())}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a configuration value of type {type(value).__name__}: {value!r}")


def layer_spec(layer) -> dict:
    """A layer as a model file keeps it: ``{"class", "config", "trainable"}``, ``"module"`` for a
    class defined outside minidl, and
    ``"frozen_within"``, the paths (``"attn"``, ``"block.fc1"``) of the layers it holds that were
    frozen on their own inside it, when there are any. The holder's own ``trainable`` does not
    say that one of its sub-layers was frozen, and the sub-layers are made again by ``build``."""
    spec = {
        "class": type(layer).__name__,
        "config": jsonable(layer.get_config()),
        "trainable": layer.trainable,
    }
    if not from_minidl(type(layer)):  # a user's class: loading must not take minidl's of that name
        spec["module"] = type(layer).__module__
    frozen = [path for path, inner in layer.layers_within() if path and not inner.trainable]
    if frozen:
        spec["frozen_within"] = frozen
    return spec


def saved_class(spec: dict) -> type | None:
    """The class of a layer entry, by its name (``LAYER_CLASSES``); None when no class has that
    name, or when the entry names a user's class (``"module"``) and the class of that name is
    another (minidl's own ``TransformerBlock`` for a user's ``TransformerBlock``)."""
    cls = LAYER_CLASSES.get(spec["class"])
    if cls is not None and "module" in spec and cls.__module__ != spec["module"]:
        return None
    return cls


def saved_from(spec: dict) -> str:
    """`` (defined in module m)`` for a user's class, for error messages; empty for minidl's."""
    return f" (defined in module {spec['module']!r})" if "module" in spec else ""


def refreeze(layer, spec: dict, path) -> None:
    """Freeze again, on the rebuilt and built ``layer``, the sub-layers ``layer_spec`` listed
    as frozen in ``spec``."""
    held = dict(layer.layers_within())
    for name in spec.get("frozen_within", ()):
        if name not in held:
            raise ValueError(
                f"{path}: {spec['class']} was saved with a frozen sub-layer {name!r}, "
                f"but the rebuilt layer holds {sorted(n for n in held if n)}"
            )
        held[name].trainable = False


def compile_config(model) -> dict:
    """What ``compile`` was given, as a model file keeps it: the loss and the optimizer as
    ``{"class", "config"}`` and the metrics by name (``compile`` reads it back)."""
    return {
        "loss": {"class": type(model.loss).__name__, "config": jsonable(model.loss.get_config())},
        "optimizer": {
            "class": type(model.optimizer).__name__,
            "config": jsonable(model.optimizer.get_config()),
        },
        "metrics": [name for name, _ in model.metrics],
    }


def training_state(model, layers) -> tuple[dict, dict]:
    """What training needs to go on where it stopped: ``(info, arrays)``. ``info`` (JSON) holds
    the optimizer's step counts, the epochs completed and minidl's random stream (the next
    shuffles and dropout masks); ``arrays`` the optimizer's moments as ``optimizer/...``,
    its slots numbered by their layer's place in ``layers``."""
    from .. import backend

    info, state = model.optimizer.get_state(layers)
    training = {
        "optimizer": info,
        "epochs_completed": model.epochs_completed,
        "rng": backend.rng().bit_generator.state,
    }
    return training, {f"optimizer/{name}": value for name, value in state.items()}


def restore_training_state(model, layers, training: dict, arrays: dict, path) -> None:
    """Put back what ``training_state`` saved, on a model compiled from the same file: the
    next ``fit`` continues bit for bit (unless ``minidl.seed`` is called in between)."""
    from .. import backend

    prefix = "optimizer/"
    state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    try:
        model.optimizer.set_state(layers, training["optimizer"], state)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    model.epochs_completed = int(training.get("epochs_completed", 0))
    model._resume_rng = (training["rng"], backend.rng())
