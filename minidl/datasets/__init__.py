"""Data for the course: bundled MNIST, downloaders, synthetic sets, sequences and text.

Everything a notebook or test needs works offline:

* ``load_mnist()`` -- 5,000 MNIST digits bundled with minidl (4,000 train / 1,000 test,
  balanced), as float32 (N, 1, 28, 28) in [0, 1] with int64 labels.
* ``make_spirals``, ``make_xor`` -- 2-D toy problems.
* ``make_sine_sequences``, ``make_adding_problem``, ``load_sequential_mnist`` -- (N, T, D)
  sequence tasks for recurrent networks.
* ``load_text_corpus``, ``CharEncoder``, ``make_char_windows``, ``sample`` -- character-level
  language modelling on the standard library's docstrings.
* ``tokenize_words``, ``Vocabulary``, ``pad_sequences``, ``padding_mask`` -- word-level
  tokens with padding and masks; ``make_reviews`` (GENERATED reviews with sentiment labels:
  negation, intensifiers, contrast) and ``make_match_reports`` (GENERATED match reports with
  reference summaries), in ``language``. A small grammar repeats itself: draw a held-out set
  with ``exclude=`` (reviews) or ``exclude_summaries=`` (reports) set to the training set's
  texts, and none of its examples is a training example.
* ``load_aclsum`` -- 250 real ACL papers (sentences of abstract, introduction and conclusion)
  with experts' one-sentence summaries of their challenge, approach and outcome (ACLSum,
  from the ``aclsum`` package, which minidl installs), in ``papers``.
* ``make_sentence_pairs`` -- GENERATED (English, target) sentence pairs in a rule-based language
  with another word order and agreement (``TARGET_LANGUAGE``), for translation;
  ``read_sentence_pairs`` reads the tab-separated format in which ManyThings packs the real
  Tatoeba pairs (CC BY 2.0 FR), in ``translation``.
* ``BPETokenizer`` -- byte-pair encoding (Sennrich et al., 2016) trained by hand on any
  texts (chapter 15 trains it on ACLSum's sentences), in ``bpe``.
* ``load_spoken_digits``, ``load_spoken_digit_clips`` -- "zero" .. "nine" spoken by 24
  synthetic voices, as log-mel spectrograms (N, 49, 32) split by held-out voices, and 40
  clips as 8 kHz audio; ``audio`` holds the feature pipeline (frames, FFT, mel filters).

* ``make_scans`` -- GENERATED grey scans with a faint, rare "finding" (yes/no), a stand-in
  for ``load_medmnist()`` (PneumoniaMNIST or BreastMNIST, downloaded); ``exclude=`` training
  scans gives test scans none of whose layouts ("patients") is a training one, in ``medical``.
* ``make_shape_scenes`` -- scenes of overlapping squares, disks and triangles with a
  per-pixel mask and a box and class per object (segmentation and detection);
  ``exclude=`` training scenes gives test scenes none of whose masks is a training mask.

The full sets -- ``load_mnist(subset="full")``,
``load_cifar10()``, ``load_medmnist()``, ``load_oxford_pets()`` (photographs with pet masks and head boxes) -- are downloaded once into ``$MINIDL_DATA`` (default
``~/.cache/minidl``) and checked by SHA-256 (see ``minidl.datasets.download``); ``read_idx``
reads such files already on disk. The real text no chapter trains on (IMDB's reviews, Tatoeba's
sentence pairs) is a maintainer's download: ``tools/real_text.py``.

Most modules' public names are read from their ``__all__``, so that each name is listed once.
"""

from . import audio, images, language, medical, papers, pets, scenes, speech, text, translation
from .bpe import BPETokenizer
from .download import ChecksumError, DownloadError, data_home
from .formats import read_idx
from .images import *  # noqa: F403  (the names in images.__all__; the same below)
from .language import *  # noqa: F403
from .medical import *  # noqa: F403
from .papers import *  # noqa: F403
from .pets import *  # noqa: F403
from .scenes import *  # noqa: F403
from .sequences import last_value_forecast, make_adding_problem, make_sine_sequences
from .speech import *  # noqa: F403
from .synthetic import make_spirals, make_xor
from .text import *  # noqa: F403
from .translation import *  # noqa: F403

__all__ = [name for module in (images, language, medical, papers, pets) for name in module.__all__]
__all__ += [name for module in (scenes, speech, text, translation) for name in module.__all__]
__all__ += ["make_spirals", "make_xor", "make_sine_sequences", "last_value_forecast", "make_adding_problem"]
__all__ += ["BPETokenizer", "audio", "read_idx", "data_home", "DownloadError", "ChecksumError"]
