"""A forgiving import (design.md §6): Chinese headers and list-type names, only the four required columns,
and an id of the wrong kind for its subject type refused with its line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest

from joint_sanctions._errors import RecordError
from joint_sanctions._records import import_records
from joint_sanctions.testing import MemoryStore

ACME = "91350100M000100Y43"
PERSON = "410102199003071230"


def test_chinese_headers_and_list_type_names_import(tmp_path: Path) -> None:
    """A file with 记录编号, 名单类型 … and 失信被执行人 imports like its English twin."""
    path = tmp_path / "zh.csv"
    path.write_text("记录编号,名单类型,主体标识,主体名称,主体类型,认定单位,认定文号,列入日期,有效期至,状态,事由\n"
                    f"R1,失信被执行人,{ACME},某公司,法人,郑州中院,(2024)豫01执1号,2024-01-15,,有效,未履行\n",
                    encoding="utf-8")
    store = MemoryStore()
    report = import_records(store, path)
    assert (report.stored, report.errors) == (1, [])
    stored = store.get("R1")
    assert stored is not None
    assert (stored.list_type, stored.subject_type, stored.status, stored.listed_on) == (
        "court_defaulter", "legal_person", "active", dt.date(2024, 1, 15))


def test_only_the_four_required_columns_are_needed(tmp_path: Path) -> None:
    """record_id, list_type, subject_id, listed_on suffice; the rest take their defaults."""
    path = tmp_path / "min.csv"
    path.write_text(f"subject_id,listed_on,record_id,list_type\n{ACME},2024-01-15,R1,wage_arrears\n",
                    encoding="utf-8")
    store = MemoryStore()
    assert import_records(store, path).stored == 1
    stored = store.get("R1")
    assert stored is not None and (stored.status, stored.expires_on, stored.authority) == ("active", None, "")


def test_a_missing_required_column_is_refused_whole(tmp_path: Path) -> None:
    """Without listed_on the file is refused before any row, naming the column."""
    path = tmp_path / "bad.csv"
    path.write_text(f"记录编号,名单类型,主体标识\nR1,失信被执行人,{ACME}\n", encoding="utf-8")
    with pytest.raises(RecordError, match="missing columns: listed_on"):
        import_records(MemoryStore(), path)


def test_chinese_keys_in_json_lines_and_xlsx(tmp_path: Path) -> None:
    """JSON Lines and XLSX take the Chinese names too."""
    jsonl = tmp_path / "zh.jsonl"
    jsonl.write_text(json.dumps({"记录编号": "J1", "名单类型": "重大税收违法失信主体", "主体标识": ACME,
                                 "列入日期": "2024-02-01"}, ensure_ascii=False) + "\n", encoding="utf-8")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["记录编号", "名单类型", "主体标识", "列入日期"])
    sheet.append(["X1", "拖欠农民工工资失信联合惩戒对象名单", ACME, "2024-03-01"])
    xlsx = tmp_path / "zh.xlsx"
    book.save(xlsx)
    store = MemoryStore()
    assert import_records(store, jsonl).errors == [] and import_records(store, xlsx).errors == []
    assert [(r.record_id, r.list_type) for r in store.iter_records()] == [
        ("J1", "major_tax_violator"), ("X1", "wage_arrears")]


@pytest.mark.parametrize(("subject_id", "subject_type", "words"), [
    (ACME, "natural_person", "USCC"),
    (PERSON, "legal_person", "resident id"),
    (PERSON, "government_body", "resident id"),
])
def test_an_id_of_the_wrong_kind_is_refused_with_its_line(tmp_path: Path, subject_id: str, subject_type: str,
                                                           words: str) -> None:
    """A USCC as a natural person, a resident id as an organisation: that row refused, the others load."""
    path = tmp_path / "kind.csv"
    path.write_text("record_id,list_type,subject_id,subject_type,listed_on\n"
                    f"R1,court_defaulter,{ACME},legal_person,2024-01-01\n"
                    f"R2,court_defaulter,{subject_id},{subject_type},2024-01-01\n"
                    f"R3,court_defaulter,{PERSON},natural_person,2024-01-01\n", encoding="utf-8")
    store = MemoryStore()
    report = import_records(store, path)
    assert report.stored == 2 and [e.line for e in report.errors] == [3]
    reason = report.errors[0].reason
    assert words in reason and " / " in reason and PERSON not in reason
    assert store.get("R2") is None
