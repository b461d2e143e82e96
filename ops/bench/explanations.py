"""``invoke explanations``: the middle band's threshold and the explanations' faithfulness, on real rows.

Trains (or reuses) the pipeline's model on the given data with the current settings, then judges real
rows the model never saw as the Lambda does (its tokenizer, its unknown-text rules with the vocabulary
shipped beside the model; a refused text gets no label and is left out), each as titled abstract, first
sentence, first words and title (``ml/slices.py``):

1. **Accuracy per probability band** of the labelled answers: the validation rows choose
   ``contract.CONFIDENT`` (the lowest band edge from which every band up is right at least
   ``TARGET_ACCURACY`` of the time), the test rows report it (docs/confidence.md).
2. **Faithfulness** of the explanations (``lambda/explain.py``, as the Lambda builds and reads them):
   for each test text of at least ``MIN_WORDS`` tokens, the top label's probability drop when its 3
   highest-weighted words are removed against 3 words drawn at random (seeded) from the same weighed
   words; both means and the share of texts where the top-3 drop is the larger (docs/explanations.md).
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from statistics import mean
from typing import Any

from ml import data, pipeline
from ml.fsutil import write_text
from ml.lambda_src import contract, explainer, text_tokenizer
from ml.predict import Predictor
from ml.slices import real_texts
from ml.tables import markdown_table
from ops.bench.unknown_text import off_topic, shipped_vocabulary
from ops.settings import Settings

BAND_EDGES = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0000001)
TARGET_ACCURACY = 0.9  # a "high" answer is right at least this often in every band at or above the threshold
REMOVED = 3  # words removed by the faithfulness check
MIN_WORDS = REMOVED + 2  # something is left after removing them, and a random pick is not the top 3 itself
FORMS = ("titled abstract", "first sentence", "first 8 words", "title alone")


def labelled(texts: list[str], labels: list[str], words: contract.Vocabulary, min_known: int) -> list[Any]:
    """(tokens, true label) of the texts the Lambda would give a label (its unknown-text rules pass)."""
    kept = []
    for text, label in zip(texts, labels, strict=True):
        tokens = text_tokenizer().tokenize(text)
        if not tokens:
            continue
        reason = contract.unknown_reason(
            *contract.word_counts(tokens, words), min_known, off_topic(text, words)
        )
        if reason is None:
            kept.append((tokens, label))
    return kept


def top_answers(predictor: Predictor, instances: list[str], k: int) -> list[list[dict[str, Any]]]:
    """Each instance's top ``k`` labels as the Lambda reads them (the user's labels, probabilities)."""
    return [contract.read_prediction(p) for p in predictor.predict(instances, k)]


def bands(answers: list[tuple[float, bool]]) -> list[tuple[float, float, int, int]]:
    """(low, high, answers, right) of each probability band."""
    rows = []
    for low, high in itertools.pairwise(BAND_EDGES):
        inside = [right for p, right in answers if low <= p < high]
        rows.append((low, min(high, 1.0), len(inside), sum(inside)))
    return rows


def threshold(by_band: list[tuple[float, float, int, int]]) -> float:
    """The lowest band edge from which every band with answers is right at least TARGET_ACCURACY."""
    chosen = 1.0
    for low, _, n, right in reversed(by_band):
        if n and right / n < TARGET_ACCURACY:
            break
        chosen = low
    return chosen


def faithfulness(predictor: Predictor, texts: list[list[str]], max_words: int, seed: int) -> dict[str, Any]:
    """Top-3 versus random-3 removal drops of the top label's probability over ``texts`` (token lists)."""
    rng, explain, n_labels = random.Random(seed), explainer(), len(predictor.labels)
    top3, random3 = [], []
    for tokens in texts:
        n = explain.explained_words(tokens, max_words)
        if n < MIN_WORDS:
            continue
        why = explain.explanation(tokens, top_answers(predictor, explain.instances(tokens, n), n_labels))
        ranked = sorted(range(n), key=lambda i: -why["explanation"][i]["weight"])
        picks = [set(ranked[:REMOVED]), set(rng.sample(range(n), REMOVED))]
        full = top_answers(predictor, [" ".join(tokens)], 1)[0][0]
        variants = [" ".join(t for i, t in enumerate(tokens) if i not in pick) for pick in picks]
        drops = []
        for answer in top_answers(predictor, variants, n_labels):
            without = next((p["probability"] for p in answer if p["label"] == full["label"]), 0.0)
            drops.append(full["probability"] - without)
        top3.append(drops[0])
        random3.append(drops[1])
    pairs = list(zip(top3, random3, strict=True))
    wins, ties = sum(a > b for a, b in pairs), sum(a == b for a, b in pairs)
    return {
        "texts": len(pairs),
        "top3": mean(top3),
        "random3": mean(random3),
        "share": wins / len(pairs),
        "ties": ties / len(pairs),
        "share_untied": wins / max(1, len(pairs) - ties),
    }


