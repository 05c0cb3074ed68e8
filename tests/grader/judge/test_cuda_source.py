"""A CUDA kernel compiled from the notebook's own string, not from the submission's objects
(issue 68): ``probes._described_cuda_probe`` (the submission's side: the string, as plain
data), ``kernels.cuda_source`` (the grader: taken only as one of the notebook's literals)
and ``probes.cuda_module`` / ``cuda_case`` (the fresh process), here chained in one
process; ``tests/grader/test_runner_attacks_round6.py`` grades whole notebooks."""

import builtins

import numpy as np
import pytest
from minidl_grader.judge import kernels
from minidl_grader.runtime import codec, probes
from minidl_grader.runtime.probes import Case

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


def _cells(source: str) -> list:
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
    assert kernels.cuda_source(_sent(CELL), "SOURCE", _cells(CELL)) == COMPILED
    # a cell with a magic: IPython emptied the line of white space; still the cell's literal
    magic = "%time x = 5 % 2\n" + CELL
    sent = _sent(CELL, magic=True)
    assert sent["source"] != RELU
    assert kernels.cuda_source(sent, "SOURCE", _cells(magic)) == COMPILED
    # a string the notebook does not write (built at run time) is refused, however it was made
    built = "SOURCE = ''.join(reversed(" + repr(RELU[::-1]) + "))\n"
    with pytest.raises(kernels.KernelSourceError, match="no cell of the notebook writes"):
        kernels.cuda_source(_sent(built), "SOURCE", _cells(built))
    # ... unless the audit hook recorded code that holds it as a literal
    assert kernels.cuda_source(_sent(built), "SOURCE", _cells(built), {"relu_cuda": [CELL]}) == COMPILED
    # a sum of literals is the notebook's too (each whole sum: not a part of one)
    summed = "HEADER = 'x'\nSOURCE = " + " + ".join(repr(line) for line in RELU.splitlines(True)) + "\n"
    assert kernels.cuda_source(_sent(summed), "SOURCE", _cells(summed)) == COMPILED
    with pytest.raises(kernels.KernelSourceError, match="no cell"):
        kernels.cuda_source({"source": "".join(RELU.splitlines(True)[:2])}, "SOURCE", _cells(summed))
    # a lie picks only among the notebook's own strings
    with pytest.raises(kernels.KernelSourceError, match="no cell"):
        kernels.cuda_source({"source": RELU + "// more\n"}, "SOURCE", _cells(CELL))


@pytest.mark.parametrize("sent", [None, [], {"source": 3}, {"source": "x" * (kernels.MAX_CUDA_SOURCE + 1)}])
def test_what_cannot_be_a_source_is_refused(sent):
    with pytest.raises(kernels.KernelSourceError, match="could not read"):
        kernels.cuda_source(sent, "SOURCE", _cells(CELL))


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
    module = probes.cuda_module(kernels.cuda_source(_sent(CELL), "SOURCE", _cells(CELL)), "SOURCE")
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
