"""Pydantic models of the contracts in docs/ (vocabulary, check result, record import).

Everything here is immutable. ``CheckResult.to_json()`` gives exactly the JSON of docs/check-result.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from . import _identifiers as identifiers
from ._accel import compiled_model
from ._base import CST as CST  # noqa: PLC0414 - re-exported (mypy strict): stages take it with the models
from ._base import FROZEN as _FROZEN
from .vocabulary import BAN_LIST_TYPES

SubjectType = Literal["legal_person", "unincorporated_org", "individual_business", "natural_person",
                      "government_body", "region"]
IdKind = Literal["uscc", "resident_id", "region_code"]
ListType = Literal["court_defaulter", "major_tax_violator", "procurement_violator",
                   "market_serious_violator", "wage_arrears", "safety_serious_violator",
                   "trading_serious_violator", "government_dishonesty",
                   "tax_credit_a", "customs_advanced", "honesty_model"]
MatterType = Literal["central_budget_funds", "special_bond", "financing_recommendation",
                     "government_procurement", "bidding", "fiscal_funds", "support_policy", "honors",
                     "pilot_demonstration", "qualification_review", "administrative_licensing",
                     "civil_servant_hiring", "deputy_eligibility"]
Effect = Literal["prohibit", "restrict", "strict_review", "reference", "incentive"]
Kind = Literal["punishment", "incentive"]
Role = Literal["legal_representative", "principal", "shareholder"]
Organizer = Literal["development_reform", "social_credit", "other"]
RecordStatus = Literal["active", "repaired", "removed"]
BasisStatus = Literal["confirmed", "unconfirmed"]
Decision = Literal["prohibited", "restricted", "review", "clear"]

_M = TypeVar("_M", bound=BaseModel)


def iso_time(value: dt.datetime) -> str:
    """A time as every output shows it: ISO-8601 in China Standard Time with the offset written out
    (``2025-06-01T09:30:00.123456+08:00``), whatever zone it was taken in (naive = UTC)."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)).astimezone(CST).isoformat()


def checkable_time(at: dt.date | dt.datetime) -> bool:
    """Whether a check can be made as of ``at`` (a day at midnight China time, or a time; naive =
    China time): it stays within the years 2–9998 in UTC and in China time, so converting it, or moving
    it by a day, never overflows. Hosts refuse other values as bad input."""
    when = at if isinstance(at, dt.datetime) else dt.datetime.combine(at, dt.time())
    when = when if when.tzinfo is not None else when.replace(tzinfo=CST)
    try:
        utc, china = when.astimezone(dt.UTC), when.astimezone(CST)
    except OverflowError:
        return False
    return 1 < utc.year < 9999 and 1 < china.year < 9999


#: A datetime field whose JSON is :func:`iso_time`.
Timestamp = Annotated[dt.datetime, PlainSerializer(iso_time, return_type=str, when_used="json")]


class LegalBasis(BaseModel):
    """One cited document; ``number`` and ``article`` are empty strings when unknown."""

    model_config = _FROZEN
    document: str
    number: str = ""
    article: str = ""


def _no_nul(text: str) -> str:
    """Names are stored with cases; a NUL cannot be (PostgreSQL refuses it) and means nothing."""
    if "\x00" in text:
        raise ValueError("a name holds a NUL character / 名称含有空字符 (NUL)")
    return text


class _Identified(BaseModel):
    """A model whose ``id`` is validated and normalised on input, ``id_kind`` following from it."""

    model_config = _FROZEN

    @model_validator(mode="before")
    @classmethod
    def _normalise_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "id" in data:
            norm, kind = identifiers.parse_identifier(str(data["id"]))
            data = {**data, "id": norm, "id_kind": kind}
        return data


class RelatedParty(_Identified):
    """A person or organisation tied to the subject (e.g. its legal representative)."""

    role: Role
    id: str
    name: Annotated[str, AfterValidator(_no_nul)] = ""
    id_kind: IdKind = "uscc"


