"""Configurable: an object that is its constructor's arguments (config, equality, repr, made again)."""

import pytest

from minidl.nn.configurable import Configurable, made_again


class Scaled(Configurable):
    def __init__(self, factor=1.0, axis=0):
        self.factor, self.axis = factor, axis
        self._cache = "not configuration"


class Other(Scaled):
    pass


def test_the_config_is_the_public_attributes_and_makes_the_object_again():
    s = Scaled(2.5, axis=(1, 2))
    assert s.get_config() == {"factor": 2.5, "axis": (1, 2)}
    again = Scaled.from_config(s.get_config())
    assert again == s and again is not s
    assert repr(s) == "Scaled(factor=2.5, axis=(1, 2))"


def test_equal_needs_the_same_class_and_the_same_config():
    assert Scaled(2.0) == Scaled(2.0)
    assert Scaled(2.0) != Scaled(3.0)
    assert Scaled(2.0) != Other(2.0)  # a subclass with the same arguments is another object
    assert Scaled(2.0) != "Scaled(factor=2.0, axis=0)"
    assert len({Scaled(2.0), Scaled(2.0), Scaled(3.0)}) == 2  # hashable, consistent with ==


def test_made_again_finds_the_class_by_name_or_names_the_known_ones():
    classes = {"Scaled": Scaled, "Other": Other}
    made = made_again({"class": "Other", "config": {"factor": 4.0}}, classes, "initializer")
    assert type(made) is Other and made.factor == 4.0 and made.axis == 0
    assert made_again({"class": "Scaled"}, classes, "initializer") == Scaled()
    with pytest.raises(ValueError, match=r"unknown optimizer class 'Nope' \(known: \['Other', 'Scaled'\]\)"):
        made_again({"class": "Nope", "config": {}}, classes, "optimizer")
