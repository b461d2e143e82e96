"""A version's model card, made from its manifest alone: ``model_card.json`` and ``model_card.md``.

The JSON follows SageMaker's model package model card schema (``intended_uses``, ``training_details``,
``evaluation_details``, ``additional_information``), so the model package carries it as its ``ModelCard``
(ml/aws/versions.py); the Markdown and the HTML page say the same to a person, and the site links the live
version's page as "About this model" (docs/model-card.md). The same manifest gives the same bytes, whatever
its keys' order (the manifest on disk is key-sorted, the one in memory is not): every list is sorted.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from ml.fsutil import write_text
from ml.lambda_src import contract
from ml.tables import markdown_table

# beside the manifest in the version folder
CARD_JSON, CARD_MD, CARD_HTML = "model_card.json", "model_card.md", "model_card.html"
DBPEDIA_LICENCE = (
    "DBPedia ontology classification dataset, constructed by Xiang Zhang from DBpedia 2014 (Zhang, Zhao, "
    "LeCun, NIPS 2015); CC BY-SA 3.0 and the GNU FDL; DBpedia / Wikipedia content is CC BY-SA 3.0"
)
OWN_LICENCE = "your own labelled text (docs/own-data.md): its licence is yours to record"
PURPOSE = (
    "Say which of its classes (DBPedia's 14 topics by default) a short English text about one thing, "
    "person, place or work belongs to, as an encyclopedia would file it."
)
LIMITS = [
    "English only: a text of 6 words or more without a common English word gets no label.",
    "Short texts are less accurate than abstracts: see the slices (short: a first sentence's first 8 "
    "tokens; title).",
    "A text with too few words that tell it about a topic gets no label (unknown text): "
    "'I can't tell what this is about' is an answer, not an error.",
    f"A label with a top probability below {contract.CONFIDENT} is a low-confidence answer, shown as "
    "'probably X, possibly Y': on held-out rows such answers were right far less often (docs/confidence.md).",
    "It always picks one of its classes: it cannot say a text is about none of them beyond the rules above.",
]


def card(manifest: dict[str, Any], version: str) -> dict[str, Any]:
    """The card of the version ``version`` (its id) in SageMaker's model package model card schema."""
    data, metrics = manifest.get("data", {}), manifest.get("metrics", {})
    band = manifest.get("drift_band", {})
    measured = band.get("measured", {})
    number = "number"
    slices = manifest.get("slices", {})
    return {
        "intended_uses": {
            "purpose_of_model": PURPOSE,
            "intended_uses": "The demo page and API of this project; bulk classification of such texts.",
            "factors_affecting_model_efficiency": " ".join(LIMITS),
        },
        "training_details": {
            "training_observations": (
                f"version {version}, created {manifest.get('created', 'before cards were made')}; "
                f"data {data.get('origin', '?')} (sha256 {data.get('sha256', '?')}), splits "
                + ", ".join(f"{k} {v}" for k, v in sorted(data.get("splits", {}).items()))
                + f"; {len(manifest.get('labels', []))} classes; tokenizer {manifest.get('tokenizer', '?')}"
            ),
            "training_job_details": {
                "hyper_parameters": [
                    {"name": k, "value": str(v)}
                    for k, v in sorted(manifest.get("hyperparameters", {}).items())
                ],
            },
        },
        "evaluation_details": [
            {
                "name": "validation and test splits",
                "datasets": [str(data.get("test_source", ""))],
                "evaluation_observation": "accuracy by split, test F1 by class, accuracy on slices of the "
                "test rows, unknown-text rates of the validation rows",
                "metric_groups": [
                    {
                        "name": "overall",
                        "metric_data": [
                            {"name": k, "type": number, "value": v}
                            for k, v in sorted(metrics.items())
                            if isinstance(v, int | float)
                        ],
                    },
                    {
                        "name": "test F1 by class",
                        "metric_data": [
                            {"name": k, "type": number, "value": v}
                            for k, v in sorted(metrics.get("test_per_class_f1", {}).items())
                        ],
                    },
                    {
                        "name": "test accuracy by slice",
                        "metric_data": [
                            {"name": k, "type": number, "value": v["model"]}
                            for k, v in sorted(slices.items())
                        ],
                    },
                    {
                        "name": "validation unknown-text rate by form",
                        "metric_data": [
                            {"name": k, "type": number, "value": v["unknown_text"]}
                            for k, v in sorted(measured.items())
                        ],
                    },
                    *_feedback_group(manifest.get("feedback")),
                ],
            }
        ],
        "additional_information": {
            "caveats_and_recommendations": " ".join(LIMITS),
            "custom_details": {
                "data_licence": DBPEDIA_LICENCE if not data.get("own") else OWN_LICENCE,
                "model_sha256": str(manifest.get("model", {}).get("sha256", "")),
            },
        },
    }


