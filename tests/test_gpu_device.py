"""GPU tier on a device, and the device-placement errors everywhere.

Kernel by kernel, the GPU tier is held to the NumPy reference by the conformance table
(``tests/kernel_cases.py``, run by ``tests/test_conformance.py`` through the emulator and on a
device). Here: whole models. The short training run below is parametrized over two "devices":

* ``gpu`` -- real CuPy arrays on a CUDA device; marked ``gpu`` and skipped, with the reason
  in one line, where ``minidl.backend.gpu_available()`` is False;
* ``emulator`` -- the same test code with NumPy arrays, which ``minidl.kernels.gpu`` runs
  through the CUDA emulator. This keeps the device tests themselves tested on machines
  without a GPU, so they do not first run (and first fail) on somebody's Colab.

On a GPU machine, with nothing installed (see the Makefile's ``test-gpu``)::

    PYTHONPATH=. python -m pytest -o addopts="" -v -rs tests/test_conformance.py tests/test_gpu_device.py tests/test_cuda_sources.py
"""
import importlib.machinery
import sys
import types

import numpy as np
import pytest

import minidl as mdl
from minidl import backend, losses, optim
from minidl.kernels import emulate, gpu

GPU_AVAILABLE, GPU_STATUS = backend.gpu_status()

DEVICES = [
    pytest.param("emulator", marks=pytest.mark.skipif(
        emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)")),
    pytest.param("gpu", marks=[pytest.mark.gpu, pytest.mark.skipif(
        not GPU_AVAILABLE, reason=f"no usable GPU: {GPU_STATUS}")]),
]


# =========================================================================== a short training run
def _images(n=48):
    """Three classes of 12x12 images: a bright row, a bright column, or a bright diagonal."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 1, 12, 12)).astype(np.float32)
    for i, label in enumerate(y):
        k = rng.integers(2, 10)
        if label == 0:
            x[i, 0, k, :] += 1.5
        elif label == 1:
            x[i, 0, :, k] += 1.5
        else:
            x[i, 0].flat[::13] += 1.5
    return x, y


def _sequences(n=48):
    """Sign of the sum of a sequence's first feature: a task an LSTM learns in a few steps."""
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (n, 6, 3)).astype(np.float32)
    return x, (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)


def _lenet():
    from minidl.layers import Dense, Dropout, Flatten, ReLU
    from minidl.layers.conv import Conv2D, MaxPool2D
    from minidl.layers.normalization import BatchNorm
    # BatchNorm after the ReLU, not before: a bias followed by BatchNorm has a gradient that
    # is zero up to rounding, and Adam would turn that rounding noise into full-size steps.
    model = mdl.Sequential([Conv2D(4, 3, padding=1), ReLU(), MaxPool2D(2), BatchNorm(), Dropout(0.1),
                            Flatten(), Dense(3)], input_shape=(1, 12, 12))
    model.compile(optimizer=optim.Adam(1e-2),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _recurrent():
    from minidl.layers import Dense
    from minidl.layers.recurrent import GRU, LSTM
    model = mdl.Sequential([LSTM(8, return_sequences=True), GRU(6), Dense(2)], input_shape=(6, 3))
    model.compile(optimizer=optim.SGD(0.1, momentum=0.9),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _fit(make_model, data, device, monkeypatch):
    """Build (seed 0) and train for 2 epochs on ``device``: "cpu" (the NumPy reference tier),
    "gpu" (``model.to("gpu")``), or "emulator" (every kernel from ``minidl.kernels.gpu``,
    run by the emulator on NumPy arrays)."""
    mdl.backend.use("numpy")
    mdl.seed(0)
    model = make_model()
    if device == "gpu":
        model.to("gpu")
    with monkeypatch.context() as patch:
        if device == "emulator":
            patch.setattr(backend, "kernels_for", lambda x: gpu)
        x, y = data
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        predictions = model.predict(x[:5])
        scores = model.evaluate(x, y)
    return model, history.history, predictions, scores


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("make_model, data", [(_lenet, _images), (_recurrent, _sequences)],
                         ids=["lenet", "lstm-gru"])
def test_short_training_run_matches_the_cpu(device, make_model, data, monkeypatch):
    _, cpu_history, cpu_predictions, cpu_scores = _fit(make_model, data(), "cpu", monkeypatch)
    model, history, predictions, scores = _fit(make_model, data(), device, monkeypatch)

    np.testing.assert_allclose(history["loss"], cpu_history["loss"], rtol=1e-3)
    assert history["loss"][-1] < history["loss"][0], history["loss"]
    assert type(predictions) is np.ndarray  # predict returns NumPy, whatever the device
    np.testing.assert_allclose(predictions, cpu_predictions, rtol=1e-3, atol=1e-4)
    assert scores["loss"] == pytest.approx(cpu_scores["loss"], rel=1e-3)
    if device == "gpu":
        assert all(backend.device_of(w) == "gpu" for w in model.layers[0].params.values())
        model.to("cpu")
        assert all(type(w) is np.ndarray for w in model.layers[0].params.values())
        np.testing.assert_allclose(model.predict(data()[0][:5]), cpu_predictions, rtol=1e-3, atol=1e-4)


# =========================================================================== placement errors
def _fake_cupy(monkeypatch, get_device_count):
    """Install a stand-in ``cupy`` module whose runtime answers ``get_device_count()``."""
    fake = types.ModuleType("cupy")
    fake.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    fake.__version__ = "0.0-fake"
    fake.ndarray = type("ndarray", (), {})
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_device_count))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    return fake


