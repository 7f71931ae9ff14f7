"""Batch verification: CSV/XLSX in, CSV/XLSX/HTML reports out, bad rows, bad files, and the CLI."""

from __future__ import annotations

import csv
import os
import pty
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
import pytest

from joint_sanctions import Engine, _batch_reports
from joint_sanctions import _batch as batch_module
from joint_sanctions._batch import REPORT_COLUMNS, BatchError, check_report_path, open_batch, run_batch
from joint_sanctions._cases import case_book_for
from joint_sanctions._compile import CompiledMeasures
from joint_sanctions.stores._sqlite import SqliteStore
from joint_sanctions.testing import SequentialIds

from . import hostile
from .conftest import FIXED_NOW, PERSONS, USCCS, Database, assert_masked, record, write_csv


def read_report(path: Path) -> tuple[str, list[dict[str, str]]]:
    """The raw text of a CSV report and its rows as dicts."""
    text = path.read_bytes().decode("utf-8")
    with open(path, encoding="utf-8-sig", newline="") as file:
        return text, list(csv.DictReader(file))


#: Procurement violators here are barred by their own decisions (measure_lists/README.md, requires_ban).
GP_BAN: dict[str, Any] = {"ban_matter_types": ("government_procurement",)}

@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    """Shipped lists over SQLite: two procurement violators, a wage-arrears person, a red-list firm."""
    return make_engine([
        record("GP-1", USCCS[1], "procurement_violator", authority="郑州市财政局", document_no="郑财采〔2025〕1号",
               **GP_BAN),
        record("CD-2", USCCS[2], "court_defaulter"),
        record("CD-2B", USCCS[2], "market_serious_violator", authority="郑州市市场监督管理局"),
        record("WAGE-P", PERSONS[0], "wage_arrears", authority="郑州市人力资源和社会保障局"),
        record("TAX-A", USCCS[3], "tax_credit_a", authority="国家税务总局郑州市税务局"),
    ], cases=False)


def test_csv_report_has_bom_exact_columns_and_masked_ids(engine: Engine, tmp_path: Path) -> None:
    """The CSV report is UTF-8 with BOM, has exactly the contract columns, and masks resident ids."""
    source = write_csv(tmp_path / "in.csv", [
        (USCCS[0], "郑州市清白商贸有限公司"), (USCCS[1], "河南某采购违法供应商有限公司"),
        (USCCS[2], "郑州某失信被执行人有限公司"), (PERSONS[1], "王五")])
    summary = run_batch(engine, source, "government_procurement", tmp_path / "out.csv")
    text, rows = read_report(tmp_path / "out.csv")
    assert text.startswith("\ufeffline,subject_id,subject_name,decision,measure_ids,record_ids,"
                           "non_binding_measure_ids\r\n")
    assert [tuple(r) for r in rows] == [REPORT_COLUMNS] * 4
    assert [(r["line"], r["decision"]) for r in rows] == [
        ("2", "clear"), ("3", "prohibited"), ("4", "restricted"), ("5", "clear")]  # NAT-GP-003 does not bind
    assert rows[1]["measure_ids"].split(";") == ["DEP-GP-001", "NAT-GP-001", "NAT-GP-002", "NAT-GP-003"]
    assert rows[2]["record_ids"] == "CD-2;CD-2B"
    assert rows[3]["subject_id"] == PERSONS[1][:4] + "*" * 10 + PERSONS[1][-4:]
    assert PERSONS[1] not in text
    assert (summary.total, summary.flagged, summary.rejected) == (4, 2, ())
    assert summary.counts == {"prohibited": 1, "restricted": 1, "review": 0, "clear": 2}


def test_legal_representative_brings_the_related_party_measure(make_engine: Callable[..., Engine],
                                                               tmp_path: Path) -> None:
    """A legal representative on the trading list brings the memorandum's measure to the company (review),
    one on the wage-arrears list nothing (art. 48 does not reach other companies); ids masked."""
    engine = make_engine([record("WAGE-P", PERSONS[0], "wage_arrears"),
                          record("TRD-P", PERSONS[1], "trading_serious_violator")], cases=False)
    source = write_csv(tmp_path / "in.csv", [(USCCS[5], "郑州某建筑劳务有限公司", "法人", PERSONS[1]),
                                             (USCCS[6], "郑州某建筑工程有限公司", "法人", PERSONS[0])],
                       header=("subject_id", "subject_name", "subject_type", "legal_representative_id"))
    run_batch(engine, source, "bidding", tmp_path / "out.csv")
    text, rows = read_report(tmp_path / "out.csv")
    assert [(r["decision"], r["measure_ids"], r["record_ids"]) for r in rows] == [
        ("review", "NAT-TRD-001", "TRD-P"), ("clear", "", "")]
    assert PERSONS[0] not in text and PERSONS[1] not in text


