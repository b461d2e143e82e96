"""`invoke up`'s site serves the live version's model card as /model-card.html, as Terraform uploads it."""

from __future__ import annotations

import urllib.request

from ml import model_card
from ml.pipeline import TrainOutcome
from ops.local.stack import start_stack
from ops.settings import Settings


def test_the_site_serves_the_live_version_s_card_written_from_its_manifest_when_missing(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    # GIVEN the live version, whose card files are gone (as for a version made before cards were)
    settings, outcome = trained
    folder = outcome.archive.parent
    expected = (folder / model_card.CARD_HTML).read_text()
    for name in (model_card.CARD_MD, model_card.CARD_JSON, model_card.CARD_HTML):
        (folder / name).unlink()
    # WHEN the stack starts and the page's "About this model" link is fetched
    with start_stack(settings, ephemeral_ports=True) as running:
        url = running.site.url + "/model-card.html"
        with urllib.request.urlopen(url, timeout=10) as response:
            status, headers, body = response.status, response.headers, response.read().decode()
    # THEN it is the card page the manifest gives, as HTML, with the edge's security headers
    assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert body == expected and (folder / model_card.CARD_JSON).is_file()
    assert (folder / model_card.CARD_MD).is_file()
    assert headers["Content-Security-Policy"]
