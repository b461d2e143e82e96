"""``invoke unknown-text``: how well the Lambda's three rules tell real topics from text it can't judge.

Trains (or reuses) the pipeline's model on the given data with the current settings, then judges every
text with what the Lambda ships beside that model (``ml/vocabulary.py``): its tokens (the Lambda's
tokenizer) that are topical and common words, and the learned rule's score. Real texts are the rows the
model never saw, each as titled abstract, untitled abstract, first sentence and its first words: the
validation rows are the ones the rules may be chosen on, the test rows (and the official test file when
the test split was carved from the train file) the ones reported. The non-topic texts are gathered from
text that packages ship (``ml/non_topic.py``: chat, questions to a bot, program messages, other
languages, code, markup), each group split into a half to choose on (the learned rule is fitted on such
texts only) and a half to report, plus seeded keyboard mashing. The first table gives the share of each
group the Lambda would refuse: by the topical-word share alone at each threshold, by the common-word rule
alone, by the learned rule alone, and by all three as the handler applies them at the shipped threshold;
the second, the refused counts of the reported halves (docs/unknown-text.md).
"""

from __future__ import annotations

import gzip
import random
import string
from pathlib import Path

from ml import data, non_topic, pipeline, vocabulary
from ml.fsutil import write_text
from ml.lambda_src import contract, text_tokenizer
from ml.slices import real_texts
from ml.tables import markdown_table
from ops.settings import Settings

THRESHOLDS = (5, 10, 15, 20, 30, 40)  # percent of tokens that are topical words
MASHED = 200  # seeded random keyboard strings of 1-4 "words"


def mashed(n: int, seed: int) -> list[str]:
    """``n`` strings of random lower-case letters, like "asdfgh qwerty zxcvb" (seeded)."""
    rng = random.Random(seed)
    return [
        " ".join(
            "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9)))
            for _ in range(rng.randint(1, 4))
        )
        for _ in range(n)
    ]


def word_counts(text: str, words: contract.Vocabulary) -> tuple[int, int, int] | None:
    """The text's topical, common and all tokens, as the Lambda counts them; None for a text with no token."""
    tokens = text_tokenizer().tokenize(text)
    return contract.word_counts(tokens, words) if tokens else None


def off_topic(text: str, words: contract.Vocabulary) -> bool:
    """Whether the learned rule reads the text (of at least one token) as not about a topic."""
    return contract.off_topic(text, text_tokenizer().tokenize(text), words)


def shipped_vocabulary(archive: Path) -> contract.Vocabulary:
    """The vocabulary the pipeline derived beside ``archive``, as the Lambda reads it."""
    with gzip.open(vocabulary.require(archive), "rt", encoding="utf-8") as fh:
        return contract.read_vocabulary(fh.read().splitlines()[1:])


