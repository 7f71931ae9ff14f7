"""The command line: lint, records import/repair, check — outputs and exit codes of design.md §8."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from joint_sanctions._cli import main

from .conftest import Database, assert_masked

CO = "91410100MA0000015B"
PERSON = "410102199003071230"
HEADER = "record_id,list_type,subject_id,subject_name,subject_type,authority,document_no,listed_on,expires_on,status,reason\n"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in a fresh process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "joint_sanctions", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120, check=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    csv = tmp_path / "records.csv"
    csv.write_text(HEADER
                   + f"R1,court_defaulter,{CO},郑州某公司,legal_person,郑州市中级人民法院,(2024)豫01执1号,2024-01-01,,active,\n"
                   + f"P1,court_defaulter,{PERSON},张三,natural_person,金水区法院,(2024)豫0105执2号,2024-01-01,,active,\n",
                   encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'js.db'}"
    assert main(["records", "import", str(csv), "--db", url]) == 0
    return url


def test_check_json_prints_only_the_result_document(db: str) -> None:
    """`check --json` prints one JSON document on stdout with the contract keys; exit 0 with measures."""
    p = run("check", "--subject", CO, "--matter", "government_procurement", "--at", "2025-06-01", "--json",
            "--db", db)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    # NAT-GP-003 (basis unconfirmed) does not bind: the confirmed NAT-CD-001 restricts (the legality guard)
    assert doc["decision"] == "restricted" and doc["case_id"] is None  # historical: no case
    assert {"check_id", "revision", "subject", "measures", "hits"} <= set(doc)


def test_db_option_is_accepted_before_the_subcommand(db: str) -> None:
    """--db may stand before the subcommand as well as after it."""
    p = run("--db", db, "check", "--subject", CO, "--matter", "bidding", "--at", "2025-06-01", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["hits"][0]["record_id"] == "R1"


def test_check_table_is_readable_and_masks_people(db: str) -> None:
    """The human table names the decision and measures in Chinese and never shows a resident id."""
    p = run("check", "--subject", PERSON, "--matter", "civil_servant_hiring", "--at", "2025-06-01", "--db", db)
    assert p.returncode == 0, p.stderr
    assert "禁止" in p.stdout and "CSH-001" in p.stdout
    assert PERSON not in p.stdout + p.stderr and "4101**********1230" in p.stdout


def test_current_check_with_measures_opens_a_case(db: str) -> None:
    """A check at the current time that finds measures opens a case (发起/响应)."""
    p = run("check", "--subject", CO, "--matter", "government_procurement", "--json", "--item-code", "ZZ-001",
            "--application-no", "A-1", "--db", db)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["case_id"]


def test_check_no_case_opens_no_case(db: str) -> None:
    """`check --no-case` answers a current check with measures but opens no case."""
    p = run("check", "--subject", CO, "--matter", "government_procurement", "--json", "--no-case", "--db", db)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["decision"] == "restricted" and doc["case_id"] is None
    listed = run("cases", "list", "--json", "--db", db)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


@pytest.mark.parametrize(("args", "needle"), [
    (["check", "--subject", "91410100MA0000015C", "--matter", "bidding"], "check character"),
    (["check", "--subject", "410102199003071231", "--matter", "bidding"], "4101**********1231"),
    (["check", "--subject", CO, "--matter", "moon_landing"], "invalid choice"),
    (["check", "--subject", CO, "--matter", "bidding", "--at", "2025-13-01"], "not a date"),
    (["check", "--subject", CO, "--matter", "bidding", "--related", "boss=" + PERSON], "ROLE=ID"),
    (["check", "--matter", "bidding"], "--subject"),
    (["frobnicate"], "invalid choice"),
    (["check", "--subject", CO, "--matter", "bidding", "--bogus"], "unrecognized"),
])
def test_bad_command_lines_exit_2_with_one_line(args: list[str], needle: str) -> None:
    """A wrong command line exits 2 with a single error line naming the problem, ids masked."""
    p = run(*args)
    assert p.returncode == 2
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], p.stderr
    assert "410102199003071231" not in p.stderr and "Traceback" not in p.stderr


def test_lint_reports_every_problem_and_exits_1(tmp_path: Path) -> None:
    """lint prints path:line:col: code lines for every problem and exits 1; clean lists exit 0."""
    bad = tmp_path / "bad.yaml"
    bad.write_text('edition: "1"\nissuer: x\nregion_code: "410100"\nmeasures:\n  - id: X-1\n    matters: []\n',
                   encoding="utf-8")
    p = run("lint", str(bad))
    assert p.returncode == 1
    assert f"{bad}:6:5: unknown_field" in p.stdout and "missing_field" in p.stdout
    assert run("lint", str(Path(__file__).parent.parent / "measure_lists")).returncode == 0


def test_records_import_reports_bad_rows_keeps_good_ones(tmp_path: Path) -> None:
    """A bad row is reported with its line (exit 1) while the good rows are stored."""
    csv = tmp_path / "r.csv"
    csv.write_text(HEADER + f"R1,court_defaulter,{CO},某公司,,法院,文号,2024-01-01,,active,\n"
                   + f"R2,court_defaulter,{PERSON[:-1]}1,某人,,法院,文号,2024-01-01,,active,\n"
                   + f"R3,nope,{CO},某公司,,法院,文号,2024-01-01,,active,\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    p = run("records", "import", str(csv), "--db", url)
    assert p.returncode == 1
    assert f"{csv}:3:" in p.stderr and f"{csv}:4:" in p.stderr and "imported 1" in p.stdout
    assert "410102199003071231" not in p.stderr
    q = run("check", "--subject", CO, "--matter", "bidding", "--at", "2025-06-01", "--json", "--db", url)
    assert json.loads(q.stdout)["hits"][0]["record_id"] == "R1"


def test_records_repair(db: str) -> None:
    """records repair marks the record repaired from its date; a check from then is clear; unknown ids exit 1."""
    decision = ("--reason", "已履行", "--decision-no", "(2025)豫01执恢1号")
    assert run("records", "repair", "R1", *decision, "--on", "2025-05-01", "--db", db).returncode == 0
    p = run("check", "--subject", CO, "--matter", "government_procurement", "--at", "2025-06-01", "--json",
            "--db", db)
    assert json.loads(p.stdout)["decision"] == "clear"
    bad = run("records", "repair", "NOPE", *decision, "--db", db)
    assert bad.returncode == 1 and "NOPE" in bad.stderr and "Traceback" not in bad.stderr


def test_missing_import_file_is_one_line_exit_1(tmp_path: Path) -> None:
    """A file that does not exist is one error line and exit 1."""
    p = run("records", "import", str(tmp_path / "none.csv"), "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_measures_option_replaces_the_shipped_lists(db: str) -> None:
    """--measures DIR replaces the shipped lists."""
    fixture = Path(__file__).parent / "fixtures" / "measures"
    p = run("check", "--subject", CO, "--matter", "government_procurement", "--at", "2025-06-01", "--json",
            "--measures", str(fixture), "--db", db)
    assert [m["measure_id"] for m in json.loads(p.stdout)["measures"]] == ["T-GP-BAN"]


def test_bad_measures_dir_is_reported_not_a_traceback(db: str, tmp_path: Path) -> None:
    """A broken measure list given with --measures is reported with positions, exit 1."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x.yaml").write_text("edition: [\n", encoding="utf-8")
    p = run("check", "--subject", CO, "--matter", "bidding", "--measures", str(tmp_path / "m"), "--db", db)
    assert p.returncode == 1 and "yaml_syntax" in p.stderr and "Traceback" not in p.stderr


