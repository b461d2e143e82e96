"""Classify a file of texts on either target: check and read it, ask who answers, have it answered, sum up.

What is read: ml/records.py; what is written, and how an interrupted run resumes: ml/results.py. Who
answers is the target's: the local endpoint (ops/local/bulk.py) or a Batch Transform job
(ml/aws/transform.py). Each passes ``model``, the model that will answer (recorded in the output's key),
and ``answer``, which classifies the records into the output and returns how many it classified and how
many an interrupted run had kept. With ``--explain`` both targets send each text with words as the
Lambda's instances (:func:`explain_instances`) and write its line from their answers (:func:`explained_line`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ml.config import log
from ml.lambda_src import contract, explainer
from ml.records import ClassifyError, InputSpec, Record
from ml.results import Provenance, Summary, result_line, start

Answer = Callable[[list[Record], Provenance], tuple[int, int]]


def classify_file(
    source: Path,
    output: Path,
    spec: InputSpec,
    k: int,
    model: Callable[[], str],
    answer: Answer,
    force: bool = False,
    explain_words: int = 0,
) -> Summary:
    """Classify every text of ``source`` into ``output`` (``k`` labels each) unless it is done already.

    ``force`` classifies again and replaces ``output`` whatever made it (a partial run of the same
    provenance is still resumed: its lines are the ones a fresh run writes). ``explain_words`` (> 0) is
    recorded in the provenance: the answers carry explanations of at most that many first words.

    Raises:
        ClassifyError: unreadable input, or an output that is refused.
    """
    started = time.perf_counter()
    records, provenance, done = start(source, output, spec, k, model, force, explain_words)
    if done:
        return Summary(output, len(records), 0, 0, 0.0, up_to_date=True)
    classified, resumed = answer(records, provenance)
    seconds = time.perf_counter() - started
    log.info("classified %d texts into %s in %.1f s", classified, output, seconds)
    return Summary(output, len(records), classified, resumed, seconds, up_to_date=False)


def explain_instances(tokens: str, max_words: int) -> list[str]:
    """The instances that explain a tokenized text as the Lambda does (``lambda/explain.py``): the text, then
    it without each of its first words, at most ``max_words`` of them."""
    words = tokens.split(" ")
    explain = explainer()
    return list(explain.instances(words, explain.explained_words(words, max_words)))


def explained_line(
    record_id: str | int, tokens: str, answers: list[dict[str, Any]], k: int
) -> dict[str, Any]:
    """The output line of an explained text from the answers to its ``explain_instances`` (every label
    asked): the top ``k`` of the whole text's answer, and the Lambda's ``explanation``, ``explainedWords``
    and ``instances``."""
    try:
        read = [contract.read_prediction(answer) for answer in answers]
    except ValueError as exc:
        raise ClassifyError(f"unreadable prediction for id {record_id!r}: {exc}") from None
    top = {"label": answers[0]["label"][:k], "prob": answers[0]["prob"][:k]}
    return {**result_line(record_id, top), **explainer().explanation(tokens.split(" "), read)}
