"""The Lambda's wire contract: what the handler, training, bulk classification and the local endpoint share.

Standard library only, shipped in the Lambda zip beside the handler, which imports it as ``contract`` from
the zip's root; the rest of the project reaches it through ``ml/lambda_src.py``. One definition of:

- the labels: ``LABEL_PREFIX`` before every class token; a token is the user's label percent-escaped
  (``ml/labels.py``), so answers carry ``urllib.parse.unquote(token)``, the user's label; a request's ``k``
  is bounded by the model's class count, which the caller passes (the Lambda's ``N_LABELS``);
- BlazingText's inference formats (AWS, "BlazingText algorithm", inference formats:
  https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html), both ways: ``application/json``
  ``{"instances": ["tok tok …", …], "configuration": {"k": N}}``, answered ``[{"label": ["__label__X", …],
  "prob": [p, …]}, …]``; and ``application/jsonlines`` (what Batch Transform sends), one ``{"source": "tok
  tok …", "k": N}`` a line (``k`` optional, default 1), answered one ``{"prob": [...], "label": [...]}`` a
  line, in order, under the same media type;
- the vocabulary file the handler reads (``ml/vocabulary.py`` writes it): a header naming the format, the
  model archive's sha256 and the tokenizer, then one ``topical <word>`` or ``common <word>`` line a word,
  the learned non-topic rule's ``weight <feature> <value>`` lines and its ``threshold <value>``;
- the unknown-text rules the handler applies with it, and the features the learned one reads
  (docs/unknown-text.md).

A request or answer that breaks the contract is a ValueError whose message says why.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, TypeGuard

ROUTE = ("POST", "/classify")  # the API's route (API Gateway's and the local one)
FEEDBACK_ROUTE = ("POST", "/feedback")  # its other route: a visitor's feedback (lambda/feedback.py)
FEEDBACK_PREFIX = "feedback/"  # where feedback items go in their bucket (terraform/feedback.tf grants it)
LABEL_PREFIX = "__label__"
JSON = "application/json"
JSONLINES = "application/jsonlines"
VOCABULARY_FORMAT = "dbpedia-vocabulary/4"  # 4: the words, each line tagged, and the learned rule
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # SageMaker's real-time InvokeEndpoint request payload limit
MAX_INSTANCES = 1000  # instances (or JSON lines) of one request the endpoint takes
# The top probability from which an answer is confident ("high"); below it "probably X, possibly Y".
# Chosen by measuring accuracy per probability band on real rows (docs/confidence.md, `invoke explanations`).
CONFIDENT = 0.95
MIN_WORDS_FOR_LANGUAGE = 6  # a refused text this long without a common word is told it is not English
# Characters of the raw text the learned rule sees (the tokens lose them), each as a feature's name
MARKS = {"?": "q", "!": "excl", "<": "lt", ">": "gt", "=": "eq", "{": "brace", "(": "paren", ";": "semi"}
MARKS |= {"_": "under", "/": "slash", "#": "hash", '"': "dq", ":": "colon", "[": "bracket", "*": "star"}
MARKS |= {"@": "at"}
_PRONOUN_I = re.compile(r"\bI\b")


# --- requests -------------------------------------------------------------------------------------
def valid_k(k: Any, n_labels: int) -> TypeGuard[int]:
    """Whether ``k`` labels can be asked of a model of ``n_labels``: an integer (not bool) in 1..n_labels."""
    return isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= n_labels


def json_request(instances: list[str], k: int) -> str:
    """A BlazingText JSON request: the top ``k`` labels of each instance (space-separated tokens)."""
    return json.dumps({"instances": instances, "configuration": {"k": k}})


def jsonlines_request(instances: list[str], k: int) -> bytes:
    """A BlazingText JSON Lines request body: one ``{"source": …, "k": k}`` line per instance."""
    return dump_json_lines({"source": text, "k": k} for text in instances).encode()


def dump_json_lines(values: Iterable[Any]) -> str:
    """JSON Lines: one JSON value a line, non-ASCII characters kept as they are."""
    return "".join(json.dumps(value, ensure_ascii=False) + "\n" for value in values)


def read_json_lines(text: str) -> list[Any]:
    """The JSON value of every non-empty line; ValueError names the first line that is not JSON.

    Lines end at ``\n`` only: a JSON string may hold U+2028 or U+0085 as they are, where
    ``str.splitlines`` would also cut.
    """
    values = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                values.append(json.loads(line))
            except (ValueError, RecursionError) as exc:
                raise ValueError(f"line {number} is not valid JSON ({exc})") from None
    return values


def parse_json_request(body: bytes, n_labels: int, max_instances: int) -> tuple[list[str], int]:
    """(instances, k) of a JSON request to a model of ``n_labels`` labels."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # also an integer over Python's int-string digit limit
        raise ValueError(f"body is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        raise ValueError('body must be {"instances": [string, …]}')
    instances = payload["instances"]
    if not 1 <= len(instances) <= max_instances:
        raise ValueError(f"instances must hold 1 to {max_instances} strings")
    if not set(map(type, instances)) <= {str}:  # JSON strings decode to exactly str
        raise ValueError("every instance must be a string")
    configuration = payload.get("configuration", {})
    k = configuration.get("k", 1) if isinstance(configuration, dict) else None
    if not valid_k(k, n_labels):
        raise ValueError(f"configuration.k must be an integer in 1..{n_labels}")
    return instances, k


def parse_jsonlines_request(body: bytes, n_labels: int, max_instances: int) -> list[tuple[str, int]]:
    """(source, k) of each line of a JSON Lines request to a model of ``n_labels`` labels."""
    try:
        lines = read_json_lines(body.decode("utf-8"))
    except ValueError as exc:  # also not UTF-8
        raise ValueError(f"body is not UTF-8 JSON lines: {exc}") from None
    if not 1 <= len(lines) <= max_instances:
        raise ValueError(f"the body must hold 1 to {max_instances} lines")
    requests = []
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, dict) or not isinstance(line.get("source"), str):
            raise ValueError(f'line {number} must be {{"source": string}}')
        k = line.get("k", 1)
        if not valid_k(k, n_labels):
            raise ValueError(f"line {number}: k must be an integer in 1..{n_labels}")
        requests.append((line["source"], k))
    return requests