def test_bad_rows_are_reported_with_their_line_and_the_rest_checked(engine: Engine, tmp_path: Path) -> None:
    """Bad rows are skipped with line and reason (ids masked); every good row is still checked."""
    bad_person = PERSONS[2][:-1] + ("1" if PERSONS[2][-1] != "1" else "2")
    source = write_csv(tmp_path / "in.csv", [
        (USCCS[1], "好行一", ""), ("", "没有证件号", ""), (bad_person, "校验位错", ""),
        (USCCS[0], "类型错", "company"), ("", "", ""), (USCCS[2], "好行二", "legal_person"),
        (USCCS[4], "代表人不是自然人", "", USCCS[6]), (USCCS[7], "多一列", "", "", "extra")],
        header=("subject_id", "subject_name", "subject_type", "legal_representative_id"))
    summary = run_batch(engine, source, "government_procurement", tmp_path / "out.csv")
    assert [r.line for r in summary.rejected] == [3, 4, 5, 8, 9]
    reasons = [r.reason for r in summary.rejected]
    assert "subject_id: missing" in reasons[0]
    assert bad_person not in reasons[1] and bad_person[:4] + "*" * 10 in reasons[1]
    assert "unknown subject_type 'company'" in reasons[2]
    assert "legal_representative_id" in reasons[3] and "resident id" in reasons[3]
    assert "5 fields, the header has 4" in reasons[4]
    _, rows = read_report(tmp_path / "out.csv")
    assert [r["line"] for r in rows] == ["2", "7"]
    assert summary.total == 2


def test_wrong_columns_are_named_in_one_error(engine: Engine, tmp_path: Path) -> None:
    """A header with missing, unknown and repeated columns is refused with each one named."""
    source = write_csv(tmp_path / "in.csv", [(USCCS[0], "x", "y", "z")],
                       header=("统一社会信用代码", "subject_name", "remark", "subject_name"))
    with pytest.raises(BatchError) as caught:
        run_batch(engine, source, "honors", tmp_path / "out.csv")
    message = str(caught.value)
    assert caught.value.code == "bad_header"
    assert "missing columns: subject_id" in message
    assert "unknown columns: '统一社会信用代码', 'remark'" in message
    assert "repeated columns: subject_name" in message
    assert not (tmp_path / "out.csv").exists()


def test_empty_batch_is_refused_and_writes_no_report(engine: Engine, tmp_path: Path) -> None:
    """A file with a header and no rows (blank lines only) is an empty batch; no report appears."""
    source = tmp_path / "in.csv"
    source.write_text("subject_id,subject_name\n\n,\n", encoding="utf-8")
    with pytest.raises(BatchError) as caught:
        run_batch(engine, source, "honors", tmp_path / "out.html")
    assert caught.value.code == "empty_batch"
    assert "empty" in str(caught.value)
    assert not [name for name in os.listdir(tmp_path) if "out" in name]


