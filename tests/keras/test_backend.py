"""keras.backend: clear_session restarts the automatic names; the engine says it is minidl."""

import minidl_keras as keras
from minidl_keras import backend


def test_clear_session_restarts_every_names_count():
    backend.clear_session()
    first = keras.layers.Conv2D(2, 3).name  # a Keras maker's layer is named when made
    second = keras.layers.Conv2D(2, 3).name
    assert (first, second) == ("conv2d", "conv2d_1")
    backend.clear_session()
    assert keras.layers.Conv2D(2, 3).name == "conv2d"
    assert [layer.name for layer in keras.Sequential([keras.layers.Dense(2)]).layers] == ["dense"]


def test_the_engine_and_its_float_type():
    assert backend.backend() == "minidl" and backend.floatx() == "float32"