# --- answers --------------------------------------------------------------------------------------
def read_prediction(prediction: Any) -> list[dict[str, Any]]:
    """One BlazingText prediction ``{"label": [...], "prob": [...]}`` as label/probability pairs, in its
    order, each label the user's: without ``LABEL_PREFIX``, its token unescaped (``ml/labels.py``)."""
    try:
        labels, probs = prediction["label"], prediction["prob"]
        pairs = [
            {"label": to_label(str(label)), "probability": round(float(p), 6)}
            for label, p in zip(labels, probs, strict=True)
        ]
    except (LookupError, TypeError, ValueError):
        raise ValueError("the model endpoint gave an unreadable answer") from None
    if not pairs:
        raise ValueError("the model endpoint returned no prediction")
    return pairs


def to_label(token: str) -> str:
    """The user's label of a model's label token (``__label__`` before it or not): ``ml.labels.to_token``'s
    inverse, defined here so that the Lambda shows the user's labels with the standard library alone."""
    return urllib.parse.unquote(token.removeprefix(LABEL_PREFIX))


def read_answer(answer: Any) -> list[dict[str, Any]]:
    """The first prediction of a JSON answer, read as :func:`read_prediction` reads one."""
    try:
        first = answer[0]
    except (LookupError, TypeError):
        raise ValueError("the model endpoint gave an unreadable answer") from None
    return read_prediction(first)


def read_answers(answer: Any, n: int) -> list[list[dict[str, Any]]]:
    """Every prediction of a JSON answer to ``n`` instances, each read as :func:`read_prediction` does."""
    if not isinstance(answer, list) or len(answer) != n:
        raise ValueError(f"the model endpoint answered {n} instances with something else")
    return [read_prediction(prediction) for prediction in answer]


def confidence(probability: float) -> str:
    """``"high"`` for a top probability of at least :data:`CONFIDENT`, else ``"low"`` (the middle band)."""
    return "high" if probability >= CONFIDENT else "low"


# --- vocabulary and the unknown-text rule ---------------------------------------------------------
class Vocabulary(NamedTuple):
    """The deployed model's words that tell it about a topic, its common (English) words, and the learned
    rule: a text whose :func:`off_topic_score` is above ``threshold`` is not about a topic (without
    weights, none is)."""

    topical: frozenset[str]
    common: frozenset[str]
    weights: Mapping[str, float] = MappingProxyType({})
    threshold: float = math.inf


