"""The device benchmark (``bench/gpu.py``): its rows, its table without a device, and the runner's
GPU and PyTorch-CUDA columns (tested without a device: rows whose "GPU" step is a CPU function,
and a fake peer with known times). On a GPU machine the rows run on the device too (``make test-gpu``).
"""

import types

import pytest

import minidl as mdl
from tests.minidl.kernels.tiers import GPU_AVAILABLE, GPU_STATUS, gpu_tier

ON_A_DEVICE = gpu_tier("gpu").marks


# =========================================================================== benchmarks
@pytest.fixture
def bench_gpu():
    from bench import gpu as bench_gpu

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


@pytest.mark.parametrize("device", ["cpu", pytest.param("gpu", marks=ON_A_DEVICE)])
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


# =========================================================================== one bench, every device
# ``python -m bench`` adds a GPU column and a PyTorch-CUDA column when a row runs on a
# GPU (bench.gpu). The plumbing is tested here without a device: rows whose "GPU" step
# is a CPU function, and a fake peer with known times.
class _FakePeer:
    """Stands in for runner.Peer: answers every setup with fixed times, records what was asked."""

    def __init__(self, ms=2.0):
        self.info = {"torch": "0.0-fake", "threads": 1, "env": {}, "cuda": "Fake GPU 80GB"}
        self.asked, self.rewarm_ms, self.ms = [], [], ms

    def setup(self, name, device=None, rewarm_ms=0.0):
        self.asked.append((name, device))
        self.rewarm_ms.append(rewarm_ms)
        return lambda calls: [self.ms] * calls

    def close(self):
        pass


