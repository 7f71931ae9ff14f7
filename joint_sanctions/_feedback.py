"""Case feedback format v1 (反馈): the record that goes up to the provincial platform.

The format and the uplink protocol are described for users in docs/case-feedback-v1.md.

:class:`FeedbackV1` is the wire format. Its JSON Schema ships with the package as
``joint_sanctions/schemas/feedback-v1.schema.json``; :func:`schema_text` regenerates it from the model
(``python -m joint_sanctions._feedback > joint_sanctions/schemas/feedback-v1.schema.json``) and a test
fails when the shipped file and the model differ. v1 never changes shape: every object forbids
additional properties, every key is always present (``null`` where not given). A new shape is v2.

The uplink is the one place where the subject id travels unmasked: the platform needs it. Every other
text of the record (names, list entries, matter, department, disposal texts) is free text that may
hold a resident id (a reason citing someone's id, a name with the id in brackets): it goes up through
:func:`~joint_sanctions._identifiers.mask_text`. Cases store those texts as given, so that what the loop
compares (the application number of an idempotent case) stays exact; the record is masked as it is
built.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._base import CST as _CST  # feedback times are given in China Standard Time, as the platform reads them
from ._case_model import Case, DisposalResult
from ._errors import CaseError, TransitionError
from ._identifiers import mask_text
from ._models import Effect, IdKind, Kind, ListType, MatterType, SubjectType

__all__ = [
    "DEFAULT_REGION_CODE",
    "SCHEMA_ID",
    "FeedbackV1",
    "build_feedback",
    "feedback_schema",
    "region_code_from_env",
    "schema_text",
    "shipped_schema_text",
]

#: Used when neither the caller nor ``JOINT_SANCTIONS_REGION`` gives a region code (郑州市).
DEFAULT_REGION_CODE = "410100"
SCHEMA_ID = "urn:joint-sanctions:schema:feedback:v1"
_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCHEMA_RESOURCE = "feedback-v1.schema.json"
_REGION_CODE = re.compile(r"[0-9]{6}")

_V1 = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class FeedbackSubject(BaseModel):
    """Who the case is about; ``id`` is unmasked (the platform needs it)."""

    model_config = _V1
    name: str | None
    subject_type: SubjectType
    id_kind: IdKind
    id: str = Field(min_length=1)


class FeedbackList(BaseModel):
    """A credit-list entry that made a measure apply."""

    model_config = _V1
    list_type: ListType
    authority: str | None
    document_no: str | None
    listed_on: dt.date


class FeedbackMatter(BaseModel):
    """The matter the subject applied for, as far as the host system told."""

    model_config = _V1
    matter_type: MatterType
    item_code: str | None
    application_no: str | None


class FeedbackLegalBasis(BaseModel):
    """One cited document; ``number`` and ``article`` are empty strings when unknown."""

    model_config = _V1
    document: str
    number: str
    article: str


class FeedbackMeasure(BaseModel):
    """A measure the check found applicable."""

    model_config = _V1
    measure_id: str
    name: str
    effect: Effect
    legal_basis: tuple[FeedbackLegalBasis, ...]


class FeedbackDepartment(BaseModel):
    """The department that handled the matter and recorded the disposal."""

    model_config = _V1
    name: str | None
    code: str | None


class FeedbackV1(BaseModel):
    """One case feedback record, format v1 (docs/case-feedback-v1.md). Every key is always present."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", hide_input_in_errors=True,
        title="Joint reward-and-punishment case feedback v1 (联合奖惩案例反馈)",
        json_schema_extra={"$schema": _SCHEMA_DIALECT, "$id": SCHEMA_ID})
    schema_version: Literal["1"]
    case_id: str = Field(min_length=1)
    check_id: str = Field(min_length=1)
    status: Literal["disposed"] = Field(description="the state reported: the case was disposed (处置)")
    subject: FeedbackSubject
    lists: tuple[FeedbackList, ...]
    matter: FeedbackMatter
    kind: Kind = Field(description="punishment if any punishment measure applied, else incentive")
    measures: tuple[FeedbackMeasure, ...] = Field(min_length=1)
    implementing_department: FeedbackDepartment
    region_code: str = Field(pattern=r"^[0-9]{6}$", description="the deployment's 行政区划代码")
    result: DisposalResult
    result_text: str | None
    reason: str | None = Field(description="why a measure was not (fully) applied")
    description: str | None
    initiated_at: dt.datetime = Field(description="发起: when the check ran")
    responded_at: dt.datetime = Field(description="响应: when the engine answered and the case opened")
    disposed_at: dt.datetime = Field(description="处置: when the department recorded its disposal")
    revision: str = Field(min_length=1, description="revision of the measure lists that answered")

    def to_bytes(self) -> bytes:
        """The exact body sent: compact JSON, UTF-8, Chinese kept readable."""
        return self.model_dump_json().encode("utf-8")


