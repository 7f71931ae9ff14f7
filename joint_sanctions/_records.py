"""Credit-record import (docs/record-import.md): CSV, JSON Lines and XLSX files into a record store.

Files are read row by row, so a million rows need little memory. A bad row becomes an
:class:`~joint_sanctions._errors.ImportRowError` (its line and a one-line reason, resident ids masked)
and the other rows still load; a file that cannot be read as a whole (unknown type, wrong header,
not UTF-8) raises :class:`~joint_sanctions._errors.RecordError`.

Reading is bounded (docs/failing-closed.md): a CSV field or a JSON Lines line over 1 MiB, JSON nested deeper than
32 levels or a number of more digits than Python converts reject that row only. A workbook is checked
whole before its first row is read (the size of every part, DTDs, rows and cells: see
:mod:`joint_sanctions._tabular`), so nothing is stored from one that is refused.

A JSON Lines line that is not UTF-8 is one bad row: lines are independent, so the others are read as
they are. A CSV file that is not UTF-8 is refused as a whole, as before: it is nearly always a file
saved in GBK, which one line saying "save as CSV UTF-8" serves better than a rejected row per line.
A CSV file is read once before its rows (:func:`joint_sanctions._tabular.check_csv`), so a file
refused as a whole stores nothing, wherever its fault lies.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import difflib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import IO, TypeAlias

import openpyxl
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from . import _tabular
from ._accel import compiled_helper
from ._errors import IdentifierError, ImportRowError, RecordError
from ._identifiers import kind_mismatch, mask_text, parse_identifier
from ._logging import get_logger
from ._models import CreditRecord, fields_set, trusted
from .stores import RecordStore
from .stores._base import BulkLoading
from .vocabulary import LIST_TYPES, MATTER_TYPES, RECORD_STATUSES, SUBJECT_TYPES

__all__ = ["BAN_COLUMNS", "COLUMNS", "ImportReport", "import_records", "read_records"]

_log = get_logger()

#: The header of an import file (docs/record-import.md), in any order; JSON Lines objects use the same keys.
COLUMNS: tuple[str, ...] = ("record_id", "list_type", "subject_id", "subject_name", "subject_type",
                            "authority", "document_no", "listed_on", "expires_on", "status", "reason")

#: Optional columns a file may add, each on its own (docs/record-import.md): the subject's administrative area,
#: the rectification deadline, and the ban of the record's own decision (lists ``;``-separated in CSV
#: and XLSX; JSON Lists or ``;`` text in JSON Lines).
BAN_COLUMNS: tuple[str, ...] = ("region_code", "rectify_by", "ban_matter_types", "ban_item_codes", "ban_until")
_KNOWN: tuple[str, ...] = (*COLUMNS, *BAN_COLUMNS)

# Empty values of the other columns take the model's default ('' text, no subject_type, no
# expiry, status 'active', no ban).
_ORDER = {name: index for index, name in enumerate(_KNOWN)}
_REQUIRED = frozenset({"record_id", "list_type", "subject_id", "listed_on"})
_REQUIRED_ORDER = tuple(name for name in COLUMNS if name in _REQUIRED)
#: The Chinese headers of docs/record-import.md, each standing for its column (also as JSON Lines keys).
_CHINESE_COLUMNS: dict[str, str] = {
    "记录编号": "record_id", "名单类型": "list_type", "主体标识": "subject_id", "主体名称": "subject_name",
    "主体类型": "subject_type", "认定单位": "authority", "认定文号": "document_no", "列入日期": "listed_on",
    "有效期至": "expires_on", "状态": "status", "事由": "reason", "行政区划代码": "region_code",
    "整改期限": "rectify_by", "禁入事项": "ban_matter_types", "禁入事项编码": "ban_item_codes",
    "禁入截止日期": "ban_until"}
_DATES = frozenset({"listed_on", "expires_on", "rectify_by", "ban_until"})
_LISTS = frozenset({"ban_matter_types", "ban_item_codes"})
# Id → Chinese name, to suggest the id when a file carries the name or a near miss.
_CHOICES: dict[str, Mapping[str, str]] = {
    # A record names a body, never a district (kind_mismatch refuses the type region with its reason).
    "list_type": LIST_TYPES, "subject_type": {k: v for k, v in SUBJECT_TYPES.items() if k != "region"},
    "status": RECORD_STATUSES,
    "ban_matter_types": MATTER_TYPES}
# Chinese name → id, so a file may name list types (subject types, statuses) as people write them; ban
# lists take ids only.
_BY_NAME: dict[str, dict[str, str]] = {field: {name: key for key, name in choices.items()}
                                       for field, choices in _CHOICES.items() if field not in _LISTS}
# ISO dates, and the Y/M/D form spreadsheets write when they save a date as CSV text.
_DATE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")
_EXCEL_MAX_SERIAL = 2_958_466  # 9999-12-31 + 1
_MAX_DEPTH = 32  # JSON nesting; an import row is one flat object
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = re.compile(r"[\[\]{}]")
# A JSON escape such as "\ud800" decodes to an unpaired surrogate: no character, and no database
# (nor UTF-8 writer) takes it, so it would fail the whole batch of rows stored with it.
_SURROGATE = re.compile("[\ud800-\udfff]")

#: A value as read: stripped text, a date a spreadsheet cell held, or the items of a JSON list.
Cell: TypeAlias = str | dt.date | tuple[str, ...]
Row: TypeAlias = tuple[int, CreditRecord | ImportRowError]


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_records` did.

    Attributes:
        path: the file imported.
        stored: good rows written (a record_id repeated in the file counts each time; the last wins).
        errors: the bad rows, in file order.
    """

    path: str
    stored: int
    errors: list[ImportRowError]


