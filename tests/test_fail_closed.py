"""Failing closed on data (design.md §9): no database created by accident, no answer without data,
no answer on stale data, and every answer says how current its data is."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from joint_sanctions import CheckError, Engine, StoreError
from joint_sanctions._batch import run_batch
from joint_sanctions._cases import case_book_for
from joint_sanctions._check import compile_paths, parse_max_data_age
from joint_sanctions._compile import CompiledMeasures
from joint_sanctions.stores import open_store
from joint_sanctions.testing import Clock, MemoryStore

from .conftest import Database, numbered_uscc, record

FIXTURE = Path(__file__).parent / "fixtures" / "measures"
CO = "91410100MA0000015B"
CO2 = "91350100M000100Y43"
PERSON = "410102199003071230"
NOT_FOUND = "database not found / 数据库不存在"
HEADER = ("record_id,list_type,subject_id,subject_name,subject_type,authority,document_no,listed_on,"
          "expires_on,status,reason\n")


@pytest.fixture(scope="module")
def fixture_measures() -> CompiledMeasures:
    return compile_paths(FIXTURE)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh process with no database or age set in the environment."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("JOINT_SANCTIONS_DB", "JOINT_SANCTIONS_MAX_DATA_AGE")}
    return subprocess.run([sys.executable, "-m", "joint_sanctions", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False, env={**clean, **(env or {})})


def write_records(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


# --- open_store never creates by accident ---------------------------------------------------------


def test_open_store_refuses_a_missing_sqlite_file(tmp_path: Path) -> None:
    """open_store on a SQLite file that does not exist raises StoreError naming it, and creates nothing."""
    path = tmp_path / "typo.db"
    for url in (f"sqlite:///{path}", str(path)):
        with pytest.raises(StoreError) as caught:
            open_store(url)
        assert str(caught.value) == f"{NOT_FOUND}: {path}"
    assert list(tmp_path.iterdir()) == []


def test_open_store_default_refuses_a_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without URL or environment, a folder with no joint_sanctions.db gets StoreError, not a new file."""
    monkeypatch.delenv("JOINT_SANCTIONS_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="database not found"):
        open_store()
    assert list(tmp_path.iterdir()) == []


def test_open_store_create_makes_the_file_but_never_its_folder(tmp_path: Path) -> None:
    """create=True creates a missing file in an existing folder; a missing folder is a StoreError."""
    with open_store(f"sqlite:///{tmp_path / 'new.db'}", create=True) as store:
        assert store.count() == 0
    assert (tmp_path / "new.db").exists()
    with pytest.raises(StoreError, match="数据库目录不存在") as caught:
        open_store(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'new.db'}", create=True)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "no").exists()


def test_engine_from_a_url_never_creates_a_database(tmp_path: Path, fixture_measures: CompiledMeasures) -> None:
    """Engine(store=URL) on a missing SQLite file raises StoreError and creates no file."""
    with pytest.raises(StoreError, match="database not found"):
        Engine(measures=fixture_measures, store=f"sqlite:///{tmp_path / 'missing.db'}", cases=False)
    assert list(tmp_path.iterdir()) == []


def test_postgres_failure_never_shows_the_password(tmp_path: Path) -> None:
    """An unreachable PostgreSQL server, from open_store(create=True) or `db init`, never shows the password."""
    url = "postgresql://user:s3cr3t-pw@127.0.0.1:1/credit"
    with pytest.raises(StoreError) as caught:
        open_store(url, create=True)
    assert "s3cr3t-pw" not in str(caught.value)
    for args in (["db", "init", "--db", url], ["check", "--subject", CO, "--matter", "bidding", "--db", url]):
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 1, done
        assert "s3cr3t-pw" not in done.stdout + done.stderr
        assert len(done.stderr.splitlines()) == 1


# --- the command line never creates by accident ---------------------------------------------------


@pytest.mark.parametrize("command", [
    ["check", "--subject", CO, "--matter", "government_procurement"],
    ["check", "--subject", CO, "--matter", "government_procurement", "--json"],
    ["batch", "in.csv", "--matter", "government_procurement", "--out", "report.csv"],
    ["cases", "list"],
    ["cases", "stats"],
    ["records", "repair", "R1", "--reason", "已履行", "--decision-no", "(2025)1号"],
    ["records", "history", "R1"],
    ["records", "list", "--subject", CO],
])
def test_cli_refuses_a_missing_database_file(tmp_path: Path, command: list[str]) -> None:
    """check, batch, cases and repair on a missing --db file: one line, exit 1, no file, no "clear"."""
    (tmp_path / "in.csv").write_text(f"subject_id,subject_name\n{CO},某公司\n", encoding="utf-8")
    missing = tmp_path / "typo.db"
    done = cli(*command, "--db", f"sqlite:///{missing}", cwd=tmp_path)
    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [f"joint-sanctions: error: {NOT_FOUND}: {missing}"]
    assert "clear" not in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("command", [
    ["check", "--subject", CO, "--matter", "government_procurement"],
    ["check", "--subject", CO, "--matter", "government_procurement", "--json"],
    ["cases", "list", "--json"],
])
def test_cli_in_an_empty_folder_creates_no_default_database(tmp_path: Path, command: list[str]) -> None:
    """Run from an empty folder with no --db and no JOINT_SANCTIONS_DB: exit 1, nothing created, no "clear"."""
    done = cli(*command, cwd=tmp_path)
    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [f"joint-sanctions: error: {NOT_FOUND}: {tmp_path / 'joint_sanctions.db'}"]
    assert "clear" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_db_init_creates_the_database_and_then_checks_refuse_for_want_of_data(tmp_path: Path) -> None:
    """`db init` creates the schema (records and cases); a check on it then exits 1 with no_data."""
    done = cli("db", "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "joint_sanctions.db"
    assert str(path) in done.stdout
    tables = {name for (name,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"credit_records", "record_data_as_of", "cases", "feedback_outbox"} <= tables
    again = cli("db", "init", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    checked = cli("check", "--subject", CO, "--matter", "government_procurement", cwd=tmp_path)
    assert checked.returncode == 1
    assert checked.stderr.splitlines() == [
        ("joint-sanctions: error: no credit records were ever imported: the database cannot answer checks "
         "/ 尚未导入任何信用记录，无法核查")]
    assert "clear" not in checked.stdout


def test_db_init_never_creates_a_missing_folder(tmp_path: Path) -> None:
    """`db init --db` into a folder that does not exist: one line, exit 1, nothing created."""
    done = cli("db", "init", "--db", f"sqlite:///{tmp_path / 'nope' / 'js.db'}", cwd=tmp_path)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "数据库目录不存在" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_db_init_migrates_postgresql(pg_url: str, tmp_path: Path) -> None:
    """`db init` on a PostgreSQL database creates the record and case tables there."""
    done = cli("db", "init", "--db", pg_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    db = Database("postgres", pg_url, tmp_path)
    tables = {name for (name,) in db.rows("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = current_schema()")}
    assert {"credit_records", "record_data_as_of", "cases", "feedback_outbox"} <= tables


def test_records_import_creates_the_database(tmp_path: Path) -> None:
    """`records import` is one of the two commands that create a database."""
    csv = write_records(tmp_path / "r.csv", f"R1,court_defaulter,{CO},某公司,,法院,文号,2024-01-01,,active,")
    done = cli("records", "import", str(csv), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "joint_sanctions.db").exists()


# --- data_as_of in the stores ---------------------------------------------------------------------


def test_a_fresh_store_has_no_data_as_of(database: Database) -> None:
    """A store into which nothing was written reports no list type."""
    assert database.open().data_as_of() == {}


def test_upsert_records_when_each_list_type_was_written(database: Database) -> None:
    """upsert from Python stamps the list types it wrote with the time of the write; others keep theirs."""
    store = database.open()
    before = _utc_now()
    store.upsert([record("R1", CO), record("R2", CO2, "tax_credit_a")])
    first = store.data_as_of()
    assert set(first) == {"court_defaulter", "tax_credit_a"}
    for when in first.values():
        assert when.tzinfo is not None and before - dt.timedelta(seconds=5) <= when <= _utc_now()
    store.upsert([record("R3", CO2)])
    second = store.data_as_of()
    assert second["tax_credit_a"] == first["tax_credit_a"]
    assert second["court_defaulter"] > first["court_defaulter"]
    assert database.open().data_as_of() == second  # kept in the database, seen by another connection


def test_repair_and_set_status_update_data_as_of(database: Database) -> None:
    """A repair (or any status change) is a write of its record's list type."""
    store = database.open()
    store.upsert([record("R1", CO), record("R2", CO2, "tax_credit_a")])
    first = store.data_as_of()
    store.repair("R2")
    second = store.data_as_of()
    assert second["tax_credit_a"] > first["tax_credit_a"]
    assert second["court_defaulter"] == first["court_defaulter"]
    store.set_status("R1", "removed", "erroneous listing")
    assert store.data_as_of()["court_defaulter"] > second["court_defaulter"]


def test_an_empty_upsert_records_nothing(database: Database) -> None:
    """Writing no record says nothing about any list: the store still has no data."""
    store = database.open()
    assert store.upsert([]) == 0
    assert store.data_as_of() == {}


def test_memory_store_records_data_as_of() -> None:
    """The in-memory fake follows the same contract."""
    store = MemoryStore()
    assert store.data_as_of() == {}
    store.upsert([record("R1", CO)])
    first = store.data_as_of()["court_defaulter"]
    store.repair("R1")
    assert store.data_as_of()["court_defaulter"] > first


def test_databases_written_before_data_as_of_are_backfilled(database: Database) -> None:
    """A database whose records predate the data_as_of table gets each list type's latest write on open."""
    store = database.open()
    store.upsert([record("R1", CO), record("R2", CO2, "tax_credit_a")])
    store.close()
    database.execute("DROP TABLE record_data_as_of", "DELETE FROM schema_migrations WHERE id = 'records-0003'")
    reopened = database.open().data_as_of()
    assert set(reopened) == {"court_defaulter", "tax_credit_a"}


def _age(path: Path, days: int, list_type: str | None = None) -> None:
    """Make the latest write of every list type (or of one) ``days`` old, as if no import had run since."""
    with sqlite3.connect(path) as conn:
        old = (_utc_now() - dt.timedelta(days=days)).isoformat()
        conn.execute("UPDATE record_data_as_of SET written_at = ? WHERE ? IS NULL OR list_type = ?",
                     (old, list_type, list_type))


# --- checks refuse without data, or on stale data -------------------------------------------------


def test_a_store_that_never_received_a_record_refuses_checks(database: Database,
                                                             fixture_measures: CompiledMeasures) -> None:
    """check and check_many on an empty store raise CheckError(no_data), on the fast path too."""
    engine = Engine(measures=fixture_measures, store=database.open(), cases=False)
    with pytest.raises(CheckError) as caught:
        engine.check(CO, "government_procurement")
    assert caught.value.code == "no_data"
    with pytest.raises(CheckError, match="尚未导入"):
        engine.check_many([CO, CO2], "government_procurement", at=dt.date(2025, 6, 1))


def test_the_first_write_lets_checks_answer(database: Database, fixture_measures: CompiledMeasures) -> None:
    """A running engine answers as soon as records are written, by itself or by another connection."""
    engine = Engine(measures=fixture_measures, store=database.open(), cases=False, refresh_interval=0.05)
    with pytest.raises(CheckError):
        engine.check(CO, "government_procurement")
    database.open().upsert([record("R1", CO2)])
    result = _eventually(lambda: engine.check(CO, "government_procurement"))
    assert result.decision == "clear" and set(result.data_as_of) == {"court_defaulter"}


def _eventually(attempt: Callable[[], object]) -> object:
    """attempt() once it stops raising CheckError (the engine's poll catches up with another writer)."""
    deadline = _utc_now() + dt.timedelta(seconds=10)
    while True:
        try:
            return attempt()
        except CheckError:
            if _utc_now() > deadline:
                raise


def test_every_result_carries_data_as_of(database: Database, fixture_measures: CompiledMeasures) -> None:
    """Clear and flagged results, and their JSON, carry {list type: ISO time} of the latest writes."""
    store = database.open()
    store.upsert([record("R1", CO), record("R2", CO2, "tax_credit_a")])
    expected = store.data_as_of()
    engine = Engine(measures=fixture_measures, store=store, cases=False)
    clear = engine.check(numbered_uscc(5), "bidding")  # on no list: the fast path
    flagged = engine.check(CO, "government_procurement")
    past = engine.check(CO2, "bidding", at=dt.date(2020, 1, 1))  # listed, no record active then
    for result in (clear, flagged, past, *engine.check_many([CO, CO2, numbered_uscc(5)], "bidding")):
        assert result.data_as_of == expected
        doc = json.loads(result.to_json())
        assert {k: dt.datetime.fromisoformat(v) for k, v in doc["data_as_of"].items()} == expected
    assert flagged.decision != "clear" and clear.decision == past.decision == "clear"


def test_stale_lists_refuse_checks_naming_them(fixture_measures: CompiledMeasures, tmp_path: Path) -> None:
    """With max_data_age, a list type whose latest write is older refuses checks (code stale_data),
    also for a check in the past: staleness is about the data as it is now."""
    path = tmp_path / "r.db"
    store = open_store(f"sqlite:///{path}", create=True)
    store.upsert([record("R1", CO), record("R2", CO2, "tax_credit_a")])
    _age(path, days=2, list_type="tax_credit_a")  # as if that list had not been imported for two days
    clock = Clock(_utc_now())
    engine = Engine(measures=fixture_measures, store=store, cases=False, clock=clock,
                    max_data_age=dt.timedelta(hours=36))
    for at in (None, dt.date(2025, 1, 1)):
        with pytest.raises(CheckError) as caught:
            engine.check(numbered_uscc(5), "bidding", at=at)
        assert caught.value.code == "stale_data"
        assert "tax_credit_a" in str(caught.value) and "court_defaulter" not in str(caught.value)
    with pytest.raises(CheckError, match="tax_credit_a"):
        engine.check_many([CO2], "bidding")
    store.upsert([record("R2", CO2, "tax_credit_a")])  # a fresh import of that list lifts the refusal
    assert engine.check(numbered_uscc(5), "bidding").data_as_of.keys() == {"court_defaulter", "tax_credit_a"}
    clock.advance(dt.timedelta(hours=35))  # the injected clock: just within the limit, then past it
    assert engine.check(numbered_uscc(5), "bidding").decision == "clear"
    clock.advance(dt.timedelta(hours=2))
    with pytest.raises(CheckError, match="court_defaulter.*tax_credit_a|tax_credit_a.*court_defaulter"):
        engine.check(numbered_uscc(5), "bidding")


def test_max_data_age_from_the_environment(fixture_measures: CompiledMeasures, monkeypatch: pytest.MonkeyPatch) -> None:
    """JOINT_SANCTIONS_MAX_DATA_AGE sets the limit when the engine is given none; a bad value is refused."""
    store = MemoryStore([record("R1", CO)])
    later = _utc_now() + dt.timedelta(days=8)
    monkeypatch.setenv("JOINT_SANCTIONS_MAX_DATA_AGE", "7d")
    engine = Engine(measures=fixture_measures, store=store, cases=False, clock=lambda: later)
    with pytest.raises(CheckError, match="court_defaulter") as caught:
        engine.check(CO2, "bidding")
    assert caught.value.code == "stale_data"
    monkeypatch.setenv("JOINT_SANCTIONS_MAX_DATA_AGE", "a week")
    with pytest.raises(CheckError, match="JOINT_SANCTIONS_MAX_DATA_AGE"):
        Engine(measures=fixture_measures, store=store, cases=False)


@pytest.mark.parametrize(("text", "expected"), [("36h", dt.timedelta(hours=36)), ("7d", dt.timedelta(days=7)),
                                                ("90m", dt.timedelta(minutes=90)), (" 2D ", dt.timedelta(days=2))])
def test_parse_max_data_age(text: str, expected: dt.timedelta) -> None:
    """Ages are a positive whole number of minutes, hours or days."""
    assert parse_max_data_age(text) == expected


@pytest.mark.parametrize("text", ["", "36", "h", "0h", "-1d", "1.5d", "7w", "१d"])
def test_parse_max_data_age_refuses_malformed_values(text: str) -> None:
    """Anything else is a ValueError that says what is expected."""
    with pytest.raises(ValueError, match="36h"):
        parse_max_data_age(text)


# --- command line: data and age -------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path) -> Path:
    """A SQLite file with one court defaulter, imported through the CLI."""
    csv = write_records(tmp_path / "r.csv", f"R1,court_defaulter,{CO},某公司,,法院,文号,2024-01-01,,active,")
    done = cli("records", "import", str(csv), "--db", f"sqlite:///{tmp_path / 'js.db'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "js.db"




def test_cli_check_json_carries_data_as_of(cli_db: Path, tmp_path: Path) -> None:
    """`check --json` prints data_as_of with the time of the import."""
    done = cli("check", "--subject", CO2, "--matter", "bidding", "--json", "--db", f"sqlite:///{cli_db}",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["decision"] == "clear" and set(doc["data_as_of"]) == {"court_defaulter"}
    assert dt.datetime.fromisoformat(doc["data_as_of"]["court_defaulter"]) > _utc_now() - dt.timedelta(minutes=5)
    table = cli("check", "--subject", CO2, "--matter", "bidding", "--db", f"sqlite:///{cli_db}", cwd=tmp_path)
    assert "court_defaulter" in table.stdout


@pytest.mark.parametrize("command", [
    ["check", "--subject", CO2, "--matter", "bidding"],
    ["batch", "in.csv", "--matter", "bidding", "--out", "report.csv"],
])
def test_cli_stale_data_exits_1_naming_the_list(cli_db: Path, tmp_path: Path, command: list[str]) -> None:
    """--max-data-age (or the environment) refuses checks on lists older than that: one line, exit 1."""
    (tmp_path / "in.csv").write_text(f"subject_id,subject_name\n{CO2},某公司\n", encoding="utf-8")
    _age(cli_db, days=3)
    fresh = cli(*command, "--max-data-age", "7d", "--db", f"sqlite:///{cli_db}", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    (tmp_path / "report.csv").unlink(missing_ok=True)
    for extra, env in ((["--max-data-age", "36h"], {}), ([], {"JOINT_SANCTIONS_MAX_DATA_AGE": "2d"})):
        done = cli(*command, *extra, "--db", f"sqlite:///{cli_db}", cwd=tmp_path, env=env)
        assert done.returncode == 1, done
        assert len(done.stderr.splitlines()) == 1
        assert "court_defaulter" in done.stderr and "数据过期" in done.stderr
        assert "clear" not in done.stdout
        assert not (tmp_path / "report.csv").exists()


@pytest.mark.parametrize("command", [["check", "--subject", CO2, "--matter", "bidding"],
                                     ["batch", "in.csv", "--matter", "bidding", "--out", "report.csv"]])
def test_cli_malformed_max_data_age_exits_2(cli_db: Path, tmp_path: Path, command: list[str]) -> None:
    """A malformed --max-data-age is a wrong command line."""
    done = cli(*command, "--max-data-age", "soon", "--db", f"sqlite:///{cli_db}", cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "--max-data-age" in done.stderr


# --- data_as_of in cases and batch reports --------------------------------------------------------


def test_the_case_keeps_data_as_of(database: Database, fixture_measures: CompiledMeasures) -> None:
    """A case opened by a check keeps the data_as_of of that check, in its summary (cases list --json)."""
    store = database.open()
    store.upsert([record("R1", CO)])
    engine = Engine(measures=fixture_measures, store=store)
    result = engine.check(CO, "government_procurement")
    assert result.case_id
    case = case_book_for(store).get(result.case_id)
    assert case.data_as_of == result.data_as_of
    summary = case.summary()
    assert summary["data_as_of"] == json.loads(result.to_json())["data_as_of"]


def test_batch_reports_show_data_as_of(tmp_path: Path, fixture_measures: CompiledMeasures) -> None:
    """The XLSX summary sheet and the HTML summary name each list type and when it was written;
    the CSV columns stay as they are (data_as_of is not a column)."""
    store = MemoryStore([record("R1", CO), record("R2", CO2, "tax_credit_a")])
    engine = Engine(measures=fixture_measures, store=store, cases=False)
    (tmp_path / "in.csv").write_text(f"subject_id,subject_name\n{CO},甲\n{CO2},乙\n", encoding="utf-8")
    shown = {k: v.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
             for k, v in store.data_as_of().items()}
    summary = run_batch(engine, tmp_path / "in.csv", "bidding", tmp_path / "out.xlsx")
    assert summary.data_as_of == store.data_as_of()
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["汇总 Summary"]
    cells = " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None)
    assert "数据截至 Data as of" in cells
    for list_type, when in shown.items():
        assert f"{list_type} {when}" in cells
    run_batch(engine, tmp_path / "in.csv", "bidding", tmp_path / "out.html")
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    summary_section = html[html.index('id="summary"'):html.index("</section>", html.index('id="summary"'))]
    assert "数据截至 Data as of" in summary_section
    for list_type, when in shown.items():
        assert list_type in summary_section and when in summary_section
    run_batch(engine, tmp_path / "in.csv", "bidding", tmp_path / "out.csv")
    header = (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "line,subject_id,subject_name,decision,measure_ids,record_ids,non_binding_measure_ids"


@pytest.mark.parametrize(("subject", "fields", "code"), [
    ({"id": CO, "name": "某\x00公司"}, {}, "invalid_subject"),
    ({"id": CO, "name": "某公司", "related_parties": [{"role": "legal_representative", "id": PERSON,
                                                     "name": "张\x00三"}]}, {}, "invalid_subject"),
    (CO, {"item_code": "ZZ\x00-1"}, "invalid_matter"),
    (CO, {"department": "财政局\x00"}, "invalid_matter"),
], ids=["name", "party-name", "item-code", "department"])
def test_a_nul_in_check_input_is_bad_input_on_every_database(database: Database, subject: object,
                                                             fields: dict[str, str], code: str) -> None:
    """NUL, which PostgreSQL cannot store, is refused as bad input before anything is written, the
    same on both databases, instead of failing the check while its case is stored."""
    store = database.open()
    store.upsert([record("R1", CO)])
    engine = Engine(store=store)
    with pytest.raises(CheckError) as caught:
        engine.check(subject, "bidding", **fields)  # type: ignore[arg-type]
    assert caught.value.code == code
    assert case_book_for(store).list() == []