def measure(settings: Settings) -> str:
    """Train or reuse the model, measure every group; the note and Markdown table for docs/."""
    outcome = pipeline.run(settings)
    dataset = data.resolve_dataset(settings)
    everything = vocabulary.model_words(outcome.archive, settings.build_dir / "endpoint-cache")
    words = shipped_vocabulary(outcome.archive)
    shipped, min_words = settings.min_known_percent, contract.MIN_WORDS_FOR_LANGUAGE
    splits = data.make_splits(dataset, settings)
    reported = list(splits.test)
    if dataset.test_csv:  # the official test rows, when the test split was carved from the train file
        in_test = set(splits.test)
        reported += [row for row in data.read_rows(dataset.test_csv) if row not in in_test]
    halves = {"choose": real_texts(splits.validation), "report": real_texts(reported)}
    for name, by_half in non_topic.gather().items():
        for half, texts in by_half.items():
            halves[half][name] = texts
    halves["report"]["keyboard mashing"] = mashed(MASHED, settings.seed)
    rows, answered, totals = [], [], []
    for half, groups in halves.items():
        for name, texts in groups.items():
            counted = [word_counts(t, words) for t in texts]
            judged = [c for c in counted if c is not None]
            no_words = len(counted) - len(judged)  # refused already: "the text has no words" (400)
            topical = [sum(known * 100 < t * n for known, _, n in judged) for t in THRESHOLDS]
            foreign = sum(common == 0 and n >= min_words for _, common, n in judged)
            learned = [c is not None and off_topic(t, words) for t, c in zip(texts, counted, strict=True)]
            refused = [
                c is None or contract.unknown_reason(*c, shipped, rule) is not None
                for c, rule in zip(counted, learned, strict=True)
            ]
            kind = "real" if name in real_texts([]) else "non-topic"
            cells = [no_words + n for n in (*topical, foreign, sum(learned))] + [sum(refused)]
            label = f"{name} ({kind}, {half})"
            rows.append([label, f"{len(texts):,}"] + [f"{100 * n / len(texts):.1f}%" for n in cells])
            if half == "report":
                totals.append((name, kind, sum(refused), len(texts)))
                if kind == "non-topic":
                    answered += [t for t, no in zip(texts, refused, strict=True) if not no][:5]
    rules = ["no common word", "learned rule", f"as shipped ({shipped}%)"]
    header = ["texts", "n", *(f"< {t}% topical" for t in THRESHOLDS), *rules]
    table = markdown_table(header, rows)
    refused_nt = sum(n for _, kind, n, _ in totals if kind == "non-topic")
    all_nt = sum(total for _, kind, _, total in totals if kind == "non-topic")
    counts = [
        (f"{name} ({kind})", f"{n:,} of {total:,}", f"{100 * n / total:.1f}%")
        for name, kind, n, total in totals
    ]
    counts.append(
        ("every non-topic text", f"{refused_nt:,} of {all_nt:,}", f"{100 * refused_nt / all_nt:.1f}%")
    )
    summary = markdown_table(("reported texts", "refused", "share"), counts)
    note = (
        f"Model {outcome.archive.parent.name} ({len(words.topical):,} topical and {len(words.common):,} "
        f"common of {len(everything):,} words; learned rule of {len(words.weights):,} weights, threshold "
        f"{words.threshold:.3f}), trained on {dataset.origin} "
        f"(test split: {splits.test_source}); real texts are the rows it never saw: "
        f"{len(splits.validation):,} validation rows to choose on, {len(reported):,} test rows to report. "
        f"Constants: PRIOR_ROWS {vocabulary.PRIOR_ROWS}, MIN_TOPIC_NATS {vocabulary.MIN_TOPIC_NATS}, "
        f"COMMON_WORDS {vocabulary.COMMON_WORDS}, MIN_WORDS_FOR_LANGUAGE {min_words}, "
        f"min_known_percent {shipped}, RULE_C {vocabulary.RULE_C}, MIN_WEIGHT {vocabulary.MIN_WEIGHT}, "
        f"REFUSED_SHARE {vocabulary.REFUSED_SHARE}. Each cell is the share refused: by the topical-word "
        f"share alone below each threshold, by the common-word rule alone (at least {min_words} words, "
        "none common), by the learned rule alone, and by all three as the handler applies them (texts "
        "without any word count as refused: the Lambda answers them 400 already)."
    )
    common = ", ".join(sorted(words.common))
    still = "\n".join(f"- {t!r}" for t in answered)
    return (
        f"{note}\n\n{table}\n\nThe reported halves, as the handler judges them:\n\n{summary}\n\n"
        f"The common words: {common}.\n\nSome reported non-topic texts (five a group) the rules still "
        f"answer with a topic:\n\n{still}\n"
    )


def run(settings: Settings, out: Path) -> Path:
    """Measure in ``build/unknown-text/`` (the deployed model stays as it is); write the table to ``out``."""
    scratch = settings.build_dir / "unknown-text"
    write_text(out, measure(settings.replace(build_dir=scratch, terraform_dir=scratch / "terraform")))
    return out
