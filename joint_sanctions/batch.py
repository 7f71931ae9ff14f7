"""Batch verification (docs/cli.md ``batch``): a list of subjects in, a report out.

::

    open_batch(FILE)      header checked at once; rows read lazily, each a BatchEntry or a RejectedRow
      → run_batch(...)    good rows checked with Engine.check_many, in chunks; bad rows kept with their line;
                          a subject met again (ids compared normalised) is not checked again: its row
                          says which line it duplicates
      → report writer     chosen by the output extension (.csv, .xlsx, .html), fed row by row

Rows stream from the input file through the engine into the writer, so a million subjects need
little memory (the HTML report keeps only the flagged rows, which it lists; finding duplicates keeps
each distinct id and its line, about 130 MB per million subjects; ``open_cases`` keeps the results
of the subjects with measures).

A batch is atomic with its report (docs/failing-closed.md "Hostile input"):

- the report path is checked before anything else (:func:`check_report_path`): a known extension,
  not a folder, in a folder that exists (a batch creates none) and is writable, and never the input
  file itself (the same file by any path, symlink or hard link);
- the report is written to a temporary file that ``tempfile.mkstemp`` creates in the target folder
  (an unpredictable name, ``O_EXCL``: a planted file or symlink is never opened), flushed to disk and
  renamed over the target only when complete. A symlink at the target is replaced by the report, never
  written through. The report is readable by its owner only (mode 0600), as it names subjects;
- the checks open no case: with ``open_cases`` the cases are opened once the report is in place, all
  in one transaction (:meth:`CaseBook.open_cases`). If the database refuses one, none is opened, the
  report stays and :class:`BatchError` ``cases_not_opened`` says so; a rerun opens each matter's case
  once (a responded case of the same matter is found, not duplicated). So the report cannot carry
  case ids: it says how many cases are to be opened (``joint-sanctions cases list --subject ID``).

Every text cell of every report shows control characters (C0, DEL, C1, line and paragraph separators,
bidirectional overrides) as ``\\x1b``-style escapes, which XLSX could not hold and a terminal or browser
would act on; a CSV or XLSX cell that would start a formula (``= + - @``, tab, CR) gets a leading
apostrophe; resident ids are masked, the input file's name included.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import html
import io
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, Self

import openpyxl
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from . import _tabular, identifiers
from ._text import escape_controls
from .cases import CaseBook
from .check import CST, CaseRecorder, Engine, MatterLike, coerce_matter, coerce_subject
from .errors import IdentifierError, JointSanctionsError
from .models import CheckResult, Subject, iso_time
from .vocabulary import DECISIONS, EFFECTS, MATTER_TYPES, SUBJECT_TYPES

__all__ = [
    "INPUT_COLUMNS",
    "REPORT_COLUMNS",
    "REPORT_FORMATS",
    "BatchEntry",
    "BatchError",
    "BatchRow",
    "BatchSource",
    "BatchSummary",
    "DuplicateRow",
    "RejectedRow",
    "check_report_path",
    "open_batch",
    "report_format",
    "run_batch",
]

#: Columns an input file may have; the first two are required (docs/cli.md).
INPUT_COLUMNS: tuple[str, ...] = ("subject_id", "subject_name", "subject_type", "legal_representative_id")
_REQUIRED_COLUMNS = INPUT_COLUMNS[:2]
#: Columns of the CSV report and of the XLSX results sheet, in this order (docs/cli.md).
REPORT_COLUMNS: tuple[str, ...] = ("line", "subject_id", "subject_name", "decision", "measure_ids",
                                   "record_ids")
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
        self.summary: BatchSummary | None = None
        super().__init__(identifiers.mask_text(message))


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

    @classmethod
    def from_result(cls, line: int, result: CheckResult) -> BatchRow:
        """The report row of a check result; record ids are those of the result's hits."""
        return cls(line=line, subject_id=result.subject.id,
                   subject_name=_masked(result.subject.name), decision=result.decision,
                   measure_ids=tuple(m.measure_id for m in result.measures),
                   record_ids=tuple(dict.fromkeys(h.record_id for h in result.hits)),
                   case_id=result.case_id)

    @classmethod
    def duplicate(cls, entry: BatchEntry, first_line: int) -> BatchRow:
        """The report row of an input row whose subject ``first_line`` already names."""
        return cls(line=entry.line, subject_id=identifiers.mask(entry.subject.id),
                   subject_name=_masked(entry.subject.name), decision="duplicate", measure_ids=(),
                   record_ids=(), duplicate_of=first_line)

    def cells(self) -> tuple[int, str, str, str, str, str]:
        """The values of :data:`REPORT_COLUMNS`; lists joined with ``;``, any id-like text masked.

        A duplicate's decision cell reads ``duplicate of line N``.
        """
        decision = self.decision if self.duplicate_of is None else f"duplicate of line {self.duplicate_of}"
        return (self.line, self.subject_id, self.subject_name, decision, ";".join(self.measure_ids),
                _masked(";".join(self.record_ids)))

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "subject_id": self.subject_id, "subject_name": self.subject_name,
                "decision": self.decision, "measure_ids": list(self.measure_ids),
                "record_ids": [_masked(r) for r in self.record_ids], "case_id": self.case_id,
                "duplicate_of": self.duplicate_of}


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


# --- reading ----------------------------------------------------------------------------------------