def read_records(path: str | os.PathLike[str],
                 max_input_mb: int = _tabular.DEFAULT_MAX_INPUT_MB) -> Iterator[Row]:
    """Read an import file row by row; the type comes from the extension.

    ``.csv`` is UTF-8 with or without BOM, ``.jsonl`` has one JSON object per line (blank lines
    skipped), ``.xlsx`` is read from its first sheet. CSV and XLSX need a header row with
    :data:`COLUMNS` and any of :data:`BAN_COLUMNS`, in any order. Dates are ``YYYY-MM-DD`` (``YYYY/M/D`` and spreadsheet date cells
    too).

    Args:
        path: the file.
        max_input_mb: the most an XLSX part may unpack to, in MiB (1 to 16384).

    Yields:
        ``(line, record or ImportRowError)`` for each non-blank row; the line is the physical line
        (CSV: where the row starts) or spreadsheet row number, the header being line 1.

    Raises:
        RecordError: the file cannot be read as a whole: unknown extension, unreadable, not UTF-8,
            not a workbook, a workbook over the limits or with a DTD, a CSV line over 16 MiB, or a
            header with missing, unknown or repeated columns.
        ValueError: ``max_input_mb`` out of range.
    """
    _tabular.max_input_bytes(max_input_mb)
    name = os.fspath(path)
    reader = _READERS.get(os.path.splitext(name)[1].lower())
    if reader is None:
        raise _file_error(name, "unsupported file type (use .csv, .jsonl or .xlsx)")
    try:
        yield from reader(name, max_input_mb)
    except UnicodeDecodeError as exc:
        raise _file_error(name, f"not UTF-8 text (byte {exc.start}); save the file as UTF-8 "
                                '(in Excel: "CSV UTF-8")') from exc
    except OSError as exc:
        raise _file_error(name, f"cannot read the file: {exc.strerror or exc}") from exc


