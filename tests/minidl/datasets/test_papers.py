"""ACLSum (chapter 14's real summaries): the loader reads the aclsum package's files as they are."""

import json

import pytest

from minidl import datasets
from minidl.datasets import papers

pytest.importorskip("aclsum", reason="aclsum installs on Python >= 3.11 only")


@pytest.mark.parametrize("split, size", [("train", 100), ("val", 50), ("test", 100)])
def test_splits_have_the_papers_and_fields_of_the_release(split, size):
    loaded = datasets.load_aclsum(split)
    assert len(loaded) == size
    assert len({p.id for p in loaded}) == size
    for paper in loaded:
        assert paper.title and paper.sentences["abstract"]
        assert set(paper.summaries) == set(datasets.ACLSUM_ASPECTS)
        assert all(isinstance(s, str) and s for s in paper.summaries.values())
        for aspect in datasets.ACLSUM_ASPECTS:
            for section in datasets.ACLSUM_SECTIONS:
                labels = paper.highlights[aspect][section]
                assert len(labels) == len(paper.sentences[section])
                assert set(labels) <= {0, 1}


def test_a_paper_matches_its_line_in_the_package_file():
    path = papers._aclsum_data_dir() / "test.jsonl"
    with open(path, encoding="utf-8") as lines:
        first = json.loads(lines.readline())
    paper = datasets.load_aclsum("test")[0]
    assert paper.id == first["id"] and paper.title == first["title"]
    assert paper.summaries["outcome"] == first["summary"]["outcome"]
    assert paper.all_sentences()[: len(first["sentences"]["abstract"])] == first["sentences"]["abstract"]
    marked = [
        s
        for section in datasets.ACLSUM_SECTIONS
        for s, label in zip(first["sentences"][section], first["highlights"]["challenge"][section])
        if label
    ]
    assert paper.highlighted("challenge") == marked and marked


def test_bad_split_and_aspect_are_named():
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'val', 'test'\), got 'dev'"):
        datasets.load_aclsum("dev")
    with pytest.raises(ValueError, match="aspect must be one of .* got 'method'"):
        datasets.load_aclsum("val")[0].highlighted("method")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(papers.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install aclsum"):
        datasets.load_aclsum()


def _anthology_year(paper_id):
    """The year in an ACL Anthology id: "2021.naacl-main.34" -> 2021, "E09-1056" -> 2009."""
    if "." in paper_id:
        return int(paper_id.split(".")[0])
    yy = int(paper_id[1:3])
    return 1900 + yy if yy >= 50 else 2000 + yy


def test_the_licence_count_in_the_docs_is_the_data_s():
    # papers.py: the Anthology's CC BY-NC-SA 3.0 covers the papers before 2016, CC BY 4.0 the rest
    years = [_anthology_year(p.id) for split in datasets.ACLSUM_SPLITS for p in datasets.load_aclsum(split)]
    assert len(years) == 250 and sum(year < 2016 for year in years) == 138
    assert "the 138 of the 250 published before" in " ".join(papers.__doc__.split())
