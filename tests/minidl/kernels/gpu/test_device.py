"""GPU tier on a device, and the device-placement errors everywhere.

Kernel by kernel, the GPU tier is held to the NumPy reference by the conformance table
(``tests/minidl/kernels/kernel_cases.py``, run by ``tests/minidl/kernels/test_conformance.py`` through the emulator and on a
device). Here: whole models. The short training run below is parametrized over two "devices":

* ``gpu`` -- real CuPy arrays on a CUDA device; marked ``gpu`` and skipped, with the reason
  in one line, where ``minidl.backend.gpu_available()`` is False;
* ``emulator`` -- the same test code with NumPy arrays, which ``minidl.kernels.gpu`` runs
  through the CUDA emulator. This keeps the device tests themselves tested on machines
  without a GPU, so they do not first run (and first fail) on somebody's Colab.

On a GPU machine, with nothing installed (see the Makefile's ``test-gpu``)::

    PYTHONPATH=. python -m pytest -o addopts="" -v -rs tests/minidl/kernels/test_conformance.py tests/minidl/kernels/gpu/test_device.py tests/minidl/kernels/test_cuda_sources.py tests/bench/test_gpu.py
"""

import importlib.machinery
import sys
import types

import numpy as np
import pytest

import minidl as mdl
from minidl import backend, losses, optim
from minidl.kernels import gpu
from tests.minidl.kernels.tiers import EMULATOR, GPU_AVAILABLE, GPU_STATUS, gpu_tier

DEVICES = [EMULATOR, gpu_tier("gpu")]


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
    from minidl.nn.layers import Dense, Dropout, Flatten, ReLU
    from minidl.nn.layers.conv import Conv2D, MaxPool2D
    from minidl.nn.layers.normalization import BatchNorm

    # BatchNorm after the ReLU, not before: a bias followed by BatchNorm has a gradient that
    # is zero up to rounding, and Adam would turn that rounding noise into full-size steps.
    model = mdl.Sequential(
        [Conv2D(4, 3, padding=1), ReLU(), MaxPool2D(2), BatchNorm(), Dropout(0.1), Flatten(), Dense(3)],
        input_shape=(1, 12, 12),
    )
    model.compile(
        optimizer=optim.Adam(1e-2),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _recurrent():
    from minidl.nn.layers import Dense
    from minidl.nn.layers.recurrent import GRU, LSTM

    model = mdl.Sequential([LSTM(8, return_sequences=True), GRU(6), Dense(2)], input_shape=(6, 3))
    model.compile(
        optimizer=optim.SGD(0.1, momentum=0.9),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
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
        scores = model.evaluate(x, y, return_dict=True)
    return model, history.history, predictions, scores


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "make_model, data", [(_lenet, _images), (_recurrent, _sequences)], ids=["lenet", "lstm-gru"]
)
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
    from minidl.nn.layers import Dense

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


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            RuntimeError(
                "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA "
                'runtime version\n  File "cupy_backends/cuda/api/runtime.pyx", line 144'
            ),
            "cudaErrorInsufficientDriver: CUDA driver version is insufficient",
        ),
        (
            OSError("libcuda.so.1: cannot open shared object file: No such file or directory"),
            "libcuda.so.1: cannot open shared object file",
        ),
        (RuntimeError(""), "RuntimeError"),
    ],
)
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


# =========================================================================== whole sequences in one launch
# ``gpu.lstm_forward_sequence`` & co. run the loop over time inside one kernel. They are held
# to the per-step path they replace: a product h_{t-1} Wh and a cell kernel per step, with
# the reference's cell kernels (so a mistake shared by the CUDA cell and sequence kernels
# would still show).
SEQUENCE_TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def _device_arrays(device):
    """(place, to_numpy) for a device of DEVICES."""
    if device == "gpu":
        return (lambda a: backend.to_device(a, "gpu")), backend.to_numpy
    return (lambda a: a), np.asarray


def _lstm_steps(xw, Wh, b, h0, c0):
    """The per-step forward: hs, cells (T + 1, N, H), gates (T, N, 4H)."""
    from minidl.kernels import reference

    T, N, width = xw.shape
    H = width // 4
    gates = np.zeros((T, N, width), xw.dtype)
    hs, cells = np.zeros((T + 1, N, H), xw.dtype), np.zeros((T + 1, N, H), xw.dtype)
    hs[0], cells[0] = h0, c0
    for t in range(T):
        reference.lstm_cell_forward(xw[t], hs[t] @ Wh, b, cells[t], gates[t], cells[t + 1], hs[t + 1])
    return gates, cells, hs


def _lstm_steps_backward(dy, Wh, gates, cells):
    """The per-step backward through time: da (T, N, 4H), dh0, dc0 (N, H)."""
    from minidl.kernels import reference

    T, N, H = dy.shape
    da = np.zeros((T, N, 4 * H), dy.dtype)
    dh, dc = dy[-1].copy(), np.zeros((N, H), dy.dtype)
    for t in reversed(range(T)):
        reference.lstm_cell_backward(dh, dc, gates[t], cells[t], cells[t + 1], da[t], dc)
        dh = da[t] @ Wh.T + (dy[t - 1] if t > 0 else 0)
    return da, dh, dc


