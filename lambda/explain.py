"""Why: the words an answer's top label rests on, each weighed by leaving it out (docs/explanations.md).

A request with ``"explain": true`` costs ONE endpoint call: its ``instances`` are the tokenized text, then
the text without its 1st word, without its 2nd, and so on. A word's weight is how much the top label's
probability drops when that word is left out (negative: the label gains without it). Only the first
``n`` words are weighed, ``n`` the smallest of the text's word count, ``EXPLAIN_MAX_WORDS`` and what fits
in the endpoint's request limits (``contract.MAX_REQUEST_BYTES``, ``contract.MAX_INSTANCES``); the whole
text is still what is classified. The call asks for every label (``k`` = the model's class count), so the
top label's probability is known in every variant. Standard library only.
"""

from __future__ import annotations

import json
from typing import Any

import contract

REQUEST_OVERHEAD_BYTES = 64  # {"instances": [...], "configuration": {"k": N}} around the instances


def explained_words(tokens: list[str], max_words: int) -> int:
    """How many of the first words can be weighed: at most ``max_words``, and as many variants (each no
    longer than the text) as fit beside the text in one request; none of a one-word text (its variant
    would be empty: nothing to classify)."""
    if len(tokens) < 2:
        return 0
    per_instance = len(json.dumps(" ".join(tokens))) + 2  # ", " between instances
    fit = (contract.MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES) // per_instance - 1
    return max(0, min(len(tokens), max_words, fit, contract.MAX_INSTANCES - 1))


def instances(tokens: list[str], n: int) -> list[str]:
    """The text, then the text without each of its first ``n`` words, as space-separated tokens."""
    return [" ".join(tokens)] + [" ".join(tokens[:i] + tokens[i + 1 :]) for i in range(n)]


def explanation(tokens: list[str], predictions: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The answer's additions: each weighed word in text order with its weight, how many words were
    weighed (``explainedWords``, the first ones) and how many instances the call cost."""
    label, probability = predictions[0][0]["label"], predictions[0][0]["probability"]
    weights = []
    for word, variant in zip(tokens, predictions[1:], strict=False):
        without = next((p["probability"] for p in variant if p["label"] == label), 0.0)
        weights.append({"word": word, "weight": round(probability - without, 6)})
    return {"explanation": weights, "explainedWords": len(weights), "instances": len(predictions)}