class Subject(_Identified):
    """Who is being checked. The id is validated and normalised (full-width, lower case)."""

    id: str
    id_kind: IdKind = "uscc"
    name: Annotated[str, AfterValidator(_no_nul)] = ""
    subject_type: SubjectType | None = None
    related_parties: tuple[RelatedParty, ...] = ()

    @model_validator(mode="after")
    def _not_a_region(self) -> Subject:
        # A district is named by its region code (the engine builds that subject itself); an organisation
        # or person given the type would otherwise draw the measures written for districts.
        if self.subject_type == "region":
            raise ValueError("subject type region is for a district's 6-digit region code, not a USCC or "
                             "resident id / 区县(市)以行政区划代码核查")
        return self


#: What separates the items of a ban list given as text (a CSV cell): ';' or the full-width '；'.
_LIST_SEPARATOR = re.compile("[;\uff1b]")
_REGION_CODE = re.compile(r"[0-9]{6}")


def _item_code(code: str) -> str:
    code = code.strip()
    if not code or _LIST_SEPARATOR.search(code) or "\x00" in code:
        raise ValueError(f"{code!r} is not an item code (empty, or holds ';' or NUL) / 不是有效的事项编码")
    return code


class CreditRecord(BaseModel):
    """One entry of a credit list (docs/record-import.md).

    A record may carry the ban of its own decision (``ban_matter_types``, ``ban_item_codes``,
    ``ban_until``: only on :data:`~joint_sanctions.vocabulary.BAN_LIST_TYPES`), a rectification deadline
    (``rectify_by``) and the 6-digit administrative area of its subject (``region_code``).
    """

    model_config = _FROZEN
    record_id: str = Field(min_length=1)
    list_type: ListType
    subject_id: str
    subject_name: str = ""
    subject_type: SubjectType | None = None
    authority: str = ""
    document_no: str = ""
    listed_on: dt.date
    expires_on: dt.date | None = None
    status: RecordStatus = "active"
    reason: str = ""
    region_code: str | None = None
    rectify_by: dt.date | None = None
    ban_matter_types: tuple[MatterType, ...] = ()
    ban_item_codes: tuple[Annotated[str, AfterValidator(_item_code)], ...] = ()
    ban_until: dt.date | None = None
    #: The day a dated repair or removal took effect (the record counts before it, not from it); None while
    #: active, and for a record imported already repaired or removed, whose date is not known.
    ended_on: dt.date | None = None

    @field_validator("subject_id", mode="before")
    @classmethod
    def _normalise_subject_id(cls, value: Any) -> str:
        return identifiers.parse_identifier(str(value))[0]

    @field_validator("ban_matter_types", "ban_item_codes", mode="before")
    @classmethod
    def _split_ban_list(cls, value: Any) -> Any:
        """A list given as text (a CSV cell) is split on ';'; blank items are dropped, repeats kept once."""
        if isinstance(value, str):
            value = _LIST_SEPARATOR.split(value)
        if isinstance(value, list | tuple):
            items = [item.strip() if isinstance(item, str) else item for item in value]
            return tuple(dict.fromkeys(item for item in items if item != ""))
        return value

    @field_validator("region_code")
    @classmethod
    def _six_digits(cls, value: str | None) -> str | None:
        if value is not None and not _REGION_CODE.fullmatch(value):
            raise ValueError(f"{value[:40]!r} is not a 6-digit administrative division code / 不是6位行政区划代码")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> CreditRecord:
        if self.expires_on is not None and self.expires_on <= self.listed_on:
            raise ValueError(f"expires_on {self.expires_on} is not after listed_on {self.listed_on}")
        problem = ban_problem(self.list_type, self.listed_on, self.ban_matter_types, self.ban_item_codes,
                              self.ban_until)
        if problem is not None:
            raise ValueError(problem)
        if self.subject_type is not None and (problem := identifiers.kind_mismatch(
                identifiers.parse_identifier(self.subject_id)[1], self.subject_type)):
            raise ValueError(problem)
        return self

    def is_active(self, day: dt.date) -> bool:
        """True while the record counts: listed_on ≤ day < expires_on, and active or ended after ``day``."""
        return (self.listed_on <= day and (self.expires_on is None or day < self.expires_on)
                and (self.status == "active" or (self.ended_on is not None and day < self.ended_on)))


