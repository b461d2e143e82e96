"""What `invoke up` shows of the live metrics: the handler's EMF lines, counted as CloudWatch would.

The local stack hangs a :class:`Counters` on the handler's metrics logger (``lambda/metrics.py``) in place
of its standard-output handler: each request's EMF line is read back and counted, and :meth:`summary`
says, for the minute or for the whole run, the requests by outcome, the answers by label, the unknown-text,
low-confidence and explained shares and the latency (docs/live-metrics.md).

With ``--api-workers`` > 1 the handler runs in worker processes: each sends its EMF lines to the parent on
its control pipe (:class:`ToParent`), and the parent logs them to its own metrics logger (:func:`relay`), so
they are counted (or printed) there as if the handler ran in the parent.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

METRICS_LOGGER = "classifier.metrics"  # the handler's EMF lines (lambda/metrics.py)


@dataclass
class Tally:
    """The counters of some requests."""

    outcomes: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    answered: int = 0  # 200s, with a label or without
    unknown_text: int = 0
    low_confidence: int = 0
    explained: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, line: dict[str, Any]) -> None:
        """Count one EMF line of the handler."""
        self.outcomes[str(line.get("Outcome"))] += int(line.get("Requests", 0))
        self.latencies.append(float(line.get("Latency", 0.0)))
        if "UnknownText" in line:
            self.answered += 1
            self.unknown_text += int(line["UnknownText"])
            self.low_confidence += int(line["LowConfidence"])
            self.explained += int(line.get("Explained", 0))
        if line.get("Answers"):
            self.labels[str(line["Label"])] += int(line["Answers"])

    def summary(self, what: str) -> str:
        """One line: ``<what>: 3 requests (ok 2, bad_request 1); labels Athlete 1, Film 1; …``."""
        total = sum(self.outcomes.values())
        if total == 0:
            return f"{what}: no requests"
        outcomes = ", ".join(f"{name} {n}" for name, n in self.outcomes.most_common())
        labels = ", ".join(f"{name} {n}" for name, n in self.labels.most_common()) or "none"
        return (
            f"{what}: {total} requests ({outcomes}); labels {labels}; "
            f"unknown text {_share(self.unknown_text, self.answered)}, "
            f"low confidence {_share(self.low_confidence, self.answered)}, "
            f"explained {_share(self.explained, self.answered)} of {self.answered} answers; "
            f"latency p50 {_percentile(self.latencies, 50):.0f} ms, "
            f"p99 {_percentile(self.latencies, 99):.0f} ms"
        )


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile (the smallest value with ``percent`` % at or below it)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


class Counters(logging.Handler):
    """Counts the EMF lines logged to it: since the last :meth:`take_minute` and since it was made."""

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self.minute, self.total = Tally(), Tally()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = json.loads(record.getMessage())
        except ValueError:
            return
        with self._guard:
            self.minute.add(line)
            self.total.add(line)

    def take_minute(self) -> Tally:
        """The minute's tally, and a fresh one for the next."""
        with self._guard:
            minute, self.minute = self.minute, Tally()
        return minute


class ToParent(logging.Handler):
    """In an API worker process: send each EMF line to the parent on ``control`` (see :func:`relay`)."""

    def __init__(self, control: Connection) -> None:
        super().__init__()
        self._control = control
        self._guard = threading.Lock()  # the server's threads share one pipe

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self._guard:
                self._control.send(record.getMessage())
        except (OSError, ValueError):  # the parent is gone or closed the pipe: nothing left to count
            pass


def send_to_parent(control: Connection) -> None:
    """In an API worker process: the handler's EMF lines go to the parent instead of standard output."""
    metrics = logging.getLogger(METRICS_LOGGER)
    for handler in list(metrics.handlers):
        metrics.removeHandler(handler)
    metrics.addHandler(ToParent(control))


def relay(control: Connection) -> None:
    """In the parent, until the worker's pipe closes: log each line a worker sent to the metrics logger."""
    metrics = logging.getLogger(METRICS_LOGGER)
    while True:
        try:
            line = control.recv()
        except (EOFError, OSError):
            return
        metrics.info("%s", line)
