"""What applies without a subject (``joint-sanctions measures``): the measures of the lists that a
matter type, a list type and a subject type select, each with what decides its weight in a check —
effect, whether it binds (the legality guard), basis, condition, ban and overdue, validity dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._models import Measure, MeasureListFile

__all__ = ["measure_rows", "selects"]


def selects(m: Measure, matter: str | None, list_type: str | None, subject_type: str | None) -> bool:
    """Whether ``m`` can apply to a record of ``list_type`` for ``matter`` on a subject of ``subject_type``
    (None = any); ``subject_types`` filters the subject itself, never its related parties."""
    return ((matter is None or matter in m.matter_types)
            and (list_type is None or list_type in m.list_types)
            and (subject_type is None or m.subject_types is None or subject_type in m.subject_types))


def binds(m: Measure) -> bool:
    """The legality guard without a subject: a punishment binds iff its basis is confirmed; an incentive
    is granted (and so binding) unless a punishment applies beside it."""
    return m.kind == "incentive" or m.basis_status == "confirmed"


def measure_rows(files: Iterable[MeasureListFile], *, matter: str | None = None, list_type: str | None = None,
                 subject_type: str | None = None) -> list[dict[str, Any]]:
    """One JSON-ready row per selected measure, in the lists' order (docs/cli.md, ``measures``)."""
    rows = []
    for file in files:
        for m in file.measures:
            if not selects(m, matter, list_type, subject_type):
                continue
            rows.append({
                "measure_id": m.id, "name": m.name, "kind": m.kind, "effect": m.effect, "mandatory": m.mandatory,
                "binding": binds(m), "basis_status": m.basis_status,
                "legal_basis": [basis.model_dump() for basis in m.legal_basis],
                "condition": m.condition, "requires_ban": m.requires_ban, "requires_overdue": m.requires_overdue,
                "valid_from": m.valid_from.isoformat() if m.valid_from else None,
                "valid_to": m.valid_to.isoformat() if m.valid_to else None,
                "subject_types": list(m.subject_types) if m.subject_types is not None else None,
                "related_party_roles": list(m.related_party_roles),
                "list_types": list(m.list_types), "matter_types": list(m.matter_types),
                "implementing_departments": list(m.implementing_departments), "source": m.source,
            })
    return rows
