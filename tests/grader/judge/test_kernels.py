"""A Numba kernel compiled from the notebook's source, not from the submission's objects
(issue 68): ``probes.describe_kernel`` (the submission's side: plain data),
``kernels.kernel_spec`` (the grader: the description checked, the source found in the
cells) and ``probes.build_kernels`` / ``kernel_case`` (the fresh process), here chained in
one process; ``tests/grader/test_runner_attacks_round6.py`` grades whole notebooks."""

import ast
import builtins

import numpy as np
import pytest
from minidl_grader.judge import kernels
from minidl_grader.runtime import codec, probes
from minidl_grader.runtime.probes import Case

numba = pytest.importorskip("numba")

SETUP = "import numpy as np\nimport numba\nfrom numba import njit, prange\n"


def _cells(source: str) -> list:
    return [("<cell 1>", SETUP, None), ("<cell 2: k>", source, "k")]


def _described(cells: list, name: str = "k") -> dict:
    """The notebook's cells run here, the kernel ``name`` described, the description sent
    through the wire format (as the submission's process sends it)."""
    space: dict = {}
    for label, source, _ in cells:
        exec(compile(source, label, "exec"), space)
    return codec.loads(codec.dumps(probes.describe_kernel(space[name])))


def _run(cells: list, name: str = "k", built: dict | None = None):
    """``_described``, its source found, rebuilt and compiled: the kernels."""
    return probes.build_kernels(kernels.kernel_spec(_described(cells, name), cells, built))


def _out(built: list, *args):
    found = probes.kernel_case(built, Case(args))
    assert found["object_mode"] is None, found
    return probes.settle("call", Case(args), found["call"])


HELPERS = (
    "SCALE = np.float32(2.0)\n"
    "OFFSET = 1\n"
    "@njit(inline='never')\n"
    "def _twice(v):\n"
    "    return v * SCALE\n"
    "def _make(shift):\n"
    "    @njit\n"
    "    def inner(v):\n"
    "        return v + shift\n"
    "    return inner\n"
    "_plus3 = _make(3.0)\n"
    "@njit(parallel=True, fastmath=True)\n"
    "def k(x, times: int = 2):\n"
    "    y = np.empty_like(x)\n"
    "    for i in prange(x.size):\n"
    "        y[i] = _plus3(_twice(x[i])) * times + OFFSET\n"
    "    return y\n"
)


def test_a_kernel_with_helpers_constants_a_closure_and_defaults_is_rebuilt_from_its_source():
    built = _run(_cells(HELPERS))
    x = np.arange(6, dtype=np.float32)
    np.testing.assert_allclose(_out(built, x), (x * 2 + 3) * 2 + 1)
    assert built[0].targetoptions.get("parallel") is True
    assert len(built) == 3  # the kernel, _twice and the closure's inner
    work = probes.kernel_trace(built, [Case((x,))])[0]
    assert work["iterations"] == 6 and work["largest_share"] < 0.5, work


def test_spellings_of_the_decorator_and_a_kernel_run_from_a_string():
    by_call = "def _relu(x):\n    return np.maximum(x, 0.0)\nk = numba.njit(_relu)\n"
    in_exec = 'exec("@njit\\ndef k(x):\\n    return np.maximum(x, 0.0)\\n")\n'
    for source in (by_call, in_exec):
        built = _run(_cells(source))
        np.testing.assert_array_equal(_out(built, np.array([-1.0, 2.0])), [0.0, 2.0])


def test_a_kernel_in_a_timed_cell_is_found_by_its_name():
    """A ``%%time`` cell runs its body as ``"<cell magic>"``, its lines counted from the body."""
    body = "@njit\ndef k(x):\n    return x * 3.0\n"
    cells = [("<cell 1>", SETUP, None), ("<cell 2: k>", "%%time\n" + body, "k")]
    space: dict = {}
    exec(compile(SETUP, "<cell 1>", "exec"), space)
    exec(compile(body, "<cell magic>", "exec"), space)
    description = codec.loads(codec.dumps(probes.describe_kernel(space["k"])))
    assert description["functions"][0]["file"] == "<cell magic>"
    built = probes.build_kernels(kernels.kernel_spec(description, cells))
    np.testing.assert_array_equal(_out(built, np.array([1.0, 2.0])), [3.0, 6.0])


