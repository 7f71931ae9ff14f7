"""The Excel round trip of measure lists (issue 14 point 7): ``measures export`` and ``measures import``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pytest

from joint_sanctions._cli import main
from joint_sanctions._compile import compile_measures
from joint_sanctions._load import ERROR_CODES, lint, load_measure_lists, shipped_measures_dir
from joint_sanctions._workbench_excel import EXCEL_ERROR_CODES, SCHEMA_LINE

SHIPPED = shipped_measures_dir()
LOCATED = re.compile(r"^(?P<sheet>[\w.-]+)!(?P<cell>[A-Z]+[0-9]+): (?P<code>[a-z_]+): (?P<en>.+) / (?P<zh>.+)$")


def export(tmp_path: Path, source: Path = SHIPPED) -> Path:
    out = tmp_path / "lists.xlsx"
    assert main(["measures", "export", str(source), "--out", str(out)]) == 0
    return out


def column(sheet: openpyxl.worksheet.worksheet.Worksheet, field: str) -> str:
    """The letter of the measure column whose field id (row 6) is ``field``."""
    for cell in sheet[6]:
        if cell.value == field:
            return str(cell.column_letter)
    raise AssertionError(f"no column {field}")


def row_of(sheet: openpyxl.worksheet.worksheet.Worksheet, measure_id: str) -> int:
    letter = column(sheet, "id")
    for cell in sheet[letter]:
        if cell.value == measure_id:
            return int(cell.row)
    raise AssertionError(f"no measure {measure_id}")


def problems(text: str) -> list[re.Match[str]]:
    found = [LOCATED.match(line) for line in text.splitlines()]
    return [m for m in found if m is not None]


def test_export_then_import_of_the_shipped_lists_gives_the_same_revision(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Exporting the shipped lists and importing the workbook gives YAML that lints clean, names the schema on
    its first line, and compiles to the shipped revision."""
    book = export(tmp_path)
    out = tmp_path / "lists"
    assert main(["measures", "import", str(book), "--out", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in SHIPPED.glob("*.yaml") if p.name != "list_types.yaml")
    assert lint([out]) == []
    for path in out.iterdir():
        assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    assert compile_measures(load_measure_lists(out)).revision == compile_measures(load_measure_lists(SHIPPED)).revision
    assert f"wrote {out / 'national.yaml'}" in capsys.readouterr().out


def test_export_lays_out_a_sheet_per_file_with_chinese_headers_and_field_ids(tmp_path: Path) -> None:
    """Each file is a sheet named after it (the list-type policy is not one), its header in rows 1–3 and a row per
    measure under Chinese headers with the field ids beneath; list fields are ';'-separated."""
    book = openpyxl.load_workbook(export(tmp_path))
    files = load_measure_lists(SHIPPED)
    assert book.sheetnames == [Path(f.path).stem for f in files]
    sheet = book["national"]
    national = next(f for f in files if Path(f.path).stem == "national")
    assert [c.value for c in sheet[1][:3]] == ["版本", "发布单位", "区划代码"]
    assert [c.value for c in sheet[2][:3]] == ["edition", "issuer", "region_code"]
    assert [c.value for c in sheet[3][:3]] == [national.edition, national.issuer, "000000"]
    assert sheet["C3"].number_format == "@"  # typed over, it stays text, leading zeros and all
    assert sheet["A5"].value == "措施编号" and sheet["A6"].value == "id"
    assert sheet.max_row == 6 + len(national.measures)
    first = national.measures[0]
    row = row_of(sheet, first.id)
    assert sheet[f"{column(sheet, 'list_types')}{row}"].value == "; ".join(first.list_types)
    assert sheet[f"{column(sheet, 'legal_basis.document')}{row}"].value == first.legal_basis[0].document
    assert sheet[f"{column(sheet, 'mandatory')}{row}"].value is first.mandatory


def test_import_tells_every_problem_at_its_cell_and_writes_nothing(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Problems of several sheets — a lint problem, an empty required cell, an unknown column, a legal basis whose
    columns disagree, a measure id repeated in another sheet — are all told as Sheet!C12 with a stable code, in
    English and Chinese; the exit code is 1 and no file is written."""
    path = export(tmp_path)
    book = openpyxl.load_workbook(path)
    national, incentives = book["national"], book["incentives"]
    row = row_of(national, "NAT-LIC-001")
    effect, name = f"{column(national, 'effect')}{row}", f"{column(national, 'name')}{row + 1}"
    national[effect] = "forbid"
    national[name] = None
    number = f"{column(national, 'legal_basis.number')}{row}"
    national[number] = "a; b; c"
    spare = national.max_column + 1
    national.cell(row=6, column=spare, value="colour")
    repeat = f"{column(incentives, 'id')}{_FIRST}"
    incentives[repeat] = "NAT-LIC-001"
    book.save(path)
    out = tmp_path / "lists"

    assert main(["measures", "import", str(path), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    found = {(m["sheet"], m["cell"], m["code"]) for m in problems(captured.out)}
    letter = openpyxl.utils.get_column_letter(spare)
    assert {("national", effect, "unknown_effect"), ("national", name, "missing_field"),
            ("national", number, "basis_mismatch"), ("national", f"{letter}6", "unknown_column")} <= found
    assert any(sheet in ("national", "incentives") and code == "duplicate_measure_id" for sheet, _, code in found)
    assert all(m["code"] in ERROR_CODES + EXCEL_ERROR_CODES for m in problems(captured.out))
    assert all(re.search(r"[\u4e00-\u9fff]", m["zh"]) for m in problems(captured.out))
    duplicate = next(line for line in captured.out.splitlines() if "duplicate_measure_id" in line)
    assert "national!" in duplicate and "incentives!" in duplicate and ".yaml" not in duplicate
    assert "nothing written / " in captured.err and "Traceback" not in captured.err
    assert not out.exists()


_FIRST = 7  # the first measure row


def test_import_refuses_to_overwrite_files_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An existing file is not overwritten (exit 1, located, nothing written) unless --force is given."""
    path = export(tmp_path)
    out = tmp_path / "lists"
    out.mkdir()
    kept = out / "national.yaml"
    kept.write_text("# mine\n", encoding="utf-8")
    assert main(["measures", "import", str(path), "--out", str(out)]) == 1
    assert ("national", "A1", "file_exists") in {(m["sheet"], m["cell"], m["code"])
                                                 for m in problems(capsys.readouterr().out)}
    assert kept.read_text(encoding="utf-8") == "# mine\n" and sorted(out.iterdir()) == [kept]
    assert main(["measures", "import", str(path), "--out", str(out), "--force"]) == 0
    assert kept.read_text(encoding="utf-8").startswith(SCHEMA_LINE) and lint([out]) == []


def test_import_reads_a_workbook_as_staff_edit_it(tmp_path: Path) -> None:
    """Columns moved about, 是/否 for booleans, a date typed as a date, a number typed into a text cell, a
    full-width '；' between list-type ids and blank rows are read as meant."""
    path = export(tmp_path)
    book = openpyxl.load_workbook(path)
    sheet = book["departments"]
    count = sheet.max_row - 6
    sheet.move_range(f"A5:A{6 + count}", cols=30)  # the id column moves to the far right
    sheet.insert_rows(9, 2)
    measure = 6 + count + 2
    letter = column(sheet, "mandatory")
    sheet[f"{letter}{measure}"] = "否"
    sheet[f"{column(sheet, 'valid_from')}{measure}"] = dt.datetime(2025, 1, 1)
    sheet[f"{column(sheet, 'list_types')}{measure}"] = "court_defaulter；major_tax_violator"
    sheet["A3"] = 2031  # edition typed as a number
    book.save(path)
    out = tmp_path / "lists"
    assert main(["measures", "import", str(path), "--out", str(out)]) == 0
    assert lint([out]) == []
    departments = next(f for f in load_measure_lists(out) if Path(f.path).stem == "departments")
    edited = departments.measures[-1]
    assert departments.edition == "2031"
    assert edited.mandatory is False and edited.valid_from == dt.date(2025, 1, 1)
    assert edited.list_types == ("court_defaulter", "major_tax_violator")
    assert len(departments.measures) == len(next(f for f in load_measure_lists(SHIPPED)
                                                 if Path(f.path).stem == "departments").measures)


def test_import_refuses_a_file_that_is_no_workbook_in_one_line(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not an XLSX workbook is refused with exit 1, one bilingual line and no traceback."""
    fake = tmp_path / "lists.xlsx"
    fake.write_bytes(b"not a zip at all")
    assert main(["measures", "import", str(fake), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    [line] = problems(captured.out)
    assert line["code"] == "unreadable" and not (tmp_path / "out").exists()


def test_the_sub_actions_keep_the_bare_measures_command_and_check_their_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`measures` and `measures --matter M` still list what applies; a sub-action without --out, with an out file
    that is not .xlsx, or with the listing's filters is a wrong command line (exit 2)."""
    assert main(["measures", "--matter", "bidding"]) == 0
    assert "measure(s)" in capsys.readouterr().out
    for argv in (["measures", "export", str(SHIPPED)],
                 ["measures", "export", str(SHIPPED), "--out", str(tmp_path / "x.csv")],
                 ["measures", "import", str(tmp_path / "x.xlsx")],
                 ["measures", "--matter", "bidding", "export", str(SHIPPED), "--out", str(tmp_path / "x.xlsx")]):
        with pytest.raises(SystemExit) as exited:
            code = main(argv)
            raise SystemExit(code)
        assert exited.value.code == 2, argv
    assert not (tmp_path / "x.xlsx").exists()


def test_export_refuses_lists_that_do_not_lint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exporting lists with problems writes no workbook and exits 1 pointing at lint."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("edition: '1'\n", encoding="utf-8")
    out = tmp_path / "x.xlsx"
    assert main(["measures", "export", str(bad), "--out", str(out)]) == 1
    assert "joint-sanctions lint" in capsys.readouterr().err and not out.exists()


def test_export_refuses_a_file_whose_name_cannot_be_a_sheet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file whose name is no usable sheet name (a space, more than 31 characters) is refused, exit 1, no workbook."""
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "my lists.yaml").write_text((SHIPPED / "incentives.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "x.xlsx"
    assert main(["measures", "export", str(lists), "--out", str(out)]) == 1
    assert capsys.readouterr().out.startswith("my lists!A1: bad_sheet_name: ")
    assert not out.exists()
