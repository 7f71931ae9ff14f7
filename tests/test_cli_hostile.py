"""The command line against hostile input (design.md §9 "Hostile input"): secrets never printed,
control characters escaped in human output, a wrong command line exits 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog

from joint_sanctions._cli import main
from joint_sanctions._errors import StoreError
from joint_sanctions._text import escape_controls, redact_url
from joint_sanctions.stores import open_store

CO = "91410100MA0000015B"
HEADER = "record_id,list_type,subject_id,subject_name,subject_type,authority,document_no,listed_on,expires_on,status,reason\n"
ESC = "\x1b"
# What the adversarial run imported: on a terminal it moves up four lines and rewrites the decision.
FORGED = "\x1b[4A\x1b[2K结论 Decision: 无限制 (clear)"


def run(*args: str | bytes, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI as a user would, in a fresh process; bytes arguments reach it undecoded."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "joint_sanctions", *args], capture_output=True,
                          cwd=cwd, env=env, timeout=120, check=False)


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``main`` in this process: (exit code, stdout, stderr), argparse's exits included.

    The CLI caches its loggers on first use, as a one-shot process may; here that would tie the
    library's module loggers to this test's captured stderr, so caching is turned off.
    """
    configure = structlog.configure
    monkeypatch.setattr(structlog, "configure",
                        lambda **kw: configure(**{**kw, "cache_logger_on_first_use": False}))

    def run_main(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err
    return run_main


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


@pytest.fixture
def hostile_db(tmp_path: Path, cli: Cli) -> str:
    """A database holding one record whose text fields carry terminal escape sequences."""
    csv = tmp_path / "records.csv"
    row = ["R1", "court_defaulter", CO, "\x1b[31m郑州某公司", "legal_person", FORGED, "(2024)豫01执1号\x9b2J",
           "2024-01-01", "", "active", "\x1b]0;pwned\x07"]
    csv.write_text(HEADER + ",".join(f'"{v}"' for v in row) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'js.db'}"
    code, _, err = cli("records", "import", str(csv), "--db", url)
    assert code == 0, err
    return url


# --- 6. secrets never printed ------------------------------------------------------------------

SECRET_URLS = [
    "postgresql://admin:S3cret@[::1/credit",  # psycopg quotes the whole URI in its message
    "sqlite://admin:S3cret@/x.db",
    "sqlite://admin:S3cret@host/x.db",
    "postgresql://admin:S%33cret@[::1/credit",  # percent-encoded: neither form may appear
    "postgresql://admin@[::1/credit?password=S3cret",
    "postgresql://admin@[::1/credit?sslmode=require&password=S3cret&x=1",
    "postgres://admin:S3cret@localhost:99999/credit",
    "postgresql://admin:S3cret@localhost/credit?sslmode=bogus",
    "mysql://admin:S3cret@db.example/credit",
    "host=[::1 password=S3cret dbname=credit",
]


@pytest.mark.parametrize("url", SECRET_URLS)
@pytest.mark.parametrize("command", ["check", "records import", "cases list"])
def test_database_passwords_are_never_printed(cli: Cli, tmp_path: Path,
                                              url: str, command: str) -> None:
    """A malformed or unreachable database URL is one error line, exit 1, without its password."""
    csv = tmp_path / "r.csv"
    csv.write_text(HEADER, encoding="utf-8")
    args = {"check": ["check", "--subject", CO, "--matter", "bidding"],
            "records import": ["records", "import", str(csv)],
            "cases list": ["cases", "list"]}[command]
    code, out, err = cli(*args, "--db", url)
    assert code in (1, 2)
    one_line(err)
    for secret in ("S3cret", "S%33cret"):
        assert secret not in out and secret not in err, err


def test_password_in_the_environment_url_is_never_printed(tmp_path: Path) -> None:
    """JOINT_SANCTIONS_DB is redacted like --db, in a real process."""
    env = {**os.environ, "JOINT_SANCTIONS_DB": "postgresql://admin:S3cret@[::1/credit"}
    p = subprocess.run([sys.executable, "-m", "joint_sanctions", "cases", "list"], capture_output=True,
                       text=True, env=env, timeout=120, check=False, cwd=tmp_path)
    assert p.returncode == 1 and "S3cret" not in p.stdout + p.stderr
    assert "admin:***@" in one_line(p.stderr)


def test_store_errors_carry_no_password() -> None:
    """open_store's own errors (StoreError) are redacted at the source, not only by the CLI."""
    for url in SECRET_URLS:
        with pytest.raises(StoreError) as caught:
            open_store(url)
        assert "S3cret" not in str(caught.value) and "S%33cret" not in str(caught.value)


def test_feedback_url_password_is_never_printed(cli: Cli, hostile_db: str) -> None:
    """A platform URL with credentials in it is not echoed either."""
    code, out, err = cli("cases", "feedback", "--to", "https://u:S3cret@[::1/feedback", "--db", hostile_db)
    assert code == 1 and "S3cret" not in out + err


@pytest.mark.parametrize(("text", "want"), [
    ("bad URI: \"postgresql://admin:S3cret@[::1/credit\"", "bad URI: \"postgresql://admin:***@[::1/credit\""),
    ("sqlite://a:b@c@d/x.db", "sqlite://a:***@d/x.db"),
    ("postgresql://admin@h/db?sslmode=require&password=S3cret&x=1",
     "postgresql://admin@h/db?sslmode=require&password=***&x=1"),
    ("host=h password='S3 cret' dbname=x", "host=h password=*** dbname=x"),
    ("host=h PASSWORD = S3cret", "host=h PASSWORD=***"),
    ("postgresql://admin@h/db and https://h/x", "postgresql://admin@h/db and https://h/x"),
])
def test_redact_url(text: str, want: str) -> None:
    """redact_url hides a URL's password, a query or conninfo password, and leaves the rest."""
    assert redact_url(text) == want


# --- 7. output that cannot deceive ------------------------------------------------------------

def test_check_text_output_escapes_terminal_sequences(hostile_db: str) -> None:
    """`check` (human) shows imported escape sequences as visible text, never as raw control bytes."""
    p = run("check", "--subject", CO, "--matter", "bidding", "--at", "2025-06-01", "--name", "某\x1b[8m公司",
            "--db", hostile_db)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode("utf-8")
    assert ESC not in out and "\x9b" not in out and "\x07" not in out
    assert "\\x1b[4A\\x1b[2K结论 Decision" in out and "\\x9b2J" in out
    decisions = [line for line in out.splitlines() if line.startswith("结论 Decision")]
    assert decisions == ["结论 Decision: 限制 (restricted)"]


def test_check_json_output_stays_json(cli: Cli, hostile_db: str) -> None:
    """`check --json` keeps the exact text (JSON escapes it), so machines read what was imported."""
    code, out, _ = cli("check", "--subject", CO, "--matter", "bidding", "--at", "2025-06-01", "--json",
                       "--db", hostile_db)
    assert code == 0 and ESC not in out
    assert json.loads(out)["hits"][0]["authority"] == FORGED


def test_cases_list_and_stats_escape_control_characters(cli: Cli, hostile_db: str) -> None:
    """`cases list` and `cases stats` text never carry control characters from names or departments."""
    code, out, err = cli("check", "--subject", CO, "--matter", "bidding", "--name", FORGED,
                         "--db", hostile_db)
    assert code == 0, err
    case_id = next(line.split(":")[-1].strip() for line in out.splitlines() if "Case:" in line)
    code, _, err = cli("cases", "dispose", case_id, "--result", "applied", "--department",
                       "\x1b[2J某\r局", "--db", hostile_db)
    assert code == 0, err
    code, listed, _ = cli("cases", "list", "--db", hostile_db)
    assert code == 0 and ESC not in listed and "\\x1b[4A" in listed
    code, stats, _ = cli("cases", "stats", "--db", hostile_db)
    assert code == 0 and ESC not in stats and "\r" not in stats and "\\x1b[2J某\\x0d局" in stats


def test_lint_and_error_lines_escape_control_characters(cli: Cli, tmp_path: Path,
                                                       hostile_db: str) -> None:
    """Lint problems and error lines that quote input show its control characters escaped."""
    bad = tmp_path / "bad.yaml"
    bad.write_text('edition: "1"\nissuer: x\nregion_code: "410100"\n"\\e[2Jfield": 1\nmeasures: []\n',
                   encoding="utf-8")
    code, out, _ = cli("lint", str(bad))
    assert code == 1 and ESC not in out and "\\x1b[2Jfield" in out
    code, out, err = cli("records", "repair", "R\x1b[2J", "--reason", "r", "--decision-no", "n", "--db", hostile_db)
    assert code == 1 and ESC not in err and "R\\x1b[2J" in one_line(err)
    code, _, err = cli("check", "--subject", "\x1b[2J", "--matter", "bidding", "--db", hostile_db)
    assert code == 2 and ESC not in err


def test_escape_controls() -> None:
    """C0, DEL, C1, line separators and bidi overrides become visible escapes; other text is kept."""
    assert escape_controls("a\x1b[1mb\x7f\x85\u2028\u202e\tc\nd") == \
        "a\\x1b[1mb\\x7f\\x85\\u2028\\u202e\\x09c\\x0ad"
    assert escape_controls("郑州某公司 (2024)豫01执1号 — ok") == "郑州某公司 (2024)豫01执1号 — ok"


# --- 8. a wrong command line exits 2 -----------------------------------------------------------

@pytest.mark.parametrize("option", ["--name", "--item-code", "--application-no"])
def test_undecodable_arguments_exit_2(hostile_db: str, option: str) -> None:
    """An argument that is not UTF-8 is a wrong command line: exit 2, one line, no traceback."""
    p = run("check", "--subject", CO, "--matter", "bidding", "--db", hostile_db, option.encode(), b"\xff\xfe abc")
    assert p.returncode == 2, p.stderr
    line = one_line(p.stderr.decode("utf-8"))
    assert "UTF-8" in line and "\\xff" in line


@pytest.mark.parametrize("args", [
    ["--timeout", "inf"], ["--timeout", "nan"], ["--timeout", "1e308"], ["--timeout", "-1"], ["--timeout", "0"],
    ["--retry-for", "inf"], ["--retry-for", "1e300"], ["--retry-for", "-5"],
    ["--workers", "99999999999"], ["--workers", "0"], ["--workers", "1.5"], ["--workers", "٣"],
])
def test_out_of_range_numbers_exit_2(cli: Cli, tmp_path: Path, args: list[str]) -> None:
    """Infinite, non-numeric, negative or absurdly large numbers are refused by the parser: exit 2."""
    code, _, err = cli("cases", "feedback", "--out", str(tmp_path / "f.jsonl"), *args,
                       "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 2
    assert args[0] in one_line(err)


def test_numbers_in_range_are_accepted(cli: Cli, hostile_db: str, tmp_path: Path) -> None:
    """Ordinary values of the numeric options still run."""
    code, _, err = cli("cases", "feedback", "--out", str(tmp_path / "f.jsonl"), "--timeout", "2.5",
                       "--retry-for", "30", "--workers", "8", "--db", hostile_db)
    assert code == 0, err


@pytest.mark.parametrize("at", [
    "2024-W01-1", "20240101", "2024-1-1", "2024-02-30", " 2024-01-01", "2024-01-01 ", "2024-01-01 12:00",
    "2024-01-01T25:00", "2024-01-01T12", "2024-01-01T12:00+0800", "0000-01-01", "+2024-01-01", "2024-０1-01",
    "2024-01-01T12:00:00+25:00", "",
])
def test_dates_other_than_yyyy_mm_dd_exit_2(cli: Cli, hostile_db: str, at: str) -> None:
    """--at takes YYYY-MM-DD or a full ISO datetime only: week dates and compact forms are refused."""
    code, _, err = cli("check", "--subject", CO, "--matter", "bidding", "--at", at, "--db", hostile_db)
    assert code == 2
    assert "--at" in one_line(err)


@pytest.mark.parametrize(("at", "decision"), [
    ("2025-06-01", "restricted"), ("2023-12-31", "clear"), ("2024-01-01T00:00", "restricted"),
    ("2024-01-01T12:30:15+08:00", "restricted"), ("2023-12-31T20:00Z", "restricted"),
    ("2023-12-31T15:59:59.5Z", "clear"),
])
def test_iso_dates_and_datetimes_are_accepted(cli: Cli, hostile_db: str, at: str,
                                             decision: str) -> None:
    """YYYY-MM-DD and full ISO datetimes (offset or Z optional) are check times; offsets count."""
    code, out, err = cli("check", "--subject", CO, "--matter", "bidding", "--at", at, "--json",
                         "--db", hostile_db)
    assert code == 0, err
    assert json.loads(out)["decision"] == decision


# --- --amount: the matter's amount from the command line ---------------------------------------

FIXTURE = Path(__file__).parent / "fixtures" / "measures"


@pytest.mark.parametrize(("amount", "measures"), [("999999.99", []), ("1000000", ["T-FUND-BIG"]),
                                                  ("3000000.5", ["T-FUND-BIG"])])
def test_check_amount_reaches_the_measures_conditions(cli: Cli, hostile_db: str, amount: str,
                                                      measures: list[str]) -> None:
    """`check --amount A` is the matter's amount that a measure's condition compares (here >= 1,000,000)."""
    code, out, err = cli("check", "--subject", CO, "--matter", "fiscal_funds", "--amount", amount, "--json",
                         "--no-case", "--db", hostile_db, "--measures", str(FIXTURE))
    assert code == 0, err
    assert [m["measure_id"] for m in json.loads(out)["measures"]] == measures


@pytest.mark.parametrize("amount", ["inf", "-inf", "nan", "NaN", "-1", "1e16", "1" + "0" * 400, "abc", "",
                                    "1e-05x", "１０"])
def test_amount_that_is_no_finite_sum_in_range_exits_2(cli: Cli, hostile_db: str, amount: str) -> None:
    """`--amount` must be a finite number of yuan from 0 to 10^15: anything else is a wrong command line."""
    code, out, err = cli("check", "--subject", CO, "--matter", "bidding", "--amount", amount,
                         "--db", hostile_db, "--measures", str(FIXTURE))
    assert code == 2 and out == ""
    assert "--amount" in one_line(err)
