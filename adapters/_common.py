"""What every adapter shares: its errors, the verdict, reasons with legal basis, input parties.

::

    JointSanctionsError
    └── AdapterError              a host-system adapter could not answer
        ├── AdapterInputError     the host passed malformed input (names the bad entry)
        ├── UnknownServiceItemError   an item code that the service-item mapping does not hold
        └── ServiceItemsError     the service-item mapping file does not load (every problem, file:line:col)

A verdict turns a check result into what a host decides on. A binding mandatory measure that
prohibits *or* restricts the very matter being handled (taking part in this tender, receiving these
funds, this award) leaves nothing to weigh, so the entry is ``disqualified``; any other punishment
measure is discretionary, asks for stricter review, or does not bind because its legal basis is
unconfirmed (the legality guard, docs/check-result.md), so a person decides (``needs_review``); with none the
entry is ``qualified``. A check that answers ``review`` is therefore never ``disqualified``. Incentives
never change a verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from joint_sanctions import _identifiers as identifiers
from joint_sanctions._errors import IdentifierError, JointSanctionsError, Problem
from joint_sanctions._models import AppliedMeasure, CheckResult, Hit, LegalBasis, Subject
from joint_sanctions.vocabulary import EFFECTS, LIST_TYPES, RELATED_PARTY_ROLES, SUBJECT_TYPES

Verdict = Literal["qualified", "disqualified", "needs_review"]

#: Chinese labels of the verdicts, for screens and printouts.
VERDICTS: dict[str, str] = {"qualified": "通过", "disqualified": "不予通过", "needs_review": "需人工复核"}
_SEVERITY: dict[str, int] = {"qualified": 0, "needs_review": 1, "disqualified": 2}


class AdapterError(JointSanctionsError):
    """A host-system adapter could not answer."""


class AdapterInputError(AdapterError, ValueError):
    """Malformed input from the host; ``where`` names the entry (e.g. ``bidders[2]``), ids masked.

    Attributes:
        code: stable: ``not_a_list``, ``empty_list``, ``not_a_mapping``, ``missing_field``,
            ``unknown_field``, ``invalid_id``, ``invalid_value``, ``duplicate_entry``.
        where: the path of the bad entry in the host's input.
    """

    def __init__(self, code: str, where: str, message: str) -> None:
        self.code = code
        self.where = where
        super().__init__(identifiers.mask_text(f"{where}: {message}"))


class UnknownServiceItemError(AdapterError, LookupError):
    """A service item code that the mapping does not hold; ``suggestions`` holds near codes."""

    def __init__(self, item_code: str, suggestions: Sequence[str] = ()) -> None:
        self.item_code = item_code
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean / 是否为: {', '.join(self.suggestions)}" if self.suggestions else ""
        super().__init__(identifiers.mask_text(
            f"unknown service item code {item_code!r} / 未知的政务服务事项编码{hint}"))


class ServiceItemsError(AdapterError):
    """The service-item mapping does not load; ``problems`` holds every one, sorted by place."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Model(BaseModel):
    """Base of the adapters' answers: immutable, with :meth:`to_dict` giving JSON-ready data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def cite(basis: LegalBasis) -> str:
    """A citation as Chinese documents write it: ``《政府采购法》第七十七条`` (number when known)."""
    return f"《{basis.document}》{basis.number}{basis.article}"


class Reason(Model):
    """Why a measure applies: the measure, its legal basis and the credit records behind it."""

    measure_id: str
    measure: str
    effect: str
    mandatory: bool
    legal_basis: tuple[str, ...]
    basis_status: str
    binding: bool
    records: tuple[str, ...]
    via: str | None = None

    @property
    def text(self) -> str:
        """One line for a screen: records → measure (effect), basis, and the related party if any."""
        force = "应当" if self.mandatory else "可以"
        via = f"；经由{self.via}" if self.via else ""
        unconfirmed = ("" if self.binding else
                       "（依据待核实 → 人工复核 basis unconfirmed → review by a person）")
        return (f"{'、'.join(self.records)} → {self.measure}（{EFFECTS[self.effect]}，{force}）"
                f"；依据 {'；'.join(self.legal_basis)}{unconfirmed}{via}")


def _record_text(hit: Hit) -> str:
    detail = " ".join(part for part in (hit.authority, hit.document_no) if part)
    return f"{LIST_TYPES[hit.list_type]}（{detail}）" if detail else LIST_TYPES[hit.list_type]


def reason_of(measure: AppliedMeasure, result: CheckResult) -> Reason:
    """The reason for one applied measure, with the records (list, authority, document) it rests on."""
    hits = {hit.record_id: hit for hit in result.hits}
    records = tuple(dict.fromkeys(_record_text(hits[r]) for r in measure.record_ids))
    via = None
    if measure.via_related_party is not None:
        party = measure.via_related_party
        via = " ".join(part for part in (RELATED_PARTY_ROLES[party.role], party.name, party.id) if part)
    return Reason(measure_id=measure.measure_id, measure=measure.name, effect=measure.effect,
                  mandatory=measure.mandatory, legal_basis=tuple(cite(b) for b in measure.legal_basis),
                  basis_status=measure.basis_status, binding=measure.binding, records=records, via=via)


def reasons_of(result: CheckResult) -> tuple[Reason, ...]:
    """Reasons for every punishment measure of ``result``, in measure-list order."""
    return tuple(reason_of(m, result) for m in result.punishments)


def verdict_of(result: CheckResult) -> Verdict:
    """``disqualified``, ``needs_review`` or ``qualified`` (see the module docstring for why)."""
    punishments = result.punishments
    if any(m.binding and m.mandatory and m.effect in ("prohibit", "restrict") for m in punishments):
        return "disqualified"
    return "needs_review" if punishments else "qualified"


def worst(verdicts: Sequence[Verdict]) -> Verdict:
    """The most severe of ``verdicts`` (``qualified`` when there are none)."""
    return max(verdicts, key=_SEVERITY.__getitem__, default="qualified")


_PARTY_FIELDS = frozenset({"id", "name", "subject_type", "legal_representative"})
_PERSON_FIELDS = frozenset({"id", "name"})


def party(entry: object, where: str, *, extra_fields: Sequence[str] = ()) -> tuple[Subject, dict[str, Any]]:
    """A subject from a host's entry ``{id, name, subject_type?, legal_representative?: {id, name}}``.

    Args:
        entry: the host's mapping (or a bare id string).
        where: the entry's path in the host input, for errors (``bidders[2]``).
        extra_fields: further keys the caller accepts; their values are returned untouched.

    Returns:
        The validated subject (legal representative as a related party) and the extra fields given.

    Raises:
        AdapterInputError: not a mapping, unknown or missing fields, invalid ids or subject type.
    """
    if isinstance(entry, str):
        entry = {"id": entry}
    if not isinstance(entry, Mapping):
        raise AdapterInputError("not_a_mapping", where, f"expected a mapping with 'id' and 'name', found "
                                                        f"{type(entry).__name__} / 应为包含 id、name 的对象")
    label = f"{where} ({entry['name']})" if isinstance(entry.get("name"), str) and entry["name"] else where
    allowed = _PARTY_FIELDS | set(extra_fields)
    if unknown := sorted(str(key) for key in entry if key not in allowed):
        raise AdapterInputError("unknown_field", label, f"unknown field(s) {', '.join(map(repr, unknown))} "
                                                        f"(allowed: {', '.join(sorted(allowed))}) / 未知字段")
    subject_id = _identifier(entry.get("id"), label, "id")
    name = _name(entry.get("name"), label, "name")
    subject_type = entry.get("subject_type")
    if subject_type is not None and (not isinstance(subject_type, str) or subject_type not in SUBJECT_TYPES):
        raise AdapterInputError("invalid_value", label, f"unknown subject_type {subject_type!r} (expected "
                                f"one of {', '.join(SUBJECT_TYPES)}) / 主体类型无效")
    related: list[dict[str, str]] = []
    rep = entry.get("legal_representative")
    if rep is not None:
        rep_where = f"{label}.legal_representative"
        if not isinstance(rep, Mapping):
            raise AdapterInputError("not_a_mapping", rep_where, "expected a mapping with 'id' and 'name' "
                                                                "/ 法定代表人应为包含 id、name 的对象")
        if unknown := sorted(str(key) for key in rep if key not in _PERSON_FIELDS):
            raise AdapterInputError("unknown_field", rep_where, f"unknown field(s) "
                                    f"{', '.join(map(repr, unknown))} (allowed: id, name) / 未知字段")
        rep_id = _identifier(rep.get("id"), rep_where, "id")
        if identifiers.parse_identifier(rep_id)[1] != "resident_id":
            raise AdapterInputError("invalid_id", rep_where, "a legal representative is a person: give a "
                                                             "resident id / 法定代表人应填写居民身份证号码")
        related.append({"role": "legal_representative", "id": rep_id,
                        "name": _name(rep.get("name"), rep_where, "name")})
    subject = Subject.model_validate({"id": subject_id, "name": name, "subject_type": subject_type,
                                      "related_parties": related})
    return subject, {key: entry[key] for key in extra_fields if key in entry}


def _identifier(value: object, where: str, field: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise AdapterInputError("missing_field", where, f"'{field}' is missing / 缺少证件号码 {field}")
    if not isinstance(value, str):
        raise AdapterInputError("invalid_id", where, f"'{field}' must be text, found {type(value).__name__} "
                                                     "/ 证件号码应为文本")
    try:
        return identifiers.parse_identifier(value)[0]
    except IdentifierError as exc:
        raise AdapterInputError("invalid_id", where, f"'{field}': {exc}") from exc


def _name(value: object, where: str, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AdapterInputError("invalid_value", where, f"'{field}' must be text / 名称应为文本")
    return value.strip()


def entries(value: object, where: str) -> list[object]:
    """The host's list at ``where``, refused when it is not a non-empty list."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise AdapterInputError("not_a_list", where, f"expected a list, found {type(value).__name__} / 应为列表")
    if not value:
        raise AdapterInputError("empty_list", where, "the list is empty / 列表为空")
    return list(value)


def no_duplicates(labelled: Sequence[tuple[str, Subject]]) -> None:
    """Refuse input naming the same subject twice (a host bug that would double a check and a case).

    Args:
        labelled: ``(where, subject)`` pairs, ``where`` being the entry's path in the host input.
    """
    seen: dict[str, str] = {}
    for where, subject in labelled:
        if subject.id in seen:
            raise AdapterInputError("duplicate_entry", where,
                                    f"same id as {seen[subject.id]} ({identifiers.mask(subject.id)}) "
                                    "/ 与前面的条目证件号码重复")
        seen[subject.id] = where
