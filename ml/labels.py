"""A user's label as a BlazingText / fastText label token, and back: one reversible mapping.

BlazingText reads ``__label__<token> words…``: a token cannot hold whitespace (it ends the word) and
should not itself begin with ``__label__``. ``to_token`` percent-escapes exactly what cannot be carried:
``%`` itself, whitespace and control characters (as the %XX of their UTF-8 bytes), and the first ``_``
of a label that begins with ``__label__``. Every other label is its own token, so DBPedia's class names
("Company", "MeanOfTransportation") pass unchanged. ``to_label`` is ``urllib.parse.unquote``: the exact
inverse, needing no table (the Lambda can show the user's label with the standard library alone).
"""

from __future__ import annotations

import unicodedata

from ml.lambda_src import contract

LABEL_PREFIX = contract.LABEL_PREFIX  # defined once, in the Lambda's wire contract


def _escape(ch: str) -> str:
    if ch == "%" or ch.isspace() or unicodedata.category(ch)[0] == "C":
        return "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
    return ch


def to_token(label: str) -> str:
    """The BlazingText-safe token of a (non-empty) user label; the label itself when it is safe."""
    token = "".join(_escape(ch) for ch in label)
    return "%5F" + token[1:] if token.startswith(LABEL_PREFIX) else token


to_label = contract.to_label  # the user's label of a token ``to_token`` made (the inverse; the Lambda's)


def label_names(tokens: list[str]) -> dict[str, str]:
    """Token → the user's label for every token, in order: what a model's manifest stores."""
    return {token: to_label(token) for token in tokens}


def describe_changes(labels: list[str], shown: int = 5) -> str:
    """One log line naming the labels whose token differs (empty when every label is its own token)."""
    changed = [(label, to_token(label)) for label in labels if to_token(label) != label]
    if not changed:
        return ""
    pairs = ", ".join(f"{label!r} -> {token}" for label, token in changed[:shown])
    more = f" and {len(changed) - shown} more" if len(changed) > shown else ""
    return (
        f"{len(changed)} label(s) cannot be BlazingText tokens as they are and are percent-escaped "
        f"(reversibly; answers show the original): {pairs}{more}"
    )
