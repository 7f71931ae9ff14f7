"""`joint-sanctions gov districts list|import-scores|report` as a user runs them (docs/government-integrity-districts.md):
exit codes, one-line errors, the report as a table, JSON, HTML, XLSX; SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl

from joint_sanctions import CreditRecord

from .conftest import Database, cli, record

TOWN_A = "11410184MB0000001X"
TOWN_B = "11410184MB00000021"
SHANGJIE = "11410106MB00000035"


def gov(record_id: str, subject_id: str, listed_on: dt.date, **kw: object) -> CreditRecord:
    return record(record_id, subject_id, "government_dishonesty", listed_on=listed_on,
                  authority="郑州市社会信用体系建设领导小组办公室", **kw)


def seeded(database: Database) -> None:
    """Two bodies of 新郑市 (one overdue since June 1) and one of 上街区 repaired on June 10."""
    database.open().upsert([
        gov("G1", TOWN_A, dt.date(2025, 1, 10), region_code="410184", rectify_by=dt.date(2025, 5, 31),
            subject_name="新郑市孟庄镇人民政府"),
        gov("G2", TOWN_B, dt.date(2025, 6, 15), region_code="410184"),
        gov("G3", SHANGJIE, dt.date(2025, 2, 1), region_code="410106", status="repaired",
            ended_on=dt.date(2025, 6, 10)),
    ])


def run(database: Database, *args: str) -> tuple[int, str, str]:
    done = cli("gov", "districts", *args, "--db", database.url, cwd=database.workdir)
    return done.returncode, done.stdout, done.stderr


def test_report_json_has_the_contract_keys_and_the_figures(database: Database) -> None:
    """`report --month 2025-06 --json`: month and per district region_code, name, score, dishonesty_bodies,
    clues, overdue, owed, cleared, warnings; 新郑市 100 − 2 × 10 − 1 × 10 = 70, down from May's 90."""
    seeded(database)
    code, out, err = run(database, "report", "--month", "2025-06", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["month"] == "2025-06" and len(report["districts"]) == 14
    rows = {d["region_code"]: d for d in report["districts"]}
    xz = rows["410184"]
    assert {"region_code", "name", "score", "dishonesty_bodies", "clues", "overdue", "owed", "cleared",
            "warnings"} <= xz.keys()
    assert (xz["dishonesty_bodies"], xz["overdue"], xz["score"], xz["previous_score"]) == (2, 1, 70.0, 90.0)
    assert [w["code"] for w in xz["warnings"]] == ["overdue_rectification", "score_drop"]
    assert (rows["410106"]["score"], rows["410106"]["trend"]) == (100.0, "up")


def test_report_table_html_xlsx_and_json_files(database: Database) -> None:
    """Without --json a table with the warnings; --out writes .html (charts, summary), .xlsx and .json."""
    seeded(database)
    code, out, _ = run(database, "report", "--month", "2025-06")
    assert code == 0 and "新郑市" in out and "逾期未整改" in out and "预警 warnings: 2" in out
    work = database.workdir
    for name in ("r.html", "r.xlsx", "r.json"):
        code, out, err = run(database, "report", "--month", "2025-06", "--out", str(work / name))
        assert code == 0 and f"wrote {work / name}" in out, err
    page = (work / "r.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and 'data-region="410184" data-score="70"' in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    book = openpyxl.load_workbook(work / "r.xlsx", read_only=True)
    assert book.sheetnames == ["区县 districts", "预警 warnings", "第三方评分 scores"]
    rows = list(book["区县 districts"].iter_rows(values_only=True))
    assert len(rows) == 15 and rows[11][1:4] == ("410184", "新郑市", 70)
    assert json.loads((work / "r.json").read_text(encoding="utf-8"))["month"] == "2025-06"


def test_refusals_are_one_line(database: Database, tmp_path: Path) -> None:
    """A month with no data → exit 1, one line; a malformed month or --out → exit 2; a missing database →
    exit 1; a bad districts file → exit 1 with located lines."""
    seeded(database)
    code, out, err = run(database, "report", "--month", "2024-06")
    assert (code, out) == (1, "") and len(err.strip().splitlines()) == 1 and "no data for 2024-06" in err
    assert run(database, "report", "--month", "2025/06")[0] == 2
    assert run(database, "report", "--month", "2025-06", "--out", "r.pdf")[0] == 2
    missing = cli("gov", "districts", "report", "--month", "2025-06", "--db", f"sqlite:///{tmp_path / 'none.db'}",
                  cwd=tmp_path)
    assert missing.returncode == 1 and "database not found" in missing.stderr
    bad = tmp_path / "d.yaml"
    bad.write_text('region_code: "410100"\nname: 郑州市\ndistricts:\n  - {region_code: "4101", name: 坏}\n',
                   encoding="utf-8")
    code, _, err = run(database, "report", "--month", "2025-06", "--districts", str(bad))
    assert code == 1 and f"{bad}:4:" in err and "bad_region_code" in err


def test_import_scores_then_report_uses_them(database: Database) -> None:
    """`import-scores` stores the good rows (exit 1 naming the bad row's line); the report's 新郑市 score
    then starts from the mean of its dimensions: (80 + 60) / 2 − 30 = 40."""
    seeded(database)
    path = database.workdir / "scores.csv"
    path.write_text("行政区划代码,月份,依法行政,政务公开\n410184,2025-06,80,60\n410999,2025-06,70,70\n", encoding="utf-8")
    code, out, err = run(database, "import-scores", str(path))
    assert code == 1 and "1 rows stored, 1 rows refused" in out and "line 3" in err
    code, out, _ = run(database, "import-scores", str(path), "--json")
    assert json.loads(out)["stored"] == 1
    report = json.loads(run(database, "report", "--month", "2025-06", "--json")[1])
    xz = next(d for d in report["districts"] if d["region_code"] == "410184")
    assert (xz["third_party_score"], xz["score"]) == (70.0, 40.0)


def test_list_shows_the_districts(database: Database) -> None:
    """`list --json` gives the deployment's districts with 郑东新区's local code marked."""
    code, out, _ = run(database, "list", "--json")
    listed = json.loads(out)
    assert code == 0 and listed["region_code"] == "410100" and len(listed["districts"]) == 14
    assert {"region_code": "410190", "name": "郑东新区", "official": False}.items() <= listed["districts"][-1].items()
