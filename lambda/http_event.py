"""What an API Gateway event says about its HTTP request: headers, method, path, and whether it is the
Lambda console's test event. Payload 2.0 and 1.0 alike; the standard library only (lambda/handler.py and
lambda/feedback.py's route read it)."""

from __future__ import annotations

from typing import Any


def headers(event: dict[str, Any]) -> dict[str, str]:
    """The request's headers, names lower-cased; none for an event without them."""
    raw = event.get("headers") or {}
    return {str(k).lower(): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def method(event: dict[str, Any]) -> str | None:
    """The HTTP method of a payload-2.0 (``requestContext.http.method``) or 1.0 (``httpMethod``) event."""
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    found = http.get("method") if isinstance(http, dict) else event.get("httpMethod")
    return found if isinstance(found, str) else None


def path(event: dict[str, Any]) -> str | None:
    """The request path of a payload-2.0 (``rawPath``) or 1.0 (``path``) event; None for a non-HTTP event."""
    found = event.get("rawPath") if event.get("version") == "2.0" else event.get("path")
    return found if isinstance(found, str) else None


def console_test(event: dict[str, Any]) -> bool:
    """A test event typed in the Lambda console: a string ``body``, no route, no method, no request context.

    API Gateway never sends one (its events carry a request context); only a principal allowed to invoke
    the function directly can, so it is answered as ``POST /classify`` without the origin check.
    """
    no_route = method(event) is None and path(event) is None and "requestContext" not in event
    return no_route and isinstance(event.get("body"), str)