def console_script() -> Path:
    """The installed ``joint-sanctions`` console script of the interpreter running the tests."""
    scripts = Path(sysconfig.get_path("scripts"))
    path = scripts / ("joint-sanctions.exe" if os.name == "nt" else "joint-sanctions")
    assert path.is_file(), f"no console script at {path}: is the package installed?"
    return path


SHIPPED_LISTS = str(Path(__file__).parent.parent / "measure_lists")


@pytest.mark.parametrize(("args", "code"), [
    (["--help"], 0), (["--version"], 0), (["check", "--help"], 0), (["lint", SHIPPED_LISTS], 0),
    (["check", "--subject", CO, "--matter", "bidding", "--db", "sqlite:///empty.db"], 1),
    (["check", "--subject", CO], 2), (["no-such-command"], 2),
], ids=["help", "version", "subcommand-help", "lint", "refused-state", "usage-error", "unknown-command"])
def test_python_dash_m_and_console_script_agree(args: list[str], code: int, tmp_path: Path) -> None:
    """``python -m joint_sanctions`` and the ``joint-sanctions`` console script print the same and exit
    with the same code: help, version, a clean run, refused state (exit 1), a wrong command line (exit 2)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    by_module = run(*args, cwd=tmp_path)
    by_script = subprocess.run([str(console_script()), *args], capture_output=True, text=True, cwd=tmp_path,
                               env=env, timeout=120, check=False)
    assert by_module.returncode == code, by_module.stderr
    assert (by_script.returncode, by_script.stdout, by_script.stderr) == \
        (by_module.returncode, by_module.stdout, by_module.stderr)


@pytest.mark.parametrize("args", [["--version"], ["check", "--version"], ["cases", "list", "--version"],
                                  ["records", "import", "--version"]])
def test_version_is_printed_before_or_after_a_subcommand(args: list[str]) -> None:
    """`--version` prints the installed version and exits 0, also after a subcommand's name."""
    p = run(*args)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"joint-sanctions {importlib.metadata.version('joint-sanctions')}\n"