def test_the_definition_runs_nothing_of_the_submission():
    """Decorators, annotations and default values are not evaluated where the kernel is
    rebuilt (they would raise there: ``_identity`` and ``_one`` are not the kernel's
    globals); the defaults come back from their description."""
    source = (
        "def _identity(f):\n    return f\n"
        "def _one():\n    return 1.0\n"
        "@_identity\n"
        "def _k(x, y: _identity = _one()):\n    return x + y\n"
        "k = njit(_k)\n"
    )
    cells = _cells(source)
    built = _run(cells)
    np.testing.assert_array_equal(_out(built, np.array([1.0])), [2.0])
    spec = kernels.kernel_spec(_described(cells), cells)
    (definition,) = [n for n in ast.walk(spec["functions"][0]["module"]) if getattr(n, "name", "") == "_k"]
    assert definition.decorator_list == [] and definition.args.args[1].annotation is None
    assert [ast.literal_eval(d) for d in definition.args.defaults] == [None]


def test_object_mode_reached_by_a_built_name_is_read_on_the_rebuilt_kernel():
    source = (
        "_om = getattr(numba, 'obj' + 'mode')\n"
        "@njit\n"
        "def k(x):\n"
        "    with _om(y='float64[:]'):\n"
        "        y = x.copy()\n"
        "    return y\n"
    )
    built = _run(_cells(source))
    found = probes.kernel_case(built, Case((np.ones(3),)))
    assert "object mode" in (found["object_mode"] or ""), found
    assert found["call"] is None  # never run


def test_a_description_names_only_what_the_cells_hold():
    """A swapped ``py_func`` compiles the function it names, from its own cell; a kernel
    whose source is in no cell (a file the notebook wrote) cannot be compiled."""
    source = (
        "@njit\ndef k(x):\n    return x + 1.0\ndef _shown(x):\n    return x + object()\nk.py_func = _shown\n"
    )
    with pytest.raises(Exception, match="object"):  # Numba cannot type object(): not compiled
        _out(_run(_cells(source)), np.ones(2))
    description = _described(_cells("@njit\ndef k(x):\n    return x\n"))
    description["functions"][0]["file"] = "/tmp/kernel_written_by_the_notebook.py"
    with pytest.raises(kernels.KernelSourceError, match="could not find the source of `k`"):
        kernels.kernel_spec(description, [("<cell 2: k>", "x = 1\n", "k")])


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(functions=[]),
        lambda d: d["functions"][0].update(name="k; import os"),
        lambda d: d["functions"][0].update(options={"parallel": True, "pipeline_class": "x"}),
        lambda d: d["functions"][0]["globals"].update(np=["module", "os"]),
        lambda d: d["functions"][0]["globals"].update(np=["attr", "numpy", "__builtins__"]),
        lambda d: d["functions"][0]["globals"].update(np=["kernel", 5]),
        lambda d: d["functions"][0]["globals"].update(np=["scalar", "O", 1]),
        lambda d: d["functions"][0]["globals"].update(np=["code", "print(1)"]),
    ],
    ids=["no functions", "name", "option", "module", "dunder", "kernel", "dtype", "kind"],
)
def test_a_malformed_description_is_refused(change):
    cells = _cells("@njit\ndef k(x):\n    return np.abs(x)\n")
    description = _described(cells)
    assert kernels.kernel_spec(description, cells)  # as sent: accepted
    change(description)
    with pytest.raises(kernels.KernelSourceError, match="could not read the kernel's description"):
        kernels.kernel_spec(description, cells)


def test_the_description_is_plain_data():
    functions = _described(_cells(HELPERS))["functions"]
    first = functions[0]
    twice, inner = (functions[first["globals"][name][1]] for name in ("_twice", "_plus3"))
    assert first["globals"]["np"] == ["module", "numpy", ""]
    assert first["globals"]["prange"] == ["attr", "numba", "prange"]
    assert first["globals"]["OFFSET"] == ["value", 1] and twice["name"] == "_twice"
    assert first["defaults"] == [["value", 2]] and first["options"] == {
        "nopython": True,
        "parallel": True,
        "fastmath": True,
    }
    assert twice["globals"]["SCALE"] == ["scalar", "<f4", 2.0] and twice["options"] == {
        "nopython": True,
        "inline": "never",
    }
    assert inner["freevars"] == [["shift", ["value", 3.0]]] and inner["line"] == 7


