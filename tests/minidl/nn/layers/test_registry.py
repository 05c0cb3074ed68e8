"""Layer classes by name (``minidl/nn/layers/registry.py``): what ``load_model`` reads, what a
library built on minidl declares (``library_package``, ``register=False``), and ``get_config``."""

import sys
import types

import numpy as np
import pytest

import minidl
from minidl.nn import layers as L
from minidl.nn.layers.base import Layer
from minidl.nn.layers.registry import LAYER_CLASSES, from_minidl, library_package
from minidl.training import Sequential, load_model


def test_every_subclass_is_found_by_its_name_when_defined():
    class Doubler(Layer):
        def forward(self, x, training=False):
            return 2 * self.check_input(x)

        def backward(self, dy):
            return 2 * dy

    assert LAYER_CLASSES["Doubler"] is Doubler and LAYER_CLASSES["Dense"] is L.Dense
    assert from_minidl(L.Dense) and not from_minidl(Doubler)


def test_register_false_leaves_the_name_to_the_class_it_extends():
    class DenseWithAnotherName(L.Dense, register=False):
        """A subclass that only adds names: saved as the Dense it is."""

    assert "DenseWithAnotherName" not in LAYER_CLASSES


def test_a_users_class_never_takes_the_name_of_one_of_the_librarys(tmp_path):
    minidl.seed(0)
    mine = type("Dense", (L.Dense,), {"__module__": "my_project.layers"})
    assert LAYER_CLASSES["Dense"] is L.Dense and not from_minidl(mine)
    net = Sequential([L.Dense(2)], input_shape=(3,))
    net.save(tmp_path / "m.json")
    assert type(load_model(tmp_path / "m.json").layers[0]) is L.Dense


def test_library_package_makes_a_packages_classes_the_librarys(monkeypatch):
    module = types.ModuleType("a_library_on_minidl")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    before = type("Scale", (L.Dense,), {"__module__": module.__name__})
    assert not from_minidl(before)
    library_package(module.__name__)
    assert from_minidl(before)
    # a user's class of the same name no longer replaces the library's
    type("Scale", (L.Dense,), {"__module__": "my_project"})
    assert LAYER_CLASSES["Scale"] is before


def test_get_config_reads_the_constructor_arguments_and_repr_shows_them():
    dense = L.Dense(4, activation="relu", use_bias=False, name="fc")
    config = dense.get_config()
    assert config["units"] == 4 and config["activation"] == "relu" and config["use_bias"] is False
    assert config["name"] == "fc" and "trainable" not in config and "input_shape" not in config
    assert repr(L.Dropout(0.25)) == "Dropout(rate=0.25)"
    assert Layer(name="plain").get_config() == {"name": "plain"}


def test_an_unknown_argument_names_the_ones_the_class_takes():
    with pytest.raises(TypeError, match=r"Dropout got unexpected keyword argument\(s\) units; it takes rate"):
        L.Dropout(0.5, units=3)


def test_a_tracer_gets_the_call_through_record_call():
    """The tracer hook of ``Layer.__call__``: a symbolic input records the layers applied to it
    (how a functional API builds a graph on minidl's layers) instead of computing."""

    class Symbol:
        def __init__(self, trail=()):
            self.trail = trail

        def record_call(self, layer, x, **kwargs):
            return Symbol(self.trail + ((layer.label, kwargs),))

    dense, relu = L.Dense(3, name="fc"), L.ReLU()
    out = relu(dense(Symbol(), training=True))
    assert out.trail == (("fc", {"training": True}), ("ReLU", {"training": None}))
    assert not dense.built  # nothing was computed
    assert dense(np.ones((2, 4), np.float32)).shape == (2, 3)  # arrays compute as before