# Every time shown by `check --json` and `cases list` (JSON and table): ISO-8601 in China Standard Time
# with its offset written out (docs/check-result.md).
CST_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?\+08:00$")


def test_times_are_iso_8601_in_china_standard_time_with_the_offset(db: str) -> None:
    """`check --json`, `cases list --json` and the `cases list` table show times one way: ISO-8601, +08:00."""
    checked = json.loads(run("check", "--subject", CO, "--matter", "government_procurement", "--json",
                             "--db", db).stdout)
    assert CST_TIME.match(checked["checked_at"]), checked["checked_at"]
    (case,) = json.loads(run("cases", "list", "--json", "--db", db).stdout)
    for key in ("initiated_at", "responded_at"):
        assert CST_TIME.match(case[key]), case[key]
        assert dt.datetime.fromisoformat(case[key]).utcoffset() == dt.timedelta(hours=8)
    assert abs(dt.datetime.fromisoformat(case["initiated_at"])
               - dt.datetime.fromisoformat(checked["checked_at"])) < dt.timedelta(minutes=5)
    table = run("cases", "list", "--db", db).stdout
    shown = case["initiated_at"][:16] + "+08:00"  # minutes in the table
    assert shown in table, table


def test_a_historical_check_shows_the_time_asked_for_in_china_standard_time(db: str) -> None:
    """`check --at 2025-06-01 --json` reports midnight of that day, China Standard Time."""
    p = run("check", "--subject", CO, "--matter", "bidding", "--at", "2025-06-01", "--json", "--db", db)
    assert json.loads(p.stdout)["checked_at"] == "2025-06-01T00:00:00+08:00"


def test_verbose_logs_each_check_on_stderr_and_json_stays_alone_on_stdout(db: str) -> None:
    """`-v` makes the CLI log the check event on stderr, resident id masked; stdout keeps only the JSON."""
    p = run("-v", "check", "--subject", PERSON, "--matter", "civil_servant_hiring", "--at", "2025-06-01",
            "--json", "--db", db)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["decision"] == "prohibited"
    (event,) = [line for line in p.stderr.splitlines() if " check " in line]
    assert "4101**********1230" in event and PERSON not in p.stderr


OTHER = "410105198509230440"  # someone's id typed into a name


@pytest.mark.parametrize("subject", [PERSON, "52410105MJ0000AB32"], ids=["with-measures", "clear"])
def test_check_masks_an_id_typed_into_the_name(tmp_path: Path, database: Database, subject: str) -> None:
    """``check --name "王某某（身份证410105 …）"`` shows the name with the id masked, as JSON and as a table."""
    csv = tmp_path / "records.csv"
    csv.write_text(HEADER + f"P1,court_defaulter,{PERSON},张三,natural_person,金水区法院,(2024)豫0105执2号,"
                   "2024-01-01,,active,\n", encoding="utf-8")
    assert main(["records", "import", str(csv), "--db", database.url]) == 0
    name = f"王某某（身份证{OTHER[:6]} {OTHER[6:]}）"
    shown = "王某某（身份证4101** ********0440）"
    as_json = run("check", "--subject", subject, "--matter", "civil_servant_hiring", "--name", name, "--json",
                  "--db", database.url, cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["subject"]["name"] == shown
    table = run("check", "--subject", subject, "--matter", "civil_servant_hiring", "--name", name,
                "--db", database.url, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert shown in table.stdout
    for p in (as_json, table):
        assert_masked(p.stdout + p.stderr, OTHER, PERSON)