# ---------------------------------------------------------------------- chapter 11: CUDA
# A CUDA kernel compiled from the notebook's own string, not from the submission's objects:
# ``probes._described_cuda_probe`` (the submission's side: the string, as plain data),
# ``kernels.cuda_source`` (the grader: taken only as one of the notebook's literals) and
# ``probes.cuda_module`` / ``cuda_case`` (the fresh process), here chained in one process;
# ``tests/grader/test_runner_attacks_round6.py`` grades whole notebooks.

RELU = (
    'extern "C" __global__ void relu(const float* x, float* y, int n)\n'
    "{\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    \n"  # a line of white space: IPython empties it in a cell with a magic
    "    if (i < n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;\n"
    "}\n"
)
CELL = f"SOURCE = r'''{RELU}'''\n"
COMPILED = RELU.replace("\n    \n", "\n\n")  # the grader's copy: its lines of white space emptied


def _cuda_cells(source: str) -> list:
    return [("<cell 1>", "import numpy as np\n", None), ("<cell 2: relu_cuda>", source, "relu_cuda")]


def _sent(source: str, magic: bool = False) -> dict:
    """The cell run as the submission's process runs it, the entry described, through the
    wire format."""
    from minidl_grader.runtime import sandbox

    space: dict = {}
    space["get_ipython"] = lambda: probes.NotebookShell(space)
    code = sandbox.python_source(("%time x = 5 % 2\n" if magic else "") + source)
    exec(compile(code, "<cell 2: relu_cuda>", "exec"), space)
    return codec.loads(codec.dumps(probes.SANDBOX_PROBES["cuda"](space, ("SOURCE",), Case(()))))


def test_the_string_sent_back_is_compiled_only_as_a_literal_of_the_notebook():
    assert kernels.cuda_source(_sent(CELL), "SOURCE", _cuda_cells(CELL)) == COMPILED
    # a cell with a magic: IPython emptied the line of white space; still the cell's literal
    magic = "%time x = 5 % 2\n" + CELL
    sent = _sent(CELL, magic=True)
    assert sent["source"] != RELU
    assert kernels.cuda_source(sent, "SOURCE", _cuda_cells(magic)) == COMPILED
    # a string the notebook does not write (built at run time) is refused, however it was made
    built = "SOURCE = ''.join(reversed(" + repr(RELU[::-1]) + "))\n"
    with pytest.raises(kernels.KernelSourceError, match="no cell of the notebook writes"):
        kernels.cuda_source(_sent(built), "SOURCE", _cuda_cells(built))
    # ... unless the audit hook recorded code that holds it as a literal
    assert kernels.cuda_source(_sent(built), "SOURCE", _cuda_cells(built), {"relu_cuda": [CELL]}) == COMPILED
    # a sum of literals is the notebook's too (each whole sum: not a part of one)
    summed = "HEADER = 'x'\nSOURCE = " + " + ".join(repr(line) for line in RELU.splitlines(True)) + "\n"
    assert kernels.cuda_source(_sent(summed), "SOURCE", _cuda_cells(summed)) == COMPILED
    with pytest.raises(kernels.KernelSourceError, match="no cell"):
        kernels.cuda_source({"source": "".join(RELU.splitlines(True)[:2])}, "SOURCE", _cuda_cells(summed))
    # a lie picks only among the notebook's own strings
    with pytest.raises(kernels.KernelSourceError, match="no cell"):
        kernels.cuda_source({"source": RELU + "// more\n"}, "SOURCE", _cuda_cells(CELL))


@pytest.mark.parametrize("sent", [None, [], {"source": 3}, {"source": "x" * (kernels.MAX_CUDA_SOURCE + 1)}])
def test_what_cannot_be_a_source_is_refused(sent):
    with pytest.raises(kernels.KernelSourceError, match="could not read"):
        kernels.cuda_source(sent, "SOURCE", _cuda_cells(CELL))