def import_records(store: RecordStore, path: str | os.PathLike[str], batch_size: int = 10_000,
                   progress: Callable[[int], object] | None = None,
                   max_input_mb: int = _tabular.DEFAULT_MAX_INPUT_MB) -> ImportReport:
    """Store the good rows of an import file and report the bad ones.

    Rows are upserted by ``record_id`` in batches, in file order, so re-importing updates records,
    a record_id repeated in the file ends with its last good row, and nothing else stored is touched.
    A row that would undo a repair or removal (saying ``active`` without a listing after the end date)
    is not stored and is reported with its line, like a bad row.
    A store that offers :class:`~joint_sanctions.stores._base.BulkLoading` gets the upserts as one bulk
    load (SQLite: into an empty store the indexes are built once at the end).

    Args:
        store: where the records go.
        path: a ``.csv``, ``.jsonl`` or ``.xlsx`` file (see :func:`read_records`).
        batch_size: records per :meth:`RecordStore.upsert` call.
        progress: called with the number of rows read so far after each batch and at the end.
        max_input_mb: the most an XLSX part may unpack to, in MiB (1 to 16384).

    Returns:
        The count stored and every bad row.

    Raises:
        RecordError: the file cannot be read as a whole; it is refused before its first row, so
            nothing is stored from it (a read error of the disk itself midway excepted).
        StoreError: the store failed.
        ValueError: ``batch_size`` or ``max_input_mb`` out of range.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    _tabular.max_input_bytes(max_input_mb)
    errors: list[ImportRowError] = []
    batch: list[tuple[int, CreditRecord]] = []
    stored = done = 0
    with store.bulk_load() if isinstance(store, BulkLoading) else contextlib.nullcontext():
        for line, item in read_records(path, max_input_mb):
            done += 1
            if isinstance(item, ImportRowError):
                errors.append(item)
                continue
            batch.append((line, item))
            if len(batch) >= batch_size:
                stored += _write(store, batch, errors)
                batch = []
                if progress is not None:
                    progress(done)
        if batch:
            stored += _write(store, batch, errors)
    # A row that would undo a repair (docs/record-import.md, "When a record counts") is reported where it is in the file.
    errors.sort(key=lambda error: error.line)
    if progress is not None:
        progress(done)
    name = os.fspath(path)
    _log.info("records_imported", path=mask_text(name), stored=stored, errors=len(errors))
    return ImportReport(path=name, stored=stored, errors=errors)


def _write(store: RecordStore, batch: list[tuple[int, CreditRecord]], errors: list[ImportRowError]) -> int:
    """Upsert one batch; add the rows the store refused to ``errors``; return the records stored.

    Written in the reading thread, between batches. A writer thread beside the reader was slower than
    this: SQLite and psycopg release the GIL for each statement and must take it back from the thread
    parsing rows, which keeps it, so the writer waited for the reader rather than working beside it
    (1,000,000 rows into SQLite: 22.0 s with the thread, 20.1 s without; docs/performance.md).
    """
    written, refused = store.upsert_checked(record for _, record in batch)
    if refused:
        # The last row of a repeated id is the one the store judged.
        lines = {record.record_id: line for line, record in batch}
        errors += [_row_error(lines[rid], why) for rid, why in refused.items()]
    return written


# --- file formats ---------------------------------------------------------------------------------


def _read_csv(path: str, _max_input_mb: int) -> Iterator[Row]:
    try:
        _tabular.check_csv(path)  # a file refused as a whole is refused before its first row is stored
    except _tabular.Refused as exc:
        raise _file_error(path, str(exc)) from exc
    # utf-8-sig drops the BOM Excel writes; newline="" lets csv handle newlines inside quotes.
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(_tabular.capped_lines(file))
        try:
            columns = _header(path, next(reader, None))
            start = reader.line_num + 1
            for cells in reader:
                # line_num counts physical lines, so a quoted value spanning lines is handled.
                line, start = start, reader.line_num + 1
                if _plain_csv_row is not None and (plain := _plain_csv_row(cells, columns)) is not None:
                    yield line, plain  # the usual row, read in C where compiled; the loop below is its twin
                    continue
                cells = [cell.strip() for cell in cells]
                if not any(cells):
                    continue
                if len(cells) < len(columns):
                    yield line, _row_error(line, f"{len(cells)} fields, the header has {len(columns)}")
                    continue
                if max(map(len, cells)) > _tabular.FIELD_MAX:
                    yield line, _row_error(line, _tabular.long_field(columns, cells) or "")
                    continue
                yield line, _row(line, columns, cells)
        except csv.Error as exc:
            raise _file_error(path, f"line {reader.line_num}: {exc}") from exc
        except _tabular.Refused as exc:
            raise _file_error(path, f"line {reader.line_num + 1}: {exc}") from exc


def _read_jsonl(path: str, _max_input_mb: int) -> Iterator[Row]:
    # Bytes, one capped line at a time: a line without end cannot fill memory, and a line that is
    # not UTF-8 is one bad row (lines are independent, so the next one is read as it is).
    cap = _tabular.FIELD_MAX + 2  # the line and its CR LF
    with open(path, "rb") as file:
        line = 0
        while raw := file.readline(cap):
            line += 1
            if line == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            content = raw.rstrip(b"\r\n")
            if len(content) > _tabular.FIELD_MAX:
                if not raw.endswith(b"\n"):
                    while (rest := file.readline(_tabular.MIB)) and not rest.endswith(b"\n"):
                        pass
                yield line, _row_error(line, "longer than 1 MiB")
                continue
            try:
                text = content.decode()
            except UnicodeDecodeError as exc:
                yield line, _row_error(line, f"not UTF-8 text (byte {exc.start + 1} of the line); save the file "
                                             "as UTF-8")
                continue
            if text.strip():
                yield line, _json_row(line, text)


def _read_xlsx(path: str, max_input_mb: int) -> Iterator[Row]:
    try:
        _tabular.check_xlsx(path, max_input_mb)
    except _tabular.Refused as exc:
        raise _file_error(path, str(exc)) from exc
    # Opened here, not by openpyxl: load_workbook leaves its own file open when the workbook fails.
    with open(path, "rb") as file:
        yield from _read_workbook(path, file)


def _read_workbook(path: str, file: IO[bytes]) -> Iterator[Row]:
    try:
        # data_only: a formula cell gives the value Excel last computed, not the formula text.
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except _tabular.XLSX_ERRORS as exc:
        raise _not_a_workbook(path, exc) from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if not isinstance(sheet, ReadOnlyWorksheet):
            raise _file_error(path, "the workbook has no worksheet")
        # Some writers store a wrong sheet size, which would cut rows short in read-only mode.
        sheet.reset_dimensions()
        rows = _tabular.guarded(sheet.iter_rows(values_only=True), partial(_not_a_workbook, path))
        columns = _header(path, next(rows, None))
        for line, values in enumerate(rows, start=2):
            if all(value is None or str(value).strip() == "" for value in values):
                continue
            cells = [_xlsx_cell(columns[i] if i < len(columns) else "", value, workbook.epoch)
                     for i, value in enumerate(values)]
            # Read-only rows stop at the last cell written; missing cells are empty.
            cells += [""] * (len(columns) - len(cells))
            yield line, _row(line, columns, cells)
    finally:
        workbook.close()


_READERS: dict[str, Callable[[str, int], Iterator[Row]]] = {
    ".csv": _read_csv, ".jsonl": _read_jsonl, ".xlsx": _read_xlsx}


def _header(path: str, cells: Sequence[object] | None) -> list[str]:
    """The column names of a header row, checked against :data:`COLUMNS`."""
    if cells is None:
        raise _file_error(path, f"empty file; the first line must be the header, at least: {', '.join(_REQUIRED_ORDER)}")
    english = [_CHINESE_COLUMNS.get(cell.strip(), cell) if isinstance(cell, str) else cell for cell in cells]
    names, problems = _tabular.read_header(english, _KNOWN, _REQUIRED_ORDER)
    if problems:
        raise _file_error(path, f"{problems} (required: {', '.join(_REQUIRED_ORDER)}; "
                                f"known: {', '.join(_KNOWN)}; Chinese headers such as 记录编号 also)")
    return names


def _xlsx_cell(column: str, value: object, epoch: dt.datetime) -> Cell:
    if value is None:
        return ""
    if column in _DATES:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool) and (
                1 <= value < _EXCEL_MAX_SERIAL):
            # A date cell formatted as "General" shows Excel's serial day number.
            serial = from_excel(value, epoch)
            if isinstance(serial, dt.datetime):
                return serial.date()
    if isinstance(value, float) and value.is_integer():
        # Ids typed as numbers come back as floats: 12345.0 means "12345".
        return str(int(value))
    return str(value).strip()


def _json_row(line: int, text: str) -> CreditRecord | ImportRowError:
    if _too_deep(text):
        return _row_error(line, f"nested deeper than {_MAX_DEPTH} levels")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return _row_error(line, f"not valid JSON: {exc.msg} (column {exc.colno})")
    except ValueError:  # an integer past Python's conversion limit
        return _row_error(line, f"a number with more than {sys.get_int_max_str_digits()} digits")
    except RecursionError:  # _too_deep should have caught it; never let it end the import
        return _row_error(line, f"nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(data, dict):
        return _row_error(line, f"expected a JSON object, found {type(data).__name__}")
    if not all(key in _ORDER for key in data):
        data = {_CHINESE_COLUMNS.get(key, key): value for key, value in data.items()}
    if unknown := sorted(set(data) - set(_KNOWN)):
        return _row_error(line, f"unknown keys: {', '.join(repr(key) for key in unknown)}")
    cells: list[Cell] = []
    for name in _KNOWN:
        value = data.get(name)
        if value is None:
            cells.append("")
        elif isinstance(value, str):
            cells.append(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool):
            cells.append(str(value))
        elif name in _LISTS and isinstance(value, list) and all(isinstance(item, str) for item in value):
            cells.append(tuple(item.strip() for item in value))
        else:
            want = "a list of strings or a string" if name in _LISTS else "a string"
            return _row_error(line, f"{name}: expected {want}, found {json.dumps(value)[:40]}")
    if "\\u" in text:
        for name, cell in zip(_KNOWN, cells, strict=True):
            for part in (cell,) if isinstance(cell, str) else cell if isinstance(cell, tuple) else ():
                if bad := _SURROGATE.search(part):
                    return _row_error(line, f"{name}: holds an unpaired surrogate ({bad.group()!a}), which is "
                                            "not a character")
    return _row(line, list(_KNOWN), cells)


def _too_deep(text: str) -> bool:
    """Whether JSON ``text`` nests deeper than :data:`_MAX_DEPTH` (json.loads recurses per level)."""
    if text.count("[") + text.count("{") <= _MAX_DEPTH:  # every row of a real file
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > _MAX_DEPTH:
            return True
    return False


# --- rows -----------------------------------------------------------------------------------------


def _row(line: int, columns: Sequence[str], cells: Sequence[Cell]) -> CreditRecord | ImportRowError:
    """Validate one row; ``cells`` may run past ``columns`` (then those cells must be empty)."""
    if len(cells) > len(columns) and any(cell != "" for cell in cells[len(columns):]):
        return _row_error(line, f"{len(cells)} fields, the header has {len(columns)}")
    fields: dict[str, Cell] = {}
    problems: dict[str, str] = {}  # by field; "" for a problem of the whole row
    for name, value in zip(columns, cells, strict=False):
        if value == "":
            if name in _REQUIRED:
                problems[name] = f"{name}: missing"
            continue
        if name in _DATES and isinstance(value, str):
            day = _parse_date(value)
            if day is None:
                problems[name] = f"{name}: {_quote(value)} is not a date (YYYY-MM-DD)"
                continue
            value = day
        elif name in _BY_NAME and isinstance(value, str):
            value = _BY_NAME[name].get(value, value)
        fields[name] = value
    plain = None if problems else _plain_record(fields)
    if plain is not None:
        return plain
    try:
        record = CreditRecord.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            problems.setdefault(field, _describe(field, error))
    else:
        if not problems:
            return record
    # In column order, so a row's reason reads left to right like the file.
    ordered = sorted(problems.items(), key=lambda item: _ORDER.get(item[0], len(_KNOWN)))
    return _row_error(line, "; ".join(message for _, message in ordered))


def _plain_record(fields: dict[str, Cell]) -> CreditRecord | None:
    """The record of a well-formed row, built without pydantic (most rows of a large import); None
    when anything needs the model's validation to judge or to explain."""
    if not _BAN_FREE.issuperset(fields):
        return None  # a row with a ban, a deadline or a region: the model judges those
    record_id, list_type, listed_on = fields.get("record_id"), fields.get("list_type"), fields.get("listed_on")
    subject_type, status = fields.get("subject_type"), fields.get("status", "active")
    expires_on, subject_id = fields.get("expires_on"), fields.get("subject_id")
    subject_name, authority = fields.get("subject_name", ""), fields.get("authority", "")
    document_no, reason = fields.get("document_no", ""), fields.get("reason", "")
    if (type(record_id) is not str or list_type not in LIST_TYPES or type(listed_on) is not dt.date
            or (subject_type is not None and subject_type not in SUBJECT_TYPES)
            or status not in RECORD_STATUSES
            or (expires_on is not None and (type(expires_on) is not dt.date or expires_on <= listed_on))
            or type(subject_name) is not str or type(authority) is not str or type(document_no) is not str
            or type(reason) is not str or type(subject_id) is not str):
        return None
    try:
        subject_id, kind = parse_identifier(subject_id)
    except IdentifierError:
        return None
    if type(subject_type) is str and kind_mismatch(kind, subject_type):
        return None  # the model's validation says why
    return trusted(CreditRecord, {
        "record_id": record_id, "list_type": list_type, "subject_id": subject_id, "subject_name": subject_name,
        "subject_type": subject_type, "authority": authority, "document_no": document_no,
        "listed_on": listed_on, "expires_on": expires_on, "status": status, "reason": reason,
        "region_code": None, "rectify_by": None, "ban_matter_types": (), "ban_item_codes": (), "ban_until": None,
        "ended_on": None})


