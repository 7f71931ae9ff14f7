"""``joint-sanctions diff``: measures added, removed and changed, the cells whose outcome changes, and
the subjects whose decision a new revision would change (issue 14, point 4)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from joint_sanctions import Engine
from joint_sanctions._load import shipped_measures_dir
from joint_sanctions._serving import compile_paths
from joint_sanctions._workbench_diff import diff_measures
from joint_sanctions.vocabulary import MATTER_TYPES

from .conftest import PERSONS, USCCS, Database, assert_masked, cli, record

DAY = dt.date(2025, 6, 1)


@pytest.fixture
def revisions(tmp_path: Path) -> tuple[Path, Path]:
    """OLD: the shipped lists. NEW: national.yaml's confirmed bases made unconfirmed, CSH-001 renamed
    CSH-009 (one removed, one added)."""
    old = tmp_path / "old"
    new = tmp_path / "new"
    shutil.copytree(shipped_measures_dir(), old)
    shutil.copytree(shipped_measures_dir(), new)
    national = new / "national.yaml"
    national.write_text(national.read_text(encoding="utf-8").replace(
        "basis_status: confirmed", "basis_status: unconfirmed"), encoding="utf-8")
    civil = new / "civil_service.yaml"
    civil.write_text(civil.read_text(encoding="utf-8").replace("CSH-001", "CSH-009"), encoding="utf-8")
    return old, new


def test_measures_added_removed_and_changed_field_by_field(revisions: tuple[Path, Path]) -> None:
    """A renamed measure shows as removed and added; a changed basis status as a before/after field."""
    old, new = revisions
    diff = diff_measures(compile_paths(old), compile_paths(new), day=DAY).as_json()
    assert diff["added"] == ["CSH-009"]
    assert diff["removed"] == ["CSH-001"]
    changed = {c["measure_id"]: c["fields"] for c in diff["changed"]}
    assert changed["NAT-CD-001"] == {"basis_status": {"before": "confirmed", "after": "unconfirmed"}}
    assert set(changed) == {"NAT-LIC-001", "NAT-BID-001", "NAT-GP-001", "NAT-GP-002", "NAT-WAG-001", "NAT-CD-001"}


def test_cells_whose_outcome_changes_follow_the_legality_guard(revisions: tuple[Path, Path]) -> None:
    """A court defaulter's procurement cell drops from restricted to review once NAT-CD-001's basis is
    unconfirmed; a cell nothing touched is not listed."""
    old, new = revisions
    diff = diff_measures(compile_paths(old), compile_paths(new), day=DAY).as_json()
    cells = {(c["list_type"], c["matter_type"], c["subject_type"]): c for c in diff["cells"]}
    cell = cells[("court_defaulter", "government_procurement", "legal_person")]
    assert cell["before"]["decision"] == "restricted"
    assert cell["after"]["decision"] == "review"
    assert "NAT-CD-001" in cell["before"]["binding"]
    assert "NAT-CD-001" not in cell["after"]["binding"]
    assert ("tax_credit_a", "administrative_licensing", "legal_person") not in cells
    # the renamed civil-service measure gives the same outcome under another id: the cell lists it
    hiring = cells[("court_defaulter", "civil_servant_hiring", "natural_person")]
    assert (hiring["before"]["measure_ids"], hiring["after"]["measure_ids"]) == (["CSH-001"], ["CSH-009"])
    assert ("court_defaulter", "civil_servant_hiring", "legal_person") not in cells


def test_no_change_gives_an_empty_sheet(tmp_path: Path) -> None:
    """The same lists in two places differ in nothing."""
    diff = diff_measures(compile_paths(None), compile_paths(shipped_measures_dir()), day=DAY).as_json()
    assert (diff["added"], diff["removed"], diff["changed"], diff["cells"]) == ([], [], [], [])
    assert diff["impact"] is None  # not computed without a database, which is not "no one affected"


def _store_records() -> list[object]:
    return [
        record("CD-0", USCCS[0]),
        record("CD-1", USCCS[1], expires_on=dt.date(2024, 6, 1)),  # expired before the day
        record("CD-P", PERSONS[0]),
        record("GP-2", USCCS[2], "procurement_violator", ban_matter_types=("government_procurement",),
               ban_until=dt.date(2030, 1, 1)),
        record("TAX-3", USCCS[3], "tax_credit_a", authority="国家税务总局郑州市税务局"),
        record("CD-4", USCCS[4], status="removed"),
        record("CD-5", USCCS[5]),
        record("WA-5", USCCS[5], "wage_arrears", authority="郑州市人力资源和社会保障局"),
        record("WA-6", USCCS[6], "wage_arrears", authority="郑州市人力资源和社会保障局",
               rectify_by=dt.date(2025, 1, 1)),
    ]


def test_impact_counts_exactly_the_subjects_a_check_would_answer_otherwise(
        database: Database, revisions: tuple[Path, Path]) -> None:
    """Per matter type, the subjects counted are those whose checked decision differs between the two
    revisions (checked one by one as the oracle), over SQLite and PostgreSQL alike."""
    old, new = revisions
    store = database.open()
    store.upsert(_store_records())  # type: ignore[arg-type]
    diff = diff_measures(compile_paths(old), compile_paths(new), day=DAY, store=store)
    assert diff.impact is not None
    subjects = [USCCS[i] for i in range(7)] + [PERSONS[0]]
    engines = [Engine(measures=m, store=store, cases=False, rules="reference") for m in (old, new)]
    expected = {}
    for matter in MATTER_TYPES:
        answers = [[e.check(s, matter, at=DAY).decision for s in subjects] for e in engines]
        expected[matter] = sum(a != b for a, b in zip(*answers, strict=True))
    assert {i.matter_type: i.subjects_changed for i in diff.impact} == expected
    assert expected["government_procurement"] >= 3  # the test data does move decisions
    assert diff.subjects_screened == 6  # the expired and the removed record count for no one


def test_impact_sample_masks_resident_ids(database: Database, revisions: tuple[Path, Path]) -> None:
    """A person whose decision changes is named in the sample by a masked resident id only."""
    old, new = revisions
    store = database.open()
    store.upsert(_store_records())  # type: ignore[arg-type]
    diff = diff_measures(compile_paths(old), compile_paths(new), day=DAY, store=store).as_json()
    procurement = next(i for i in diff["impact"] if i["matter_type"] == "government_procurement")
    assert any(s["subject"].startswith(PERSONS[0][:4]) and s["subject_type"] == "natural_person"
               for s in procurement["sample"])
    assert_masked(json.dumps(diff, ensure_ascii=False), PERSONS[0])


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("diff", *args, cwd=tmp_path)


def test_cli_prints_a_readable_table_without_out(revisions: tuple[Path, Path], tmp_path: Path) -> None:
    """Without --out, stdout shows the counts and each change in Chinese and English; exit 0."""
    old, new = revisions
    done = _cli(tmp_path, str(old), str(new), "--at", "2025-06-01")
    assert done.returncode == 0, done.stderr
    assert "修改措施 / measures changed: 6" in done.stdout
    assert "NAT-CD-001.basis_status: confirmed → unconfirmed" in done.stdout
    assert "court_defaulter × government_procurement × legal_person: restricted" in done.stdout


def test_cli_writes_json_with_the_contract_keys(database: Database, revisions: tuple[Path, Path],
                                              tmp_path: Path) -> None:
    """--out FILE.json with --db holds added, removed, changed, cells and impact, resident ids masked."""
    old, new = revisions
    database.open().upsert(_store_records())  # type: ignore[arg-type]
    out = tmp_path / "sheet.json"
    done = cli("diff", str(old), str(new), "--db", database.url, "--at", "2025-06-01", "--out", str(out),
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert {"added", "removed", "changed", "cells", "impact"} <= doc.keys()
    assert {"measure_id", "fields"} == set(doc["changed"][0])
    assert {"list_type", "matter_type", "subject_type", "before", "after"} == set(doc["cells"][0])
    assert {"matter_type", "subjects_changed"} <= set(doc["impact"][0])
    assert_masked(out.read_text(encoding="utf-8"), PERSONS[0])


@pytest.mark.parametrize("ext", [".md", ".html"])
def test_cli_writes_markdown_and_html(revisions: tuple[Path, Path], tmp_path: Path, ext: str) -> None:
    """--out FILE.md and FILE.html are written, Chinese first, naming the changed measure."""
    old, new = revisions
    out = tmp_path / f"sheet{ext}"
    done = _cli(tmp_path, str(old), str(new), "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "措施清单变更核对单 Measure-list change sheet" in text
    assert "NAT-CD-001" in text and "CSH-009" in text
    if ext == ".html":
        assert "<script" not in text and "http" not in text.split("<body>")[1]  # no external assets


def test_html_escapes_what_the_lists_say(tmp_path: Path) -> None:
    """A measure name holding markup and a resident id shows as text, the id masked."""
    old = tmp_path / "old"
    new = tmp_path / "new"
    shutil.copytree(shipped_measures_dir(), old)
    shutil.copytree(shipped_measures_dir(), new)
    civil = new / "civil_service.yaml"
    text = civil.read_text(encoding="utf-8")
    civil.write_text(text.replace("CSH-001\n    name: ", f"CSH-001\n    name: <b>{PERSONS[1]}</b>"),
                     encoding="utf-8")
    out = tmp_path / "sheet.html"
    done = _cli(tmp_path, str(old), str(new), "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert_masked(page, PERSONS[1])


def test_cli_refuses_lists_that_do_not_lint(revisions: tuple[Path, Path], tmp_path: Path) -> None:
    """A NEW revision with a lint error: one located line per problem, exit 1, no traceback, no sheet."""
    old, new = revisions
    (new / "national.yaml").write_text("edition: 2024\nmeasures: [\n", encoding="utf-8")
    out = tmp_path / "sheet.json"
    done = _cli(tmp_path, str(old), str(new), "--out", str(out))
    assert done.returncode == 1
    assert "national.yaml" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_cli_exit_codes_for_a_wrong_command_line_and_a_missing_database(
        revisions: tuple[Path, Path], tmp_path: Path) -> None:
    """An --out of another format exits 2; a SQLite file that does not exist exits 1 and is not created."""
    old, new = revisions
    bad = _cli(tmp_path, str(old), str(new), "--out", str(tmp_path / "sheet.xlsx"))
    assert bad.returncode == 2 and "/" in bad.stderr.splitlines()[-1]
    missing = tmp_path / "nowhere.db"
    done = _cli(tmp_path, str(old), str(new), "--db", f"sqlite:///{missing}")
    assert done.returncode == 1
    assert "数据库不存在" in done.stderr and "Traceback" not in done.stderr
    assert not missing.exists()