class _FakeClock:
    """The bench runner's ``time`` in these tests: ``perf_counter`` moves only when a fake step
    says it took its time, so the medians are exact and nothing waits or depends on the load."""

    def __init__(self):
        import time

        self.now, self.strftime, self.gmtime = 0.0, time.strftime, time.gmtime

    def perf_counter(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


CLOCK = _FakeClock()


def _step_taking(seconds):
    def step():
        CLOCK.now += seconds

    return step


def _fake_gpu_rows(bench_gpu):
    return [
        bench_gpu.GpuWorkload(
            "fake GPU row",
            setup=lambda tier: _step_taking(0.004),
            gpu_setup=lambda: _step_taking(0.001),
            torch_cuda_setup=lambda device="cuda": None,
        )
    ]


def _run_bench(monkeypatch, tmp_path, rows, peer):
    from bench import runner

    monkeypatch.setattr(runner, "collect_workloads", lambda only=None, log=print: rows)
    monkeypatch.setattr(runner, "_torch_installed", lambda: peer is not None)
    monkeypatch.setattr(runner, "Peer", lambda: peer)
    monkeypatch.setattr(runner, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(runner, "time", CLOCK)
    monkeypatch.setattr(runner, "blas_peak_gflops", lambda repeats=5: 100.0)  # the fake clock would time 0 s
    out = tmp_path / "bench.json"
    assert runner.main(["--quick", "--repeats", "5", "--no-cold-start", "--json", str(out)]) == 0
    import json

    return json.loads(out.read_text())


def test_bench_prints_gpu_and_torch_cuda_columns_for_gpu_rows(bench_gpu, monkeypatch, tmp_path, capsys):
    peer = _FakePeer(ms=2.0)
    result = _run_bench(monkeypatch, tmp_path, _fake_gpu_rows(bench_gpu), peer)
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("workload"))
    for column in ("numba ms", "torch ms", "gpu ms", "cpu/gpu", "torch-cuda ms", "gpu/tcuda"):
        assert column in header, (column, header)
    assert peer.asked == [("fake GPU row", "cuda")]  # the CPU peer column is not asked for GPU rows
    from bench import runner

    assert peer.rewarm_ms == [runner.REWARM_MS]  # the peer's turns start warm, as minidl's
    (row,) = result["workloads"]
    assert row["gpu"]["calls"] == row["torch_cuda"]["calls"] == row["numba"]["calls"] == 5
    assert row["torch_cuda"]["median_ms"] == 2.0
    assert row["gpu"]["median_ms"] == pytest.approx(1.0) and row["numba"]["median_ms"] == pytest.approx(4.0)
    assert row["cpu_over_gpu"] == pytest.approx(
        min(row["numba"]["median_ms"], row["numpy"]["median_ms"]) / row["gpu"]["median_ms"]
    )
    assert row["gpu_over_torch_cuda"] == pytest.approx(row["gpu"]["median_ms"] / 2.0)
    line = next(line for line in printed.splitlines() if line.startswith("fake GPU row"))
    assert line.split()[-4:] == [
        f"{row['gpu']['median_ms']:.3f}",
        f"{row['cpu_over_gpu']:.1f}",
        "2.000",
        f"{row['gpu_over_torch_cuda']:.2f}",
    ]
    assert len(line) == len(header)
    assert result["environment"]["gpu"] == GPU_STATUS
    assert result["environment"]["torch_cuda_device"] == "Fake GPU 80GB"
    assert "gpu/tcuda: minidl GPU / PyTorch CUDA" in printed


def test_bench_without_gpu_rows_prints_the_cpu_table_unchanged(bench_gpu, monkeypatch, tmp_path, capsys):
    from bench import runner

    rows = [runner.Workload("cpu row", setup=lambda tier: _step_taking(0.001))]
    result = _run_bench(monkeypatch, tmp_path, rows, None)
    printed = capsys.readouterr().out
    assert runner.header() in printed and "gpu ms" not in printed and "torch-cuda" not in printed
    (row,) = result["workloads"]
    assert "gpu" not in row and "cpu_over_gpu" not in row and "gpu" not in result["environment"]


def test_bench_gpu_row_without_a_peer_has_dashes_for_torch_cuda(bench_gpu, monkeypatch, tmp_path, capsys):
    result = _run_bench(monkeypatch, tmp_path, _fake_gpu_rows(bench_gpu), None)
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fake GPU row"))
    assert line.split()[-2:] == ["-", "-"]
    assert result["workloads"][0]["gpu_over_torch_cuda"] is None


def test_peer_builds_the_cuda_step_of_a_gpu_row(monkeypatch):
    """The peer's protocol: {"cmd": "setup", "name": ROW, "device": "cuda"} builds the row's
    torch_cuda_setup (not its CPU torch_setup), then times it."""
    pytest.importorskip("torch")
    import io
    import json

    from bench import peer

    built = []
    stepped = []
    row = types.SimpleNamespace(
        torch_setup=lambda: built.append("cpu") or (lambda: None),
        torch_cuda_setup=lambda device: built.append(device) or (lambda: stepped.append(1)),
    )
    monkeypatch.setattr(peer, "_workloads_by_name", lambda: {"row": row})
    requests = [
        {"cmd": "setup", "name": "row", "device": "cuda"},
        {"cmd": "time", "calls": 3},
        {"cmd": "time", "calls": 2, "rewarm_ms": 0.001},
        {"cmd": "setup", "name": "row"},
        {"cmd": "info"},
        {"cmd": "quit"},
    ]
    stdout = io.StringIO()
    peer.serve(io.StringIO("".join(json.dumps(r) + "\n" for r in requests)), stdout)
    answers = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert built == ["cuda", "cpu"]
    assert answers[0] == {"ok": True} and len(answers[1]["times_ms"]) == 3
    assert len(answers[2]["times_ms"]) == 2 and len(stepped) >= 3 + 1 + 2  # an untimed call first
    assert "torch" in answers[4]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=ON_A_DEVICE)])
def test_every_torch_twin_of_a_gpu_row_runs(bench_gpu, device):
    """PyTorch's twin of every GPU row (what the peer runs with device="cuda"), small, on the CPU
    here and on the GPU where there is one."""
    pytest.importorskip("torch")
    rows = bench_gpu.all_workloads(batch_sizes=(2,), scale=64)
    assert all(row.torch_cuda_setup is not None for row in rows)
    for row in rows:
        step = row.torch_cuda_setup(device=device)
        step()
        step()
