"""The one declared way to use the Lambda's own modules (``lambda/`` is no package name: a keyword).

The Lambda runtime puts the zip's root on ``sys.path``; importing this does the same for ``lambda/``, so
that settings, training, bulk classification and the tests run the very files that ship in the zip. It
exposes the wire contract (``contract``), the tokenizer (``tokens_of``: a text's instance) and the
leave-one-word-out explanation (``explainer``), never the
handler: only the local API imports that, to run it (``ops/local/api.py``, ``.importlinter``).
It imports nothing of the project's, so any layer may import it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

import contract  # noqa: E402  (from lambda/, on sys.path now)


def text_tokenizer() -> ModuleType:
    """The stdlib tokenizer module shared by training and serving, imported on first use."""
    import text_tokenizer as tokenizer

    return tokenizer


def explainer() -> ModuleType:
    """The stdlib module that builds and reads an explanation's instances (``lambda/explain.py``)."""
    import explain

    return explain


def tokens_of(text: str) -> str:
    """The instance the endpoint receives: the Lambda tokenizer's tokens, space-separated."""
    return " ".join(text_tokenizer().tokenize(text))


def run_code_from(code: Path) -> None:
    """Import the Lambda's modules from ``code`` (an unpacked Lambda zip) instead of ``lambda/`` from now on:
    its root goes first on the path and the modules imported from ``lambda/`` are forgotten (for a process
    of its own that runs a deployed zip: ``ops/local/api.py``)."""
    sys.path.insert(0, str(code))
    for name, module in list(sys.modules.items()):
        if Path(getattr(module, "__file__", None) or "/").parent == LAMBDA_DIR:
            del sys.modules[name]


__all__ = ["LAMBDA_DIR", "contract", "explainer", "run_code_from", "text_tokenizer", "tokens_of"]
