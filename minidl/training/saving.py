"""The model file: the one place one is written (``write_model``) and read (``read_npz``, ``model_config``).

One ``.npz`` archive: a JSON description under one key (``"__minidl__"`` for a ``Sequential``:
``Sequential.get_config()``) after a header (format, version, minidl's version), the arrays (a
``Sequential``'s as ``layers/<i>/params/<name>``, ``layers/<i>/buffers/<name>``) and, for a
compiled model, ``compile``'s settings and the training state (``optimizer/...``, the epochs
completed, the random stream). A model of another shape is written through the same functions
under its own key. Files are written under a temporary name and renamed over the target only
when complete, so a failed save never leaves a half-written file nor destroys an earlier one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

from .. import backend
from .._version import __version__
from ..nn.layers.base import Layer
from ..nn.layers.registry import LAYER_CLASSES, from_minidl

FORMAT = "minidl.Sequential"
FORMAT_VERSION = 1
MODEL_KEY = "__minidl__"  # a Sequential's description
WEIGHTS_KEY = "__minidl_weights__"  # a weights file (save_weights)


# ---------------------------------------------------------------------- whole files
def write_model(
    path,
    description: dict,
    arrays: dict,
    *,
    key: str = MODEL_KEY,
    format: str = FORMAT,
    version: int = FORMAT_VERSION,
    model=None,
    layers=(),
    include_optimizer: bool = True,
) -> None:
    """Write a model file atomically: ``description`` (JSON, under ``key``, after the header),
    ``arrays``, and -- when ``model`` is given and compiled -- ``compile``'s settings and, with
    ``include_optimizer``, the training state of ``layers`` (``training_state``)."""
    config = {"format": format, "format_version": version, "minidl_version": __version__, **description}
    arrays = dict(arrays)
    if model is not None and model.loss is not None:
        config["compile"] = compile_config(model)
        if include_optimizer and model.optimizer is not None:
            config["training_state"], state = training_state(model, layers)
            arrays.update(state)
    arrays[key] = np.array(json.dumps(config))
    write_atomically(os.fspath(path), arrays)


def model_config(
    arrays: dict, path, *, key: str = MODEL_KEY, format: str = FORMAT, version: int = FORMAT_VERSION
) -> tuple[dict, dict]:
    """The description under ``key`` in ``arrays`` (read from ``path``), checked to be of
    ``format`` at most ``version``, and the other arrays."""
    arrays = dict(arrays)
    if key not in arrays:
        raise ValueError(
            f"{path} is an .npz file but not a minidl model (no {key!r} entry; found {sorted(arrays)[:5]})"
        )
    try:
        config = json.loads(str(arrays.pop(key)))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: the model description is corrupt ({err})") from None
    if config.get("format") != format or config.get("format_version", 0) > version:
        raise ValueError(
            f"{path}: expected format {format} version <= {version}, got "
            f"{config.get('format')} version {config.get('format_version')}"
        )
    return config, arrays


def restore_compiled(model, config: dict, arrays: dict, layers, path) -> None:
    """Compile ``model`` as the file says (if it was compiled) and put back its training
    state (if the file holds one), the optimizer's slots numbered by ``layers``."""
    if "compile" not in config:
        return
    c = config["compile"]
    model.compile(optimizer=c["optimizer"], loss=c["loss"], metrics=c["metrics"])
    if "training_state" in config:
        restore_training_state(model, layers, config["training_state"], arrays, path)


def write_weights(path, weights: list) -> None:
    """A weights file: the arrays of ``weights`` in order (no architecture, no optimizer)."""
    arrays = {f"weights/{i:05d}": w for i, w in enumerate(weights)}
    arrays[WEIGHTS_KEY] = np.array(len(arrays))
    write_atomically(os.fspath(path), arrays)


def read_weights(path) -> list:
    """The arrays a weights file holds, in order (a model file is refused, with the fix)."""
    path = os.fspath(path)
    arrays = read_npz(path)
    if WEIGHTS_KEY not in arrays:
        hint = (
            " it is a whole model: use load_model(path)"
            if any(k.startswith("__minidl") for k in arrays)
            else " it was not written by model.save_weights"
        )
        raise ValueError(f"{path} holds no weights list;{hint}")
    return weights_list(arrays)


def weights_list(arrays: dict) -> list:
    """The arrays saved as ``weights/00000``, ``weights/00001``, ... in order."""
    return [arrays[k] for k in sorted(k for k in arrays if k.startswith("weights/"))]


