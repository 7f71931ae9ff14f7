"""The library's errors, one hierarchy.

::

    JointSanctionsError
    ├── MeasureListError        measure lists that do not load or lint (carries every Problem)
    ├── IdentifierError         a USCC or resident id that is not valid (message names the rule broken)
    ├── CheckError              a check that cannot be answered (unknown matter type, bad subject)
    │   └── RuleEngineError     durable_rules failed inside a check (surfaced, never swallowed)
    ├── RecordError             credit records: bad import rows, unknown record id
    │   ├── ImportRowError      one bad row (line number and reason)
    │   └── UnreadableRecordError   a stored record holds a value the engine cannot read (``record_id``)
    ├── StoreError              the database could not be opened or used
    ├── CaseError               the closed loop: unknown case, refused transition, bad disposal
    │   ├── UnknownCaseError        no case has this id (``case_id``)
    │   ├── AmbiguousCaseError      a case id prefix that several cases share (``matches``)
    │   ├── TransitionError         the case's status does not allow the step (``case_id``, ``status``, ``action``)
    │   └── DisposalError           the disposal itself is invalid (unknown result, not_applied without reason)
    ├── DeliveryError           feedback delivery failed; raised as is, the sink is misconfigured
    │   │                           (bad URL, credentials refused): the run stops, records stay pending
    │   ├── RetryableDeliveryError  5xx, timeout, refused connection: try again later
    │   └── RejectedDeliveryError   the platform refused the record (4xx other than 409)
    └── BatchError              a batch refused as a whole (``code``: bad_header, too_large, ...;
                                    ``summary`` when its report was written but its cases were not opened)

Messages never contain an unmasked resident id: callers mask before they raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._masking import mask_text


class JointSanctionsError(Exception):
    """Base of every error this library raises on purpose."""


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in a measure list, with where it is.

    Problems sort by file, line and column so reports are stable.
    """

    path: str
    line: int
    col: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code}: {self.message}"


class MeasureListError(JointSanctionsError):
    """Measure lists that do not load; ``problems`` holds every one found, sorted."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class IdentifierError(JointSanctionsError, ValueError):
    """An identifier is not a valid USCC or resident id; the message says which rule failed."""


class CheckError(JointSanctionsError, ValueError):
    """A check cannot be answered as asked; ``code`` is stable (unknown_matter_type, invalid_subject, ...)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class RuleEngineError(CheckError):
    """The rule engine failed while evaluating a check (an action raised, the engine refused a fact)."""

    def __init__(self, message: str) -> None:
        super().__init__("rule_engine", message)


class RecordError(JointSanctionsError):
    """Credit records could not be stored or found."""


class ImportRowError(RecordError):
    """One row of an import file is bad; the others still load."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")


class UnreadableRecordError(RecordError):
    """A stored record holds a value the engine does not know (a row changed behind its back).

    Raised when the record is read, so a check of its subject never answers ``clear`` on data it
    could not read; other subjects keep checking. ``record_id`` and ``field`` name what is wrong.
    """

    def __init__(self, record_id: str, field: str, problem: str) -> None:
        self.record_id = record_id
        self.field = field
        super().__init__(mask_text(f"record {record_id!r} in the database is unreadable: {field}: {problem}; "
                                   f"no answer for its subject until it is corrected or re-imported "
                                   f"/ 数据库中的记录 {record_id} 无法读取，不能作出核查结论"))


class StoreError(JointSanctionsError):
    """The record/case database could not be opened or used."""


class CaseError(JointSanctionsError):
    """A case operation was refused (unknown case, refused transition, invalid disposal)."""


class UnknownCaseError(CaseError, LookupError):
    """No case has this id; ``case_id`` names it."""

    def __init__(self, case_id: str, hint: tuple[str, str] = ("", "")) -> None:
        self.case_id = case_id
        super().__init__(f"unknown case id {mask_text(case_id)!r}{hint[0]} / 案例不存在{hint[1]}")


class AmbiguousCaseError(CaseError, LookupError):
    """A case id prefix that several cases share; ``matches`` names them (the first few)."""

    def __init__(self, prefix: str, matches: tuple[str, ...]) -> None:
        self.prefix = prefix
        self.matches = matches
        super().__init__(f"case id prefix {mask_text(prefix)!r} is ambiguous; it matches "
                         f"{', '.join(matches)} / 案例编号前缀不唯一")


class TransitionError(CaseError):
    """The case's status does not allow the step asked for; nothing was changed.

    Attributes:
        case_id: the case.
        status: its status when the step was refused.
        action: the step refused (``dispose``, ``deliver``, ``reject``).
    """

    def __init__(self, case_id: str, status: str, action: str, detail: str = "") -> None:
        self.case_id = case_id
        self.status = status
        self.action = action
        super().__init__(f"case {case_id}: cannot {action} a case that is {status}"
                         + (f" ({detail})" if detail else "") + f" / 案例状态为 {status}，不能执行 {action}")


class DisposalError(CaseError, ValueError):
    """A disposal (处置) that cannot be recorded as given: unknown result, missing reason, bad field."""


class DeliveryError(JointSanctionsError):
    """Feedback could not be delivered."""


class RetryableDeliveryError(DeliveryError):
    """Delivery failed in a way that may pass later (5xx, timeout, refused connection)."""


class RejectedDeliveryError(DeliveryError):
    """The receiving platform refused the record; it is kept visible and not retried silently."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class BatchError(JointSanctionsError):
    """A batch refused as a whole; ``code`` is stable.

    Codes: ``unsupported_file`` (input extension), ``unreadable`` (missing file, not UTF-8, not a
    workbook), ``bad_header`` (missing, unknown or repeated columns), ``empty_batch`` (a header and no
    row), ``unsupported_report`` (report extension), ``too_many_rows`` (more rows than an XLSX sheet
    holds), ``too_large`` (an input past a reading limit: an XLSX part over ``max_input_mb``, more rows
    or cells than a sheet holds, a CSV line over 16 MiB), ``unsafe`` (an XLSX with a DTD),
    ``bad_report_path`` (the report path is a folder, in a missing or unwritable folder),
    ``report_is_input`` (the report path names the input file), ``unwritable`` (writing the report
    failed; nothing was written and no case opened), ``cases_not_opened`` (the report was written but
    the database refused the cases: none was opened; ``summary`` tells what the batch found).

    Attributes:
        summary: for ``cases_not_opened``, the batch's summary (no case counted as opened); else None.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        # A BatchSummary; typed loosely because this module imports no stage (stages import it).
        self.summary: Any = None
        super().__init__(mask_text(message))
