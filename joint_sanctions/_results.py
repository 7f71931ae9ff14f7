"""A check's facts and its answer: one fact per record and role for the rule back end, then the
applied measures, hits and decision assembled from what fired."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from itertools import repeat
from typing import Any

from . import _identifiers as identifiers
from ._accel import compiled_applied, compiled_clear, compiled_helper
from ._compile import BANS_MATTER, OVERDUE, SELF, CompiledMeasures, day_number
from ._conditions import fact_key
from ._inputs import _SURROGATE
from ._masking import mask_parsed
from ._models import (
    AppliedMeasure,
    CheckResult,
    CreditRecord,
    Decision,
    Hit,
    Matter,
    RelatedParty,
    Subject,
    SubjectRef,
    ViaRelatedParty,
    model,
    trusted,
)


def _decide(measures: Iterable[AppliedMeasure]) -> Decision:
    """The decision of docs/check-result.md (the legality guard): only a binding punishment restricts or
    prohibits; one that does not bind asks a person to confirm it (``review``), as do strict review and
    reference. Incentives never change the decision."""
    return _decide_fields(m.__dict__ for m in measures)


def _decide_fields(measures: Iterable[Mapping[str, Any]]) -> Decision:
    """:func:`_decide` on the applied measures' fields."""
    decision: Decision = "clear"
    for m in measures:
        if m["kind"] != "punishment":
            continue
        if not m["binding"] or m["effect"] not in ("prohibit", "restrict"):
            if decision == "clear":
                decision = "review"
        elif m["effect"] == "prohibit" and m["mandatory"]:
            return "prohibited"
        else:
            decision = "restricted"
    return decision


_BANS_MATTER, _OVERDUE = fact_key(BANS_MATTER), fact_key(OVERDUE)


def _facts(subj: Subject, subject_type: str, mat: Matter, day: dt.date,
           parties: Mapping[str, RelatedParty], records: Sequence[CreditRecord],
           ) -> tuple[list[dict[str, Any]], dict[str, tuple[CreditRecord, str]]]:
    """One flat fact per record and role; fact ids are unique within the check (durable needs that)."""
    matter_type, item_code = mat.matter_type, mat.item_code
    base: dict[str, Any] = {
        "matter__matter_type": matter_type,
        "subject__subject_type": subject_type,
        "subject__id_kind": subj.id_kind,
        "check__day": day_number(day),
        "matter__organizer": mat.organizer,
    }
    if item_code is not None:
        base["matter__item_code"] = item_code
    if mat.region_code is not None:
        base["matter__region_code"] = mat.region_code
    if mat.department_code is not None:
        base["matter__department_code"] = mat.department_code
    if mat.amount is not None:
        # Compared to the fen: a rounded amount is never written in exponent notation (0.00001 is
        # '1e-05'), which durable_rules cannot read (error 204); both back ends see this value.
        base["matter__amount"] = round(float(mat.amount), 2)
    return record_facts(base, subj.id, parties, records, matter_type, item_code, day)


Facts = tuple[list[dict[str, Any]], dict[str, tuple[CreditRecord, str]]]


def record_facts_py(base: dict[str, Any], subject_id: str, parties: Mapping[str, RelatedParty],
                    records: Sequence[CreditRecord], matter_type: str, item_code: str | None, day: dt.date) -> Facts:
    """:func:`_facts` from its ``base`` (what every fact of the check shows alike): per record and role,
    the fact (base's items, then the record's) and, by fact id, the record and role."""
    facts: list[dict[str, Any]] = []
    by_fact: dict[str, tuple[CreditRecord, str]] = {}
    for r in records:
        roles = [SELF] if r.subject_id == subject_id else []
        if r.subject_id in parties:
            roles.append(parties[r.subject_id].role)
        # measure_lists/README.md: the record's own ban covers this matter (its type or its item code) before
        # ban_until; its rectification deadline lies before the check day (the record is active).
        bans = bool(r.ban_matter_types or r.ban_item_codes) and (
            matter_type in r.ban_matter_types or (item_code is not None and item_code in r.ban_item_codes)) and (
            r.ban_until is None or day < r.ban_until)
        overdue = r.rectify_by is not None and r.rectify_by < day
        authority, document_no, reason = r.authority, r.document_no, r.reason
        # One search over the three texts (a record's text fields are text): a surrogate is rare.
        if _SURROGATE.search(authority + document_no + reason):
            authority, document_no, reason = _utf8(authority), _utf8(document_no), _utf8(reason)
        for role in roles:
            fact_id = f"{role}:{r.record_id}"
            by_fact[fact_id] = (r, role)
            facts.append({**base, "id": fact_id, "party__role": role, "record__list_type": r.list_type,
                          "record__authority": authority, "record__document_no": document_no,
                          "record__reason": reason, _BANS_MATTER: bans, _OVERDUE: overdue})
    return facts, by_fact


