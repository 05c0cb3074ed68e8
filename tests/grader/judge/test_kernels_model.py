"""Chapter 9's functions run on a model, rebuilt from the notebook's source where no cell has
run (issue 68): ``probes.describe_kernel(fn, plain=True)`` (the submission's side: plain
data), ``kernels.model_spec`` (the grader: the description checked, the ``def`` found in
the cells and read for reflection) and ``probes.build_kernels(..., plain=True)`` /
``model_case`` (the fresh process), here chained in one process;
``tests/grader/test_runner_attacks_round6.py`` grades whole notebooks through the sandbox."""

import re

import numpy as np
import pytest
from minidl_grader.judge import kernels
from minidl_grader.runtime import codec, probes
from minidl_grader.specs import ch09

SETUP = "import numpy as np\nfrom minidl.nn.layers import Dense\n"
STEP = "discriminative_fine_tune_step"
# an honest step written with a module-level helper, a constant and a minidl class
HONEST = (
    "DECAY = 2.6\n"
    "def _weighted(model):\n"
    "    return [layer for layer in model.layers if layer.params and (isinstance(layer, Dense) or True)]\n"
    f"def {STEP}(model, x, y, loss_fn, lr):\n"
    "    loss = float(loss_fn(model.forward(x, training=True), y))\n"
    "    model.backward(loss_fn.backward())\n"
    "    for depth, layer in enumerate(reversed(_weighted(model))):\n"
    "        if layer.trainable:\n"
    "            for key, value in layer.params.items():\n"
    "                value -= lr / DECAY**depth * layer.grads[key]\n"
    "    return loss\n"
)


def _cells(source: str) -> list:
    return [("<cell 1>", SETUP, None), (f"<cell 2: {STEP}>", source, STEP)]


def _described(cells: list) -> dict:
    """The cells run here, the entry described and sent through the wire format."""
    space: dict = {}
    for label, source, _ in cells:
        exec(compile(source, label, "exec"), space)
    return codec.loads(codec.dumps(probes._described_model_probe(space, (STEP,), None)))["function"]


def _fresh(cells: list, built: dict | None = None):
    """The entry as the fresh process rebuilds it from what the grader found."""
    return probes.build_kernels(kernels.model_spec(_described(cells), STEP, cells, built), plain=True)[0]


def _case():
    return ch09._discriminative_cases(np.random.default_rng(3))[1]


def test_a_step_with_its_helpers_is_rebuilt_from_the_cells_and_judged_right():
    fn = _fresh(_cells(HONEST))
    assert fn.__code__.co_filename == f"<cell 2: {STEP}>"
    got = codec.loads(codec.dumps(probes.model_case(fn, "fine_tune", _case())))
    assert ch09._judge_discriminative(_case(), got) is None
    assert all(all(kept) for kept in got["kept"])


def test_only_the_cells_source_is_rebuilt_not_what_the_process_holds():
    """The function the submission's process holds was replaced after its cell ran: the
    grader rebuilds the cell's ``def``, and a global a cell rebound is the notebook's last
    value as described (a number), never an object of the submission's process."""
    cells = _cells(HONEST)
    space: dict = {}
    for label, source, _ in cells:
        exec(compile(source, label, "exec"), space)
    description = codec.loads(codec.dumps(probes.describe_kernel(space[STEP], plain=True)))
    names = {f["name"] for f in description["functions"]}
    assert names == {STEP, "_weighted"}
    kind, module, attribute = description["functions"][1]["globals"]["Dense"]  # by its name
    assert kind == "attr" and module.startswith("minidl.") and attribute == "Dense"
    fn = probes.build_kernels(kernels.model_spec(description, STEP, cells), plain=True)[0]
    assert fn is not space[STEP] and fn.__globals__ is not space


def test_a_function_not_found_in_the_cells_is_refused():
    description = _described(_cells(HONEST))
    description["functions"][0]["name"] = "elsewhere"
    with pytest.raises(kernels.KernelSourceError, match="could not find the source of `elsewhere`"):
        kernels.model_spec(description, STEP, _cells(HONEST))


