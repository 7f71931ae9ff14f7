"""Bounded reading of the files users hand in: record imports and batch lists (docs/failing-closed.md).

A hostile file must cost little to refuse. An XLSX workbook is a zip of XML parts, so a few
megabytes can unpack to gigabytes, declare entities that expand without end, or place one cell a
billion rows down (openpyxl then yields every empty row in between). :func:`check_xlsx` looks at
every part *before* openpyxl opens the file: sizes from the zip directory, then one streamed pass
over each part (1 MiB at a time) for DTDs and for row and cell positions. Nothing is stored and no
row is read from a workbook it refuses.

CSV lines are read with a cap (:func:`capped_lines`), so a file without line breaks cannot fill
memory; a field longer than :data:`FIELD_MAX` rejects its row only (:func:`long_field`). The header
row of either format is read by :func:`read_header`, and a sheet's rows through :func:`guarded`.

Problems with a whole file raise :class:`Refused`; callers turn it into their own error type.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import IO

import openpyxl
from openpyxl.utils.exceptions import CellCoordinatesException, InvalidFileException

MIB = 1 << 20
#: Default limit on the unpacked size of each XLSX part, in MiB (``--max-input-mb``).
DEFAULT_MAX_INPUT_MB = 256
MAX_INPUT_MB_RANGE = (1, 16_384)
#: Longest CSV field, in characters, and longest JSON Lines line, in bytes: longer rejects the row.
FIELD_MAX = MIB
#: Longest physical CSV line, in characters: a longer one cannot be read as rows, the file is refused.
LINE_MAX = 16 * MIB
#: Excel's sheet limits; openpyxl would pad every row to its last cell and yield every skipped row.
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_COLUMNS = 16_384
#: Cells (padding included) one sheet may make openpyxl produce: 64 per row of a full sheet.
XLSX_MAX_CELLS = 64 * XLSX_MAX_ROWS
#: Shared strings one workbook may hold (openpyxl keeps them all in memory).
XLSX_MAX_STRINGS = 16 * XLSX_MAX_ROWS
_MAX_PARTS = 10_000
_TOTAL_PARTS = 4  # the unpacked size of all parts together, in part limits
# A tag split between two chunks is carried over; a start tag longer than this is no spreadsheet's.
_MAX_TAG = MIB

# Excel never writes a DTD; one in any part means external entities (XXE) or entity expansion.
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
# Start tags that matter: rows, cells and shared strings, with or without a namespace prefix.
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c|si)(?=[\s/>])([^>]*)>")
_CELL_REF = re.compile(rb"""\br\s*=\s*["']\$?([A-Za-z]+)\$?\d""")
_ROW_REF = re.compile(rb"""\br\s*=\s*["'](\d+)["']""")
_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*\bencoding\s*=\s*["']([^"']*)["']""")


#: What openpyxl raises on a workbook whose zip, XML or cell references it cannot read (ElementTree's
#: ParseError is a SyntaxError); callers catch these around openpyxl's calls only.
XLSX_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, InvalidFileException, KeyError, ValueError, TypeError,
               CellCoordinatesException, SyntaxError)


class Refused(Exception):
    """A whole file refused; ``code`` is ``too_large``, ``unsafe``, ``unreadable`` or ``not_utf8``, the
    message is one line, English then Chinese, without the file name (the caller adds it)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def max_input_bytes(max_input_mb: int) -> int:
    """The per-part limit in bytes; ValueError for a limit outside :data:`MAX_INPUT_MB_RANGE`."""
    low, high = MAX_INPUT_MB_RANGE
    if isinstance(max_input_mb, bool) or not isinstance(max_input_mb, int) or not low <= max_input_mb <= high:
        raise ValueError(f"max_input_mb must be an integer from {low} to {high}, not {max_input_mb!r}")
    return max_input_mb * MIB


# --- XLSX -------------------------------------------------------------------------------------------


