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
  seconds apart, so a machine drifting over minutes moves them alike): the median of that ratio
  with its 95 % interval, its quartiles, and in how many rounds it was at least 1; and the same
  for the prediction, each round's minidl time at ``at`` cores over PyTorch's, both fitted to
  that round's medians.

After the table, where the runs have the memory control row (``bench.conv.copy_workload``: a
copy of batch norm's array, on each contender's threads), each row's speedup over its contender's
copy speedup, run by run (``memory_ceilings``): a step that only streams its bytes cannot scale
much past that copy on the same machine, so minidl's batch norm near 1 there while PyTorch's is
above 1 says PyTorch's kernel does more work per byte, not that minidl's is held back by serial code.

The verdicts come from the intervals. The interval of a median is distribution-free: the
order statistics x_(k) and x_(n+1-k) of the n rounds hold the median of the rounds' population
with probability 1 - 2 P(B < k), B binomial (n, 1/2), and k is the largest for which that is at
least 95 % (``median_interval``; six rounds at least). The speedup verdict is "at least" when the
interval's lower end is at least 1 (in a typical round minidl's speedup is at least PyTorch's),
"below" when its upper end is below 1, otherwise "level": the rounds cannot tell the two apart,
and the interval says how far apart they can be. The prediction's verdict is "at most" when the
upper end of its ratio is at most 1, "above" when the lower end is above 1, otherwise "level".
Rounds are treated as independent draws; the machine's drift over minutes moves both contenders
of a round alike, which is why each ratio is taken inside one round.