_BAN_FREE = frozenset(COLUMNS)


#: Dates already parsed, by their text: a large file repeats a few thousand listing and expiry
#: dates across its rows. Bounded, so a file of odd dates cannot grow it without end.
_SEEN_DATES: dict[str, dt.date] = {}


#: The usual CSV row (known columns, no ban, region or deadline, every value well formed) read whole in C
#: (``_csv_row.c``), where compiled; None for any other row, which :func:`_read_csv` reads as written.
_plain_csv_row: Callable[[list[str], list[str]], CreditRecord | None] | None = compiled_helper(
    "plain_csv_row", "setup_csv_rows", COLUMNS, _BY_NAME, _SEEN_DATES,
    (frozenset(LIST_TYPES), frozenset(SUBJECT_TYPES), frozenset(RECORD_STATUSES)),
    parse_identifier, kind_mismatch, CreditRecord, tuple(CreditRecord.model_fields), fields_set(CreditRecord),
    _tabular.FIELD_MAX)


def _parse_date(text: str) -> dt.date | None:
    day = _SEEN_DATES.get(text)
    if day is None:
        day = _parse_date_text(text)
        if day is not None and len(_SEEN_DATES) < 100_000:
            _SEEN_DATES[text] = day
    return day


def _parse_date_text(text: str) -> dt.date | None:
    if len(text) == 10 and text[4] == text[7] == "-" and text.isascii():
        # The usual form; fromisoformat is several times faster than the regex below.
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    try:
        return dt.date(int(match[1]), int(match[3]), int(match[4]))
    except ValueError:
        return None