def test_unknown_report_and_input_extensions_are_refused(engine: Engine, tmp_path: Path) -> None:
    """Report and input types are chosen by extension; others are refused with a clear error."""
    source = write_csv(tmp_path / "in.csv", [(USCCS[0], "x")])
    with pytest.raises(BatchError, match=r"unsupported report type '\.pdf'") as caught:
        run_batch(engine, source, "honors", tmp_path / "out.pdf")
    assert caught.value.code == "unsupported_report"
    (tmp_path / "in.txt").write_text("subject_id,subject_name\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"unsupported input file type '\.txt'"):
        open_batch(tmp_path / "in.txt")


def test_file_that_is_not_utf8_is_refused_with_a_hint(engine: Engine, tmp_path: Path) -> None:
    """A GBK-encoded CSV (Excel's default on Chinese Windows) is refused with a 'save as CSV UTF-8' hint."""
    source = tmp_path / "in.csv"
    source.write_bytes(f"subject_id,subject_name\n{USCCS[0]},郑州市某公司\n".encode("gbk"))
    with pytest.raises(BatchError, match="CSV UTF-8") as caught:
        run_batch(engine, source, "honors", tmp_path / "out.csv")
    assert caught.value.code == "unreadable"


def test_xlsx_in_and_out_with_summary_sheet(engine: Engine, tmp_path: Path) -> None:
    """An XLSX list gives an XLSX report: the results sheet with the CSV columns, then a summary sheet."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Subject_ID ", "subject_name", "subject_type"])
    sheet.append([USCCS[1], "河南某采购违法供应商有限公司", None])
    sheet.append([USCCS[3], "郑州某纳税信用A级企业", "legal_person"])
    sheet.append([410105198503140011, "数字格式的身份证号", None])
    sheet.append([PERSONS[3], "赵六", "自然人"])
    book.save(tmp_path / "in.xlsx")
    summary = run_batch(engine, tmp_path / "in.xlsx", "government_procurement", tmp_path / "out.xlsx")
    assert [r.line for r in summary.rejected] == [4]
    assert "stored as a number" in summary.rejected[0].reason

    report = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert report.sheetnames == ["核查结果 Results", "汇总 Summary"]
    results = [list(row) for row in report["核查结果 Results"].iter_rows(values_only=True)]
    assert results[0] == list(REPORT_COLUMNS)
    assert results[1][:4] == [2, USCCS[1], "河南某采购违法供应商有限公司", "prohibited"]
    assert results[2] == [3, USCCS[3], "郑州某纳税信用A级企业", "clear", None, "TAX-A", None]  # "" is an empty cell
    assert results[3][1] == PERSONS[3][:4] + "*" * 10 + PERSONS[3][-4:]
    summary_rows = {row[0]: row[1:] for row in report["汇总 Summary"].iter_rows(values_only=True) if row}
    assert summary_rows["核查主体数 Subjects checked"][0] == 3
    assert summary_rows["需关注 Flagged (decision ≠ clear)"][0] == 1
    assert summary_rows["prohibited"][1] == 1 and summary_rows["clear"][1] == 2
    assert summary_rows[4][0].startswith("subject_id: stored as a number")
    assert "410105198503140011" not in str(results) + str(summary_rows)


def test_spreadsheet_formulas_in_names_stay_text(engine: Engine, tmp_path: Path) -> None:
    """A name starting with '=' is not turned into a live formula in the CSV or XLSX report."""
    source = write_csv(tmp_path / "in.csv", [(USCCS[0], '=HYPERLINK("http://example.invalid","x")')])
    run_batch(engine, source, "honors", tmp_path / "out.csv")
    run_batch(engine, source, "honors", tmp_path / "out.xlsx")
    _, rows = read_report(tmp_path / "out.csv")
    assert rows[0]["subject_name"] == "'" + '=HYPERLINK("http://example.invalid","x")'
    cell = openpyxl.load_workbook(tmp_path / "out.xlsx")["核查结果 Results"]["C2"]
    assert (cell.data_type, cell.value) == ("s", "'" + '=HYPERLINK("http://example.invalid","x")')


class _SummaryNumbers(HTMLParser):
    """Integers of the data-* elements inside #summary, keyed by attribute (per decision for data-count)."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.key: str | None = None
        self.decision = ""
        self.numbers: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if not self.inside:
            self.inside = int(names.get("id") == "summary")
            return
        self.inside += 1
        self.decision = names.get("data-decision") or self.decision
        for key in ("data-total", "data-flagged", "data-rejected", "data-duplicates", "data-count"):
            if key in names:
                self.key = key if key != "data-count" else self.decision

    def handle_endtag(self, tag: str) -> None:
        self.inside = max(self.inside - 1, 0)
        self.key = None

    def handle_data(self, data: str) -> None:
        if self.key:
            self.numbers[self.key] = int(data)


def test_html_summary_gives_plain_integers(engine: Engine, tmp_path: Path) -> None:
    """The HTML #summary holds total, flagged, rejected and per-decision counts as plain integers."""
    rows = [(USCCS[i], f"企业{i}") for i in range(1, 6)] + [(PERSONS[0], "张三"), ("bad", "坏行")]
    source = write_csv(tmp_path / "in.csv", rows)
    summary = run_batch(engine, source, "fiscal_funds", tmp_path / "out.html")
    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    parser = _SummaryNumbers()
    parser.feed(page)
    # The procurement violator's fiscal-funds measures all have unconfirmed bases: review, not restricted.
    assert parser.numbers == {"data-total": 6, "data-flagged": 3, "data-rejected": 1, "data-duplicates": 0,
                              "prohibited": 0, "restricted": 2, "review": 1, "clear": 3}
    assert (summary.total, summary.flagged) == (6, 3)
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "<svg" in page and "限制政府资金支持" in page and PERSONS[0] not in page


def test_progress_is_reported_up_to_the_last_row(engine: Engine, tmp_path: Path) -> None:
    """The progress callback is called as rows go by and finally with the number of rows read."""
    source = write_csv(tmp_path / "in.csv", [(USCCS[i], f"企业{i}") for i in range(600)] + [("bad", "x")])
    seen: list[int] = []
    run_batch(engine, source, "honors", tmp_path / "out.csv", progress=seen.append)
    assert seen == [256, 512, 601]


def test_cases_open_only_when_asked(make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    """A batch opens no case unless open_cases is set; then one per subject with measures, after the
    report, which says how many cases are to be opened (it is written before they are)."""
    engine = make_engine([record("GP-1", USCCS[1], "procurement_violator", **GP_BAN)])
    book = case_book_for(engine.store)
    source = write_csv(tmp_path / "in.csv", [(USCCS[0], "甲"), (USCCS[1], "乙")])
    assert run_batch(engine, source, "government_procurement", tmp_path / "a.html").cases_opened == 0
    assert book.list() == []
    summary = run_batch(engine, source, "government_procurement", tmp_path / "b.html", open_cases=True)
    cases = book.list()
    assert summary.cases_opened == 1 and [c.subject.id for c in cases] == [USCCS[1]]
    assert cases[0].case_id not in (tmp_path / "b.html").read_text(encoding="utf-8")
    assert "<dt>待发起案例 Cases to open after this report (--open-cases)</dt><dd>1</dd>" in \
        (tmp_path / "b.html").read_text(encoding="utf-8")
    assert summary.to_dict()["cases_to_open"] == 1


def test_a_rerun_batch_opens_no_new_case(make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    """Running the same batch with open_cases again returns the open cases and opens none."""
    engine = make_engine([record("GP-1", USCCS[1], "procurement_violator", **GP_BAN),
                          record("GP-2", USCCS[2], "procurement_violator", **GP_BAN)])
    book = case_book_for(engine.store)
    source = write_csv(tmp_path / "in.csv", [(USCCS[0], "甲"), (USCCS[1], "乙"), (USCCS[2], "丙")])
    first = run_batch(engine, source, "government_procurement", tmp_path / "a.csv", open_cases=True)
    opened = [c.case_id for c in book.list()]
    assert (first.cases_opened, first.cases_existing, len(opened)) == (2, 0, 2)
    again = run_batch(engine, source, "government_procurement", tmp_path / "b.csv", open_cases=True)
    assert (again.cases_opened, again.cases_existing) == (0, 2)
    assert [c.case_id for c in book.list()] == opened
    assert again.to_dict()["cases_existing"] == 2


def test_duplicate_subjects_are_checked_once_and_reported_as_duplicates(
        make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    """Ids equal after normalisation (lower-case USCC, lower-case x) are checked once, later rows marked."""
    person_x = next(p for p in PERSONS if p.endswith("X"))
    check_id = SequentialIds("chk-")
    engine = make_engine([record("GP-1", USCCS[1], "procurement_violator", **GP_BAN),
                          record("WAGE-X", person_x, "wage_arrears")], new_id=check_id)
    book = case_book_for(engine.store)
    rows = [(USCCS[1], "乙"), (USCCS[0], "甲"), (USCCS[1].lower(), "乙（重复）"), (person_x, "张三"),
            (person_x[:-1] + "x", "张三"), (" " + USCCS[1] + " ", "乙"), ("bad", "坏行")]
    source = write_csv(tmp_path / "in.csv", rows)
    summary = run_batch(engine, source, "government_procurement", tmp_path / "out.csv", open_cases=True)
    assert len(check_id.issued) == 3  # one check per distinct subject
    assert (summary.total, summary.flagged, summary.cases_opened) == (3, 2, 2)
    assert [(d.line, d.first_line) for d in summary.duplicates] == [(4, 2), (6, 5), (7, 2)]
    assert summary.to_dict()["duplicates"] == [{"line": 4, "duplicates": 2}, {"line": 6, "duplicates": 5},
                                              {"line": 7, "duplicates": 2}]
    assert [r.line for r in summary.rejected] == [8]
    assert len(book.list()) == 2
    text, report = read_report(tmp_path / "out.csv")
    assert text.splitlines()[0] == "\ufeff" + ",".join(REPORT_COLUMNS)
    assert [(r["line"], r["decision"], r["measure_ids"], r["record_ids"]) for r in report] == [
        ("2", "prohibited", report[0]["measure_ids"], "GP-1"), ("3", "clear", "", ""),
        ("4", "duplicate of line 2", "", ""), ("5", report[3]["decision"], report[3]["measure_ids"], "WAGE-X"),
        ("6", "duplicate of line 5", "", ""), ("7", "duplicate of line 2", "", "")]
    assert report[2]["subject_id"] == USCCS[1] and report[4]["subject_id"] == "4101**********" + person_x[-4:]
    assert person_x not in text


def test_duplicates_in_the_html_and_xlsx_summaries(engine: Engine, tmp_path: Path) -> None:
    """The HTML #summary counts duplicate rows apart; totals count each subject once; XLSX rows say so too."""
    source = write_csv(tmp_path / "in.csv", [(USCCS[1], "乙"), (USCCS[1].lower(), "乙"), (USCCS[0], "甲")])
    run_batch(engine, source, "fiscal_funds", tmp_path / "out.html")
    parser = _SummaryNumbers()
    parser.feed((tmp_path / "out.html").read_text(encoding="utf-8"))
    assert parser.numbers == {"data-total": 2, "data-flagged": 1, "data-rejected": 0, "data-duplicates": 1,
                              "prohibited": 0, "restricted": 0, "review": 1, "clear": 1}
    run_batch(engine, source, "fiscal_funds", tmp_path / "out.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").worksheets[0]
    assert [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)] == \
        ["review", "duplicate of line 2", "clear"]


def test_xlsx_report_refuses_more_rows_than_a_sheet_holds(engine: Engine, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the sheet's row limit the XLSX report is refused with a hint to use CSV, and not written."""
    monkeypatch.setattr(_batch_reports, "_XLSX_MAX_ROWS", 3)
    source = write_csv(tmp_path / "in.csv", [(USCCS[i], "x") for i in range(3)])
    with pytest.raises(BatchError, match=r"\.csv") as caught:
        run_batch(engine, source, "honors", tmp_path / "out.xlsx")
    assert caught.value.code == "too_many_rows"
    assert not any(name.startswith(".out.xlsx") or name == "out.xlsx" for name in os.listdir(tmp_path))


def test_the_offices_yearly_volume_is_checked_whole(
        make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    """The office's yearly legal-entity volume (10,958 subjects, ~2 % listed) is checked, every flag found.

    Its speed is a benchmark figure (make bench, closing notes), not a timed assertion here.
    """
    listed = range(0, 10_958, 50)
    engine = make_engine([record(f"R{i}", USCCS[i], "court_defaulter") for i in listed], cases=False)
    source = write_csv(tmp_path / "in.csv", [(USCCS[i], f"郑州市第{i}号企业有限公司") for i in range(10_958)])
    summary = run_batch(engine, source, "fiscal_funds", tmp_path / "out.csv")
    assert (summary.total, summary.flagged) == (10_958, len(listed))


# --- command line -----------------------------------------------------------------------------------


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "joint_sanctions", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def cli_db(tmp_path: Path) -> str:
    """A SQLite database URL with one procurement violator."""
    store = SqliteStore(tmp_path / "cli.db")
    store.upsert([record("GP-1", USCCS[1], "procurement_violator", **GP_BAN)])
    store.close()
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_cli_batch_writes_the_report_and_exits_0(cli_db: str, tmp_path: Path) -> None:
    """`batch FILE --matter TYPE --out REPORT` exits 0 and prints the bilingual counts."""
    write_csv(tmp_path / "in.csv", [(USCCS[0], "甲"), (USCCS[1], "乙")])
    (tmp_path / "out").mkdir()
    done = _cli("batch", "in.csv", "--matter", "government_procurement", "--out", "out/report.html",
                "--db", cli_db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "checked 2 subject(s)" in done.stdout and "1 flagged" in done.stdout and "需关注 1 个" in done.stdout
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    assert 'data-flagged>1<' in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_cli_batch_rerun_with_open_cases_opens_nothing_new_and_counts_duplicates(cli_db: str,
                                                                                tmp_path: Path) -> None:
    """`batch --open-cases` run twice: the second opens 0 cases; duplicate rows are counted in the output."""
    write_csv(tmp_path / "in.csv", [(USCCS[0], "甲"), (USCCS[1], "乙"), (USCCS[1].lower(), "乙")])
    args = ("batch", "in.csv", "--matter", "government_procurement", "--out", "r.csv", "--open-cases",
            "--db", cli_db)
    first = _cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "1 case(s) opened" in first.stdout and "1 duplicate row(s)" in first.stdout
    again = _cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 case(s) opened" in again.stdout and "1 already open" in again.stdout
    assert "重复 1 行" in again.stdout


def test_cli_batch_exits_1_on_rejected_rows_and_still_reports_good_ones(cli_db: str, tmp_path: Path) -> None:
    """Rejected rows give exit 1 with one error line each; the good rows are in the report."""
    write_csv(tmp_path / "in.csv", [(USCCS[1], "乙"), ("410105198503140010", "错号")])
    done = _cli("batch", "in.csv", "--matter", "government_procurement", "--out", "r.csv", "--db", cli_db,
                cwd=tmp_path)
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("joint-sanctions: error: in.csv:3: subject_id:")
    assert "410105198503140010" not in done.stderr
    _, rows = read_report(tmp_path / "r.csv")
    assert [(r["line"], r["decision"]) for r in rows] == [("2", "prohibited")]


@pytest.mark.parametrize("args, message", [
    (("--matter", "honors", "--out", "r.pdf"), "unsupported report type '.pdf'"),
    (("--matter", "awards", "--out", "r.csv"), "invalid choice: 'awards'"),
    (("--matter", "honors"), "the following arguments are required: --out"),
])
def test_cli_batch_exits_2_for_a_bad_command_line(cli_db: str, tmp_path: Path, args: tuple[str, ...],
                                                  message: str) -> None:
    """An unsupported report type, unknown matter type or missing --out is a command-line error (exit 2)."""
    write_csv(tmp_path / "in.csv", [(USCCS[0], "甲")])
    done = _cli("batch", "in.csv", *args, "--db", cli_db, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_cli_batch_exits_1_for_wrong_columns_and_empty_batches(cli_db: str, tmp_path: Path) -> None:
    """A wrong header or an empty batch is one error line and exit 1, with no report written."""
    write_csv(tmp_path / "cols.csv", [(USCCS[0],)], header=("id",))
    (tmp_path / "empty.csv").write_text("subject_id,subject_name\n", encoding="utf-8")
    for name, message in (("cols.csv", "missing columns: subject_id, subject_name"), ("empty.csv", "empty")):
        done = _cli("batch", name, "--matter", "honors", "--out", "r.csv", "--db", cli_db, cwd=tmp_path)
        assert done.returncode == 1
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "r.csv").exists()


def test_cli_batch_draws_a_progress_bar_when_stderr_is_a_terminal(cli_db: str, tmp_path: Path) -> None:
    """On a terminal the batch command draws its progress bar on stderr (and only there)."""
    write_csv(tmp_path / "in.csv", [(USCCS[i], f"企业{i}") for i in range(300)])
    controller, terminal = pty.openpty()
    try:
        command = [sys.executable, "-m", "joint_sanctions", "batch", "in.csv", "--matter", "honors",
                   "--out", "r.csv", "--db", cli_db]
        done = subprocess.run(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=terminal, text=True,
                              timeout=120, check=False)
        os.close(terminal)
        drawn = b""
        while chunk := _read_available(controller):
            drawn += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0
    assert "核查 checking [##############################] 300/300" in drawn.decode("utf-8")
    assert "checking" not in done.stdout


def _read_available(fd: int) -> bytes:
    """What the pseudo-terminal holds; b"" once the writer has closed it."""
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: every copy of the terminal side is closed
        return b""


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".html"])
def test_ids_typed_into_names_are_masked_in_every_report_format(engine: Engine, tmp_path: Path,
                                                                 suffix: str) -> None:
    """A name holding a resident id, spaced, dashed or full-width, is masked in CSV, XLSX and HTML reports."""
    other, third = PERSONS[7], PERSONS[8]
    wide = third.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    source = write_csv(tmp_path / "in.csv", [
        (USCCS[1], f"某供应商（法人{other[:6]} {other[6:]}）"),
        (USCCS[0], f"某商贸（{other[:6]}-{other[6:14]}-{other[14:]}）"),
        (PERSONS[0], f"王某 {wide[:6]}\u3000{wide[6:]}"),
        (PERSONS[2], f"李某{PERSONS[2]}")])
    out = tmp_path / f"out{suffix}"
    run_batch(engine, source, "government_procurement", out)
    if suffix == ".xlsx":
        book = openpyxl.load_workbook(out)
        text = "\n".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True)
                          for cell in row)
    else:
        text = out.read_text("utf-8-sig")
    assert_masked(text, other, third, PERSONS[0], PERSONS[2])
    assert f"某供应商（法人4101** ********{other[-4:]}）" in text


# --- hostile input (design.md §9) -------------------------------------------------------------------


def _xlsx_list(path: Path, count: int = 3) -> Path:
    return hostile.workbook(path, ("subject_id", "subject_name"), [(USCCS[i], f"公司{i}") for i in range(count)])


def test_csv_name_of_1_mib_is_checked_and_a_longer_field_rejects_its_row_only(engine: Engine, tmp_path: Path) -> None:
    """A 1 MiB field is read; a longer one rejects that row with its line; the other rows are checked."""
    source = write_csv(tmp_path / "in.csv", [(USCCS[0], "甲" * hostile.MIB), (USCCS[1], "乙" * (hostile.MIB + 1)),
                                            (USCCS[2], "丙")])
    summary = run_batch(engine, source, "government_procurement", tmp_path / "out.csv")
    assert summary.total == 2
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (3, "subject_name: longer than 1 MiB (1048577 characters) / 字段超过 1 MiB")]


def test_xlsx_zip_bomb_is_refused_when_opened(tmp_path: Path) -> None:
    """A list whose part unpacks past the limit is refused by open_batch, naming the file and the limit."""
    path = hostile.add_zero_part(_xlsx_list(tmp_path / "bomb.xlsx"), hostile.STRINGS, 257 * hostile.MIB)
    with pytest.raises(BatchError, match=r"bomb\.xlsx: .*over the limit of 256 MiB") as caught:
        open_batch(path)
    assert caught.value.code == "too_large"
    with pytest.raises(BatchError, match="over the limit of 1 MiB"):
        open_batch(hostile.add_zero_part(_xlsx_list(tmp_path / "small.xlsx"), hostile.SHEET, 2 * hostile.MIB),
                   max_input_mb=1)
    with pytest.raises(ValueError, match="max_input_mb"):
        open_batch(path, max_input_mb=0)


@pytest.mark.parametrize("part", [hostile.XXE, hostile.LAUGHS], ids=["xxe", "billion-laughs"])
def test_xlsx_with_a_dtd_is_refused_as_unsafe(tmp_path: Path, part: bytes) -> None:
    """An external entity or entity expansion in any part refuses the list as unsafe XLSX."""
    path = hostile.replace_parts(_xlsx_list(tmp_path / "dtd.xlsx"), {hostile.STRINGS: part})
    with pytest.raises(BatchError, match=r"dtd\.xlsx: unsafe XLSX.* / 不安全的 XLSX 文件") as caught:
        open_batch(path)
    assert caught.value.code == "unsafe"


def test_xlsx_row_numbers_past_the_sheet_limit_are_refused(tmp_path: Path) -> None:
    """A crafted row number far past the sheet limit is refused before any row is checked."""
    rows = (hostile.inline_row(1, ["subject_id", "subject_name"]) + hostile.inline_row(2, [USCCS[0], "甲"])
            + '<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>x</t></is></c></row>')
    path = hostile.replace_parts(_xlsx_list(tmp_path / "far.xlsx"), {hostile.SHEET: hostile.sheet_xml(rows)})
    with pytest.raises(BatchError, match="more than 1,048,576 rows") as caught:
        open_batch(path)
    assert caught.value.code == "too_large"


def test_cli_batch_refuses_a_bomb_in_one_line_and_writes_no_report(cli_db: str, tmp_path: Path) -> None:
    """`batch` on a zip bomb: exit 1, one line naming the file and the limit, no report; --max-input-mb
    out of range is exit 2."""
    hostile.add_zero_part(_xlsx_list(tmp_path / "bomb.xlsx"), hostile.STRINGS, 3 * hostile.MIB)
    done = _cli("batch", "bomb.xlsx", "--matter", "honors", "--out", "r.csv", "--db", cli_db,
                "--max-input-mb", "2", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "bomb.xlsx" in lines[0] and "2 MiB" in lines[0], lines
    assert not (tmp_path / "r.csv").exists()
    done = _cli("batch", "bomb.xlsx", "--matter", "honors", "--out", "r.csv", "--db", cli_db,
                "--max-input-mb", "0", cwd=tmp_path)
    assert done.returncode == 2 and "--max-input-mb" in done.stderr


def test_xlsx_list_with_broken_xml_is_unreadable(tmp_path: Path) -> None:
    """Broken XML in the sheet is a BatchError `unreadable`, not an internal error."""
    rows = (hostile.inline_row(1, ["subject_id", "subject_name"])
            + "<row r='2'><c r='A2' t='inlineStr'><is><t>x</is></c></row>")
    path = hostile.replace_parts(_xlsx_list(tmp_path / "broken.xlsx"), {hostile.SHEET: hostile.sheet_xml(rows)})
    with pytest.raises(BatchError, match="not a readable XLSX workbook") as caught, open_batch(path) as source:
        list(source)
    assert caught.value.code == "unreadable"


# --- a batch is atomic with its report (design.md §9 "Hostile input") -------------------------------


def _db_engine(database: Database, shipped: CompiledMeasures) -> Engine:
    """An engine (opening cases in its own database) over ``database`` holding three procurement violators."""
    store = database.open()
    store.upsert([record(f"GP-{i}", USCCS[i], "procurement_violator", **GP_BAN) for i in (1, 2, 3)])
    return Engine(measures=shipped, store=store, clock=lambda: FIXED_NOW)


def _case_count(database: Database) -> int:
    return int(database.rows("SELECT count(*) FROM cases")[0][0])


def _execute(database: Database, statement: str) -> None:
    """Run one statement through a connection of its own (committed), as an administrator would."""
    if database.kind == "sqlite":
        with sqlite3.connect(database.url.removeprefix("sqlite:///")) as conn:
            conn.executescript(statement)
    else:
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(statement)


def _xlsx_text(path: Path) -> str:
    book = openpyxl.load_workbook(path)
    return "\n".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row)


def test_esc_in_a_name_gives_a_sanitised_xlsx_and_cases_opened_once(database: Database,
                                                                     shipped: CompiledMeasures,
                                                                     tmp_path: Path) -> None:
    """Control characters in names are shown as \\x1b-style escapes in the XLSX report (which cannot hold
    them); the cases open once, and a rerun opens none again. A NUL (no PostgreSQL text holds one)
    rejects its row."""
    engine = _db_engine(database, shipped)
    source = write_csv(tmp_path / "in.csv", [
        (USCCS[1], "\x1b[4A\x1b[2K结论 Decision: 无限制 (clear)"), (USCCS[2], "乙公司\x07"),
        (USCCS[3], "丙\r\n公司\x7f\x9b"), (USCCS[0], "甲\x0b乙"), (USCCS[4], "丁\x00")])
    summary = run_batch(engine, source, "government_procurement", tmp_path / "out.xlsx", open_cases=True)
    assert (summary.flagged, summary.cases_opened, summary.cases_existing) == (3, 3, 0)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (7, "subject_name: contains a NUL character / 名称含有 NUL 字符")]
    assert _case_count(database) == 3
    results = [list(row) for row in openpyxl.load_workbook(tmp_path / "out.xlsx").worksheets[0]
               .iter_rows(min_row=2, values_only=True)]
    assert [row[2] for row in results] == [
        "\\x1b[4A\\x1b[2K结论 Decision: 无限制 (clear)", "乙公司\\x07", "丙\\x0d\\x0a公司\\x7f\\x9b", "甲\\x0b乙"]
    again = run_batch(engine, source, "government_procurement", tmp_path / "out.xlsx", open_cases=True)
    assert (again.cases_opened, again.cases_existing) == (0, 3)
    assert _case_count(database) == 3


