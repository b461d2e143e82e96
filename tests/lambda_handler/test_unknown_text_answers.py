"""The Lambda handler on text the model cannot judge: a 200 with no label, a reason and the top list."""

from __future__ import annotations

import gzip
import json
import logging
import os
from typing import Any

import pytest

from ml import vocabulary
from ml.pipeline import TrainOutcome
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON
from tests.lambda_handler.conftest import call, v2

import contract
import handler

# --- text the model cannot judge: 200, no label, a reason, the top list --------------------------------
LEARNED_REASON = (
    "It reads like conversation, a request, a program's message, code or markup, not like a text about a "
    "topic: the model cannot tell what it is about."
)


@pytest.mark.parametrize(
    "text",
    [
        "please reset my password",
        "Can you help me with my homework?",
        "check out my new blog post about cooking",
        "def main(): return 0",
        "<script>alert(1)</script>",
        "asdfgh qwerty zxcvb",
    ],
)
def test_requests_code_and_mashing_get_the_learned_rule_s_reason_and_the_top_list(
    lambda_env: str, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    # GIVEN the texts that got confident topics (none of them among the rule's training texts),
    # with the shipped settings: no topical-word share asked, only the learned rule judges them
    assert os.environ["MIN_KNOWN_PERCENT"] == "0" and handler.vocabulary().weights
    capsys.readouterr()
    status, _, body = call(v2(json.dumps({"text": text})))
    # THEN a 200 that names no topic, says why, and still has the model's top list
    assert status == 200 and (body["label"], body["probability"]) == (None, None)
    assert body["reason"] == LEARNED_REASON
    assert body["words"] == len(handler.tokenize(text)) and len(body["top"]) == 3
    # AND its log line (EMF, lambda/metrics.py) counts it apart from classified requests
    (line,) = [json.loads(out) for out in capsys.readouterr().out.splitlines() if '"_aws"' in out]
    assert (line["status"], line["Outcome"], line["UnknownText"]) == (200, "unknown_text", 1)


def test_text_of_words_the_model_never_learned_gets_no_label_but_a_reason_and_the_top_list(
    lambda_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN keyboard mashing, none of whose words is in the deployed model's vocabulary, and a Lambda set to
    # ask for 10% topical words
    assert not {"asdfgh", "qwerty", "zxcvb"} & handler.vocabulary().topical
    monkeypatch.setenv("MIN_KNOWN_PERCENT", "10")
    capsys.readouterr()
    status, _, body = call(v2(json.dumps({"text": "asdfgh qwerty zxcvb"})))
    # THEN the answer is a 200 that names no topic, says why, and still has the model's top list
    assert status == 200 and body["label"] is None and body["probability"] is None
    assert body["reason"] == (
        "Only 0 of 3 words tell the model anything about a topic; it cannot tell what this text is about."
    )
    assert (body["knownWords"], body["commonWords"], body["words"], len(body["top"])) == (0, 0, 3, 3)
    # AND its log line (EMF, lambda/metrics.py) counts it apart from classified requests
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines() if '"_aws"' in text]
    assert (line["status"], line["Outcome"], line["UnknownText"]) == (200, "unknown_text", 1)


def test_a_real_sentence_is_classified_with_its_known_and_common_word_counts(lambda_env: str) -> None:
    status, _, body = call(v2(json.dumps({"text": WALTER_JOHNSON})))
    words = handler.tokenize(WALTER_JOHNSON)
    assert status == 200 and body["label"] == "Athlete" and "reason" not in body
    assert body["words"] == len(words)
    assert body["knownWords"] == sum(w in handler.vocabulary().topical for w in words)
    assert body["commonWords"] == sum(w in handler.vocabulary().common for w in words) > 0


RHINE_DE = "Der Rhein ist ein Fluss, der durch Deutschland und die Niederlande fließt."


def test_a_sentence_in_another_language_gets_no_label_but_the_language_reason_and_the_top_list(
    lambda_env: str,
) -> None:
    # GIVEN the German sentence of the issue: long enough, and none of its words a common English word
    words = handler.tokenize(RHINE_DE)
    assert len(words) >= contract.MIN_WORDS_FOR_LANGUAGE and not set(words) & handler.vocabulary().common
    status, _, body = call(v2(json.dumps({"text": RHINE_DE})))
    # THEN a 200 that names no topic (the learned rule refuses it), says the text is not English (the
    # clearest reason, whatever its topical words), and still has the top list
    assert status == 200 and body["label"] is None and body["probability"] is None
    assert body["reason"] == (
        f"None of its {len(words)} words is a common English word: the model only knows English text, "
        "so it cannot tell what this is about."
    )
    assert (body["commonWords"], body["words"], len(body["top"])) == (0, len(words), 3)
    assert body["top"][0]["label"] and body["top"][0]["probability"] > 0


def test_a_short_text_without_a_common_word_is_judged_by_its_topical_words_only(lambda_env: str) -> None:
    # GIVEN a place's name, shorter than the language rule's reach, without a common word but with a topical
    # one ("river")
    words = handler.tokenize("Nile River")
    assert len(words) < contract.MIN_WORDS_FOR_LANGUAGE and not set(words) & handler.vocabulary().common
    assert set(words) & handler.vocabulary().topical
    status, _, body = call(v2(json.dumps({"text": "Nile River"})))
    # THEN it is classified
    assert status == 200 and body["label"] is not None and "reason" not in body, body


@pytest.mark.parametrize("extra", [-1, 0])
def test_a_refused_text_is_told_it_is_not_english_from_min_words_for_language_on(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, extra: int
) -> None:
    # GIVEN a word the model never saw, again and again (no topical and no common word), and a Lambda set
    # to ask for 10% topical words, so that the share refuses it at any length
    monkeypatch.setenv("MIN_KNOWN_PERCENT", "10")
    words = contract.MIN_WORDS_FOR_LANGUAGE + extra
    status, _, body = call(v2(json.dumps({"text": " ".join(["qzxvbn"] * words)})))
    # THEN it is refused, below the limit for its topical words, from it on as not English
    assert status == 200 and body["label"] is None, body
    expected = f"None of its {words} words is a common" if extra == 0 else f"Only 0 of {words} words"
    assert body["reason"].startswith(expected)


@pytest.mark.parametrize(("min_percent", "labelled"), [("50", True), ("51", False)])
def test_the_threshold_is_the_min_known_percent_setting(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, min_percent: str, labelled: bool
) -> None:
    # GIVEN a text of one topical and one other word (50% known) that the learned rule lets through
    assert "river" in handler.vocabulary().topical and "the" not in handler.vocabulary().topical
    score = contract.off_topic_score("The river", ["the", "river"], handler.vocabulary())
    assert score <= handler.vocabulary().threshold
    monkeypatch.setenv("MIN_KNOWN_PERCENT", min_percent)
    status, _, body = call(v2(json.dumps({"text": "The river"})))
    # THEN it is labelled exactly when 50% reaches the threshold
    assert status == 200 and (body["label"] is not None) == labelled
    assert body.get("reason") is None or body["reason"].startswith("Only 1 of 2 words")


def test_one_unknown_word_is_explained_in_the_singular(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_KNOWN_PERCENT", "10")
    status, _, body = call(v2(json.dumps({"text": "qzxvbn"})))
    assert status == 200 and body["reason"].startswith("Only 0 of 1 word tells the model anything about")


@pytest.mark.parametrize("text", ["hi there", "thanks", "bye", "yes"])
def test_greetings_the_model_has_seen_tell_it_no_topic(
    lambda_env: str, trained: tuple[Settings, TrainOutcome], text: str
) -> None:
    # GIVEN a greeting: words seen in train rows of many topics alike (as "the" is), or too rarely for the
    # model to keep them (min_count prunes words of one or two rows: "bye" is in one)
    words = handler.tokenize(text)
    settings, outcome = trained
    model_words = vocabulary.model_words(outcome.archive, settings.build_dir / "endpoint-cache")
    assert "there" in model_words, "a greeting word the model kept, and not topical"
    assert "the" not in handler.vocabulary().topical and "footballer" in handler.vocabulary().topical
    # THEN it gets no label, and the answer counts its topical words
    status, _, body = call(v2(json.dumps({"text": text})))
    assert status == 200 and body["label"] is None, body
    assert body["knownWords"] == sum(w in handler.vocabulary().topical for w in words)


@pytest.mark.parametrize(
    "fault",
    [
        "other model",
        "format 1",
        "format 2",
        "untagged word",
        "no sha256",
        "no file",
        "missing file",
        "not gzip",
    ],
)
def test_a_vocabulary_that_cannot_be_trusted_is_a_500_not_configured_logged(
    lambda_env: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Any,
    fault: str,
) -> None:
    # GIVEN a vocabulary derived from another model or in an older format, or none, or an unreadable one
    if fault == "other model":
        monkeypatch.setenv("MODEL_SHA256", "0" * 64)
    elif fault == "no sha256":
        monkeypatch.delenv("MODEL_SHA256")
    elif fault == "no file":
        monkeypatch.delenv("VOCABULARY_FILE")
    else:
        path = tmp_path / "vocabulary.txt.gz"
        if fault == "not gzip":
            path.write_text("river\n")
        header = contract.vocabulary_header(os.environ["MODEL_SHA256"], handler.TOKENIZER_SCHEME)
        if fault.startswith("format "):  # this very model's, in a format before common words: a word a line
            old = header.replace(contract.VOCABULARY_FORMAT, f"dbpedia-vocabulary/{fault[-1]}")
            path.write_bytes(gzip.compress(old.encode() + b"river\n"))
        if fault == "untagged word":  # today's header, then a line that is not "topical …" or "common …"
            path.write_bytes(gzip.compress(header.encode() + b"topical river\nfilm\n"))
        monkeypatch.setenv("VOCABULARY_FILE", str(path))
    with caplog.at_level(logging.INFO):
        status, _, body = call(v2(json.dumps({"text": WALTER_JOHNSON})))
    # THEN the function refuses to answer rather than refuse the wrong texts, and the log says why
    assert (status, body["error"]) == (500, "not_configured")
    assert "vocabulary" in caplog.text.lower() or "VOCABULARY_FILE" in caplog.text


def test_the_live_metrics_band_judges_typed_words_as_the_handler_answers_them(
    lambda_env: str, trained: tuple[Settings, TrainOutcome]
) -> None:
    """The drift band (ml/drift.py) is measured as the handler judges a request: a version's unknown-text
    alarm would fire, or never fire, if the band read the rows otherwise (it used to read the prepared
    token strings, without the marks the learned rule reads: 65% of the first words looked like chat)."""
    import fasttext

    from ml import data, drift
    from ml.package import unpack
    from ml.slices import SHORT_TOKENS, real_texts

    settings, outcome = trained
    texts = real_texts(data.make_splits(data.resolve_dataset(settings), settings).validation)
    typed = texts[f"first {SHORT_TOKENS} words"][:200]
    model = fasttext.load_model(str(unpack(outcome.archive, settings.build_dir / "parity")))
    words = drift.read_words(vocabulary.path_for(outcome.archive))
    # WHEN the band's measure and the real handler judge the same first words of validation rows
    measured = drift.measure(model, typed, words, settings.min_known_percent)
    answers = [call(v2(json.dumps({"text": text})))[2] for text in typed]
    # THEN the same share is refused, and the labels of the others are shared out alike
    refused = [a for a in answers if a["label"] is None]
    assert measured["unknown_text"] == len(refused) / len(typed)
    labelled = [a["label"] for a in answers if a["label"] is not None]
    shares = {label: labelled.count(label) / len(labelled) for label in set(labelled)}
    names = json.loads(outcome.manifest.read_text())["label_names"]
    assert {names[token]: share for token, share in measured["label_shares"].items()} == pytest.approx(shares)
