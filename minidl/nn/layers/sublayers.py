"""Layers that hold layers (``Residual``, ``TransformerBlock``, a layer of your own), and what
walks a layer's arrays: moving, casting, counting, freezing, penalties and constraints.

A layer built from others names them in ``sublayers()``, a dict ``{name: layer}``::

    def sublayers(self):
        return {"fc1": self.fc1, "fc2": self.fc2}

Its ``params``, ``grads`` and ``buffers`` are then ``SubLayerArrays``: its own arrays, then
each sub-layer's under ``"<name>.<key>"`` (PyTorch's ``state_dict`` names), the very arrays: an
optimizer, ``save`` or a gradient check sees them with no code of its own. ``trainable = False``
on the holder freezes all of it. Its ``build`` builds the sub-layers, its ``forward``/``backward``
call theirs. ``sublayers()`` is read at each access (``UNet``'s ``"enc.0.0"`` are computed).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from ... import backend


class SubLayerArrays(MutableMapping):
    """One of ``params`` / ``grads`` / ``buffers`` of a layer that holds others: its own
    arrays (keys without a dot), then each sub-layer's under ``"<sub-layer>.<key>"``.

    A view: assigning an entry assigns it in the dict that holds it (``to``, ``load_model``); a
    new key without a dot is the holder's own (``add_param``); entries cannot be deleted.
    """

    def __init__(self, owner, store: str):
        self.owner, self.store = owner, store
        self.own: dict = {}

    def _holder(self, key: str):
        """(the dict that holds ``key``, the key there), or a KeyError naming what exists."""
        if key in self.own:
            return self.own, key
        for name, layer in self.owner.sublayers().items():
            inner = getattr(layer, self.store)
            if key.startswith(name + ".") and key[len(name) + 1 :] in inner:
                return inner, key[len(name) + 1 :]
        raise KeyError(f"{self.owner.label} has no {self.store[:-1]} {key!r}; it has {list(self)}")

    def __getitem__(self, key: str):
        inner, inner_key = self._holder(key)
        return inner[inner_key]

    def __setitem__(self, key: str, value) -> None:
        try:
            inner, inner_key = self._holder(key)
        except KeyError:
            if "." in key:
                raise
            inner, inner_key = self.own, key
        inner[inner_key] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"cannot delete {key!r}: {self.owner.label}'s {self.store} are its layers' arrays")

    def __iter__(self) -> Iterator[str]:
        yield from self.own
        for name, layer in self.owner.sublayers().items():
            for key in getattr(layer, self.store):
                yield f"{name}.{key}"

    def __len__(self) -> int:
        return len(self.own) + sum(
            len(getattr(layer, self.store)) for layer in self.owner.sublayers().values()
        )

    def __repr__(self) -> str:
        return repr(dict(self))


def own_arrays(store) -> dict:
    """A layer's own arrays in ``store`` (its ``params``, ``grads`` or ``buffers``): all of
    them, or those of a ``SubLayerArrays`` that are not its sub-layers'."""
    return store.own if isinstance(store, SubLayerArrays) else store


class LayerTree:
    """What ``Layer`` inherits for the layers it may hold and for walks over its arrays."""

    params: MutableMapping[str, Any]
    grads: MutableMapping[str, Any]
    buffers: MutableMapping[str, Any]
    trainable: bool
    built: bool
    device: str | None
    cache: Any
    #: a penalty on the weight matrix ``W``, added to the loss by ``regularization_loss``
    kernel_regularizer: Any = None

    def sublayers(self) -> dict[str, Any]:
        """The layers this one holds, by name: ``{}`` for a layer of its own arrays only."""
        return {}

    def layers_within(self, path: str = "") -> Iterator[tuple[str, Any]]:
        """``(path, layer)`` for this layer (``""`` at the top) and then, depth first, every
        layer it holds (``"fc1"``, ``"block.0.fc1"``)."""
        yield path, self
        for name, layer in self.sublayers().items():
            yield from layer.layers_within(f"{path}.{name}" if path else name)

    def count_params(self) -> tuple[int, int]:
        """``(trainable, non_trainable)`` numbers of scalars, buffers counted as non-trainable
        (and a frozen sub-layer's params)."""
        trainable = sum(int(p.size) for p in own_arrays(self.params).values())
        frozen = sum(int(b.size) for b in own_arrays(self.buffers).values())
        for layer in self.sublayers().values():
            inner_trainable, inner_frozen = layer.count_params()
            trainable, frozen = trainable + inner_trainable, frozen + inner_frozen
        return (trainable, frozen) if self.trainable else (0, trainable + frozen)

    def trainable_keys(self) -> list[str]:
        """The keys of ``params`` an optimizer updates: none when the layer is frozen, else all
        but those of frozen sub-layers."""
        if not self.trainable:
            return []
        keys = list(own_arrays(self.params))
        for name, layer in self.sublayers().items():
            keys += [f"{name}.{key}" for key in layer.trainable_keys()]
        return keys

    def regularization_loss(self) -> float:
        """The penalty this layer (and the layers it holds) adds to the loss: its
        ``kernel_regularizer`` on ``W``, 0 without one (a layer with other penalties overrides
        this and ``add_penalty_gradients``)."""
        inner = sum((layer.regularization_loss() for layer in self.sublayers().values()), 0.0)
        if self.kernel_regularizer is None or not self.built:
            return inner
        return inner + self.kernel_regularizer.loss(self.params["W"])

    def add_penalty_gradients(self) -> None:
        """Add the gradient of ``regularization_loss()`` to ``grads``. A penalty is part of the
        loss, not of the layer's function, so ``backward`` leaves it out and the optimizer's
        ``step`` calls this first: ``dL/dW = (the data's gradient) + penalty'(W)``."""
        for layer in self.sublayers().values():
            layer.add_penalty_gradients()
        if self.kernel_regularizer is not None and self.built:
            self.grads["W"] += self.kernel_regularizer.gradient(self.params["W"])

    def own_constraints(self) -> dict:
        """``{key: fn}``: the constraints on this layer's own ``params`` (``minidl.nn.constraints``,
        or any function ``w -> w``), which the optimizer applies after each step; none here."""
        return {}

    def constraint_of(self, key: str):
        """The constraint on ``params[key]`` or None; a sub-layer's key ``"<name>.<key>"`` asks it."""
        for name, layer in self.sublayers().items():
            if key.startswith(name + "."):
                return layer.constraint_of(key[len(name) + 1 :])
        return self.own_constraints().get(key)

    def map_arrays(self, fn) -> None:
        """Replace every param, grad and buffer ``a`` by ``fn(a)`` (device moves, casts)."""
        for store in (self.params, self.grads, self.buffers):
            for key in store:
                store[key] = fn(store[key])

    def to(self, device: str):
        """Move params, grads and buffers to ``"cpu"`` or ``"gpu"``; a layer not built yet
        will create them there."""
        device = backend.check_device(device)
        for layer in self.sublayers().values():
            layer.to(device)
        self.map_arrays(lambda a: backend.to_device(a, device))  # (the sub-layers' are there already)
        self.device = device
        self.cache = None
        return self

    def astype(self, dtype):
        """Cast params, grads and buffers to ``dtype`` (float64 for gradient checks)."""
        self.map_arrays(lambda a: a.astype(dtype))
        return self
