"""The deployment's districts, third-party scores and the monthly district report (design.md §12,
docs/government-integrity-districts.md): the report's numbers against a hand-made data set whose figures
are computed by hand below, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from joint_sanctions import CreditRecord, Engine
from joint_sanctions._gov_activity import DistrictActivity
from joint_sanctions._gov_clearance import add_payment
from joint_sanctions._gov_clues import add_clue, transfer_clue, verify_clue
from joint_sanctions._gov_district_data import (
    DIMENSIONS,
    DistrictError,
    import_scores,
    load_districts,
)
from joint_sanctions._gov_report import district_report
from joint_sanctions._gov_report_render import render_html, render_table, write_xlsx
from joint_sanctions.stores import RecordStore
from joint_sanctions.stores._gov_district_tables import read_scores
from joint_sanctions.testing import Clock

from .conftest import Database, assert_masked, record, resident_id

TOWN_A = "11410184MB0000001X"   # 新郑市 某镇人民政府
TOWN_B = "11410184MB00000021"   # 新郑市 another body
SHANGJIE = "11410106MB00000035"  # 上街区人民政府
ZHENGDONG = "11410100MB0000004H"  # 郑东新区 圃田乡人民政府 (registered at city level; region_code 410190)
CO = "91410100MA0000015B"
TODAY = dt.date(2025, 7, 15)
SHIPPED = load_districts()


def gov(record_id: str, subject_id: str, listed_on: dt.date, **kw: Any) -> CreditRecord:
    return record(record_id, subject_id, "government_dishonesty", listed_on=listed_on,
                  authority="郑州市社会信用体系建设领导小组办公室", **kw)


def hand_made(store: RecordStore, tmp_path: Path) -> None:
    """The data set: four government-dishonesty records in three districts, a company's court-defaulter
    record, and third-party scores for 新郑市 in May and June."""
    store.upsert([
        # 新郑市: overdue since June 1 (due May 31), active.
        gov("G1", TOWN_A, dt.date(2025, 1, 10), region_code="410184", rectify_by=dt.date(2025, 5, 31),
            subject_name="新郑市孟庄镇人民政府"),
        # 新郑市: listed in June, due in September.
        gov("G2", TOWN_B, dt.date(2025, 6, 15), region_code="410184", rectify_by=dt.date(2025, 9, 30)),
        # 上街区: overdue in May, repaired (paid in full) on June 10.
        gov("G3", SHANGJIE, dt.date(2025, 2, 1), region_code="410106", rectify_by=dt.date(2025, 4, 30),
            status="repaired", ended_on=dt.date(2025, 6, 10)),
        # 郑东新区 by its local code; due in July.
        gov("G4", ZHENGDONG, dt.date(2025, 3, 1), region_code="410190", rectify_by=dt.date(2025, 7, 31)),
        record("C1", CO, "court_defaulter", region_code="410184"),
    ])
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "行政区划代码,月份,依法行政,政务公开,勤政高效,政府信用管理,信用信息归集共享,“信易+”开展情况,来源\n"
        "410184,2025-06,90,80,85,75,95,70,第三方评估机构\n"
        "410184,2025-05,90,,,,,,第三方评估机构\n", encoding="utf-8")
    done = import_scores(store, scores, SHIPPED)
    assert (done.stored, done.errors) == (2, [])


def activity(_store: RecordStore, month: str) -> dict[str, DistrictActivity]:
    """Clue and clearance figures as the clue tables give them per region code (June only), made by hand so
    that each figure's effect on the report is known."""
    if month != "2025-06":
        return {}
    return {"410184": DistrictActivity("410184", clues_received=3, clues_transferred_on_time=2,
                                       clues_transferred_late=1, clues_verified=1, clues_confirmed=1,
                                       owed_outstanding=120000.5, cleared=30000, clearance_stalled=1,
                                       stalled_bodies=(TOWN_A,)),
            "410106": DistrictActivity("410106", cleared=50000)}


def by_code(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["region_code"]: d for d in report["districts"]}


