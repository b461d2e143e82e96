"""``invoke unknown-text``: how well the Lambda's two rules tell real topics from text the model can't judge.

Trains (or reuses) the pipeline's model on the given data with the current settings, then counts, for
every text, its tokens (the Lambda's tokenizer) that are topical words and common words of that model
(``ml/vocabulary.py``, what the Lambda ships). Real texts are the rows the model never saw (validation,
test, and the official test file when the test split was carved from the train file), each as titled
abstract, untitled abstract, first sentence and its first words; the non-topic texts are
``NON_TOPIC`` below plus seeded keyboard mashing. The table gives the share of each group the Lambda
would refuse: by the topical-word share alone at each threshold, by the common-word rule alone, and by
both as the handler applies them at the shipped threshold (docs/unknown-text.md).
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Iterable
from pathlib import Path

from ml import data, pipeline, vocabulary
from ml.config import Settings
from ml.fsutil import write_text
from ml.lambda_src import handler, text_tokenizer
from ml.preprocess import BASELINE_TRAIN
from ml.slices import SHORT_TOKENS, first_sentence
from ml.tables import markdown_table

THRESHOLDS = (5, 10, 15, 20, 30, 40)  # percent of tokens that are topical words

# Texts no topic of DBPedia's 14 fits, written for this measurement (not tuned against the threshold).
# fmt: off
NON_TOPIC: dict[str, tuple[str, ...]] = {
    "greetings and chat": (
        "hello", "hi", "hi there", "hey", "good morning", "good evening", "how are you?", "what's up",
        "thanks", "thank you very much", "bye", "see you later", "yes", "no", "ok", "lol", "hello world",
        "can you help me?", "who are you?", "what is this?", "I don't know", "nice to meet you",
        "test", "testing 123", "asdf", "hmm", "cool", "please classify this",
    ),
    "code": (
        "def f(x): return x + 1", "SELECT * FROM users WHERE id = 1;", "console.log('hello');",
        "for (int i = 0; i < n; i++) { sum += a[i]; }", "import numpy as np", "<div class=\"row\"></div>",
        "git commit -m 'fix'", "npm install --save-dev eslint", "if err != nil { return err }",
        "#include <stdio.h>", "x = [i**2 for i in range(10)]", "curl -X POST http://localhost:3000",
        "public static void main(String[] args)", "fn main() { println!(\"hi\"); }",
        "SELECT count(*) FROM t GROUP BY k", "sudo apt-get install -y chromium",
    ),
    "emoji and symbols": (
        "🎉🎉 lol", "😀 hi 😀", "👍 ok", "❤️ love it ❤️", "🔥🔥🔥 fire", "¯\\_(ツ)_/¯", "xD :) :P",
        "🙂 thx", "omg 😱", "gg wp 🏆",
    ),
    "other languages": (
        "Der Rhein ist ein Fluss, der durch Deutschland und die Niederlande fließt.",
        "Die Stadt liegt am Ufer des Sees und hat etwa zehntausend Einwohner.",
        "Ich habe gestern einen sehr schönen Film im Kino gesehen.",
        "Das Unternehmen wurde im Jahr neunzehnhundert gegründet und stellt Autos her.",
        "Le Rhin est un fleuve qui traverse la Suisse, la France et l'Allemagne.",
        "Elle est une chanteuse française très connue pour ses chansons d'amour.",
        "El río Ebro es el más caudaloso de España y desemboca en el mar Mediterráneo.",
        "La empresa fue fundada por dos hermanos y hoy tiene miles de empleados.",
        "Il fiume Po attraversa la pianura padana e sfocia nel mare Adriatico.",
        "O rio Amazonas é o maior rio do mundo em volume de água.",
        "De Rijn is een rivier die door Zwitserland, Duitsland en Nederland stroomt.",
        "Floden rinner genom staden och ut i havet vid kusten.",
        "Rzeka Wisła jest najdłuższą rzeką w Polsce.",
        "Река Волга является самой длинной рекой в Европе.",
        "Москва является столицей России и крупнейшим городом страны.",
        "富士山は日本で最も高い山です。",
        "東京は日本の首都であり、世界最大の都市の一つです。",
        "长江是中国最长的河流。",
        "北京是中华人民共和国的首都。",
        "서울은 대한민국의 수도이다.",
        "نهر النيل هو أطول نهر في العالم.",
        "גבעת ביתא היא גבעה בירושלים.",
        "हिमालय दुनिया की सबसे ऊँची पर्वत श्रृंखला है।",
        "Ο Όλυμπος είναι το ψηλότερο βουνό της Ελλάδας.",
        "Dunărea este al doilea cel mai lung fluviu din Europa.",
        "A Duna Európa második leghosszabb folyója.",
        "Tuna on Euroopan toiseksi pisin joki.",
        "İstanbul Türkiye'nin en kalabalık şehridir.",
    ),
}
# fmt: on
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


def real_texts(rows: Iterable[data.Row]) -> dict[str, list[str]]:
    """The four ways a real row can arrive: titled and untitled abstract, first sentence, first words."""
    groups: dict[str, list[str]] = {"titled abstract": [], "untitled abstract": [], "first sentence": []}
    groups[f"first {SHORT_TOKENS} words"] = []
    for row in rows:
        sentence = first_sentence(row.content)
        groups["titled abstract"].append(row.text)
        groups["untitled abstract"].append(row.content)
        groups["first sentence"].append(sentence)
        groups[f"first {SHORT_TOKENS} words"].append(" ".join(sentence.split()[:SHORT_TOKENS]))
    return groups


def word_counts(text: str, words: vocabulary.Vocabulary) -> tuple[int, int, int] | None:
    """The text's topical, common and all tokens, as the Lambda counts them; None for a text with no token."""
    tokens = text_tokenizer().tokenize(text)
    counts: tuple[int, int, int] | None = handler().word_counts(tokens, words) if tokens else None
    return counts