def layer_slots(layers) -> list:
    """``(name, layer, store, key)`` for every array of ``layers``, each layer's params then its
    buffers (the order of ``get_weights``): the array is ``store[key]``, and ``name`` what a model
    file calls it, ``layers/<i>/params/<key>`` or ``layers/<i>/buffers/<key>``."""
    return [
        (f"layers/{i}/{kind}/{key}", layer, store, key)
        for i, layer in enumerate(layers)
        for kind, store in (("params", layer.params), ("buffers", layer.buffers))
        for key in store
    ]


def layer_arrays(layers) -> dict:
    """Every layer's params and buffers under their ``layer_slots`` names, on the CPU."""
    return {name: backend.to_numpy(store[key]) for name, _, store, key in layer_slots(layers)}


def load_layer_arrays(layers, arrays: dict, path) -> None:
    """Assign what ``layer_arrays`` saved to the built ``layers``, every shape checked."""
    for name, layer, store, key in layer_slots(layers):
        if name not in arrays:
            raise ValueError(f"{path}: missing array {name} for {layer.label}")
        if arrays[name].shape != store[key].shape:
            raise ValueError(
                f"{path}: {name} has shape {arrays[name].shape}, {layer.label} expects {store[key].shape}"
            )
        store[key] = arrays[name].copy()


def layer_from_spec(spec: dict, path) -> Layer:
    """A saved layer (``{"class", "config", "trainable"}``) made again, by class name."""
    cls = saved_class(spec)
    if cls is None:
        raise ValueError(
            f"{path}: unknown layer type {spec['class']!r}{saved_from(spec)} "
            f"(known: {sorted(LAYER_CLASSES)}; a class of your own is known once defined, "
            "under a name minidl's classes do not use)"
        )
    layer_config = dict(spec["config"])
    if layer_config.get("data_format") == "channels_first":
        del layer_config["data_format"]  # files of minidl 0.1 name the one layout image layers have
    layer = cls(**layer_config)
    layer.trainable = spec.get("trainable", True)
    return layer


@contextlib.contextmanager
def keeping_random_stream():
    """``with keeping_random_stream():`` build a model being loaded. Building draws initial
    weights that the saved ones replace at once; loading must not move the seeded stream, or
    the layers a reader builds next would change with it."""
    stream = backend.rng().bit_generator
    state = stream.state
    try:
        yield
    finally:
        stream.state = state


# ---------------------------------------------------------------------- the pieces
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
            "model.save (a folder of files, as other libraries save, cannot be read)"
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


def saved_name(cls: type) -> str:
    """The name a layer of class ``cls`` is saved under: a user's class its own; a library
    class the name of the nearest class in its MRO that ``LAYER_CLASSES`` holds (a subclass
    defined with ``register=False`` saves as the class it extends, whatever its own name)."""
    if not from_minidl(cls):
        return cls.__name__
    for base in cls.__mro__:
        if LAYER_CLASSES.get(base.__name__) is base:
            return base.__name__
    return cls.__name__


def layer_spec(layer) -> dict:
    """A layer as a model file keeps it: ``{"class", "config", "trainable"}``, ``"module"`` for a
    class defined outside minidl, and
    ``"frozen_within"``, the paths (``"attn"``, ``"block.fc1"``) of the layers it holds that were
    frozen on their own inside it, when there are any. The holder's own ``trainable`` does not
    say that one of its sub-layers was frozen, and the sub-layers are made again by ``build``."""
    spec = {
        "class": saved_name(type(layer)),
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
        "loss": jsonable(model.loss),
        "optimizer": {
            "class": getattr(type(model.optimizer), "saved_name", type(model.optimizer).__name__),
            "config": jsonable(model.optimizer.get_config()),
        },
        "metrics": [name for name, _ in model.metrics],
    }


def training_state(model, layers) -> tuple[dict, dict]:
    """What training needs to go on where it stopped: ``(info, arrays)``. ``info`` (JSON) holds
    the optimizer's step counts, the epochs completed and minidl's random stream (the next
    shuffles and dropout masks); ``arrays`` the optimizer's moments as ``optimizer/...``,
    its slots numbered by their layer's place in ``layers``."""
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
    prefix = "optimizer/"
    state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    try:
        model.optimizer.set_state(layers, training["optimizer"], state)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    model.epochs_completed = int(training.get("epochs_completed", 0))
    model._resume_rng = (training["rng"], backend.rng())
