"""Weights are created where the data lives (DeZero's rule), tested with a stand-in GPU.

A layer built by a batch on the GPU creates its params, grads and buffers there; a model
moved with ``to("gpu")`` before it was built (or given layers after the move) builds and
moves them there too. The initial values are drawn on the host from ``minidl.seed``'s
generator, so a model gets the same numbers on either device.

No GPU is needed: ``cupy`` is replaced by a stand-in module whose ``ndarray`` is a NumPy
subclass (``DeviceArray``), so ``minidl.backend`` sees "GPU arrays", moves data with the
stand-in's ``asarray``/``asnumpy``, and the device-mismatch checks run as on a real
device. The kernels are the NumPy reference's (``backend.kernels_for`` patched), which work
on the subclass unchanged.
"""

import importlib.machinery
import sys
import types

import numpy as np
import pytest

import minidl as mdl
from minidl import backend, losses, optim
from minidl import layers as L
from minidl.kernels import reference


class DeviceArray(np.ndarray):
    """A NumPy array that the stand-in ``cupy`` calls its own: "on the GPU"."""


def _stand_in_cupy():
    cp = types.ModuleType("cupy")
    cp.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    cp.__version__ = "0.0-stand-in"
    cp.ndarray = DeviceArray
    cp.asarray = lambda a, dtype=None: np.array(a, dtype=dtype).view(DeviceArray)
    cp.asnumpy = lambda a: np.array(a)  # a plain NumPy copy ("to the host")
    cp.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(
            getDeviceCount=lambda: 1,
            getDeviceProperties=lambda i: {"name": b"stand-in GPU"},
            runtimeGetVersion=lambda: 12040,
        )
    )
    cp.__getattr__ = lambda name: getattr(np, name)  # xp.zeros_like, xp.tanh, ...: NumPy's
    return cp


@pytest.fixture
def gpu(monkeypatch):
    """Install the stand-in GPU for one test; every kernel is the NumPy reference's."""
    monkeypatch.setitem(sys.modules, "cupy", _stand_in_cupy())
    monkeypatch.setattr(backend, "_gpu_found", {})  # no cached status outlives the test
    monkeypatch.setattr(backend, "kernels_for", lambda x: reference)
    backend.use("numpy")
    assert backend.gpu_available()


def on_gpu(a) -> bool:
    return type(a) is DeviceArray and backend.device_of(a) == "gpu"


def all_arrays(model):
    return [
        (layer.label, store_name, key, a)
        for layer in model.layers
        for store_name, store in (
            ("params", layer.params),
            ("grads", layer.grads),
            ("buffers", layer.buffers),
        )
        for key, a in store.items()
    ]


def _data(n=32):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def _mlp():
    return mdl.Sequential([L.Dense(8, activation="relu"), L.BatchNorm(), L.Dropout(0.2), L.Dense(2)])


