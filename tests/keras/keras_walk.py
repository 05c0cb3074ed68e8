"""Walk Keras itself: for every public class of ``keras.layers``, ``losses``, ``metrics``,
``optimizers`` and ``callbacks`` that the door exports, compare with real Keras a built
instance of each:

* ``class``: ``type(obj).__name__``;
* ``param:<name>``: each of Keras's constructor parameters is accepted by the door (by name,
  or through ``**kwargs`` when making the object with it at its default works) and has
  Keras's default;
* ``config:<key>``: ``get_config()``'s keys, each way;
* ``weights``: the weights' names, in order (layers, once built);
* ``summary``: the layer's row of a one-layer model's ``summary()`` (its type column, output
  shape and parameter count).

``walk(keras, door)`` returns ``(differences, counts)``: a set of ``"module.Class aspect"``
strings and how many classes and attributes were compared. ``python tests/keras/keras_walk.py``
prints them (Keras with ``KERAS_BACKEND=torch``).
"""

from __future__ import annotations

import inspect
import io
import re
import sys
from contextlib import redirect_stdout
from typing import Any

import numpy as np


def _identity(x):
    return x


MODULES = ("layers", "losses", "metrics", "optimizers", "callbacks")

# constructor arguments and an input batch for the classes that need them (else: none, (2, 4));
# a function of the library's ``layers`` module where an argument is a layer
ARGS: dict[str, Any] = {
    "Bidirectional": lambda layers: ((layers.LSTM(2),), {}),
    "TimeDistributed": lambda layers: ((layers.Dense(2),), {}),
    "InputLayer": ((), {"shape": (4,)}),
    "Lambda": ((_identity,), {}),
    "Dense": ((3,), {}),
    "Embedding": ((10, 4), {}),
    "Conv1D": ((2, 3), {}),
    "Conv2D": ((2, 3), {}),
    "Conv2DTranspose": ((2, 3), {}),
    "DepthwiseConv2D": ((3,), {}),
    "SeparableConv2D": ((2, 3), {}),
    "SimpleRNN": ((3,), {}),
    "LSTM": ((3,), {}),
    "GRU": ((3,), {}),
    "Activation": (("relu",), {}),
    "Reshape": (((2, 2),), {}),
    "Permute": (((2, 1),), {}),
    "RepeatVector": ((2,), {}),
    "Rescaling": ((0.5,), {}),
    "Dropout": ((0.5,), {}),
    "SpatialDropout1D": ((0.5,), {}),
    "SpatialDropout2D": ((0.5,), {}),
    "GaussianNoise": ((0.1,), {}),
    "GaussianDropout": ((0.1,), {}),
    "AlphaDropout": ((0.1,), {}),
    "MultiHeadAttention": ((2, 4), {}),
    "CategoryEncoding": ((), {"num_tokens": 5}),
    "Discretization": ((), {"bin_boundaries": [0.5]}),
    "Masking": ((), {}),
    "TopKCategoricalAccuracy": ((), {}),
    "EarlyStopping": ((), {}),
    "ModelCheckpoint": (("m.keras",), {}),
    "LearningRateScheduler": ((lambda e, lr: lr,), {}),
    "CSVLogger": (("log.csv",), {}),
    "RandomTranslation": ((0.1, 0.1), {}),
    "RandomRotation": ((0.1,), {}),
    "RandomZoom": ((0.1,), {}),
    "RandomContrast": ((0.1,), {}),
    "Cropping1D": ((1,), {}),
    "Cropping2D": ((1,), {}),
}
SEQUENCE = (2, 5, 4)
IMAGE = (2, 6, 6, 3)
INPUTS = {
    **{
        n: SEQUENCE
        for n in (
            "Conv1D SimpleRNN LSTM GRU MaxPooling1D MaxPool1D AveragePooling1D AvgPool1D "
            "GlobalAveragePooling1D GlobalAvgPool1D GlobalMaxPooling1D GlobalMaxPool1D UpSampling1D "
            "ZeroPadding1D Cropping1D SpatialDropout1D Permute Masking LayerNormalization"
        ).split()
    },
    **{
        n: IMAGE
        for n in (
            "Conv2D Conv2DTranspose DepthwiseConv2D SeparableConv2D MaxPooling2D MaxPool2D "
            "AveragePooling2D AvgPool2D GlobalAveragePooling2D GlobalAvgPool2D GlobalMaxPooling2D "
            "GlobalMaxPool2D UpSampling2D ZeroPadding2D Cropping2D SpatialDropout2D RandomFlip "
            "RandomTranslation RandomRotation RandomZoom RandomContrast"
        ).split()
    },
    "Embedding": (2, 5),
    "RepeatVector": (2, 4),
    "Reshape": (2, 4),
    "CategoryEncoding": (2, 3),
}
# not built alone (several inputs, a wrapped layer, text, a callable, a base class)
NOT_BUILT = set(
    "Add Subtract Multiply Average Maximum Minimum Concatenate Dot Attention MultiHeadAttention "
    "Bidirectional TimeDistributed TextVectorization Lambda Layer Input InputLayer Normalization".split()
)


