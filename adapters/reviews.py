"""Awards, qualification reviews and civil-servant hiring: batch checks of lists of organisations or people.

The credit office runs these as batches (评优评先, 文明单位复评, 资质审核, 奖补资金, 公务员录用): a list in,
one verdict per candidate out (see :mod:`._common`). Two ways in:

* :func:`review` — a list the host holds in memory; answers with reasons and legal basis per candidate;
* :func:`review_file` — a CSV/XLSX list (the ``batch`` columns of docs/cli.md) straight to a CSV, XLSX or
  HTML report, via :mod:`joint_sanctions._batch`.

Natural persons' ids are masked in every output: the answers, their ``to_dict()``, errors and reports.
As for every batch, no case opens unless asked (docs/case-feedback-v1.md)::

    report = reviews.review(engine, [{"id": "410102199003071230", "name": "张三"}], "civil_servant_hiring",
                            title="2025年度公务员录用考察")
    [(c.name, c.subject_id, c.verdict) for c in report.candidates]
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from joint_sanctions._batch import BatchSummary, run_batch
from joint_sanctions._check import Engine, MatterLike, coerce_matter
from joint_sanctions._identifiers import mask_text
from joint_sanctions.vocabulary import MATTER_TYPES

from ._common import VERDICTS, Model, Reason, Verdict, entries, no_duplicates, party, reasons_of, verdict_of

__all__ = ["CandidateVerdict", "ReviewReport", "review", "review_file"]


class CandidateVerdict(Model):
    """One candidate's answer (a person's id masked)."""

    index: int
    subject_id: str
    id_kind: str
    name: str
    subject_type: str
    verdict: Verdict
    verdict_label: str
    decision: str
    reasons: tuple[Reason, ...]
    incentives: tuple[str, ...]
    check_id: str
    case_id: str | None


class ReviewReport(Model):
    """Every candidate's answer, in the host's order."""

    title: str
    matter_type: str
    matter_label: str
    revision: str
    checked_at: dt.datetime
    candidates: tuple[CandidateVerdict, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Candidates per verdict, every verdict present."""
        return {v: sum(c.verdict == v for c in self.candidates) for v in VERDICTS}

    @property
    def flagged(self) -> tuple[CandidateVerdict, ...]:
        """Candidates whose verdict is not ``qualified``."""
        return tuple(c for c in self.candidates if c.verdict != "qualified")


def review(engine: Engine, candidates: Sequence[Mapping[str, Any] | str], matter: MatterLike, *,
           title: str = "", open_cases: bool = False, **matter_fields: Any) -> ReviewReport:
    """Check a list of organisations or natural persons for one review.

    Args:
        engine: answers the checks.
        candidates: ``{id, name, subject_type?, legal_representative?: {id, name}}`` or bare ids.
        matter: the matter type, e.g. ``honors``, ``qualification_review``, ``civil_servant_hiring``.
        title: the review's name, for reports (e.g. 2025年度市级文明单位复评).
        open_cases: open a case for each candidate with measures.
        **matter_fields: what the host knows of the matter (see :meth:`Engine.check`), e.g.
            ``organizer="development_reform"`` for an award of the development-and-reform system, which
            the measures scoped to that system's awards test.

    Raises:
        AdapterInputError: an empty list, a malformed candidate or one listed twice (named by position,
            id masked); nothing is checked then.
        CheckError: unknown matter type.
    """
    mat = coerce_matter(matter, matter_fields)
    listed = entries(candidates, "candidates")
    subjects = [party(entry, f"candidates[{i}]")[0] for i, entry in enumerate(listed)]
    no_duplicates([(f"candidates[{i}]", s) for i, s in enumerate(subjects)])
    results = engine.check_many(subjects, mat, open_case=open_cases)
    answers = []
    for index, (subject, result) in enumerate(zip(subjects, results, strict=True)):
        verdict = verdict_of(result)
        answers.append(CandidateVerdict(
            index=index, subject_id=result.subject.id, id_kind=result.subject.id_kind, name=mask_text(subject.name),
            subject_type=result.subject.subject_type, verdict=verdict, verdict_label=VERDICTS[verdict],
            decision=result.decision, reasons=reasons_of(result),
            incentives=tuple(m.name for m in result.incentives), check_id=result.check_id,
            case_id=result.case_id))
    return ReviewReport(title=mask_text(title), matter_type=mat.matter_type, matter_label=MATTER_TYPES[mat.matter_type],
                        revision=engine.revision, checked_at=results[0].checked_at,
                        candidates=tuple(answers))


def review_file(engine: Engine, path: str | os.PathLike[str], matter: MatterLike, out: str | os.PathLike[str],
                *, open_cases: bool = False, progress: Callable[[int], object] | None = None) -> BatchSummary:
    """Check a CSV/XLSX list (columns ``subject_id, subject_name[, subject_type, legal_representative_id]``)
    and write the report ``out`` (.csv, .xlsx or .html); bad rows are reported in the summary.

    Raises:
        BatchError: unreadable file, wrong columns, empty list or unsupported report type.
    """
    return run_batch(engine, path, matter, out, open_cases=open_cases, progress=progress)
