"""Keras's automatic names: a layer, input or metric made without a name is called after its
class in snake case -- ``"dense"``, then ``"dense_1"``, ``"dense_2"``, ... for the later ones --
with one count per name for the whole session, as Keras 3 counts them
(``keras.backend.clear_session()`` starts every count again).

A Keras layer made through one of the door's makers (``keras.layers.Conv2D(...)``) is named when
it is made, as in Keras; a layer of one of minidl's own classes (``keras.layers.LSTM`` is
``minidl.nn.layers.LSTM``) is named when it enters a model (``Sequential``, a functional
``Model`` or an attribute of a subclassed one), so layers made in one order and put in a model
in another are numbered in the model's order.
"""

from __future__ import annotations

import re
from collections import Counter

_names_made: Counter = Counter()


def snake_case(class_name: str) -> str:
    """Keras's ``to_snake_case``: ``"Conv2DTranspose"`` -> ``"conv2d_transpose"``, ``"AUC"`` -> ``"auc"``."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """``base`` the first time in the session, then ``base_1``, ``base_2``, ..."""
    count = _names_made[base]
    _names_made[base] += 1
    return base if count == 0 else f"{base}_{count}"


def auto_name(class_name: str) -> str:
    """The next unique snake-case name of ``class_name`` (``AUC`` -> ``"auc"``, then ``"auc_1"``)."""
    return unique_name(snake_case(class_name))


def name_layer(layer, class_name: str | None = None):
    """Give ``layer`` Keras's name for its class (or for ``class_name``) unless it has one; returns it."""
    if getattr(layer, "name", None) is None:
        shown = getattr(layer, "display_name", None) or type(layer).__name__  # KerasSequential: Sequential
        layer.name = auto_name(class_name or shown.lstrip("_"))
    return layer


def clear_names() -> None:
    """Forget the names made so far (``keras.backend.clear_session``)."""
    _names_made.clear()