def _gru_steps(xw, Wh, bx, bh, h0):
    from minidl.kernels import reference

    T, N, width = xw.shape
    H = width // 3
    gates, hn = np.zeros((T, N, width), xw.dtype), np.zeros((T, N, H), xw.dtype)
    hs = np.zeros((T + 1, N, H), xw.dtype)
    hs[0] = h0
    for t in range(T):
        reference.gru_cell_forward(xw[t], hs[t] @ Wh, bx, bh, hs[t], gates[t], hn[t], hs[t + 1])
    return gates, hn, hs


def _gru_steps_backward(dy, Wh, gates, hn, hs):
    from minidl.kernels import reference

    T, N, H = dy.shape
    dxw, dhw = np.zeros((T, N, 3 * H), dy.dtype), np.zeros((T, N, 3 * H), dy.dtype)
    dh, direct = dy[-1].copy(), np.zeros((N, H), dy.dtype)
    for t in reversed(range(T)):
        reference.gru_cell_backward(dh, gates[t], hn[t], hs[t], dxw[t], dhw[t], direct)
        dh = dhw[t] @ Wh.T + direct + (dy[t - 1] if t > 0 else 0)
    return dxw, dhw, dh


def _assert_close(where, ours, expected, dtype):
    for i, (a, e) in enumerate(zip(ours, expected)):
        np.testing.assert_allclose(a, e, err_msg=f"{where}, output {i}", **SEQUENCE_TOLERANCE[dtype])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("T, N, H, rows", [(4, 3, 5, 1), (6, 7, 19, 2), (3, 7, 9, 4), (2, 1, 1, None)])