def test_the_submissions_side_sends_only_a_string():
    with pytest.raises(TypeError, match="should be a string of CUDA C source, got int"):
        probes.SANDBOX_PROBES["cuda"]({"SOURCE": 3}, ("SOURCE",), Case(()))

    class Text(str):  # a str subclass could answer for its own methods: refused
        pass

    with pytest.raises(TypeError, match="got Text"):
        probes.SANDBOX_PROBES["cuda"]({"SOURCE": Text(RELU)}, ("SOURCE",), Case(()))
    assert probes.SANDBOX_PROBES["cuda"]({"SOURCE": RELU}, ("SOURCE",), Case(())) == {"source": RELU}


def test_the_fresh_process_compiles_and_launches_the_source():
    from minidl.kernels import emulate

    if emulate.compiler() is None:
        pytest.skip("no C++ compiler for the emulator")
    module = probes.cuda_module(kernels.cuda_source(_sent(CELL), "SOURCE", _cuda_cells(CELL)), "SOURCE")
    x = np.linspace(-1, 1, 37).astype(np.float32)
    found = probes.cuda_case(module, Case((x,), extra={"kernel": "relu", "n": 37, "threads": 8, "blocks": 5}))
    assert found["guard_ok"] and not found["shared"]
    np.testing.assert_array_equal(found["out"], np.maximum(x, 0))


# a kernel that runs Python where it is launched could answer for its own launches
PYTHON_FROM_CUDA = (
    'extern "C" int PyRun_SimpleString(const char*);\n'
    'static int emu_ran = PyRun_SimpleString("import builtins; builtins.emu_ran = 1");\n' + RELU
)
BY_ADDRESS = (
    '#include <dlfcn.h>\nstatic void* emu_found = dlsym(RTLD_DEFAULT, "PyRun_SimpleString");\n' + RELU
)
FILES = '#include <cstdio>\nstatic FILE* emu_maps = fopen("/proc/self/maps", "r");\n' + RELU


@pytest.mark.parametrize(
    "source, name", [(PYTHON_FROM_CUDA, "PyRun_SimpleString"), (BY_ADDRESS, "dlsym"), (FILES, "fopen")]
)
def test_a_kernel_library_that_reaches_python_is_refused_before_it_is_loaded(source, name):
    from minidl.kernels import emulate

    if emulate.compiler() is None:
        pytest.skip("no C++ compiler for the emulator")
    with pytest.raises(PermissionError, match=f"the kernel calls {name}"):
        probes.cuda_module(source, "SOURCE")
    assert not hasattr(builtins, "emu_ran")  # nothing of it ran


@pytest.mark.sandbox
def test_the_server_compiles_a_kernel_only_where_no_cell_has_run():
    """The sandbox's "cuda" request (and the Numba kernels' "kernel"): answered by a process
    that has run no cell, refused by one that has."""
    from minidl_grader.confinement.process import Limits, Sandbox

    from minidl.kernels import emulate

    if emulate.compiler() is None:
        pytest.skip("no C++ compiler for the emulator")
    x = np.linspace(-1, 1, 37).astype(np.float32)
    case = Case((x,), extra={"kernel": "relu", "n": 37, "threads": 8, "blocks": 5})
    fresh = Sandbox(Limits(timeout=60), ["minidl.kernels.emulate"])
    used = Sandbox(Limits(timeout=60), ["minidl.kernels.emulate"])
    try:
        reply = fresh.request(("cuda", "k", RELU, "SOURCE", case), 60)
        assert reply["status"] == "ok", reply
        np.testing.assert_array_equal(reply["value"]["out"], np.maximum(x, 0))
        assert used.request(("exec", "<cell 1>", "y = 1\n"), 60)["status"] == "ok"
        for message in (("cuda", "k", RELU, "SOURCE", case), ("kernel", "k", {"functions": []}, case)):
            reply = used.request(message, 60)
            assert reply["status"] == "error" and "no cell has run" in reply["message"], reply
    finally:
        fresh.close()
        used.close()


def test_a_library_the_grader_cannot_read_is_refused(tmp_path):
    not_elf = tmp_path / "kernels.so"
    not_elf.write_bytes(b"#!/bin/sh\n")
    with pytest.raises(PermissionError, match="not an ELF64 file"):
        probes._checked_imports(not_elf)