@pytest.mark.parametrize("suffix", [".csv", ".html"])
def test_control_characters_are_escaped_in_csv_and_html_reports(engine: Engine, tmp_path: Path,
                                                                suffix: str) -> None:
    """CSV and HTML reports show control characters as escapes too: one line per row, nothing a
    terminal or browser would act on."""
    source = write_csv(tmp_path / "in.csv", [(USCCS[1], "\x1b]0;title\x07乙\r\n\u202e公司"), (USCCS[0], "甲\x01")])
    run_batch(engine, source, "government_procurement", tmp_path / f"out{suffix}")
    text = (tmp_path / f"out{suffix}").read_text("utf-8-sig")
    assert not any(ch in text for ch in "\x01\x07\x1b\u202e")
    assert "\\x1b]0;title\\x07乙\\x0d\\x0a\\u202e公司" in text
    if suffix == ".csv":
        assert len(text.splitlines()) == 3


def test_a_folder_as_report_is_refused_before_any_check(cli_db: str, tmp_path: Path) -> None:
    """`--out` naming a folder: exit 1 in one line, nothing written, no case opened, nothing checked."""
    write_csv(tmp_path / "in.csv", [(USCCS[1], "乙")])
    (tmp_path / "reports.csv").mkdir()
    done = _cli("batch", "in.csv", "--matter", "government_procurement", "--out", "reports.csv",
                "--open-cases", "--db", cli_db, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "reports.csv" in lines[0] and "folder" in lines[0], lines
    assert list((tmp_path / "reports.csv").iterdir()) == []
    assert _cli_cases(cli_db) == 0
    with pytest.raises(BatchError) as caught:
        check_report_path(tmp_path / "reports.csv")
    assert caught.value.code == "bad_report_path"


def _cli_cases(cli_db: str) -> int:
    """Cases in the CLI tests' SQLite database (none when no run ever made the case tables)."""
    with sqlite3.connect(cli_db.removeprefix("sqlite:///")) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'cases'").fetchall():
            return 0
        return int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])


