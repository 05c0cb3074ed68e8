"""Every spec's contract (``Exercise.contract``: the outputs' dtypes, the inputs it may
change, fresh outputs) is true of its reference, enforced by the judge, and stated by the
task ("What the cases hold you to")."""

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.runtime.probes import Case

ROOT = Path(__file__).resolve().parents[3]
SEEDS = (1, 2, 3)


def _compared() -> list[registry.Exercise]:
    """The code exercises judged by comparing outputs with a reference (``public``, as a call)."""
    return [
        e
        for e in registry.all_exercises()
        if not e.is_question and e.public is not None and e.public_kind == "call"
    ]


def _outputs(exercise, out) -> tuple:
    return (out,) if len(exercise.outputs) <= 1 else tuple(out)


def _arg_names(exercise, case: Case) -> list[str]:
    reference = exercise.references.get(case.entry or exercise.entries[0])
    if reference is None:
        return []
    return list(reference.__code__.co_varnames[: reference.__code__.co_argcount])


def _meets(value, dtype: str, exercise, case: Case) -> bool:
    if dtype == "number":
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        )
    if dtype == "int":
        if isinstance(value, np.ndarray):
            return value.dtype.kind in "iu"
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not isinstance(value, np.ndarray):
        return False
    if dtype == "bool":
        return value.dtype == np.bool_
    if dtype.startswith("like:"):
        names = _arg_names(exercise, case)
        argument = case.args[names.index(dtype[5:])]
        return value.dtype == np.asarray(argument).dtype
    return value.dtype == np.dtype(dtype)


@pytest.mark.parametrize("exercise", _compared(), ids=lambda e: e.name)
def test_the_contract_is_declared_and_true_of_the_reference(exercise):
    contract = exercise.contract
    assert contract is not None, f"{exercise.name}: declare its outputs' dtypes (dtypes=...)"
    assert len(contract.dtypes) == max(len(exercise.outputs), 1), exercise.name
    for seed in SEEDS:
        for case in exercise.make_cases(registry.rng_for(exercise.name, seed)):
            kept = copy.deepcopy(case.args)
            outputs = _outputs(exercise, exercise.public(case)["expected"])
            for name, value, dtype in zip(exercise.outputs or ("output",), outputs, contract.dtypes):
                assert _meets(value, dtype, exercise, case), (
                    f"{exercise.name} ({case.label}): `{name}` is {type(value).__name__} "
                    f"{getattr(value, 'dtype', '')}, its contract says {dtype}"
                )
            # the reference leaves its inputs as they were (public() hands it a copy: check
            # the case's own arguments too, which every seed's judge reuses)
            for before, after in zip(kept, case.args):
                if isinstance(before, np.ndarray):
                    assert np.array_equal(before, after, equal_nan=True), exercise.name


@pytest.mark.parametrize("exercise", _compared(), ids=lambda e: e.name)
def test_a_wrong_dtype_fails_where_the_contract_names_one(exercise):
    """The reference's own outputs, cast (float64 -> float32, int -> float64), are rejected."""
    case = exercise.make_cases(registry.rng_for(exercise.name, SEEDS[0]))[0]
    expected = exercise.public(case)["expected"]
    outputs = _outputs(exercise, expected)
    arrays = [i for i, v in enumerate(outputs) if isinstance(v, np.ndarray)]
    ints = [i for i, v in enumerate(outputs) if isinstance(v, (int, np.integer)) and not isinstance(v, bool)]
    if not arrays and not ints:
        pytest.skip("plain float outputs: any real number is one")
    index = (arrays or ints)[0]
    value = outputs[index]
    if isinstance(value, np.ndarray):
        cast = value.astype(np.float32 if value.dtype == np.float64 else np.float64)
    else:
        cast = float(value)
    wrong = list(outputs)
    wrong[index] = cast
    got = wrong[0] if len(exercise.outputs) <= 1 else tuple(wrong)
    problem = exercise.judge(case, got)
    assert problem and ("dtype" in problem or "an int" in problem), (exercise.name, problem)
    assert exercise.judge(case, expected) is None


# ---------------------------------------------------------------------- the task says it
def _task_texts() -> dict[str, str]:
    """Each exercise's "What the cases hold you to" paragraph in solutions/."""
    texts = {}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        last = ""
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell.get("source", ()))
            if cell["cell_type"] == "markdown" and "What the cases hold you to" in source:
                last = source[source.index("What the cases hold you to") :]
            meta = cell.get("metadata", {}).get("minidl", {})
            if cell["cell_type"] == "code" and isinstance(meta, dict) and meta.get("exercise"):
                texts.setdefault(meta["exercise"], last)
    return texts


@pytest.mark.parametrize("exercise", _compared(), ids=lambda e: e.name)
def test_the_task_states_the_dtypes_of_its_contract(exercise):
    text = " ".join(_task_texts().get(exercise.name, "").split())
    assert text, f"{exercise.name}: no 'What the cases hold you to' paragraph"
    dtypes = set(exercise.contract.dtypes) if exercise.contract else set()
    if "float64" in dtypes:
        stated = r"float64[^.;]*outputs?|(outputs?|return\w*|gradients?)[^.;]*float64|float64 arrays? of"
        assert re.search(stated, text, re.IGNORECASE), (
            f"{exercise.name}: the task should say its outputs are float64 arrays: {text[:300]}"
        )
    if "int" in dtypes:
        assert re.search(r"\bints?\b|integer", text), f"{exercise.name}: the task should say int"
    if any(d.startswith("like:") for d in dtypes):
        assert "dtype of" in text, f"{exercise.name}: the task should say the output has its input's dtype"


def _int_kind(value) -> str | None:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return "an int"
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        return "an int array"
    if isinstance(value, (list, tuple)) and value and all(_int_kind(v) == "an int" for v in value):
        return "a list of ints"
    return None


@pytest.mark.parametrize("exercise", _compared(), ids=lambda e: e.name)
def test_the_task_names_only_int_arguments_that_exist(exercise):
    """No boilerplate about ints the exercise does not take: each argument the task calls an
    int is one in every case, and the generic "sizes, counts, labels and lengths" is gone."""
    text = " ".join(_task_texts().get(exercise.name, "").split())
    assert "sizes, counts, labels and lengths" not in text, exercise.name
    named = set(re.findall(r"`(\w+)`(?= is an int| is a list of ints)", text))
    listed = re.search(r"((?:`\w+`, )*`\w+` and `\w+`) are ints", text)
    if listed:
        named |= set(re.findall(r"`(\w+)`", listed.group(1)))
    for seed in SEEDS:
        for case in exercise.make_cases(registry.rng_for(exercise.name, seed)):
            names = _arg_names(exercise, case)
            for name in named:
                if name in names:
                    value = case.args[names.index(name)]
                    assert _int_kind(value), f"{exercise.name}: the task calls `{name}` an int"
