"""Funds, bonds and financing: check an application's applicant *and* the project's participating units.

Covers 中央预算内资金 (``central_budget_funds``), 地方政府专项债券 (``special_bond``), 融资项目推荐
(``financing_recommendation``), 财政资金/奖补资金 (``fiscal_funds``) and 扶持政策 (``support_policy``).
Every unit gets its own verdict (see :mod:`._common`); the application's overall verdict is the most
severe one, because public money must not reach a disqualified unit through someone else's
application — the per-unit verdicts say which unit is the problem::

    verdict = funds.check_application(engine, {"matter_type": "special_bond", "project_name": "…",
                                               "project_code": "…", "amount": 50_000_000},
                                      applicant={"id": …, "name": …},
                                      participants=[{"id": …, "name": …, "role": "施工单位"}])
    verdict.verdict, [(u.name, u.verdict) for u in verdict.units]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from joint_sanctions._check import Engine
from joint_sanctions._identifiers import mask_text
from joint_sanctions._models import Organizer, Subject
from joint_sanctions.vocabulary import MATTER_TYPES

from ._common import (
    VERDICTS,
    AdapterInputError,
    Model,
    Reason,
    Verdict,
    entries,
    no_duplicates,
    party,
    reasons_of,
    verdict_of,
    worst,
)

__all__ = ["FundsProject", "FundsVerdict", "UnitVerdict", "check_application"]

FundsMatter = Literal["central_budget_funds", "special_bond", "financing_recommendation", "fiscal_funds",
                      "support_policy"]


class FundsProject(Model):
    """The project applied for.

    Attributes:
        matter_type: which kind of funds (see the module docstring).
        project_name: the project name.
        project_code: the project or application number, kept as the matter's application number.
        amount: the amount applied for, in yuan (measure conditions may use it).
        department: the department handling the application.
        department_code: its code (for case feedback).
        region_code: the 6-digit region code.
        organizer: who organises the funds or the recommendation (docs/vocabulary.md):
            ``development_reform`` (发展改革系统), ``social_credit`` or, by default, ``other``;
            measures scoped to one system's matters test it.
    """

    matter_type: FundsMatter
    project_name: str
    project_code: str
    amount: float | None = None
    department: str | None = None
    department_code: str | None = None
    region_code: str | None = None
    organizer: Organizer = "other"


class UnitVerdict(Model):
    """One unit's answer; ``role`` is ``applicant`` or the participant's role as the host named it."""

    role: str
    index: int | None
    subject_id: str
    name: str
    verdict: Verdict
    verdict_label: str
    decision: str
    reasons: tuple[Reason, ...]
    incentives: tuple[str, ...]
    check_id: str
    case_id: str | None


class FundsVerdict(Model):
    """The application's overall verdict and one verdict per unit (the applicant first)."""

    project_name: str
    project_code: str
    matter_type: FundsMatter
    matter_label: str
    amount: float | None
    verdict: Verdict
    verdict_label: str
    revision: str
    checked_at: dt.datetime
    units: tuple[UnitVerdict, ...]

    @property
    def applicant(self) -> UnitVerdict:
        return self.units[0]

    @property
    def flagged(self) -> tuple[UnitVerdict, ...]:
        """The units whose verdict is not ``qualified``."""
        return tuple(u for u in self.units if u.verdict != "qualified")


def _project(value: FundsProject | Mapping[str, Any]) -> FundsProject:
    if isinstance(value, FundsProject):
        return value
    try:
        return FundsProject.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'project'}: {e['msg']}" for e in exc.errors())
        raise AdapterInputError("invalid_value", "project", f"{problems} / 项目信息有误") from exc


def check_application(engine: Engine, project: FundsProject | Mapping[str, Any], applicant: Mapping[str, Any],
                      participants: Sequence[Mapping[str, Any]] = (), *,
                      open_cases: bool = True) -> FundsVerdict:
    """Check the applicant and every participating unit of a funds, bond or financing application.

    Args:
        engine: answers the checks.
        project: a :class:`FundsProject` or a mapping of its fields.
        applicant: ``{id, name, subject_type?, legal_representative?: {id, name}}`` (申报单位).
        participants: the project's participating units, same shape plus an optional ``role``
            (e.g. 建设单位, 施工单位, 联合申报单位); may be empty.
        open_cases: ``False`` checks without opening cases.

    Raises:
        AdapterInputError: the project, applicant or a participant is malformed, or a unit is listed
            twice; nothing is checked then.
    """
    info = _project(project)
    subject, _ = party(applicant, "applicant")
    units: list[tuple[str, int | None, Subject]] = [("applicant", None, subject)]
    if participants:
        for index, entry in enumerate(entries(participants, "participants")):
            unit, extra = party(entry, f"participants[{index}]", extra_fields=("role",))
            role = extra.get("role") or "participant"
            if not isinstance(role, str):
                raise AdapterInputError("invalid_value", f"participants[{index}]",
                                        "'role' must be text / 角色应为文本")
            units.append((role, index, unit))
    no_duplicates([("applicant" if i is None else f"participants[{i}]", u) for _, i, u in units])
    results = engine.check_many([u for _, _, u in units], info.matter_type, open_case=open_cases,
                                application_no=info.project_code, amount=info.amount,
                                department=info.department, department_code=info.department_code,
                                region_code=info.region_code, organizer=info.organizer)
    answers = []
    for (role, position, unit), result in zip(units, results, strict=True):
        verdict = verdict_of(result)
        answers.append(UnitVerdict(role=role, index=position, subject_id=result.subject.id, name=mask_text(unit.name),
                                   verdict=verdict, verdict_label=VERDICTS[verdict], decision=result.decision,
                                   reasons=reasons_of(result),
                                   incentives=tuple(m.name for m in result.incentives),
                                   check_id=result.check_id, case_id=result.case_id))
    overall = worst([a.verdict for a in answers])
    return FundsVerdict(project_name=mask_text(info.project_name), project_code=mask_text(info.project_code),
                        matter_type=info.matter_type, matter_label=MATTER_TYPES[info.matter_type],
                        amount=info.amount, verdict=overall, verdict_label=VERDICTS[overall],
                        revision=engine.revision, checked_at=results[0].checked_at, units=tuple(answers))
