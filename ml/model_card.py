"""A version's model card, made from its manifest alone: ``model_card.json`` and ``model_card.md``.

The JSON follows SageMaker's model package model card schema (``intended_uses``, ``training_details``,
``evaluation_details``, ``additional_information``), so the model package carries it as its ``ModelCard``
(ml/aws/versions.py); the Markdown says the same to a person, and the site links the live version's as
"About this model" (docs/model-card.md). The same manifest gives the same bytes, whatever its keys' order
(the manifest on disk is key-sorted, the one in memory is not): every list is in sorted order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ml.fsutil import write_text
from ml.tables import markdown_table

CARD_JSON, CARD_MD = "model_card.json", "model_card.md"  # beside the manifest in the version folder
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
    "A label with a top probability below 0.5 is a low-confidence answer: the middle band, where the "
    "runner-ups in the top list are as telling as the label.",
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


def markdown(manifest: dict[str, Any], version: str) -> str:
    """The card for a person: the same facts as :func:`card`, as Markdown."""
    content = card(manifest, version)
    uses, training = content["intended_uses"], content["training_details"]
    groups = content["evaluation_details"][0]["metric_groups"]
    details = content["additional_information"]["custom_details"]
    lines = [
        f"# About this model (version {version})",
        "",
        PURPOSE,
        "",
        "## Intended use",
        "",
        uses["intended_uses"],
        "",
        "## Data",
        "",
        training["training_observations"] + ".",
        "",
        f"Licence and attribution: {details['data_licence']}.",
        "",
        "## Training settings",
        "",
        ", ".join(f"{h['name']} {h['value']}" for h in training["training_job_details"]["hyper_parameters"])
        + ".",
        "",
        "## Metrics",
        "",
    ]
    for group in groups:
        rows = [(m["name"], f"{m['value']:.4f}") for m in group["metric_data"]]
        title = group["name"][0].upper() + group["name"][1:]
        lines += [f"### {title}", "", markdown_table(("metric", "value"), rows), ""]
    lines += ["## Known limits", "", *(f"- {limit}" for limit in LIMITS), ""]
    return "\n".join(lines)


def ensure(folder: Path, manifest: dict[str, Any]) -> Path:
    """The version folder's ``model_card.md``, written (with the JSON) when missing: a version made before
    cards were gets one from its manifest too."""
    return folder / CARD_MD if (folder / CARD_MD).is_file() else write(folder, manifest)


def write(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write the version folder's ``model_card.json`` and ``model_card.md``; the Markdown's path."""
    write_text(folder / CARD_JSON, json.dumps(card(manifest, folder.name), indent=2, sort_keys=True) + "\n")
    write_text(folder / CARD_MD, markdown(manifest, folder.name))
    return folder / CARD_MD