def _feedback_group(fed: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The accepted feedback's slice as a metric group (none without ``--with-feedback``)."""
    if not fed:
        return []
    accuracy = fed.get("accuracy", {})
    models = (("this model", accuracy.get("new")), ("the model deployed before", accuracy.get("old")))
    return [
        {
            "name": f"accuracy on the {fed.get('items', 0)} accepted feedback items (training rows too)",
            "metric_data": [
                {"name": name, "type": "number", "value": value}
                for name, value in models
                if value is not None
            ],
        }
    ]


Block = tuple[str, Any]  # ("h1" | "h2" | "h3" | "p", text), ("table", rows), ("ul", items)


def blocks(manifest: dict[str, Any], version: str) -> list[Block]:
    """The card for a person, the same facts as :func:`card`, as a list of blocks both renderers share."""
    content = card(manifest, version)
    uses, training = content["intended_uses"], content["training_details"]
    groups = content["evaluation_details"][0]["metric_groups"]
    details = content["additional_information"]["custom_details"]
    settings = training["training_job_details"]["hyper_parameters"]
    out: list[Block] = [
        ("h1", f"About this model (version {version})"),
        ("p", PURPOSE),
        ("h2", "Intended use"),
        ("p", uses["intended_uses"]),
        ("h2", "Data"),
        ("p", training["training_observations"] + "."),
        ("p", f"Licence and attribution: {details['data_licence']}."),
        ("h2", "Training settings"),
        ("p", ", ".join(f"{h['name']} {h['value']}" for h in settings) + "."),
        ("h2", "Metrics"),
    ]
    for group in groups:
        out += [("h3", group["name"][0].upper() + group["name"][1:])]
        out += [("table", [(m["name"], f"{m['value']:.4f}") for m in group["metric_data"]])]
    return [*out, ("h2", "Known limits"), ("ul", LIMITS)]


def markdown(manifest: dict[str, Any], version: str) -> str:
    """The card as Markdown (the version folder's copy; SageMaker's is the JSON)."""
    marks = {"h1": "# ", "h2": "## ", "h3": "### ", "p": ""}
    lines: list[str] = []
    for kind, value in blocks(manifest, version):
        if kind == "table":
            lines += [markdown_table(("metric", "value"), value), ""]
        elif kind == "ul":
            lines += [*(f"- {item}" for item in value), ""]
        else:
            lines += [marks[kind] + value, ""]
    return "\n".join(lines)


def html(manifest: dict[str, Any], version: str) -> str:
    """The card as the page the site serves ("About this model"): the site's style sheet, no script."""
    parts: list[str] = []
    for kind, value in blocks(manifest, version):
        if kind == "table":
            rows = "".join(f'<tr><th scope="row">{escape(n)}</th><td>{escape(v)}</td></tr>' for n, v in value)
            head = '<tr><th scope="col">metric</th><th scope="col">value</th></tr>'
            parts.append(f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{escape(item)}</li>" for item in value) + "</ul>")
        else:
            parts.append(f"<{kind}>{escape(value)}</{kind}>")
    title = escape(f"About this model (version {version})")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{title}</title>\n<link rel="stylesheet" href="style.css">\n</head>\n'
        '<body>\n<main class="model-card">\n'
        + "\n".join(parts)
        + '\n<p><a href="./">Back to the classifier</a></p>\n'
        "</main>\n</body>\n</html>\n"
    )


def ensure(folder: Path, manifest: dict[str, Any]) -> Path:
    """The version folder's ``model_card.html``, written (with the JSON and Markdown) when missing: a version
    made before cards (or their page) were gets them from its manifest too."""
    return folder / CARD_HTML if (folder / CARD_HTML).is_file() else write(folder, manifest)


def write(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write the version folder's ``model_card.json``, ``.md`` and ``.html``; the page's path."""
    write_text(folder / CARD_JSON, json.dumps(card(manifest, folder.name), indent=2, sort_keys=True) + "\n")
    write_text(folder / CARD_MD, markdown(manifest, folder.name))
    write_text(folder / CARD_HTML, html(manifest, folder.name))
    return folder / CARD_HTML