def _utf8(text: str) -> str:
    """Text as durable_rules can take it: an unpaired surrogate (which no UTF-8 store keeps, but an
    in-memory one may) becomes U+FFFD, for both rule back ends alike, rather than failing the check."""
    return _SURROGATE.sub("\ufffd", text)


#: :func:`record_facts_py`, compiled where the package was built with a C compiler (_accel).
record_facts: Callable[..., Facts] = compiled_helper(
    "hit_facts", "setup_hits", ("id", "party__role", "record__list_type", "record__authority", "record__document_no",
                                "record__reason", _BANS_MATTER, _OVERDUE), SELF, _utf8) or record_facts_py


def _applied(compiled: CompiledMeasures, firings: Iterable[tuple[str, str]],
             by_fact: Mapping[str, tuple[CreditRecord, str]], parties: Mapping[str, RelatedParty],
             ) -> tuple[list[AppliedMeasure], list[CreditRecord]]:
    """Group firings by measure, in measure-list order; note the related parties that caused one."""
    applied, party_records, _ = Assembly(compiled).assemble([(fid, (mid,)) for mid, fid in firings], by_fact, parties)
    return applied, party_records


# One shared fields set, as trusted() gives every AppliedMeasure (model_copy copies it before a change).
_APPLIED_FIELDS = set(AppliedMeasure.model_fields)
#: Answers (one fact's measure ids) whose order and decision are kept, per revision: the memo bounds
#: how many distinct answers there are; this bounds what a back end without memo can add.
_MAX_ORDERS = 1 << 12