def measure(settings: Settings) -> str:
    """Train or reuse the model, measure every group; the note and Markdown table for docs/."""
    outcome = pipeline.run(settings)
    dataset, prepared = pipeline.prepare_data(settings)
    everything = vocabulary.model_words(outcome.archive, settings.build_dir / "endpoint-cache")
    started = time.perf_counter()
    words = vocabulary.derive(everything, prepared.path(BASELINE_TRAIN))
    seconds = time.perf_counter() - started
    lambda_handler, shipped = handler(), settings.min_known_percent
    min_words = lambda_handler.MIN_WORDS_FOR_LANGUAGE
    splits = data.make_splits(dataset, settings)
    unseen = splits.validation + splits.test
    if dataset.test_csv:  # the official test rows, when the test split was carved from the train file
        in_test = set(splits.test)
        unseen += [row for row in data.read_rows(dataset.test_csv) if row not in in_test]
    real = real_texts(unseen)
    groups = {
        **real,
        **{k: list(v) for k, v in NON_TOPIC.items()},
        "keyboard mashing": mashed(MASHED, settings.seed),
    }
    rows, answered = [], []
    for name, texts in groups.items():
        counted = [word_counts(t, words) for t in texts]
        judged = [c for c in counted if c is not None]
        no_words = len(counted) - len(judged)  # refused already: "the text has no words" (400)
        topical = [sum(known * 100 < t * n for known, _, n in judged) for t in THRESHOLDS]
        foreign = sum(common == 0 and n >= min_words for _, common, n in judged)
        refused = [c is None or lambda_handler.unknown_reason(*c, shipped) is not None for c in counted]
        kind = "real" if name in real else "non-topic"
        cells = [no_words + n for n in (*topical, foreign)] + [sum(refused)]
        rows.append([f"{name} ({kind})", f"{len(texts):,}"] + [f"{100 * n / len(texts):.1f}%" for n in cells])
        if name in NON_TOPIC:
            answered += [t for t, no in zip(texts, refused, strict=True) if not no]
    header = ["texts", "n", *(f"< {t}% topical" for t in THRESHOLDS), "no common word", f"both at {shipped}%"]
    table = markdown_table(header, rows)
    note = (
        f"Model {outcome.archive.parent.name} ({len(words.topical):,} topical and {len(words.common):,} "
        f"common of {len(everything):,} words, derived in {seconds:.1f} s), trained on {dataset.origin} "
        f"(test split: {splits.test_source}); real texts are the {len(unseen):,} rows it never saw. "
        f"Constants: PRIOR_ROWS {vocabulary.PRIOR_ROWS}, MIN_TOPIC_NATS {vocabulary.MIN_TOPIC_NATS}, "
        f"COMMON_WORDS {vocabulary.COMMON_WORDS}, MIN_WORDS_FOR_LANGUAGE {min_words}, "
        f"min_known_percent {shipped}. Each cell is the share refused: by the topical-word share alone "
        f"below each threshold, by the common-word rule alone (at least {min_words} words, none "
        "common), and by both as the handler applies them (texts without any word count as refused: "
        "the Lambda answers them 400 already)."
    )
    common = ", ".join(sorted(words.common))
    still = "\n".join(f"- {t}" for t in answered)
    return (
        f"{note}\n\n{table}\n\nThe common words: {common}.\n\n"
        f"Non-topic texts both rules still answer with a topic:\n\n{still}\n"
    )


def run(settings: Settings, out: Path) -> Path:
    """Measure in ``build/unknown-text/`` (the deployed model stays as it is); write the table to ``out``."""
    scratch = settings.build_dir / "unknown-text"
    write_text(out, measure(settings.replace(build_dir=scratch, terraform_dir=scratch / "terraform")))
    return out
