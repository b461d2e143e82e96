"""AWS Lambda handler: classify the user's text with the SageMaker endpoint, answer JSON.

Answers ``POST /classify`` in API Gateway HTTP API (payload 2.0) and REST (1.0) proxy events; another
path is a 404, another method a 405, and an event that is not an HTTP request a 400, except the Lambda
console's test event of the seed's tutorial, ``{"body": "…"}`` alone, answered as that POST. The body is JSON
``{"text": "…", "k": 3, "explain": false}`` or, with ``Content-Type: text/plain``, the text itself. The answer
is ``{"label", "probability", "confidence", "top": [{"label", "probability"}, …], "knownWords",
"commonWords", "words"}`` (``confidence``: ``contract.confidence``; ``"explain": true`` adds the words behind
the label, from the same one endpoint call: ``explain.py``);
when a text of at least ``MIN_WORDS_FOR_LANGUAGE`` words has none of the model's common English words,
fewer than ``MIN_KNOWN_PERCENT`` percent of its words are in the model's topical vocabulary, or the learned
rule reads it as chat, a request, code or markup, ``label`` and ``probability`` are null and ``reason`` says
why (the top list is still there: docs/unknown-text.md).

Configuration (environment): ``ENDPOINT_NAME``, ``ALLOWED_ORIGINS`` (comma-separated CORS origins),
``ORIGIN_VERIFY_SECRET`` (see :func:`check_origin`), ``LOG_LEVEL``, ``VOCABULARY_FILE`` (the model's
vocabulary: absolute, or relative to this file's folder) with
``MODEL_SHA256`` (the model archive it must have been derived from), and the settings the project declares
once (``ops/settings.py`` ``LAMBDA_SETTINGS``) and passes to both the local stack and Terraform:
``TOP_K``, ``MAX_TEXT_CHARS``, ``ENDPOINT_TIMEOUT_SECONDS`` (read timeout of one endpoint call),
``ENDPOINT_MAX_ATTEMPTS``, ``MIN_KNOWN_PERCENT``, ``EXPLAIN_MAX_WORDS`` (read by an explained request only),
and the deployed model's class count ``N_LABELS`` (bounds ``k``; passed with them). They have no defaults
here: a missing one is a 500 that names it (in the log).
Labels are answered as the user's labels, their model tokens unescaped (``contract.to_label``).
The endpoint client and the vocabulary are made at initialisation, outside the handler, as AWS advises
(provisioned concurrency and SnapStart then pay for them before traffic); when the environment is not
complete yet they are made by the first request that needs them.
Transient endpoint faults (timeouts, no connection, a connection closed mid-answer, throttling, 5xx) are
retried with jittered exponential backoff, but only while the attempt still fits in the invocation's
remaining time (from the Lambda context); the first attempt's timeouts are cut to that time, so the
caller always gets a JSON answer before the function times out. The SageMaker
runtime URL comes from boto3's own ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` when set (the local endpoint),
so no code path differs between local and AWS. The BlazingText request and answer, the vocabulary file
and the unknown-text rule are the wire contract's (``contract.py``, shared with training and bulk
classification); this module handles the event and calls the endpoint. Standard library and boto3 only
(boto3 ships with the Lambda runtime).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hmac
import json
import logging
import os
import random
import sys
import time
import uuid
from typing import Any

import contract
import explain
import feedback
import metrics
from http_errors import (
    BadGateway,
    BadRequest,
    Forbidden,
    GatewayTimeout,
    HttpError,
    MethodNotAllowed,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from http_event import console_test
from http_event import headers as _headers
from http_event import method as _method
from http_event import path as _path
from text_tokenizer import SCHEME as TOKENIZER_SCHEME
from text_tokenizer import tokenize

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
CONNECT_TIMEOUT_SECONDS = 2.0
BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS = 0.2, 2.0
ANSWER_MARGIN_SECONDS = 0.5  # kept back from the remaining time to write the answer
TIMEOUT_STEP_SECONDS = 0.5  # an attempt's time budget is rounded down to this step (see attempt_timeouts)
BODY_CHARS_PER_TEXT_CHAR = 12  # one character as a JSON surrogate-pair escape: \ud83d\ude00
BODY_OVERHEAD_CHARS = 1024  # the rest of the JSON object
DEFAULT_BUDGET_SECONDS = 25.0  # without a Lambda context (tests, local API): the function's timeout
TRANSIENT_CODES = ("ThrottlingException", "ServiceUnavailable", "InternalFailure", "ModelNotReadyException")

log = logging.getLogger("classifier")
log.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

_clients: dict[tuple[str, float, float], Any] = {}
_vocabularies: dict[tuple[str, str], contract.Vocabulary] = {}


ORIGIN_VERIFY_HEADER = "x-origin-verify"  # terraform/edge.tf: CloudFront adds it to every request to the API


def check_origin(event: dict[str, Any]) -> None:
    """Forbidden unless the request came through CloudFront: its origin-verify header equals
    ``ORIGIN_VERIFY_SECRET``. Unset or empty (the local stack, tests), nothing is checked (docs/edge.md)."""
    expected = os.environ.get("ORIGIN_VERIFY_SECRET", "")
    given = _headers(event).get(ORIGIN_VERIFY_HEADER, "")
    if expected and not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("call the classifier through its site's own address")


def _setting(name: str, least: int = 1) -> int:
    """A whole number of at least ``least`` from the environment (values come from ops/settings.py,
    through Terraform)."""
    raw = os.environ.get(name, "")
    if not raw.isdigit() or int(raw) < least:
        raise NotConfigured("the classifier is not set up", f"{name} is {raw or 'not set'}")
    return int(raw)


def attempt_timeouts(budget: float = float("inf")) -> tuple[float, float]:
    """(connect, read) timeouts of an endpoint attempt that must end within ``budget`` seconds.

    The configured ones when they fit; else ``budget`` rounded down to TIMEOUT_STEP_SECONDS, a quarter
    of it (at most the configured value) to connect and the rest (likewise) to read.
    """
    connect, read = CONNECT_TIMEOUT_SECONDS, float(_setting("ENDPOINT_TIMEOUT_SECONDS"))
    if connect + read <= budget:
        return connect, read
    budget = budget // TIMEOUT_STEP_SECONDS * TIMEOUT_STEP_SECONDS
    connect = min(connect, budget / 4)
    return connect, min(read, budget - connect)


def sagemaker_runtime(timeouts: tuple[float, float] | None = None) -> Any:
    """The boto3 SageMaker runtime client with these (connect, read) timeouts (default: the configured).

    A boto3 client keeps the timeouts of its Config for its whole life (botocore gives them to urllib3
    on every request; there is no per-call timeout), so each timeout pair gets its own client, created
    once per container and endpoint URL. ``attempt_timeouts`` rounds a cut-down budget to
    TIMEOUT_STEP_SECONDS, which bounds this pool to a few clients; the default one can be created at
    initialisation. boto3 is imported on first use, which keeps the module's cold import cheap.
    """
    connect, read = timeouts or attempt_timeouts()
    key = (os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", ""), connect, read)
    if key not in _clients:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import NoRegionError

        config = Config(
            connect_timeout=connect,
            read_timeout=read,
            retries={"mode": "standard", "total_max_attempts": 1},  # call_endpoint retries, in time
        )
        try:
            _clients[key] = boto3.client("sagemaker-runtime", config=config)
        except NoRegionError:
            raise NotConfigured("the classifier is not set up", "no AWS region is set") from None
    return _clients[key]


# --- vocabulary -----------------------------------------------------------------------------------
def vocabulary() -> contract.Vocabulary:
    """The deployed model's topical and common words and learned rule, read once from ``VOCABULARY_FILE``.

    A missing or unreadable file, or one of another format, derived from another model than
    ``MODEL_SHA256`` or with another tokenizer, is NotConfigured: it would refuse the wrong texts.
    """
    name, sha256 = os.environ.get("VOCABULARY_FILE", ""), os.environ.get("MODEL_SHA256", "")
    if not name or not sha256:
        raise NotConfigured("the classifier is not set up", "VOCABULARY_FILE or MODEL_SHA256 is not set")
    if (name, sha256) not in _vocabularies:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                header = fh.readline()
                lines = fh.read().splitlines()
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise NotConfigured("the classifier is not set up", f"vocabulary {path}: {exc}") from None
        expected = contract.vocabulary_header(sha256, TOKENIZER_SCHEME)
        if header != expected:
            detail = f"vocabulary {path} starts {header.strip()!r}, not {expected.strip()!r}"
            raise NotConfigured("the classifier is not set up", detail)
        try:
            _vocabularies[(name, sha256)] = contract.read_vocabulary(lines)
        except ValueError as exc:
            raise NotConfigured("the classifier is not set up", f"vocabulary {path}: {exc}") from None
    return _vocabularies[(name, sha256)]


# --- request --------------------------------------------------------------------------------------
def _body_text(event: dict[str, Any]) -> str:
    body = event.get("body")
    if body is None:
        raise BadRequest('the request has no body; send {"text": "..."}')
    if not isinstance(body, str):
        raise BadRequest("the body must be a string")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the body is marked base64 but does not decode") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the body is not UTF-8 text") from None
    return body


def _unreadable_json(exc: Exception) -> BadRequest:
    """The 400 for a body ``json`` cannot read: malformed, too deeply nested, or a too long number."""
    if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError):  # int-string limit
        limit = sys.get_int_max_str_digits()
        return BadRequest(f"the body holds a number of more than {limit} digits; send shorter numbers")
    return BadRequest('the body is not valid JSON; send {"text": "..."}')


def check_route(event: dict[str, Any]) -> None:
    """BadRequest for an event that is not an HTTP request, NotFound or MethodNotAllowed off the route.

    Checked before the origin (:func:`check_origin`): what kind of call this is does not depend on where
    it came from.
    """
    method, path = _method(event), _path(event)
    if method is None or path is None:
        raise BadRequest("the event is not an HTTP request; this function answers POST /classify")
    if path not in (contract.ROUTE[1], contract.FEEDBACK_ROUTE[1]):
        raise NotFound(f"there is nothing at {path}; send POST /classify")
    if method.upper() != contract.ROUTE[0]:
        raise MethodNotAllowed(f"use POST, not {method}")


def parse_request(
    event: dict[str, Any], max_chars: int, default_k: int, n_labels: int
) -> tuple[str, int, bool]:
    """Return (text, k, explain) from an event on the route to a model of ``n_labels`` labels, or raise
    the HttpError that explains what is wrong. Without a ``k``, ``default_k`` (at most ``n_labels``)."""
    body = _body_text(event)
    # Only a bound against huge bodies, generous for any JSON spelling of max_chars characters: the
    # limit itself is on the decoded text's characters (checked below), however the JSON spells them.
    if len(body) > BODY_CHARS_PER_TEXT_CHAR * max_chars + BODY_OVERHEAD_CHARS:
        raise PayloadTooLarge(f"the request is too large; send at most {max_chars} characters of text")
    media = _headers(event).get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("", "application/json", "text/plain"):
        raise UnsupportedMediaType(f"content type {media!r} is not supported; use application/json")
    k: Any = min(default_k, n_labels)
    wants_explanation: Any = False
    if media == "text/plain" or (media == "" and not body.lstrip().startswith("{")):
        text: Any = body
    else:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as exc:  # ValueError: also an integer over the digit limit
            raise _unreadable_json(exc) from None
        if not isinstance(payload, dict):
            raise BadRequest('the body must be a JSON object like {"text": "..."}')
        text, k = payload.get("text"), payload.get("k", k)
        wants_explanation = payload.get("explain", False)
    if not isinstance(text, str):
        raise BadRequest('"text" must be a string')
    if not contract.valid_k(k, n_labels):
        raise BadRequest(f'"k" must be an integer from 1 to {n_labels}')
    if not isinstance(wants_explanation, bool):
        raise BadRequest('"explain" must be true or false')
    if not text.strip():
        raise BadRequest("the text is empty; type a sentence to classify")
    if len(text) > max_chars:
        raise PayloadTooLarge(f"the text has {len(text)} characters; the limit is {max_chars}")
    return text, k, wants_explanation


# --- endpoint -------------------------------------------------------------------------------------
def invoke_endpoint(
    instances: list[str], k: int, timeouts: tuple[float, float]
) -> list[list[dict[str, Any]]]:
    """Call the endpoint once with these instances and (connect, read) timeouts; each one's top ``k``.

    Its failures become 502 / 503 / 504 HttpErrors, marked transient when another attempt may succeed.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectionError,
        ConnectTimeoutError,
        EndpointConnectionError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    name = os.environ.get("ENDPOINT_NAME", "")
    if not name:
        raise ServiceUnavailable("the service is not configured (ENDPOINT_NAME is not set)")
    request = contract.json_request(instances, k)
    try:
        response = sagemaker_runtime(timeouts).invoke_endpoint(
            EndpointName=name, ContentType=contract.JSON, Accept=contract.JSON, Body=request
        )
        answer = json.loads(response["Body"].read())
    except (ReadTimeoutError, ConnectTimeoutError) as exc:
        raise GatewayTimeout("the model did not answer in time; try again", str(exc), True) from None
    except (EndpointConnectionError, ConnectionError) as exc:
        message = "the model endpoint cannot be reached; try again later"
        raise ServiceUnavailable(message, str(exc), True) from None
    except (ConnectionClosedError, ResponseStreamingError, IncompleteReadError) as exc:
        message = "the model endpoint broke off its answer; try again"
        raise BadGateway(message, str(exc), True) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        detail = f"{code} (HTTP {status}): {exc}"
        transient = code in TRANSIENT_CODES or status >= 500
        if code in ("ThrottlingException", "ServiceUnavailable", "ModelNotReadyException", "ValidationError"):
            message = "the model endpoint is unavailable or busy; try again later"
            raise ServiceUnavailable(message, detail, transient) from None
        raise BadGateway("the model endpoint failed to classify the text", detail, transient) from None
    except (BotoCoreError, ValueError) as exc:
        raise BadGateway("the model endpoint gave an unreadable answer", str(exc)) from None
    try:
        return contract.read_answers(answer, len(instances))
    except ValueError as exc:
        raise BadGateway(str(exc)) from None