def _public_classes(keras, door, module: str) -> list[str]:
    real = getattr(keras, module)
    ours = getattr(door, module)
    names = []
    for name in getattr(ours, "__all__", dir(ours)):
        theirs = getattr(real, name, None)
        if inspect.isclass(theirs) and not name.startswith("_"):
            names.append(name)
    return names


def _parameters(obj) -> tuple[dict, bool]:
    """Named parameters (name -> default or ``inspect._empty``) and whether ``**kwargs`` is taken."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return {}, True
    named = {
        p.name: p.default
        for p in signature.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"
    }
    return named, any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())


def _same_default(a, b) -> bool:
    if a is inspect.Parameter.empty or b is inspect.Parameter.empty:
        return a is b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    try:
        return bool(a == b) and type(a) is type(b) or (a is None and b is None)
    except Exception:  # noqa: BLE001  (arrays, callables: compared by identity)
        return a is b


def _arguments(name: str, module_obj) -> tuple[tuple, dict]:
    made = ARGS.get(name, ((), {}))
    if callable(made):
        return made(sys.modules[module_obj.__name__.rsplit(".", 1)[0] + ".layers"])
    return made


def _make(module_obj, name: str):
    args, kwargs = _arguments(name, module_obj)
    return getattr(module_obj, name)(*args, **kwargs)


def _summary_row(keras_like, layer, shape) -> str:
    """The row of ``layer`` in a one-layer Sequential's summary, its cells joined (Keras's
    table wraps a long type onto the next line)."""
    model = keras_like.Sequential([keras_like.Input(shape[1:]), layer])
    out = io.StringIO()
    with redirect_stdout(out):
        model.summary(print_fn=lambda line, *a, **k: print(line))
    for row in summary_rows(out.getvalue()):
        if layer.name and row.startswith(layer.name + " "):
            return row
    return ""


def summary_rows(text: str) -> list[str]:
    """A summary's rows, each one line of its cells (Keras's boxed rows, several lines each,
    joined column by column; a plain table's lines as they are)."""
    rows: list[str] = []
    current: list[list[str]] = []
    for line in text.splitlines():
        if "│" in line or "┃" in line:
            current.append([c.strip() for c in re.split(r"[│┃]", line.strip().strip("│┃"))])
            continue
        if current:
            rows.append(" ".join(" ".join(p for p in col if p) for col in zip(*current)))
            current = []
        if line.strip() and not set(line.strip()) <= set("=─━┏┓┗┛┡┩└┘├┤┼┬┴╇┳┻━"):
            rows.append(re.sub(r"\s+", " ", line.strip()))
    if current:
        rows.append(" ".join(" ".join(p for p in col if p) for col in zip(*current)))
    return [re.sub(r"\s+", " ", r).strip() for r in rows]