def test_lstm_sequence_kernels_equal_the_per_step_path(device, dtype, T, N, H, rows, monkeypatch):
    """One launch for the whole forward (and backward) = T products and T cell kernels.
    ``rows`` samples per block (None: the launcher's choice); N = 7 leaves a last block part full."""
    if rows is not None:
        monkeypatch.setattr(gpu.recurrent, "sequence_rows_per_block", lambda n: rows)
    place, to_numpy = _device_arrays(device)
    rng = np.random.default_rng(T * 100 + H)
    xw = (rng.standard_normal((T, N, 4 * H)) * 2).astype(dtype)
    Wh = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(dtype)
    b = rng.standard_normal(4 * H).astype(dtype)
    h0, c0, dy = (rng.standard_normal(shape).astype(dtype) for shape in [(N, H), (N, H), (T, N, H)])
    expected = _lstm_steps(xw, Wh, b, h0, c0)

    gates, cells, hs = (place(np.zeros(a.shape, dtype)) for a in expected)
    cells[0], hs[0] = place(c0), place(h0)
    out = gpu.lstm_forward_sequence(place(xw), place(Wh), place(b), gates, cells, hs)
    assert out[0] is gates and out[1] is cells and out[2] is hs
    _assert_close(f"lstm_forward_sequence {device} {T, N, H}", map(to_numpy, out), expected, dtype)

    expected_back = _lstm_steps_backward(dy, Wh, *expected[:2])
    da, dh0, dc0 = (place(np.zeros(a.shape, dtype)) for a in expected_back)
    out = gpu.lstm_backward_sequence(
        place(dy), place(np.ascontiguousarray(Wh.T)), place(expected[0]), place(expected[1]), da, dh0, dc0
    )
    _assert_close(f"lstm_backward_sequence {device} {T, N, H}", map(to_numpy, out), expected_back, dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("T, N, H, rows", [(4, 3, 5, 1), (6, 7, 19, 2), (3, 7, 9, 4), (2, 1, 1, None)])
def test_gru_sequence_kernels_equal_the_per_step_path(device, dtype, T, N, H, rows, monkeypatch):
    if rows is not None:
        monkeypatch.setattr(gpu.recurrent, "sequence_rows_per_block", lambda n: rows)
    place, to_numpy = _device_arrays(device)
    rng = np.random.default_rng(T * 100 + H + 1)
    xw = (rng.standard_normal((T, N, 3 * H)) * 2).astype(dtype)
    Wh = (rng.standard_normal((H, 3 * H)) / np.sqrt(H)).astype(dtype)
    bx, bh = rng.standard_normal(3 * H).astype(dtype), rng.standard_normal(3 * H).astype(dtype)
    h0, dy = rng.standard_normal((N, H)).astype(dtype), rng.standard_normal((T, N, H)).astype(dtype)
    expected = _gru_steps(xw, Wh, bx, bh, h0)

    gates, hn, hs = (place(np.zeros(a.shape, dtype)) for a in expected)
    hs[0] = place(h0)
    out = gpu.gru_forward_sequence(place(xw), place(Wh), place(bx), place(bh), gates, hn, hs)
    _assert_close(f"gru_forward_sequence {device} {T, N, H}", map(to_numpy, out), expected, dtype)

    expected_back = _gru_steps_backward(dy, Wh, *expected)
    dxw, dhw, dh0 = (place(np.zeros(a.shape, dtype)) for a in expected_back)
    out = gpu.gru_backward_sequence(
        place(dy), place(np.ascontiguousarray(Wh.T)), *map(place, expected), dxw, dhw, dh0
    )
    _assert_close(f"gru_backward_sequence {device} {T, N, H}", map(to_numpy, out), expected_back, dtype)


def test_sequence_kernels_refuse_what_they_cannot_do():
    xw = np.zeros((2, 3, 4 * 300))
    with pytest.raises(ValueError, match="at most 256 hidden units, got 300"):
        gpu.recurrent._launch_sequence(
            "lstm_forward_sequence",
            4,
            xw,
            np.zeros((300, 1200)),
            np.zeros(1200),
            np.zeros((2, 3, 1200)),
            np.zeros((3, 3, 300)),
            np.zeros((3, 3, 300)),
        )
    with pytest.raises(ValueError, match=r"hs must have shape \(3, 3, 5\), got \(2, 3, 5\)"):
        gpu.lstm_forward_sequence(
            np.zeros((2, 3, 20)),
            np.zeros((5, 20)),
            np.zeros(20),
            np.zeros((2, 3, 20)),
            np.zeros((3, 3, 5)),
            np.zeros((2, 3, 5)),
        )
    with pytest.raises(
        ValueError, match=r"gru_backward_sequence: dhw must have shape \(2, 3, 15\), got \(2, 3, 5\)"
    ):
        gpu.gru_backward_sequence(
            np.zeros((2, 3, 5)),
            np.zeros((15, 5)),
            np.zeros((2, 3, 15)),
            np.zeros((2, 3, 5)),
            np.zeros((3, 3, 5)),
            np.zeros((2, 3, 15)),
            np.zeros((2, 3, 5)),
            np.zeros((3, 5)),
        )
    assert gpu.sequence_kernels_fit(256) and not gpu.sequence_kernels_fit(257)
    assert [gpu.sequence_rows_per_block(n) for n in (1, 64, 128, 129, 256, 1024)] == [1, 1, 1, 2, 2, 4]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences, with_state", [(True, True), (False, False)])
def test_recurrent_layers_give_the_same_numbers_with_and_without_sequence_kernels(
    device, kind, return_sequences, with_state, monkeypatch
):
    """The layer's CUDA fast path (one launch per direction) against its per-step CUDA path
    (``USE_SEQUENCE_KERNELS = False``): outputs, every gradient, the initial-state gradient."""
    from minidl.nn.layers.recurrent import GRU, LSTM

    place, to_numpy = _device_arrays(device)
    rng = np.random.default_rng(11)
    N, T, D, H = 5, 4, 3, 6
    x = place(rng.standard_normal((N, T, D)))
    dy = place(rng.standard_normal((N, T, H) if return_sequences else (N, H)))
    states = [place(rng.standard_normal((N, H))) for _ in range(2 if kind == "LSTM" else 1)]
    state = (tuple(states) if kind == "LSTM" else states[0]) if with_state else None
    results = {}
    for sequence in (True, False):
        mdl.backend.use("numba" if device == "emulator" else "numpy")  # any fast-path tier
        mdl.seed(0)
        layer = (LSTM if kind == "LSTM" else GRU)(H, return_sequences=return_sequences)
        layer.build((T, D), dtype=np.float64)
        if device == "gpu":
            layer.to("gpu")
        with monkeypatch.context() as patch:
            patch.setattr(gpu.recurrent, "USE_SEQUENCE_KERNELS", sequence)
            patch.setattr(backend, "kernels_for", lambda a: gpu)
            calls = []
            launch = gpu.recurrent._launch_sequence
            patch.setattr(
                gpu.recurrent,
                "_launch_sequence",
                lambda *a, _f=launch, _calls=calls: _calls.append(1) or _f(*a),
            )
            y = layer.forward(x, training=True, initial_state=state)
            dx = layer.backward(dy)
        assert bool(calls) == sequence, "the layer did not take the path asked for"
        grads = {k: to_numpy(v).copy() for k, v in layer.grads.items()}
        state_grad = layer.initial_state_grad  # None, dh0 (GRU) or (dh0, dc0) (LSTM)
        state_grad = [] if state_grad is None else [state_grad] if kind == "GRU" else list(state_grad)
        state_grad = [to_numpy(s) for s in state_grad]
        results[sequence] = (to_numpy(y), to_numpy(dx), grads, state_grad)
    (y1, dx1, g1, s1), (y0, dx0, g0, s0) = results[True], results[False]
    tol = SEQUENCE_TOLERANCE[np.float64]
    np.testing.assert_allclose(y1, y0, **tol)
    np.testing.assert_allclose(dx1, dx0, **tol)
    for key in g0:
        np.testing.assert_allclose(g1[key], g0[key], err_msg=key, **tol)
    assert len(s1) == len(s0) == (0 if not with_state else len(states))
    for a, b in zip(s1, s0):
        np.testing.assert_allclose(a, b, **tol)
