"""Shortcuts score 0 (issue 40): each exercise's spec names what computes its result.

A right answer that calls minidl's own layer or kernel (``MaxPool2D``, ``minidl.kernels``) in
any spelling scores 0 with a message naming what it used and how an instructor re-enables
it; ``--allow NAME`` restores the score; the grader itself can never be allowed.
"""

import copy
import json
from pathlib import Path

import pytest
from minidl_grader import cli, notebook, runner
from minidl_grader.judge import provenance, registry

ROOT = Path(__file__).resolve().parents[3]
CHAPTER7 = ROOT / "solutions" / "07_convolutional_networks.ipynb"
HEAD = "def maxpool_backward(dy, x, pool, stride):\n"
BY_LAYER = (
    "    layer = {cls}(pool, stride)\n    layer.forward(x, training=True)\n    return layer.backward(dy)\n"
)
SHORTCUTS = {  # name -> (the maxpool_backward cell: a right answer, what the message names)
    "MaxPool2D imported in the cell": (
        "from minidl.nn.layers import MaxPool2D\n" + HEAD + BY_LAYER.format(cls="MaxPool2D"),
        "minidl.nn.layers.MaxPool2D",
    ),
    "through the package's attribute": (
        "import minidl as mdl\n" + HEAD + BY_LAYER.format(cls="mdl.layers.MaxPool2D"),
        "minidl.layers.MaxPool2D",
    ),
    "the reference kernels": (
        "from minidl.kernels import reference as R\n"
        + HEAD
        + "    y, where = R.max_pool_forward(x, pool, pool, stride, stride)\n"
        "    return R.max_pool_backward(dy, where, x.shape, pool, pool, stride, stride)\n",
        "minidl.kernels.reference",
    ),
}


# the same shortcut built at run time: the grader's reading sees only a dynamic import; the
# sandbox swaps the forbidden class for a stand-in that raises during the exercise's calls
BUILT = (
    "import importlib\n"
    + HEAD
    + "    layers = importlib.import_module('minidl.nn.' + 'layers')\n"
    + BY_LAYER.format(cls="getattr(layers, 'Max' + 'Pool2D')")
)


# Libraries outside minidl that compute an exercise's answer (BLEU, ranks, ROC): a spec forbids
# them by spelling (the reading catches their imports and calls); the grader never imports them
OTHER_LIBRARIES = {"nltk", "sacrebleu", "scipy", "sklearn"}


def test_every_code_exercise_forbids_what_computes_it_and_every_name_exists():
    for exercise in registry.all_exercises():
        if exercise.is_question:
            continue
        assert exercise.forbids, f"{exercise.name} forbids nothing"
        for entry in exercise.forbids:
            if entry.split(".")[0] in OTHER_LIBRARIES:
                continue
            assert provenance._resolve(entry) is not None, (exercise.name, entry)


def test_another_librarys_function_is_refused_by_its_spelling():
    """corpus_chrf forbids nltk: an answer that imports NLTK's chrF under another name is read as
    using it."""
    source = (
        "from nltk.translate.chrf_score import corpus_chrf as cc\n"
        "def corpus_chrf(c, r, beta):\n    return cc(r, c, beta=beta)\n"
    )
    uses = provenance.library_uses([("<cell>", source, "corpus_chrf")])
    found = provenance.spec_forbidden_uses(uses["corpus_chrf"], list(registry.get("corpus_chrf").forbids))
    assert found == [("nltk.translate.chrf_score.corpus_chrf", "nltk")]
    chapter7 = {e.name: e.forbids for e in registry.for_chapter("07_convolutional_networks")}
    assert "minidl.nn.layers.MaxPool2D" in chapter7["maxpool_backward"]
    assert "minidl.nn.layers.Conv2D" in chapter7["dilated_conv2d_weight_gradient"]


def test_no_solution_uses_what_its_exercise_forbids():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = notebook.read_notebook(path)
        exercises = registry.for_chapter(runner.find_chapter(nb, path))
        cells, _ = runner._graded_cells(nb, exercises)
        uses = provenance.library_uses(cells)
        assert runner._refusals(exercises, cells, uses, (), (), provenance.tampering(cells)) == {}, path.name


