"""The deployed model's inputs for the stack: its vocabulary, from ``build/`` or fetched from the model store,
and what its manifest gives: the model card and the live metrics' band.

The Lambda zip ships the vocabulary of the model the tfvars name (``model_sha256``). On the machine that
trained it, it is in that version's folder; anywhere else (a CI runner's fresh checkout) it is fetched with
the version's archive and manifest from the store the tfvars name (``model_store_uri``, ml/aws/store.py),
each file checked against ``model_sha256``. The only AWS calls: one ``s3:GetObject`` a missing file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml import model_card
from ml.aws import session, store
from ml.config import log
from ml.deploy import EndpointOutputs
from ml.errors import ProjectError
from ml.versions import read_manifest, version_folder
from ml.vocabulary import VOCABULARY, is_for
from ops.settings import Settings


class ModelInputsError(ProjectError):
    """The deployed model's vocabulary is neither in ``build/`` nor in a store the tfvars name."""


def model_vocabulary(settings: Settings, endpoint: EndpointOutputs) -> Path:
    """The vocabulary of the model the tfvars name: in its version folder, fetched there when missing."""
    sha = endpoint.model_sha256
    folder = version_folder(settings, sha)
    path = folder / VOCABULARY
    if sha and is_for(path, sha):
        return path
    if not sha or not endpoint.model_store_uri:
        raise ModelInputsError(
            f"no current vocabulary for the deployed model {sha or '(none named)'} at {path} "
            "(none, or one of an older format), and the tfvars name no model store (model_store_uri): "
            "run `invoke train` (it derives it; with --target aws it also uploads it and names the store) "
            "and try again"
        )
    log.info(
        "fetching the deployed model %s from %s", sha[:16], store.version_uri(endpoint.model_store_uri, sha)
    )
    with session.aws_errors():
        s3 = session.boto_session(endpoint.aws_region).client("s3")
        store.fetch(s3, endpoint.model_store_uri, sha, folder)
    return path


def model_variables(settings: Settings, endpoint: EndpointOutputs) -> dict[str, Any]:
    """What the deployed version's manifest gives the stack (call after :func:`model_vocabulary`, which
    fetches it where ``build/`` lacks it): its model card (``model_card``) and its live metrics' band
    (``drift_band``); a version made before they were recorded gives its card and no band (the default:
    nothing judged), with a warning."""
    folder = version_folder(settings, endpoint.model_sha256)
    manifest = read_manifest(folder)
    if manifest is None:
        return {}
    variables: dict[str, Any] = {"model_card": model_card.html(manifest, folder.name)}
    band = manifest.get("drift_band")
    if band is None:
        log.warning(
            "version %s records no live metrics' band: no drift alarm; train again to get one", folder.name
        )
        return variables
    return {
        **variables,
        "drift_band": {key: band[key] for key in ("labels", "min_day_answers", "unknown_text")},
    }
