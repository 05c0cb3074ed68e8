"""``minidl-grade package --python``: the requirements of a Gradescope package resolve for the
image's Python (issue 69, item 1).

The tests marked ``slow`` ask the package index, as the image's pip will, and skip with the
reason where it cannot be reached; the others stand pip in with a function.
"""

import subprocess
import sys
import zipfile

import pytest
from minidl_grader.reports import gradescope


def _index_reachable(tmp_path) -> str | None:
    """None where pip can fetch a small wheel from the index, else why not."""
    ok, errors = gradescope._pip_download(["tqdm"], "3.12", tmp_path / "probe")
    return None if ok else f"the package index cannot be reached: {errors.strip()[-300:]}"


def _requirements(zip_path, python: str) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        text = archive.read(f"requirements-{python}.txt").decode()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.slow
@pytest.mark.parametrize("python", ["3.10", "3.12"])
def test_every_pinned_requirement_resolves_for_the_packages_python(python, tmp_path):
    """A package built with ``--python X`` holds one requirements file, every line pinned,
    and pip itself downloads every pinned wheel for CPython X (``--only-binary :all:
    --python-version X --no-deps``, the way the image's pip installs them). Before, setup.sh
    pinned numpy==2.4.6, which has no wheel for Python 3.10."""
    if why := _index_reachable(tmp_path):
        pytest.skip(why)
    zip_path = tmp_path / "autograder.zip"
    assert gradescope.main(["--chapter", "03", "-o", str(zip_path), "--python", python]) == 0
    with zipfile.ZipFile(zip_path) as archive:
        assert [n for n in archive.namelist() if n.startswith("requirements-")] == [
            f"requirements-{python}.txt"
        ]
    requirements = _requirements(zip_path, python)
    assert requirements and all("==" in r for r in requirements), requirements
    names = {r.split("==")[0].lower() for r in requirements}
    assert {"numpy", "numba", "matplotlib", "ipython"} <= names
    assert ("tomli" in names) == (python == "3.10") and ("aclsum" in names) == (python != "3.10")
    run = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:", "--no-deps",
         "--python-version", python, "--implementation", "cp", "--platform", "manylinux2014_x86_64",
         "--platform", "manylinux_2_28_x86_64", "-d", str(tmp_path / "wheels"), *requirements],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(list((tmp_path / "wheels").glob("*.whl"))) == len(requirements)


@pytest.mark.slow
def test_a_requirement_without_a_wheel_for_the_python_is_named(tmp_path):
    """numpy 2.3 and later have no wheel for Python 3.10: asked for numpy>=2.3 there, the
    error names numpy and the Python."""
    if why := _index_reachable(tmp_path):
        pytest.skip(why)
    with pytest.raises(gradescope.Unresolvable, match=r"numpy does not resolve for Python 3\.10"):
        gradescope.resolve(["numpy==2.4.6"], "3.10", {"numpy": "numpy>=2.3"})
    # the version installed here, where it has no wheel, is replaced by the newest within the bound
    (pinned,) = gradescope.resolve(["numpy==2.4.6"], "3.10", {"numpy": "numpy>=1.24"})
    assert pinned.startswith("numpy==2.2."), pinned


def test_packaging_stops_before_writing_when_a_requirement_does_not_resolve(tmp_path, monkeypatch, capsys):
    """pip (stood in) finds no numba for 3.10 at any version: no zip, and the error names
    numba and the Python."""

    def pip_download(requirements, python, folder):
        if python == "3.10" and any(r.startswith("numba") for r in requirements):
            bad = next(r for r in requirements if r.startswith("numba"))
            return (
                False,
                f"ERROR: Could not find a version that satisfies the requirement {bad} (from versions: none)",
            )
        folder.mkdir(parents=True, exist_ok=True)
        for r in requirements:
            name, _, version = r.partition("==")
            (folder / f"{name}-{version or '1.0'}-py3-none-any.whl").write_text("")
        return True, ""

    monkeypatch.setattr(gradescope, "_pip_download", pip_download)
    out = tmp_path / "autograder.zip"
    assert gradescope.main(["--chapter", "03", "-o", str(out), "--python", "3.10-3.12"]) == 2
    err = capsys.readouterr().err
    assert "numba does not resolve for Python 3.10" in err, err
    assert not out.exists()
    assert gradescope.main(["--chapter", "03", "-o", str(out), "--python", "3.11,3.12"]) == 0
    assert _requirements(out, "3.12") and _requirements(out, "3.11")


def test_python_versions_are_read_as_lists_and_ranges():
    assert gradescope._versions("3.10-3.12") == ("3.10", "3.11", "3.12")
    assert gradescope._versions("3.12, 3.10") == ("3.12", "3.10")
    with pytest.raises(ValueError, match="--python takes versions"):
        gradescope.build_package("x.zip", "03", pythons=("3",), check_index=False)


def test_an_installed_grader_reads_the_dependencies_from_the_metadata(tmp_path):
    """A grader and a minidl installed from wheels have no pyproject.toml beside them: before,
    the package then listed four of minidl's dependencies (no gymnasium, no vaderSentiment),
    and its image could not import chapter 14's or 22's library code."""
    listed = gradescope._dependencies(tmp_path / "no-pyproject.toml", "minidl", ["numpy"])
    names = {gradescope._name(r) for r in listed}
    assert {"numpy", "numba", "gymnasium", "vaderSentiment", "aclsum"} <= names, listed
    assert not any("extra ==" in r for r in listed)
    assert not gradescope._applies(next(r for r in listed if r.startswith("aclsum")), "3.10")
    grader = gradescope._dependencies(tmp_path / "no-pyproject.toml", "minidl-grader", [])
    assert gradescope._applies(next(r for r in grader if r.startswith("tomli")), "3.10")