Before issue 73's last runs the verdict read the quartiles (the first at least 1: "at least"): a
statement about the spread of single rounds, which stays as wide however many rounds are taken,
so a real 5 % difference on a VM whose rounds spread 15 % either way read "level" for ever
(docs/performance.md, sections 26 and 28). The quartiles are still in the table: how far single
rounds scatter. The runs' own conditions (``runs met``) are each run's fits, as the bench prints.

    for i in 1 2 3 4 5; do python -m bench --cores 1,2 --no-cold-start --json runs/$i.json; done
    python -m bench.verdict runs/*.json            # --at 8 for the 8-core prediction

Nothing is timed here: the module only reads what the runs wrote.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

from .scaling import PREDICT_AT, amdahl_fit

__all__ = [
    "load_runs",
    "median_interval",
    "round_predictions",
    "row_verdicts",
    "round_ratios",
    "format_table",
    "memory_ceilings",
    "format_ceilings",
    "main",
]

#: the name's mark of the control row that streams memory and does nothing else (``bench.conv.copy_workload``)
MEMORY_CONTROL = "(memory peak)"

#: the probability that a median interval holds the median of the rounds' population
CONFIDENCE = 0.95


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


def round_predictions(scaling: dict, at: int = 16) -> list[float]:
    """minidl's time at ``at`` cores / PyTorch's, one per round: each contender's Amdahl fit
    (``scaling.amdahl_fit``) to that round's medians at every core count; at most 1 where minidl's
    prediction is at most PyTorch's. Rounds one of the medians lacks are left out."""
    counts = [str(c) for c in scaling["cores"]]
    series = {who: [scaling[who][c]["round_medians_ms"] for c in counts] for who in ("numba", "torch")}
    ratios = []
    for nb_round, t_round in zip(zip(*series["numba"]), zip(*series["torch"])):
        if min(nb_round + t_round) <= 0:
            continue
        nb, t = (amdahl_fit(dict(zip(map(int, counts), r))) for r in (nb_round, t_round))
        if nb and t:  # None for a single core count
            ratios.append(nb["predicted_ms"][str(at)] / t["predicted_ms"][str(at)])
    return ratios


def median_interval(values: list[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The distribution-free interval (x_(k), x_(n+1-k)) for the median of the population the
    ``values`` were drawn from: k the largest with 1 - 2 P(B < k) >= ``confidence``, B binomial
    (n, 1/2). ``None`` when even (min, max) falls short (six values at least for 95 %)."""
    ordered, n = sorted(values), len(values)
    below, k = 0.0, 0  # below: P(B < k + 1), summed as k grows
    while k < n // 2:
        below += math.comb(n, k) / 2**n  # integers divided exactly: no overflow for long series
        if 1 - 2 * below < confidence:
            break
        k += 1
    return (ordered[k - 1], ordered[n - k]) if k else None


def _reading(interval, above: str, under: str) -> str:
    # a speedup ratio's interval against 1: ``above`` when its lower end is at least 1
    if interval is None:
        return "too few rounds"
    return above if interval[0] >= 1 else under if interval[1] < 1 else "level"


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
            record = rows.setdefault(
                row["name"], {"name": row["name"], "runs": [], "ratios": [], "prediction_ratios": []}
            )
            nb_at, t_at = nb["predicted_ms"][str(at)], t["predicted_ms"][str(at)]
            met = nb["speedup"] >= t["speedup"] and nb_at <= t_at
            record["runs"].append(
                {"speedup": (nb["speedup"], t["speedup"]), "predicted_ms": (nb_at, t_at), "met": met}
            )
            record["ratios"].extend(round_ratios(scaling))
            record["prediction_ratios"].extend(round_predictions(scaling, at))
    for record in rows.values():
        ratios = record["ratios"]
        if len(ratios) >= 2:
            q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
        else:
            q1 = median = q3 = ratios[0] if ratios else float("nan")
        record["ratio_quartiles"] = (q1, median, q3)
        record["ratio_interval"] = median_interval(ratios)
        record["rounds_at_least_1"] = sum(r >= 1 for r in ratios)
        record["runs_met"] = sum(r["met"] for r in record["runs"])
        record["verdict"] = _reading(record["ratio_interval"], "at least", "below")
        predictions = record["prediction_ratios"]
        record["prediction_median"] = statistics.median(predictions) if predictions else float("nan")
        record["prediction_interval"] = interval = median_interval(predictions)
        # the prediction's good side is at most 1: its reciprocal read as a speedup's
        flipped = None if interval is None else (1 / interval[1], 1 / interval[0])
        record["prediction_verdict"] = _reading(flipped, "at most", "above")
    return list(rows.values())


def _series(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values) + f" ({statistics.median(values):.2f})"


def _interval(median: float, interval) -> str:
    return (
        f"{median:.2f} [{interval[0]:.2f}, {interval[1]:.2f}]"
        if interval
        else f"{median:.2f} [too few rounds]"
    )


def format_table(verdicts: list[dict], at: int = 16) -> str:
    """A Markdown table of ``row_verdicts`` (medians in parentheses), as docs/performance.md shows them."""
    lines = [
        f"| row | speedup, minidl | speedup, PyTorch | @{at} ms, minidl | @{at} ms, PyTorch | runs met "
        "| minidl / PyTorch speedup by round: median [95 % interval], quartiles, rounds at least 1 "
        f"| speedup verdict | minidl / PyTorch @{at} ms by round: median [95 % interval] | prediction verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        runs = v["runs"]
        q1, median, q3 = v["ratio_quartiles"]
        lines.append(
            f"| {v['name']} | {_series([r['speedup'][0] for r in runs])} | {_series([r['speedup'][1] for r in runs])} "
            f"| {_series([r['predicted_ms'][0] for r in runs])} | {_series([r['predicted_ms'][1] for r in runs])} "
            f"| {v['runs_met']} of {len(runs)} | {_interval(median, v['ratio_interval'])}, [{q1:.2f}, {q3:.2f}], "
            f"{v['rounds_at_least_1']} of {len(v['ratios'])} | {v['verdict']} "
            f"| {_interval(v['prediction_median'], v['prediction_interval'])} | {v['prediction_verdict']} |"
        )
    return "\n".join(lines)


def memory_ceilings(runs: list[dict]) -> dict | None:
    """Each row's speedup over its contender's speedup on the memory control row (a copy) of the
    same run: one ratio a run for minidl and for PyTorch; None when no run has that row.

    A step that only streams its bytes cannot scale much past the copy of its own threads on the
    same machine; one that computes enough per byte can. So a row below PyTorch's speedup whose
    ratio is about 1 while PyTorch's is above 1 is as fast as the memory lets it become, and
    PyTorch's step does more work per byte (batch norm: docs/performance.md, section 35)."""
    name: str | None = None
    copies: list[tuple[float, float]] = []
    rows: dict[str, dict] = {}
    for run in runs:
        fits = {}
        for row in run["workloads"]:
            scaling = _comparable(row)
            if scaling is not None:
                fits[row["name"]] = (scaling["numba_fit"]["speedup"], scaling["torch_fit"]["speedup"])
        control = next((n for n in fits if MEMORY_CONTROL in n), None)
        if control is None:  # a run without the row (or from before it): nothing to divide by
            continue
        name, (nb_copy, t_copy) = control, fits.pop(control)
        copies.append((nb_copy, t_copy))
        for row_name, (nb, t) in fits.items():
            record = rows.setdefault(row_name, {"name": row_name, "minidl": [], "torch": []})
            record["minidl"].append(nb / nb_copy)
            record["torch"].append(t / t_copy)
    return None if name is None else {"name": name, "copy": copies, "rows": list(rows.values())}


def format_ceilings(ceilings: dict) -> str:
    """``memory_ceilings`` as a line naming the copy's speedups and a Markdown table, medians in parentheses."""
    copies = ceilings["copy"]
    lines = [
        f"Against the memory's ceiling: {ceilings['name']} sped up {_series([c[0] for c in copies])} "
        f"with minidl's threads and {_series([c[1] for c in copies])} with PyTorch's. A row's speedup "
        "over its contender's copy speedup, run by run: a step that only streams its bytes stays near "
        "1 or below, one that computes enough per byte can pass it.",
        "",
        "| row | minidl's speedup / its copy's | PyTorch's speedup / its copy's |",
        "|---|---|---|",
    ]
    for row in ceilings["rows"]:
        lines.append(f"| {row['name']} | {_series(row['minidl'])} | {_series(row['torch'])} |")
    return "\n".join(lines)


def _pause(run: dict) -> str:
    """How the run paused between turns (``bench.busy``); runs from before it was recorded slept."""
    return "busy pause" if run.get("environment", {}).get("busy_pause") else "idle pause"


def _runs_line(runs: list[dict], paths: list[str]) -> str:
    described = []
    for path, run in zip(paths, runs):
        env = run.get("environment", {})
        counts = env.get("scaling", {}).get("counts")
        described.append(
            f"{path} ({env.get('time_utc', 'time unknown')}, {env.get('cpu_model', 'CPU unknown')}, "
            f"cores {counts}, {_pause(run)})"
        )
    machines = {run.get("environment", {}).get("cpu_model") for run in runs}
    warning = (
        ""
        if len(machines) <= 1
        else f"\nwarning: the runs come from different CPUs {sorted(map(str, machines))}"
    )
    if len({_pause(run) for run in runs}) > 1:  # a VM's idle CPUs slow the next turns (bench/busy.py)
        warning += "\nwarning: some runs kept the CPUs busy between turns and some let them idle"
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
    ceilings = memory_ceilings(runs)
    if ceilings is not None:
        print("\n" + format_ceilings(ceilings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
