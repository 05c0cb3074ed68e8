"""Issue #78: every public class of ``keras.layers``, ``losses``, ``metrics``, ``optimizers`` and
``callbacks`` the door exports, walked against real Keras (``keras_walk.walk``: class name,
constructor parameters and defaults, ``get_config()`` keys, weights' names and order, the
``summary()`` row). No difference is allowed: an option the door lacks on purpose is taken at
Keras's default and refused otherwise with a ``NotImplementedError`` in Keras's words
(``minidl_keras.layer_options``), which the walk checks and counts as ``refused``. Skipped only
where Keras is absent (CI has it)."""

from tests.keras.keras_oracle import real_keras


def test_the_door_spells_every_name_as_keras_does(capsys):
    keras = real_keras()
    import minidl_keras

    from tests.keras.keras_walk import walk

    found, counts = walk(keras, minidl_keras)
    with capsys.disabled():
        print(
            f"\nkeras walk: {counts['classes']} classes, {counts['attributes']} attributes compared "
            f"({counts['refused']} options refused in Keras's words), {len(found)} differences"
        )
    assert counts["classes"] >= 100 and counts["attributes"] >= 1400 and counts["refused"] >= 100
    assert sorted(found) == [], "names, defaults or config keys that differ from Keras"


def test_the_walk_finds_a_drifted_name_and_a_silent_refusal():
    """The walk can fail: a config key renamed back to minidl's spelling, and an option whose
    refusal is a bare TypeError (not Keras's words), are both differences."""
    keras = real_keras()
    import minidl_keras
    from minidl_keras import layer_options as options

    from tests.keras.keras_walk import walk

    saved = dict(options.OPTIONS["LayerNormalization"])
    fixed = dict(saved["fixed"])
    try:
        options.OPTIONS["LayerNormalization"] = {**saved, "renamed": {}, "fixed": fixed}
        del fixed["scale"]
        options.OPTIONS["LayerNormalization"]["fixed"] = fixed
        found, _ = walk(keras, minidl_keras)
    finally:
        options.OPTIONS["LayerNormalization"] = saved
    assert {"layers.LayerNormalization config:eps", "layers.LayerNormalization config:epsilon"} <= found
    assert "layers.LayerNormalization param:scale" in found


def test_the_renamed_classes_keep_their_names_and_weights():
    """Without Keras too: the names issue #78 found, as Keras spells them."""
    import numpy as np
    from minidl_keras import layers

    assert type(layers.GlobalAveragePooling1D()).__name__ == "GlobalAveragePooling1D"
    assert type(layers.GlobalAvgPool2D()).__name__ == "GlobalAveragePooling2D"
    assert type(layers.MaxPooling2D()).__name__ == "MaxPooling2D"
    norm = layers.BatchNormalization()
    norm(np.zeros((2, 3), dtype="float32"))
    assert type(norm).__name__ == "BatchNormalization"
    assert [w.name for w in norm.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.path for w in norm.weights][2].endswith("/moving_mean")
    dense = layers.Dense(2)
    dense(np.zeros((1, 3), dtype="float32"))
    assert [w.name for w in dense.weights] == ["kernel", "bias"]


def test_automatic_input_names_count_every_input_layer_as_keras():
    """Keras 3.15 names each InputLayer when it is made, a Sequential's too when its first
    batch builds it: input_layer, input_layer_1, ... (measured: the same program in Keras gives
    these names)."""
    import minidl_keras as keras
    import numpy as np

    keras.backend.clear_session()
    first = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    built = keras.Sequential([keras.layers.Dense(2)])
    built.build((None, 3))
    fitted = keras.Sequential([keras.layers.Dense(2)])
    fitted.compile("sgd", "mse")
    fitted.fit(np.zeros((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    inputs = keras.Input((3,))
    functional = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    names = [m.get_config()["layers"][0]["config"]["name"] for m in (first, built, fitted)]
    assert names + [functional.layers[0].name] == [
        "input_layer",
        "input_layer_1",
        "input_layer_2",
        "input_layer_3",
    ]