RecordAction = Literal["updated", "repaired", "removed", "reinstated", "relisted"]


class _Decided(BaseModel):
    """Why a record changed, as the deciding body's decision states it."""

    model_config = _FROZEN
    reason: str = ""
    decision_no: str = ""
    authority: str = ""
    early: bool = False


class RecordChange(_Decided):
    """A dated repair, removal or reinstatement of a record (``records repair``), as its decision states it.

    ``status`` is what the record becomes; ``on`` the day that takes effect (None: undated, as
    :meth:`~joint_sanctions.stores.RecordStore.repair` makes it — the record then counts on no day, as a
    row imported already repaired); ``early`` that the deciding body allowed it before the list type's
    minimum period (needs ``decision_no``).
    """

    status: RecordStatus
    on: dt.date | None = None


class RecordEvent(_Decided):
    """One change of a credit record as its history keeps it: the record before and after, and why."""

    record_id: str
    action: RecordAction
    #: When the change takes effect: the repair or removal date, the new listing date, else None.
    effective_on: dt.date | None = None
    #: ``import`` for a change an import file made, else ``decision``.
    source: str = "decision"
    changed_at: Timestamp
    before: CreditRecord | None = None
    after: CreditRecord


def ban_problem(list_type: str, listed_on: dt.date, matter_types: tuple[str, ...], item_codes: tuple[str, ...],
                until: dt.date | None) -> str | None:
    """Why a record's ban cannot stand (one line naming the field), or None: written once for the model
    and for rows a store reads back."""
    if not matter_types and not item_codes:
        if until is not None:
            return ("ban_until: given without ban_matter_types or ban_item_codes; a ban must name what it bars "
                    "/ 禁入截止日期须与禁入事项或禁入事项编码一同给出")
        return None
    if list_type not in BAN_LIST_TYPES:
        field = "ban_matter_types" if matter_types else "ban_item_codes"
        return (f"{field}: a {list_type} record carries no ban of its own (bans ride on "
                f"{', '.join(BAN_LIST_TYPES)}) / 该名单类型的记录不带禁入事项")
    if until is not None and until <= listed_on:
        return f"ban_until: {until} is not after listed_on {listed_on} / 禁入截止日期须晚于列入日期"
    return None


class Matter(BaseModel):
    """What the host system knows of the matter being handled; only ``matter_type`` is required."""

    model_config = _FROZEN
    matter_type: MatterType
    item_code: str | None = None
    application_no: str | None = None
    department: str | None = None
    department_code: str | None = None
    region_code: str | None = None
    amount: float | None = None
    #: Who organises the matter (docs/vocabulary.md); measures scoped to one system's awards test it.
    organizer: Organizer = "other"


class Measure(BaseModel):
    """One measure of a measure list (measure_lists/README.md), as validated by the loader."""

    model_config = _FROZEN
    id: str
    name: str
    kind: Kind
    effect: Effect
    mandatory: bool
    list_types: tuple[ListType, ...]
    matter_types: tuple[MatterType, ...]
    legal_basis: tuple[LegalBasis, ...]
    basis_status: BasisStatus
    implementing_departments: tuple[str, ...]
    subject_types: tuple[SubjectType, ...] | None = None
    related_party_roles: tuple[Role, ...] = ()
    condition: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    #: Applies only through a record whose own ban covers the matter (measure_lists/README.md).
    requires_ban: bool = False
    #: Applies only through an active record whose rectification deadline has passed (逾期未整改).
    requires_overdue: bool = False
    description: str = ""
    tags: tuple[str, ...] = ()
    source: str = Field(default="", description="file:line where the measure is defined")


class MeasureListFile(BaseModel):
    """One YAML file: its header and its measures."""

    model_config = _FROZEN
    path: str
    edition: str
    issuer: str
    region_code: str
    measures: tuple[Measure, ...]


class SubjectRef(BaseModel):
    """The subject as a result shows it (resident ids masked)."""

    model_config = _FROZEN
    id: str
    id_kind: IdKind
    name: str
    subject_type: SubjectType


class ViaRelatedParty(BaseModel):
    """The related party whose record made a measure apply (id masked)."""

    model_config = _FROZEN
    role: Role
    id: str
    name: str = ""