def _train(model):
    model.compile(optimizer=optim.Adam(1e-2), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _data()
    return model.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"]


# ============================================================================ to() before build
def test_to_gpu_before_the_first_batch_builds_every_array_on_the_device(gpu):
    mdl.seed(0)
    model = _mlp().to("gpu")
    assert all(layer.device == "gpu" and not layer.params for layer in model.layers)
    losses_gpu = _train(model)  # before the fix: a device-mismatch error
    arrays = all_arrays(model)
    assert {(label, store) for label, store, _, _ in arrays} >= {
        ("Dense", "params"),
        ("BatchNorm", "buffers"),
    }
    assert [name for name, store, key, a in arrays if not on_gpu(a)] == []
    assert all(
        on_gpu(a)
        for state in model.optimizer.state.values()
        for a in state.values()
        if isinstance(a, np.ndarray)
    )
    assert type(model.predict(_data()[0][:3])) is np.ndarray

    mdl.seed(0)
    losses_cpu = _train(_mlp())  # the same run on the CPU
    np.testing.assert_allclose(losses_gpu, losses_cpu, rtol=1e-6)


def test_the_same_seed_gives_the_same_initial_weights_on_either_device(gpu):
    weights = {}
    for device in ("cpu", "gpu"):
        mdl.seed(3)
        model = mdl.Sequential([L.Conv2D(2, 3), L.Flatten(), L.Dense(4), L.LayerNorm()])
        model.to(device).build((1, 6, 6))
        weights[device] = [backend.to_numpy(a) for _, store, _, a in all_arrays(model) if store == "params"]
        assert all(
            (on_gpu(a) if device == "gpu" else type(a) is np.ndarray) for _, _, _, a in all_arrays(model)
        )
    for cpu_w, gpu_w in zip(weights["cpu"], weights["gpu"]):
        np.testing.assert_array_equal(cpu_w, gpu_w)


def test_recurrent_and_embedding_layers_are_built_on_the_device_too(gpu):
    model = mdl.Sequential([L.Embedding(10, 3), L.LSTM(4, return_sequences=True), L.GRU(3), L.Dense(2)]).to(
        "gpu"
    )
    model.build((7,))
    arrays = all_arrays(model)
    assert {label for label, _, _, _ in arrays} == {"Embedding", "LSTM", "GRU", "Dense"}
    assert [(label, key) for label, _, key, a in arrays if not on_gpu(a)] == []


# ============================================================================ add() after to()
def test_a_layer_added_after_to_gpu_lands_on_the_device(gpu):
    model = mdl.Sequential([L.Dense(5, activation="tanh")]).to("gpu")
    model.add(L.Dense(2))  # not built: will be built on the GPU
    assert model.layers[1].device == "gpu"
    _train(model)
    assert all(on_gpu(a) for _, _, _, a in all_arrays(model))


def test_with_an_input_shape_an_added_layer_is_built_on_the_device_at_once(gpu):
    model = mdl.Sequential([L.Dense(5)], input_shape=(6,)).to("gpu")
    model.add(L.BatchNorm())
    cpu_layer = L.Dense(2)
    cpu_layer.build((5,))  # built on the host, then added
    model.add(cpu_layer)
    assert [(label, key) for label, _, key, a in all_arrays(model) if not on_gpu(a)] == []
    _train(model)


def test_to_cpu_brings_later_layers_back_to_the_host(gpu):
    model = mdl.Sequential([L.Dense(5)]).to("gpu").to("cpu")
    model.add(L.Dense(2))
    _train(model)
    assert all(type(a) is np.ndarray for _, _, _, a in all_arrays(model))


# ============================================================================ the first batch decides
def test_a_layer_is_built_on_the_device_of_its_first_batch(gpu):
    layer = L.BatchNorm()
    x = backend.to_device(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), "gpu")
    y = layer.forward(x, training=True)
    assert layer.device == "gpu" and on_gpu(y)
    assert all(on_gpu(a) for a in [*layer.params.values(), *layer.grads.values(), *layer.buffers.values()])


def test_an_unmoved_model_follows_its_first_batch(gpu):
    model = _mlp()
    x = backend.to_device(_data()[0], "gpu")
    model.forward(x)
    assert model.device == "gpu"
    assert all(on_gpu(a) for _, _, _, a in all_arrays(model))
    _train(model)  # fit moves its batches to that device


def test_a_layer_moved_before_build_and_fed_from_the_host_says_so(gpu):
    layer = L.Dense(3).to("gpu")
    with pytest.raises(ValueError, match="weights on the GPU but got an input on the CPU"):
        layer.forward(np.ones((2, 4), np.float32))
    assert on_gpu(layer.params["W"])


def test_a_built_cpu_model_still_refuses_gpu_batches(gpu):
    model = mdl.Sequential([L.Dense(3)], input_shape=(4,))
    with pytest.raises(
        ValueError, match=r"weights on the CPU but got an input on the GPU.*model.to\('gpu'\)"
    ):
        model.forward(backend.to_device(np.ones((2, 4), np.float32), "gpu"))


# ============================================================================ errors
def test_to_an_unknown_device_is_an_error_naming_it():
    with pytest.raises(ValueError, match="device must be 'cpu' or 'gpu', got 'tpu'"):
        L.Dense(3).to("tpu")
    with pytest.raises(ValueError, match="got 'cuda:1'.*one GPU, the first"):
        mdl.Sequential([L.Dense(3)]).to("cuda:1")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "CUDA", "gpu"])
def test_pytorch_device_names_mean_the_gpu(name, monkeypatch):
    assert backend.device_name(name) == "gpu"
    monkeypatch.setitem(sys.modules, "cupy", None)  # no GPU here: the GPU's own error
    with pytest.raises(RuntimeError, match="cannot use the GPU"):
        mdl.Sequential([L.Dense(3)]).to(name)


def test_to_gpu_without_a_gpu_fails_before_anything_is_built(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # CuPy not installed
    model = mdl.Sequential([L.Dense(3), L.Dense(2)])
    with pytest.raises(RuntimeError, match="cannot use the GPU"):
        model.to("gpu")
    assert model.device == "cpu" and all(layer.device is None for layer in model.layers)
    assert model.predict(np.ones((2, 4), np.float32)).shape == (2, 2)
