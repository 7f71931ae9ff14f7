"""``joint-sanctions matrix``: list types × matter types, each cell the strongest effect, its measure ids
and whether it binds; empty cells and overlaps marked (issue 14, point 5)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest

from joint_sanctions._load import shipped_measures_dir
from joint_sanctions.vocabulary import LIST_TYPES, MATTER_TYPES

from .conftest import PERSONS, assert_masked, cli


def _matrix_json(tmp_path: Path, *args: str) -> dict[str, dict[str, object]]:
    out = tmp_path / "matrix.json"
    done = cli("matrix", *args, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["cells"]) == len(LIST_TYPES) * len(MATTER_TYPES)
    return {f"{c['list_type']} {c['matter_type']}": c for c in doc["cells"]}


def test_cells_show_strongest_effect_ids_binding_empty_and_overlap(tmp_path: Path) -> None:
    """Court defaulter × procurement: prohibit (unconfirmed, so not binding) over a binding restrict, three
    measures overlapping; a cell without measures is empty; civil-service hiring binds alone."""
    cells = _matrix_json(tmp_path)
    gp = cells["court_defaulter government_procurement"]
    assert gp["effect"] == "prohibit" and gp["binding"] is False and gp["binding_effect"] == "restrict"
    assert set(gp["measure_ids"]) == {"DEP-GP-001", "NAT-GP-003", "NAT-CD-001"}
    assert gp["overlap"] is True and gp["empty"] is False
    hiring = cells["court_defaulter civil_servant_hiring"]
    assert (hiring["effect"], hiring["binding"], hiring["overlap"]) == ("prohibit", True, False)
    empty = cells["tax_credit_a government_procurement"]
    assert empty["empty"] is True and empty["effect"] is None and empty["measure_ids"] == []


def test_measures_option_replaces_the_shipped_lists(tmp_path: Path) -> None:
    """--measures DIR draws the lists given: without civil_service.yaml the hiring cells are empty."""
    lists = tmp_path / "lists"
    shutil.copytree(shipped_measures_dir(), lists)
    (lists / "civil_service.yaml").unlink()
    cells = _matrix_json(tmp_path, "--measures", str(lists))
    assert cells["court_defaulter civil_servant_hiring"]["empty"] is True


class _Cells(HTMLParser):
    """Collects the data-* attributes of the matrix cells."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "td" and "c" in (names.get("class") or "").split():
            self.cells.append(names)


def test_html_is_a_colour_coded_self_contained_picture(tmp_path: Path) -> None:
    """The HTML has one coloured cell per list type × matter type, empty ones marked, dark for binding and
    pale for not binding, and loads nothing from outside."""
    out = tmp_path / "matrix.html"
    done = cli("matrix", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    parser = _Cells()
    parser.feed(page)
    assert len(parser.cells) == len(LIST_TYPES) * len(MATTER_TYPES)
    filled = [c for c in parser.cells if "data-empty" not in c]
    assert {c["data-binding"] for c in filled} == {"true", "false"}
    assert len({c["style"] for c in filled}) >= 4  # effects and binding get their own colours
    assert "措施矩阵" in page and "<script" not in page and "src=" not in page


def test_xlsx_has_the_grid_coloured(tmp_path: Path) -> None:
    """The XLSX sheet has list types down, matter types across, each filled cell coloured and naming its ids."""
    out = tmp_path / "matrix.xlsx"
    done = cli("matrix", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    sheet = openpyxl.load_workbook(out).worksheets[0]
    assert sheet.max_row == len(LIST_TYPES) + 1 and sheet.max_column == len(MATTER_TYPES) + 1
    row = 2 + list(LIST_TYPES).index("court_defaulter")
    col = 2 + list(MATTER_TYPES).index("civil_servant_hiring")
    cell = sheet.cell(row=row, column=col)
    assert "CSH-001" in str(cell.value) and cell.fill.fgColor.rgb.endswith("C0392B")
    assert sheet.cell(row=2 + list(LIST_TYPES).index("tax_credit_a"), column=5).value == "—"


def test_html_escapes_and_masks_measure_ids(tmp_path: Path) -> None:
    """Text from the lists shows as text, a resident id in it masked."""
    lists = tmp_path / "lists"
    shutil.copytree(shipped_measures_dir(), lists)
    civil = lists / "civil_service.yaml"
    civil.write_text(civil.read_text(encoding="utf-8").replace("CSH-001\n    name: ",
                                                               f"CSH-001\n    name: <i>{PERSONS[2]}</i>"),
                     encoding="utf-8")
    out = tmp_path / "matrix.html"
    done = cli("matrix", "--measures", str(lists), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "<i>" not in out.read_text(encoding="utf-8")
    assert_masked(out.read_text(encoding="utf-8"), PERSONS[2])


def test_stdout_table_and_exit_codes(tmp_path: Path) -> None:
    """Without --out a table per list type; a wrong extension exits 2; lists that do not lint exit 1."""
    done = cli("matrix", cwd=tmp_path)
    assert done.returncode == 0
    assert "court_defaulter (失信被执行人):" in done.stdout
    assert "civil_servant_hiring: prohibit binding [CSH-001]" in done.stdout
    assert cli("matrix", "--out", str(tmp_path / "m.csv"), cwd=tmp_path).returncode == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text("measures: [\n", encoding="utf-8")
    refused = cli("matrix", "--measures", str(bad), cwd=tmp_path)
    assert refused.returncode == 1 and "x.yaml" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.browser
def test_matrix_and_diff_render_in_chromium(tmp_path: Path) -> None:
    """Chromium renders the matrix and the diff sheet (screenshots of 1280×900, not blank)."""
    chromium = shutil.which("chromium")
    assert chromium, "the browser tests need chromium"
    new = tmp_path / "new"
    shutil.copytree(shipped_measures_dir(), new)
    national = new / "national.yaml"
    national.write_text(national.read_text(encoding="utf-8").replace("basis_status: confirmed",
                                                                     "basis_status: unconfirmed"), encoding="utf-8")
    pages = {"matrix": ("matrix", "--out"), "diff": ("diff", str(shipped_measures_dir()), str(new), "--out")}
    for name, args in pages.items():
        page = tmp_path / f"{name}.html"
        assert cli(*args, str(page), cwd=tmp_path).returncode == 0
        png = tmp_path / f"{name}.png"
        done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
                               "--window-size=1280,900", page.as_uri()],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (1280, 900)
        assert len(data) > 20_000  # a blank page compresses to a few KB
