"""The benchmark's method: interleaved rounds, PyTorch in its own process with a clean environment.

No timing is asserted (timings depend on the machine); these tests check how the numbers
are taken and that the table and the JSON come out.
"""

import json
import os
import types

import pytest

from bench import runner


def test_clean_environment_drops_every_thread_and_wait_setting():
    env = {
        "PATH": "/bin",
        "HOME": "/root",
        "OMP_WAIT_POLICY": "PASSIVE",
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
        "NUMBA_NUM_THREADS": "2",
        "NUMBA_CACHE_DIR": "/tmp/x",
        "GOMP_SPINCOUNT": "0",
        "KMP_BLOCKTIME": "0",
        "MINIDL_BACKEND": "numpy",
    }
    assert runner.clean_environment(env) == {"PATH": "/bin", "HOME": "/root"}


@pytest.mark.slow
def test_interleaved_alternates_the_contenders_round_by_round():
    order = []

    def contender(name):
        def run(calls):
            order.extend([name] * calls)
            return [1.0] * calls

        return run

    stats = runner.interleaved(
        {"a": contender("a"), "b": contender("b")}, repeats=6, warmup=1, budget_seconds=100, rounds=3
    )
    # warm-up a, b; then rounds of 2 calls each: a a b b, three times
    assert order == ["a", "b"] + ["a", "a", "b", "b"] * 3
    assert stats["a"]["calls"] == stats["b"]["calls"] == 6
    assert stats["a"]["median_ms"] == 1.0


def test_interleaved_keeps_each_rounds_median_in_order():
    def contender(times):
        rounds = iter(times)
        return lambda calls: [next(rounds)] * calls

    stats = runner.interleaved(
        {"a": contender([9.0, 1.0, 2.0, 3.0]), "b": contender([9.0, 2.0, 2.0, 6.0])},
        repeats=6,
        warmup=1,
        budget_seconds=100,
        rounds=3,
        settle_seconds=0,
    )
    assert stats["a"]["round_medians_ms"] == [1.0, 2.0, 3.0]  # the warm-up call is not a round
    assert stats["b"]["round_medians_ms"] == [2.0, 2.0, 6.0]


def test_interleaved_pauses_before_every_turn_with_the_pause_it_is_given():
    pauses, order = [], []

    def contender(name):
        def run(calls):
            order.append((name, len(pauses)))
            return [1.0] * calls

        return run

    runner.interleaved(
        {"a": contender("a"), "b": contender("b")},
        repeats=4,
        warmup=0,
        budget_seconds=100,
        rounds=2,
        settle_seconds=0.25,
        pause=pauses.append,
    )
    # each turn follows a pause of its own: a after the 1st, b after the 2nd, a after the 3rd, ...
    assert order == [("a", 1), ("b", 2), ("a", 3), ("b", 4)] and pauses == [0.25] * 4


