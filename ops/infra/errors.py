"""The error of the infrastructure tasks (``invoke infra``, ``plan``, ``destroy``, ``smoke``)."""

from __future__ import annotations

from ml.errors import ProjectError


class InfraError(ProjectError):
    """The infrastructure cannot be handled as asked; the message says what to do next."""