def test_a_missing_folder_is_refused_and_not_created(engine: Engine, tmp_path: Path) -> None:
    """A report in a folder that does not exist is refused (batch creates no folder), before any check."""
    source = write_csv(tmp_path / "in.csv", [(USCCS[1], "乙")])
    with pytest.raises(BatchError, match="folder .* does not exist") as caught:
        run_batch(engine, source, "honors", tmp_path / "nowhere" / "out.csv")
    assert caught.value.code == "bad_report_path"
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "dotted"])
def test_the_input_file_as_report_is_refused(cli_db: str, tmp_path: Path, how: str) -> None:
    """`--out` naming the input (the same path, another spelling, a symlink or a hard link to it) is
    refused with exit 1; the input is untouched and no case is opened."""
    source = tmp_path / "in.csv"
    write_csv(source, [(USCCS[1], "乙"), (USCCS[0], "甲")])
    before = source.read_bytes()
    out = {"same": "in.csv", "symlink": "link.csv", "hardlink": "hard.csv", "dotted": "./sub/../in.csv"}[how]
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        (tmp_path / "link.csv").symlink_to(source)
    elif how == "hardlink":
        os.link(source, tmp_path / "hard.csv")
    done = _cli("batch", "in.csv", "--matter", "government_procurement", "--out", out, "--open-cases",
                "--db", cli_db, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "input" in lines[0], lines
    assert source.read_bytes() == before
    assert _cli_cases(cli_db) == 0


def test_a_symlink_at_the_report_path_is_replaced_not_written_through(engine: Engine, tmp_path: Path) -> None:
    """A symlink planted at the report path, or at the temporary name the report was once written to,
    is never followed: the file it points to is untouched and the report is a regular file."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (tmp_path / "out.csv").symlink_to(victim)
    (tmp_path / f".out.csv.{os.getpid()}.tmp").symlink_to(victim)
    source = write_csv(tmp_path / "in.csv", [(USCCS[1], "乙")])
    run_batch(engine, source, "government_procurement", tmp_path / "out.csv")
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "out.csv").is_symlink()
    _, rows = read_report(tmp_path / "out.csv")
    assert [r["decision"] for r in rows] == ["prohibited"]


class _FailingCsvWriter(_batch_reports._CsvWriter):
    """A CSV writer whose disk fills up just before the report is complete."""

    def finish(self, summary: batch_module.BatchSummary,
               measures: object) -> None:  # type: ignore[override]
        raise OSError(28, "No space left on device")


def test_a_report_that_cannot_be_written_opens_no_case(database: Database, shipped: CompiledMeasures,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing the report: a one-line BatchError, no report, no temporary file, no case."""
    engine = _db_engine(database, shipped)
    monkeypatch.setitem(_batch_reports._WRITERS, ".csv", _FailingCsvWriter)
    source = write_csv(tmp_path / "in.csv", [(USCCS[1], "乙"), (USCCS[2], "丙")])
    (tmp_path / "out").mkdir()
    with pytest.raises(BatchError, match="No space left on device") as caught:
        run_batch(engine, source, "government_procurement", tmp_path / "out" / "r.csv", open_cases=True)
    assert caught.value.code == "unwritable"
    assert list((tmp_path / "out").iterdir()) == []
    assert _case_count(database) == 0


_BOOM = {
    "sqlite": ("CREATE TRIGGER boom BEFORE INSERT ON cases WHEN NEW.subject_name LIKE '%boom%' "
               "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"),
    "postgres": ("CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF NEW.subject_name LIKE '%boom%' THEN RAISE EXCEPTION 'injected failure'; END IF; "
                 "RETURN NEW; END $$; CREATE TRIGGER boom BEFORE INSERT ON cases FOR EACH ROW "
                 "EXECUTE FUNCTION boom();"),
}


def test_cases_open_all_or_none_after_the_report(database: Database, shipped: CompiledMeasures,
                                                 tmp_path: Path) -> None:
    """When the database refuses one case, none of the batch's cases is opened and the report stays;
    once the database accepts them, a rerun opens each exactly once."""
    engine = _db_engine(database, shipped)
    _execute(database, _BOOM[database.kind])
    source = write_csv(tmp_path / "in.csv", [(USCCS[1], "乙"), (USCCS[0], "甲"), (USCCS[2], "boom公司")])
    with pytest.raises(BatchError, match="no case was opened") as caught:
        run_batch(engine, source, "government_procurement", tmp_path / "r.csv", open_cases=True)
    assert caught.value.code == "cases_not_opened"
    assert caught.value.summary is not None and caught.value.summary.flagged == 2
    _, rows = read_report(tmp_path / "r.csv")
    assert [r["decision"] for r in rows] == ["prohibited", "clear", "prohibited"]
    assert _case_count(database) == 0
    _execute(database, "DROP TRIGGER boom" + (" ON cases" if database.kind == "postgres" else ""))
    summary = run_batch(engine, source, "government_procurement", tmp_path / "r.csv", open_cases=True)
    assert (summary.cases_opened, summary.cases_existing) == (2, 0)
    again = run_batch(engine, source, "government_procurement", tmp_path / "r.csv", open_cases=True)
    assert (again.cases_opened, again.cases_existing) == (0, 2)
    assert _case_count(database) == 2


def test_cli_says_no_case_was_opened_when_the_database_refuses_them(cli_db: str, tmp_path: Path) -> None:
    """`batch --open-cases` whose cases the database refuses: exit 1, the report written, one line
    saying no case was opened."""
    write_csv(tmp_path / "in.csv", [(USCCS[1], "boom公司")])
    first = _cli("cases", "list", "--db", cli_db, cwd=tmp_path)  # makes the case tables
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(cli_db.removeprefix("sqlite:///")) as conn:
        conn.executescript(_BOOM["sqlite"])
    done = _cli("batch", "in.csv", "--matter", "government_procurement", "--out", "r.csv", "--open-cases",
                "--db", cli_db, cwd=tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("joint-sanctions: error:")]
    assert len(errors) == 1 and "no case was opened" in errors[0] and "r.csv" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "r.csv").exists() and _cli_cases(cli_db) == 0


def test_the_input_file_name_in_reports_is_text_with_ids_masked(engine: Engine, tmp_path: Path) -> None:
    """An input file named like a formula is text in the XLSX summary (as in CSV cells) and escaped in
    HTML; a resident id in the name is masked in both."""
    name = f'=HYPERLINK("x","y")&{PERSONS[4]}&".csv'
    source = write_csv(tmp_path / name, [(USCCS[1], "乙")])
    run_batch(engine, source, "government_procurement", tmp_path / "out.xlsx")
    summary_sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["汇总 Summary"]
    cells = {row[0].value: row[1] for row in summary_sheet.iter_rows() if row[0].value}
    shown = cells["名单文件 Source"]
    assert shown.data_type == "s" and shown.value.startswith("'=HYPERLINK")
    assert PERSONS[4][:4] + "*" * 10 + PERSONS[4][-4:] in shown.value
    assert not any(str(cell.value).startswith("=") for row in summary_sheet.iter_rows() for cell in row)
    assert PERSONS[4] not in _xlsx_text(tmp_path / "out.xlsx")
    run_batch(engine, source, "government_procurement", tmp_path / "out.html")
    html_text = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert PERSONS[4] not in html_text and "=HYPERLINK(&quot;x&quot;" in html_text
