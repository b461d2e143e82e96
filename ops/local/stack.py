"""The whole service on one machine: local endpoint + real Lambda handler behind a local API + the site.

Everything binds to 127.0.0.1. The handler reaches the endpoint through boto3, exactly as in AWS:
the stack only sets the environment the Lambda would get from Terraform (``ENDPOINT_NAME``,
``ALLOWED_ORIGINS``, ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``, the deployed model's vocabulary) plus
placeholder credentials for request signing when none are configured, and imports the handler only
then, so that its initialisation (the endpoint client, the vocabulary) runs as in the Lambda. Given an
emulated S3 (``feedback_s3``: `invoke up` starts moto), the handler's ``POST /feedback`` stores visitors'
feedback there with the same ``put_object`` as in AWS; the stack downloads it into ``build/feedback/``
every minute and when it stops (``ml/aws/feedback.py``), as `invoke feedback` does from AWS. Without
one, feedback is off: the page shows no buttons and the route answers 404. The endpoint
serves the version the registry names live, and follows it: a new version, approve + deploy or rollback
(ml/versions.py), is swapped in without a restart.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml import feedback, model_card, page, vocabulary
from ml.aws.feedback import download
from ml.config import log
from ml.deploy import live_entry, tokenizer_mismatch
from ml.errors import ProjectError
from ml.fsutil import file_digest
from ml.package import ArtifactError
from ml.predict import Predictor
from ml.versions import read_manifest
from ops.local.api import LocalApi, deployed_handler
from ops.local.counters import METRICS_LOGGER, Counters
from ops.local.endpoint import EndpointServer
from ops.local.http import BackgroundServer
from ops.local.site import SiteServer
from ops.settings import Settings

REGISTRY_POLL_SECONDS = 1.0  # how often the stack looks at build/endpoints.json for another live version
SUMMARY_SECONDS = 60.0  # how often the stack logs the minute's counters (ops/local/counters.py)
PORT_FLAGS = {"--endpoint-port": "endpoint_port", "--site-port": "site_port", "--api-port": "api_port"}


class PortError(ProjectError):
    """A configured port is given to two servers, or cannot be bound; the message names port and flag."""


@dataclass
class LocalStack:
    """The running servers; ``close()`` stops them and restores the environment."""

    endpoint: EndpointServer
    api: LocalApi
    site: SiteServer
    _saved_env: dict[str, str | None] = field(default_factory=dict)
    settings: Settings | None = None  # set: the endpoint follows the registry (see ``follow_registry``)
    _stop: threading.Event = field(default_factory=threading.Event)
    counters: Counters = field(default_factory=Counters)
    _metrics_handlers: list[logging.Handler] = field(default_factory=list)
    feedback_s3: str = ""  # the emulated S3 feedback goes to (empty: feedback is off)

    def keep_feedback(self) -> int:
        """Download the feedback stored since the last call into ``build/feedback/``; how many items."""
        if not self.feedback_s3 or self.settings is None:
            return 0
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.feedback_s3, region_name=self.settings.region)
        return download(s3, feedback_bucket(self.settings), feedback.folder_of(self.settings.build_dir))

    def count_requests(self, every: float) -> None:
        """Until ``close``: count the handler's EMF lines instead of printing them, and log a summary line of
        the last ``every`` seconds' requests (when there were any); ``close`` logs the whole run's."""
        metrics = logging.getLogger(METRICS_LOGGER)
        self._metrics_handlers = list(metrics.handlers)
        for handler in self._metrics_handlers:
            metrics.removeHandler(handler)
        metrics.addHandler(self.counters)

        def summarise() -> None:
            while not self._stop.wait(every):
                self.keep_feedback()
                minute = self.counters.take_minute()
                if minute.outcomes:
                    log.info(minute.summary(f"last {every:g} s"))

        threading.Thread(target=summarise, name="request counters", daemon=True).start()

    @property
    def site_url(self) -> str:
        return self.site.url + "/"

    def reload(self) -> bool:
        """Swap the endpoint to the version the registry names live, if it serves another; True if it did."""
        assert self.settings is not None, "a stack started by start_stack"
        archive = model_to_serve(self.settings)
        current = self.endpoint.predictor
        if current is not None and file_digest(archive) == current.archive_sha256:
            return False
        predictor = Predictor.from_archive(archive, self.settings.build_dir / "endpoint-cache")
        self.endpoint.swap(predictor)
        labels = vocabulary.lambda_environment(archive, predictor.labels)  # bound k, name feedback's labels
        os.environ.update({name: labels[name] for name in ("N_LABELS", "LABELS")})
        self.site.model_sha256 = labels["MODEL_SHA256"]
        self.site.page = page.read(archive.parent, predictor.labels)
        self.site.model_card = card_of(archive)
        return True

    def follow_registry(self) -> None:
        """Until ``close``: reload whenever the registry file changes; a bad entry is logged, not served."""
        assert self.settings is not None, "a stack started by start_stack"
        path, seen = self.settings.endpoint_registry, None

        def follow() -> None:
            nonlocal seen
            while not self._stop.wait(REGISTRY_POLL_SECONDS):
                stamp = path.stat().st_mtime_ns if path.exists() else None
                if stamp == seen:
                    continue
                seen = stamp
                try:
                    self.reload()
                except ProjectError as exc:
                    log.error("local endpoint keeps its model: %s", exc)

        seen = path.stat().st_mtime_ns if path.exists() else None
        threading.Thread(target=follow, name="registry follower", daemon=True).start()

    def close(self) -> None:
        """Stop every server and put the environment back as it was."""
        self._stop.set()
        servers: list[BackgroundServer] = [self.site, self.api, self.endpoint]
        for server in servers:
            server.shutdown()
            server.server_close()
        try:
            kept = self.keep_feedback()
        except ProjectError as exc:
            log.error("feedback not downloaded: %s", exc)
        else:
            if kept and self.settings is not None:
                folder = feedback.folder_of(self.settings.build_dir)
                log.info("%d new feedback items kept in %s", kept, folder)
        _restore_env(self._saved_env)
        metrics = logging.getLogger(METRICS_LOGGER)
        metrics.removeHandler(self.counters)
        for handler in self._metrics_handlers:
            metrics.addHandler(handler)
        log.info(self.counters.total.summary("since start"))
        log.info("local stack stopped")

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _restore_env(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _not_started(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("the local API was called before the stack set the Lambda's environment")


def model_to_serve(settings: Settings) -> Path:
    """The archive deployed to the local endpoint, checked against the checksum recorded at deploy time."""
    entry = live_entry(settings)
    if entry is None:
        raise ArtifactError(
            f"nothing is deployed to the local endpoint {settings.endpoint_name!r}; run `invoke train` first"
        )
    mismatch = tokenizer_mismatch(settings)
    if mismatch:
        raise ArtifactError(f"{mismatch}; run `invoke train` to train and deploy again")
    archive = Path(entry["model_archive"])
    if not archive.exists() or file_digest(archive) != entry["sha256"]:
        raise ArtifactError(
            f"{archive} is missing or changed since it was deployed; run `invoke train` "
            "to train and deploy again"
        )
    return archive


def card_of(archive: Path) -> Path | None:
    """The model card of the version ``archive`` is in (written from its manifest when missing)."""
    manifest = read_manifest(archive.parent)
    return model_card.ensure(archive.parent, manifest) if manifest is not None else None


def server_ports(settings: Settings, ephemeral: bool = False) -> dict[str, int]:
    """Each server's port by its flag (0 when ``ephemeral``); PortError if two are given the same one."""
    if ephemeral:
        return dict.fromkeys(PORT_FLAGS, 0)
    ports: dict[str, int] = {flag: getattr(settings, name) for flag, name in PORT_FLAGS.items()}
    seen: dict[int, str] = {}
    for flag, number in ports.items():
        if number in seen:
            raise PortError(f"{seen[number]} and {flag} are both {number}; give each server its own port")
        seen[number] = flag
    return ports


