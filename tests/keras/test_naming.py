"""Keras's automatic names: snake case, one count per name for the session, clear_session."""

import pytest
from minidl_keras import naming


@pytest.fixture(autouse=True)
def fresh_names():
    naming.clear_names()
    yield
    naming.clear_names()


@pytest.mark.parametrize(
    "cls, snake",
    [
        ("Dense", "dense"),
        ("Conv2DTranspose", "conv2d_transpose"),
        ("AUC", "auc"),
        ("GlobalAveragePooling2D", "global_average_pooling2d"),
        ("LSTM", "lstm"),
    ],
)
def test_class_names_become_kerass_snake_case(cls, snake):
    assert naming.snake_case(cls) == snake


def test_each_name_is_counted_on_its_own_until_the_session_is_cleared():
    assert [naming.auto_name("Dense") for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert naming.auto_name("Conv2D") == "conv2d"
    naming.clear_names()
    assert naming.auto_name("Dense") == "dense"


def test_a_layer_keeps_its_own_name_and_an_unnamed_one_gets_its_classes():
    class Thing:
        name = None

    class Named:
        name = "mine"

    assert naming.name_layer(Thing()).name == "thing"
    assert naming.name_layer(Named()).name == "mine"
    shown = Thing()
    shown.display_name = "Sequential"
    assert naming.name_layer(shown).name == "sequential"
    assert naming.name_layer(Thing(), "Dropout").name == "dropout"
