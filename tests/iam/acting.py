"""Running the project's own functions as a principal of the emulated account (ops/infra/iam_emulator.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from ops.infra.iam_emulator import Principal
from ops.infra.iam_view import CallRecorder


@contextmanager
def acting_as(principal: Principal, recorder: CallRecorder | None = None) -> Iterator[None]:
    """Run the project's functions as ``principal``: its env in os.environ (Terraform and boto3 read it)
    and a fresh default boto3 session (one made before would keep another principal's credentials).

    A ``recorder`` watches every boto3 session made meanwhile, the default one and those the code makes
    itself (``boto3.Session(region_name=...)``), so no call escapes it."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in principal.env.items():
            if value is None:
                patch.delenv(key, raising=False)
            else:
                patch.setenv(key, value)
        if recorder is not None:
            init = boto3.session.Session.__init__

            def watched(self: boto3.session.Session, *args: Any, **kwargs: Any) -> None:
                init(self, *args, **kwargs)
                recorder.watch(self.events)

            patch.setattr(boto3.session.Session, "__init__", watched)
        boto3.setup_default_session()
        try:
            yield
        finally:
            boto3.DEFAULT_SESSION = None