class BatchSource:
    """An opened input file: its header is checked, its rows are read when iterated (once).

    Use :func:`open_batch` to get one; close it (or use it as a context manager) when done.

    Attributes:
        path: the file.
        columns: the header, lower-cased, in file order.
        estimated_rows: data rows the file seems to hold (for a progress bar; not exact), or None.
    """

    def __init__(self, path: str, columns: list[str], estimated_rows: int | None,
                 cells: Iterator[tuple[int, Sequence[object]]], close: Callable[[], object], *,
                 text_cells: bool = False) -> None:
        self.path = path
        self.columns = columns
        self.estimated_rows = estimated_rows
        self._cells = cells
        self._close = close
        self._text_cells = text_cells  # CSV: every cell a str, its length checked here

    def __iter__(self) -> Iterator[BatchEntry | RejectedRow]:
        try:
            for line, cells in self._cells:
                if all(_blank(cell) for cell in cells):
                    continue
                if self._text_cells and max(map(len, cells)) > _tabular.FIELD_MAX:  # type: ignore[arg-type]
                    reason = _tabular.long_field(self.columns, cells)  # type: ignore[arg-type]
                    yield _rejected(line, f"{reason} / 字段超过 1 MiB")
                    continue
                yield _entry(line, self.columns, cells)
        except UnicodeDecodeError as exc:
            raise _not_utf8(self.path, exc) from exc
        except csv.Error as exc:
            raise BatchError("unreadable", f"{self.path}: {exc}") from exc
        except _tabular.Refused as exc:
            raise BatchError(exc.code, f"{self.path}: {exc}") from exc

    def close(self) -> None:
        self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_batch(path: str | os.PathLike[str], *, max_input_mb: int = _tabular.DEFAULT_MAX_INPUT_MB) -> BatchSource:
    """Open a CSV (UTF-8, BOM or not) or XLSX (first sheet) list of subjects and check its header.

    The header holds ``subject_id`` and ``subject_name`` and may hold ``subject_type`` and
    ``legal_representative_id``, in any order (case and surrounding spaces ignored). A workbook is
    checked whole first (docs/failing-closed.md: the unpacked size of every part, DTDs, rows and cells); a CSV
    field over 1 MiB rejects its row only.

    Args:
        path: the list.
        max_input_mb: the most an XLSX part may unpack to, in MiB (1 to 16384).

    Raises:
        BatchError: unsupported extension, unreadable file, a workbook over the limits (``too_large``)
            or with a DTD (``unsafe``), or a header with missing, unknown or repeated columns (all
            named in one message).
        ValueError: ``max_input_mb`` out of range.
    """
    _tabular.max_input_bytes(max_input_mb)
    name = os.fspath(path)
    ext = os.path.splitext(name)[1].lower()
    if ext not in _INPUT_FORMATS:
        raise BatchError("unsupported_file", f"{name}: unsupported input file type {ext or '(none)'!r}; "
                                             "use .csv or .xlsx / 仅支持 .csv 或 .xlsx 名单文件")
    try:
        return _open_csv(name) if ext == ".csv" else _open_xlsx(name, max_input_mb)
    except UnicodeDecodeError as exc:
        raise _not_utf8(name, exc) from exc
    except _tabular.Refused as exc:
        raise BatchError(exc.code, f"{name}: {exc}") from exc
    except OSError as exc:
        raise BatchError("unreadable", f"{name}: cannot read the file: {exc.strerror or exc} "
                                       "/ 无法读取文件") from exc


def _not_utf8(path: str, exc: UnicodeDecodeError) -> BatchError:
    # Excel on Chinese Windows saves "CSV" in GBK; its "CSV UTF-8" choice is what we read.
    return BatchError("unreadable", f"{path}: not UTF-8 text (byte {exc.start}); save it as CSV UTF-8 "
                                    "/ 文件不是 UTF-8 编码，请另存为“CSV UTF-8”")


def _open_csv(path: str) -> BatchSource:
    estimate = _count_lines(path)
    # utf-8-sig drops the BOM Excel writes; newline="" lets csv handle line breaks inside quotes.
    file = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed by the source
    try:
        reader = csv.reader(_tabular.capped_lines(file))
        columns = _header(path, next(reader, None))
    except BaseException:
        file.close()
        raise

    def cells() -> Iterator[tuple[int, Sequence[object]]]:
        start = reader.line_num + 1
        for row in reader:
            # line_num counts physical lines, so a quoted value spanning lines keeps numbers right.
            line, start = start, reader.line_num + 1
            yield line, row

    return BatchSource(path, columns, max(estimate - 1, 0), cells(), file.close, text_cells=True)


def _count_lines(path: str) -> int:
    """Line breaks in the file: a cheap row estimate (a quoted line break counts one too many)."""
    count = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def _not_a_workbook(path: str, exc: BaseException) -> BatchError:
    return BatchError("unreadable", f"{path}: not a readable XLSX workbook ({exc}) / 不是有效的 XLSX 工作簿")


def _open_xlsx(path: str, max_input_mb: int) -> BatchSource:
    _tabular.check_xlsx(path, max_input_mb)
    # Opened here, not by openpyxl: load_workbook leaves its own file open when the workbook fails.
    file = open(path, "rb")  # noqa: SIM115 - closed by the source, or below on failure
    try:
        # data_only: a formula cell gives the value Excel last computed, not the formula text.
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except _tabular.XLSX_ERRORS as exc:
        file.close()
        raise _not_a_workbook(path, exc) from exc
    except BaseException:
        file.close()
        raise

    def close() -> None:
        workbook.close()
        file.close()

    try:
        sheet = workbook.worksheets[0]
        stated = sheet.max_row
        # Some writers store a wrong sheet size, which would cut rows short in read-only mode.
        sheet.reset_dimensions()
        rows = _guarded(path, sheet.iter_rows(values_only=True))
        columns = _header(path, next(rows, None))
    except _tabular.XLSX_ERRORS as exc:
        close()
        raise _not_a_workbook(path, exc) from exc
    except BaseException:
        close()
        raise
    estimate = stated - 1 if isinstance(stated, int) and stated > 1 else None
    return BatchSource(path, columns, estimate, enumerate(rows, start=2), close)


def _guarded(path: str, rows: Iterator[tuple[object, ...]]) -> Iterator[tuple[object, ...]]:
    """``rows`` with openpyxl's errors on XML it cannot read turned into a BatchError."""
    try:
        yield from rows
    except _tabular.XLSX_ERRORS as exc:
        raise _not_a_workbook(path, exc) from exc


