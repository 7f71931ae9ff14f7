"""A check's facts and its answer: one fact per record and role for the rule back end, then the
applied measures, hits and decision assembled from what fired."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import _identifiers as identifiers
from ._compile import BANS_MATTER, OVERDUE, SELF, CompiledMeasures, day_number
from ._conditions import fact_key
from ._inputs import _SURROGATE
from ._models import (
    AppliedMeasure,
    CreditRecord,
    Decision,
    Hit,
    Matter,
    RelatedParty,
    Subject,
    ViaRelatedParty,
    trusted,
)


def _decide(measures: Iterable[AppliedMeasure]) -> Decision:
    """The decision of docs/check-result.md (the legality guard): only a binding punishment restricts or
    prohibits; one that does not bind asks a person to confirm it (``review``), as do strict review and
    reference. Incentives never change the decision."""
    decision: Decision = "clear"
    for m in measures:
        if m.kind != "punishment":
            continue
        if not m.binding or m.effect not in ("prohibit", "restrict"):
            if decision == "clear":
                decision = "review"
        elif m.effect == "prohibit" and m.mandatory:
            return "prohibited"
        else:
            decision = "restricted"
    return decision


_BANS_MATTER, _OVERDUE = fact_key(BANS_MATTER), fact_key(OVERDUE)


def _facts(subj: Subject, subject_type: str, mat: Matter, day: dt.date,
           parties: Mapping[str, RelatedParty], records: Sequence[CreditRecord],
           ) -> tuple[list[dict[str, Any]], dict[str, tuple[CreditRecord, str]]]:
    """One flat fact per record and role; fact ids are unique within the check (durable needs that)."""
    base: dict[str, Any] = {
        "matter__matter_type": mat.matter_type,
        "subject__subject_type": subject_type,
        "subject__id_kind": subj.id_kind,
        "check__day": day_number(day),
        "matter__organizer": mat.organizer,
    }
    for key in ("item_code", "region_code", "department_code"):
        value = getattr(mat, key)
        if value is not None:
            base[f"matter__{key}"] = value
    if mat.amount is not None:
        # Compared to the fen: a rounded amount is never written in exponent notation (0.00001 is
        # '1e-05'), which durable_rules cannot read (error 204); both back ends see this value.
        base["matter__amount"] = round(float(mat.amount), 2)
    facts: list[dict[str, Any]] = []
    by_fact: dict[str, tuple[CreditRecord, str]] = {}
    matter_type, item_code = mat.matter_type, mat.item_code
    for r in records:
        roles = [SELF] if r.subject_id == subj.id else []
        if r.subject_id in parties:
            roles.append(parties[r.subject_id].role)
        # measure_lists/README.md: the record's own ban covers this matter (its type or its item code) before
        # ban_until; its rectification deadline lies before the check day (the record is active).
        bans = bool(r.ban_matter_types or r.ban_item_codes) and (
            matter_type in r.ban_matter_types or (item_code is not None and item_code in r.ban_item_codes)) and (
            r.ban_until is None or day < r.ban_until)
        overdue = r.rectify_by is not None and r.rectify_by < day
        for role in roles:
            fact_id = f"{role}:{r.record_id}"
            by_fact[fact_id] = (r, role)
            facts.append({**base, "id": fact_id, "party__role": role, "record__list_type": r.list_type,
                          "record__authority": _utf8(r.authority), "record__document_no": _utf8(r.document_no),
                          "record__reason": _utf8(r.reason), _BANS_MATTER: bans, _OVERDUE: overdue})
    return facts, by_fact


def _utf8(text: str | None) -> str | None:
    """Text as durable_rules can take it: an unpaired surrogate (which no UTF-8 store keeps, but an
    in-memory one may) becomes U+FFFD, for both rule back ends alike, rather than failing the check."""
    if text is None or text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


def _applied(compiled: CompiledMeasures, firings: Iterable[tuple[str, str]],
             by_fact: Mapping[str, tuple[CreditRecord, str]], parties: Mapping[str, RelatedParty],
             ) -> tuple[list[AppliedMeasure], list[CreditRecord]]:
    """Group firings by measure, in measure-list order; note the related parties that caused one."""
    record_ids: dict[str, set[str]] = {}
    via: dict[str, ViaRelatedParty | None] = {}
    party_records: dict[str, CreditRecord] = {}
    for measure_id, fact_id in firings:
        record, role = by_fact[fact_id]
        record_ids.setdefault(measure_id, set()).add(record.record_id)
        if role == SELF:
            via[measure_id] = None  # the subject's own record is reason enough
            continue
        party_records[record.record_id] = record
        if measure_id not in via:
            party = parties[record.subject_id]
            via[measure_id] = trusted(ViaRelatedParty, {"role": party.role, "id": identifiers.mask(party.id),
                                                        "name": identifiers.mask_text(party.name)})
    measures = compiled.measures
    rows = []
    punished = False
    for mid in sorted(record_ids, key=compiled.position.__getitem__):
        fields = measures[mid].applied_fields.copy()  # a dict copy: ~5× cheaper than {**proxy}
        # The legality guard (docs/check-result.md): a punishment binds iff its basis is confirmed.
        if fields["kind"] == "punishment":
            fields["binding"] = fields["basis_status"] == "confirmed"
            punished = True
        else:
            fields["binding"] = True
        fields["record_ids"] = tuple(sorted(record_ids[mid]))
        fields["via_related_party"] = via[mid]
        rows.append(fields)
    if punished:  # any punishment, binding or not, suspends the incentives: never granted beside one
        for fields in rows:
            if fields["kind"] != "punishment":
                fields["binding"] = False
    return [trusted(AppliedMeasure, fields) for fields in rows], list(party_records.values())


def _hit(r: CreditRecord) -> Hit:
    return trusted(Hit, {"record_id": r.record_id, "list_type": r.list_type, "authority": r.authority,
                         "document_no": r.document_no, "listed_on": r.listed_on, "expires_on": r.expires_on,
                         "subject_id": identifiers.mask(r.subject_id)})