def walk(keras, door):
    """``(differences, counts)``: see the module's docstring."""
    differences: set[str] = set()
    counts = {"classes": 0, "attributes": 0, "refused": 0}
    fixed_options = getattr(getattr(door, "layer_options", None), "OPTIONS", {})

    def refused(key: str, clear: bool) -> None:
        """An option or aspect the door refuses on purpose: handled when the refusal is a
        ``NotImplementedError`` in Keras's words (``clear``), a difference otherwise."""
        counts["attributes"] += 1
        counts["refused"] += bool(clear)
        if not clear:
            differences.add(key)

    def compare(key: str, same: bool) -> None:
        counts["attributes"] += 1
        if not same:
            differences.add(key)

    for module in MODULES:
        for name in _public_classes(keras, door, module):
            counts["classes"] += 1
            tag = f"{module}.{name}"
            real_cls = getattr(getattr(keras, module), name)
            ours_cls = getattr(getattr(door, module), name)
            theirs_params, _ = _parameters(real_cls)
            ours_params, ours_kwargs = _parameters(ours_cls)
            fixed = fixed_options.get(name, {}).get("fixed", {}) if module == "layers" else {}
            for param, default in theirs_params.items():
                if param in fixed and param not in ours_params:
                    refused(f"{tag} param:{param}", _refuses(door, name, param, fixed[param][0]))
                elif param in ours_params:
                    compare(f"{tag} param:{param}", _same_default(ours_params[param], default))
                else:
                    compare(
                        f"{tag} param:{param}", ours_kwargs and _accepts(door, module, name, param, default)
                    )
            try:
                theirs = _make(getattr(keras, module), name)
            except Exception:  # noqa: BLE001  (a base class Keras will not make alone)
                continue
            try:
                ours = _make(getattr(door, module), name)
            except Exception:  # noqa: BLE001
                compare(f"{tag} make", False)
                continue
            compare(f"{tag} class", type(ours).__name__ == type(theirs).__name__)
            if module == "layers" and name not in NOT_BUILT:
                shape = INPUTS.get(name, (2, 4))
                x = np.random.default_rng(0).random(shape).astype("float32")
                if name in ("Embedding", "CategoryEncoding"):
                    x = (x * 3).astype("int32")
                try:
                    theirs(x)
                    ours(x)
                except Exception:  # noqa: BLE001
                    compare(f"{tag} build", False)
                    continue
                compare(f"{tag} weights", [w.name for w in ours.weights] == [w.name for w in theirs.weights])
                ours_row, theirs_row = (
                    _summary_row(lib, _make(lib.layers, name), shape) for lib in (door, keras)
                )
                compare(f"{tag} summary", _row_cells(ours_row) == _row_cells(theirs_row))
            theirs_config = _config_keys(theirs)
            ours_config = _config_keys(ours)
            if theirs_config is not None and ours_config is NotImplemented:  # get_config refused
                refused(f"{tag} config", True)
                continue
            if theirs_config is not None:
                for key in sorted(theirs_config | (ours_config or set())):
                    compare(
                        f"{tag} config:{key}",
                        ours_config is not None and key in ours_config and key in theirs_config,
                    )
    return differences, counts


def _row_cells(row: str) -> tuple:
    """A summary row's type, output shape and parameter count (the name counts by model)."""
    match = re.search(r"\((\w+)\)\s*(\(.*\))\s*([\d,]+)", row)
    return match.groups() if match else (row,)


def _config_keys(obj):
    """``get_config()``'s keys; ``NotImplemented`` where the door refuses it in Keras's words
    (a ``NotImplementedError`` that names the class), None on another error."""
    try:
        return set(obj.get_config())
    except NotImplementedError as error:
        return NotImplemented if type(obj).__name__ in str(error) else None
    except Exception:  # noqa: BLE001
        return None


def _accepts(door, module: str, name: str, param: str, default) -> bool:
    """Whether the door's class takes ``param`` at Keras's default through ``**kwargs``."""
    if default is inspect.Parameter.empty:
        return False
    args, kwargs = _arguments(name, getattr(door, module))
    try:
        getattr(getattr(door, module), name)(*args, **{**kwargs, param: default})
    except Exception:  # noqa: BLE001
        return False
    return True


def _other(param: str, default):
    """A value unlike Keras's ``default`` (of an option the door takes at its default only)."""
    if param.endswith("_constraint"):
        return "non_neg"
    if isinstance(default, bool):
        return not default
    if default is None:
        return "l2"  # a regularizer's name, a string where an object or a number goes
    if isinstance(default, (int, float)):
        return default + 2
    return "something_else"


def _refuses(door, name: str, param: str, default) -> bool:
    """Whether the door's ``layers.<name>`` takes ``param`` at Keras's ``default`` and refuses
    another value with a ``NotImplementedError`` whose message names the option as Keras's
    (``keras.layers.<name>(<param>=...) is not in minidl_keras: ...``)."""
    if not _accepts(door, "layers", name, param, default):
        return False
    args, kwargs = _arguments(name, door.layers)
    try:
        getattr(door.layers, name)(*args, **{**kwargs, param: _other(param, default)})
    except NotImplementedError as error:
        return f"keras.layers.{name}({param}=" in str(error) and "minidl_keras" in str(error)
    except Exception:  # noqa: BLE001
        return False
    return False


if __name__ == "__main__":
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import minidl_keras

    found, counted = walk(keras, minidl_keras)
    for line in sorted(found):
        print(line)
    print(counted, len(found), "differences")