def measure(settings: Settings) -> str:
    """Train or reuse the model, measure both; the notes and Markdown tables for docs/."""
    outcome = pipeline.run(settings)
    dataset = data.resolve_dataset(settings)
    splits = data.make_splits(dataset, settings)
    predictor = Predictor.from_archive(outcome.archive, settings.build_dir / "endpoint-cache")
    words = shipped_vocabulary(outcome.archive)
    sections = []
    per_split: dict[str, list[tuple[float, float, int, int]]] = {}
    by_form: dict[str, dict[str, list[Any]]] = {}
    for split, rows in (("validation", splits.validation), ("test", splits.test)):
        truth = [dataset.classes[row.label] for row in rows]
        answers: list[tuple[float, bool]] = []
        by_form[split] = {}
        for form, texts in real_texts(rows).items():
            if form not in FORMS:
                continue
            kept = labelled(texts, truth, words, settings.min_known_percent)
            by_form[split][form] = kept
            tops = top_answers(predictor, [" ".join(tokens) for tokens, _ in kept], 1)
            answers += [
                (top[0]["probability"], top[0]["label"] == label)
                for top, (_, label) in zip(tops, kept, strict=True)
            ]
        per_split[split] = bands(answers)
    chosen = threshold(per_split["validation"])
    table = [
        [f"{low:.2f}–{high:.2f}"]
        + [
            f"{n:,} ({right / n:.1%} right)" if n else "0"
            for _, _, n, right in (per_split[s][i] for s in ("validation", "test"))
        ]
        for i, (low, high, _, _) in enumerate(per_split["validation"])
    ]
    shares = {
        s: sum(n for low, _, n, _ in per_split[s] if low < chosen) / sum(n for *_, n, _ in per_split[s])
        for s in per_split
    }
    right_above = {
        s: sum(r for low, _, _, r in per_split[s] if low >= chosen)
        / max(1, sum(n for low, _, n, _ in per_split[s] if low >= chosen))
        for s in per_split
    }
    sections.append(
        f"Model {outcome.archive.parent.name} trained on {dataset.origin} "
        f"(test split: {splits.test_source}); "
        f"labelled answers of {len(splits.validation):,} validation and {len(splits.test):,} test rows, each "
        f"as {', '.join(FORMS)} (texts the unknown-text rules refuse left out).\n\n"
        + markdown_table(("top probability", "validation answers", "test answers"), table)
        + f"\n\nThreshold chosen on validation (lowest band edge from which every band is right at least "
        f"{TARGET_ACCURACY:.0%}): **{chosen:.2f}** (contract.CONFIDENT is {contract.CONFIDENT}). Below it: "
        f"{shares['validation']:.1%} of validation and {shares['test']:.1%} of test answers; at or above it "
        f"right {right_above['validation']:.1%} (validation) and {right_above['test']:.1%} (test)."
    )
    table_rows: list[list[str]] = []
    for form in FORMS:
        result = faithfulness(
            predictor,
            [tokens for tokens, _ in by_form["test"][form]],
            settings.explain_max_words,
            settings.seed,
        )
        table_rows.append(
            [
                form,
                f"{result['texts']:,}",
                f"{result['top3']:.3f}",
                f"{result['random3']:.3f}",
                f"{result['share']:.1%}",
                f"{result['ties']:.1%}",
                f"{result['share_untied']:.1%}",
            ]
        )
    header = (
        "test texts",
        "n",
        "mean drop, top-3 removed",
        "mean drop, 3 random removed",
        "top-3 drop larger",
        "equal drops",
        "larger, of the unequal",
    )
    sections.append(
        f"Faithfulness (explain_max_words {settings.explain_max_words}, seed {settings.seed}; texts of at "
        f"least {MIN_WORDS} tokens; drops of the top label's probability):\n\n"
        + markdown_table(header, table_rows)
    )
    return "\n\n".join(sections) + "\n"


def run(settings: Settings, out: Path) -> Path:
    """Measure in ``build/explanations/`` (the deployed model stays as it is); write the tables to ``out``."""
    scratch = settings.build_dir / "explanations"
    write_text(out, measure(settings.replace(build_dir=scratch, terraform_dir=scratch / "terraform")))
    return out
