"""The files in site/: types the bucket can serve, nothing fetched from elsewhere, no class hard-coded.

No browser needed: these run everywhere.
"""

from __future__ import annotations

import json
import re
import tarfile
from html.parser import HTMLParser
from pathlib import Path

from ml import page
from ml.config import ROOT
from ops.local.site import CONFIG_TEMPLATE, SITE_DIR, render_config

# The extensions that Terraform uploads to the bucket with a content type.
SERVED_TYPES = {".html", ".js", ".css", ".svg", ".png", ".ico", ".json"}
ATTRIBUTION = "https://en.wikipedia.org/wiki/DBpedia"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


class _Collector(HTMLParser):
    """Every tag with its attributes, in document order, and the ``data-label`` items of the topic list."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.labels: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "li" and attributes.get("data-label"):
            self.labels.append(str(attributes["data-label"]))


def parse_index() -> _Collector:
    collector = _Collector()
    collector.feed((SITE_DIR / "index.html").read_text(encoding="utf-8"))
    return collector


def site_files() -> list[Path]:
    return sorted(p for p in SITE_DIR.rglob("*") if p.is_file())


def test_site_holds_only_file_types_the_bucket_serves() -> None:
    # GIVEN the files in site/
    files = site_files()
    # WHEN their extensions are compared with the content types Terraform maps
    unmapped = [p.name for p in files if p.suffix not in SERVED_TYPES and p.name != CONFIG_TEMPLATE]
    # THEN each is served with a type, and config.js exists only as its template (it is rendered, not kept)
    assert unmapped == []
    assert {"index.html", "app.js", "style.css", CONFIG_TEMPLATE} <= {p.name for p in files}
    assert not (SITE_DIR / "config.js").exists()


def test_page_loads_every_resource_from_its_own_origin() -> None:
    # GIVEN the page's markup and stylesheet
    tags = parse_index().tags
    css = (SITE_DIR / "style.css").read_text(encoding="utf-8")
    # WHEN every src/href is collected
    loaded = [
        (t, a.get("src") or a.get("href") or "") for t, a in tags if t != "a" and ("src" in a or "href" in a)
    ]
    links = [a.get("href") for t, a in tags if t == "a"]
    # THEN scripts, styles and icons are relative; no link out (the attribution is DBPedia's labels.json's);
    # CSS imports nothing
    assert sorted(u for _, u in loaded) == [
        "app.js",
        "config.js",
        "explain.js",
        "favicon.svg",
        "feedback.js",
        "style.css",
    ]
    assert links == []
    assert "@import" not in css and "url(" not in css


def test_no_site_file_names_another_address() -> None:
    # GIVEN every file in site/
    found = {
        p.name: set(
            re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<>)]*", p.read_text(encoding="utf-8"))
        )
        for p in site_files()
    }
    # WHEN the addresses in them are listed
    addresses = {name: urls for name, urls in found.items() if urls}
    # THEN only the SVG namespace (an identifier, never fetched) appears; DBPedia's attribution is data
    assert addresses == {"favicon.svg": {SVG_NAMESPACE}}
    assert ATTRIBUTION in (ROOT / "data" / "dbpedia-labels.json").read_text(encoding="utf-8")


def test_the_page_names_no_class_and_dbpedias_labels_json_names_every_class_in_label_order() -> None:
    # GIVEN the class names shipped with the sample data
    with tarfile.open(ROOT / "data" / "dbpedia_sample.tar.xz") as archive:
        member = archive.extractfile("dbpedia_csv/classes.txt")
        assert member is not None
        classes = member.read().decode("utf-8").split()
    # WHEN DBPedia's shipped labels.json is read as a model of those classes, and the page's markup parsed
    shown = page.read_labels_file(page.DBPEDIA_LABELS, classes)
    # THEN the page lists the same 14 classes in the model's order, and the markup itself names none
    assert [item["label"] for item in shown["labels"]] == classes and len(classes) == 14
    assert parse_index().labels == []


def test_config_is_loaded_before_the_app_and_renders_the_api_url_and_text_limit() -> None:
    # GIVEN the page's scripts and the config template
    scripts = [a.get("src") for t, a in parse_index().tags if t == "script"]
    # WHEN the template is rendered as Terraform and the local stack do
    shown = {"labels": [{"label": "a", "name": "A", "description": ""}], "examples": []}
    sha = "5e" * 32
    url = "https://abc.execute-api.us-east-1.amazonaws.com"
    rendered = render_config(url, 5000, shown, feedback=True, model_sha256=sha)
    # THEN config.js runs first and defines the API URL, the Lambda's text limit, the model's page, whether
    # the page offers feedback and the model it is about; explain.js (the answer's extras) before app.js,
    # which calls it, and the feedback script after the app
    assert scripts == ["config.js", "explain.js", "app.js", "feedback.js"]
    assert (
        f'window.CLASSIFIER_CONFIG = {{ apiUrl: "{url}", maxTextChars: 5000, page: {json.dumps(shown)},\n'
        f'  feedback: true, modelSha256: "{sha}" }};' in rendered
    )
