"""公共资源交易 (public resource trading): check every bidder or supplier of a tender or procurement.

Each bidder is checked as a company *with its legal representative as a related party*, because
several measures follow the person (the wage-arrears list, the public-resource-trading memorandum).
The answer per bidder is ``qualified``, ``disqualified`` or ``needs_review`` with the reasons and
legal basis (see :mod:`._common` for how a verdict is reached)::

    from joint_sanctions import Engine
    from joint_sanctions.adapters import trading

    verdict = trading.check_bidders(Engine(), {"project_code": "ZZ-2025-001", "project_name": "…",
                                               "matter_type": "bidding"}, bidders)
    for bidder in verdict.bidders:
        print(bidder.name, bidder.verdict, [r.text for r in bidder.reasons], bidder.case_id)

The whole list is validated before the first check, so a malformed list opens no case. Cases open
through the engine's normal path (docs/case-feedback-v1.md): every current check that finds a
measure opens one, so each disqualified bidder has a case, and so has each bidder needing review,
whose disposal then records what the tendering supervisor decided.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from joint_sanctions import _identifiers as identifiers
from joint_sanctions._check import Engine
from joint_sanctions._identifiers import mask_text

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
)

__all__ = ["BidderVerdict", "Tender", "TenderVerdict", "check_bidders"]

TradingMatter = Literal["bidding", "government_procurement"]


class Tender(Model):
    """The tender or procurement project the bidders take part in.

    Attributes:
        project_code: the project number (招标项目编号 / 采购项目编号), kept as the matter's application number.
        project_name: the project name.
        matter_type: ``bidding`` (招标投标) or ``government_procurement`` (政府采购).
        department: the supervising or purchasing department, when the host knows it.
        department_code: its code (for case feedback).
        region_code: the 6-digit region code of the project.
    """

    project_code: str
    project_name: str
    matter_type: TradingMatter = "bidding"
    department: str | None = None
    department_code: str | None = None
    region_code: str | None = None


class BidderVerdict(Model):
    """One bidder's answer; the ids of natural persons are masked."""

    index: int
    subject_id: str
    name: str
    legal_representative: str | None
    verdict: Verdict
    verdict_label: str
    decision: str
    reasons: tuple[Reason, ...]
    incentives: tuple[str, ...]
    check_id: str
    case_id: str | None


class TenderVerdict(Model):
    """Every bidder's answer, in the host's order."""

    project_code: str
    project_name: str
    matter_type: TradingMatter
    revision: str
    checked_at: dt.datetime
    bidders: tuple[BidderVerdict, ...]

    def with_verdict(self, verdict: Verdict) -> tuple[BidderVerdict, ...]:
        """The bidders with ``verdict``, in order."""
        return tuple(b for b in self.bidders if b.verdict == verdict)

    @property
    def counts(self) -> dict[str, int]:
        """Bidders per verdict, every verdict present."""
        return {v: sum(b.verdict == v for b in self.bidders) for v in VERDICTS}


def _tender(value: Tender | Mapping[str, Any]) -> Tender:
    if isinstance(value, Tender):
        return value
    try:
        return Tender.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'tender'}: {e['msg']}" for e in exc.errors())
        raise AdapterInputError("invalid_value", "tender", f"{problems} (matter_type: bidding or "
                                                           "government_procurement) / 项目信息有误") from exc


def check_bidders(engine: Engine, tender: Tender | Mapping[str, Any], bidders: Sequence[Mapping[str, Any]],
                  *, open_cases: bool = True) -> TenderVerdict:
    """Check every bidder of ``tender``; cases open for the bidders with measures.

    Args:
        engine: answers the checks.
        tender: a :class:`Tender` or a mapping of its fields.
        bidders: mappings ``{id, name, subject_type?, legal_representative?: {id, name}}``; ``id`` is the
            USCC (or, for a natural-person supplier, the resident id).
        open_cases: ``False`` checks without opening cases (a dry run before the opening of bids).

    Returns:
        A :class:`TenderVerdict` with one :class:`BidderVerdict` per bidder, in order.

    Raises:
        AdapterInputError: the tender or the bidder list is malformed (``where`` names the entry, e.g.
            ``bidders[2] (河南某建设有限公司)``); nothing is checked then.
    """
    project = _tender(tender)
    subjects = [party(entry, f"bidders[{i}]")[0] for i, entry in enumerate(entries(bidders, "bidders"))]
    no_duplicates([(f"bidders[{i}]", s) for i, s in enumerate(subjects)])
    results = engine.check_many(subjects, project.matter_type, open_case=open_cases,
                                application_no=project.project_code, department=project.department,
                                department_code=project.department_code, region_code=project.region_code)
    answers = []
    for index, (subject, result) in enumerate(zip(subjects, results, strict=True)):
        verdict = verdict_of(result)
        rep = next((p for p in subject.related_parties if p.role == "legal_representative"), None)
        answers.append(BidderVerdict(
            index=index, subject_id=result.subject.id, name=mask_text(subject.name),
            legal_representative=mask_text(f"{rep.name} {identifiers.mask(rep.id)}".strip()) if rep else None,
            verdict=verdict, verdict_label=VERDICTS[verdict], decision=result.decision,
            reasons=reasons_of(result), incentives=tuple(m.name for m in result.incentives),
            check_id=result.check_id, case_id=result.case_id))
    return TenderVerdict(project_code=mask_text(project.project_code), project_name=mask_text(project.project_name),
                         matter_type=project.matter_type, revision=engine.revision,
                         checked_at=results[0].checked_at, bidders=tuple(answers))