class AppliedMeasure(BaseModel):
    """A measure that applies to the checked subject for this matter.

    ``binding`` is the legality guard (docs/check-result.md): a punishment binds only when its basis is
    confirmed, otherwise a person confirms it; an incentive is granted (binding) unless a punishment
    applies to the same check, which suspends it.
    """

    model_config = _FROZEN
    measure_id: str
    name: str
    kind: Kind
    effect: Effect
    mandatory: bool
    legal_basis: tuple[LegalBasis, ...]
    basis_status: BasisStatus
    binding: bool
    record_ids: tuple[str, ...]
    via_related_party: ViaRelatedParty | None = None
    implementing_departments: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _binding_of_stored(cls, data: Any) -> Any:
        """A measure stored before the guard (a case's JSON) has no ``binding``: a punishment binds iff its
        basis is confirmed; an incentive, whose suspension its siblings decide, counts as granted."""
        if isinstance(data, dict) and "binding" not in data:
            data = {**data, "binding": data.get("kind") != "punishment" or data.get("basis_status") == "confirmed"}
        return data


class Hit(BaseModel):
    """A credit record active at the check time."""

    model_config = _FROZEN
    record_id: str
    list_type: ListType
    authority: str
    document_no: str
    listed_on: dt.date
    expires_on: dt.date | None
    subject_id: str = ""


class CheckResult(BaseModel):
    """The answer to one check (docs/check-result.md)."""

    model_config = _FROZEN
    check_id: str
    checked_at: Timestamp
    revision: str
    subject: SubjectRef
    matter_type: MatterType
    decision: Decision
    measures: tuple[AppliedMeasure, ...]
    #: When each list type was last written to the store that answered (docs/failing-closed.md). Results of
    #: one engine share this dict until the store changes: read it, do not modify it.
    data_as_of: dict[str, Timestamp] = Field(default_factory=dict)
    case_id: str | None = None
    hits: tuple[Hit, ...] = ()
    matter: Matter | None = None

    @property
    def punishments(self) -> tuple[AppliedMeasure, ...]:
        return tuple(m for m in self.measures if m.kind == "punishment")

    @property
    def incentives(self) -> tuple[AppliedMeasure, ...]:
        return tuple(m for m in self.measures if m.kind == "incentive")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of docs/check-result.md as Python data."""
        return self.model_dump(mode="json", exclude={"matter"})

    def to_json(self) -> str:
        """The JSON of docs/check-result.md (UTF-8 text, Chinese kept readable)."""
        return self.model_dump_json(exclude={"matter"})


_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_ALL_FIELDS: dict[type[BaseModel], set[str]] = {}


def trusted(cls: type[_M], fields: dict[str, Any]) -> _M:
    """Build ``cls`` from values the engine has already validated, skipping validation.

    The check path builds every result field from validated models and compiled measures, so
    re-validating them would only cost time (pydantic's own ``model_construct`` costs about
    four times as much). ``fields`` must name every field of ``cls``; tests compare results built
    this way with validated ones.
    """
    return model(cls, fields, _ALL_FIELDS.get(cls) or fields_set(cls))


def fields_set(cls: type[BaseModel]) -> set[str]:
    """The fields set :func:`trusted` gives every instance of ``cls``: one shared set per class, which
    frozen models never change (model_copy makes its own)."""
    return _ALL_FIELDS.get(cls) or _ALL_FIELDS.setdefault(cls, set(cls.model_fields))


def model_py(cls: type[_M], fields: dict[str, Any], fields_set: set[str]) -> _M:
    """``cls`` built from ``fields`` (its instance dict) and ``fields_set``, without validation: BaseModel's
    own slot descriptors, called directly (a third cheaper than object.__setattr__ by name)."""
    obj = _new(cls)
    _set_dict(obj, fields)
    _set_fields_set(obj, fields_set)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


#: :func:`model_py`, compiled where the package was built with a C compiler (_accel).
model: Callable[[type[_M], dict[str, Any], set[str]], _M] = compiled_model(
    BaseModel, *(BaseModel.__dict__[name] for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__",
                                                       "__pydantic_private__"))) or model_py
