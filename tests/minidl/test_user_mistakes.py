"""The mistakes real users make, each answered with what was expected, what came, and the fix.

Every case asserts the exception (or warning) type and the words that make the message
actionable; cases that touch files also check that nothing on disk was lost.
"""

import os
import warnings

import minidl_keras
import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl import losses, optim


def mlp(input_shape=(10,), loss="mse", metrics=("mae",)):
    model = mdl.Sequential([L.Dense(8, activation="relu"), L.Dense(3)], input_shape=input_shape)
    model.compile(optimizer="adam", loss=loss, metrics=list(metrics))
    return model


def data(n=32, d=10, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.standard_normal((n, k)).astype(np.float32)


def probabilities(n=16, k=10, seed=0):
    p = np.random.default_rng(seed).random((n, k)).astype(np.float32) + 0.1
    return p / p.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ losses in Keras's order
@pytest.mark.parametrize(
    "loss",
    [losses.CategoricalCrossentropy(), losses.BinaryCrossentropy()],
    ids=lambda loss: type(loss).__name__,
)
def test_loss_arguments_in_keras_order_warn(loss):
    p = probabilities()
    labels = np.random.default_rng(1).integers(0, 10, len(p))
    t = mdl.data.one_hot(labels, 10)
    with pytest.warns(
        UserWarning, match=r"first argument .* looks like targets.*call loss\(y_pred, y_true\)"
    ):
        swapped = loss(t, p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right order: no warning
        right = type(loss)()(p, t)
    assert swapped != right


def test_integer_labels_first_name_the_order():
    p = probabilities()
    labels = np.random.default_rng(1).integers(0, 10, len(p))
    with pytest.raises(TypeError, match=r"first argument.*int64.*loss\(y_pred, y_true\).*swap them"):
        losses.SparseCategoricalCrossentropy()(labels, p)


def test_mse_is_symmetric_and_never_warns():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses.MeanSquaredError()(np.array([0.0, 1.0]), np.array([0.3, 0.6]))


# ------------------------------------------------------------------ image layout
def test_channels_last_images_into_a_channels_first_net():
    x = np.zeros((64, 28, 28, 1), np.float32)
    y = np.zeros(64, np.int64)
    model = mdl.Sequential(
        [L.Conv2D(4, 3, padding="same"), L.ReLU(), L.MaxPool2D(2), L.Flatten(), L.Dense(10)]
    )
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(
        ValueError,
        match=r"\(N, 28, 28, 1\) looks channels-last.*expects \(N, C, H, W\)"
        r".*x\.transpose\(0, 3, 1, 2\)",
    ):
        model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"input_shape \(N, 32, 32, 3\) looks channels-last"):
        mdl.Sequential([L.Conv2D(4, 3)], input_shape=(32, 32, 3))


def test_channels_last_images_into_a_built_channels_first_net():
    model = mdl.Sequential([L.Conv2D(4, 3), L.Flatten(), L.Dense(2)], input_shape=(3, 16, 16))
    with pytest.raises(
        ValueError,
        match=r"built for inputs \(N, 3, 16, 16\), got shape \(2, 16, 16, 3\)"
        r".*channels-last.*x\.transpose\(0, 3, 1, 2\)",
    ):
        model.predict(np.zeros((2, 16, 16, 3), np.float32))


def test_pooling_that_does_not_fit_mentions_the_layout():
    with pytest.raises(
        ValueError,
        match=r"pool 2x2 does not fit the input 30x1.*channels-last.*"
        r"x\.transpose\(0, 3, 1, 2\)",
    ):
        L.MaxPool2D(2).forward(np.zeros((2, 8, 30, 1), np.float32))
    with pytest.raises(ValueError, match=r"kernel 3x3 is larger.*channels-last"):
        L.Conv2D(4, 3).forward(np.zeros((2, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match=r"channels-first images.*x\.transpose\(0, 2, 3, 1\)"):
        minidl_keras.layers.MaxPooling2D(2).forward(np.zeros((2, 1, 28, 28), np.float32))


def test_a_pool_that_simply_does_not_fit_gets_no_layout_hint():
    with pytest.raises(ValueError, match="does not fit") as info:
        L.MaxPool2D(5).forward(np.zeros((2, 3, 4, 4), np.float32))
    assert "channels" not in str(info.value).split("read as")[-1]


# ------------------------------------------------------------------ fit, predict, evaluate
@pytest.mark.parametrize(
    "epochs, error, words",
    [
        (0, ValueError, r"epochs=0 trains nothing.*at least 1"),
        (-1, ValueError, r"epochs=-1 trains nothing"),
        (2.5, TypeError, r"epochs must be a whole number.*epochs=5, got 2\.5"),
        ("3", TypeError, r"epochs must be a whole number"),
    ],
)
def test_bad_epochs(epochs, error, words):
    x, y = data()
    model = mlp()
    with pytest.raises(error, match=words):
        model.fit(x, y, epochs=epochs, verbose=0)
    assert model.optimizer.iterations == 0


def test_predict_on_one_unbatched_sample():
    x, _ = data()
    model = mlp()
    with pytest.raises(ValueError, match=r"expected a batch \(N, 10\), got shape \(10,\).*x\[None\]"):
        model.predict(x[0])
    assert model.predict(x[0][None]).shape == (1, 3)
    image_model = mdl.Sequential([L.Conv2D(2, 3), L.Flatten()], input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        image_model.predict(np.zeros((1, 8, 8), np.float32))


@pytest.mark.parametrize("method", ["predict", "evaluate"])
def test_nan_in_the_input_warns(method):
    x, y = data()
    x[3, 2] = np.nan
    model = mlp()
    args = (x,) if method == "predict" else (x, y)
    with pytest.warns(UserWarning, match=rf"{method}: x holds 1 NaN .* 1 of 32 samples.*np\.nan_to_num"):
        getattr(model, method)(*args)


def test_recurrent_models_take_a_free_time_axis():
    model = mdl.Sequential([L.LSTM(4), L.Dense(1)], input_shape=(None, 10))
    model.compile(optimizer="adam", loss="mse")
    x = np.zeros((3, 7, 10), np.float32)
    assert model.predict(x).shape == (3, 1)
    model.fit(x, np.zeros((3, 1), np.float32), epochs=1, verbose=0)


def test_metrics_as_one_string():
    x = np.random.default_rng(0).standard_normal((20, 10)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 3, 20)
    model = mlp(loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=())
    model.compile(
        optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics="accuracy"
    )
    assert list(model.evaluate(x, y, return_dict=True)) == ["loss", "accuracy"]


def test_optimizers_take_lr_and_refuse_keras_spelling_learning_rate():
    for cls in (optim.SGD, optim.RMSprop, optim.Adagrad, optim.Adam, optim.AdamW):
        assert cls(lr=0.02).lr == 0.02
        with pytest.raises(
            TypeError, match=rf"{cls.__name__}\(\) got .* 'learning_rate': minidl's name is lr"
        ):
            cls(learning_rate=0.03)
    with pytest.raises(TypeError, match="learning rate must be a number"):
        optim.Adam(lr="fast")


def test_evaluate_returns_what_keras_returns():
    """``loss, mae = model.evaluate(...)`` gives numbers (a dict would unpack to its keys)."""
    x, y = data()
    model = mlp()
    score = model.evaluate(x, y)
    assert isinstance(score, list) and all(isinstance(v, float) for v in score)
    loss, mae = score
    assert model.evaluate(x, y, return_dict=True) == {"loss": loss, "mae": mae}
    model.compile(optimizer="adam", loss="mse")
    assert model.evaluate(x, y) == loss  # no metrics: a float


# ------------------------------------------------------------------ files
def listing(folder):
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir())


def test_load_model_on_random_bytes(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(np.random.default_rng(0).bytes(500))
    before = listing(tmp_path)
    with pytest.raises(ValueError, match=r"not a readable \.npz file: .*written by model\.save") as info:
        mdl.load_model(path)
    assert "allow_pickle" not in str(info.value)
    assert listing(tmp_path) == before


def test_load_model_on_a_npy_file(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros(3))
    before = listing(tmp_path)
    with pytest.raises(ValueError, match=r"single NumPy array \(\.npy\), not a model.*np\.load"):
        mdl.load_model(path)
    assert listing(tmp_path) == before


def test_load_model_on_missing_paths_and_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no model file at .*the folder .*missing.* does not exist"):
        mdl.load_model(tmp_path / "missing" / "model.npz")
    with pytest.raises(FileNotFoundError, match=r"no model file at .*nothing\.npz; expected a file"):
        mdl.load_model(tmp_path / "nothing.npz")
    with pytest.raises(IsADirectoryError, match="is a folder.*one .npz file"):
        mdl.load_model(tmp_path)


def test_save_into_a_missing_folder_names_the_users_path(tmp_path):
    model = mlp()
    target = tmp_path / "runs" / "model.npz"
    with pytest.raises(
        FileNotFoundError,
        match=r"cannot save the model to .*runs.model\.npz.*"
        r"does not exist.*os\.makedirs",
    ) as info:
        model.save(target)
    assert ".tmp-" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_names_the_users_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    x, y = data()
    model = mlp()
    path = tmp_path / "model.npz"
    model.save(path)
    before = listing(tmp_path)
    model.fit(x, y, epochs=1, verbose=0)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(
        OSError, match=r"cannot save the model to .*model\.npz: No space left.*unchanged"
    ) as info:
        model.save(path)
    assert ".tmp-" not in str(info.value)
    assert listing(tmp_path) == before  # the old file intact, no temporary file left
    monkeypatch.undo()
    assert mdl.load_model(path).optimizer.iterations == 0


def test_saving_onto_a_folder_is_refused(tmp_path):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name"):
        mlp().save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == ["model.npz"]