def test_paired_ratios_are_taken_round_by_round():
    # a machine that slows down round after round moves both contenders; each round's ratio stays
    paired = runner.paired_ratios([0.9, 1.8, 2.7, 3.6], [1.0, 2.0, 3.0, 3.0])
    assert paired["median"] == pytest.approx(0.9) and paired["q1"] == pytest.approx(0.9)
    assert paired["q3"] == pytest.approx(0.975) and paired["rounds"] == 4
    even = runner.paired_ratios([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    assert even == {"median": 1.0, "q1": 1.0, "q3": 1.0, "rounds": 4}
    assert runner.paired_ratios([], []) is None
    assert runner.paired_ratios([1.0], [0.0]) is None  # a zero time is no ratio


def test_summarise_adds_the_round_by_round_ratio():
    def tier(rounds):
        return dict(runner.statistics(rounds), round_medians_ms=rounds)

    row = runner.summarise(
        {
            "name": "w",
            "flops": None,
            "numpy": tier([4.0, 4.0, 4.0]),
            "numba": tier([1.0, 2.0, 3.0]),
            "torch": tier([2.0, 2.0, 2.0]),
        }
    )
    assert row["numba_over_torch"] == pytest.approx(1.0)
    assert row["numba_over_torch_paired"] == {"median": 1.0, "q1": 0.75, "q3": 1.25, "rounds": 3}
    assert "0.75-1.25" in runner.format_row(row)
    no_peer = runner.summarise(
        {"name": "w", "flops": None, "numpy": tier([4.0]), "numba": tier([1.0]), "torch": None}
    )
    assert no_peer["numba_over_torch_paired"] is None


def test_timed_calls_rewarm_untimed_before_timing(monkeypatch):
    # a fake clock that moves 3 ms per call: untimed calls until 10 ms have passed (4), then 4 timed
    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(runner.time, "perf_counter", lambda: clock.now)
    calls = []

    def step():
        calls.append(1)
        clock.now += 0.003

    assert runner.timed_calls(step, 4, rewarm_ms=10) == pytest.approx([3.0] * 4)
    assert len(calls) == 8
    calls.clear()
    assert len(runner.timed_calls(step, 4, rewarm_ms=0.001)) == 4 and len(calls) == 5  # at least one
    calls.clear()
    assert len(runner.timed_calls(step, 4)) == 4 and len(calls) == 4  # none by default (``measure``)


def test_rewarm_is_an_option_of_the_bench():
    assert runner.parse_args([]).rewarm_ms == runner.REWARM_MS > 0
    assert runner.parse_args(["--rewarm-ms", "0"]).rewarm_ms == 0
    for wrong in ("-5", "nan", "twenty"):
        with pytest.raises(SystemExit):
            runner.parse_args(["--rewarm-ms", wrong])


def test_measure_keeps_its_interface():
    calls = []
    result = runner.measure(lambda: calls.append(1), repeats=5, warmup=2, budget_seconds=10)
    assert len(calls) == 7 and result["calls"] == 5
    assert set(result) == {"median_ms", "q1_ms", "q3_ms", "min_ms", "calls"}


@pytest.fixture
def torch_peer(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # as ``python -m minidl`` sets it for itself
    p = runner.Peer()
    yield p
    p.close()


@pytest.mark.slow
def test_peer_runs_with_none_of_minidls_thread_settings(torch_peer, monkeypatch):
    # the runner's process has minidl's settings (the fixture sets OMP_WAIT_POLICY=PASSIVE)
    assert os.environ.get("OMP_WAIT_POLICY") == "PASSIVE"
    assert torch_peer.info["env"] == {}
    assert torch_peer.info["threads"] >= 1


@pytest.mark.slow
def test_peer_times_a_row_of_the_table(torch_peer):
    run = torch_peer.setup("batch norm train (256, 512), fwd+bwd")
    times = run(3)
    assert len(times) == 3 and all(t > 0 for t in times)


def test_threshold_takes_a_count_or_a_power_of_two():
    assert runner.parse_args(["--threshold", "2^17"]).threshold == 131_072
    assert runner.parse_args(["--threshold", "5000"]).threshold == 5000
    assert runner.parse_args([]).threshold is None
    with pytest.raises(SystemExit):
        runner.parse_args(["--threshold", "2**17"])


@pytest.mark.slow
def test_bench_measures_at_the_threshold_it_is_given_and_puts_the_default_back(tmp_path, capsys):
    from minidl.kernels.cpu import loops

    default, seen = loops.PARALLEL_MIN_ELEMENTS, []
    out = tmp_path / "bench.json"
    workload = runner.Workload(
        "threshold probe", lambda tier: lambda: seen.append(loops.PARALLEL_MIN_ELEMENTS)
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "collect_workloads", lambda only: [workload])
        args = ["--quick", "--no-torch", "--no-cold-start", "--threshold", "2^10", "--json", str(out)]
        assert runner.main(args + ["--idle-pause"]) == 0
    assert seen and set(seen) == {1024} and loops.PARALLEL_MIN_ELEMENTS == default
    env = json.loads(out.read_text())["environment"]
    assert env["parallel_min_elements"] == 1024 and env["busy_pause"] is False  # --idle-pause: no spinners
    printed = capsys.readouterr().out
    assert "Numba kernels use threads from 1024 elements" in printed and "pause with the CPUs idle" in printed


@pytest.mark.slow
def test_bench_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert (
        runner.main(["--quick", "--repeats", "2", "--only", "batch norm train (256", "--json", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "batch norm train (256, 512)" in printed and "nb/torch" in printed and "by round" in printed
    result = json.loads(out.read_text())
    env = result["environment"]
    assert f"CPU: {env['cpu_model']}" in printed  # the table names its machine
    assert env["cpu_model"] and env["cpus_usable"] >= 1 and env["blas_peak_gflops"] > 0
    if env["cpu_flags"] is not None:
        assert set(env["cpu_flags"]) == set(runner.CPU_FLAGS)
    kept = env["malloc_keeps_freed_memory"]  # recorded: it moves a LeNet-5 step by a fifth
    assert isinstance(kept, bool) and f"freed arrays for reuse: {'yes' if kept else 'no'}" in printed
    # how long OpenBLAS's idle threads spin is printed and recorded (the caller's setting, or
    # OpenBLAS's default of 2^28 cycles when unset: neither the Makefile nor python -m bench sets it)
    timeout = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    assert env["openblas_thread_timeout"] == timeout
    spin = f"spin 2^{timeout if timeout is not None else '28 (its default)'} cycles before they sleep"
    if env.get(
        "one_pool"
    ):  # with more than one thread: OpenBLAS's products on Numba's threads, no spin of its own
        assert "One pool: OpenBLAS's products run on Numba's threads" in printed and spin not in printed
    else:
        assert f"{spin} (OPENBLAS_THREAD_TIMEOUT)" in printed
    assert f"untimed calls for {runner.REWARM_MS:g} ms at the start of each turn" in printed
    # the pause before each turn keeps the CPUs busy (bench/busy.py), and the JSON says so
    assert f"after a {runner.SETTLE_SECONDS:g} s pause with every CPU kept busy" in printed
    assert env["busy_pause"] is hasattr(os, "sched_setaffinity")
    assert result["rewarm_ms"] == runner.REWARM_MS
    (row,) = result["workloads"]
    assert row["numpy"]["calls"] == row["numba"]["calls"] == 2
    if result["environment"].get("torch"):
        assert row["torch"]["calls"] == 2 and row["numba_over_torch"] > 0
        assert row["numba_over_torch_paired"]["rounds"] == len(row["torch"]["round_medians_ms"])


X86_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse4_2 avx fma avx2 avx512f avx512_bf16

processor\t: 1
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse4_2 avx fma avx2 avx512f avx512_bf16
"""

ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes
CPU implementer\t: 0x41
"""


def test_cpu_info_reads_the_model_and_the_flags_that_matter():
    info = runner.cpu_info(X86_CPUINFO)
    assert info["cpu_model"] == "AMD EPYC 9R14 96-Core Processor"
    flags = info["cpu_flags"]
    assert flags["avx2"] and flags["fma"] and flags["avx512f"] and flags["avx512_bf16"]
    assert not flags["amx_tile"] and not flags["asimd"]
    arm = runner.cpu_info(ARM_CPUINFO)
    assert arm["cpu_flags"]["asimd"] and not arm["cpu_flags"]["avx2"]
    assert arm["cpu_model"]  # no "model name" line: the platform's name instead
    unknown = runner.cpu_info("")
    assert unknown["cpu_flags"] is None and "flags unknown" in runner.cpu_line(unknown)


def test_cpu_line_names_model_flags_and_peak():
    env = dict(runner.cpu_info(X86_CPUINFO), blas_peak_gflops=151.2)
    line = runner.cpu_line(env)
    assert line.startswith("CPU: AMD EPYC 9R14 96-Core Processor (sse4_2 avx avx2 fma avx512f avx512_bf16;")
    assert "BLAS float32 peak 151 GFLOP/s" in line


def test_conv_tiles_times_the_im2col_route_and_each_tile_budget():
    from bench import conv_tiles

    shape = (3, 2, 4, 3, 6, 1, 1, True)  # N, C, F, k, H, pad, stride, dx
    ms = conv_tiles.sweep(shape, rounds=1, calls=1, tiles=(1, 10**9))
    assert list(ms) == ["whole batch", "tiles 0K", "tiles 976562K"] and all(t > 0 for t in ms.values())
    assert conv_tiles.conv_flops(*shape) == 3 * 2 * 3 * 4 * 2 * 9 * 36