def check_xlsx(path: str, max_input_mb: int = DEFAULT_MAX_INPUT_MB) -> None:
    """Refuse a workbook that is unsafe or too large to read, before anything reads it.

    Each part may unpack to ``max_input_mb`` MiB, all parts together to four times that.

    Raises:
        Refused: not a zip; a part that unpacks past the limit (declared or actual); a DTD; more
            rows, columns, cells or shared strings than :data:`XLSX_MAX_ROWS` and its kin allow.
        OSError: the file cannot be read.
    """
    limit = max_input_bytes(max_input_mb)
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            if len(parts) > _MAX_PARTS:
                raise Refused("unsafe", f"unsafe XLSX: {len(parts)} parts (a workbook has a few dozen) "
                                        "/ 不安全的 XLSX 文件：组成部分过多")
            for info in parts:  # the directory first: a bomb is refused without unpacking a byte
                if info.file_size > limit:
                    raise _too_large(info.filename, max_input_mb)
            # Entries may share their compressed data, each under the limit (an overlapping-entry
            # bomb), and every part is scanned below: the sum is bounded too.
            if sum(info.file_size for info in parts) > _TOTAL_PARTS * limit:
                raise Refused("too_large", f"the XLSX parts unpack to more than {_TOTAL_PARTS * max_input_mb} MiB "
                                           f"in all, over the limit of {_TOTAL_PARTS} × {max_input_mb} MiB "
                                           f"(--max-input-mb) / XLSX 文件解压后总量超过上限，拒绝读取")
            for info in parts:
                if not info.is_dir():
                    _scan_part(archive, info, limit, max_input_mb)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # A corrupt part, a size that does not match the data (bad CRC), encryption, an odd method.
        raise Refused("unreadable", f"not a readable XLSX workbook ({exc}) / 不是有效的 XLSX 工作簿") from exc


def _too_large(part: str, max_input_mb: int) -> Refused:
    return Refused("too_large", f"XLSX part {part!r} unpacks to more than {max_input_mb} MiB, over the limit "
                                f"of {max_input_mb} MiB (--max-input-mb) / XLSX 文件的组成部分解压后超过 "
                                f"{max_input_mb} MiB 上限，拒绝读取")


class _SheetBounds:
    """What openpyxl would make of one part's rows and cells, counted from the raw XML.

    One regular-expression pass over the start tags: about a twentieth of what openpyxl then spends
    on the same rows.
    """

    def __init__(self, part: str) -> None:
        self.part = part
        self.row = 0        # openpyxl's row counter: the r attribute, else one more than the last row
        self.column = 0     # the same for the cells of the current row
        self.in_row = False
        self.row_cells = 0
        self.cells = 0      # padded cells of the finished rows
        self.strings = 0

    def feed(self, data: bytes, end: int) -> None:
        """Count the rows and cells of ``data[:end]`` (whole tags only)."""
        for match in _TAG.finditer(data, 0, end):
            name = match[1]
            if name == b"c":
                if self.in_row:  # a <c> outside any row is some other vocabulary's element
                    self._cell(match[2])
            elif name == b"row":
                self._row(match[2])
            else:
                self.strings += 1
                if self.strings > XLSX_MAX_STRINGS:
                    raise self._refused(f"more than {XLSX_MAX_STRINGS:,} shared strings")

    def _row(self, attrs: bytes) -> None:
        self.finish()
        # Every r= found counts, the highest winning: one hidden in another attribute's value must not
        # stand in for the real one.
        refs = _ROW_REF.findall(attrs)
        self.row = self.row + 1 if not refs else max(map(_number, refs))
        if self.row > XLSX_MAX_ROWS:
            raise self._refused(f"more than {XLSX_MAX_ROWS:,} rows (a row numbered {self.row:,})")
        self.in_row = True

    def _cell(self, attrs: bytes) -> None:
        refs = _CELL_REF.findall(attrs)
        if not refs:
            self.column += 1
        else:
            self.column = _column(refs[0]) if len(refs) == 1 else max(map(_column, refs))
        self.row_cells += 1
        if self.row_cells > XLSX_MAX_COLUMNS:
            raise self._refused(f"more than {XLSX_MAX_COLUMNS:,} cells in a row (row {self.row:,})")
        if self.column > XLSX_MAX_COLUMNS:
            raise self._refused(f"more than {XLSX_MAX_COLUMNS:,} columns (row {self.row:,})")

    def finish(self) -> None:
        """Count the row just ended: openpyxl pads it up to its last cell."""
        self.cells += self.column
        self.column = self.row_cells = 0
        if self.cells > XLSX_MAX_CELLS:
            raise self._refused(f"more than {XLSX_MAX_CELLS:,} cells")

    def _refused(self, what: str) -> Refused:
        return Refused("too_large", f"XLSX part {self.part!r} holds {what}, over the limit "
                                    f"/ XLSX 工作表的行数或单元格数超过上限，拒绝读取")


def _number(digits: bytes) -> int:
    # Huge digit strings would cost int() time for nothing: anything this long is past every limit.
    return int(digits) if len(digits) <= 12 else 10**12