def _header(path: str, cells: Sequence[object] | None) -> list[str]:
    """Column names of the header row, checked; every problem named in one message."""
    wanted = ", ".join(INPUT_COLUMNS)
    if cells is None:
        raise BatchError("bad_header", f"{path}: empty file; the first line must be the header "
                                       f"subject_id, subject_name (optional: subject_type, "
                                       f"legal_representative_id) / 文件为空，首行应为表头")
    names = ["" if cell is None else str(cell).strip().lower() for cell in cells]
    while names and names[-1] == "":  # spreadsheets and trailing commas leave empty header cells
        names.pop()
    problems = []
    if missing := [name for name in _REQUIRED_COLUMNS if name not in names]:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown := [name for name in names if name not in INPUT_COLUMNS]:
        problems.append(f"unknown columns: {', '.join(repr(name) for name in unknown)}")
    if repeated := sorted({name for name in names if name in INPUT_COLUMNS and names.count(name) > 1}):
        problems.append(f"repeated columns: {', '.join(repeated)}")
    if problems:
        raise BatchError("bad_header", f"{path}: {'; '.join(problems)} (allowed: {wanted}; required: "
                                       f"subject_id, subject_name) / 表头有误")
    return names


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _entry(line: int, columns: Sequence[str], cells: Sequence[object]) -> BatchEntry | RejectedRow:
    """Validate one row; every problem of the row goes into one reason."""
    if any(not _blank(cell) for cell in cells[len(columns):]):
        return _rejected(line, f"{len(cells)} fields, the header has {len(columns)} "
                               f"/ 字段数 {len(cells)} 与表头 {len(columns)} 不符")
    values = dict(zip(columns, cells, strict=False))
    problems: list[str] = []
    subject: dict[str, Any] = {"name": _text(values.get("subject_name"))}
    if "\x00" in subject["name"]:
        # No PostgreSQL text holds a NUL, so its case could not be stored: refused here, visibly.
        problems.append("subject_name: contains a NUL character / 名称含有 NUL 字符")

    subject_id = _identifier("subject_id", values.get("subject_id"), problems)
    if subject_id is not None:
        subject["id"] = subject_id
    if kind := _text(values.get("subject_type")):
        subject_type = kind if kind in SUBJECT_TYPES else _SUBJECT_TYPE_BY_NAME.get(kind)
        if subject_type is None:
            problems.append(f"unknown subject_type {kind[:40]!r} "
                            f"(expected one of {', '.join(SUBJECT_TYPES)})")
        subject["subject_type"] = subject_type
    if not _blank(values.get("legal_representative_id")):
        rep = _identifier("legal_representative_id", values.get("legal_representative_id"), problems)
        if rep is not None and identifiers.parse_identifier(rep)[1] != "resident_id":
            problems.append("legal_representative_id: a legal representative is a person; give a resident "
                            "id (居民身份证号码), not a USCC")
        elif rep is not None and rep != subject_id:
            subject["related_parties"] = ({"role": "legal_representative", "id": rep},)
    if problems:
        return _rejected(line, "; ".join(problems))
    return BatchEntry(line, coerce_subject(subject))  # ids checked above: built without re-validation


def _text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # a number typed into a name cell comes back as 12.0
    return str(cell).strip()


def _identifier(column: str, cell: object, problems: list[str]) -> str | None:
    """The normalised id in ``cell``, or None with the problem added."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        # Excel keeps 15 significant digits: an 18-digit id stored as a number has lost digits.
        problems.append(f"{column}: stored as a number in the workbook, so digits may be lost; format the "
                        "column as text / 证件号码被存为数字，请将该列设为文本格式")
        return None
    text = _text(cell)
    if not text:
        problems.append(f"{column}: missing / 缺少证件号码")
        return None
    try:
        return identifiers.parse_identifier(text)[0]
    except IdentifierError as exc:
        problems.append(f"{column}: {exc}")
        return None


def _masked(text: str) -> str:
    """``text`` with resident ids masked, spaced and full-width ones too (mask_text returns text
    without a long run of digits as it is, quickly)."""
    return identifiers.mask_text(text)


def _rejected(line: int, reason: str) -> RejectedRow:
    # One line, and never a resident id in clear: reasons end up on terminals and in reports.
    return RejectedRow(line, identifiers.mask_text(" ".join(reason.split())))


# --- checking ---------------------------------------------------------------------------------------


def report_format(path: str | os.PathLike[str]) -> str:
    """The report format named by ``path``'s extension (``.csv``, ``.html`` or ``.xlsx``).

    Raises:
        BatchError: any other extension (code ``unsupported_report``).
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in REPORT_FORMATS:
        raise BatchError("unsupported_report",
                         f"{os.fspath(path)}: unsupported report type {ext or '(none)'!r}; use "
                         f"{', '.join(REPORT_FORMATS)} / 报告文件须为 .csv、.xlsx 或 .html")
    return ext


def check_report_path(out: str | os.PathLike[str],
                      source: str | os.PathLike[str] | None = None) -> Path:
    """Check that a batch can write its report to ``out``, before any row is read or checked.

    ``out`` must have a report extension (:data:`REPORT_FORMATS`), not be a folder, and lie in a
    folder that exists (a batch creates none) and that this process may write to. With ``source``,
    ``out`` must not be that file by any path: the same path spelt otherwise, a symlink to it or a hard
    link of it (the report would replace the list it comes from).

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        BatchError: ``unsupported_report``, ``bad_report_path`` or ``report_is_input``, one line.
    """
    report_format(out)
    target = Path(out)
    folder = target.parent
    if target.is_dir():
        raise BatchError("bad_report_path", f"{target}: is a folder; give a report file name ending in "
                                            f"{', '.join(REPORT_FORMATS)} / 报告路径是文件夹，请给出报告文件名")
    if not folder.is_dir():
        raise BatchError("bad_report_path", f"{target}: the folder {folder} does not exist (a batch creates "
                                            "no folder) / 报告所在文件夹不存在")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BatchError("bad_report_path", f"{target}: cannot write to the folder {folder} "
                                            "/ 无权写入报告所在文件夹")
    if source is not None and _same_file(target, Path(source)):
        raise BatchError("report_is_input", f"{target}: the report would replace the input file "
                                            f"{os.fspath(source)}; choose another report path "
                                            "/ 报告路径即名单文件本身，请另选报告路径")
    return target