def _describe(field: str, error: ErrorDetails) -> str:
    """A validation error of ``field`` as a short phrase such as ``unknown list_type 'foo'``."""
    if error["type"] == "literal_error" and field in _CHOICES:
        value = str(error["input"])
        if field == "ban_matter_types":
            hint = _suggestion(field, value) or f" (known: {', '.join(MATTER_TYPES)})"
            return f"{field}: unknown matter type {_quote(value)}{hint} / 未知的事项类型"
        return f"unknown {field} {_quote(value)}{_suggestion(field, value)}"
    cause = error.get("ctx", {}).get("error")
    message = str(cause) if cause is not None else error["msg"]
    return f"{field}: {message}" if field else message


def _suggestion(field: str, value: str) -> str:
    choices = _CHOICES[field]
    by_name = {name: key for key, name in choices.items()}
    close = by_name.get(value) or next(iter(difflib.get_close_matches(value, choices, n=1)), None)
    if close is not None:
        return f" (did you mean {close!r}?)"
    if len(choices) <= 5:
        return f" (expected one of: {', '.join(choices)})"
    return ""


def _quote(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _file_error(path: str, message: str) -> RecordError:
    return RecordError(mask_text(f"{path}: {message}"))


def _not_a_workbook(path: str, exc: Exception) -> RecordError:
    return _file_error(path, f"not a readable XLSX workbook ({exc})")


def _row_error(line: int, reason: str) -> ImportRowError:
    # One line, and no resident id in clear: reasons end up in logs and reports.
    return ImportRowError(line, mask_text(" ".join(reason.split())))
