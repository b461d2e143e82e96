"""``POST /feedback``: a visitor says an answer was right or names the right label, and it is kept only
with their consent (docs/feedback.md).

The body is one JSON object ``{"text", "predicted", "correct", "modelSha256", "consent": true}`` or a list
of at most ``MAX_ITEMS`` of them. Every item is checked before any is stored, so a request is stored
whole or not at all: ``predicted`` and ``correct`` must be labels of the deployed model (``LABELS``, a
JSON list the stack passes), the text at most ``MAX_TEXT_CHARS`` characters, ``modelSha256`` a sha256 and
``consent`` exactly ``true``. Each item is one S3 object ``feedback/<day>/<random id>.json`` in
``FEEDBACK_BUCKET`` holding those fields, the id and the time it was received, nothing else: no IP
address, user agent or cookie (the event carries them; they are never read here). ``FEEDBACK`` ``0``
turns the route off: it answers 404. Locally the same ``put_object`` goes to the emulator's S3
(``AWS_ENDPOINT_URL_S3``, boto3's own variable). Standard library and boto3 only.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import contract

MAX_ITEMS = 20  # items in one request
FIELDS = ("text", "predicted", "correct", "modelSha256")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

_clients: dict[str, Any] = {}


class Refused(Exception):
    """What the caller did wrong (or the service cannot do): status, a stable code, a readable message."""

    def __init__(self, status: int, code: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def _labels() -> list[str]:
    try:
        labels = json.loads(os.environ.get("LABELS", ""))
    except ValueError:
        labels = None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise Refused(500, "not_configured", "feedback is not set up", "LABELS is not a JSON list of labels")
    return labels


def read_items(body: str, max_chars: int) -> list[dict[str, str]]:
    """The items of a request body, each checked; Refused (a 4xx) naming the first thing wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, "bad_request", "the body is not valid JSON") from None
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise Refused(400, "bad_request", "the body holds no feedback")
    if len(items) > MAX_ITEMS:
        raise Refused(413, "too_many_items", f"{len(items)} items in one request; send at most {MAX_ITEMS}")
    labels = _labels()
    checked = []
    for number, item in enumerate(items, 1):
        where = f"item {number}: " if len(items) > 1 else ""
        if not isinstance(item, dict):
            message = f'{where}send an object like {{"text": "...", "consent": true}}'
            raise Refused(400, "bad_request", message)
        if item.get("consent") is not True:
            message = f'{where}feedback is kept only with consent ("consent": true); nothing was stored'
            raise Refused(400, "no_consent", message)
        for name in FIELDS:
            if not isinstance(item.get(name), str) or not item[name].strip():
                raise Refused(400, "bad_request", f'{where}"{name}" must be a non-empty string')
        if len(item["text"]) > max_chars:
            message = f"{where}the text has {len(item['text'])} characters; the limit is {max_chars}"
            raise Refused(413, "payload_too_large", message)
        for name in ("predicted", "correct"):
            if item[name] not in labels:
                message = f'{where}"{name}" is {item[name][:100]!r}, not a label of the model; one of: '
                raise Refused(400, "unknown_label", message + ", ".join(labels))
        if not _SHA256.match(item["modelSha256"]):
            raise Refused(400, "bad_request", f'{where}"modelSha256" must be 64 lower-case hex digits')
        checked.append({name: item[name] for name in FIELDS})
    return checked


def s3() -> Any:
    """The boto3 S3 client, made once per container (and per ``AWS_ENDPOINT_URL_S3``)."""
    key = os.environ.get("AWS_ENDPOINT_URL_S3", "")
    if key not in _clients:
        import boto3

        _clients[key] = boto3.client("s3")
    return _clients[key]


def store(items: list[dict[str, str]], bucket: str, now: datetime | None = None) -> list[str]:
    """Put each item in ``bucket`` under a random id; return the ids. A failed put is Refused (502)."""
    from botocore.exceptions import BotoCoreError, ClientError

    now = now or datetime.now(UTC)
    ids = []
    for item in items:
        item_id = uuid.uuid4().hex
        record = {"id": item_id, "received": now.strftime("%Y-%m-%dT%H:%M:%SZ"), **item}
        key = f"{contract.FEEDBACK_PREFIX}{now:%Y-%m-%d}/{item_id}.json"
        try:
            s3().put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(record, ensure_ascii=False).encode("utf-8"),
                ContentType="application/json",
                ServerSideEncryption="AES256",
            )
        except (BotoCoreError, ClientError) as exc:
            message = "the feedback could not be stored; try again"
            raise Refused(502, "feedback_not_stored", message, str(exc)) from None
        ids.append(item_id)
    return ids


def receive(body: str, enabled: bool, max_chars: int) -> dict[str, Any]:
    """The answer to ``POST /feedback`` with ``body``: ``{"stored": n, "ids": [...]}``, or Refused."""
    if not enabled:
        raise Refused(404, "not_found", "feedback is turned off on this service")
    bucket = os.environ.get("FEEDBACK_BUCKET", "")
    if not bucket:
        raise Refused(500, "not_configured", "feedback is not set up", "FEEDBACK_BUCKET is not set")
    ids = store(read_items(body, max_chars), bucket)
    return {"stored": len(ids), "ids": ids}