def test_report_numbers_match_the_hand_made_data_set(database: Database, tmp_path: Path) -> None:
    """June 2025 as computed by hand: 新郑市 82.5 (mean of its six scores) − 2 bodies × 10 − 1 overdue × 10
    − 1 stalled clearance × 5 − 1 late transfer × 2 = 45.5, down 34.5 from May's 90 − 10 = 80; 上街区 100 (its
    record repaired on June 10), up 20 from May's 100 − 10 − 10; 郑东新区 90 both months; the other
    districts 100."""
    store = database.open()
    hand_made(store, tmp_path)
    report = district_report(store, SHIPPED, "2025-06", today=TODAY, source=activity)
    assert (report["month"], report["as_of"], report["previous_month"]) == ("2025-06", "2025-06-30", "2025-05")
    rows = by_code(report)
    assert len(rows) == 14
    xz = rows["410184"]
    assert (xz["name"], xz["dishonesty_bodies"], xz["dishonesty_records"], xz["overdue"]) == ("新郑市", 2, 2, 1)
    assert (xz["clues"], xz["clues_transferred_on_time"], xz["clues_transferred_late"]) == (3, 2, 1)
    assert (xz["clues_verified"], xz["clues_confirmed"], xz["owed"], xz["cleared"]) == (1, 1, 120000.5, 30000)
    assert xz["third_party_score"] == 82.5 and xz["third_party"]["xinyi_plus"] == 70
    assert (xz["score"], xz["previous_score"], xz["score_change"], xz["trend"]) == (45.5, 80.0, -34.5, "down")
    assert sorted(w["code"] for w in xz["warnings"]) == [
        "clearance_stalled", "overdue_rectification", "score_drop", "transfer_late"]
    overdue = next(w for w in xz["warnings"] if w["code"] == "overdue_rectification")
    assert (overdue["record_id"], overdue["rectify_by"]) == ("G1", "2025-05-31")
    sj = rows["410106"]
    assert (sj["dishonesty_bodies"], sj["overdue"], sj["cleared"], sj["owed"]) == (0, 0, 50000, 0)
    assert (sj["score"], sj["previous_score"], sj["trend"], sj["warnings"]) == (100.0, 80.0, "up", [])
    zd = rows["410190"]
    assert (zd["name"], zd["dishonesty_bodies"], zd["score"], zd["trend"]) == ("郑东新区", 1, 90.0, "flat")
    assert (rows["410102"]["score"], rows["410102"]["clues"], rows["410102"]["owed"]) == (100.0, 0, 0)
    assert report["warning_count"] == 4


def test_may_as_computed_by_hand(database: Database, tmp_path: Path) -> None:
    """May 2025: 上街区's record is active and overdue (due April 30): 100 − 10 − 10 = 80; 新郑市's first record
    is due on May 31, so not yet overdue on the month's last day: 90 (its May score) − 10 = 80. April (records
    listed, no scores): each 100 − 10 = 90 (上街区's record was due on April 30, the last day itself, so not
    overdue), so both fell by 10: a warning. January 2025 has no trend: December 2024 had no data at all."""
    store = database.open()
    hand_made(store, tmp_path)
    rows = by_code(district_report(store, SHIPPED, "2025-05", today=TODAY, source=activity))
    assert (rows["410106"]["overdue"], rows["410106"]["score"], rows["410106"]["previous_score"]) == (1, 80.0, 90.0)
    xz = rows["410184"]
    assert (xz["dishonesty_bodies"], xz["overdue"], xz["score"], xz["previous_score"]) == (1, 0, 80.0, 90.0)
    assert (xz["score_change"], xz["trend"]) == (-10.0, "down")
    assert [w["code"] for w in xz["warnings"]] == ["score_drop"]
    first = by_code(district_report(store, SHIPPED, "2025-01", today=TODAY, source=activity))["410184"]
    assert (first["score"], first["previous_score"], first["trend"]) == (90.0, None, None)


def test_without_clue_tables_the_clue_figures_are_null_not_zero(tmp_path: Path, database: Database) -> None:
    """Where no clue or clearance figures exist, the report says null for them, never a made-up zero."""
    store = database.open()
    hand_made(store, tmp_path)
    report = district_report(store, SHIPPED, "2025-06", today=TODAY, source=lambda _s, _m: None)
    row = by_code(report)["410184"]
    assert report["activity_tracked"] is False
    assert (row["clues"], row["owed"], row["cleared"], row["dishonesty_bodies"]) == (None, None, None, 2)
    assert row["score"] == 82.5 - 20 - 10


def test_a_month_without_data_or_not_begun_is_refused(database: Database, tmp_path: Path) -> None:
    """A month before any record was listed, without scores or clues, is one clear error; so is a month
    that has not begun and a month not written YYYY-MM."""
    store = database.open()
    hand_made(store, tmp_path)
    for month, words in (("2024-12", "no data for 2024-12"), ("2025-08", "has not begun"),
                         ("2025-13", "YYYY-MM")):
        with pytest.raises(DistrictError) as refused:
            district_report(store, SHIPPED, month, today=TODAY, source=activity)
        assert words in str(refused.value) and "\n" not in str(refused.value)


