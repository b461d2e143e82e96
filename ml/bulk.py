"""Classify a file of texts on either target: check and read it, ask who answers, have it answered, sum up.

What is read: ml/records.py; what is written, and how an interrupted run resumes: ml/results.py. Who
answers is the target's: the local endpoint (ops/local/bulk.py) or a Batch Transform job
(ml/aws/transform.py). Each passes ``model``, the model that will answer (recorded in the output's key),
and ``answer``, which classifies the records into the output and returns how many it classified and how
many an interrupted run had kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ml.config import log
from ml.records import InputSpec, Record
from ml.results import Provenance, Summary, start

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
