"""Why a check came out as it did: ``Engine.explain(subject, matter)`` (and ``check --explain``).

A separate path beside the check, never on it: the engine builds the same facts it checks with,
and here every measure indexed for those facts' (list type, matter type) is tried part by part —
validity dates, the party clause (subject type or related-party role), condition, ban, overdue —
each part being an item of the measure's compiled residual rule, judged by the reference evaluator
(:func:`~joint_sanctions._conditions.evaluator`). So a measure is explained as applied exactly when
its rule holds on some fact, and the wording never re-implements the condition language: it only
reads the parsed condition tree to show the values a failing comparison saw.

Every text is given in Chinese and in English; free text from records and matters is masked
(:func:`~joint_sanctions._identifiers.mask_text`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel

from . import _identifiers as identifiers
from ._base import FROZEN
from ._compile import BANS_MATTER, OVERDUE, SELF, CompiledMeasure, CompiledMeasures
from ._conditions import _NEGATE, And, AnyOf, Compare, Expr, Or, evaluator, fact_key
from ._models import CheckResult, CreditRecord, Effect, Kind, ListType, Matter, RelatedParty, Subject
from ._results import _facts

__all__ = ["Explanation", "MeasureExplanation", "RuleTrial", "explain_check"]

#: The parts of a measure's rule, in the order an explanation names the first that failed.
Part = Literal["valid_from", "valid_to", "subject_type", "related_party_role", "condition", "ban", "overdue"]
_ORDER: dict[str, int] = {"valid_from": 0, "valid_to": 1, "party": 2, "condition": 3, "ban": 4, "overdue": 5}


class RuleTrial(BaseModel):
    """A measure's rule tried on one active record (in one role): the first part that failed, if any."""

    model_config = FROZEN

    record_id: str
    list_type: ListType
    #: ``self`` for the subject's own record, else the related party's role.
    role: str
    #: Whose record it is (resident ids masked).
    subject_id: str
    #: ``None`` when every part held (the measure applies through this record).
    failed: Part | None
    reason_zh: str
    reason_en: str


class MeasureExplanation(BaseModel):
    """One measure indexed for an active record's list type and this matter: applied or not, and why."""

    model_config = FROZEN

    measure_id: str
    name: str
    kind: Kind
    effect: Effect
    mandatory: bool
    applied: bool
    #: The legality guard of an applied measure (None when it did not apply).
    binding: bool | None
    guard_zh: str | None
    guard_en: str | None
    #: The first failing part on the first record tried (None when applied).
    failed: Part | None
    trials: tuple[RuleTrial, ...]


class Explanation(BaseModel):
    """The check's result and, for every candidate measure, whether it applied and why (or why not).

    ``unreached`` counts the measures of this matter type that no active record's list type reaches
    (summarised, not listed).
    """

    model_config = FROZEN

    result: CheckResult
    day: dt.date
    measures: tuple[MeasureExplanation, ...]
    unreached: int

    @property
    def applied(self) -> list[str]:
        """The ids of the measures explained as applied, in measure-list order."""
        return [m.measure_id for m in self.measures if m.applied]

    def to_json(self) -> str:
        """The check result's JSON (docs/check-result.md) with one more key, ``explanation``."""
        document = json.loads(self.result.to_json())
        document["explanation"] = self.model_dump(mode="json", include={"day", "measures", "unreached"})
        return json.dumps(document, ensure_ascii=False)