def _same_file(target: Path, source: Path) -> bool:
    """Whether ``target`` names ``source`` (the same inode, or the same resolved path)."""
    try:
        if target.exists() and source.exists() and os.path.samefile(target, source):
            return True
        return target.resolve() == source.resolve()
    except (OSError, RuntimeError):  # a symlink loop or an unreadable path: not the input, as far as seen
        return False


def run_batch(engine: Engine, source: BatchSource | str | os.PathLike[str], matter: MatterLike,
              out: str | os.PathLike[str], *, open_cases: bool = False,
              progress: Callable[[int], object] | None = None, **matter_fields: Any) -> BatchSummary:
    """Check every good row of ``source`` for ``matter`` and write the report ``out``.

    Each subject is checked once: a row naming a subject that an earlier row names (ids compared
    normalised, so a lower-case USCC or a resident id ending in ``x`` is the same subject) is reported
    as a duplicate of that row. The report path is checked first (:func:`check_report_path`); the
    report appears complete or not at all. With ``open_cases``, the cases are opened only once the
    report is in place, in one transaction when the engine opens its cases in a :class:`CaseBook` (the
    default): all or none. A subject whose matter already has a responded case gets that case again
    (counted in ``cases_existing``), so a re-run batch opens nothing new.

    Args:
        engine: answers the checks (its clock, store and measure lists) and opens the cases (in the
            case recorder it was built with; an engine built with ``cases=False`` opens none).
        source: an opened :class:`BatchSource` (left open) or a path (opened and closed here).
        matter: a matter-type id, a :class:`~joint_sanctions.models.Matter` or a mapping.
        out: the report; its extension chooses the format (see :data:`REPORT_FORMATS`).
        open_cases: open a case for each subject with measures (docs/case-feedback-v1.md: batches open none
            unless asked).
        progress: called with the number of input rows handled so far, now and then and at the end.
        **matter_fields: what the host knows of the matter (see :meth:`Engine.check`).

    Returns:
        The counts, rejected rows and where the report went.

    Raises:
        BatchError: a report path refused (nothing read), an unreadable input, bad header, empty batch,
            more rows than an XLSX sheet holds or a report that could not be written (no report is
            written then, and no case opened); ``cases_not_opened`` when the report was written but the
            database refused the cases (none was opened).
        CheckError: unknown matter type.
    """
    target = check_report_path(out, source.path if isinstance(source, BatchSource) else source)
    fmt = report_format(out)
    mat = coerce_matter(matter, matter_fields)  # a bad matter is the batch's fault, not each row's
    if not isinstance(source, BatchSource):
        with open_batch(source) as opened:
            return run_batch(engine, opened, mat, out, open_cases=open_cases, progress=progress)
    started = time.perf_counter()
    # The checks open no case: cases are opened from these results once the report is in place.
    recorder: CaseRecorder | None = engine._cases if open_cases else None  # the engine's own
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _unwritable(target, exc) from exc
    file = os.fdopen(fd, "wb")
    writer: _Writer | None = None
    rejected: list[RejectedRow] = []
    pending: list[BatchEntry] = []
    # The rows since the last chunk in file order: entries to check and duplicates' finished rows.
    queued: list[BatchEntry | BatchRow] = []
    first_lines: dict[str, int] = {}
    duplicates: list[DuplicateRow] = []
    seen = 0
    try:
        try:
            writer = _WRITERS[fmt](file)
        except OSError as exc:
            raise _unwritable(target, exc) from exc
        tally = _Tally(writer, target, keep_cases=recorder is not None)
        for item in source:
            seen += 1
            if isinstance(item, RejectedRow):
                rejected.append(item)
                continue
            first = first_lines.setdefault(item.subject.id, item.line)
            if first != item.line:
                duplicates.append(DuplicateRow(item.line, first))
                queued.append(BatchRow.duplicate(item, first))
                continue
            pending.append(item)
            queued.append(item)
            if len(pending) == _CHUNK:
                tally.add(queued, engine.check_many([e.subject for e in pending], mat, open_case=False))
                pending.clear()
                queued.clear()
                if progress is not None:
                    progress(seen)
        if queued:
            tally.add(queued, engine.check_many([e.subject for e in pending], mat, open_case=False)
                      if pending else [])
        if seen == 0:
            raise BatchError("empty_batch", f"{source.path}: the batch is empty (a header and no rows) "
                                            "/ 名单为空：只有表头，没有数据行")
        if progress is not None:
            progress(seen)
        summary = BatchSummary(
            source=source.path, report=str(target), matter_type=mat.matter_type, revision=engine.revision,
            checked_at=tally.first_check, counts=dict(tally.counts),
            measure_counts=dict(tally.measures.most_common()), rejected=tuple(rejected),
            cases_opened=0, seconds=time.perf_counter() - started,
            duplicates=tuple(duplicates), cases_existing=0,
            data_as_of=tally.data_as_of if tally.first_check else engine.data_as_of,
            cases_to_open=len(tally.to_open) if recorder is not None else None)
        try:
            writer.finish(summary, _measure_info(engine))
            file.flush()
            os.fsync(file.fileno())  # the rename below must not publish a report still in the page cache
            file.close()
            os.replace(temporary, target)
        except OSError as exc:
            raise _unwritable(target, exc) from exc
    except BaseException:
        if writer is not None:
            writer.abort()
        with contextlib.suppress(OSError):  # a full disk fails the flush of close too; that error is known
            file.close()
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if recorder is not None and tally.to_open:
        new, existing = _open_cases(recorder, tally.to_open, summary)
        summary = dataclasses.replace(summary, cases_opened=new, cases_existing=existing,
                                      seconds=time.perf_counter() - started)
    return summary


