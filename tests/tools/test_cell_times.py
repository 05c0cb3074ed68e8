"""tools/cell_times.py: the measured times go into the metadata of the cells that train or
take long, and nowhere else."""

import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import cell_times  # noqa: E402


def notebook(tmp_path):
    cells = [
        nbformat.v4.new_code_cell("model.fit(x, y, verbose=0)", id="fits"),
        nbformat.v4.new_code_cell("slow()", id="slow"),
        nbformat.v4.new_code_cell("x = 1", id="quick", metadata={"minidl": {"seconds": 3.0}}),
        nbformat.v4.new_markdown_cell("text", id="prose"),
    ]
    path = tmp_path / "07_x.ipynb"
    path.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=cells)) + "\n")
    return path


def test_record_writes_the_times_of_training_and_long_cells_only(tmp_path):
    path = notebook(tmp_path)
    assert cell_times.record(path, {"fits": 0.4, "slow": cell_times.LONG + 2, "quick": 0.1})
    metadata = {c["id"]: c["metadata"] for c in json.loads(path.read_text())["cells"]}
    assert metadata == {
        "fits": {"minidl": {"seconds": 0.4}},
        "slow": {"minidl": {"seconds": cell_times.LONG + 2}},
        "quick": {},  # neither trains nor takes long: an old time goes
        "prose": {},
    }
    before = path.read_text()
    assert not cell_times.record(path, {"fits": 0.4, "slow": cell_times.LONG + 2, "quick": 0.1})
    assert path.read_text() == before


def test_main_records_earlier_measurements(tmp_path, capsys):
    path = notebook(tmp_path)
    times = tmp_path / "times.json"
    times.write_text(json.dumps({path.name: {"fits": 1.5}}))
    assert cell_times.main(["--from", str(times), str(path)]) == 0
    assert "recorded" in capsys.readouterr().out
    assert json.loads(path.read_text())["cells"][0]["metadata"] == {"minidl": {"seconds": 1.5}}
