"""What counts as a secret in what the pipeline writes and Terraform keeps (tests/infra/test_no_secrets.py and
the state read-back in tests/infra/test_stack_on_moto.py)."""

from __future__ import annotations

import re
from typing import Any

SECRET_VALUE = re.compile(
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|(?i:aws_secret_access_key|aws_session_token)"
)
# "token" but not "tokenizer" (the registry records the model's tokenizer scheme)
SECRET_NAME = re.compile(r"(?i)secret|password|passwd|token(?!iz)|private_?key|api_?key|credential")
# The one shared value the stack knowingly keeps in the Lambda's environment. It is not a credential: it
# only proves a request came through CloudFront (which adds it as x-origin-verify), so whoever reads it can
# skip the per-client WAF limit but still meets the API stage's throttle. AWS encrypts the environment at
# rest; reading it takes lambda:GetFunctionConfiguration. It must never be an output (docs/edge.md).
KNOWN_SHARED = {"ORIGIN_VERIFY_SECRET"}


def secrets_in(data: Any, where: str = "") -> list[str]:
    """Where in a JSON-like value a key is named like a secret or a string looks like one."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if SECRET_NAME.search(str(key)):
                found.append(f"{where}.{key}")
            found += secrets_in(value, f"{where}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += secrets_in(value, f"{where}[{i}]")
    elif isinstance(data, str) and SECRET_VALUE.search(data):
        found.append(where)
    return found
