"""The band the live answers should stay in, measured on the validation split when a version is made.

The Lambda counts, per request, whether it gave a label and which (lambda/metrics.py); an alarm fires when
the unknown-text rate, or a label's share of the labelled answers, leaves this band (terraform/drift.tf).
People type shorter texts than an abstract, so the validation split's raw rows are judged as the titled
abstract and as the first ``slices.SHORT_TOKENS`` words of its first sentence (what people type first), as
the Lambda judges a request: its tokenizer, the unknown-text rule of the wire contract with the version's
vocabulary (the learned rule on the raw text), and the model's top label. Each share's band spans the two
forms, widened by ``Z`` binomial standard errors. The high edge is judged on a day of at least
``MIN_DAY_ANSWERS`` answers. The low edge needs more answers to mean anything (at 100, three standard errors
of a 7% share exceed the share): each share's low edge is judged only on at least ``low_answers`` answers
(over a week, in terraform/drift.tf), the fewest at which the edge still holds ``MIN_LOW_EDGE_ANSWERS``
answers, so a share that vanishes alarms. The derivation and what it means: docs/live-metrics.md.
"""

from __future__ import annotations

import gzip
import math
from collections import Counter
from pathlib import Path
from typing import Any

import fasttext

from ml.data import Row
from ml.evaluate import predict_labels
from ml.lambda_src import contract, text_tokenizer
from ml.slices import SHORT_TOKENS, real_texts

MIN_DAY_ANSWERS = 100  # a day with fewer answers is not judged (the alarms treat it as missing data)
Z = 3.0  # binomial standard errors added on each side
MIN_LOW_EDGE_ANSWERS = 5  # the low edge, at the count it is judged on, holds this many answers (n·p >= 5)


def read_words(path: Path) -> contract.Vocabulary:
    """The topical and common words of a version's ``vocabulary.txt.gz`` (its header skipped)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        fh.readline()
        return contract.read_vocabulary(fh.read().splitlines())


def measure(
    model: Any, texts: list[str], words: contract.Vocabulary, min_known_percent: int
) -> dict[str, Any]:
    """The unknown-text rate of raw ``texts`` as the Lambda judges them (its tokenizer, the learned rule on
    the raw text), and the label shares of those given a label."""
    tokenize = text_tokenizer().tokenize
    tokens = [tokenize(text) for text in texts]
    unknown = [_refused(t, k, words, min_known_percent) for t, k in zip(texts, tokens, strict=True)]
    judged = [" ".join(k) for k, refused in zip(tokens, unknown, strict=True) if not refused]
    labels = Counter(predict_labels(model, judged)) if judged else Counter()
    return {
        "n": len(texts),
        "unknown_text": sum(unknown) / len(texts) if texts else 0.0,
        "label_shares": {label: n / len(judged) for label, n in sorted(labels.items())},
    }


def _refused(text: str, tokens: list[str], words: contract.Vocabulary, min_known_percent: int) -> bool:
    """Whether the Lambda would refuse the raw ``text`` (``tokens``, its tokens): the learned rule reads
    the marks of the raw text, which token strings no longer have (a prepared row would read as chat)."""
    off_topic = bool(tokens) and contract.off_topic(text, tokens, words)  # the rule judges a token or more
    return (
        contract.unknown_reason(*contract.word_counts(tokens, words), min_known_percent, off_topic)
        is not None
    )


def _band(shares: list[float]) -> dict[str, Any]:
    """From the smallest to the largest share measured, widened by ``Z`` standard errors: the high edge of a
    day of ``MIN_DAY_ANSWERS`` answers, the low edge of ``low_answers`` answers (None: no count gives a low
    edge above 0, the share was never measured above 0)."""
    low, high = min(shares), max(shares)
    mean = sum(shares) / len(shares)
    spread = math.sqrt(mean * (1 - mean))  # the binomial standard error times sqrt(n)
    band: dict[str, Any] = {
        "low": 0.0,
        "high": round(min(1.0, high + Z * spread / math.sqrt(MIN_DAY_ANSWERS)), 4),
    }
    band["low_answers"] = _low_answers(low, spread)
    if band["low_answers"] is not None:
        band["low"] = _floor(low - Z * spread / math.sqrt(band["low_answers"]))
    return band


def _floor(share: float) -> float:
    """A low edge rounded down to 6 places (the manifest's and the alarm's figure)."""
    return math.floor(share * 1e6) / 1e6


def _low_answers(low: float, spread: float) -> int | None:
    """The fewest answers ``n`` at which ``n · (low - Z · spread / sqrt(n)) >= MIN_LOW_EDGE_ANSWERS``: the
    positive root of ``low · x² - Z · spread · x - MIN_LOW_EDGE_ANSWERS`` in ``x = sqrt(n)``, squared, then
    raised while the edge rounded down falls short; never fewer than ``MIN_DAY_ANSWERS``; None when ``low``
    is 0."""
    if low <= 0:
        return None
    root = (Z * spread + math.sqrt((Z * spread) ** 2 + 4 * low * MIN_LOW_EDGE_ANSWERS)) / (2 * low)
    n = max(MIN_DAY_ANSWERS, math.ceil(root**2))
    while n * _floor(low - Z * spread / math.sqrt(n)) < MIN_LOW_EDGE_ANSWERS:
        n += 1
    return n


def derive(
    model_bin: Path, validation: list[Row], vocabulary_file: Path, classes: list[str], min_known_percent: int
) -> dict[str, Any]:
    """The band of a version: its measurements on the validation split's raw rows in two forms (the titled
    abstract, the first words of its first sentence), and the band of the unknown-text rate and of each
    class's share (0 for a class never predicted)."""
    model = fasttext.load_model(str(model_bin))
    words = read_words(vocabulary_file)
    texts = real_texts(validation)
    forms = {
        "text": measure(model, texts["titled abstract"], words, min_known_percent),
        f"first_{SHORT_TOKENS}_tokens": measure(
            model, texts[f"first {SHORT_TOKENS} words"], words, min_known_percent
        ),
    }
    return {
        "min_day_answers": MIN_DAY_ANSWERS,
        "min_low_edge_answers": MIN_LOW_EDGE_ANSWERS,
        "z": Z,
        "measured": forms,
        "unknown_text": _band([f["unknown_text"] for f in forms.values()]),
        "labels": {c: _band([f["label_shares"].get(c, 0.0) for f in forms.values()]) for c in classes},
    }