def test_scores_import_keeps_good_rows_and_reports_bad_ones(database: Database, tmp_path: Path) -> None:
    """A bad row (unknown district, bad month, a score out of 0–100, no score) is reported with its line
    and the good rows are stored; a re-import replaces the month's scores; XLSX reads the same."""
    store = database.open()
    path = tmp_path / "scores.csv"
    path.write_text("region_code,month,lawful_administration,transparency\n"
                    "410184,2025-06,88,77\n"
                    "999999,2025-06,80,80\n"
                    "410106,2025-6,80,80\n"
                    "410106,2025-06,80,101\n"
                    "410103,2025-06,,\n"
                    "410106,2025-06,66.5,\n", encoding="utf-8")
    done = import_scores(store, path, SHIPPED)
    assert done.stored == 2
    assert [e.line for e in done.errors] == [3, 4, 5, 6]
    for error, start in zip(done.errors, ("region_code '999999' is not", "month: '2025-6' is not",
                                          "transparency: '101' is not", "no score given"), strict=True):
        assert error.reason.startswith(start), error.reason
    assert {(s.region_code, s.dimension, s.score) for s in read_scores(store, ["2025-06"])} == {
        ("410184", "lawful_administration", 88.0), ("410184", "transparency", 77.0),
        ("410106", "lawful_administration", 66.5)}
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["行政区划代码", "月份", *DIMENSIONS.values()])
    sheet.append(["410184", "2025-06", 50, 60, 70, 80, 90, 100])
    book.save(tmp_path / "scores.xlsx")
    assert import_scores(store, tmp_path / "scores.xlsx", SHIPPED).stored == 1
    assert {s.dimension: s.score for s in read_scores(store, ["2025-06"]) if s.region_code == "410184"} == dict(
        zip(DIMENSIONS, (50.0, 60.0, 70.0, 80.0, 90.0, 100.0), strict=True))


def test_a_scores_file_with_a_wrong_header_stores_nothing(database: Database, tmp_path: Path) -> None:
    """A header without region_code or without any dimension, a file not UTF-8, of another type or not a
    workbook refuses the file in one line, nothing stored."""
    store = database.open()
    for header in ("month,lawful_administration", "region_code,month,source", "region_code,month,bogus"):
        path = tmp_path / "bad.csv"
        path.write_text(f"{header}\n410184,2025-06,80\n", encoding="utf-8")
        with pytest.raises(DistrictError):
            import_scores(store, path, SHIPPED)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("行政区划代码,月份,依法行政\n410184,2025-06,80\n".encode("gbk"))
    (tmp_path / "scores.txt").write_text("region_code,month,transparency\n", encoding="utf-8")
    (tmp_path / "fake.xlsx").write_bytes(b"not a zip")
    for path, words in ((gbk, "UTF-8"), (tmp_path / "scores.txt", "unsupported"), (tmp_path / "fake.xlsx", "XLSX")):
        with pytest.raises(DistrictError, match=words) as refused:
            import_scores(store, path, SHIPPED)
        assert str(refused.value).startswith(str(path)) and "\n" not in str(refused.value)
    assert read_scores(store, ["2025-06"]) == []


def test_shipped_districts_are_zhengzhou_s_with_a_local_code_for_zhengdong() -> None:
    """The shipped file lists the 13 districts domain.md gives codes for and 郑东新区 under its local code."""
    assert (SHIPPED.region_code, SHIPPED.name, len(SHIPPED.districts)) == ("410100", "郑州市", 14)
    zhengdong = SHIPPED.find("410190")
    assert zhengdong is not None and zhengdong.name == "郑东新区" and not zhengdong.official
    assert {"410102", "410106", "410173", "410184", "410185"} <= {d.region_code for d in SHIPPED.districts}