def _column(letters: bytes) -> int:
    if len(letters) > 3:
        return XLSX_MAX_COLUMNS + 1
    index = 0
    for letter in letters.upper():
        index = index * 26 + letter - 64
    return index


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, max_input_mb: int) -> None:
    """Stream one part: its real unpacked size and, for XML, any DTD and its rows and cells."""
    bounds = _SheetBounds(info.filename)
    size = 0
    xml = False
    carried = b""
    with archive.open(info) as stream:
        while chunk := stream.read(MIB):
            if size == 0:
                xml = _is_xml(info.filename, chunk)
            size += len(chunk)
            if size > limit:  # zipfile stops at the declared size; this holds whatever reads the part
                raise _too_large(info.filename, max_input_mb)
            if not xml:  # an image or other binary part: openpyxl parses none of them
                continue
            data = carried + chunk
            if _DTD.search(data):
                raise Refused("unsafe", f"unsafe XLSX: part {info.filename!r} declares a DTD or entities "
                                        "(external entities, entity expansion) / 不安全的 XLSX 文件：含有 DTD "
                                        "或实体声明")
            # Keep a tag cut at the chunk's end (and so a "<!DOCTYPE" cut in two) for the next round.
            start = data.rfind(b"<")
            end = start if start >= 0 and data.find(b">", start) < 0 else len(data)
            if len(data) - end > _MAX_TAG:
                raise Refused("unsafe", f"unsafe XLSX: part {info.filename!r} holds a tag longer than 1 MiB "
                                        "/ 不安全的 XLSX 文件：标签过长")
            bounds.feed(data, end)
            carried = data[end:]
    bounds.finish()


# Encodings in which the markup is plain ASCII bytes, so the byte-wise scan above sees every tag.
_ASCII_BASED = frozenset({b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin-1", b"latin1",
                          b"windows-1252", b"cp1252"})


def _is_xml(part: str, head: bytes) -> bool:
    """Whether a part is XML, by its first bytes; XML the scan could not read is refused.

    Excel writes UTF-8 only; in UTF-16 or UTF-7 a DTD would not show as ASCII bytes.
    """
    if head[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<") or head[:4] == b"\x00\x00\x00<":
        raise Refused("unsafe", f"unsafe XLSX: part {part!r} is not UTF-8 XML / 不安全的 XLSX 文件：编码不是 UTF-8")
    declared = _ENCODING.match(head)
    if declared is not None and declared[1].lower() not in _ASCII_BASED:
        raise Refused("unsafe", f"unsafe XLSX: part {part!r} is not UTF-8 XML / 不安全的 XLSX 文件：编码不是 UTF-8")
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"<")


# --- CSV --------------------------------------------------------------------------------------------