def call_endpoint(
    instances: list[str], k: int, request_id: str, deadline: float
) -> list[list[dict[str, Any]]]:
    """``invoke_endpoint`` with bounded retries of transient faults, each logged with the request id.

    The first attempt's timeouts are cut to the time left before ``deadline`` (a ``time.monotonic()``
    value); another attempt is made only when its backoff plus a whole attempt (the configured connect
    + read timeouts) ends before it.
    """
    attempts = _setting("ENDPOINT_MAX_ATTEMPTS")
    worst_attempt = sum(attempt_timeouts())
    timeouts = attempt_timeouts(deadline - time.monotonic())
    if min(timeouts) <= 0:
        raise GatewayTimeout("the request ran out of time before the model could answer; try again")
    attempt = 1
    while True:
        try:
            return invoke_endpoint(instances, k, timeouts)
        except HttpError as exc:
            backoff = random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))
            retry = (
                exc.transient and attempt < attempts and time.monotonic() + backoff + worst_attempt < deadline
            )
            log.warning(
                json.dumps(
                    {
                        "requestId": request_id,
                        "endpointError": exc.code,
                        "attempt": attempt,
                        "connectTimeout": timeouts[0],
                        "readTimeout": timeouts[1],
                        "detail": exc.detail or exc.message,
                        "retry": retry,
                    }
                )
            )
            if not retry:
                raise
            time.sleep(backoff)
            attempt += 1
            timeouts = attempt_timeouts()  # fits: checked above


