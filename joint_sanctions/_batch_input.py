"""Reading a batch's input list (:func:`joint_sanctions._batch.open_batch`): CSV or XLSX, bounded, row by row."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import openpyxl

from . import _identifiers as identifiers
from . import _tabular
from ._base import Closing
from ._batch_rows import (
    _INPUT_FORMATS,
    _REQUIRED_COLUMNS,
    _SUBJECT_TYPE_BY_NAME,
    INPUT_COLUMNS,
    BatchEntry,
    BatchError,
    RejectedRow,
)
from ._check import coerce_subject
from ._errors import IdentifierError
from ._tabular import cell_text as _text
from .vocabulary import SUBJECT_TYPES

# --- reading ----------------------------------------------------------------------------------------


class BatchSource(Closing):
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
        rows = _tabular.guarded(sheet.iter_rows(values_only=True), partial(_not_a_workbook, path))
        columns = _header(path, next(rows, None))
    except _tabular.XLSX_ERRORS as exc:
        close()
        raise _not_a_workbook(path, exc) from exc
    except BaseException:
        close()
        raise
    estimate = stated - 1 if isinstance(stated, int) and stated > 1 else None
    return BatchSource(path, columns, estimate, enumerate(rows, start=2), close)


def _header(path: str, cells: Sequence[object] | None) -> list[str]:
    """Column names of the header row, checked; every problem named in one message."""
    if cells is None:
        raise BatchError("bad_header", f"{path}: empty file; the first line must be the header "
                                       f"subject_id, subject_name (optional: subject_type, "
                                       f"legal_representative_id) / 文件为空，首行应为表头")
    names, problems = _tabular.read_header(cells, INPUT_COLUMNS, _REQUIRED_COLUMNS)
    if problems:
        raise BatchError("bad_header", f"{path}: {problems} (allowed: {', '.join(INPUT_COLUMNS)}; required: "
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
        elif subject_type == "region":
            problems.append("subject_type region: a district is checked by its region code with check --subject, "
                            "not in a batch / 区县(市)不参与批量核查")
            subject_type = None
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



def _rejected(line: int, reason: str) -> RejectedRow:
    # One line, and never a resident id in clear: reasons end up on terminals and in reports.
    return RejectedRow(line, identifiers.mask_text(" ".join(reason.split())))
