"""What a tokenizing process of ``invoke classify --target local`` runs: the Lambda's tokenizer, nothing more.

A module of its own so the fork server that starts those processes imports only ``ml/lambda_src.py`` and
the standard-library tokenizer (about 0.05 s), not ``ops/local/bulk.py`` with boto3, pydantic and fastText
(about 1.3 s of every run's start, measured with ``python -X importtime -c "import ops.local.bulk"``).
"""

from __future__ import annotations

import signal

from ml.lambda_src import tokens_of


def ignore_interrupt() -> None:
    """Ctrl-C reaches the whole process group: the parent stops the workers, they do not stop themselves."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def tokenize_batch(texts: list[str]) -> list[str]:
    """The instances of a batch's texts: tokens space-separated (empty for a text without words)."""
    return [tokens_of(text) for text in texts]
