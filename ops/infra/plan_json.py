"""A saved plan as ``terraform show -json`` writes it, read once into typed values.

The summary (plan_summary.py), the review (review.py), the policy (policy.py) and the cost estimate
(costs.py) read a plan through :class:`Plan`. A value known only after apply reads as an :class:`Unknown`
naming what it is computed from (``<aws_cloudwatch_log_group.lambda.arn>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def references(expression: Any) -> list[str]:
    """Every reference in one configuration expression (nested blocks included), in order."""
    if isinstance(expression, list):
        return [ref for item in expression for ref in references(item)]
    if not isinstance(expression, dict):
        return []
    found = list(expression.get("references", []))
    for key, item in expression.items():
        if key not in ("references", "constant_value"):
            found += references(item)
    return found


@dataclass(frozen=True)
class Unknown:
    """A value known only after apply, with what it is computed from."""

    sources: tuple[str, ...] = ()

    def __str__(self) -> str:
        attributes = [s for s in self.sources if s.count(".") >= 2 or s.startswith("var.")] or list(
            self.sources
        )
        return "<" + ", ".join(attributes) + ">" if attributes else "<known after apply>"


@dataclass(frozen=True)
class ResourceChange:
    """One resource the plan touches: its address, what Terraform does to it, its values after the change
    (``after_unknown`` marks those known only after apply) and how its configuration sets them."""

    address: str
    mode: str  # managed | data
    type: str
    actions: tuple[str, ...]  # Terraform's: ("create",), ("delete", "create"), ("no-op",), ...
    after: dict[str, Any]
    after_unknown: dict[str, Any]
    expressions: dict[str, Any]

    @property
    def action(self) -> str:
        """The change in one word: ``replace`` for a delete and a create, else Terraform's action(s)."""
        return "replace" if set(self.actions) == {"create", "delete"} else "-".join(self.actions)

    @property
    def remains(self) -> bool:
        """True when the resource exists after apply: not deleted, not forgotten."""
        return self.actions not in (("delete",), ("forget",))

    def value(self, name: str) -> Any:
        """The planned value of attribute ``name``, or an :class:`Unknown` naming its sources until apply."""
        if self.after_unknown.get(name) is True:
            return Unknown(tuple(references(self.expressions.get(name))))
        return self.after.get(name)

    def refers_to(self, name: str, address: str) -> bool:
        """True when attribute ``name`` is set from ``address`` (a resource's attribute or the resource)."""
        return address in references(self.expressions.get(name))


def _module_resources(module: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for item in module.get("resources", []):
        yield prefix + item["address"], item
    for name, call in module.get("module_calls", {}).items():
        yield from _module_resources(call.get("module", {}), f"{prefix}module.{name}.")


@dataclass(frozen=True)
class Plan:
    """Every resource change of a plan, in plan order, and the values of its variables."""

    changes: tuple[ResourceChange, ...]
    variables: dict[str, Any]

    @classmethod
    def read(cls, data: dict[str, Any]) -> Plan:
        """Read ``terraform show -json`` of a saved plan."""
        config = dict(_module_resources(data.get("configuration", {}).get("root_module", {})))
        changes = []
        for item in data.get("resource_changes", []):
            change = item["change"]
            block = config.get(item["address"].split("[", 1)[0], {})
            changes.append(
                ResourceChange(
                    item["address"],
                    item["mode"],
                    item["type"],
                    tuple(change["actions"]),
                    change.get("after") or {},
                    change.get("after_unknown") or {},
                    block.get("expressions", {}),
                )
            )
        variables = {name: item.get("value") for name, item in data.get("variables", {}).items()}
        return cls(tuple(changes), variables)

    @property
    def resources(self) -> list[ResourceChange]:
        """The managed resources that exist after apply, in plan order."""
        return [c for c in self.changes if c.mode == "managed" and c.remains]

    def of_type(self, *types: str) -> list[ResourceChange]:
        """The managed resources of these types that exist after apply, in plan order."""
        return [r for r in self.resources if r.type in types]

    def data_source(self, address: str) -> ResourceChange | None:
        """The data source at ``address`` when the plan reads it at apply, else None."""
        return next((c for c in self.changes if c.mode == "data" and c.address == address), None)