def _unwritable(target: Path, exc: OSError) -> BatchError:
    return BatchError("unwritable", f"{target}: cannot write the report: {exc.strerror or exc}; nothing was "
                                    "written and no case opened / 无法写入报告，未发起任何案例")


def _open_cases(recorder: CaseRecorder, checked: Sequence[tuple[CheckResult, Subject]],
                summary: BatchSummary) -> tuple[int, int]:
    """Open the batch's cases: ``(opened now, found already open)``.

    Raises:
        BatchError: ``cases_not_opened``, with ``summary`` attached, when the recorder refused them.
    """
    done = 0
    try:
        if isinstance(recorder, CaseBook):
            flags = [opened for _, opened in recorder.open_cases(checked)]
            return sum(flags), len(flags) - sum(flags)
        # A recorder of the host's own has no batch insert: one call per case, so not all-or-nothing.
        for result, subject in checked:
            recorder.open_case(result, subject)
            done += 1
        return done, 0
    except Exception as exc:  # whatever refused them, the report stands and this is said
        what = "no case was opened" if done == 0 else f"only {done} of {len(checked)} case(s) were opened"
        error = BatchError("cases_not_opened",
                           f"{summary.report}: the report was written, but {what}: {' '.join(str(exc).split())}"
                           f" / 报告已写出，但案例未能发起（{'未发起任何案例' if done == 0 else f'仅发起 {done} 个'}）")
        error.summary = summary
        raise error from exc


class _Tally:
    """Counts what the checks answered and hands each row to the report writer.

    Args:
        writer: the report writer.
        target: the report, to name in an error.
        keep_cases: keep the result and subject of each subject with measures, to open its case once
            the report is written (only those: a clear result is counted and let go).
    """

    def __init__(self, writer: _Writer, target: Path, keep_cases: bool = False) -> None:
        self.writer = writer
        self.target = target
        self.keep_cases = keep_cases
        self.counts: Counter[str] = Counter({decision: 0 for decision in _DECISION_ORDER})
        self.measures: Counter[str] = Counter()
        self.to_open: list[tuple[CheckResult, Subject]] = []
        self.first_check: dt.datetime | None = None
        self.data_as_of: Mapping[str, dt.datetime] = {}

    def add(self, queued: Sequence[BatchEntry | BatchRow], results: Sequence[CheckResult]) -> None:
        """Write ``queued`` in order: entries with their results (in the same order), duplicates as they are."""
        try:
            self._add(queued, results)
        except OSError as exc:  # only the writer does I/O here: the checks were answered before
            raise _unwritable(self.target, exc) from exc

    def _add(self, queued: Sequence[BatchEntry | BatchRow], results: Sequence[CheckResult]) -> None:
        answers = iter(results)
        for item in queued:
            if isinstance(item, BatchRow):
                self.writer.add(item)
                continue
            result = next(answers)
            row = BatchRow.from_result(item.line, result)
            if self.first_check is None:
                self.first_check, self.data_as_of = result.checked_at, result.data_as_of
            self.counts[row.decision] += 1
            self.measures.update(row.measure_ids)
            if self.keep_cases and result.measures:
                self.to_open.append((result, item.subject))
            self.writer.add(row)
        if next(answers, None) is not None:
            raise RuntimeError("more results than rows to check")  # a bug of run_batch, never input


@dataclass(frozen=True)
class _MeasureInfo:
    name: str
    effect: str
    mandatory: bool
    basis: str
    confirmed: bool


def _measure_info(engine: Engine) -> dict[str, _MeasureInfo]:
    info = {}
    for measure_id, compiled in engine.compiled.measures.items():
        m = compiled.measure
        basis = "；".join(f"《{b.document}》{b.number}{b.article}" for b in m.legal_basis)
        info[measure_id] = _MeasureInfo(m.name, m.effect, m.mandatory, basis, m.basis_status == "confirmed")
    return info


# --- report writers ---------------------------------------------------------------------------------