def feedback_bucket(settings: Settings) -> str:
    """The local feedback bucket's name in the emulated S3."""
    return f"{settings.endpoint_name}-feedback"


def start_stack(settings: Settings, ephemeral_ports: bool = False, feedback_s3: str = "") -> LocalStack:
    """Start endpoint, API and site; ``ephemeral_ports`` picks free ports instead of the configured ones;
    ``feedback_s3``: an emulated S3 to keep feedback in (feedback is off without one).

    All three ports are bound before anything starts, so a port in use (PortError) leaves nothing running;
    the same port given to two servers is refused before any is bound.
    """
    host = settings.host
    ports = server_ports(settings, ephemeral_ports)
    archive = model_to_serve(settings)
    predictor = Predictor.from_archive(archive, settings.build_dir / "endpoint-cache")
    vocabulary.require(archive)
    if feedback_s3 and settings.feedback:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=feedback_s3,
            region_name=settings.region,
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        )
        s3.create_bucket(Bucket=feedback_bucket(settings))
    bound: list[BackgroundServer] = []
    flag = "--endpoint-port"
    try:
        endpoint = EndpointServer(
            (host, ports[flag]), predictor, settings.endpoint_name, settings.endpoint_workers
        )
        bound.append(endpoint)
        flag = "--site-port"
        site = SiteServer((host, ports[flag]))
        bound.append(site)
        flag = "--api-port"
        api = LocalApi((host, ports[flag]), _not_started, [site.url], workers=settings.api_workers)
        bound.append(api)
    except OSError as exc:
        for server in bound:
            server.server_close()
        in_use = exc.errno == errno.EADDRINUSE
        reason = "is in use (another `invoke up`?)" if in_use else f"cannot be bound ({exc.strerror or exc})"
        raise PortError(f"port {ports[flag]} ({flag}) {reason}; choose another with {flag}") from None
    env = {
        "ENDPOINT_NAME": settings.endpoint_name,
        "ALLOWED_ORIGINS": site.url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint.url,
        "AWS_DEFAULT_REGION": settings.region,
        **{name.upper(): str(value) for name, value in settings.lambda_settings().items()},
        **vocabulary.lambda_environment(archive, predictor.labels),
    }
    if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
        env |= {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    feedback_s3 = feedback_s3 if settings.feedback else ""
    env["FEEDBACK"] = str(int(bool(feedback_s3)))
    if feedback_s3:
        env |= {"FEEDBACK_BUCKET": feedback_bucket(settings), "AWS_ENDPOINT_URL_S3": feedback_s3}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    api.handler = deployed_handler()  # imported (initialised) in this environment
    # The site is the local edge: the page POSTs to /classify on its own origin, which forwards to the API.
    site.api_url, site.upstream, site.max_text_chars = "", api.url, settings.max_text_chars
    site.page = page.read(archive.parent, predictor.labels)  # the deployed version's labels and examples
    site.model_card = card_of(archive)
    site.feedback, site.model_sha256 = bool(feedback_s3), env["MODEL_SHA256"]
    started: list[BackgroundServer] = []
    try:
        for server in bound:
            server.start()
            started.append(server)
    except Exception:  # e.g. an endpoint worker that cannot start: leave nothing running
        for server in bound:
            if server in started:
                server.shutdown()
            server.server_close()
        _restore_env(saved)
        raise
    stack = LocalStack(endpoint, api, site, saved, settings, feedback_s3=feedback_s3)
    stack.follow_registry()
    stack.count_requests(SUMMARY_SECONDS)
    return stack
