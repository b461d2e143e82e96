"""``invoke smoke``: check a running stack from outside, the way its users and strangers reach it.

Six checks, each a plain function over URLs and an HTTP client (:func:`fetch`: urllib, no redirect
followed, an error status is an answer), each giving one line: ✓ passed, ✗ failed with what to do, or
skipped with why. In AWS the site URL is CloudFront's (``site_url``), the API's own URL and the site bucket
come from the stack's outputs (``ops/infra/outputs.py``); on the local edge (``invoke up``) the checks that
cannot apply there (no HTTPS, an API without the origin check, no bucket) say so instead of passing.
The security headers expected are the local edge's own definition (``terraform/security-headers.json``).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, Protocol
from urllib.parse import urlsplit

from ml.errors import ProjectError
from ops.local.site import API_PATH, security_headers

# The seed tutorial's example (its Lambda console test event), and text with no topical word.
SEED_EXAMPLE = (
    "Walter Perry Johnson was a Major League Baseball right-handed pitcher. He played his entire 21-year "
    "baseball career for the Washington Senators."
)
SEED_LABEL = "Athlete"
NON_TOPIC_TEXT = "asdfgh qwerty zxcvb"
TIMEOUT_SECONDS = 30.0  # CloudFront's origin read timeout: a cold Lambda and endpoint answer within it
USER_AGENT = "dbpedia-classifier-smoke"  # WAF's common rules block requests without one
PASSED, FAILED, SKIPPED = "✓", "✗", "-"

REDIRECT = "HTTP redirects to HTTPS"
HEADERS = "security headers"
SEED = f"POST /classify, the seed's example → {SEED_LABEL}"
NON_TOPIC = "POST /classify, a non-topic text → label null"
DIRECT_API = "the API's own URL without the origin header → 403"
BUCKET = "the site bucket read directly → 403"


class SmokeError(ProjectError):
    """There is nothing to check: no URL answers; the message says what to start or give."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as it came: redirects are answers too."""

    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        """The body as JSON; None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Client(Protocol):
    """Sends one request; raises OSError (or ``http.client.HTTPException``) when nothing answers."""

    def __call__(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Answer: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then hands the 3xx to the default handler, which raises it as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(
    method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> Answer:
    """One request with urllib; no redirect is followed, and a 3xx, 4xx or 5xx is returned, not raised."""
    request = urllib.request.Request(
        url, data=body, headers={"User-Agent": USER_AGENT, **(headers or {})}, method=method
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


@dataclass(frozen=True)
class Result:
    """One check's outcome: its mark, its name and what was seen (and, failed, what to do)."""

    mark: str
    check: str
    detail: str

    @property
    def failed(self) -> bool:
        return self.mark == FAILED

    def line(self) -> str:
        return f"{self.mark} {self.check}: {'skipped: ' if self.mark == SKIPPED else ''}{self.detail}"


def _outcome(check: str, ok: bool, seen: str, fix: str) -> Result:
    return Result(PASSED, check, seen) if ok else Result(FAILED, check, f"{seen}; {fix}")


def _unreachable(check: str, url: str, error: Exception) -> Result:
    return Result(FAILED, check, f"no answer from {url} ({_reason(error)})")


def _reason(error: Exception) -> str:
    """Why a request got no answer, without urllib's wrapping: "Connection refused", "timed out"."""
    cause = getattr(error, "reason", None) or error
    return str(getattr(cause, "strerror", None) or cause or type(cause).__name__)


def _excerpt(body: bytes, limit: int = 120) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the checks -----------------------------------------------------------------------------------


def https_redirect(http_url: str, https_url: str, client: Client = fetch) -> Result:
    """``http_url`` answers a redirect (301/302/307/308) to ``https_url``'s HTTPS origin."""
    try:
        answer = client("GET", http_url)
    except (OSError, http.client.HTTPException) as error:
        return _unreachable(REDIRECT, http_url, error)
    location = answer.headers.get("Location", "")
    target = urlsplit(location)
    ok = (
        answer.status in (301, 302, 307, 308)
        and target.scheme == "https"
        and target.netloc == urlsplit(https_url).netloc
    )
    seen = f"{http_url} answers {answer.status}" + (f" → {location}" if location else "")
    fix = (
        f'expected a redirect to {https_url}: set viewer_protocol_policy = "redirect-to-https" on every '
        "cache behaviour (terraform/edge.tf)"
    )
    return _outcome(REDIRECT, ok, seen, fix)


def _normalised(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(";") if part.strip()]


def security_headers_present(site_url: str, expected: Mapping[str, str], client: Client = fetch) -> Result:
    """The page at ``site_url`` answers 200 with every header of ``expected``, each with its value."""
    try:
        answer = client("GET", site_url)
    except (OSError, http.client.HTTPException) as error:
        return _unreachable(HEADERS, site_url, error)
    if answer.status != 200:
        return Result(
            FAILED, HEADERS, f"{site_url} answers {answer.status}, not the page: check the site's deploy"
        )
    missing = [name for name in expected if name not in answer.headers]
    wrong = [
        f"{name} is {answer.headers[name]!r}"
        for name, value in expected.items()
        if name in answer.headers and _normalised(answer.headers[name]) != _normalised(value)
    ]
    problems = ([f"lacks {', '.join(missing)}"] if missing else []) + wrong
    return _outcome(
        HEADERS,
        not problems,
        f"the page {'; '.join(problems)}"
        if problems
        else f"the page carries all {len(expected)} of terraform/security-headers.json",
        "they come from CloudFront's response headers policy (terraform/edge.tf, "
        "terraform/security-headers.json): attach it to every cache behaviour",
    )