class Assembly:
    """The applied measures of checks against one compiled revision, from parts built once.

    Per measure, the fields every check shows alike (name, kind, legal basis, binding) are prebuilt
    in two dicts — beside a punishment or not, which decides an incentive's ``binding`` — and a
    check copies one and adds what is its own (record ids, the related party). Per answer of the
    memo (the measure ids one fact fires), the measures' list order and the decision they make are
    kept. The parts are never handed out: each result gets its own dict, so no result shares
    mutable state with another. A reload makes a new revision, whose engine builds a new Assembly.
    """

    def __init__(self, compiled: CompiledMeasures) -> None:
        self.compiled = compiled
        self._parts: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._orders: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[dict[str, Any], ...], Decision]] = {}
        self._plans: dict[tuple[tuple[tuple[str, ...], int, bool], ...], _Plan] = {}

    def _part(self, mid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        part = self._parts.get(mid)
        if part is None:
            given = self.compiled.measures[mid].applied_fields
            # In the model's field order, as validation would build them.
            alone = {name: given.get(name) for name in AppliedMeasure.model_fields}
            # The legality guard (docs/check-result.md): a punishment binds iff its basis is confirmed;
            # any punishment, binding or not, suspends the incentives: never granted beside one.
            punishment = alone["kind"] == "punishment"
            alone["binding"] = alone["basis_status"] == "confirmed" if punishment else True
            beside = {**alone, "binding": alone["binding"] if punishment else False}
            part = self._parts[mid] = (alone, beside)
        return part

    def _order(self, mids: Iterable[str]) -> tuple[tuple[str, ...], tuple[dict[str, Any], ...], Decision]:
        """Distinct ``mids`` in measure-list order, their parts as the check shows them (beside a
        punishment when one of them is one), and their decision."""
        ordered = tuple(sorted(set(mids), key=self.compiled.position.__getitem__))
        parts = [self._part(mid) for mid in ordered]
        which = 1 if any(alone["kind"] == "punishment" for alone, _ in parts) else 0
        return ordered, tuple(part[which] for part in parts), _decide_fields(alone for alone, _ in parts)

    def assemble(self, groups: Sequence[tuple[str, Sequence[str]]], by_fact: Mapping[str, tuple[CreditRecord, str]],
                 parties: Mapping[str, RelatedParty]) -> tuple[list[AppliedMeasure], list[CreditRecord], Decision]:
        """The applied measures, the related parties' records that caused one, and the decision, from
        ``groups``: (fact id, the measure ids that fired on it), in firing order (the first related
        party named for a measure is the first whose fact fired it)."""
        fired = [g for g in groups if g[1]]
        if not fired:
            return [], [], "clear"
        rows: Iterable[tuple[dict[str, Any], _Cause]]
        if len(fired) == 1:  # the commonest hit: one record, one role
            fact_id, answer = fired[0]
            record, role = by_fact[fact_id]
            key = answer if type(answer) is tuple else tuple(answer)
            known = self._orders.get(key)
            if known is None:
                known = self._order(key)
                if len(self._orders) < _MAX_ORDERS:
                    self._orders[key] = known
            _, parts, decision = known
            party_records = [] if role == SELF else [record]
            # zip reuses its one tuple while the loop below drops each row: no row object per measure.
            rows = zip(parts, repeat(((record.record_id,), None if role == SELF else _via(parties[record.subject_id]))))
        else:
            rows, party_records, decision = self._planned(fired, by_fact, parties)
        return _applied_measures(rows, AppliedMeasure, _APPLIED_FIELDS), party_records, decision

    def _planned(self, fired: Sequence[tuple[str, Sequence[str]]], by_fact: Mapping[str, tuple[CreditRecord, str]],
                 parties: Mapping[str, RelatedParty],
                 ) -> tuple[Iterable[tuple[dict[str, Any], _Cause]], list[CreditRecord], Decision]:
        """:meth:`assemble`'s rows when several facts fired. What the answer looks like depends only on
        each fact's answer, which of the check's records it is and whether it is the subject's own:
        that plan is made once per shape, and a check fills in the record ids and related parties of
        its few distinct causes, which its measures then point to."""
        records: list[CreditRecord] = []
        index: dict[str, int] = {}
        shape: list[tuple[tuple[str, ...], int, bool]] = []
        by_party: dict[str, CreditRecord] = {}
        for fact_id, answer in fired:
            record, role = by_fact[fact_id]
            i = index.get(record.record_id)
            if i is None:
                i = index[record.record_id] = len(records)
                records.append(record)
            if role != SELF:
                by_party[record.record_id] = record
            shape.append((answer if type(answer) is tuple else tuple(answer), i, role == SELF))
        key_shape = tuple(shape)
        plan = self._plans.get(key_shape)
        if plan is None:
            plan = self._plan(key_shape)
            if len(self._plans) < _MAX_ORDERS:
                self._plans[key_shape] = plan
        parts, cause_of, causes, decision = plan
        vias: dict[int, ViaRelatedParty] = {}
        filled: list[_Cause] = []
        for which, via_fact in causes:
            via = None
            if via_fact >= 0:  # caused by related parties alone: the first whose fact fired it
                via = vias.get(via_fact)
                if via is None:
                    via = vias[via_fact] = _via(parties[records[shape[via_fact][1]].subject_id])
            filled.append((tuple(sorted([records[i].record_id for i in which])), via))
        return zip(parts, map(filled.__getitem__, cause_of)), list(by_party.values()), decision

    def _plan(self, shape: tuple[tuple[tuple[str, ...], int, bool], ...]) -> _Plan:
        """For facts fired as ``shape`` says (each fact's answer, its record's index among the check's
        records, whether it is the subject's own): the applied measures' parts in list order, for each
        the index of its cause, the distinct causes (the indexes of the records that caused a measure,
        and the fact whose related party it names, -1 for none, as the subject's own record is reason
        enough), and the decision."""
        facts_of: dict[str, list[int]] = {}
        for j, (answer, _, _) in enumerate(shape):
            for mid in answer:
                facts_of.setdefault(mid, []).append(j)
        ordered, parts, decision = self._order(facts_of)
        causes: dict[tuple[tuple[int, ...], int], int] = {}
        cause_of = tuple(causes.setdefault(
            (tuple(sorted({shape[j][1] for j in facts_of[mid]})),
             -1 if any(shape[j][2] for j in facts_of[mid]) else facts_of[mid][0]), len(causes))
            for mid in ordered)
        return parts, cause_of, tuple(causes), decision


#: A plan: the measures' prebuilt parts, the index of each one's cause, the causes (record indexes, the
#: fact naming the related party or -1), the decision.
_Plan = tuple[tuple[dict[str, Any], ...], tuple[int, ...], tuple[tuple[tuple[int, ...], int], ...], Decision]
#: What a check fills in for a cause: the record ids, the related party named or None.
_Cause = tuple[tuple[str, ...], ViaRelatedParty | None]


def _applied_measures_py(rows: Iterable[tuple[dict[str, Any], tuple[tuple[str, ...], ViaRelatedParty | None]]],
                         cls: type[AppliedMeasure], fields_set: set[str]) -> list[AppliedMeasure]:
    """Per row, the measure's prebuilt fields copied (each result owns its dict) with the check's own
    record ids and related party (the parts hold None), built as trusted() builds it: ~30 per hit."""
    applied: list[AppliedMeasure] = []
    add = applied.append
    for fields, (record_ids, via) in rows:
        values = fields.copy()
        values["record_ids"] = record_ids
        if via is not None:
            values["via_related_party"] = via
        add(model(cls, values, fields_set))
    return applied


#: :func:`_applied_measures_py`, compiled where the package was built with a C compiler (_accel).
_applied_measures: Callable[..., list[AppliedMeasure]] = compiled_applied() or _applied_measures_py


def _via(party: RelatedParty) -> ViaRelatedParty:
    return trusted(ViaRelatedParty, {"role": party.role, "id": mask_parsed(party.id, party.id_kind),
                                     "name": identifiers.mask_text(party.name)})


def _subject_ref(subject_id: str, kind: str, name: str, subject_type: str) -> SubjectRef:
    """The subject as a result shows it: ids but a USCC masked; a name masked too (free text may hold an
    id: 王某某（身份证…）), and a check without a name skips that."""
    return trusted(SubjectRef, {"id": subject_id if kind == "uscc" else mask_parsed(subject_id, kind),
                                "id_kind": kind, "name": identifiers.mask_text(name) if name else name,
                                "subject_type": subject_type})


def _hit(r: CreditRecord, shown_id: str) -> Hit:
    """A hit of record ``r``, whose subject id results show as ``shown_id`` (masked if need be)."""
    return trusted(Hit, {"record_id": r.record_id, "list_type": r.list_type, "authority": r.authority,
                         "document_no": r.document_no, "listed_on": r.listed_on, "expires_on": r.expires_on,
                         "subject_id": shown_id})


_REF_FIELDS = set(SubjectRef.model_fields)
_RESULT_FIELDS = set(CheckResult.model_fields)


class ClearResults:
    """The ``clear`` results of one engine (the no-hit path: ~98 % of checks), built without validation.

    What every clear result of a revision and a store state shows alike (revision, decision, no
    measures and no hits, ``data_as_of``) sits in a template dict in the model's field order; a check
    copies it (a dict copy costs less than half a 12-key literal) and sets its own check id, time,
    subject and matter. Each result owns its dict: the template is never handed out, and what results
    share are immutable values (and ``data_as_of``, which results of one engine share by contract).
    """

    __slots__ = ("_new_id", "_template", "build", "build_many")

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._template: tuple[object, object, dict[str, Any]] = (None, None, {})
        # _build and _build_many, compiled where the package was built with a C compiler (_accel).
        self.build: Callable[[CompiledMeasures, dict[str, dt.datetime], str, str, str, str | None, Matter,
                              dt.datetime], CheckResult]
        self.build_many: Callable[[CompiledMeasures, dict[str, dt.datetime], list[Any], list[str], Matter,
                                   dt.datetime], list[CheckResult]]
        if _COMPILED_CLEAR is None:
            self.build, self.build_many = self._build, self._build_many
        else:
            self.build, self.build_many = (partial(_COMPILED_CLEAR[0], self), partial(_COMPILED_CLEAR[1], self))

    def _rebuilt(self, compiled: CompiledMeasures, data_as_of: dict[str, dt.datetime]) -> dict[str, Any]:
        values = {"check_id": "", "checked_at": None, "revision": compiled.revision, "subject": None,
                  "matter_type": None, "decision": "clear", "measures": (), "data_as_of": data_as_of,
                  "case_id": None, "hits": (), "matter": None}
        self._template = (compiled, data_as_of, values)  # one assignment: a thread sees old or new
        return values

    def _build_many(self, compiled: CompiledMeasures, data_as_of: dict[str, dt.datetime], subject_ids: list[Any],
                    kinds: list[str], mat: Matter, when: dt.datetime) -> list[CheckResult]:
        """The clear results of bare ids (normalised, of those kinds: no name, no subject type), in order."""
        return [self._build(compiled, data_as_of, subject_id, kind, "", None, mat, when)
                for subject_id, kind in zip(subject_ids, kinds, strict=True)]

    def _build(self, compiled: CompiledMeasures, data_as_of: dict[str, dt.datetime], subject_id: str, kind: str,
               name: str, subject_type: str | None, mat: Matter, when: dt.datetime) -> CheckResult:
        """The clear result for a subject (a normalised id of ``kind``) with no active record."""
        if kind == "uscc":  # identifiers.infer_subject_type, inlined for the commonest id
            shown = subject_id
            inferred = ("government_body" if subject_id[0] == "1" else
                        "individual_business" if subject_id[:2] == "92" else "legal_person")
        else:
            shown, inferred = mask_parsed(subject_id, kind), "natural_person"
        template = self._template
        values = (template[2] if template[0] is compiled and template[1] is data_as_of
                  else self._rebuilt(compiled, data_as_of)).copy()
        ref = model(SubjectRef, {"id": shown, "id_kind": kind, "name": identifiers.mask_text(name) if name else name,
                                 "subject_type": subject_type or inferred}, _REF_FIELDS)
        values["check_id"] = self._new_id()
        values["checked_at"] = when
        values["subject"] = ref
        values["matter_type"] = mat.matter_type
        values["matter"] = mat
        return model(CheckResult, values, _RESULT_FIELDS)


# ClearResults.build in C where possible: the same models, built as _models.trusted builds them.
_COMPILED_CLEAR = compiled_clear(CheckResult, SubjectRef, _RESULT_FIELDS, _REF_FIELDS, mask_parsed,
                                 identifiers.mask_text)