def vocabulary_header(model_sha256: str, tokenizer: str) -> str:
    """The first line of a vocabulary file: its format, the model archive's sha256, the tokenizer."""
    return f"{VOCABULARY_FORMAT} model-sha256={model_sha256} tokenizer={tokenizer}\n"


def vocabulary_text(words: Vocabulary, model_sha256: str, tokenizer: str) -> str:
    """A vocabulary file's text: the header, the tagged words, the weights (sorted), the threshold."""
    lines = sorted([f"topical {w}\n" for w in words.topical] + [f"common {w}\n" for w in words.common])
    lines += sorted(f"weight {f} {w!r}\n" for f, w in words.weights.items())
    lines += [f"threshold {words.threshold!r}\n"] if words.weights else []
    return vocabulary_header(model_sha256, tokenizer) + "".join(lines)


def read_vocabulary(lines: Iterable[str]) -> Vocabulary:
    """The words and the rule of a vocabulary file's lines after its header; ValueError names a line that
    is not one of its four kinds."""
    tagged: dict[str, set[str]] = {"topical": set(), "common": set()}
    weights: dict[str, float] = {}
    threshold = math.inf
    for line in lines:
        tag, _, rest = line.partition(" ")
        try:
            if tag == "weight":
                feature, _, value = rest.partition(" ")
                weights[feature] = float(value)
            elif tag == "threshold":
                threshold = float(rest)
            elif tag in tagged and rest:
                tagged[tag].add(rest)
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"line {line!r}") from None
    topical, common = frozenset(tagged["topical"]), frozenset(tagged["common"])
    return Vocabulary(topical, common, MappingProxyType(weights), threshold)


def features(text: str, tokens: list[str]) -> set[str]:
    """What the learned rule reads of a text: its distinct tokens, and marks of the raw text the tokens
    lose (a question mark, code's brackets, a capital first letter, the pronoun "I"), as ``__name``."""
    marks = [f"__{name}" for char, name in MARKS.items() if char in text]
    stripped = text.strip()
    shape = {
        "__upper": stripped[:1].isupper(),
        "__lower": stripped[:1].islower(),
        "__I": bool(_PRONOUN_I.search(text)),
        "__endq": stripped.endswith("?"),
        "__endp": stripped.endswith("."),
        "__nonlatin": any(ord(char) > 0x2FF for char in text),
    }
    return {*tokens, *marks, *(name for name, present in shape.items() if present)}


def off_topic_score(text: str, tokens: list[str], words: Vocabulary) -> float:
    """The learned rule's score of a text of at least one token: the weights of its features over the
    square root of its token count; above ``words.threshold`` it reads as chat, a request, code or markup."""
    # fsum: the same score whatever order the set gives (it varies with each process's string hashing)
    return math.fsum(words.weights.get(f, 0.0) for f in features(text, tokens)) / math.sqrt(len(tokens))


def off_topic(text: str, tokens: list[str], words: Vocabulary) -> bool:
    """The learned rule: True when a text of at least one token scores above ``words.threshold``."""
    return off_topic_score(text, tokens, words) > words.threshold


def word_counts(tokens: list[str], words: Vocabulary) -> tuple[int, int, int]:
    """How many of ``tokens`` are topical words, how many common words, and how many there are."""
    return sum(t in words.topical for t in tokens), sum(t in words.common for t in tokens), len(tokens)


def unknown_reason(known: int, common: int, words: int, min_percent: int, off_topic: bool) -> str | None:
    """Why the model cannot judge a text of ``words`` tokens, ``known`` of them topical and ``common`` of
    them common English words: the learned rule finds it ``off_topic``, or fewer than ``min_percent``
    percent of its words are topical; None if neither. The reason is the clearest that holds: not English
    (at least ``MIN_WORDS_FOR_LANGUAGE`` words, none common), too few topical words, the learned rule."""
    few = known * 100 < min_percent * words
    if not (few or off_topic):
        return None
    if common == 0 and words >= MIN_WORDS_FOR_LANGUAGE:
        return (
            f"None of its {words} words is a common English word: the model only knows English text, "
            "so it cannot tell what this is about."
        )
    if few:
        tells = "tells" if 1 in (known, words) else "tell"
        return (
            f"Only {known} of {words} {'word' if words == 1 else 'words'} {tells} the model anything about "
            "a topic; it cannot tell what this text is about."
        )
    return (
        "It reads like conversation, a request, a program's message, code or markup, not like a text "
        "about a topic: the model cannot tell what it is about."
    )