def explain_check(compiled: CompiledMeasures, subj: Subject, mat: Matter, day: dt.date,
                  parties: Mapping[str, RelatedParty], records: Sequence[CreditRecord],
                  result: CheckResult) -> Explanation:
    """Explain ``result``, the engine's answer for these records (active on ``day``), measure by measure."""
    facts, by_fact = _facts(subj, result.subject.subject_type, mat, day, parties, records)
    trials: dict[str, list[RuleTrial]] = {}
    district = subj.id_kind == "region_code"  # only measures written for districts reach one
    for fact in facts:
        record, role = by_fact[fact["id"]]
        for cm in compiled.candidates(record.list_type, mat.matter_type):
            trial = (_not_for_districts(record, role) if district and "region" not in (cm.measure.subject_types or ())
                     else _trial(cm, fact, record, role, mat, day))
            trials.setdefault(cm.measure.id, []).append(trial)
    applied = {m.measure_id: m for m in result.measures}
    rows = []
    for mid in sorted(trials, key=compiled.position.__getitem__):
        m = compiled.measures[mid].measure
        tried = trials[mid]
        holds = any(t.failed is None for t in tried)
        hit = applied.get(mid)
        binding = hit.binding if hit is not None and holds else None
        guard = _guard(m.kind, m.basis_status, binding) if binding is not None else (None, None)
        rows.append(MeasureExplanation(
            measure_id=mid, name=m.name, kind=m.kind, effect=m.effect, mandatory=m.mandatory, applied=holds,
            binding=binding, guard_zh=guard[0], guard_en=guard[1],
            failed=None if holds else tried[0].failed, trials=tuple(tried)))
    of_matter = {cm.measure.id for (_lt, mt), cms in compiled.index.items() if mt == mat.matter_type
                 for cm in cms}
    return Explanation(result=result, day=day, measures=tuple(rows), unreached=len(of_matter - trials.keys()))


def _trial(cm: CompiledMeasure, fact: Mapping[str, Any], record: CreditRecord, role: str, mat: Matter,
           day: dt.date) -> RuleTrial:
    parts = cm.residual.items if isinstance(cm.residual, And) else (cm.residual,)
    # Judged by the reference evaluator, part by part; the first failing one in _ORDER is named.
    failing = sorted((_ORDER[_part_of(p)], i, p) for i, p in enumerate(parts) if not evaluator(p)(fact))
    shown = identifiers.mask(record.subject_id)
    if not failing:
        zh, en = _held(record, role)
        return RuleTrial(record_id=record.record_id, list_type=record.list_type, role=role, subject_id=shown,
                         failed=None, reason_zh=zh, reason_en=en)
    part = failing[0][2]
    failed, zh, en = _why(cm, part, fact, record, role, mat, day)
    return RuleTrial(record_id=record.record_id, list_type=record.list_type, role=role, subject_id=shown,
                     failed=failed, reason_zh=identifiers.mask_text(zh), reason_en=identifiers.mask_text(en))


def _not_for_districts(record: CreditRecord, role: str) -> RuleTrial:
    return RuleTrial(record_id=record.record_id, list_type=record.list_type, role=role,
                     subject_id=identifiers.mask(record.subject_id), failed="subject_type",
                     reason_zh="区县(市)核查只适用 subject_types 写明 region 的措施；本措施针对被列入名单的主体本身",
                     reason_en="a district check applies only measures whose subject_types name region; this one "
                               "is for the listed body itself")


def _part_of(expr: Expr) -> str:
    """Which part of a residual rule (see :func:`~joint_sanctions._compile.residual_of`) ``expr`` is."""
    if isinstance(expr, Compare):
        if expr.field == "check.day":
            return "valid_from" if expr.op == ">=" else "valid_to"
        if expr.field == BANS_MATTER:
            return "ban"
        if expr.field == OVERDUE:
            return "overdue"
    # The party clause is the only part naming party.role: no condition may name it.
    return "party" if _names(expr, "party.role") else "condition"


def _names(expr: Expr, field: str) -> bool:
    if isinstance(expr, And | Or):
        return any(_names(e, field) for e in expr.items)
    return expr.field == field


def _held(record: CreditRecord, role: str) -> tuple[str, str]:
    if role == SELF:
        return (f"主体本身的记录 {record.record_id} 满足全部条件",
                f"every part holds on the subject's own record {record.record_id}")
    return (f"关联方（{role}）的记录 {record.record_id} 满足全部条件",
            f"every part holds on the related party's ({role}) record {record.record_id}")


