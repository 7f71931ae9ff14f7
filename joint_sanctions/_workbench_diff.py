"""What a new revision of the measure lists would change, before it is published (``joint-sanctions diff``).

Three parts, each the same for the JSON, Markdown and HTML sheets (:mod:`joint_sanctions._workbench_report`):

* the measures added, removed and changed field by field;
* every (list type, matter type, subject type) *cell* whose outcome changes. A cell's outcome is what a
  subject of that type with one active record of that list type would meet for that matter on the
  day, when the record meets every condition (the worst case): the decision under the legality
  guard, the measure ids, the binding ones, and which of them hang on a condition, the record's own
  ban or an overdue rectification;
* with a record store, per matter type how many subjects with active records would get another
  decision, and a sample of them (resident ids masked).

The impact is set-based: a subject's answer depends only on its type and on the few fields of its
active records that the rules read, so subjects are grouped by that *signature* and each distinct
signature is checked once per matter and revision, through the same facts, rule evaluator and guard
as a check. The matter carries only its type (an amount or item code is not known), and only a
subject's own records count (related parties are given by the host at check time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _identifiers as identifiers
from ._compile import SELF, CompiledMeasures
from ._list_types import add_period
from ._models import AppliedMeasure, CreditRecord, Matter, Subject, trusted
from ._results import _applied, _decide, _facts
from ._rules import ReferenceRunner
from .stores import RecordStore
from .stores._sql import sql_store_of
from .vocabulary import LIST_TYPES, MATTER_TYPES, SUBJECT_TYPES

__all__ = ["Diff", "cell_outcome", "diff_measures"]

#: Subjects shown per matter type in the impact sample.
SAMPLE_SIZE = 10

_RUNNER = ReferenceRunner()


@dataclass(frozen=True)
class Impact:
    """One matter type's impact: how many subjects' decision changes, and a masked sample."""

    matter_type: str
    subjects_changed: int
    sample: tuple[dict[str, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"matter_type": self.matter_type, "subjects_changed": self.subjects_changed,
                "sample": list(self.sample)}


@dataclass(frozen=True)
class Diff:
    """The sheet of ``joint-sanctions diff`` (keys of :meth:`as_json` per docs/cli.md)."""

    before_revision: str
    after_revision: str
    day: dt.date
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[dict[str, Any], ...]
    cells: tuple[dict[str, Any], ...]
    impact: tuple[Impact, ...] | None = None
    subjects_screened: int | None = None
    names: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "before_revision": self.before_revision, "after_revision": self.after_revision,
            "day": self.day.isoformat(), "added": list(self.added), "removed": list(self.removed),
            "changed": list(self.changed), "cells": list(self.cells)}
        # null without a store: an empty list would say that no subject is affected
        doc["impact"] = None if self.impact is None else [i.as_json() for i in self.impact]
        doc["subjects_screened"] = self.subjects_screened
        return doc


def _fields(compiled: CompiledMeasures) -> dict[str, dict[str, Any]]:
    return {mid: cm.measure.model_dump(mode="json", exclude={"source"}) for mid, cm in compiled.measures.items()}


def diff_measures(before: CompiledMeasures, after: CompiledMeasures, *, day: dt.date,
                  store: RecordStore | None = None) -> Diff:
    """Compare two revisions: measures, cells and (given ``store``) the subjects whose decision changes."""
    old, new = _fields(before), _fields(after)
    changed = []
    for mid in sorted(old.keys() & new.keys()):
        fields = {name: {"before": old[mid].get(name), "after": new[mid].get(name)}
                  for name in sorted(old[mid].keys() | new[mid].keys()) if old[mid].get(name) != new[mid].get(name)}
        if fields:
            changed.append({"measure_id": mid, "fields": fields})
    cells = []
    for lt in LIST_TYPES:
        for mt in MATTER_TYPES:
            for st in SUBJECT_TYPES:
                was, now = cell_outcome(before, lt, mt, st, day), cell_outcome(after, lt, mt, st, day)
                if was != now:
                    cells.append({"list_type": lt, "matter_type": mt, "subject_type": st,
                                  "before": was, "after": now})
    names = {mid: cm.measure.name for c in (before, after) for mid, cm in c.measures.items()}
    impact, screened = (None, None) if store is None else _impact(before, after, store, day)
    return Diff(before.revision, after.revision, day, tuple(sorted(new.keys() - old.keys())),
                tuple(sorted(old.keys() - new.keys())), tuple(changed), tuple(cells), impact, screened, names)


def _applied_of(compiled: CompiledMeasures, ids: Sequence[str]) -> list[AppliedMeasure]:
    """The applied measures of ``ids`` as a check assembles them (binding per the legality guard)."""
    record = _record("cell", "court_defaulter", dt.date.min)
    by_fact = {"self:cell": (record, SELF)}
    applied, _ = _applied(compiled, [(mid, "self:cell") for mid in ids], by_fact, {})
    return applied


def cell_outcome(compiled: CompiledMeasures, list_type: str, matter_type: str, subject_type: str,
                 day: dt.date) -> dict[str, Any]:
    """The worst-case outcome of one cell: decision, measure ids, binding ids, conditional ids."""
    ids = []
    conditional = []
    for cm in compiled.candidates(list_type, matter_type):
        m = cm.measure
        if (m.valid_from is not None and day < m.valid_from) or (m.valid_to is not None and day >= m.valid_to):
            continue
        if m.subject_types is not None and subject_type not in m.subject_types:
            continue
        ids.append(m.id)
        if m.condition or m.requires_ban or m.requires_overdue:
            conditional.append(m.id)
    applied = _applied_of(compiled, ids)
    return {"decision": _decide(applied), "measure_ids": [a.measure_id for a in applied],
            "binding": [a.measure_id for a in applied if a.binding],
            "conditional": sorted(conditional, key=compiled.position.__getitem__)}


# --- impact over a record store ---------------------------------------------------------------------

_RECORD_FIELDS = ("authority", "document_no", "reason")
_ACTIVE = ("SELECT subject_id, subject_type, list_type, listed_on, expires_on, authority, document_no, reason, "
           "ban_matter_types, ban_until, rectify_by FROM credit_records "
           "WHERE listed_on <= :day AND (expires_on IS NULL OR :day < expires_on) "
           "AND (status = 'active' OR :day < ended_on) ORDER BY subject_id")


def _read_fields(*compiled: CompiledMeasures) -> set[str]:
    """The record text fields some condition of these revisions reads (the others cannot matter)."""
    used: set[str] = set()
    for c in compiled:
        for cm in c.measures.values():
            condition = cm.measure.condition or ""
            used.update(name for name in _RECORD_FIELDS if f"record.{name}" in condition)
    return used


def _subject_rows(store: RecordStore, day: dt.date) -> Iterator[tuple[Any, ...]]:
    sql_store = sql_store_of(store, "diff --db")
    dialect = sql_store.dialect
    with sql_store.reading() as conn:
        cursor = conn.execute(dialect.sql(_ACTIVE), {"day": dialect.day(day)})
        while rows := cursor.fetchmany(10_000):
            yield from rows


def _impact(before: CompiledMeasures, after: CompiledMeasures, store: RecordStore,
            day: dt.date) -> tuple[tuple[Impact, ...], int]:
    read = _read_fields(before, after)
    dialect = sql_store_of(store, "diff --db").dialect
    maxima = [c.list_types.maxima for c in (before, after)]
    # record signature → its number; subject signature → (how many subjects, a few of their ids)
    record_sigs: dict[tuple[Any, ...], int] = {}
    groups: dict[tuple[str, str, frozenset[int]], list[Any]] = {}
    current: str | None = None
    sigs: set[int] = set()
    stype: str | None = None

    def close() -> None:
        if current is None:
            return
        kind = identifiers.parse_identifier(current)[1]
        key = (stype or identifiers.infer_subject_type(current, kind), kind, frozenset(sigs))
        group = groups.setdefault(key, [0, []])
        group[0] += 1
        if len(group[1]) < SAMPLE_SIZE:
            group[1].append(current)

    for (subject_id, subject_type, list_type, listed_on, expires_on, authority, document_no, reason, bans,
         ban_until, rectify_by) in _subject_rows(store, day):
        if subject_id != current:
            close()
            current, sigs, stype = subject_id, set(), None
        stype = stype or subject_type
        ban_until = dialect.read_day(ban_until) if ban_until is not None else None
        counts = tuple(expires_on is not None or (period := m.get(list_type)) is None
                       or day < add_period(dialect.read_day(listed_on), period) for m in maxima)
        sig = (list_type, counts,
               authority if "authority" in read else "", document_no if "document_no" in read else "",
               reason if "reason" in read else "",
               bans if bans and (ban_until is None or day < ban_until) else "",
               rectify_by is not None and dialect.read_day(rectify_by) < day)
        sigs.add(record_sigs.setdefault(sig, len(record_sigs)))
    close()
    by_number = {n: sig for sig, n in record_sigs.items()}
    changed: dict[str, list[Any]] = {mt: [0, []] for mt in MATTER_TYPES}
    screened = 0
    for (subject_type, kind, numbers), (count, sample) in groups.items():
        screened += count
        for mt in MATTER_TYPES:
            was = _decision(before, 0, subject_type, kind, mt, day, [by_number[n] for n in numbers])
            now = _decision(after, 1, subject_type, kind, mt, day, [by_number[n] for n in numbers])
            if was != now:
                entry = changed[mt]
                entry[0] += count
                for sid in sample[:SAMPLE_SIZE - len(entry[1])]:
                    entry[1].append({"subject": identifiers.mask(sid), "subject_type": subject_type,
                                     "before": was, "after": now})
    impact = tuple(Impact(mt, n, tuple(sample)) for mt, (n, sample) in changed.items())
    return impact, screened


def _record(record_id: str, list_type: str, day: dt.date, **fields: Any) -> CreditRecord:
    """A stand-in record holding one record signature (what the rules read of the records behind it)."""
    values: dict[str, Any] = {
        "record_id": record_id, "list_type": list_type, "subject_id": "subject", "subject_name": "",
        "subject_type": None, "authority": "", "document_no": "", "listed_on": day, "expires_on": None,
        "status": "active", "reason": "", "region_code": None, "rectify_by": None, "ban_matter_types": (),
        "ban_item_codes": (), "ban_until": None, "ended_on": None}
    values.update(fields)
    return trusted(CreditRecord, values)


def _decision(compiled: CompiledMeasures, side: int, subject_type: str, kind: str, matter_type: str,
              day: dt.date, record_sigs: Sequence[tuple[Any, ...]]) -> str:
    """The decision a check would give a subject with these record signatures (``side`` 0 = before)."""
    records = []
    for n, (list_type, counts, authority, document_no, reason, bans, overdue) in enumerate(record_sigs):
        if not counts[side]:
            continue  # past its list type's maximum period under this revision's policy
        records.append(_record(str(n), list_type, day, authority=authority, document_no=document_no,
                               reason=reason, ban_matter_types=tuple(bans.split(";")) if bans else (),
                               rectify_by=(day - dt.timedelta(days=1)) if overdue else None))
    if not records:
        return "clear"
    subject = trusted(Subject, {"id": "subject", "id_kind": kind, "name": "", "subject_type": subject_type,
                                "related_parties": ()})
    matter = Matter.model_validate({"matter_type": matter_type})
    facts, by_fact = _facts(subject, subject_type, matter, day, {}, records)
    applied, _ = _applied(compiled, _RUNNER.fire(compiled, matter_type, facts), by_fact, {})
    return _decide(applied)