def test_a_bad_districts_file_is_reported_line_by_line(tmp_path: Path) -> None:
    """Every problem of a districts file is reported as path:line:col: code: message."""
    path = tmp_path / "districts.yaml"
    path.write_text('region_code: "410100"\nname: 郑州市\ndistricts:\n'
                    '  - {region_code: "410184", name: 新郑市}\n'
                    '  - {region_code: "410184", name: 又一个}\n'
                    '  - {region_code: "4101", name: 坏代码}\n'
                    '  - {region_code: "420102", name: 外地}\n'
                    '  - {name: 无代码, colour: red}\n', encoding="utf-8")
    with pytest.raises(DistrictError) as refused:
        load_districts(path)
    lines = str(refused.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "duplicate_district", "bad_region_code", "outside_area", "missing_region_code", "unknown_field"]
    assert lines[0].startswith(f"{path}:5:")
    (tmp_path / "broken.yaml").write_text("region_code: [\n", encoding="utf-8")
    with pytest.raises(DistrictError, match="yaml_syntax"):
        load_districts(tmp_path / "broken.yaml")


def test_report_from_clues_and_clearance_as_recorded(database: Database) -> None:
    """The whole loop through the clue and clearance tables, September 2025 (no holiday): a clue about a
    新郑市 township received Mon 1st, transferred on the 2nd (in time), confirmed on the 5th (owed 100,000,
    rectify by the 20th), 40,000 paid on the 15th; a clue about 上街区 received Thu 4th, transferred Mon 8th
    (late: one working day), found unfounded on the 10th. By hand: 新郑市 1 body, 1 overdue, 1 clue
    received/on time/verified/confirmed, owed 60,000, cleared 40,000, score 100 − 10 − 10 = 80; 上街区 1 clue
    transferred late, score 100 − 2 = 98; August had no data, so no trend. The district check of 新郑市
    sees the record the clue created."""
    store = database.open()
    day = dt.date
    first = add_clue(store, body=TOWN_A, channel="arrears_platform", summary="拖欠工程款", amount=100000,
                     received=day(2025, 9, 1), body_name="新郑市孟庄镇人民政府")
    transfer_clue(store, first.clue_id, to="新郑市人民政府", due=day(2025, 9, 30), on=day(2025, 9, 2))
    confirmed = verify_clue(store, first.clue_id, confirmed=True, reason="属实", on=day(2025, 9, 5),
                            rectify_by=day(2025, 9, 20))
    assert confirmed.record_id is not None
    add_payment(store, confirmed.record_id, paid=40000, on=day(2025, 9, 15))
    second = add_clue(store, body=SHANGJIE, channel="hotline_12345", summary="未履行协议", received=day(2025, 9, 4))
    transfer_clue(store, second.clue_id, to="郑州市人民政府", due=day(2025, 9, 30), on=day(2025, 9, 8))
    verify_clue(store, second.clue_id, confirmed=False, reason="不实", on=day(2025, 9, 10))

    report = district_report(store, SHIPPED, "2025-09", today=day(2025, 10, 15))
    rows = by_code(report)
    xz, sj = rows["410184"], rows["410106"]
    assert report["activity_tracked"] is True
    assert (xz["dishonesty_bodies"], xz["overdue"], xz["clues"], xz["clues_transferred_on_time"]) == (1, 1, 1, 1)
    assert (xz["clues_verified"], xz["clues_confirmed"], xz["owed"], xz["cleared"]) == (1, 1, 60000, 40000)
    assert (xz["clearance_stalled"], xz["score"], xz["trend"]) == (0, 80.0, None)
    assert (sj["clues"], sj["clues_transferred_late"], sj["clues_confirmed"], sj["score"]) == (1, 1, 0, 98.0)
    assert [w["code"] for w in sj["warnings"]] == ["transfer_late"]
    engine = Engine(store=store, clock=Clock(dt.datetime(2025, 9, 16, 4, tzinfo=dt.UTC)), cases=False)
    district = engine.check("410184", "honors", organizer="development_reform")
    assert [m.measure_id for m in district.measures] == ["GOV-HON-001"]
    assert [h.record_id for h in district.hits] == [confirmed.record_id]


def test_the_report_masks_resident_ids(database: Database, tmp_path: Path) -> None:
    """A government-dishonesty record of a person (公职人员) in a district, named with the id in its name, shows
    masked in the report's JSON, HTML, table and workbook."""
    person = resident_id(42)
    store = database.open()
    store.upsert([gov("P1", person, dt.date(2025, 1, 10), region_code="410105", rectify_by=dt.date(2025, 3, 1),
                      subject_name=f"张某（{person}）")])
    report = district_report(store, SHIPPED, "2025-06", today=TODAY, source=activity)
    assert by_code(report)["410105"]["overdue"] == 1
    write_xlsx(report, str(tmp_path / "r.xlsx"))
    book = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)
    cells = " ".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row)
    for text in (json.dumps(report, ensure_ascii=False), render_html(report), render_table(report), cells):
        assert_masked(text, person)