@pytest.mark.parametrize(
    "name, entry, expected",
    [
        ("minidl.nn.layers.MaxPool2D", "minidl.nn.layers.MaxPool2D", True),
        ("minidl.models.MaxPool2D", "minidl.nn.layers.MaxPool2D", True),  # the same class, bound elsewhere
        ("minidl.nn.layers.conv.MaxPool2D", "minidl.nn.layers.MaxPool2D", True),  # its home
        ("minidl.nn.layers.MaxPool2D", "minidl.nn.layers.conv", True),  # defined there
        ("minidl.kernels.cpu.max_pool_backward", "minidl.kernels", True),
        ("minidl.nn.layers.AvgPool2D", "minidl.nn.layers.MaxPool2D", False),
        ("minidl.nn.layers.Dense", "minidl.nn.layers.conv", False),
        ("numpy.lib.stride_tricks.sliding_window_view", "minidl.kernels", False),
    ],
)
def test_a_forbidden_name_is_found_in_any_spelling(name, entry, expected):
    assert bool(provenance.spec_forbidden_uses([name], [entry])) is expected


def _chapter7_with(answer: str) -> dict:
    nb = copy.deepcopy(notebook.read_notebook(CHAPTER7))
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "maxpool_backward":
            cell["source"] = answer
    return nb


def _grade(folder: Path, *options: str) -> dict:
    out = folder.parent / f"results{len(options)}.json"
    args = [str(folder), "--json", str(out), "--seed", "7", "--timeout", "30", "--jobs", "2", "--quiet"]
    assert cli.main(args + list(options)) == 0
    return {
        Path(r["submission"]).stem: {t["name"]: t for t in r["tests"]} for r in json.loads(out.read_text())
    }


@pytest.mark.sandbox
def test_a_shortcut_scores_zero_names_what_it_used_and_allow_restores_it(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    for i, (answer, _) in enumerate(SHORTCUTS.values()):
        (folder / f"shortcut_{i}.ipynb").write_text(json.dumps(_chapter7_with(answer)))
    (folder / "built.ipynb").write_text(json.dumps(_chapter7_with(BUILT)))
    grader = "import minidl_grader.runtime.probes as _p\n" + HEAD + BY_LAYER.format(cls="_M")
    (folder / "grader.ipynb").write_text(
        json.dumps(_chapter7_with("from minidl.nn.layers import MaxPool2D as _M\n" + grader))
    )
    graded = _grade(folder)
    for i, (name, (_, used)) in enumerate(SHORTCUTS.items()):
        test = graded[f"shortcut_{i}"]["maxpool_backward"]
        assert test["score"] == 0, (name, test)
        assert f"uses {used}, which computes what this exercise asks" in test["output"], (
            name,
            test["output"],
        )
        assert "--allow" in test["output"]
        others = [t for n, t in graded[f"shortcut_{i}"].items() if n != "maxpool_backward"]
        assert all(t["status"] == "passed" for t in others), (name, others)
    assert "uses the grader (minidl_grader.runtime.probes)" in graded["grader"]["maxpool_backward"]["output"]
    built = graded["built"]["maxpool_backward"]
    assert built["score"] == 0 and "MaxPool2D is forbidden in this assignment" in built["output"], built
    assert all(t["status"] == "passed" for n, t in graded["built"].items() if n != "maxpool_backward")

    allowed = _grade(folder, "--allow", "MaxPool2D", "--allow", "minidl.kernels")
    for i, name in enumerate(SHORTCUTS):
        assert allowed[f"shortcut_{i}"]["maxpool_backward"]["score"] == 2, (name, allowed[f"shortcut_{i}"])
    assert allowed["built"]["maxpool_backward"]["score"] == 2, allowed["built"]  # every test's output
    assert allowed["grader"]["maxpool_backward"]["score"] == 0  # the grader is never allowed


@pytest.mark.parametrize(
    "name", ["minidl.grading", "minidl.grading.specs", "minidl_grader.judge", "bad name"]
)
def test_the_grader_cannot_be_allowed(tmp_path, name, capsys):
    assert cli.main([str(CHAPTER7), "--allow", name]) == 2
    assert "--allow" in capsys.readouterr().err


def test_allow_matches_a_name_a_module_above_it_or_its_last_part():
    assert runner.allowed("minidl.nn.layers.MaxPool2D", ("MaxPool2D",))
    assert runner.allowed("minidl.nn.layers.MaxPool2D", ("minidl.nn.layers",))
    assert runner.allowed("minidl.kernels", ("minidl.kernels",))
    assert not runner.allowed("minidl.nn.layers.MaxPool2D", ("Pool2D",))
    assert not runner.allowed("minidl.nn.layers.MaxPool2D", ("minidl.nn.lay",))
