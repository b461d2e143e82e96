"""Two faults of moto 5.2's IAM enforcement, fixed in the moto_server child (ops/infra/moto_server.py).

Both only matter once enforcement is on (``/moto-api/reset-auth``, ops/infra/iam_emulator.py); without it
moto never reaches this code.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape


def sign_empty_bodies_as_empty() -> None:
    """Make moto's signature check hash an empty body as the empty string, as AWS and every SDK do.

    moto recomputes each request's SigV4 signature over ``body or data``. A form POST (the query protocol:
    IAM, STS, SNS, CloudWatch) reaches it with an empty body and its form as ``data``, which is right; but a
    request without a body (a REST ``GET``: Lambda, Route 53, CloudFront, API Gateway reads) has as ``data``
    its query string, or without one its headers, so the signature never matches and every such call fails
    with SignatureDoesNotMatch.
    """
    from moto.iam.access_control import IAMRequestBase

    create = IAMRequestBase._create_aws_request

    def create_aws_request(self: IAMRequestBase) -> Any:
        request = create(self)
        form = "x-www-form-urlencoded" in self._headers.get("Content-Type", "")
        if not self._body and not form:
            request.data = b""
        return request

    IAMRequestBase._create_aws_request = create_aws_request  # type: ignore[method-assign]


def deny_in_the_protocols_shape() -> None:
    """Answer a refused call in the error shape of its protocol, as AWS does, so SDKs read the message.

    moto answers every refusal (S3's aside) in EC2's XML shape (``ErrorResponse/Errors/Error``). boto3
    copes, but the AWS SDK for Go (Terraform's provider) reads it as ``UnknownError`` and drops the message
    that names the refused action. Here a query or REST-XML call gets ``ErrorResponse/Error`` and a JSON one
    ``{"__type": "AccessDeniedException", "message": ...}``, each with status 403.
    """
    from moto.core.exceptions import JsonRESTError, _RESTError
    from moto.iam.access_control import IAMRequest

    class XmlAccessDenied(_RESTError):
        code = 403

        def __init__(self, message: str) -> None:
            super().__init__("AccessDenied", message)
            self.description = (
                '<?xml version="1.0" encoding="utf-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
                f"<Code>AccessDenied</Code><Message>{escape(message)}</Message></Error></ErrorResponse>"
            )

    original = IAMRequest._raise_access_denied

    def raise_access_denied(self: IAMRequest) -> None:
        if self._service == "ec2":
            original(self)
        message = f"User: {self._access_key.arn} is not authorized to perform: {self._action}"
        content_type = self._headers.get("Content-Type", "")
        if "x-www-form-urlencoded" in content_type or self._service in ("route53", "cloudfront"):
            raise XmlAccessDenied(message)
        error = JsonRESTError("AccessDeniedException", message)
        error.code = 403
        raise error

    IAMRequest._raise_access_denied = raise_access_denied  # type: ignore[method-assign]


def fix_enforcement() -> None:
    """Apply both fixes (before the server starts)."""
    sign_empty_bodies_as_empty()
    deny_in_the_protocols_shape()
