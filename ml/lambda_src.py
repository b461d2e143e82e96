"""The one declared way to use the Lambda's own modules (``lambda/`` is no package name: a keyword).

The Lambda runtime puts the zip's root on ``sys.path``; this does the same for ``lambda/`` so that
training, the local API and the tests run the very files that ship in the zip.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

from ml.config import ROOT

LAMBDA_DIR = ROOT / "lambda"


def load(name: str) -> ModuleType:
    """Import ``lambda/<name>.py`` as the top-level module ``name``, as the Lambda runtime would."""
    if str(LAMBDA_DIR) not in sys.path:
        sys.path.insert(0, str(LAMBDA_DIR))
    return importlib.import_module(name)


def text_tokenizer() -> ModuleType:
    """The stdlib tokenizer module shared by training and serving."""
    return load("text_tokenizer")


def handler() -> ModuleType:
    """The Lambda handler module."""
    return load("handler")


def read_prediction(prediction: dict[str, Any]) -> list[dict[str, Any]]:
    """The top list of one BlazingText prediction, read exactly as the Lambda reads it.

    ValueError (with the Lambda's message) for a prediction the Lambda would refuse.
    """
    lambda_handler = handler()
    try:
        top: list[dict[str, Any]] = lambda_handler.validate_answer([prediction])
    except lambda_handler.HttpError as exc:
        raise ValueError(exc.message) from None
    return top
