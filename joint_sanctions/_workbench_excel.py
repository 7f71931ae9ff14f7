"""The Excel round trip of measure lists (``measures export`` / ``measures import``, docs/cli.md).

A workbook holds one sheet per measure-list file, named after the file. Rows 1–3 carry the file
header (Chinese names, field ids beneath, values), rows 5–6 the measure columns (Chinese names, field
ids beneath) and every row from 7 one measure. Importing reads the columns by their field ids, so
staff may reorder them; list fields are ``;``-separated; a legal basis is three aligned columns.

Import writes YAML text with a cell recorded for every line it emits, then lints that text as it
would any measure list: lint stays the only authority on what a list may say, and each of its
problems is told at the cell it came from (``national!C12``). Nothing is written while any sheet has
a problem. The list-type policy (list_types.yaml) is not part of the workbook.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import yaml
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError

from . import _tabular
from ._errors import JointSanctionsError
from ._list_types import is_policy_file
from ._load import PathLike, lint, load_measure_lists
from ._load_fields import _MEASURE_FIELDS
from ._load_nodes import MAX_LIST_ITEMS
from ._models import Measure, MeasureListFile

__all__ = ["EXCEL_ERROR_CODES", "CellProblem", "ExcelError", "export_workbook", "import_workbook"]

#: Codes of the workbook's own problems; lint's codes (``_load.ERROR_CODES``) come on top.
EXCEL_ERROR_CODES: tuple[str, ...] = (
    "unreadable", "too_large", "unsafe", "bad_sheet_name", "duplicate_sheet", "bad_layout", "unknown_column",
    "missing_column", "repeated_column", "missing_field", "basis_mismatch", "too_many_rows", "cell_too_long",
    "file_exists",
)

SCHEMA_LINE = "# yaml-language-server: $schema=schemas/measures.schema.json"

_HEADER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("edition", "版本"), ("issuer", "发布单位"), ("region_code", "区划代码"),
)
#: The measure columns in export order: field id (``legal_basis.*`` for the three basis columns), Chinese name.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "措施编号"), ("name", "措施名称"), ("kind", "类别"), ("effect", "效力"), ("mandatory", "应当/不得"),
    ("list_types", "名单类型"), ("matter_types", "事项类型"), ("subject_types", "主体类型"),
    ("related_party_roles", "关联人角色"), ("condition", "条件"), ("requires_ban", "须载明禁入"),
    ("requires_overdue", "须逾期未整改"), ("valid_from", "生效日期"), ("valid_to", "失效日期"),
    ("legal_basis.document", "依据文件"), ("legal_basis.number", "文号"), ("legal_basis.article", "条款"),
    ("basis_status", "依据状态"), ("implementing_departments", "实施部门"), ("description", "说明"),
    ("tags", "标签"),
)
_LIST_FIELDS = frozenset({"list_types", "matter_types", "subject_types", "related_party_roles",
                          "implementing_departments", "tags"})
_BOOL_FIELDS = frozenset({"mandatory", "requires_ban", "requires_overdue"})
_DATE_FIELDS = frozenset({"valid_from", "valid_to"})
_BASIS = ("document", "number", "article")
_KNOWN = frozenset(name for name, _ in _COLUMNS)
_REQUIRED = tuple(name for name, f in _MEASURE_FIELDS.items() if f.required and name != "legal_basis") + (
    "legal_basis.document",)

_HEADER_ROW, _COLUMN_ROW, _FIRST_ROW = 2, 6, 7
#: Measures one sheet may hold: the loader's own limit on a list, so no sheet yields an unbounded file.
MAX_ROWS = MAX_LIST_ITEMS
_CELL_MAX = 32_767  # Excel's limit on the characters of one cell
_SHEET_NAME = re.compile(r"[\w-][\w.-]{0,30}")
_TRUE, _FALSE = frozenset({"true", "是"}), frozenset({"false", "否"})


@dataclass(frozen=True, order=True)
class CellProblem:
    """One problem of a workbook, at its cell: ``national!C12: code: English / 中文``."""

    sheet: str
    cell: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.sheet}!{self.cell}: {self.code}: {self.message}"


class ExcelError(JointSanctionsError):
    """A workbook refused; ``problems`` holds every problem found (the message lists them, a line each)."""

    def __init__(self, problems: Sequence[CellProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _refusal(where: str, code: str, message: str) -> ExcelError:
    return ExcelError([CellProblem(where, "A1", code, message)])


# --- export -------------------------------------------------------------------------------------------

def _sheet_name(file: MeasureListFile) -> str:
    return Path(file.path).stem


def _joined(values: Sequence[str]) -> str:
    return "; ".join(values)


def _measure_cells(m: Measure) -> dict[str, object]:
    cells: dict[str, object] = {
        "id": m.id, "name": m.name, "kind": m.kind, "effect": m.effect, "mandatory": m.mandatory,
        "list_types": _joined(m.list_types), "matter_types": _joined(m.matter_types),
        "subject_types": _joined(m.subject_types) if m.subject_types is not None else None,
        "related_party_roles": _joined(m.related_party_roles) or None, "condition": m.condition,
        "requires_ban": m.requires_ban or None, "requires_overdue": m.requires_overdue or None,
        "valid_from": m.valid_from.isoformat() if m.valid_from else None,
        "valid_to": m.valid_to.isoformat() if m.valid_to else None,
        "basis_status": m.basis_status, "implementing_departments": _joined(m.implementing_departments),
        "description": m.description or None, "tags": _joined(m.tags) or None,
    }
    for part in _BASIS:
        values = [getattr(b, part) for b in m.legal_basis]
        cells[f"legal_basis.{part}"] = _joined(values) if any(values) else None
    return cells


def _check_exportable(files: Sequence[MeasureListFile]) -> None:
    problems: list[CellProblem] = []
    seen: dict[str, str] = {}
    for file in files:
        name = _sheet_name(file)
        if not _SHEET_NAME.fullmatch(name):
            problems.append(CellProblem(name, "A1", "bad_sheet_name",
                                        f"{file.path}: a sheet is named after its file, and '{name}' is not a usable "
                                        "sheet name (at most 31 letters, digits, '_', '-' or '.') / 工作表以文件名命名，"
                                        f"'{name}' 不能用作工作表名（至多 31 个字母、数字、'_'、'-' 或 '.'）"))
        elif name.casefold() in seen:
            problems.append(CellProblem(name, "A1", "duplicate_sheet",
                                        f"{file.path} and {seen[name.casefold()]} would both be sheet '{name}' / "
                                        f"{file.path} 与 {seen[name.casefold()]} 会成为同名工作表 '{name}'"))
        seen.setdefault(name.casefold(), file.path)
    if problems:
        raise ExcelError(problems)


def export_workbook(paths: Sequence[PathLike], out: PathLike) -> tuple[int, int]:
    """Write the measure lists at ``paths`` to the workbook ``out``; returns (sheets, measures).

    Raises:
        MeasureListError: the lists do not lint clean.
        ExcelError: a file's name cannot be a sheet name, or a value cannot be an Excel cell.
    """
    files = load_measure_lists(paths)
    _check_exportable(files)
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    bold, shade = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    problems: list[CellProblem] = []
    for file in files:
        sheet = book.create_sheet(_sheet_name(file))
        values: dict[tuple[int, int], object] = {}
        for col, (name, zh) in enumerate(_HEADER_COLUMNS, start=1):
            values[1, col], values[2, col], values[3, col] = zh, name, getattr(file, name)
        for col, (name, zh) in enumerate(_COLUMNS, start=1):
            values[5, col], values[6, col] = zh, name
        for row, measure in enumerate(file.measures, start=_FIRST_ROW):
            cells = _measure_cells(measure)
            for col, (name, _) in enumerate(_COLUMNS, start=1):
                values[row, col] = cells[name]
        for (row, col), value in values.items():
            where = f"{get_column_letter(col)}{row}"
            if isinstance(value, str) and len(value) > _CELL_MAX:
                problems.append(CellProblem(sheet.title, where, "cell_too_long",
                                            f"the value has {len(value)} characters, more than an Excel cell holds "
                                            f"({_CELL_MAX}) / 内容有 {len(value)} 个字符，超过 Excel 单元格上限（{_CELL_MAX}）"))
                continue
            try:
                cell = sheet.cell(row=row, column=col, value=value)
            except IllegalCharacterError:
                problems.append(CellProblem(sheet.title, where, "bad_text",
                                            "the value holds a control character an Excel cell cannot / "
                                            "内容含有 Excel 单元格不能保存的控制字符"))
                continue
            # Text cells stay text when edited: Excel would turn "000000" into 0 and "2024" into a number.
            cell.number_format = "@" if isinstance(value, str) or value is None else "General"
            if row in (1, 2, 5, 6):
                cell.font, cell.fill = bold, shade
        for col, (name, _) in enumerate(_COLUMNS, start=1):
            sheet.column_dimensions[get_column_letter(col)].width = 40 if name in ("name", "description") else 18
        sheet.freeze_panes = "B7"
    if problems:
        raise ExcelError(problems)
    target = os.fspath(out)
    fd, temp = tempfile.mkstemp(suffix=".xlsx", dir=os.path.dirname(os.path.abspath(target)))
    os.close(fd)
    try:
        book.save(temp)
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    return len(files), sum(len(f.measures) for f in files)


# --- import: cells → YAML text, every line tied to a cell -------------------------------------------

@dataclass
class _Sheet:
    """One sheet turned into YAML text: ``cells[i]`` is the cell that line ``i + 1`` came from."""

    name: str
    lines: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    problems: list[CellProblem] = field(default_factory=list)

    def emit(self, text: str, cell: str) -> None:
        self.lines.append(text)
        self.cells.append(cell)

    def problem(self, cell: str, code: str, en: str, zh: str) -> None:
        self.problems.append(CellProblem(self.name, cell, code, f"{en} / {zh}"))

    def cell_of(self, line: int) -> str:
        return self.cells[min(max(line, 1), len(self.cells)) - 1] if self.cells else "A1"


def _scalar(value: object) -> str:
    """``value`` as one line of YAML flow text, quoted exactly when it must be."""
    text = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=1 << 30)
    return text.strip()[1:-1]


def _text(value: object) -> object:
    """A cell as text where text is expected; a number or date typed into it is read as written."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _value(name: str, cell: object) -> object:
    """What a measure field's cell says, as the YAML value to write."""
    if name in _BOOL_FIELDS and isinstance(cell, str) and cell.strip().lower() in _TRUE | _FALSE:
        return cell.strip().lower() in _TRUE
    if name in _BOOL_FIELDS and isinstance(cell, bool):
        return cell
    value = _text(cell)
    if name in _DATE_FIELDS and isinstance(value, str):
        try:  # a date stays a date in YAML; anything else is quoted, and lint tells what is wrong with it
            return dt.date.fromisoformat(value.strip()) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()) else value
        except ValueError:
            return value
    return value


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