class _Writer(Protocol):
    def add(self, row: BatchRow) -> None: ...

    def finish(self, summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> None: ...

    def abort(self) -> None: ...


# What a report shows escaped is what the CLI escapes on a terminal (XLSX, XML 1.0, cannot hold most
# C0 controls at all; a cell is one line): one set, in _text.
_visible = escape_controls


def _plain(value: str) -> str:
    """Text that a spreadsheet shows as typed instead of running it as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _cell(value: str) -> str:
    """User-controlled text as a CSV or XLSX cell: controls escaped, never the start of a formula."""
    return _plain(_visible(value))


class _CsvWriter:
    """UTF-8 with BOM so that Excel opens it with the Chinese intact."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(REPORT_COLUMNS)

    def add(self, row: BatchRow) -> None:
        line, subject_id, name, decision, measure_ids, record_ids = row.cells()
        # Ids and decisions are validated or fixed text; names and record ids are whatever was imported.
        self._csv.writerow((line, subject_id, _cell(name), decision, measure_ids, _cell(record_ids)))

    def finish(self, summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> None:
        self._file.flush()
        self._file.detach()  # the binary file is run_batch's to sync and close

    def abort(self) -> None:
        # Already detached, or the flush that detaching does fails: the error being handled is the one to report.
        with contextlib.suppress(ValueError, OSError):
            self._file.detach()


_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
_DECISION_FILLS = {"prohibited": "F8D7DA", "restricted": "FDE2C8", "review": "FFF3CD", "clear": "D1E7DD"}


class _XlsxWriter:
    """The results sheet (the CSV columns), then a summary sheet; streamed (openpyxl write-only)."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._book = openpyxl.Workbook(write_only=True)
        self._sheet: WriteOnlyWorksheet = self._book.create_sheet("核查结果 Results")
        for column, width in zip("ABCDEF", (8, 22, 36, 12, 40, 40), strict=True):
            self._sheet.column_dimensions[column].width = width
        self._sheet.freeze_panes = "A2"
        self._sheet.append(self._heading(self._sheet, REPORT_COLUMNS))
        self._rows = 1
        self._fills = {d: PatternFill("solid", fgColor=c) for d, c in _DECISION_FILLS.items()}

    def add(self, row: BatchRow) -> None:
        self._rows += 1
        if self._rows > _XLSX_MAX_ROWS:
            raise BatchError("too_many_rows", f"more than {_XLSX_MAX_ROWS - 1} subjects do not fit in one "
                                              "XLSX sheet; write a .csv report / 超出 XLSX 行数上限，请输出 .csv")
        line, subject_id, name, decision, measure_ids, record_ids = row.cells()
        cells: list[object] = [line, subject_id, self._text(self._sheet, name), decision, measure_ids,
                               self._text(self._sheet, record_ids)]
        if row.decision != "clear" and row.duplicate_of is None:
            cells[3] = cell = WriteOnlyCell(self._sheet, value=decision)
            cell.fill = self._fills[decision]
        self._sheet.append(cells)

    @staticmethod
    def _text(sheet: WriteOnlyWorksheet, value: str) -> object:
        """User-controlled text as a string cell: controls escaped, a formula start behind an apostrophe
        (as in the CSV report; openpyxl would store text starting with ``=`` as a formula)."""
        return _cell(value)

    def _row(self, sheet: WriteOnlyWorksheet, values: Sequence[object]) -> list[object]:
        return [self._text(sheet, value) if isinstance(value, str) else value for value in values]

    def finish(self, summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> None:
        sheet = self._book.create_sheet("汇总 Summary")
        sheet.column_dimensions["A"].width = 34
        sheet.column_dimensions["B"].width = 60
        sheet.column_dimensions["C"].width = 14
        sheet.append(self._heading(sheet, ("项目 Item", "值 Value", "")))
        for label, value in _overview(summary):
            sheet.append(self._row(sheet, (label, value)))
        sheet.append([])
        sheet.append(self._heading(sheet, ("结论 Decision", "中文", "主体数 Subjects")))
        for decision in _DECISION_ORDER:
            sheet.append([decision, DECISIONS[decision], summary.counts.get(decision, 0)])
        sheet.append(["flagged (≠ clear)", "需关注", summary.flagged])
        if summary.measure_counts:
            sheet.append([])
            sheet.append(self._heading(sheet, ("措施 Measure", "名称 Name", "主体数 Subjects")))
            for mid, count in summary.measure_counts.items():
                sheet.append(self._row(sheet, (mid, measures[mid].name if mid in measures else "", count)))
        if summary.rejected:
            sheet.append([])
            sheet.append(self._heading(sheet, ("被拒绝的行 Rejected line", "原因 Reason", "")))
            for rejected in summary.rejected:
                sheet.append(self._row(sheet, (rejected.line, rejected.reason)))
        if summary.duplicates:
            sheet.append([])
            sheet.append(self._heading(sheet, ("重复的行 Duplicate line", "与此行相同 Same subject as line", "")))
            for duplicate in summary.duplicates:
                sheet.append([duplicate.line, duplicate.first_line])
        self._book.save(self._file)

    @staticmethod
    def _heading(sheet: WriteOnlyWorksheet, names: Sequence[str]) -> list[Cell]:
        cells = []
        for name in names:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
            cell.alignment = Alignment(vertical="center")
            cells.append(cell)
        return cells

    def abort(self) -> None:
        # Finish the sheet's XML stream now: left to the garbage collector it raises inside openpyxl.
        # Best effort only: the error that made the batch fail is the one to report.
        with contextlib.suppress(Exception):
            self._sheet.close()


def _overview(summary: BatchSummary) -> list[tuple[str, object]]:
    when = "—"
    if summary.checked_at:  # shown in China Standard Time, where the check date was taken
        when = summary.checked_at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S (UTC+8)")
    return [
        ("事项类型 Matter type", f"{MATTER_TYPES[summary.matter_type]} ({summary.matter_type})"),
        ("名单文件 Source", _source_name(summary)),
        ("核查时间 Checked at", when),
        ("措施清单版本 Revision", summary.revision),
        ("数据截至 Data as of", _data_as_of(summary)),
        ("核查主体数 Subjects checked", summary.total),
        ("需关注 Flagged (decision ≠ clear)", summary.flagged),
        ("被拒绝的行 Rejected rows", len(summary.rejected)),
        ("重复的行 Duplicate rows (checked once)", len(summary.duplicates)),
        # Cases are opened once the report is in place, so it can only say how many are to be.
        ("待发起案例 Cases to open after this report (--open-cases)",
         "— (not asked / 未要求)" if summary.cases_to_open is None else summary.cases_to_open),
    ]


def _source_name(summary: BatchSummary) -> str:
    """The input file's name as reports show it: resident ids masked (escaping is the writer's)."""
    return identifiers.mask_text(os.path.basename(summary.source))


def _data_as_of(summary: BatchSummary) -> str:
    """Each list type and when it was last written, in China Standard Time like the check time."""
    return "; ".join(f"{list_type} {when.astimezone(CST).strftime('%Y-%m-%d %H:%M:%S')}"
                     for list_type, when in sorted(summary.data_as_of.items())) or "—"


_DECISION_COLOURS = {"prohibited": "#c0392b", "restricted": "#e67e22", "review": "#d4a017",
                     "clear": "#2e8b57"}


class _HtmlWriter:
    """A self-contained page: summary, charts (inline SVG), measures, flagged subjects, rejected rows.

    Only flagged rows are kept (and listed): clear subjects are counted, and all of them are in the
    CSV/XLSX reports.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._flagged: list[BatchRow] = []

    def add(self, row: BatchRow) -> None:
        if row.decision != "clear" and row.duplicate_of is None:
            self._flagged.append(row)

    def finish(self, summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> None:
        self._file.write(_render_html(summary, self._flagged, measures).encode("utf-8"))

    def abort(self) -> None:
        self._flagged.clear()


_WRITERS: dict[str, Callable[[IO[bytes]], _Writer]] = {".csv": _CsvWriter, ".xlsx": _XlsxWriter,
                                                  ".html": _HtmlWriter}

_CSS = """
:root { --ink:#1d2733; --muted:#5b6b7c; --line:#dde3ea; --bg:#f4f6f9; --accent:#1f4e79; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.55 system-ui,"Segoe UI",Roboto,"Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei",
       "Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Zen Hei","WenQuanYi Micro Hei",sans-serif; }
header { background:var(--accent); color:#fff; padding:22px 40px 18px; }
header h1 { margin:0 0 4px; font-size:24px; font-weight:600; }
header h1 span { font-weight:400; }
header p { margin:0; opacity:.85; font-size:13px; }
main { max-width:1180px; margin:0 auto; padding:24px 40px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 22px;
          margin:0 0 20px; }
h2 { font-size:17px; margin:0 0 12px; color:var(--accent); }
h2 small { color:var(--muted); font-weight:400; font-size:13px; margin-left:6px; }
.meta { display:grid; grid-template-columns:max-content 1fr; gap:4px 18px; margin:0; font-size:13.5px; }
.meta dt { color:var(--muted); } .meta dd { margin:0; word-break:break-all; }
.cards { display:grid; grid-template-columns:repeat(4,1fr); gap:14px; margin:0 0 16px; }
.card { border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
.card dt { color:var(--muted); font-size:13px; }
.card dd { margin:2px 0 0; font-size:30px; font-weight:700; }
.card.flag dd { color:#c0392b; } .card.rej dd { color:#8e44ad; }
.grid { display:grid; grid-template-columns:1fr 1fr; gap:22px; align-items:start; }
.caption { margin:0 0 6px; color:var(--muted); font-size:13px; }
table { border-collapse:collapse; width:100%; font-size:13.5px; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef2f7; font-weight:600; white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.badge { display:inline-block; padding:1px 9px; border-radius:10px; color:#fff; font-size:12px;
         white-space:nowrap; }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px; }
.mid, .ids { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:12.5px; }
.mid { color:var(--muted); white-space:nowrap; }
.empty { color:var(--muted); margin:0; }
.tag { display:inline-block; padding:0 6px; border:1px solid #c9d2dc; border-radius:4px; color:var(--muted);
       font-size:11.5px; white-space:nowrap; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:0 40px 30px; }
"""


def _esc(value: object) -> str:
    return html.escape(_visible(str(value)), quote=True)


def _table(headings: Sequence[str], rows: Sequence[str], empty: str) -> str:
    """A table with one header row (``#`` marks a numeric column), or a note when there are no rows."""
    if not rows:
        return f'<p class="empty">{_esc(empty)}</p>'
    head = "".join(f'<th class="num">{_esc(h[1:])}</th>' if h.startswith("#") else f"<th>{_esc(h)}</th>"
                   for h in headings)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _badge(decision: str) -> str:
    return (f'<span class="badge" style="background:{_DECISION_COLOURS[decision]}">'
            f"{_esc(DECISIONS[decision])} {decision}</span>")


def _bar_chart(summary: BatchSummary) -> str:
    """Flagged subjects per decision, scaled to the largest flagged count (clear would dwarf them)."""
    flagged = [d for d in _DECISION_ORDER if d != "clear"]
    top = max(summary.counts.get(d, 0) for d in flagged) or 1
    label_w, bar_w, row_h = 150, 330, 34
    parts = [(f'<svg role="img" aria-label="flagged subjects per decision" width="{label_w + bar_w + 70}" '
              f'height="{row_h * len(flagged) + 6}" xmlns="http://www.w3.org/2000/svg" font-size="13">')]
    for i, decision in enumerate(flagged):
        count = summary.counts.get(decision, 0)
        width = max(round(bar_w * count / top), 2) if count else 0  # a non-zero count stays visible
        y = i * row_h + 4
        parts.append(f'<text x="0" y="{y + 18}" fill="#1d2733">{_esc(DECISIONS[decision])} {decision}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="24" rx="4" fill="#eef2f7"/>'
                     f'<rect x="{label_w}" y="{y}" width="{width}" height="24" rx="4" '
                     f'fill="{_DECISION_COLOURS[decision]}"/>'
                     f'<text x="{label_w + bar_w + 8}" y="{y + 18}" font-weight="600">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _share_bar(summary: BatchSummary) -> str:
    """One 100 % bar: the share of each decision among all subjects checked."""
    total = summary.total or 1
    width, x = 480, 0.0
    parts = [(f'<svg role="img" aria-label="share of each decision" width="100%" height="26" '
              f'viewBox="0 0 {width} 26" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'),
             f'<rect x="0" y="0" width="{width}" height="26" rx="5" fill="#eef2f7"/>']
    for decision in _DECISION_ORDER:
        part = width * summary.counts.get(decision, 0) / total
        if part:
            parts.append(f'<rect x="{x:.2f}" y="0" width="{max(part, 1.5):.2f}" height="26" '
                         f'fill="{_DECISION_COLOURS[decision]}"/>')
            x += part
    parts.append("</svg>")
    return "".join(parts)


def _decision_rows(summary: BatchSummary) -> list[str]:
    total = summary.total or 1
    rows = []
    for decision in _DECISION_ORDER:
        count = summary.counts.get(decision, 0)
        rows.append(f'<tr data-decision="{decision}"><td><span class="swatch" '
                    f'style="background:{_DECISION_COLOURS[decision]}"></span>{_esc(DECISIONS[decision])} '
                    f'<span class="mid">{decision}</span></td><td class="num" data-count>{count}</td>'
                    f'<td class="num">{100 * count / total:.1f}%</td></tr>')
    return rows


def _measure_rows(summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> list[str]:
    rows = []
    for measure_id, count in summary.measure_counts.items():
        info = measures.get(measure_id)
        name = info.name if info else ""
        effect = EFFECTS[info.effect] + ("（强制）" if info.mandatory else "") if info else ""
        basis = _esc(info.basis if info else "")
        if not (info and info.confirmed):
            basis += ' <span class="tag">待核实 unconfirmed</span>'
        rows.append(f'<tr><td class="mid">{_esc(measure_id)}</td><td>{_esc(name)}</td><td>{_esc(effect)}</td>'
                    f'<td>{basis}</td><td class="num">{count}</td></tr>')
    return rows


def _flagged_rows(flagged: Sequence[BatchRow], measures: Mapping[str, _MeasureInfo]) -> list[str]:
    rows = []
    for row in flagged:
        applied = "<br>".join(f'<span class="mid">{_esc(m)}</span> {_esc(measures[m].name)}' if m in measures
                              else f'<span class="mid">{_esc(m)}</span>' for m in row.measure_ids)
        rows.append(f'<tr data-decision="{row.decision}"><td class="num">{row.line}</td>'
                    f'<td class="ids">{_esc(row.subject_id)}</td><td>{_esc(row.subject_name)}</td>'
                    f"<td>{_badge(row.decision)}</td><td>{applied}</td>"
                    f'<td class="ids">{_esc(_masked("; ".join(row.record_ids)))}</td></tr>')
    return rows


def _render_html(summary: BatchSummary, flagged: Sequence[BatchRow],
                 measures: Mapping[str, _MeasureInfo]) -> str:
    overview = _overview(summary)
    matter = f"{MATTER_TYPES[summary.matter_type]}（{summary.matter_type}）"
    meta = "".join(f"<dt>{_esc(label)}</dt><dd>{_esc(value)}</dd>"
                   for label, value in (*overview[:4], overview[-1]))
    decisions = _table(("结论 Decision", "#主体数 Subjects", "#占比 Share"), _decision_rows(summary), "")
    applied = _table(("编号 ID", "措施 Measure", "效力 Effect", "依据 Legal basis", "#主体数 Subjects"),
                     _measure_rows(summary, measures), "无适用措施 / no measure applied")
    listed = _table(("#行 Line", "证件号码 ID", "名称 Name", "结论 Decision", "措施 Measures", "记录 Records"),
                    _flagged_rows(flagged, measures), "无需关注的主体 / no subject flagged")
    rejected = ""
    if summary.rejected:
        rows = [f'<tr><td class="num">{r.line}</td><td>{_esc(r.reason)}</td></tr>' for r in summary.rejected]
        rejected = (f'<section id="rejected"><h2>被拒绝的行<small>Rejected rows — not checked; fix them and '
                    f'run again</small></h2>{_table(("#行 Line", "原因 Reason"), rows, "")}</section>')
    if summary.duplicates:
        rows = [f'<tr><td class="num">{d.line}</td><td class="num">{d.first_line}</td></tr>'
                for d in summary.duplicates]
        rejected += (f'<section id="duplicates"><h2>重复的行<small>Duplicate rows — the same subject as an '
                     f'earlier line, checked once</small></h2>'
                     f'{_table(("#行 Line", "#与此行相同 Same subject as line"), rows, "")}</section>')
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>联合奖惩批量核查报告 Batch credit check report — {_esc(matter)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>联合奖惩批量核查报告 <span>Batch credit check report</span></h1>
<p>{_esc(matter)} · {_esc(_source_name(summary))} · {_esc(overview[2][1])}</p>
</header>
<main>
<section id="summary">
<h2>汇总<small>Summary</small></h2>
<dl class="cards">
<div class="card"><dt>核查主体数 Subjects checked</dt><dd data-total>{summary.total}</dd></div>
<div class="card flag"><dt>需关注 Flagged (decision ≠ clear)</dt><dd data-flagged>{summary.flagged}</dd></div>
<div class="card rej"><dt>被拒绝的行 Rejected rows</dt><dd data-rejected>{len(summary.rejected)}</dd></div>
<div class="card"><dt>重复的行 Duplicate rows</dt><dd data-duplicates>{len(summary.duplicates)}</dd></div>
</dl>
<p class="caption" id="data-as-of">数据截至 Data as of (UTC+8): {_esc(_data_as_of(summary))}</p>
<div class="grid">
<div>{decisions}</div>
<div>
<p class="caption">各结论占比 Share of all subjects</p>
{_share_bar(summary)}
<p class="caption" style="margin-top:14px">需关注主体按结论 Flagged subjects by decision</p>
{_bar_chart(summary)}
</div>
</div>
</section>
<section id="details">
<h2>核查信息<small>About this batch</small></h2>
<dl class="meta">{meta}</dl>
</section>
<section id="measures">
<h2>适用措施<small>Measures applied</small></h2>
{applied}
</section>
<section id="flagged">
<h2>需关注主体<small>Flagged subjects ({summary.flagged}); clear subjects are in the CSV/XLSX report</small></h2>
{listed}
</section>
{rejected}
</main>
<footer>居民身份证号码已脱敏 Resident ids are masked · 依据待核实的措施请办理部门核对后适用
Measures whose basis is unconfirmed need review before they are applied · joint-sanctions</footer>
</body>
</html>
"""
