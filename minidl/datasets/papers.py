"""ACLSum: real scientific papers with human-written summaries, for chapter 14.

ACLSum (Takeshita et al., 2024) is 250 papers of the ACL Anthology, each with three
one-sentence summaries written by experts, one per **aspect**: the *challenge* the paper
takes on, its *approach* and its *outcome*. The papers come as sentences of three
**sections** (abstract, introduction, conclusion), and the annotators also marked, for each
aspect, the sentences they took the summary from (``highlights``: 1 for a marked sentence).
Splits: 100 papers ``"train"``, 50 ``"val"``, 100 ``"test"``.

The data is the ``aclsum`` package's (installed with minidl, which ships none of it);
``load_aclsum`` reads its JSON-lines files and does not import it. Licences: the package,
with the summaries and highlights, is MIT (its metadata and the authors' dataset card; the
release has no other licence file). The sentences are the papers' own, from the ACL
Anthology: CC BY 4.0 for papers published from 2016 on, CC BY-NC-SA 3.0 (non-commercial use)
for the 138 of the 250 published before. Sentences are tokenized as the package gives them
(words and punctuation separated by spaces); the summaries are plain sentences.

Takeshita, S., Green, T., Reinig, I., Eckert, K. & Ponzetto, S. P. (2024). ACLSum: a new
dataset for aspect-based summarization of scientific publications. *NAACL*. arXiv:2403.05303.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ACLSUM_ASPECTS", "ACLSUM_SECTIONS", "ACLSUM_SPLITS", "Paper", "load_aclsum"]

ACLSUM_ASPECTS = ("challenge", "approach", "outcome")
ACLSUM_SECTIONS = ("abstract", "introduction", "conclusion")
ACLSUM_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Paper:
    """One ACLSum paper.

    id : its ACL Anthology id ("E09-1056").
    title : its title.
    sentences : section -> the section's sentences, in order.
    summaries : aspect -> the experts' one-sentence summary.
    highlights : aspect -> section -> one 0/1 label per sentence (1: the annotators marked it).
    """

    id: str
    title: str
    sentences: dict[str, list[str]]
    summaries: dict[str, str]
    highlights: dict[str, dict[str, list[int]]]

    def all_sentences(self) -> list[str]:
        """The sentences of every section, abstract first."""
        return [s for section in ACLSUM_SECTIONS for s in self.sentences[section]]

    def highlighted(self, aspect: str) -> list[str]:
        """The sentences marked for ``aspect``, in the order of ``all_sentences``."""
        if aspect not in ACLSUM_ASPECTS:
            raise ValueError(f"aspect must be one of {ACLSUM_ASPECTS}, got {aspect!r}")
        labels = [label for section in ACLSUM_SECTIONS for label in self.highlights[aspect][section]]
        return [s for s, label in zip(self.all_sentences(), labels) if label]


def _aclsum_data_dir() -> Path:
    spec = importlib.util.find_spec("aclsum")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "load_aclsum reads the data of the 'aclsum' package, which is not installed: "
            "pip install aclsum (minidl's dependencies include it)"
        )
    return Path(spec.origin).parent / "dataset"


def load_aclsum(split: str = "test") -> list[Paper]:
    """The papers of one ACLSum split ("train", "val" or "test"), as ``Paper`` records."""
    if split not in ACLSUM_SPLITS:
        raise ValueError(f"split must be one of {ACLSUM_SPLITS}, got {split!r}")
    path = _aclsum_data_dir() / f"{split}.jsonl"
    papers = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            papers.append(
                Paper(
                    id=record["id"],
                    title=record["title"],
                    sentences={s: list(record["sentences"][s]) for s in ACLSUM_SECTIONS},
                    summaries={a: record["summary"][a] for a in ACLSUM_ASPECTS},
                    highlights={
                        a: {s: [int(v) for v in record["highlights"][a][s]] for s in ACLSUM_SECTIONS}
                        for a in ACLSUM_ASPECTS
                    },
                )
            )
    return papers
