"""``python -m bench.verdict``: several runs read together, on synthetic runs whose answers are known.

The rows are built with the runner's own ``summarise_scaling`` (the fits a real run writes), so
the verdict reads the records the bench writes, not a copy of their layout.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import runner, verdict

REPOSITORY = Path(__file__).resolve().parents[2]


def _stats(rounds):
    return dict(runner.statistics(rounds), round_medians_ms=list(rounds))


def _row(name, numba_ms, torch_ms):
    """A row timed at 1 and 2 cores; ``numba_ms`` and ``torch_ms`` map a count to round medians."""
    scaling = {
        "cores": [1, 2],
        "numba": {str(c): _stats(numba_ms[c]) for c in (1, 2)},
        "torch": None if torch_ms is None else {str(c): _stats(torch_ms[c]) for c in (1, 2)},
    }
    return {"name": name, "scaling": runner.summarise_scaling(scaling)}


def _run(*rows, time_utc="2026-11-27T00:00:00Z", cpu="AMD EPYC", busy_pause=None):
    environment = {"time_utc": time_utc, "cpu_model": cpu, "scaling": {"counts": [1, 2]}}
    if busy_pause is not None:  # runs from before bench/busy.py record nothing: they slept
        environment["busy_pause"] = busy_pause
    return {"environment": environment, "workloads": list(rows)}


# minidl 2x faster on 2 cores in every round, PyTorch 1.5x: minidl scales better
AHEAD = _row("ahead", {1: [4.0, 4.0, 4.0], 2: [2.0, 2.0, 2.0]}, {1: [6.0, 6.0, 6.0], 2: [4.0, 4.0, 4.0]})
# minidl 1.25x, PyTorch 2x, though minidl's times are shorter
BEHIND = _row("behind", {1: [0.5, 0.5, 0.5], 2: [0.4, 0.4, 0.4]}, {1: [8.0, 8.0, 8.0], 2: [4.0, 4.0, 4.0]})
# round by round minidl / PyTorch speedups: 2 / 1.5, 1.5 / 2, 1.6 / 1.6
MIXED = _row("mixed", {1: [4.0, 3.0, 3.2], 2: [2.0, 2.0, 2.0]}, {1: [6.0, 8.0, 8.0], 2: [4.0, 4.0, 5.0]})
NO_PEER = _row("no peer", {1: [4.0], 2: [2.0]}, None)
GPU_ROW = {"name": "GPU conv", "scaling": None}


def test_round_ratios_divide_each_rounds_two_speedups():
    assert verdict.round_ratios(MIXED["scaling"]) == pytest.approx([2 / 1.5, 1.5 / 2, 1.6 / 1.6])


def test_each_row_gets_its_runs_its_rounds_and_a_verdict():
    rows = verdict.row_verdicts([_run(AHEAD, BEHIND, MIXED, NO_PEER, GPU_ROW), _run(AHEAD, BEHIND, MIXED)])
    by_name = {r["name"]: r for r in rows}
    assert list(by_name) == ["ahead", "behind", "mixed"]  # rows PyTorch did not time are left out
    ahead, behind, mixed = by_name["ahead"], by_name["behind"], by_name["mixed"]
    assert [r["speedup"] for r in ahead["runs"]] == [pytest.approx((2.0, 1.5))] * 2
    assert ahead["runs_met"] == 2 and ahead["verdict"] == "at least"
    assert ahead["rounds_at_least_1"] == 6 and len(ahead["ratios"]) == 6
    # minidl's 16-core prediction is far below PyTorch's, yet its speedup is smaller: not met
    assert behind["runs"][0]["predicted_ms"][0] < behind["runs"][0]["predicted_ms"][1]
    assert behind["runs_met"] == 0 and behind["verdict"] == "below"
    q1, median, q3 = mixed["ratio_quartiles"]
    assert q1 < 1 <= median < q3 and mixed["verdict"] == "level"
    assert mixed["rounds_at_least_1"] == 4  # 2/1.5 and 1.6/1.6 in each of the two runs


def test_the_condition_on_the_prediction_counts_too():
    # minidl scales as well (2x), but its serial part is slower than PyTorch's whole step at 16 cores
    slow = _row("slow", {1: [40.0] * 6, 2: [20.0] * 6}, {1: [4.0] * 6, 2: [2.0] * 6})
    (record,) = verdict.row_verdicts([_run(slow)])
    assert record["verdict"] == "at least"  # the speedups alone: equal in every round
    assert record["runs_met"] == 0  # 40 / 16 ms against 4 / 16 ms predicted
    assert record["prediction_ratios"] == pytest.approx([10.0] * 6)
    assert (
        record["prediction_interval"] == pytest.approx((10.0, 10.0))
        and record["prediction_verdict"] == "above"
    )
    (ahead,) = verdict.row_verdicts([_run(AHEAD), _run(AHEAD)])
    assert ahead["prediction_median"] == pytest.approx((4 / 16) / (6 * (1 / 3 + 2 / 3 / 16)))
    assert ahead["prediction_verdict"] == "at most"
    (at_8,) = verdict.row_verdicts([_run(slow)], at=8)
    assert at_8["runs"][0]["predicted_ms"] == pytest.approx((5.0, 0.5))
    with pytest.raises(ValueError, match="not at 12"):
        verdict.row_verdicts([_run(slow)], at=12)


def test_the_median_interval_is_the_binomial_one():
    """Order statistics k and n + 1 - k, k from the binomial (n, 1/2): the textbook values."""
    assert verdict.median_interval([3.0, 1.0, 2.0, 5.0, 4.0]) is None  # (min, max) holds 94 % only
    assert verdict.median_interval([3.0, 1.0, 2.0, 6.0, 5.0, 4.0]) == (1.0, 6.0)  # 97 %
    values = [float(v) for v in range(1, 21)]
    assert verdict.median_interval(values) == (6.0, 15.0)  # n = 20: 95.9 %; (7, 14) only 88.5 %
    assert verdict.median_interval(values, confidence=0.80) == (7.0, 14.0)
    assert verdict.median_interval(list(range(100))) == (39, 60)  # n = 100: k = 40
    lo, hi = verdict.median_interval(list(range(2000)))  # 2^2000 overflows a float; exact here
    assert 950 < lo < 999.5 < hi < 1050


def test_many_rounds_decide_what_the_quartiles_leave_level():
    """Speedup ratios spread evenly from 0.85 to 1.25 (median 1.05): a quarter of the rounds fall
    below 1, so the quartiles straddle it, but 100 rounds place the median above 1; 10 do not."""

    def spread(n):
        ratios = [0.85 + 0.4 * i / (n - 1) for i in range(n)]
        # PyTorch 2x in every round; minidl's one-core time sets its speedup to 2 x the ratio
        return _row("spread", {1: [2.0 * r for r in ratios], 2: [1.0] * n}, {1: [2.0] * n, 2: [1.0] * n})

    (many,) = verdict.row_verdicts([_run(spread(100))])
    q1, median, _ = many["ratio_quartiles"]
    assert q1 < 1 < median == pytest.approx(1.05)
    assert many["ratio_interval"][0] > 1 and many["verdict"] == "at least"
    (few,) = verdict.row_verdicts([_run(spread(10))])
    assert few["ratio_interval"][0] < 1 < few["ratio_interval"][1] and few["verdict"] == "level"
    (lone,) = verdict.row_verdicts([_run(spread(5))])
    assert lone["ratio_interval"] is None and lone["verdict"] == "too few rounds"


def test_the_table_gives_every_run_and_the_medians():
    table = verdict.format_table(verdict.row_verdicts([_run(AHEAD, MIXED), _run(AHEAD, MIXED)]))
    header, rule, ahead, mixed = table.splitlines()
    assert header.startswith("| row | speedup, minidl | speedup, PyTorch | @16 ms, minidl")
    assert rule.count("|") == header.count("|")
    cells = [c.strip() for c in ahead.strip("|").split("|")]
    assert cells[0] == "ahead" and cells[1] == "2.00 2.00 (2.00)" and cells[2] == "1.50 1.50 (1.50)"
    assert cells[5] == "2 of 2" and cells[6] == "1.33 [1.33, 1.33], [1.33, 1.33], 6 of 6"
    assert cells[7] == "at least" and cells[9] == "at most" and cells[8].startswith("0.")
    mixed_cells = [c.strip() for c in mixed.strip("|").split("|")]
    assert mixed_cells[7] == "level" and mixed_cells[6].endswith("4 of 6")


def test_a_file_that_is_not_a_run_is_named(tmp_path):
    not_json, not_a_run = tmp_path / "a.json", tmp_path / "b.json"
    not_json.write_text("{")
    not_a_run.write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match="a.json: not a readable JSON file"):
        verdict.load_runs([not_json])
    with pytest.raises(ValueError, match="b.json: expected the JSON of python -m bench"):
        verdict.load_runs([not_a_run])


def test_the_command_reads_files_and_says_when_nothing_compares(tmp_path, capsys):
    first, second, lone = tmp_path / "1.json", tmp_path / "2.json", tmp_path / "3.json"
    first.write_text(json.dumps(_run(AHEAD, MIXED)))
    second.write_text(json.dumps(_run(AHEAD, MIXED, cpu="Intel Xeon")))
    lone.write_text(json.dumps(_run(NO_PEER)))
    assert verdict.main([str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert "2 run(s)" in out and "different CPUs" in out and "| mixed |" in out
    assert "cores [1, 2], idle pause)" in out and "some runs kept the CPUs busy" not in out
    assert verdict.main([str(lone)]) == 1
    assert "no row was timed by both contenders" in capsys.readouterr().out
    # as a reader runs it, from the repository's root
    done = subprocess.run(
        [sys.executable, "-m", "bench.verdict", str(first), str(second), "--at", "8"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "@8 ms, minidl" in done.stdout and "| at least |" in done.stdout


def test_the_runs_say_how_they_paused_and_a_mix_is_named(tmp_path, capsys):
    busy, idle, old = tmp_path / "busy.json", tmp_path / "idle.json", tmp_path / "old.json"
    busy.write_text(json.dumps(_run(AHEAD, busy_pause=True)))
    idle.write_text(json.dumps(_run(AHEAD, busy_pause=False)))
    old.write_text(json.dumps(_run(AHEAD)))
    assert verdict.main([str(busy), str(busy)]) == 0
    out = capsys.readouterr().out
    assert "busy pause)" in out and "idle pause" not in out and "warning" not in out
    assert verdict.main([str(idle), str(old)]) == 0  # before the busy pause, runs slept: the same
    assert "warning" not in capsys.readouterr().out
    assert verdict.main([str(busy), str(old)]) == 0
    assert (
        "warning: some runs kept the CPUs busy between turns and some let them idle"
        in capsys.readouterr().out
    )


# the memory control: minidl's copy 1.8x on 2 cores, PyTorch's 1.6x
COPY = _row("copy (4, 4) float32 (memory peak)", {1: [1.8] * 3, 2: [1.0] * 3}, {1: [3.2] * 3, 2: [2.0] * 3})


def test_each_row_is_read_against_its_contenders_copy(tmp_path, capsys):
    # BEHIND: minidl 1.25x over its copy's 1.8x, PyTorch 2x over its copy's 1.6x; AHEAD: 2x, 1.5x
    runs = [_run(BEHIND, COPY), _run(AHEAD, BEHIND), _run(AHEAD, COPY, NO_PEER)]
    ceilings = verdict.memory_ceilings(runs)
    assert ceilings["name"] == COPY["name"] and ceilings["copy"] == [pytest.approx((1.8, 1.6))] * 2
    behind, ahead = ceilings["rows"]  # each divided by its own run's copy: the middle run has none
    assert behind["name"] == "behind" and behind["minidl"] == pytest.approx([1.25 / 1.8])
    assert behind["torch"] == pytest.approx([1.25])
    assert ahead["minidl"] == pytest.approx([2 / 1.8]) and ahead["torch"] == pytest.approx([1.5 / 1.6])
    assert verdict.memory_ceilings([_run(BEHIND)]) is None  # no control row
    table = verdict.format_ceilings(ceilings).splitlines()
    assert table[0].startswith(f"Against the memory's ceiling: {COPY['name']} sped up 1.80 1.80 (1.80)")
    assert "and 1.60 1.60 (1.60) with PyTorch's" in table[0]
    assert table[-2:] == ["| behind | 0.69 (0.69) | 1.25 (1.25) |", "| ahead | 1.11 (1.11) | 0.94 (0.94) |"]
    path = tmp_path / "run.json"
    path.write_text(json.dumps(_run(BEHIND, COPY)))
    assert verdict.main([str(path)]) == 0
    assert "| behind | 0.69 (0.69) | 1.25 (1.25) |" in capsys.readouterr().out
    path.write_text(json.dumps(_run(BEHIND)))
    assert verdict.main([str(path)]) == 0
    assert "memory's ceiling" not in capsys.readouterr().out
