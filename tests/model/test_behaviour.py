"""Behavioural tests of the default model, as users meet it: text → the Lambda's tokenizer → the model.

The model is the ``trained`` fixture (the pipeline's default hyperparameters on the shipped sample); the
tokens come from ``lambda/text_tokenizer.py``, the file that ships in the Lambda zip. Every sentence below
was written for these tests (none is taken from the dataset). Thresholds are stated beside each test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ml import lambda_src
from ml.pipeline import TrainOutcome
from ml.predict import Predictor
from ops.settings import Settings

tokenize = lambda_src.text_tokenizer().tokenize
Classify = Callable[[str], dict[str, float]]

# One short sentence per class, in data/classes order, written for this test.
MINIMUM = {
    "Company": "Brightwave Systems is a software company based in Austin that sells accounting tools.",
    "EducationalInstitution": "Maple Ridge College is a private liberal arts college with 2000 students.",
    "Artist": "Lena Marquez is an American singer and songwriter whose debut album went platinum.",
    "Athlete": "Tomas Okafor is a Nigerian footballer who plays as a striker in the Premier League.",
    "OfficeHolder": "John Whitfield served as a member of the state senate and was later elected governor.",
    "MeanOfTransportation": "The SS Northern Star was a passenger steamship launched in 1912.",
    "Building": "The Grand Meridian Hotel is a historic building constructed in 1889 on the main square.",
    "NaturalPlace": "Mount Aldren is a mountain in the Rocky Mountains with an elevation of 3200 metres.",
    "Village": "Kowalewo is a village in the administrative district of Gmina Nowa Wies in Poland.",
    "Animal": "The striped marsh frog is a species of frog in the family Limnodynastidae found in wetlands.",
    "Plant": "Silene alpina is a species of flowering plant in the family Caryophyllaceae native to meadows.",
    "Album": "Midnight Roads is the third studio album by the rock band The Hollow Pines released in 2004.",
    "Film": "The Last Harbor is a 1998 drama film directed by Maria Costa and starring Paul Reed.",
    "WrittenWork": "The Silent Orchard is a novel by the British author Helen Marsh published in 1967.",
}
MIN_CORRECT = 14  # of 14: all of them (each is classified right with margin; see MIN_PROBABILITY)
MIN_PROBABILITY = 0.5  # the right label's probability, for every sentence

# Variants that must not change the answer: same label, probability within PROBABILITY_TOLERANCE.
PROBABILITY_TOLERANCE = 1e-6  # the tokens are identical, so the scores are too
VARIANTS = {
    "upper case": str.upper,
    "lower case": str.lower,
    "extra white space": lambda s: "  " + "   ".join(s.split()) + " \n\t",
    "no trailing period": lambda s: s.rstrip("."),
    "trailing exclamation marks": lambda s: s.rstrip(".") + "!!",
    "trailing question mark": lambda s: s.rstrip(".") + " ?",
}

# Directional: appending a phrase typical of a class raises that class's probability by at least MIN_GAIN.
MIN_GAIN = 0.05
DIRECTIONAL = [
    # (ambiguous start, phrase appended, the class whose probability must rise)
    ("Harrow Lane", "is a village in the district of Kreis Borken.", "Village"),
    ("Harrow Lane", "is the second studio album by the band.", "Album"),
    ("Blue River", "is a 2011 American comedy film.", "Film"),
    ("Blue River", "is a species of moth of the family Tortricidae.", "Animal"),
    ("Samuel Price", "played as a goalkeeper for the national team.", "Athlete"),
    ("Samuel Price", "was elected to the House of Representatives.", "OfficeHolder"),
]


@pytest.fixture(scope="module")
def classify(trained: tuple[Settings, TrainOutcome]) -> Classify:
    """``classify(text) -> {label: probability}`` for every class, through the Lambda's tokenizer."""
    settings, outcome = trained
    predictor = Predictor.from_archive(outcome.archive, settings.build_dir / "cache")

    def scores(text: str) -> dict[str, float]:
        [answer] = predictor.predict([" ".join(tokenize(text))], k=len(predictor.labels))
        return {
            label.removeprefix("__label__"): p
            for label, p in zip(answer["label"], answer["prob"], strict=True)
        }

    return scores


def _top(scores: dict[str, float]) -> str:
    return max(scores, key=scores.__getitem__)


def test_minimum_functionality_one_written_sentence_per_class(classify: Classify) -> None:
    # GIVEN one sentence per class, WHEN each is classified, THEN at least MIN_CORRECT are right
    answers = {cls: classify(text) for cls, text in MINIMUM.items()}
    wrong = {cls: _top(scores) for cls, scores in answers.items() if _top(scores) != cls}
    assert len(MINIMUM) - len(wrong) >= MIN_CORRECT, f"misclassified (expected -> got): {wrong}"
    weak = {cls: round(scores[cls], 3) for cls, scores in answers.items() if scores[cls] < MIN_PROBABILITY}
    assert not weak, f"right label below {MIN_PROBABILITY}: {weak}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_case_white_space_and_trailing_punctuation_do_not_change_the_answer(
    classify: Classify, variant: str
) -> None:
    change = VARIANTS[variant]
    for cls, text in MINIMUM.items():
        original, changed = classify(text), classify(change(text))
        assert _top(changed) == _top(original), f"{variant} changed {cls}'s label"
        assert changed[cls] == pytest.approx(original[cls], abs=PROBABILITY_TOLERANCE), f"{variant}: {cls}"


@pytest.mark.parametrize(("start", "phrase", "cls"), DIRECTIONAL)
def test_a_class_typical_phrase_raises_that_class(
    classify: Classify, start: str, phrase: str, cls: str
) -> None:
    before, after = classify(start)[cls], classify(f"{start} {phrase}")[cls]
    assert after >= before + MIN_GAIN, f"{cls}: {before:.3f} -> {after:.3f} after {phrase!r}"
