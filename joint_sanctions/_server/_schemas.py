"""What the HTTP service takes and gives beyond the library's own models (docs/http.md).

Responses reuse the library's models (the check result is :class:`~joint_sanctions.CheckResult`);
requests are models of their own that refuse unknown fields, so a host's typo is an error rather than
a silently ignored option. :class:`CaseView` is the case JSON of ``cases list --json`` as a
model, so the OpenAPI document can describe it; every case answer is validated against it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._case_model import CaseStatus, DisposalResult
from .._conditions import AMOUNT_MAX
from .._models import Decision, IdKind, Kind, Organizer, Role, SubjectType, checkable_time

__all__ = ["MAX_BATCH", "BatchRequest", "BatchResponse", "CaseList", "CaseView", "CheckRequest",
           "DisposalRequest", "ErrorBody", "Health", "MeasureList", "SubjectIn", "WithdrawalRequest"]

#: Subjects in one ``POST /v1/checks:batch``; more is refused with 413.
MAX_BATCH = 10_000

_STRICT = ConfigDict(extra="forbid")


def _unicode(value: Any) -> Any:
    """``value`` when every text in it is Unicode that UTF-8 can hold."""
    for text in value if isinstance(value, list) else (value,):
        if isinstance(text, str):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                # JSON may escape half a surrogate pair ("\ud800"): no database can store that text.
                raise ValueError("holds half a surrogate pair (\\ud800-\\udfff), not text (不是有效的文本)") from None
    return value


class _Request(BaseModel):
    """What a host sends: unknown fields refused, every text valid Unicode."""

    model_config = _STRICT

    @field_validator("*")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        return _unicode(value)


class RelatedPartyIn(_Request):
    """A related party of the subject (法定代表人, 主要负责人, 股东)."""

    role: Role
    id: str = Field(description="USCC or resident id")
    name: str = ""


class SubjectIn(_Request):
    """The subject checked; a bare id string is accepted wherever a subject is."""

    id: str = Field(description="USCC (统一社会信用代码, 18 characters) or resident id (居民身份证号码)")
    name: str = ""
    subject_type: SubjectType | None = None
    related_parties: list[RelatedPartyIn] = Field(default_factory=list)


class _MatterIn(_Request):
    matter: str = Field(description="matter type id (docs/vocabulary.md), e.g. government_procurement")
    at: dt.datetime | dt.date | None = Field(
        default=None, description="check as of this date or time (a historical check opens no case)")
    item_code: str | None = Field(default=None, description="service item code (事项编码)")
    application_no: str | None = Field(default=None, description="application number (申请编号)")
    # Strict and bounded here, so that no text (an id sent by mistake) is read as a number and echoed.
    amount: float | None = Field(default=None, strict=True, ge=0, le=AMOUNT_MAX, allow_inf_nan=False,
                                 description="the matter's amount in yuan (申报金额)")
    organizer: Organizer | None = None
    department: str | None = Field(default=None, description="the handling department's name")
    department_code: str | None = None
    open_case: bool = Field(default=True, description="false: open no case even when measures apply")

    @field_validator("at")
    @classmethod
    def _checkable(cls, at: dt.datetime | dt.date | None) -> dt.datetime | dt.date | None:
        if at is not None and not checkable_time(at):
            raise ValueError("out of range: a check is made as of the years 2 to 9998 (日期超出可核查的范围)")
        return at

    def matter_fields(self) -> dict[str, Any]:
        """The keywords :meth:`~joint_sanctions.Engine.check` takes for the matter (those given)."""
        names = ("item_code", "application_no", "amount", "organizer", "department", "department_code")
        return {n: v for n in names if (v := getattr(self, n)) is not None}


class CheckRequest(_MatterIn):
    """``POST /v1/checks``."""

    subject: SubjectIn | str


class BatchRequest(_MatterIn):
    """``POST /v1/checks:batch``: up to :data:`MAX_BATCH` subjects for one matter."""

    subjects: list[SubjectIn | str] = Field(max_length=MAX_BATCH)


class BatchResponse(BaseModel):
    """The results of a batch, in the order of its subjects (each as ``POST /v1/checks`` gives it)."""

    results: list[dict[str, Any]]


class DisposalRequest(_Request):
    """``POST /v1/cases/{id}/disposal`` (处置)."""

    result: DisposalResult
    text: str | None = None
    reason: str | None = Field(default=None, description="required for not_applied")
    description: str | None = None
    department: str | None = None
    department_code: str | None = None


class WithdrawalRequest(_Request):
    """``POST /v1/cases/{id}/withdrawal``."""

    reason: str


class ErrorDetail(BaseModel):
    code: str = Field(description="stable: CheckError's codes (invalid_subject, unknown_matter_type, "
                                  "invalid_matter, no_data, stale_data) and the service's (docs/http.md)")
    message: str = Field(description="one line, English / Chinese; resident ids masked")


class ErrorBody(BaseModel):
    """Every error answer."""

    error: ErrorDetail


class _SubjectView(BaseModel):
    model_config = _STRICT
    id: str
    id_kind: IdKind
    name: str
    subject_type: SubjectType


class CaseView(BaseModel):
    """One case as ``cases list --json`` shows it (resident ids masked), with the ``caller`` whose key
    made the check that opened it."""

    model_config = _STRICT
    case_id: str
    check_id: str
    status: CaseStatus
    decision: Decision
    matter_type: str
    subject: _SubjectView
    measure_ids: list[str]
    kind: Kind
    list_types: list[str]
    item_code: str | None
    application_no: str | None
    revision: str
    initiated_at: str
    responded_at: str
    disposed_at: str | None
    result: DisposalResult | None
    department: str | None
    department_code: str | None
    attempts: int
    last_error: str | None
    status_code: int | None
    fed_back_at: str | None
    rejected_at: str | None
    withdrawal_reason: str | None
    withdrawn_at: str | None
    data_as_of: dict[str, str]
    caller: str | None


class CaseList(BaseModel):
    """``GET /v1/cases``: oldest first."""

    cases: list[CaseView]


class MeasureList(BaseModel):
    """``GET /v1/measures``: the measures that may apply to a matter, without a subject."""

    revision: str
    matter: str | None
    measures: list[dict[str, Any]]


class Health(BaseModel):
    """``GET /healthz`` when the service can answer checks."""

    status: str
    revision: str
    rules_backend: str
    data_as_of: dict[str, dt.datetime]
