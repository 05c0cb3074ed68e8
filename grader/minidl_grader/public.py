"""``minidl-grade public-data``: the public cases that minidl ships for ``check()``.

For every exercise of the registry it writes into ``minidl/exercises/data/`` (see
``minidl.exercises.data`` for the format): for a code exercise whose cases are plain calls
(``function_exercise``, or any exercise that says what it compares: ``Exercise.public``),
its *visible* cases drawn at ``PUBLIC_SEED`` -- the arguments,
the reference's outputs, the outputs of each listed mistake, the constants that explain a
scaled answer -- computed here, in the grader. An exercise judged otherwise than by its
outputs (``Exercise.public_kind``: Numba and CUDA kernels, models changed in place, answers
judged with their inputs after the call, weights judged by what they compute) adds what
``check()`` needs to judge it that way (``minidl.exercises.probes``) under ``extra``: the
launch of a kernel, the state of the inputs after the call, the model's expected flags. An
exercise without ``public`` (a course's own) records only why it has no public case. For a
question: its kind and, for a multiple choice, the letters: never the answer.

Grading never uses ``PUBLIC_SEED`` (``minidl-grade grade --seed`` refuses it), so what
``check()`` reveals is never what is graded.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from minidl.exercises import data

from .confinement.isolation import library_dir
from .judge import registry
from .judge.judging import visibility_of

__all__ = ["PUBLIC_SEED", "public_data", "encode", "write", "main"]

PUBLIC_SEED = 20240101  # the seed of the public cases; the grader refuses it for grading

_WHY_NOT = {
    "numba": "a Numba kernel, whose compilation is checked",
    "cuda": "a CUDA kernel, compiled and run on the GPU",
    "freeze": "a model whose layers are changed in place",
    "fine_tune": "a model trained for a step",
    "call_and_inputs": "judged with its inputs after the call",
}


# ---------------------------------------------------------------------- the files
def encode(value, arrays: dict[str, np.ndarray]):
    """``value`` as JSON-ready data; each array goes into ``arrays`` under a fresh key."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.ndarray):
        key = f"k{len(arrays)}"
        arrays[key] = value
        return {"array": key}
    if isinstance(value, tuple):
        return {"tuple": [encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v, arrays) for k, v in value.items()}}
    name = getattr(value, "__name__", None)
    if callable(value) and name in data.FUNCTIONS:
        return {"function": name}
    raise TypeError(f"cannot store a value of type {type(value).__name__} as public data")


def stored_once(index: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """``index`` with each array that equals an earlier one (dtype, shape and bytes) referred
    to by that one's key, and the arrays left: a mistake's output that is another's, an input
    stored twice, are stored once (``data.decode`` copies what it reads, so nothing is shared)."""
    first: dict[tuple, str] = {}
    alias: dict[str, str] = {}
    for key in sorted(arrays, key=lambda k: (len(k), k)):  # k2 before k10
        array = np.asarray(arrays[key])
        content = (array.dtype.str, array.shape, hashlib.sha256(array.tobytes()).hexdigest())
        alias[key] = first.setdefault(content, key)

    def point(value):
        if isinstance(value, list):
            return [point(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"array"} and isinstance(value["array"], str):
                return {"array": alias[value["array"]]}
            return {k: point(v) for k, v in value.items()}
        return value

    return point(index), {key: arrays[key] for key in first.values()}


def write(index: dict, arrays: dict[str, np.ndarray], folder: Path = data.DATA_DIR) -> list[Path]:
    """Write ``public.json`` and ``public.npz`` into ``folder`` (the format: ``minidl.exercises.data``) (an array stored once however
    often it occurs); return their paths."""
    index, arrays = stored_once(index, arrays)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / data.INDEX, folder / data.ARRAYS]
    paths[0].write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    # an .npz is a zip of .npy files; written by hand with a fixed date, so that the same
    # arrays give the same bytes (np.savez stamps the current time)
    with zipfile.ZipFile(paths[1], "w", zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    data.load.cache_clear()
    return paths


HINTS = Path(__file__).resolve().parent / "specs" / "hints.toml"


def read_hints(path: Path = HINTS) -> dict[str, list[str]]:
    """The graded hints of ``specs/hints.toml``: exercise -> its hints, nudge first."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    if not path.is_file():
        return {}
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    return {name: list(entry["hints"]) for name, entry in table.items()}


def public_data(seed: int = PUBLIC_SEED) -> tuple[dict, dict]:
    """``(index, arrays)`` for ``write``."""
    arrays: dict = {}
    exercises = {}
    hints = read_hints()
    for exercise in registry.all_exercises():
        entry: dict[str, object] = {
            "chapter": exercise.chapter,
            "kind": exercise.kind,
            "entries": list(exercise.entries),
        }
        if exercise.name in hints:  # what hint(name) shows, level by level
            entry["hints"] = hints[exercise.name]
        if getattr(exercise, "forbids", ()):  # check() fails an answer that uses them
            entry["forbids"] = list(exercise.forbids)
        if exercise.is_question:
            if exercise.kind == "choice":
                assert exercise.choices is not None, exercise.name  # a choice question has them
                entry["choices"] = sorted(exercise.choices)
        elif exercise.public is None:
            entry["why"] = _WHY_NOT.get(exercise.probe, "judged by the grader only")
            entry["cases"] = []
        else:
            cases = exercise.make_cases(registry.rng_for(exercise.name, seed))
            entry["outputs"] = list(exercise.outputs)
            entry["tolerance"] = exercise.tolerance
            if exercise.public_kind != "call":  # how check() judges the cases
                entry["judged_as"] = exercise.public_kind
            if exercise.numba_parallel:  # check() looks for @njit(parallel=True)
                entry["parallel"] = True
            public_cases: list[dict[str, object]] = []
            entry["cases"] = public_cases
            for case in cases:
                if visibility_of(exercise, case) != "visible":
                    continue
                known = exercise.public(case)
                public_case = {
                    "label": case.label,
                    "entry": case.entry,
                    "args": encode(case.args, arrays),
                    "expected": encode(known["expected"], arrays),
                    "mistakes": [[hint, encode(out, arrays)] for hint, out in known["mistakes"]],
                    "factors": encode(dict(known["factors"]), arrays),
                }
                if case.extra.get("fresh_outputs"):  # an output must not be a view of an input
                    public_case["fresh_outputs"] = True
                if case.extra.get("exact_zeros"):  # the expected zeros must be exactly 0
                    public_case["exact_zeros"] = True
                if "outputs" in known:  # the outputs' names, when they depend on the case
                    public_case["outputs"] = list(known["outputs"])
                if "scales" in known:  # each output judged element by element (compare_outputs)
                    public_case["scales"] = encode(known["scales"], arrays)
                if "extra" in known:  # what the exercise's way of judging needs
                    public_case["extra"] = encode(known["extra"], arrays)
                public_cases.append(public_case)
        exercises[exercise.name] = entry
    return {"seed": seed, "exercises": exercises}, arrays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="minidl-grade public-data",
        description="Write the public cases that minidl's check() judges against (data, no code).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=library_dir() / "exercises" / "data",
        help="the folder (default: minidl/exercises/data of the minidl the grader imports)",
    )
    args = parser.parse_args(argv)
    index, arrays = public_data()
    for path in write(index, arrays, args.out):
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