def _why(cm: CompiledMeasure, part: Expr, fact: Mapping[str, Any], record: CreditRecord, role: str, mat: Matter,
         day: dt.date) -> tuple[Part, str, str]:
    m, rid = cm.measure, record.record_id
    kind = _part_of(part)
    if kind == "valid_from":
        return ("valid_from", f"措施自 {m.valid_from} 起施行，核查日 {day} 在此之前",
                f"the measure is valid from {m.valid_from}; the check day {day} is before it")
    if kind == "valid_to":
        return ("valid_to", f"措施施行至 {m.valid_to} 前，核查日 {day} 已不在有效期内",
                f"the measure is valid until {m.valid_to} (exclusive); the check day {day} is not before it")
    if kind == "party":
        if role == SELF:
            types = ", ".join(m.subject_types or ())
            shown = fact["subject__subject_type"]
            return ("subject_type", f"主体类型 {shown} 不在措施适用的主体类型 [{types}] 之中",
                    f"subject type {shown} is not among the measure's subject types [{types}]")
        roles = ", ".join(m.related_party_roles)
        if not roles:
            return ("related_party_role", f"记录 {rid} 属于关联方（{role}），本措施只适用于主体本身的记录",
                    f"record {rid} is a related party's ({role}); the measure reaches only the subject's own records")
        return ("related_party_role", f"记录 {rid} 属于关联方（{role}），不在措施的关联方角色 [{roles}] 之中",
                f"record {rid} is a related party's ({role}), a role not among the measure's [{roles}]")
    if kind == "ban":
        return ("ban", *_ban_reason(record, mat, day))
    if kind == "overdue":
        if record.rectify_by is None:
            return ("overdue", f"记录 {rid} 没有整改期限，不属于逾期未整改",
                    f"record {rid} has no rectification deadline (rectify_by), so it is not overdue")
        return ("overdue", f"记录 {rid} 的整改期限 {record.rectify_by} 不早于核查日 {day}，尚未逾期",
                f"record {rid}: rectify_by {record.rectify_by} is not before the check day {day}; not overdue")
    seen = _seen(part, fact)
    return ("condition", f"条件不成立：{m.condition}（实际：{'；'.join(z for z, _ in seen)}）",
            f"condition false: {m.condition} (saw: {'; '.join(e for _, e in seen)})")


def _ban_reason(record: CreditRecord, mat: Matter, day: dt.date) -> tuple[str, str]:
    rid = record.record_id
    types, codes = ", ".join(record.ban_matter_types), ", ".join(record.ban_item_codes)
    if not (types or codes):
        return (f"记录 {rid} 的决定未载明禁入事项（措施要求记录本身的禁入覆盖本事项）",
                f"record {rid} carries no ban of its own decision (the measure requires one covering this matter)")
    covers = "，".join(([f"事项类型 [{types}]"] if types else []) + ([f"事项编码 [{codes}]"] if codes else []))
    covers_en = ", ".join(([f"matter types [{types}]"] if types else [])
                          + ([f"item codes [{codes}]"] if codes else []))
    if record.ban_until is not None and day >= record.ban_until:
        return (f"记录 {rid} 的禁入（{covers}）已于 {record.ban_until} 届满，核查日为 {day}",
                f"record {rid}'s ban ({covers_en}) ended on {record.ban_until}; the check day is {day}")
    item = mat.item_code or "-"
    return (f"记录 {rid} 的禁入覆盖 {covers}，不含本事项（{mat.matter_type}，事项编码 {item}）",
            f"record {rid}'s ban covers {covers_en}, not this matter ({mat.matter_type}, item code {item})")


def _seen(expr: Expr, fact: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The comparisons that made ``expr`` false, each with the value the fact held."""
    if isinstance(expr, Compare | AnyOf):
        have = fact.get(fact_key(expr.field))
        if have is None:
            return [(f"未提供 {expr.field}", f"{expr.field} not given")]
        if isinstance(expr, Compare):
            text = f"{expr.field} = {_lit(have)} {_NEGATE[expr.op]} {_lit(expr.value)}"
        else:
            listed = ", ".join(map(_lit, expr.values))
            text = f"{expr.field} = {_lit(have)} {'in' if expr.negated else 'not in'} [{listed}]"
        return [(text, text)]
    if isinstance(expr, Or):  # every alternative failed: each one says why
        return [s for e in expr.items for s in _seen(e, fact)]
    return next(_seen(e, fact) for e in expr.items if not evaluator(e)(fact))


def _lit(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _guard(kind: str, basis_status: str, binding: bool) -> tuple[str, str]:
    """Why an applied measure binds or not (the legality guard, docs/check-result.md)."""
    if kind == "punishment":
        if binding:
            return ("依据已确认，具有约束力", "binding: its legal basis is confirmed")
        return (f"依据待核实（{basis_status}），不具约束力，转人工复核",
                f"not binding: its legal basis is {basis_status}; a person reviews it")
    if binding:
        return ("予以激励", "granted")
    return ("不具约束力：同时适用惩戒措施，激励暂停", "not binding: suspended because a punishment applies")
