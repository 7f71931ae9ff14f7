"""The rows and summary of a batch (:mod:`joint_sanctions._batch`), and the constants its stages share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _identifiers as identifiers
from ._errors import BatchError as BatchError  # noqa: PLC0414 - re-exported (mypy strict) for the batch stages
from ._models import CheckResult, Subject, iso_time
from .vocabulary import SUBJECT_TYPES

#: Columns an input file may have; the first two are required (docs/cli.md).
INPUT_COLUMNS: tuple[str, ...] = ("subject_id", "subject_name", "subject_type", "legal_representative_id")
_REQUIRED_COLUMNS = INPUT_COLUMNS[:2]
#: Columns of the CSV report and of the XLSX results sheet, in this order (docs/cli.md).
#: ``non_binding_measure_ids`` (the legality guard, docs/check-result.md) comes last, so the first six stay in place.
REPORT_COLUMNS: tuple[str, ...] = ("line", "subject_id", "subject_name", "decision", "measure_ids",
                                   "record_ids", "non_binding_measure_ids")
#: Report extensions :func:`run_batch` writes.
REPORT_FORMATS: tuple[str, ...] = (".csv", ".html", ".xlsx")

_INPUT_FORMATS = (".csv", ".xlsx")
_DECISION_ORDER: tuple[str, ...] = ("prohibited", "restricted", "review", "clear")
_XLSX_MAX_ROWS = 1_048_576  # Excel's sheet limit, header included
# Subjects per Engine.check_many call, and so rows between progress calls: often enough for a progress
# bar, few enough calls for a million rows.
_CHUNK = 256
# A subject type may be written as its id or its Chinese name (法人, 自然人 …).
_SUBJECT_TYPE_BY_NAME = {name: key for key, name in SUBJECT_TYPES.items()}
# Excel runs a cell that starts with one of these as a formula (CSV injection): such text is prefixed
# with an apostrophe in the CSV report and stored as plain text in the workbook.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RejectedRow:
    """An input row that was not checked: its line (the header is line 1) and why, ids masked."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass(frozen=True)
class DuplicateRow:
    """An input row whose subject an earlier row already names (ids compared normalised): not checked
    again, reported as a duplicate of ``first_line``."""

    line: int
    first_line: int

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "duplicates": self.first_line}


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """A good input row: its line and the subject to check."""

    line: int
    subject: Subject


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One checked subject as the report shows it (resident ids masked)."""

    line: int
    subject_id: str
    subject_name: str
    decision: str
    measure_ids: tuple[str, ...]
    record_ids: tuple[str, ...]
    case_id: str | None = None
    duplicate_of: int | None = None
    #: The applied measures that do not bind: a punishment whose basis is unconfirmed (a person confirms
    #: it), an incentive suspended by a punishment.
    non_binding_measure_ids: tuple[str, ...] = ()

    @classmethod
    def from_result(cls, line: int, result: CheckResult) -> BatchRow:
        """The report row of a check result; record ids are those of the result's hits."""
        return cls(line=line, subject_id=result.subject.id,
                   subject_name=_masked(result.subject.name), decision=result.decision,
                   measure_ids=tuple(m.measure_id for m in result.measures),
                   record_ids=tuple(dict.fromkeys(h.record_id for h in result.hits)),
                   case_id=result.case_id,
                   non_binding_measure_ids=tuple(m.measure_id for m in result.measures if not m.binding))

    @classmethod
    def duplicate(cls, entry: BatchEntry, first_line: int) -> BatchRow:
        """The report row of an input row whose subject ``first_line`` already names."""
        return cls(line=entry.line, subject_id=identifiers.mask(entry.subject.id),
                   subject_name=_masked(entry.subject.name), decision="duplicate", measure_ids=(),
                   record_ids=(), duplicate_of=first_line)

    def cells(self) -> tuple[int, str, str, str, str, str, str]:
        """The values of :data:`REPORT_COLUMNS`; lists joined with ``;``, any id-like text masked.

        A duplicate's decision cell reads ``duplicate of line N``.
        """
        decision = self.decision if self.duplicate_of is None else f"duplicate of line {self.duplicate_of}"
        return (self.line, self.subject_id, self.subject_name, decision, ";".join(self.measure_ids),
                _masked(";".join(self.record_ids)), ";".join(self.non_binding_measure_ids))

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "subject_id": self.subject_id, "subject_name": self.subject_name,
                "decision": self.decision, "measure_ids": list(self.measure_ids),
                "record_ids": [_masked(r) for r in self.record_ids], "case_id": self.case_id,
                "duplicate_of": self.duplicate_of, "non_binding_measure_ids": list(self.non_binding_measure_ids)}


@dataclass(frozen=True)
class BatchSummary:
    """What :func:`run_batch` did.

    Attributes:
        source: the input file.
        report: the report written.
        matter_type: the matter every subject was checked for.
        revision: revision of the measure lists that answered.
        checked_at: time of the first check (None when no row could be checked).
        counts: subjects per decision, every decision present (each subject once).
        measure_counts: subjects per applied measure id, most frequent first.
        rejected: the rows not checked, in file order.
        cases_opened: how many cases the batch opened (after its report was written).
        seconds: wall time of reading, checking and writing.
        duplicates: the rows whose subject an earlier row names, in file order (not checked again).
        cases_existing: how many checks found their matter's case already open (it was not opened
            again; docs/cli.md).
        data_as_of: when each list type was last written to the store that answered (docs/failing-closed.md).
        cases_to_open: with ``open_cases``, the subjects with measures whose cases the batch opens once
            its report is written (opened or found open); None when cases were not asked for.
    """

    source: str
    report: str
    matter_type: str
    revision: str
    checked_at: dt.datetime | None
    counts: Mapping[str, int]
    measure_counts: Mapping[str, int]
    rejected: tuple[RejectedRow, ...]
    cases_opened: int
    seconds: float
    duplicates: tuple[DuplicateRow, ...] = ()
    cases_existing: int = 0
    data_as_of: Mapping[str, dt.datetime] = field(default_factory=dict)
    cases_to_open: int | None = None

    @property
    def total(self) -> int:
        """Subjects checked (rejected rows not included)."""
        return sum(self.counts.values())

    @property
    def flagged(self) -> int:
        """Subjects whose decision is not ``clear``."""
        return self.total - self.counts.get("clear", 0)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "report": self.report, "matter_type": self.matter_type,
                "revision": self.revision,
                "checked_at": self.checked_at.isoformat() if self.checked_at else None,
                "total": self.total, "flagged": self.flagged, "counts": dict(self.counts),
                "measure_counts": dict(self.measure_counts),
                "rejected": [r.to_dict() for r in self.rejected], "cases_opened": self.cases_opened,
                "seconds": round(self.seconds, 3), "duplicates": [d.to_dict() for d in self.duplicates],
                "cases_existing": self.cases_existing, "cases_to_open": self.cases_to_open,
                "data_as_of": {list_type: iso_time(when) for list_type, when in self.data_as_of.items()}}


def _masked(text: str) -> str:
    """``text`` with resident ids masked, spaced and full-width ones too (mask_text returns text
    without a long run of digits as it is, quickly)."""
    return identifiers.mask_text(text)
