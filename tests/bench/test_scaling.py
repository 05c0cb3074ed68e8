"""The bench's scaling: Amdahl's law fitted to times per core count, the --cores list, pinning.

No timing is asserted: the fit is checked on synthetic times it must recover exactly, the
pinning by reading the threads' CPU masks back, and a tiny real run by what it prints and
writes.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench import runner, scaling

REPOSITORY = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or not os.path.isdir("/proc/self/task"),
    reason="pinning needs os.sched_setaffinity and /proc/self/task (Linux)",
)


def amdahl(t1, serial, cores):
    return {p: t1 * (serial + (1 - serial) / p) for p in cores}


@pytest.mark.parametrize("serial", [0.0, 0.05, 0.3, 1.0])
@pytest.mark.parametrize("cores", [(1, 2), (1, 2, 8, 16), (2, 4), (1, 3, 5)])
def test_amdahl_fit_recovers_synthetic_times_exactly(serial, cores):
    fit = scaling.amdahl_fit(amdahl(12.0, serial, cores))
    assert fit["serial_fraction"] == pytest.approx(serial, abs=1e-12)
    assert fit["t1_ms"] == pytest.approx(12.0, rel=1e-12)
    for n in scaling.PREDICT_AT:
        assert fit["predicted_ms"][str(n)] == pytest.approx(12.0 * (serial + (1 - serial) / n), rel=1e-12)
    times = amdahl(12.0, serial, cores)
    assert fit["speedup"] == pytest.approx(times[cores[0]] / times[cores[-1]])
    assert (fit["from_cores"], fit["to_cores"]) == (cores[0], cores[-1])


def test_amdahl_fit_on_two_counts_goes_through_both_points():
    # the LeNet-5 row on 2 cores: PyTorch 6.53 -> 4.51 ms (1.45x), minidl 5.23 -> 5.20
    torch_fit = scaling.amdahl_fit({1: 6.53, 2: 4.51})
    assert torch_fit["speedup"] == pytest.approx(6.53 / 4.51)
    # S = 1 / (s + (1 - s) / 2)  =>  s = 2 / S - 1
    assert torch_fit["serial_fraction"] == pytest.approx(2 * 4.51 / 6.53 - 1)
    a, b = 2 * 4.51 - 6.53, 2 * (6.53 - 4.51)  # T(p) = a + b / p through both points
    assert torch_fit["predicted_ms"]["16"] == pytest.approx(a + b / 16)
    minidl_fit = scaling.amdahl_fit({1: 5.23, 2: 5.20})
    assert minidl_fit["serial_fraction"] > 0.98  # almost all of it serial: 16 cores barely help
    assert minidl_fit["predicted_ms"]["16"] > torch_fit["predicted_ms"]["16"]


def test_amdahl_fit_of_a_step_that_slows_down_has_a_serial_fraction_above_one():
    fit = scaling.amdahl_fit({1: 2.0, 2: 2.4})
    assert fit["serial_fraction"] == pytest.approx(1.4) and fit["speedup"] < 1
    assert fit["predicted_ms"]["16"] > 2.4  # the fitted line, extended: no Amdahl prediction


def test_amdahl_fit_of_a_superlinear_step_predicts_no_better_than_perfect_scaling():
    # the PyTorch batch-norm row, 2.09 -> 0.92 ms on 2 cores: more than twice as fast
    fit = scaling.amdahl_fit({1: 2.09, 2: 0.92})
    assert fit["serial_fraction"] == pytest.approx(2 * 0.92 / 2.09 - 1) and fit["serial_fraction"] < 0
    assert fit["predicted_ms"]["16"] == pytest.approx(fit["t1_ms"] / 16)  # not the line's negative time


def test_amdahl_fit_weighs_relative_error_and_needs_two_counts():
    # noise of the same relative size on every point: the fit stays near the truth
    times = amdahl(10.0, 0.2, (1, 2, 8, 16))
    noisy = {p: t * (1.02 if i % 2 else 0.98) for i, (p, t) in enumerate(sorted(times.items()))}
    assert scaling.amdahl_fit(noisy)["serial_fraction"] == pytest.approx(0.2, abs=0.03)
    assert scaling.amdahl_fit({1: 3.0}) is None
    with pytest.raises(ValueError, match="positive"):
        scaling.amdahl_fit({1: 3.0, 2: 0.0})


def test_parse_cores_keeps_what_the_machine_has_and_names_the_rest():
    assert scaling.parse_cores("1,2,8,16", 2) == ([1, 2], [8, 16])
    assert scaling.parse_cores("16, 8,2,1,2", 16) == ([1, 2, 8, 16], [])
    assert scaling.parse_cores("4", 2) == ([], [4])
    assert scaling.parse_cores(None, 2) == ([1, 2], [])  # default: 1 and every usable CPU
    assert scaling.parse_cores(None, 1) == ([1], [])
    for bad in ("", "0", "1,,2", "a", "-1", "1.5"):
        with pytest.raises(ValueError, match=f"received {bad!r}"):
            scaling.parse_cores(bad, 4)
    with pytest.raises(ValueError, match="at least 1, received 0"):
        scaling.parse_cores("1", 0)


def test_cpu_sets_are_the_first_usable_cpus():
    assert scaling.cpu_set(1, [3, 5, 7]) == {3}
    assert scaling.cpu_set(3, [3, 5, 7]) == {3, 5, 7}
    with pytest.raises(ValueError, match="between 1 and 3 .* received 4"):
        scaling.cpu_set(4, [3, 5, 7])


def test_plan_line_says_where_each_count_runs_and_what_it_skipped():
    run_plan = scaling.plan("1,2,8,16", cpus=[0, 1])
    assert run_plan["counts"] == [1, 2] and run_plan["skipped"] == [8, 16]
    line = scaling.plan_line(dict(run_plan, pinning=True))
    assert line == "cores: 1, 2 (1: CPU 0, 2: CPUs 0-1); skipped 8, 16: this process may use 2 CPUs"
    assert "not pinned" in scaling.plan_line(dict(run_plan, pinning=False))
    single = scaling.plan_line(dict(scaling.plan("1", cpus=[4, 6]), pinning=True))
    assert single == "cores: 1 (1: CPU 4); one core count: no speedup or Amdahl fit"


def test_load_line_says_when_the_machine_is_busy():
    assert scaling.load_line(0.4, 2) == "load average 0.40 over the last minute on 2 usable CPUs"
    busy = scaling.load_line(5.63, 2)
    assert busy.startswith("load average 5.63 over the last minute on 2 usable CPUs: busy")
    assert "busy" not in scaling.load_line(15.0, 16) and "busy" in scaling.load_line(1.0, 1)
    assert scaling.load_line(None, 2) == "load average: unknown"
    load = scaling.load_average()
    assert load is None or load >= 0


def test_bad_cores_are_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        runner.parse_args(["--cores", "two"])
    assert "received 'two'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        runner.parse_args(["--cores", str(10**6)])
    assert "none of the core counts" in capsys.readouterr().err


@linux_only
def test_pin_process_pins_every_thread_and_threads_started_later():
    original = os.sched_getaffinity(0)
    target = {min(original)}
    started, stop = threading.Event(), threading.Event()
    ids = {}

    def worker(name):
        ids[name] = threading.get_native_id()
        started.set()
        stop.wait()

    early = threading.Thread(target=worker, args=("early",))
    early.start()
    started.wait()
    try:
        assert scaling.pin_process(target)
        assert os.sched_getaffinity(ids["early"]) == target  # a thread already running
        assert os.sched_getaffinity(0) == target
        started.clear()
        late = threading.Thread(target=worker, args=("late",))
        late.start()
        started.wait()
        assert os.sched_getaffinity(ids["late"]) == target  # inherited
    finally:
        stop.set()
        scaling.pin_process(original)
        early.join()
    assert os.sched_getaffinity(0) == original


@linux_only
def test_numbas_pool_starts_before_anything_is_pinned():
    """OpenMP counts its CPUs once, at its start: a pool started while the process is pinned to one
    CPU barely spins and wakes a sleeping thread at every region (docs/performance.md, section 23).
    So ``MinidlThreads`` starts Numba's pool when it is made, before its first ``set`` pins."""
    pytest.importorskip("numba")
    script = (
        "import os, numba.np.ufunc.parallel as parallel\n"
        "from bench import scaling\n"
        "assert not parallel._is_initialized\n"
        "threads = scaling.MinidlThreads(scaling.usable_cpus())\n"
        "started_on = len(os.sched_getaffinity(0))\n"
        "print(parallel._is_initialized, started_on == len(scaling.usable_cpus()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


@linux_only
def test_minidl_threads_sets_numba_blas_and_cpus_and_restores_them():
    numba = pytest.importorskip("numba")
    cpus = scaling.usable_cpus()
    threads = scaling.MinidlThreads(cpus)
    before = (numba.get_num_threads(), os.sched_getaffinity(0))
    try:
        in_force = threads.set(1)
        assert in_force["numba"] == numba.get_num_threads() == 1
        assert in_force["pinned"] and os.sched_getaffinity(0) == {cpus[0]}
        if threads.blas is not None:
            assert in_force["blas"] == 1
            assert all(lib["num_threads"] == 1 for lib in threads.blas.info() if lib["user_api"] == "blas")
        else:
            assert in_force["blas"] is None
    finally:
        threads.restore()
    assert (numba.get_num_threads(), os.sched_getaffinity(0)) == before


def test_summarise_fits_both_contenders_and_the_table_shows_them():
    def stats(rounds):
        return dict(runner.statistics(rounds), round_medians_ms=rounds)

    row = {
        "name": "w",
        "flops": None,
        "numpy": stats([9.0]),
        "numba": stats([3.0, 3.0]),
        "torch": stats([4.0, 4.0]),
        "scaling": {
            "cores": [1, 2],
            "numba": {"1": stats([4.0, 4.0]), "2": stats([3.0, 3.0])},
            "torch": {"1": stats([8.0, 8.0]), "2": stats([4.0, 4.0])},
        },
    }
    timed = runner.summarise(row)["scaling"]
    assert timed["numba_fit"]["speedup"] == pytest.approx(4 / 3)
    assert timed["numba_fit"]["serial_fraction"] == pytest.approx(0.5)
    assert timed["torch_fit"]["serial_fraction"] == pytest.approx(0.0, abs=1e-12)
    assert timed["torch_fit"]["predicted_ms"]["16"] == pytest.approx(0.5)
    assert timed["numba_speedup_paired"]["median"] == pytest.approx(4 / 3)
    line = runner.format_scaling_row(row)
    assert line.split() == [
        "w",
        "4.00/3.00",
        "8.00/4.00",
        "1.33",
        "2.00",
        "0.50",
        "0.00",
        "2.25",
        "1.00",
        "2.12",
        "0.50",
    ]
    no_peer = runner.summarise_scaling({"cores": [1, 2], "numba": row["scaling"]["numba"], "torch": None})
    assert no_peer["torch_fit"] is None and "-" in runner.format_scaling_row(dict(row, scaling=no_peer))


@pytest.mark.slow
def test_a_real_row_at_one_and_two_cores(tmp_path):
    """``python -m bench --cores 1,2 --only ROW`` in a fresh process, as ``make bench`` runs it."""
    out = tmp_path / "bench.json"
    env = runner.clean_environment()  # python -m bench sizes the pools itself
    env = runner.with_repository(dict(env, MPLBACKEND="Agg"))
    row_name = "batch norm train (256, 512)"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--repeats",
            "2",
            "--cores",
            "1,2,64",
            "--only",
            row_name,
            "--json",
            str(out),
        ],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout
    result = json.loads(out.read_text())
    env_out = result["environment"]["scaling"]
    usable = len(scaling.usable_cpus())
    expected = [1, 2] if usable >= 2 else [1]
    assert env_out["counts"] == expected
    assert 64 in env_out["skipped"] or usable >= 64
    assert "skipped" in printed and "64" in printed.split("skipped", 1)[1].splitlines()[0] or usable >= 64
    (row,) = result["workloads"]
    assert row["scaling"]["cores"] == expected
    assert set(row["scaling"]["numba"]) == {str(c) for c in expected}
    assert row["numba"] == row["scaling"]["numba"][str(expected[-1])]  # the main columns: most cores
    assert "load average" in printed and "load_average_start" in result["environment"]
    in_force = env_out["threads_in_force"]["minidl"]
    assert in_force["1"]["numba"] == 1 and in_force["1"]["pinned"]
    if usable < 2:
        return
    assert in_force["2"]["numba"] == 2  # the pool was sized for 2 despite no thread variable
    assert "scaling: ms at 1/2 cores" in printed and row_name in printed.split("scaling:", 1)[1]
    assert row["scaling"]["numba_fit"]["to_cores"] == 2
    if result["environment"].get("torch"):
        assert set(row["scaling"]["torch"]) == {"1", "2"}
        assert env_out["threads_in_force"]["torch"]["1"] == {"threads": 1, "pinned": True}
        assert env_out["threads_in_force"]["torch"]["2"]["threads"] == 2
        assert row["scaling"]["torch_fit"]["speedup"] > 0
    else:
        assert row["scaling"]["torch"] is None


@pytest.mark.slow
def test_the_peer_pins_and_sets_its_threads():
    pytest.importorskip("torch")
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("pinning needs os.sched_setaffinity")
    peer = runner.Peer()
    try:
        cpus = scaling.usable_cpus()
        assert peer.threads(1, cpus) == {"threads": 1, "pinned": True}
        run = peer.setup("batch norm train (256, 512), fwd+bwd")
        assert len(run(1)) == 1
        pid = peer.process.pid
        masks = {os.sched_getaffinity(int(t)) == {cpus[0]} for t in os.listdir(f"/proc/{pid}/task")}
        assert masks == {True}  # every thread of PyTorch's process, its workers included
    finally:
        peer.close()