#: Lists of ids, where a full-width '；' (a Chinese input method's) can only mean the separator.
_ID_LISTS = frozenset({"list_types", "matter_types", "subject_types", "related_party_roles", "tags"})


def _items(cell: object, ids: bool = False) -> list[str]:
    text = str(_text(cell))
    return [item.strip() for item in (text.replace("；", ";") if ids else text).split(";")]


def _columns(sheet: _Sheet, row: Sequence[object]) -> dict[str, int]:
    """The measure columns by field id (row 6), every unknown, repeated or missing one reported."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(row):
        if _blank(cell):
            continue
        name, where = str(cell).strip(), f"{get_column_letter(index + 1)}{_COLUMN_ROW}"
        if name not in _KNOWN:
            sheet.problem(where, "unknown_column", f"'{name}' is not a measure field",
                          f"'{name}' 不是措施字段")
        elif name in columns:
            sheet.problem(where, "repeated_column", f"column '{name}' appears twice", f"列 '{name}' 重复")
        else:
            columns[name] = index
    for name in _REQUIRED:
        if name not in columns:
            sheet.problem(f"A{_COLUMN_ROW}", "missing_column",
                          f"row {_COLUMN_ROW} has no column '{name}' (the field ids sit under the Chinese headers)",
                          f"第 {_COLUMN_ROW} 行缺少列 '{name}'（字段名写在中文表头下方）")
    return columns


def _header(sheet: _Sheet, rows: dict[int, Sequence[object]]) -> None:
    ids, values = rows.get(_HEADER_ROW, ()), rows.get(_HEADER_ROW + 1, ())
    found = {str(cell).strip(): index for index, cell in enumerate(ids) if not _blank(cell)}
    for name, _ in _HEADER_COLUMNS:
        if name not in found:
            sheet.problem(f"A{_HEADER_ROW}", "bad_layout",
                          f"row {_HEADER_ROW} has no '{name}': rows 1–3 hold the file header (edition, issuer, "
                          f"region_code) with its values in row 3",
                          f"第 {_HEADER_ROW} 行缺少 '{name}'：第 1–3 行为文件头（edition、issuer、region_code），值在第 3 行")
            continue
        index = found[name]
        cell = values[index] if index < len(values) else None
        where = f"{get_column_letter(index + 1)}{_HEADER_ROW + 1}"
        if _blank(cell):
            sheet.problem(where, "missing_field", f"the file header's {name} is empty", f"文件头的 {name} 为空")
            continue
        sheet.emit(f"{name}: {_scalar(_text(cell))}", where)


def _measure(sheet: _Sheet, number: int, row: Sequence[object], columns: dict[str, int]) -> None:
    def at(name: str) -> tuple[object, str]:
        index = columns.get(name)
        if index is None:
            return None, f"A{number}"
        return (row[index] if index < len(row) else None), f"{get_column_letter(index + 1)}{number}"

    first = True
    for name, _ in _COLUMNS:
        if name.startswith("legal_basis."):
            if name == "legal_basis.document":
                first = _basis(sheet, at, first)
            continue
        if name not in columns:
            continue  # told once, as a missing column
        cell, where = at(name)
        if _blank(cell):
            if name in _REQUIRED:
                sheet.problem(where, "missing_field", f"{name} of the measure in row {number} is empty",
                              f"第 {number} 行措施的 {name} 为空")
            continue
        if isinstance(cell, str) and len(cell) > _tabular.FIELD_MAX:
            sheet.problem(where, "cell_too_long", "the cell holds more than 1 MiB of text", "单元格文本超过 1 MiB")
            continue
        if name in _LIST_FIELDS:
            text = "[" + ", ".join(_scalar(item) for item in _items(cell, name in _ID_LISTS) if item) + "]"
        else:
            text = _scalar(_value(name, cell))
        sheet.emit(f"  {'- ' if first else '  '}{name}: {text}", where)
        first = False


def _basis(sheet: _Sheet, at: Callable[[str], tuple[object, str]], first: bool) -> bool:
    cells = {part: at(f"legal_basis.{part}") for part in _BASIS}
    documents, where = cells["document"]
    if _blank(documents):
        return first  # reported as a missing required column or field
    count = len(_items(documents))
    parts: dict[str, list[str]] = {}
    for part, (cell, place) in cells.items():
        values = [""] * count if _blank(cell) else _items(cell)
        if len(values) != count:
            sheet.problem(place, "basis_mismatch",
                          f"legal_basis.{part} has {len(values)} ';'-separated entries but legal_basis.document has "
                          f"{count}; give one per document, empty between ';' where unknown",
                          f"legal_basis.{part} 有 {len(values)} 项（以 ';' 分隔），而依据文件有 {count} 项；"
                          "请逐一对应，未知的留空")
            return False
        parts[part] = values
    sheet.emit(f"  {'- ' if first else '  '}legal_basis:", where)
    for index in range(count):
        for n, part in enumerate(_BASIS):
            lead = "      - " if n == 0 else "        "
            sheet.emit(f"{lead}{part}: {_scalar(parts[part][index])}", cells[part][1])
    return False


def _read_sheet(name: str, rows: Iterator[tuple[object, ...]]) -> _Sheet:
    sheet = _Sheet(name)
    sheet.emit(SCHEMA_LINE, "A1")
    sheet.emit(f"# 由 joint-sanctions measures import 从工作表 {name} 生成 / written from sheet {name}", "A1")
    head: dict[int, Sequence[object]] = {}
    columns: dict[str, int] | None = None
    measures = 0
    for number, row in enumerate(rows, start=1):
        if number < _COLUMN_ROW:
            head[number] = row
            continue
        if number == _COLUMN_ROW:
            _header(sheet, head)
            columns = _columns(sheet, row)
            sheet.emit("measures:", f"A{_FIRST_ROW}")
            continue
        if all(_blank(cell) for cell in row):
            continue  # spreadsheets leave blank rows behind; they are no measure
        measures += 1
        if measures > MAX_ROWS:
            sheet.problem(f"A{number}", "too_many_rows", f"more than {MAX_ROWS} measures in one sheet",
                          f"一个工作表中的措施超过 {MAX_ROWS} 条")
            break
        _measure(sheet, number, row, columns or {})
    if columns is None:
        sheet.problem(f"A{_COLUMN_ROW}", "bad_layout",
                      f"the sheet ends before row {_COLUMN_ROW}, which holds the measure columns' field ids",
                      f"工作表不足 {_COLUMN_ROW} 行；第 {_COLUMN_ROW} 行应为措施字段名")
    elif measures == 0:
        sheet.lines[-1] += " []"  # lint then tells that a file needs at least one measure
    return sheet


# --- import: reading the workbook, linting, writing ---------------------------------------------------

def _sheets(path: str, max_input_mb: int) -> list[_Sheet]:
    where = os.path.basename(path)
    try:
        _tabular.check_xlsx(path, max_input_mb)
    except _tabular.Refused as exc:
        raise _refusal(where, exc.code, str(exc)) from None
    except OSError as exc:
        raise _refusal(where, "unreadable", f"cannot read the workbook: {exc.strerror} / 无法读取工作簿") from None

    def unreadable(exc: BaseException) -> ExcelError:
        return _refusal(where, "unreadable", f"not a readable XLSX workbook ({exc}) / 不是有效的 XLSX 工作簿")

    with open(path, "rb") as file:  # opened here: load_workbook leaves its own file open when it fails
        try:
            book = openpyxl.load_workbook(file, read_only=True, data_only=True)
        except _tabular.XLSX_ERRORS as exc:
            raise unreadable(exc) from exc
        try:
            read: list[_Sheet] = []
            for ws in book.worksheets:
                ws.reset_dimensions()  # some writers store a wrong size, which would cut rows short
                rows = _tabular.guarded(ws.iter_rows(values_only=True), unreadable)
                read.append(_read_sheet(ws.title, rows))
            return read
        except _tabular.XLSX_ERRORS as exc:
            raise unreadable(exc) from exc
        finally:
            book.close()


def _names(sheets: Sequence[_Sheet]) -> list[CellProblem]:
    problems: list[CellProblem] = []
    for sheet in sheets:
        if not _SHEET_NAME.fullmatch(sheet.name) or sheet.name.startswith("."):
            problems.append(CellProblem(sheet.name, "A1", "bad_sheet_name",
                                        f"sheet '{sheet.name}' cannot name a file: use letters, digits, '_', '-' or '.' "
                                        f"/ 工作表名 '{sheet.name}' 不能用作文件名：请只用字母、数字、'_'、'-' 或 '.'"))
        elif is_policy_file(f"{sheet.name}.yaml"):
            problems.append(CellProblem(sheet.name, "A1", "bad_sheet_name",
                                        f"'{sheet.name}' is the list-type policy's file, which the workbook does not carry "
                                        f"/ '{sheet.name}' 是名单类型政策文件，不在工作簿中维护"))
    return problems


_AT_TEMP = re.compile(r"(?P<path>\S+?\.yaml):(?P<line>\d+):\d+")


def _linted(sheets: Sequence[_Sheet]) -> list[CellProblem]:
    """Lint's problems with the YAML the sheets make, each told at its cell."""
    # Files named by position: a sheet's own name may be no file name (told apart, as bad_sheet_name).
    by_file = {f"s{index:04d}.yaml": s for index, s in enumerate(sheets)}
    problems: list[CellProblem] = []
    with tempfile.TemporaryDirectory(prefix="js-import-") as temp:
        for name, sheet in by_file.items():
            Path(temp, name).write_text("\n".join(sheet.lines) + "\n", encoding="utf-8")

        def cell_ref(found: re.Match[str]) -> str:
            sheet = by_file.get(os.path.basename(found["path"]))
            return found[0] if sheet is None else f"{sheet.name}!{sheet.cell_of(int(found['line']))}"

        for p in lint([temp]) if by_file else ():
            if p.code == "missing_field":
                continue  # each empty required cell and missing column is already told at its place
            sheet = by_file[os.path.basename(p.path)]
            # a message may point at another place in the text (a repeated id): told as a cell too
            problems.append(CellProblem(sheet.name, sheet.cell_of(p.line), p.code, _AT_TEMP.sub(cell_ref, p.message)))
    return problems


