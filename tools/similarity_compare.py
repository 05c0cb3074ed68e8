"""The grader's similarity detector beside copydetect and Dolos, on the same corpus (issue 68).

    python tools/similarity_compare.py                        # ours and copydetect (if installed)
    python tools/similarity_compare.py --dolos /tmp/dolos     # and Dolos, installed there with npm

The corpus and its halves are ``tools/similarity_thresholds.py``'s: independent right
answers (each with the published solution, or two rewrites with each other: the honest
pairs) and copies of every published solution (renamed, reordered, padded, in ``exec``,
rewritten with identity helpers and respelled operators, by hand), each compared with the
solution it copies. Ours is judged with its thresholds (``similarity_thresholds.json``);
each other tool with one threshold set the same way on the training half (its honest
pairs' 95th percentile plus 0.05). The rates printed are the held-out half's.

copydetect (``pip install copydetect``) runs with its defaults (noise threshold 25 tokens,
guarantee 30: k 25, window 6), a pair's score the larger of its two overlaps; it hashes
with Python's ``hash``, so the tool runs under ``PYTHONHASHSEED=0`` (other seeds move its
threshold by a few hundredths). Dolos runs
through ``tools/dolos_scores.mjs`` and Node with the ``@dodona/dolos-lib`` that
``npm install @dodona/dolos-lib`` put in ``--dolos DIR`` (Dolos is not part of this
repository: installing it is a step of the measurement), with its defaults (k 23, window
17), a pair's score its ``similarity`` and, beside it, the larger of the two files' covered
shares (the grader's own measure, containment). Nothing here changes the grader.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import similarity_thresholds as st  # noqa: E402
from minidl_grader import similarity  # noqa: E402


def _pairs(data: dict) -> tuple[list, list]:
    """``(exercise, kind, held_out, (a, b))`` of every honest pair and every copy."""
    solutions = data["solutions"]
    honest = [
        (e, kind, held, s if kind == "pair" else (s, solutions[e])) for e, kind, s, held in data["honest"]
    ]
    made = [(e, kind, held, (s, solutions[e])) for e, kind, s, held in data["copies"]]
    return honest, made


def _copydetect(pairs: list) -> list[float | None]:
    import copydetect

    prints: dict[str, object] = {}

    def fp(source: str):
        if source not in prints:
            prints[source] = copydetect.CodeFingerprint("answer.py", 25, 6, fp=io.StringIO(source))
        return prints[source]

    scores: list[float | None] = []
    for a, b in pairs:
        try:
            _, overlap, _ = copydetect.compare_files(fp(a), fp(b))
            scores.append(float(max(overlap)))
        except Exception:  # a source copydetect cannot read: nothing compared
            scores.append(None)
    return scores


def _dolos(pairs: list, exercises: list[str], folder: Path) -> tuple[list, list]:
    """Every pair of one exercise's sources scored in one Dolos analysis of that exercise."""
    groups: dict[str, list[str]] = {}
    for exercise, (a, b) in zip(exercises, pairs):
        group = groups.setdefault(exercise, [])
        group += [s for s in (a, b) if s not in group]
    names = sorted(groups)
    run = subprocess.run(
        ["node", str(ROOT / "tools" / "dolos_scores.mjs"), str(folder)],
        input=json.dumps([groups[n] for n in names]),
        capture_output=True,
        text=True,
        check=True,
    )
    found = dict(zip(names, json.loads(run.stdout)))
    similarities: list[float | None] = []
    containments: list[float | None] = []
    for exercise, (a, b) in zip(exercises, pairs):
        i, j = sorted((groups[exercise].index(a), groups[exercise].index(b)))
        similarity_, containment = found[exercise].get(f"{i} {j}", (0.0, 0.0))
        similarities.append(float(similarity_))
        containments.append(float(containment))
    return similarities, containments


def _ours(data: dict) -> tuple[list, list]:
    honest, made = st.scores(data)
    return [h[3] for h in honest], [m[3] for m in made]


def _threshold(honest: list, scores: list) -> float:
    train = [s for h, s in zip(honest, scores) if not h[2] and s is not None]
    return min(1.0, st._quantile(train, st.QUANTILE) + st.MARGIN)


def _rates(honest: list, made: list, honest_scores: list, made_scores: list, limit) -> dict:
    """Held-out false positives and negatives; ``limit(exercise)``: the threshold."""
    mine = [(h, s) for h, s in zip(honest, honest_scores) if h[2]]
    copies = [(m, s) for m, s in zip(made, made_scores) if m[2]]
    fp = sum(s is not None and s >= limit(h[0]) for h, s in mine)
    missed = [(m, s) for m, s in copies if s is None or s < limit(m[0])]
    by_level = {
        level: (sum(m[1] == level for m, _ in missed), sum(m[1] == level for m, _ in copies))
        for level in (*st.LEVELS, "by hand")
    }
    return {"honest": len(mine), "fp": fp, "copies": len(copies), "fn": len(missed), "by level": by_level}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dolos", type=Path, help="the folder where npm installed @dodona/dolos-lib")
    args = parser.parse_args(argv)
    if os.environ.get("PYTHONHASHSEED") != "0":  # copydetect hashes with hash(): one seed, one answer
        command = [sys.executable, __file__, *(sys.argv[1:] if argv is None else argv)]
        return subprocess.run(command, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False).returncode
    data = st.corpus()
    honest, made = _pairs(data)
    rows = {}
    ours_h, ours_m = _ours(data)
    rows["ours (per-exercise thresholds)"] = _rates(honest, made, ours_h, ours_m, similarity.threshold)
    pairs = [p[3] for p in honest + made]
    tools = {}
    try:
        import copydetect  # noqa: F401

        tools["copydetect 0.5.0 (k 25, window 6)"] = _copydetect(pairs)
    except ImportError:
        print("copydetect is not installed: pip install copydetect", file=sys.stderr)
    if args.dolos:
        both = _dolos(pairs, [p[0] for p in honest + made], args.dolos)
        tools["Dolos 3.5.1 (k 23, window 17), its similarity"] = both[0]
        tools["Dolos 3.5.1, the larger covered share (containment)"] = both[1]
    for name, scores in tools.items():
        h, m = scores[: len(honest)], scores[len(honest) :]
        t = _threshold(honest, h)
        rows[f"{name}, threshold {t:.2f}"] = _rates(honest, made, h, m, lambda _e, t=t: t)
    levels = (*st.LEVELS, "by hand")
    print(
        "| detector | honest pairs | false positives | copies | false negatives | "
        + " | ".join(levels)
        + " |"
    )
    print("|---|---|---|---|---|" + "---|" * len(levels))
    for name, r in rows.items():
        cells = " | ".join(st._percent(*r["by level"][level]) for level in levels)
        print(
            f"| {name} | {r['honest']} | {st._percent(r['fp'], r['honest'])} | {r['copies']} | "
            f"{st._percent(r['fn'], r['copies'])} | {cells} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
