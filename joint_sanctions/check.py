"""Checking subjects: ``Engine.check(subject, matter)`` and the module-level :func:`check`.

A check finds the subject's (and its related parties') records active on the check date with one
indexed store lookup. With no such record it returns ``clear`` at once; the rule engine is never
touched. Otherwise each record becomes a fact, the rule back end says which measures fire on which
fact, and the result is assembled: measures with legal basis, hits, and the decision.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog

from . import identifiers
from .compile import SELF, CompiledMeasures, compile_measures, day_number
from .errors import CheckError, IdentifierError
from .load import load_measure_lists, shipped_measures_dir
from .models import (
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
)
from .rules import RuleRunner, make_runner
from .stores import RecordStore, open_store
from .vocabulary import MATTER_TYPES

log = structlog.get_logger("joint_sanctions")

#: China Standard Time: the check date is taken here unless the engine is told otherwise.
CST = dt.timezone(dt.timedelta(hours=8), "CST")

SubjectLike = Subject | Mapping[str, Any] | str
MatterLike = Matter | Mapping[str, Any] | str
MeasuresLike = CompiledMeasures | str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_id() -> str:
    return uuid.uuid4().hex


def compile_paths(paths: MeasuresLike) -> CompiledMeasures:
    """Load and compile measure lists from files/directories (default: the shipped lists)."""
    if isinstance(paths, CompiledMeasures):
        return paths
    if paths is None:
        paths = [shipped_measures_dir()]
    elif isinstance(paths, str | os.PathLike):
        paths = [paths]
    return compile_measures(load_measure_lists(paths))


def _decide(measures: Iterable[AppliedMeasure]) -> Decision:
    decision: Decision = "clear"
    for m in measures:
        if m.kind != "punishment":
            continue
        if m.effect == "prohibit" and m.mandatory:
            return "prohibited"
        if m.effect in ("prohibit", "restrict"):
            decision = "restricted"
        elif decision == "clear":
            decision = "review"
    return decision


def coerce_subject(subject: SubjectLike) -> Subject:
    """A :class:`Subject` from a model, a mapping or a bare id; invalid ids → ``CheckError``."""
    if isinstance(subject, Subject):
        return subject
    try:
        if isinstance(subject, str):
            norm, kind = identifiers.parse_identifier(subject)
            return Subject.model_validate({"id": norm, "id_kind": kind})
        if not isinstance(subject, Mapping) or "id" not in subject:
            raise CheckError("invalid_subject", "a subject needs an 'id' / 主体缺少标识 id")
        identifiers.parse_identifier(str(subject["id"]))  # typed error before pydantic wraps it
        for party in subject.get("related_parties") or ():
            identifiers.parse_identifier(str(party.get("id", "")))
        return Subject.model_validate(dict(subject))
    except IdentifierError as exc:
        raise CheckError("invalid_subject", str(exc)) from exc
    except ValueError as exc:  # pydantic ValidationError: inputs are hidden, messages are safe
        raise CheckError("invalid_subject", identifiers.mask_text(str(exc))) from exc


def coerce_matter(matter: MatterLike, extra: Mapping[str, Any]) -> Matter:
    """A :class:`Matter` from a model, a mapping or a matter-type id, plus host-known fields."""
    data: dict[str, Any]
    if isinstance(matter, Matter):
        data = matter.model_dump(exclude_none=True)
    elif isinstance(matter, str):
        data = {"matter_type": matter}
    else:
        data = dict(matter)
    data.update({k: v for k, v in extra.items() if v is not None})
    matter_type = data.get("matter_type")
    if matter_type not in MATTER_TYPES:
        known = ", ".join(MATTER_TYPES)
        raise CheckError("unknown_matter_type",
                         f"unknown matter type {matter_type!r} (known: {known}) / 未知事项类型 {matter_type!r}")
    try:
        return Matter.model_validate(data)
    except ValueError as exc:
        raise CheckError("invalid_matter", str(exc)) from exc


class Engine:
    """Compiled measure lists + a record store: answers checks.

    Args:
        measures: compiled measures, or measure-list files/directories; ``None`` = the shipped lists.
            Given paths *replace* the shipped lists.
        store: a :class:`RecordStore` or a database URL; ``None`` = ``JOINT_SANCTIONS_DB`` or the
            default SQLite file.
        rules: ``auto`` (durable_rules if it imports, else the reference evaluator), ``durable`` or
            ``reference``.
        clock: returns the current time (aware); injectable for reproducible tests.
        new_id: returns fresh ids for checks; injectable likewise.
        tz: the time zone in which the check date is taken (default China Standard Time).
    """

    def __init__(self, measures: MeasuresLike = None, store: RecordStore | str | None = None, *,
                 rules: str = "auto", clock: Callable[[], dt.datetime] = _utc_now,
                 new_id: Callable[[], str] = _new_id, tz: dt.tzinfo = CST) -> None:
        self._compiled = compile_paths(measures)
        self.store: RecordStore = store if store is not None and not isinstance(store, str) else open_store(store)
        self._runner: RuleRunner = make_runner(rules)
        self._clock = clock
        self._new_id = new_id
        self._tz = tz

    @property
    def compiled(self) -> CompiledMeasures:
        """The compiled measures serving checks now."""
        return self._compiled

    @property
    def revision(self) -> str:
        """Revision (content hash) of the measure lists serving checks now."""
        return self._compiled.revision

    @property
    def rules_backend(self) -> str:
        """``durable`` or ``reference``."""
        return self._runner.name

    def _check_time(self, at: dt.date | dt.datetime | None) -> tuple[dt.datetime, dt.date]:
        if at is None:
            now = self._clock()
        elif isinstance(at, dt.datetime):
            now = at if at.tzinfo is not None else at.replace(tzinfo=self._tz)
        else:
            now = dt.datetime.combine(at, dt.time(), self._tz)
        return now, now.astimezone(self._tz).date()

    def check(self, subject: SubjectLike, matter: MatterLike, *, at: dt.date | dt.datetime | None = None,
              **matter_fields: Any) -> CheckResult:
        """Check one subject for one matter.

        Args:
            subject: a :class:`Subject`, a mapping (``id``, ``name``, ``subject_type``,
                ``related_parties``) or a bare USCC / resident id.
            matter: a matter-type id (design.md §3), a :class:`Matter` or a mapping.
            at: check time (date or datetime); default now. It decides record activity and
                measure validity.
            **matter_fields: what the host knows of the matter: ``item_code``, ``application_no``,
                ``department``, ``department_code``, ``region_code``, ``amount``.

        Raises:
            CheckError: unknown matter type (``code`` unknown_matter_type) or invalid subject
                (``code`` invalid_subject).
        """
        started = time.perf_counter()
        subj = coerce_subject(subject)
        mat = coerce_matter(matter, matter_fields)
        when, day = self._check_time(at)
        compiled = self._compiled  # one revision for the whole check, even across a reload
        parties = {p.id: p for p in subj.related_parties}
        records = self.store.active_records([subj.id, *parties], day)
        result = self._evaluate(compiled, subj, mat, when, day, parties, records)
        log.info("check", check_id=result.check_id, revision=result.revision,
                 subject=identifiers.mask(subj.id), matter_type=mat.matter_type, decision=result.decision,
                 measure_ids=[m.measure_id for m in result.measures],
                 duration_ms=round((time.perf_counter() - started) * 1000, 3))
        return result

    def check_many(self, subjects: Iterable[SubjectLike], matter: MatterLike, *,
                   at: dt.date | dt.datetime | None = None, **matter_fields: Any) -> list[CheckResult]:
        """Check many subjects for the same matter; results in input order."""
        return [self.check(s, matter, at=at, **matter_fields) for s in subjects]

    def _evaluate(self, compiled: CompiledMeasures, subj: Subject, mat: Matter, when: dt.datetime,
                  day: dt.date, parties: Mapping[str, RelatedParty],
                  records: Sequence[CreditRecord]) -> CheckResult:
        own = [r for r in records if r.subject_id == subj.id]
        subject_type = (subj.subject_type
                        or next((r.subject_type for r in own if r.subject_type), None)
                        or identifiers.infer_subject_type(subj.id, subj.id_kind))
        applied: list[AppliedMeasure] = []
        used_party_records: list[CreditRecord] = []
        if records:
            facts, by_fact = _facts(subj, subject_type, mat, day, parties, records)
            if any(compiled.candidates(f["record__list_type"], mat.matter_type) for f in facts):
                firings = self._runner.fire(compiled, mat.matter_type, facts)
                applied, used_party_records = _applied(compiled, firings, by_fact, parties, subj.id)
        hits = tuple(_hit(r) for r in own) + tuple(_hit(r) for r in used_party_records)
        return CheckResult(
            check_id=self._new_id(),
            checked_at=when,
            revision=compiled.revision,
            subject=SubjectRef(id=identifiers.mask(subj.id) if subj.id_kind == "resident_id" else subj.id,
                               id_kind=subj.id_kind, name=subj.name, subject_type=subject_type),
            matter_type=mat.matter_type,
            decision=_decide(applied),
            measures=tuple(applied),
            hits=hits,
            matter=mat,
        )


def _facts(subj: Subject, subject_type: str, mat: Matter, day: dt.date,
           parties: Mapping[str, RelatedParty], records: Sequence[CreditRecord],
           ) -> tuple[list[dict[str, Any]], dict[str, tuple[CreditRecord, str]]]:
    """One flat fact per record; fact ids are unique within the check (durable_rules needs that)."""
    base: dict[str, Any] = {
        "matter__matter_type": mat.matter_type,
        "subject__subject_type": subject_type,
        "subject__id_kind": subj.id_kind,
        "check__day": day_number(day),
    }
    for key in ("item_code", "region_code", "department_code"):
        value = getattr(mat, key)
        if value is not None:
            base[f"matter__{key}"] = value
    if mat.amount is not None:
        base["matter__amount"] = float(mat.amount)
    facts: list[dict[str, Any]] = []
    by_fact: dict[str, tuple[CreditRecord, str]] = {}
    for r in records:
        roles = [SELF] if r.subject_id == subj.id else []
        if r.subject_id in parties:
            roles.append(parties[r.subject_id].role)
        for role in roles:
            fact_id = f"{role}:{r.record_id}"
            by_fact[fact_id] = (r, role)
            facts.append({**base, "id": fact_id, "party__role": role, "record__list_type": r.list_type,
                          "record__authority": r.authority, "record__document_no": r.document_no,
                          "record__reason": r.reason})
    return facts, by_fact


def _applied(compiled: CompiledMeasures, firings: Iterable[tuple[str, str]],
             by_fact: Mapping[str, tuple[CreditRecord, str]], parties: Mapping[str, RelatedParty],
             subject_id: str) -> tuple[list[AppliedMeasure], list[CreditRecord]]:
    """Group firings by measure, in measure-list order; note the related parties that caused one."""
    record_ids: dict[str, list[str]] = {}
    via: dict[str, ViaRelatedParty | None] = {}
    party_records: dict[str, CreditRecord] = {}
    for measure_id, fact_id in firings:
        record, role = by_fact[fact_id]
        ids = record_ids.setdefault(measure_id, [])
        if record.record_id not in ids:
            ids.append(record.record_id)
        if role == SELF:
            via[measure_id] = None  # the subject's own record is reason enough
        else:
            party_records[record.record_id] = record
            if measure_id not in via:
                party = parties[record.subject_id]
                via[measure_id] = ViaRelatedParty(role=party.role, id=identifiers.mask(party.id),
                                                  name=party.name)
    applied = []
    for measure_id, cm in compiled.measures.items():
        if measure_id not in record_ids:
            continue
        m = cm.measure
        applied.append(AppliedMeasure(
            measure_id=m.id, name=m.name, kind=m.kind, effect=m.effect, mandatory=m.mandatory,
            legal_basis=m.legal_basis, basis_status=m.basis_status,
            record_ids=tuple(sorted(record_ids[measure_id])), via_related_party=via[measure_id],
            implementing_departments=m.implementing_departments, tags=m.tags,
        ))
    used = [r for r in party_records.values() if r.subject_id != subject_id]
    return applied, used


def _hit(r: CreditRecord) -> Hit:
    return Hit(record_id=r.record_id, list_type=r.list_type, authority=r.authority, document_no=r.document_no,
               listed_on=r.listed_on, expires_on=r.expires_on, subject_id=identifiers.mask(r.subject_id))


_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The engine behind :func:`check`: shipped lists and the default database, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


def check(subject: SubjectLike, matter_type: MatterLike, *, at: dt.date | dt.datetime | None = None,
          **matter_fields: Any) -> CheckResult:
    """Check ``subject`` for ``matter_type`` with the default engine (see :meth:`Engine.check`)."""
    return default_engine().check(subject, matter_type, at=at, **matter_fields)