@pytest.mark.parametrize(
    "line, words",
    [
        ("    cells = model.layers[0].forward.__closure__\n", "reads `.__closure__`"),
        ("    model.modes.cell_contents.add(True)\n", "reads `.cell_contents`"),
        ("    vars(np)['array'] = None\n", "uses `vars`"),
        ("    getattr(model, 'for' + 'ward')\n", "uses `getattr` other than"),
        ("    import importlib\n", "imports `importlib`"),
        ("    exec('x = 1')\n", "uses `exec`"),
        ("    frame = None and err.tb_frame\n", "reads `.tb_frame`"),
    ],
)
def test_a_function_that_reaches_past_its_model_is_refused(line, words):
    source = HONEST.replace("    loss = float(", line + "    loss = float(", 1)
    with pytest.raises(kernels.KernelSourceError, match=re.escape(words)):
        kernels.model_spec(_described(_cells(source)), STEP, _cells(source))
    # a helper it calls is read too
    helper = HONEST.replace("    return [layer", line + "    return [layer", 1)
    with pytest.raises(kernels.KernelSourceError, match="calls `_weighted`"):
        kernels.model_spec(_described(_cells(helper)), STEP, _cells(helper))


def test_getattr_with_a_public_name_written_out_is_allowed():
    source = HONEST.replace("layer.trainable:", "getattr(layer, 'trainable'):")
    assert _fresh(_cells(source)) is not None


def test_parameters_rebound_are_judged_by_value_without_the_identity_flags():
    """``built_params``: what the arrays the layers were built with hold after the call. A
    step that binds new arrays leaves them as they were: rejected even when the summary's
    identity flags (``kept``) are taken out."""
    rebound = HONEST.replace("value -= lr", "layer.params[key] = value - lr")
    got = codec.loads(codec.dumps(probes.model_case(_fresh(_cells(rebound)), "fine_tune", _case())))
    assert "is a new array" in ch09._judge_discriminative(_case(), got)
    del got["kept"]
    assert "do not hold the step" in ch09._judge_discriminative(_case(), got)


@pytest.mark.sandbox
def test_the_server_runs_a_model_function_only_where_no_cell_has_run():
    from minidl_grader.confinement.process import Limits, Sandbox

    cells = _cells(HONEST)
    spec = kernels.model_spec(_described(cells), STEP, cells)
    modules = ["minidl.training.model", "minidl.nn.losses"]
    fresh, used = Sandbox(Limits(timeout=60), modules), Sandbox(Limits(timeout=60), modules)
    try:
        reply = fresh.request(("model", "m", spec, "fine_tune", _case()), 60)
        assert reply["status"] == "ok", reply
        assert ch09._judge_discriminative(_case(), reply["value"]) is None
        assert used.request(("exec", "<cell 1>", "y = 1\n"), 60)["status"] == "ok"
        reply = used.request(("model", "m", spec, "fine_tune", _case()), 60)
        assert reply["status"] == "error" and "no cell has run" in reply["message"], reply
    finally:
        fresh.close()
        used.close()


def test_what_the_function_can_reach_of_the_grader_leads_to_nothing_the_summary_reads():
    """The one object of the grader's the answer gets is the ``forward`` each layer is
    wrapped in (to record the ``training`` flags). Its ``__globals__``, reached by a built
    name that the reading cannot see (``operator.attrgetter``, found in a NumPy module), is
    a table of its own, not this module's: replacing the captures the summary reads there
    changes nothing, and a step that binds new arrays is still seen."""
    forged = HONEST.replace(
        "    loss = float(",
        "    _get = np.ma.core.operator.attrgetter('__glo' + 'bals__')\n"
        "    space = _get(model.layers[0].forward)\n"
        "    space['_np_array'] = space['_dict'] = space['_bool'] = lambda *a: None\n"
        "    loss = float(",
        1,
    ).replace("value -= lr", "layer.params[key] = value - lr")
    fn = _fresh(_cells(forged))  # the reading does not see it
    got = codec.loads(codec.dumps(probes.model_case(fn, "fine_tune", _case())))
    assert probes._np_array is np.array and probes._bool is bool
    assert "is a new array" in ch09._judge_discriminative(_case(), got)


def test_an_entry_that_is_not_a_plain_function_is_refused_where_it_is_described():
    import functools

    space = {STEP: functools.partial(lambda model, x, y, loss_fn, lr: 0.0)}
    with pytest.raises(TypeError, match="should be a function defined with `def`"):
        probes._described_model_probe(space, (STEP,), None)
