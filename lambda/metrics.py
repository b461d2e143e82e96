"""The Lambda's one log line per request, in CloudWatch Embedded Metric Format (EMF): a log and metrics.

CloudWatch Logs turns a JSON line with an ``_aws`` member into metrics as it ingests it (AWS, "Specification:
Embedded metric format"), so the counters cost no API call. The line is written to standard output, raw:
Lambda's Python runtime would prefix a ``logging`` record with its level and time, and CloudWatch reads EMF
only from a line that is JSON as a whole. In namespace ``NAMESPACE``, every dimension set led by
``Function`` (the function's name), a request gives:

- ``Requests`` (Count) and ``Latency`` (Milliseconds), also by ``Outcome`` (``ok``, ``unknown_text`` or the
  error code: ``bad_request``, ``endpoint_timeout`` …);
- an answer with a label: ``Answers`` (Count), also by ``Label``;
- an answer (200, with or without a label): ``UnknownText``, ``LowConfidence`` and ``Explained``, each 1 or
  0, so that their Average is the share of answers without a label (docs/unknown-text.md), of labelled
  answers in the middle band (``"confidence": "low"``: top probability below ``contract.CONFIDENT``; a text
  without a label counts 0 there) and of answers that carry an explanation (``"explain": true``); and
  ``ExplainInstances`` (Count), the instances those explanations cost (0 without one).

The line also names the ``requestId`` and the ``status``. Standard library only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

NAMESPACE = "DbpediaClassifier"
LOCAL_FUNCTION = "local"  # ``Function`` where AWS_LAMBDA_FUNCTION_NAME is not set (the local stack, tests)


class _Stdout(logging.Handler):
    """Each record's message alone, on the standard output of the moment (so a test's capture sees it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(record.getMessage(), file=sys.stdout, flush=True)


# The local stack adds its own handler to this logger to count the same lines (ops/local/counters.py).
log = logging.getLogger("classifier.metrics")
log.propagate = False
log.setLevel(logging.INFO)
if not log.handlers:
    log.addHandler(_Stdout())


def record(
    request_id: str, status: int, outcome: str, latency_ms: float, answer: dict[str, Any] | None
) -> dict[str, Any]:
    """The EMF object of one request; ``answer`` is the 200's body (None for an error)."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or LOCAL_FUNCTION
    directives: list[dict[str, Any]] = [
        {
            "Namespace": NAMESPACE,
            "Dimensions": [["Function"], ["Function", "Outcome"]],
            "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}],
        }
    ]
    values: dict[str, Any] = {"Requests": 1, "Latency": latency_ms}
    if answer is not None and status == 200:
        label, explained = answer.get("label"), "explanation" in answer
        low = label is not None and answer.get("confidence") == "low"
        values |= {"UnknownText": int(label is None), "LowConfidence": int(low), "Explained": int(explained)}
        values |= {"ExplainInstances": answer.get("instances", 0) if explained else 0}
        names = ("UnknownText", "LowConfidence", "Explained", "ExplainInstances")
        rates = [{"Name": name, "Unit": "Count"} for name in names]
        directives.append({"Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": rates})
        if label is not None:
            values |= {"Answers": 1, "Label": label}
            directives.append(
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function"], ["Function", "Label"]],
                    "Metrics": [{"Name": "Answers", "Unit": "Count"}],
                }
            )
    return {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": directives},
        "Function": function,
        "Outcome": outcome,
        **values,
        "requestId": request_id,
        "status": status,
    }


def emit(
    request_id: str, status: int, outcome: str, latency_ms: float, answer: dict[str, Any] | None
) -> None:
    """Write the request's EMF line (:func:`record`)."""
    log.info(json.dumps(record(request_id, status, outcome, latency_ms, answer), ensure_ascii=False))
