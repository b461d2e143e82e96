"""Issue 26: a model trained on the user's own labels, served by the real local stack, answers and shows
those labels: the Lambda bounds k by the model's class count and answers the user's label (not the token),
and the page's config.js carries the deployed version's labels.json."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ml import page
from ml.data import resolve_dataset
from ml.readers import DataError
from ml.records import ClassifyError, InputSpec
from ops.local import bulk
from ops.local.stack import LocalStack
from tests.helpers import OWN_TOPICS, own_data_settings

pytestmark = pytest.mark.slow


def classify(stack: LocalStack, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /classify on the site's origin (the local edge), as the page does."""
    request = urllib.request.Request(
        stack.site.url + "/classify", json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_api_answers_the_users_label_and_bounds_k_by_the_models_three_labels(
    own_stack: LocalStack,
) -> None:
    text = "The starship left orbit for the alien planet; the android fired its laser."
    status, body = classify(own_stack, {"text": text})
    assert (status, body["label"]) == (200, "Science Fiction"), body  # not the token Science%20Fiction
    assert {t["label"] for t in body["top"]} == set(OWN_TOPICS)  # TOP_K 3 = all three labels
    status, body = classify(own_stack, {"text": text, "k": 4})
    assert (status, body["message"]) == (400, '"k" must be an integer from 1 to 3')


def test_bulk_classification_writes_the_users_labels_and_bounds_k_by_the_model(
    own_stack: LocalStack, tmp_path: Path
) -> None:
    assert (
        own_stack.settings is not None
    )  # through the stack's own endpoint, not whatever holds the default port
    settings = own_stack.settings.replace(endpoint_port=own_stack.endpoint.server_address[1])
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "text": "The alien starship fired its laser at the planet."}\n', encoding="utf-8"
    )
    bulk.classify(settings, source, tmp_path / "out.jsonl", InputSpec())
    (line,) = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert line["label"] == "Science Fiction" and {t["label"] for t in line["top"]} == set(OWN_TOPICS)
    with pytest.raises(ClassifyError, match=r"^-k 4: must be at most 3, the deployed model's labels$"):
        bulk.classify(settings.replace(top_k=4), source, tmp_path / "four.jsonl", InputSpec())


def test_config_js_carries_the_deployed_versions_labels_json(own_stack: LocalStack) -> None:
    with urllib.request.urlopen(own_stack.site_url + "config.js", timeout=10) as response:
        config = response.read().decode()
    shown = json.loads(re.search(r"page: (\{.*\}),\n", config).group(1))  # type: ignore[union-attr]
    assert shown["noun"] == "genres"
    assert [(x["label"], x["name"], x["description"]) for x in shown["labels"]] == [
        ("100% sport", "100% sport", ""),  # not in labels.json: its own name
        ("Science Fiction", "Science Fiction", "starships and aliens"),
        ("cooking", "Cooking", "recipes and kitchens"),
    ]
    assert shown["examples"] == [  # in labels.json's order; a bare text is captioned with the name
        {"text": "Simmer the garlic in butter, then add flour.", "caption": "A recipe"},
        {"text": "The alien starship left orbit.", "caption": "Science Fiction"},
    ]


def test_without_labels_json_names_are_the_labels_and_examples_are_raw_validation_rows(
    tmp_path: Path,
) -> None:
    settings = own_data_settings(tmp_path, labels_json=False)
    shown = page.describe(resolve_dataset(settings), settings)
    assert [x["name"] for x in shown["labels"]] == ["100% sport", "Science Fiction", "cooking"]
    assert [x["caption"] for x in shown["examples"]] == ["100% sport", "Science Fiction", "cooking"]
    for example, topic in zip(shown["examples"], ["100% sport", "Science Fiction", "cooking"], strict=True):
        assert example["text"].startswith("Story ") and example["text"].endswith(". The end.")  # as written
        assert set(example["text"].replace(".", "").split()[2:-2]) <= set(OWN_TOPICS[topic].split())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ('{"labels": {"zebra": {}}}', "'zebra' is not a label of the data (its labels: '100% sport'"),
        ('{"labels": {"cooking": {"name": 3}}}', "labels.cooking.name must be a non-empty string"),
        ('{"label": {}}', "unknown key(s) label"),
        ("{not json", "not valid JSON"),
        ('{"footer": [{"text": "x", "href": "javascript:alert(1)"}]}', "footer must be texts and"),
    ],
)
def test_a_bad_labels_json_is_one_line_naming_the_file(tmp_path: Path, spec: str, message: str) -> None:
    settings = own_data_settings(tmp_path, labels_json=False)
    path = tmp_path / "data" / "labels.json"
    path.write_text(spec, encoding="utf-8")
    with pytest.raises(DataError) as raised:
        page.describe(resolve_dataset(settings), settings)
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)
    assert "\n" not in str(raised.value)