def _cell_key(problem: CellProblem) -> tuple[str, int, str]:
    letters = problem.cell.rstrip("0123456789")
    return problem.sheet, int(problem.cell[len(letters):] or 0), f"{len(letters):02d}{letters}"


def import_workbook(path: PathLike, out: PathLike, *, force: bool = False,
                    max_input_mb: int = _tabular.DEFAULT_MAX_INPUT_MB) -> list[str]:
    """Write one measure-list YAML file per sheet of the workbook ``path`` into the directory ``out``.

    Returns the files written. Nothing is written when any sheet has a problem.

    Raises:
        ExcelError: every problem of every sheet (lint's included), at its cell; an existing file
            without ``force``; a workbook unsafe or unreadable.
    """
    path, target = os.fspath(path), Path(os.fspath(out))
    sheets = _sheets(path, max_input_mb)
    problems = _names(sheets)
    for sheet in sheets:
        problems += sheet.problems
    problems += _linted(sheets)
    if target.exists() and not target.is_dir():
        problems.append(CellProblem(os.path.basename(path), "A1", "file_exists",
                                    f"{target} exists and is not a directory / {target} 已存在且不是目录"))
    elif not force:
        for sheet in sheets:
            if (target / f"{sheet.name}.yaml").exists():
                problems.append(CellProblem(sheet.name, "A1", "file_exists",
                                            f"{target / (sheet.name + '.yaml')} exists; pass --force to overwrite it / "
                                            f"文件已存在；如需覆盖请加 --force"))
    if problems:
        raise ExcelError(sorted(problems, key=_cell_key))
    target.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for sheet in sheets:
        file = target / f"{sheet.name}.yaml"
        fd, temp = tempfile.mkstemp(suffix=".yaml", dir=target)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(sheet.lines) + "\n")
        os.replace(temp, file)
        written.append(str(file))
    return written
