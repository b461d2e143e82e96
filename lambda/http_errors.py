"""The errors the Lambda answers its caller with: an HTTP status, a stable ``error`` code, a readable message.

A client's mistake is a 4xx, the endpoint's failure a 5xx (README's API table). Standard library only.
"""

from __future__ import annotations


class HttpError(Exception):
    """An error answered to the caller: HTTP status, a stable code and a readable message."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, detail: str = "", transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # for the log only, never for the caller
        self.transient = transient  # worth another attempt


class BadRequest(HttpError):
    status, code = 400, "bad_request"


class NotFound(HttpError):
    status, code = 404, "not_found"


class PayloadTooLarge(HttpError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(HttpError):
    status, code = 415, "unsupported_media_type"


class MethodNotAllowed(HttpError):
    status, code = 405, "method_not_allowed"


class BadGateway(HttpError):
    status, code = 502, "endpoint_error"


class ServiceUnavailable(HttpError):
    status, code = 503, "endpoint_unavailable"


class GatewayTimeout(HttpError):
    status, code = 504, "endpoint_timeout"


class NotConfigured(HttpError):
    status, code = 500, "not_configured"


class Forbidden(HttpError):
    status, code = 403, "forbidden"