def _deadline(context: Any) -> float:
    """When the answer must be ready: the invocation's remaining time, less a margin to answer."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    seconds = remaining() / 1000 if callable(remaining) else DEFAULT_BUDGET_SECONDS
    return time.monotonic() + seconds - ANSWER_MARGIN_SECONDS


# --- response -------------------------------------------------------------------------------------
def cors_headers(event: dict[str, Any]) -> dict[str, str]:
    """CORS headers for an allowed ``Origin`` (from ALLOWED_ORIGINS); none for any other origin."""
    origin = _headers(event).get("origin", "")
    allowed = {o.strip() for o in os.environ.get("ALLOWED_ORIGINS", "").split(",") if o.strip()}
    if origin and origin in allowed:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}


def respond(status: int, body: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """An API Gateway proxy response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **cors_headers(event)},
        "body": json.dumps(body, ensure_ascii=False),
        "isBase64Encoded": False,
    }


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Entry point: classify the text in ``event`` and answer an HTTP response; never raises."""
    if isinstance(event, dict) and _path(event) == contract.FEEDBACK_ROUTE[1]:
        return feedback_route(event, context)
    started = time.perf_counter()
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    event = event if isinstance(event, dict) else {}
    outcome, answer = "ok", None
    try:
        if not console_test(event):
            check_route(event)
            check_origin(event)
        n_labels = _setting("N_LABELS")
        text, k, wants_explanation = parse_request(
            event, _setting("MAX_TEXT_CHARS"), _setting("TOP_K"), n_labels
        )
        tokens = tokenize(text)
        if not tokens:
            raise BadRequest("the text has no words to classify")
        known, common, words = contract.word_counts(tokens, vocabulary())
        off_topic = contract.off_topic(text, tokens, vocabulary())
        reason = contract.unknown_reason(known, common, words, _setting("MIN_KNOWN_PERCENT", 0), off_topic)
        explaining = wants_explanation and not reason  # a text without a label has nothing to explain
        n = explain.explained_words(tokens, _setting("EXPLAIN_MAX_WORDS")) if explaining else 0
        predictions = call_endpoint(
            explain.instances(tokens, n), n_labels if explaining else k, request_id, _deadline(context)
        )
        top = predictions[0][:k]
        confidence = {"confidence": contract.confidence(top[0]["probability"])}
        answer = (
            {"label": None, "probability": None, "reason": reason} if reason else {**top[0], **confidence}
        )
        counts = {"knownWords": known, "commonWords": common, "words": words}
        why = explain.explanation(tokens, predictions) if explaining else {}
        answer = {**answer, "top": top, **counts, **why, "requestId": request_id}
        result = respond(200, answer, event)
        if reason:
            outcome = "unknown_text"
    except HttpError as exc:
        outcome = exc.code
        if isinstance(exc, NotConfigured):
            log.error("request %s: %s (%s)", request_id, exc.message, exc.detail)
        result = respond(
            exc.status, {"error": exc.code, "message": exc.message, "requestId": request_id}, event
        )
    except Exception:  # a bug must still answer JSON, and be logged with the request id
        log.exception("unhandled error in request %s", request_id)
        outcome = "internal_error"
        body = {"error": "internal_error", "message": "something went wrong", "requestId": request_id}
        result = respond(500, body, event)
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    metrics.emit(request_id, result["statusCode"], outcome, latency_ms, answer)
    return result


def feedback_route(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``POST /feedback`` (lambda/feedback.py) behind the same route and origin checks; never raises."""
    started = time.perf_counter()
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    try:
        check_route(event)
        check_origin(event)
        enabled, max_chars = _setting("FEEDBACK", 0) == 1, _setting("MAX_TEXT_CHARS")
        status, outcome, body = 201, "feedback", feedback.receive(_body_text(event), enabled, max_chars)
    except (HttpError, feedback.Refused) as exc:
        status, outcome, body = exc.status, exc.code, {"error": exc.code, "message": exc.message}
        if status >= 500:
            log.error("request %s: %s (%s)", request_id, exc.message, exc.detail)
    except Exception:  # a bug must still answer JSON, and be logged with the request id
        log.exception("unhandled error in request %s", request_id)
        body = {"error": "internal_error", "message": "something went wrong"}
        status, outcome = 500, "internal_error"
    metrics.emit(request_id, status, outcome, round((time.perf_counter() - started) * 1000, 1), None)
    return respond(status, {**body, "requestId": request_id}, event)


def _initialise() -> None:
    """Make the default endpoint client and read the vocabulary now, before the first request."""
    try:
        sagemaker_runtime()
        vocabulary()
    except NotConfigured as exc:  # the first request that needs them answers 500 and logs this
        # debug: importing the handler without the Lambda's environment (tests, tools) stays quiet
        log.debug("not ready at initialisation: %s", exc.detail)


_initialise()