def region_code_from_env() -> str:
    """The deployment's region code: ``JOINT_SANCTIONS_REGION``, else :data:`DEFAULT_REGION_CODE`.

    Raises:
        CaseError: the variable is set to something other than six digits.
    """
    code = os.environ.get("JOINT_SANCTIONS_REGION", "").strip() or DEFAULT_REGION_CODE
    if not _REGION_CODE.fullmatch(code):
        raise CaseError(f"JOINT_SANCTIONS_REGION={code!r} is not a 6-digit region code "
                        "(行政区划代码, e.g. 410100)")
    return code


def build_feedback(case: Case, *, region_code: str | None = None) -> FeedbackV1:
    """The v1 feedback record of a disposed case.

    Args:
        case: a case with a disposal (status ``disposed``, ``fed_back`` or ``rejected``).
        region_code: the deployment's 6-digit code; default :func:`region_code_from_env`.

    Returns:
        The record; :meth:`FeedbackV1.to_bytes` gives the body to send.

    Raises:
        TransitionError: the case has no disposal yet.
        CaseError: ``region_code`` is not six digits.
    """
    disposal = case.disposal
    if disposal is None:
        raise TransitionError(case.case_id, case.status, "build feedback for", "it is not disposed yet")
    code = region_code if region_code is not None else region_code_from_env()
    if not _REGION_CODE.fullmatch(code):
        raise CaseError(f"region code {code!r} is not six digits (行政区划代码, e.g. 410100)")
    mat = case.matter
    return FeedbackV1(
        schema_version="1",
        case_id=case.case_id,
        check_id=case.check_id,
        status="disposed",
        subject=FeedbackSubject(name=_masked(case.subject.name or None), subject_type=case.subject.subject_type,
                                id_kind=case.subject.id_kind, id=case.subject_id),
        lists=tuple(FeedbackList(list_type=h.list_type, authority=_masked(h.authority or None),
                                 document_no=_masked(h.document_no or None), listed_on=h.listed_on)
                    for h in case.list_hits),
        matter=FeedbackMatter(matter_type=mat.matter_type, item_code=_masked(mat.item_code),
                              application_no=_masked(mat.application_no)),
        kind=case.kind,
        measures=tuple(FeedbackMeasure(measure_id=m.measure_id, name=m.name, effect=m.effect,
                                       legal_basis=tuple(FeedbackLegalBasis.model_validate(b.model_dump())
                                                         for b in m.legal_basis))
                       for m in case.measures),
        implementing_department=FeedbackDepartment(name=_masked(disposal.department),
                                                   code=_masked(disposal.department_code)),
        region_code=code,
        result=disposal.result,
        result_text=_masked(disposal.text),
        reason=_masked(disposal.reason),
        description=_masked(disposal.description),
        initiated_at=case.initiated_at.astimezone(_CST),
        responded_at=case.responded_at.astimezone(_CST),
        disposed_at=disposal.disposed_at.astimezone(_CST),
        revision=case.revision,
    )


def _masked(text: str | None) -> str | None:
    """Free text as the record carries it: resident ids masked."""
    return None if text is None else mask_text(text)


def feedback_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`FeedbackV1`, generated from the model."""
    return FeedbackV1.model_json_schema()


def schema_text() -> str:
    """The schema as the shipped file holds it: indented JSON, keys sorted, a final newline."""
    return json.dumps(feedback_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def shipped_schema_text() -> str:
    """The schema file shipped with the package (what ``cases schema`` prints and the simulator uses)."""
    return resources.files("joint_sanctions").joinpath("schemas", _SCHEMA_RESOURCE).read_text("utf-8")


if __name__ == "__main__":
    print(schema_text(), end="")