def check_csv(path: str) -> None:
    """Read a CSV file once, before any row of it is used: every line UTF-8, none past :data:`LINE_MAX`.

    A file refused as a whole must store nothing; the reader meets such a fault only when it gets
    there, after earlier rows were written. Lines are read as bytes and decoded one by one, so the
    line named is the one at fault (a text reader decodes ahead, in blocks).

    Raises:
        Refused: ``not_utf8`` or ``too_large``, the message starting with ``line N:``.
    """
    cap = 4 * LINE_MAX  # the most bytes LINE_MAX characters take in UTF-8
    with open(path, "rb") as file:
        for number, raw in enumerate(iter(partial(file.readline, cap + 1), b""), start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if len(raw) > cap:  # cut inside a character: the line is too long anyway
                    raise _long_line(number) from None
                raise Refused("not_utf8", f"line {number}: not UTF-8 text (byte {exc.start + 1} of the line); "
                                          'save the file as UTF-8 (in Excel: "CSV UTF-8") / 不是 UTF-8 编码，'
                                          "请另存为 UTF-8") from None
            if len(text.rstrip("\r\n")) > LINE_MAX:
                raise _long_line(number)


def _long_line(number: int) -> Refused:
    return Refused("too_large", f"line {number}: longer than {LINE_MAX // MIB} MiB, it cannot be one row "
                                f"/ 单行超过 {LINE_MAX // MIB} MiB，拒绝读取")


def capped_lines(file: IO[str]) -> Iterator[str]:
    """The physical lines of ``file`` for :func:`csv.reader`, each read with a cap.

    Raises:
        Refused: a line longer than :data:`LINE_MAX` (its number is the reader's ``line_num`` + 1).
    """
    # csv's own limit bounds a field that spans many capped lines; raised, never lowered, because
    # it is one setting for the whole process.
    if csv.field_size_limit() < LINE_MAX:
        csv.field_size_limit(LINE_MAX)
    for line in iter(partial(file.readline, LINE_MAX + 1), ""):
        if len(line) > LINE_MAX and not line.endswith("\n"):
            raise Refused("too_large", f"longer than {LINE_MAX // MIB} MiB, it cannot be one row "
                                       f"/ 单行超过 {LINE_MAX // MIB} MiB，拒绝读取")
        yield line


def long_field(columns: Sequence[str], cells: Sequence[str]) -> str | None:
    """The reason to reject a row holding a field longer than :data:`FIELD_MAX`, or None."""
    for index, cell in enumerate(cells):
        if len(cell) > FIELD_MAX:
            name = columns[index] if index < len(columns) else f"field {index + 1}"
            return f"{name}: longer than 1 MiB ({len(cell)} characters)"
    return None


# --- both formats -----------------------------------------------------------------------------------


def read_header(cells: Sequence[object], known: Sequence[str], required: Sequence[str]) -> tuple[list[str], str]:
    """The column names of a header row, and what is wrong with them.

    Returns:
        The names (trimmed, lower case, trailing empty cells dropped, as spreadsheets and trailing
        commas leave them), and one line naming every missing, unknown and repeated column ("" when
        the header is right); the caller adds the file and what the header should be.
    """
    names = ["" if cell is None else str(cell).strip().lower() for cell in cells]
    while names and names[-1] == "":
        names.pop()
    problems = []
    if missing := [name for name in required if name not in names]:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown := [name for name in names if name not in known]:
        problems.append(f"unknown columns: {', '.join(repr(name) for name in unknown)}")
    if repeated := sorted({name for name in names if name in known and names.count(name) > 1}):
        problems.append(f"repeated columns: {', '.join(repeated)}")
    return names, "; ".join(problems)


def cell_text(cell: object) -> str:
    """A cell's value as trimmed text ("" for an empty cell); a whole number a spreadsheet stored as a float
    (a number typed into a text cell comes back as 12.0) without its ``.0``."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def table_rows(path: str, max_input_mb: int, header: Callable[[Sequence[object] | None], list[str]],
               error: Callable[[str], Exception], unsupported: str,
               ) -> Iterator[tuple[int, list[str], Sequence[object]]]:
    """``(line, column names, cells)`` of each data row of a CSV (UTF-8, BOM or not) or XLSX (first sheet)
    file, the file checked first (:func:`check_csv`, :func:`check_xlsx`); ``header`` names the columns from
    the first row's cells (None for an empty file) and raises what it refuses.

    Raises:
        Exception: ``error(message)``, the message starting with ``path``, for a file refused whole:
            ``unsupported`` for another extension, a file over the limits, not UTF-8, not a workbook, or
            unreadable.
    """
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".csv":
            check_csv(path)
            with open(path, encoding="utf-8-sig", newline="") as file:
                reader = csv.reader(capped_lines(file))
                columns = header(next(reader, None))
                start = reader.line_num + 1
                for cells in reader:
                    line, start = start, reader.line_num + 1  # physical lines: a quoted break counts
                    yield line, columns, cells
        elif ext == ".xlsx":
            check_xlsx(path, max_input_mb)
            with open(path, "rb") as raw:
                try:
                    workbook = openpyxl.load_workbook(raw, read_only=True, data_only=True)
                except XLSX_ERRORS as exc:
                    raise error(f"{path}: not a readable XLSX workbook ({exc}) / 不是有效的 XLSX 工作簿") from None
                with contextlib.closing(workbook):
                    sheet = workbook.worksheets[0]
                    sheet.reset_dimensions()  # some writers store a wrong size, which would cut rows short
                    rows = guarded(sheet.iter_rows(values_only=True), lambda e: error(
                        f"{path}: not a readable XLSX workbook ({e}) / 不是有效的 XLSX 工作簿"))
                    sheet_columns = header(next(rows, None))
                    for line, sheet_cells in enumerate(rows, start=2):
                        yield line, sheet_columns, sheet_cells
        else:
            raise error(f"{path}: {unsupported}")
    except Refused as exc:
        raise error(f"{path}: {exc}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the file: {exc.strerror or exc} / 无法读取文件") from None


def guarded(rows: Iterator[tuple[object, ...]],
            refuse: Callable[[Exception], Exception]) -> Iterator[tuple[object, ...]]:
    """``rows`` of a sheet, with openpyxl's errors on XML it cannot read turned into ``refuse(error)``."""
    try:
        yield from rows
    except XLSX_ERRORS as exc:
        raise refuse(exc) from exc
