"""Several runs of ``python -m bench --cores ...`` read together: does minidl scale as PyTorch does?

On a shared virtual machine one run decides nothing: the same code met a row's conditions in
three runs of three and, ten minutes later, in none of five (docs/performance.md, section 21).
This module reads the JSON files of several runs and, for each CPU row that both contenders
timed at two core counts or more, gives

- per run, each contender's speedup (its time at the fewest cores / at the most) and the time
  Amdahl's law predicts at ``at`` cores (16 unless asked), and whether the run met both
  conditions of issue 73: minidl's speedup at least PyTorch's, its predicted time at most
  PyTorch's;
- pooled over every round of every run, minidl's speedup divided by PyTorch's, each taken from
  one round's four medians (minidl and PyTorch at the fewest and at the most cores, measured
  seconds apart, so a machine drifting over minutes moves them alike): the quartiles of that
  ratio, and in how many rounds it was at least 1.

The verdict on the speedups comes from those rounds: "at least" when the first quartile of the
ratio is at least 1 (minidl's speedup at least PyTorch's in three rounds of four or more),
"below" when the third quartile is below 1, otherwise "level": on this machine, within its
noise, the two scale alike. A tie reads "level": the GEMM row, one BLAS product on both sides,
had its ratio at least 1 in 11 rounds of 30 on a 2-core Xeon VM (docs/performance.md, section 26).
The prediction is read off each run's fit (``scaling.amdahl_fit``).

    for i in 1 2 3 4 5; do python -m bench --cores 1,2 --no-cold-start --json runs/$i.json; done
    python -m bench.verdict runs/*.json            # --at 8 for the 8-core prediction

Nothing is timed here: the module only reads what the runs wrote.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from .scaling import PREDICT_AT

__all__ = ["load_runs", "row_verdicts", "round_ratios", "format_table", "main"]


def load_runs(paths: list[str | Path]) -> list[dict]:
    """The JSON of each run, in order; a clear error for a file that is not a bench run."""
    runs = []
    for path in paths:
        try:
            run = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable JSON file ({error})") from error
        if not isinstance(run, dict) or not isinstance(run.get("workloads"), list):
            raise ValueError(
                f"{path}: expected the JSON of python -m bench (a 'workloads' list), got something else"
            )
        runs.append(run)
    return runs


def round_ratios(scaling: dict) -> list[float]:
    """minidl's speedup / PyTorch's, one per round, from a row's ``scaling`` record.

    Round r's speedup of a contender is its median at the fewest cores over its median at the
    most, both of round r (``round_medians_ms``); rounds one of the four lacks are left out.
    """
    fewest, most = (str(c) for c in (scaling["cores"][0], scaling["cores"][-1]))
    series = [
        scaling[who][count]["round_medians_ms"] for who in ("numba", "torch") for count in (fewest, most)
    ]
    ratios = []
    for nb_few, nb_most, t_few, t_most in zip(*series):
        if min(nb_few, nb_most, t_few, t_most) > 0:
            ratios.append((nb_few / nb_most) / (t_few / t_most))
    return ratios


def _comparable(row: dict) -> dict | None:
    scaling = row.get("scaling")
    if not scaling or not scaling.get("numba_fit") or not scaling.get("torch_fit"):
        return None  # a GPU row, a run without PyTorch, or a single core count
    return scaling


def row_verdicts(runs: list[dict], at: int = 16) -> list[dict]:
    """One record per row that both contenders timed at several core counts, rows in the first
    run's order: per-run speedups and predictions, runs that met both conditions, the pooled
    round ratios' quartiles and count, and the verdict (see the module's docstring)."""
    if at not in PREDICT_AT:
        raise ValueError(f"the runs predict at {', '.join(map(str, PREDICT_AT))} cores, not at {at}")
    rows: dict[str, dict] = {}
    for run in runs:
        for row in run["workloads"]:
            scaling = _comparable(row)
            if scaling is None:
                continue
            nb, t = scaling["numba_fit"], scaling["torch_fit"]
            record = rows.setdefault(row["name"], {"name": row["name"], "runs": [], "ratios": []})
            nb_at, t_at = nb["predicted_ms"][str(at)], t["predicted_ms"][str(at)]
            met = nb["speedup"] >= t["speedup"] and nb_at <= t_at
            record["runs"].append(
                {"speedup": (nb["speedup"], t["speedup"]), "predicted_ms": (nb_at, t_at), "met": met}
            )
            record["ratios"].extend(round_ratios(scaling))
    for record in rows.values():
        ratios = record["ratios"]
        if len(ratios) >= 2:
            q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
        else:
            q1 = median = q3 = ratios[0] if ratios else float("nan")
        record["ratio_quartiles"] = (q1, median, q3)
        record["rounds_at_least_1"] = sum(r >= 1 for r in ratios)
        record["runs_met"] = sum(r["met"] for r in record["runs"])
        record["verdict"] = "at least" if q1 >= 1 else "below" if q3 < 1 else "level"
    return list(rows.values())


def _series(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values) + f" ({statistics.median(values):.2f})"


def format_table(verdicts: list[dict], at: int = 16) -> str:
    """A Markdown table of ``row_verdicts`` (medians in parentheses), as docs/performance.md shows them."""
    lines = [
        f"| row | speedup, minidl | speedup, PyTorch | @{at} ms, minidl | @{at} ms, PyTorch | runs met "
        "| minidl / PyTorch speedup by round: quartiles, rounds at least 1 | speedup verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        runs = v["runs"]
        q1, median, q3 = v["ratio_quartiles"]
        lines.append(
            f"| {v['name']} | {_series([r['speedup'][0] for r in runs])} | {_series([r['speedup'][1] for r in runs])} "
            f"| {_series([r['predicted_ms'][0] for r in runs])} | {_series([r['predicted_ms'][1] for r in runs])} "
            f"| {v['runs_met']} of {len(runs)} | {median:.2f} [{q1:.2f}, {q3:.2f}], {v['rounds_at_least_1']} of "
            f"{len(v['ratios'])} | {v['verdict']} |"
        )
    return "\n".join(lines)


def _runs_line(runs: list[dict], paths: list[str]) -> str:
    described = []
    for path, run in zip(paths, runs):
        env = run.get("environment", {})
        counts = env.get("scaling", {}).get("counts")
        described.append(
            f"{path} ({env.get('time_utc', 'time unknown')}, {env.get('cpu_model', 'CPU unknown')}, cores {counts})"
        )
    machines = {run.get("environment", {}).get("cpu_model") for run in runs}
    warning = (
        ""
        if len(machines) <= 1
        else f"\nwarning: the runs come from different CPUs {sorted(map(str, machines))}"
    )
    return f"{len(runs)} run(s): " + "; ".join(described) + warning


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.verdict",
        description="Read several runs of python -m bench --cores ... together (see this module's docstring).",
    )
    parser.add_argument("runs", nargs="+", help="JSON files written by python -m bench --json")
    parser.add_argument(
        "--at", type=int, default=16, choices=PREDICT_AT, help="the core count of the prediction"
    )
    args = parser.parse_args(argv)
    try:
        runs = load_runs(args.runs)
    except ValueError as error:
        parser.error(str(error))
    verdicts = row_verdicts(runs, args.at)
    print(_runs_line(runs, args.runs))
    if not verdicts:
        print(
            "no row was timed by both contenders at two core counts or more (run with PyTorch installed, --cores 1,N)"
        )
        return 1
    print(format_table(verdicts, args.at))
    return 0


if __name__ == "__main__":
    sys.exit(main())