def test_gpu_without_cupy_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # what Python does for a missing package
    available, why = backend.gpu_status()
    assert not available and 'pip install "minidl[gpu]"' in why
    assert not backend.gpu_available()
    with pytest.raises(RuntimeError, match=r'pip install "minidl\[gpu\]"'):
        backend.to_device(np.ones(3), "gpu")


def test_model_to_gpu_without_cupy_fails_clearly_and_stays_on_the_cpu(monkeypatch):
    from minidl.layers import Dense
    monkeypatch.setitem(sys.modules, "cupy", None)
    model = mdl.Sequential([Dense(4), Dense(2)], input_shape=(3,))
    with pytest.raises(RuntimeError, match=r'pip install "minidl\[gpu\]"'):
        model.to("gpu")
    assert model.device == "cpu"
    assert all(type(w) is np.ndarray for layer in model.layers for w in layer.params.values())
    assert model.predict(np.ones((2, 3), np.float32)).shape == (2, 2)


def _raise(error):
    def get_device_count():
        raise error
    return get_device_count


@pytest.mark.parametrize("error, expected", [
    (RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA "
                  "runtime version\n  File \"cupy_backends/cuda/api/runtime.pyx\", line 144"),
     "cudaErrorInsufficientDriver: CUDA driver version is insufficient"),
    (OSError("libcuda.so.1: cannot open shared object file: No such file or directory"),
     "libcuda.so.1: cannot open shared object file"),
    (RuntimeError(""), "RuntimeError"),
])
def test_cupy_without_a_driver_is_a_one_line_error(monkeypatch, error, expected):
    _fake_cupy(monkeypatch, _raise(error))
    available, why = backend.gpu_status()
    assert not available and "\n" not in why and expected in why and "no CUDA device" in why
    with pytest.raises(RuntimeError) as caught:
        backend.to_device(np.ones(3), "gpu")
    message = str(caught.value)
    assert "\n" not in message and expected in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no CUDA traceback


def test_cupy_with_no_device_says_so(monkeypatch):
    _fake_cupy(monkeypatch, lambda: 0)
    available, why = backend.gpu_status()
    assert not available and why == "CuPy is installed but no CUDA device was found"
    with pytest.raises(RuntimeError, match="no CUDA device was found"):
        backend.to_device(np.ones(3), "gpu")


@pytest.mark.skipif(GPU_AVAILABLE, reason="this machine has a GPU")
def test_this_machine_explains_in_one_line_why_there_is_no_gpu():
    """Whatever is installed here (no CuPy, CuPy without a driver...), the answer is one line."""
    with pytest.raises(RuntimeError) as caught:
        backend.to_device(np.ones(3), "gpu")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("cannot use the GPU: ")


def test_info_reports_the_gpu_status_in_one_line(capsys):
    from minidl.__main__ import main
    assert main(["info"]) == 0
    gpu_lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("GPU:")]
    assert len(gpu_lines) == 1 and GPU_STATUS in gpu_lines[0]


def test_importing_minidl_does_not_import_cupy():
    import subprocess
    code = "import sys, minidl, minidl.kernels.gpu; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# =========================================================================== benchmarks
@pytest.fixture
def bench_gpu():
    from minidl.bench import gpu as bench_gpu
    return bench_gpu


def test_bench_adds_gpu_rows_only_with_a_device(bench_gpu):
    rows = bench_gpu.workloads()
    assert (len(rows) > 0) == GPU_AVAILABLE
    assert all(row.gpu_setup is not None for row in rows)


def test_bench_gpu_table_without_a_device_says_why(bench_gpu, capsys):
    if GPU_AVAILABLE:
        pytest.skip("this machine has a GPU")
    assert bench_gpu.main(["--quick"]) == 1
    assert capsys.readouterr().out.strip() == f"no GPU: {GPU_STATUS}"


@pytest.mark.parametrize("device", ["cpu", pytest.param("gpu", marks=DEVICES[1].marks)])
def test_every_bench_gpu_workload_runs(bench_gpu, device):
    """Small versions of every GPU benchmark row: the CPU step everywhere, the GPU step on a device."""
    mdl.backend.use("numpy")  # the runner sets the tier; numpy here spares the Numba compile
    rows = bench_gpu.all_workloads(batch_sizes=(2,), scale=64)
    names = " ".join(row.name for row in rows)
    assert "LeNet-5" in names and "LSTM" in names
    for row in rows:
        step = row.setup("numpy") if device == "cpu" else row.gpu_setup()
        step()
        step()