def classify_label(
    check: str, classify_url: str, text: str, expected: str | None, client: Client = fetch
) -> Result:
    """``POST classify_url`` with ``{"text": text}`` answers 200 with JSON whose ``label`` is ``expected``."""
    body = json.dumps({"text": text}).encode()
    try:
        answer = client("POST", classify_url, body, {"Content-Type": "application/json"})
    except (OSError, http.client.HTTPException) as error:
        return _unreachable(check, classify_url, error)
    data = answer.json()
    if answer.status != 200 or not isinstance(data, dict) or "label" not in data:
        return Result(
            FAILED,
            check,
            f"{classify_url} answers {answer.status} {_excerpt(answer.body)!r}; look at the Lambda's and "
            "the API's logs (the dashboard_url output; `invoke up -v` locally)",
        )
    label = data["label"]
    if label is None:
        note = f" ({data['reason']})" if data.get("reason") else ""
    else:
        note = f" (probability {data['probability']})" if data.get("probability") is not None else ""
    seen = f"label {json.dumps(label)}{note}"
    if expected is None:
        fix = (
            f"expected null for {text!r}: the Lambda lacks its vocabulary (VOCABULARY_FILE), or the "
            "model's learned rule does not refuse it (docs/unknown-text.md)"
        )
    else:
        fix = (
            f"expected {expected!r}: is the live model the one `invoke models` shows? "
            "(`invoke rollback` puts the previous one back)"
        )
    return _outcome(check, label == expected, seen, fix)


def direct_api_refused(api_url: str, client: Client = fetch) -> Result:
    """``POST <api_url>/classify`` without CloudFront's origin-verify header answers 403."""
    url = api_url.rstrip("/") + API_PATH
    body = json.dumps({"text": SEED_EXAMPLE}).encode()
    try:
        answer = client("POST", url, body, {"Content-Type": "application/json"})
    except (OSError, http.client.HTTPException) as error:
        return _unreachable(DIRECT_API, url, error)
    fix = (
        "anyone can call the API around CloudFront and its WAF: the Lambda must have "
        "ORIGIN_VERIFY_SECRET (terraform/lambda.tf, docs/edge.md)"
    )
    return _outcome(DIRECT_API, answer.status == 403, f"{url} answers {answer.status}", fix)


def bucket_private(bucket_url: str, client: Client = fetch) -> Result:
    """An anonymous ``GET <bucket_url>/index.html`` answers 403: only CloudFront reads the bucket."""
    url = bucket_url.rstrip("/") + "/index.html"
    try:
        answer = client("GET", url)
    except (OSError, http.client.HTTPException) as error:
        return _unreachable(BUCKET, url, error)
    fix = (
        "the bucket must block public access and grant only the distribution "
        "(aws_s3_bucket_public_access_block and the bucket policy, terraform/site.tf)"
    )
    return _outcome(BUCKET, answer.status == 403, f"{url} answers {answer.status}", fix)


# --- what to check --------------------------------------------------------------------------------


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (the local edge of ``invoke up``)."""
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Targets:
    """The URLs to check; an empty one is a check skipped for the reason beside it."""

    site_url: str  # the public URL: https:// in AWS (CloudFront), http:// on the local edge
    api_url: str = ""  # the HTTP API's own URL (the api_url output)
    bucket_url: str = ""  # the site bucket's own S3 URL, https://<bucket>.s3.<region>.amazonaws.com
    no_api: str = "no --api-url given (the stack's api_url output)"
    no_bucket: str = "no --bucket-url given (https://<site_bucket_name output>.s3.<region>.amazonaws.com)"

    @classmethod
    def given(cls, site_url: str, api_url: str = "", bucket_url: str = "") -> Targets:
        """The URLs a user gave; on this machine the skips say what the local stack lacks."""
        site_url = site_url if site_url.endswith("/") else site_url + "/"
        if not is_loopback(site_url):
            return cls(site_url, api_url, bucket_url)
        return cls(
            site_url,
            api_url,
            bucket_url,
            no_api="the local stack's API checks no origin header (it sets no ORIGIN_VERIFY_SECRET)",
            no_bucket="the local edge serves site/ from disk: there is no bucket",
        )


def run(targets: Targets, client: Client = fetch) -> list[Result]:
    """Every check against ``targets``, in order; SmokeError when the site does not answer at all."""
    site = targets.site_url
    try:
        client("GET", site)
    except (OSError, http.client.HTTPException) as error:
        raise SmokeError(
            f"nothing answers at {site} ({_reason(error)}): start the stack (`invoke up` locally, "
            "`invoke infra --target aws` in AWS) or give its URL with --url"
        ) from None
    parts = urlsplit(site)
    if parts.scheme == "https":
        redirect = https_redirect(parts._replace(scheme="http").geturl(), site, client)
    else:
        redirect = Result(SKIPPED, REDIRECT, f"{site} is plain HTTP: there is no HTTPS to redirect to")
    classify_url = site.rstrip("/") + API_PATH
    return [
        redirect,
        security_headers_present(site, security_headers(), client),
        classify_label(SEED, classify_url, SEED_EXAMPLE, SEED_LABEL, client),
        classify_label(NON_TOPIC, classify_url, NON_TOPIC_TEXT, None, client),
        direct_api_refused(targets.api_url, client)
        if targets.api_url
        else Result(SKIPPED, DIRECT_API, targets.no_api),
        bucket_private(targets.bucket_url, client)
        if targets.bucket_url
        else Result(SKIPPED, BUCKET, targets.no_bucket),
    ]
