"""Fuzzing the command line: random argv for check, records, db, cases, batch, lint, gov, keys and audit.

Every run exits 0, 1 (input or state refused) or 2 (a wrong command line, one line on stderr), prints
at most a few lines on stderr, never a traceback or an "internal error", never a resident id or a
password in clear, never a raw control character; and the records and cases already stored stay.

Most runs call :func:`joint_sanctions._cli.main` in this process (a few milliseconds each); a few of
issue 11's command lines also run as real processes. The CLI caches its loggers on first use, as a
one-shot process may; here that would tie the library's loggers to one run's captured stderr, so
caching is turned off for these runs (see tests/test_cli_hostile.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import structlog
from hypothesis import example, given
from hypothesis import strategies as st

from joint_sanctions._audit import AuditLog
from joint_sanctions._check import Engine
from joint_sanctions._cli import main
from joint_sanctions._load import shipped_measures_dir
from joint_sanctions._records import COLUMNS
from joint_sanctions.vocabulary import (
    CLUE_CHANNELS,
    CLUE_STATUSES,
    LIST_TYPES,
    MATTER_TYPES,
    RELATED_PARTY_ROLES,
    SUBJECT_TYPES,
)

from .. import hostile
from ..conftest import numbered_uscc
from ._fuzz import RESIDENT_IDS, WRITTEN_IDS, assert_safe, budget, count

AREA = "cli"
SECRETS = ("S3cret", ":pw@")
CO = numbered_uscc(15)
FORGED = "\x1b[4A\x1b[2K结论 Decision: 无限制 (clear)"
BODY = "124101064100000117"  # a 事业单位 of 上街区 (410106)
OTHER_BODY = numbered_uscc(1, "11410184MB")  # a 机关 of 新郑市 (410184)
SHIPPED_DISTRICTS = Path(__file__).resolve().parents[2] / "measure_lists" / "districts" / "zhengzhou.yaml"


@dataclass
class Workdir:
    path: Path
    db: str
    case_ids: list[str]
    clue_ids: list[str] = field(default_factory=list)
    gov_record: str = ""


def run_main(argv: list[str], workdir: Workdir) -> tuple[int, str, str]:
    """``main(argv)`` in ``workdir`` with its database as JOINT_SANCTIONS_DB: (exit code, stdout, stderr).

    Nothing but SystemExit may leave main: any other exception fails the test as a crash.
    """
    configure = structlog.configure
    out, err = io.StringIO(), io.StringIO()
    env = {"JOINT_SANCTIONS_DB": workdir.db, "JOINT_SANCTIONS_MAX_DATA_AGE": ""}
    with contextlib.chdir(workdir.path), mock.patch.dict(os.environ, env), \
            mock.patch.object(structlog, "configure",
                              lambda **kw: configure(**{**kw, "cache_logger_on_first_use": False})), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    structlog.reset_defaults()
    structlog.configure(processors=[_drop])
    return code, out.getvalue(), err.getvalue()


def _drop(_logger: Any, _name: str, _event: Any) -> Any:
    raise structlog.DropEvent


def _stored(db: str) -> tuple[set[str], ...]:
    """What no command may lose: records, cases, clues, payments, contract events, keys, audit entries."""
    queries = ("SELECT record_id FROM credit_records", "SELECT case_id FROM cases", "SELECT clue_id FROM gov_clues",
               "SELECT payment_id FROM gov_payments",
               "SELECT contract_no || ':' || event || ':' || event_on FROM gov_contract_events",
               "SELECT name FROM api_keys", "SELECT entry_hash FROM audit_log")
    with contextlib.closing(sqlite3.connect(db.removeprefix("sqlite:///"))) as conn:
        return tuple({row[0] for row in conn.execute(query)} for query in queries)


def _row(record_id: str, subject: str, list_type: str = "court_defaulter", **kw: str) -> str:
    values = {"record_id": record_id, "list_type": list_type, "subject_id": subject, "listed_on": "2024-01-01", **kw}
    return ",".join(json.dumps(values.get(name, ""), ensure_ascii=False) for name in COLUMNS)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workdir]:
    """A working directory with a database of records and open cases, and the files the argv name."""
    path = tmp_path_factory.mktemp("fuzz-cli")
    db = f"sqlite:///{path / 'js.db'}"
    header = ",".join(COLUMNS)
    (path / "records.csv").write_text("\n".join([
        header, _row("R1", CO, authority=FORGED), _row("R2", RESIDENT_IDS[0], subject_name=f"王某{RESIDENT_IDS[0]}"),
        _row("R3", RESIDENT_IDS[1], "major_tax_violator"), _row("R4", numbered_uscc(16), "tax_credit_a"),
        _row("R5", numbered_uscc(17), "trading_serious_violator", reason="\x1b]0;pwned\x07")]) + "\n",
        encoding="utf-8")
    (path / "bad.csv").write_text("\n".join([
        header, _row("B1", RESIDENT_IDS[2][:-1] + ("1" if RESIDENT_IDS[2][-1] != "1" else "2")),
        _row("B2", CO, "nope"), _row("B3", CO, listed_on="2024-W01-1"), _row("B4", WRITTEN_IDS[4])]) + "\n",
        encoding="utf-8")
    (path / "rows.jsonl").write_text('{"record_id": ' + "1" * 4301 + "}\n" + "[" * 5000 + "\n"
                                     + json.dumps({"record_id": "J1", "list_type": "court_defaulter",
                                                   "subject_id": RESIDENT_IDS[3], "listed_on": "2024-01-01"})
                                     + '\n{"record_id": "J2\\ud800"}\n', encoding="utf-8")
    (path / "gbk.csv").write_bytes((header + "\n" + _row("G1", CO, subject_name="郑州某公司") + "\n").encode("gbk"))
    hostile.add_zero_part(hostile.workbook(path / "bomb.xlsx", COLUMNS, []), hostile.STRINGS, 257 * hostile.MIB)
    hostile.replace_parts(hostile.workbook(path / "xxe.xlsx", COLUMNS, [["x"] * 11]), {hostile.STRINGS: hostile.XXE})
    hostile.workbook(path / "subjects.xlsx", ["subject_id", "subject_name"], [[CO, "某\x7f公司"], [RESIDENT_IDS[0], "王某"]])
    (path / "subjects.csv").write_text(
        "subject_id,subject_name,legal_representative_id\n"
        f"{CO},郑州某公司,{RESIDENT_IDS[1]}\n{RESIDENT_IDS[0]},{FORGED},\n{WRITTEN_IDS[4]},坏号,\nx,,\n",
        encoding="utf-8")
    shutil.copytree(shipped_measures_dir(), path / "lists")
    (path / "bad.yaml").write_text('edition: "1"\nissuer: x\nregion_code: "410100"\n"\\e[2Jfield": 1\nmeasures: []\n',
                                   encoding="utf-8")
    (path / "out").mkdir()
    contract = ("contract_no,body_id,counterparty,signed_on,due_on,event,event_on,amount,text\n"
                f"HT-001,{BODY},王某{RESIDENT_IDS[1]},2023-01-10,2023-12-31,signed,2023-01-10,300000,\n"
                f"HT-001,{BODY},,,,defaulted,2024-01-15,120000,尾款未付\n")
    (path / "contracts.csv").write_text(contract, encoding="utf-8")
    (path / "contracts_bad.csv").write_text("\n".join([
        contract.splitlines()[0], f"HT-9,{CO},,,,signed,2024-01-01,,", f"HT-9,{BODY},,,,lost,2024-01-01,,\x1b[2J",
        f"HT-9,{BODY},,,,signed,2024-13-01,,", f"HT-9,{BODY},,,,signed,2024-01-01,-5,", f",{BODY},,,,signed,2024-01-01,,",
        f"HT-9,{BODY},,2024-02-01,2024-01-01,signed,2024-01-01,,", f"HT-9,{RESIDENT_IDS[0]},,,,signed,2024-01-01,1e400,",
        f"HT-9,{BODY},,,,signed,2024-01-01,,{'x' * 3000}", f"HT-9,{BODY},,,,signed,2024-01-01,,,extra", ",,,,,,,,"]) + "\n",
        encoding="utf-8")
    work = Workdir(path, db, [])
    assert run_main(["records", "import", str(path / "records.csv"), "--db", db], work)[0] == 0
    for subject, matter in [(CO, "bidding"), (RESIDENT_IDS[0], "bidding"), (RESIDENT_IDS[1], "government_procurement"),
                            (numbered_uscc(17), "bidding")]:
        code, _, err = run_main(["check", "--subject", subject, "--matter", matter, "--name", "某"], work)
        assert code == 0, err
    code, out, err = run_main(["cases", "list", "--json"], work)
    assert code == 0, err
    work.case_ids = [case["case_id"] for case in json.loads(out)]
    assert work.case_ids
    _government_integrity(work)
    assert run_main(["keys", "create", "--name", "fuzz-key"], work)[0] == 0
    engine = Engine(store=db)
    try:
        audit = AuditLog(engine.store)
        for subject in (CO, RESIDENT_IDS[0]):
            audit.append(engine.check(subject, "bidding", open_case=False), caller=f"王某{RESIDENT_IDS[1]}")
    finally:
        engine.close()
    yield work


def _government_integrity(work: Workdir) -> None:
    """Three clues (received; transferred; confirmed, with its record and a payment) and a contract
    whose default opened a fourth; resident ids typed into their free text."""
    for n in range(3):
        code, out, err = run_main(["gov", "clues", "add", "--body", BODY, "--channel", "hotline_12345", "--summary",
                                   f"王某（{RESIDENT_IDS[n]}）反映拖欠货款", "--amount", "120000", "--received",
                                   "2024-03-01", "--json"], work)
        assert code == 0, err
        work.clue_ids.append(json.loads(out)["clue_id"])
    for clue_id in work.clue_ids[1:]:
        code, _, err = run_main(["gov", "clues", "transfer", clue_id, "--to", "上街区人民政府办公室", "--due",
                                 "2024-03-20", "--on", "2024-03-04"], work)
        assert code == 0, err
    code, out, err = run_main(["gov", "clues", "verify", work.clue_ids[2], "--confirmed", "--reason",
                               f"属实，经办人 {RESIDENT_IDS[2]}", "--on", "2024-03-15", "--rectify-by", "2024-06-30",
                               "--json"], work)
    assert code == 0, err
    work.gov_record = json.loads(out)["record_id"]
    code, _, err = run_main(["gov", "clearance", "add", work.gov_record, "--paid", "1000", "--on", "2024-04-01",
                             "--note", f"代付人 {RESIDENT_IDS[3]}"], work)
    assert code == 0, err
    code, _, err = run_main(["gov", "contracts", "import", "contracts.csv"], work)
    assert code == 0, err


# --- argv ------------------------------------------------------------------------------------------

NOT_UTF8 = b"\xff\xfe abc".decode("utf-8", "surrogateescape")  # what Python makes of a non-UTF-8 argument
HOSTILE = ["", "-", "--", "inf", "-inf", "nan", "-1", "0", "1e308", "99999999999", "٣", "1.5", "2024-W01-1",
           "20240101", "2024-02-30", "2024-01-01", " 2024-01-01", NOT_UTF8, "\ud800", "\x1b[2J", FORGED,
           *RESIDENT_IDS, *WRITTEN_IDS, f"王某（身份证{RESIDENT_IDS[0]}）", "postgresql://admin:S3cret@[::1/credit",
           "sqlite://admin:pw@/x.db", "x" * 3000, "--json", "-v", "=", "a=b", "\n", "１２３"]


# Paths are relative to the working directory of the runs; <caseN> and <caseN:8> stand for the ids
# (and id prefixes) of the cases the fixture opened.
PATHS: dict[str, list[str]] = {
    "db": ["sqlite:///js.db", "sqlite:///missing.db", "sqlite:///nodir/x.db", "local.db",
           "postgresql://admin:S3cret@[::1/credit", "sqlite://admin:pw@/x.db", "postgresql://u:S3cret@127.0.0.1:1/x",
           "mysql://admin:S3cret@h/x", "host=[::1 password=S3cret", "records.csv"],
    "measures": ["lists", "bad.yaml", "missing", "lists/national.yaml", "records.csv"],
    "file": ["records.csv", "bad.csv", "rows.jsonl", "gbk.csv", "bomb.xlsx", "xxe.xlsx", "subjects.csv",
             "subjects.xlsx", "missing.csv", "out", "lists", "contracts.csv", "contracts_bad.csv"],
    "out": ["out/r.csv", "out/r.xlsx", "out/r.html", "out/r.txt", "out/r.CSV", "out", "subjects.csv", "nodir/r.csv",
            "out/f.jsonl", "out/r.json"],
    "case": ["<case0>", "<case1>", "<case2>", "<case0:8>", "<case3:8>", "deadbeef", "x", RESIDENT_IDS[0]],
    "clue": ["<clue0>", "<clue1>", "<clue2>", "GC-20240301-000000", "gc-x", "x", RESIDENT_IDS[0]],
    "gov_record": ["<gov-record>", "<gov-record>", "R1", "R2", "GD-20240301-000000", "nope", RESIDENT_IDS[0]],
}
SUBJECTS = [CO, numbered_uscc(16), *RESIDENT_IDS, WRITTEN_IDS[4], RESIDENT_IDS[0].lower(), "91410100MA00000150"]
POOLS: dict[str, list[str]] = {
    "subject": SUBJECTS, "matter": sorted(MATTER_TYPES), "subject_type": sorted(SUBJECT_TYPES),
    "related": [f"{r}={s}" for r in RELATED_PARTY_ROLES for s in SUBJECTS[:3]] + ["boss=x", "legal_representative"],
    "date": ["2025-06-01", "2023-12-31", "2024-01-01T12:30:15+08:00", "2023-12-31T20:00Z", "9999-12-31",
             "0001-01-01", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00+14:00"],
    "age": ["36h", "7d", "0d", "1000000d", "-1h", "h"], "mb": ["1", "256", "16384", "16385", "0"],
    "text": ["某", "郑州某公司", "A1", "2024-0001", "局"], "status": ["open", "responded", "delivered", "x"],
    "result": ["applied", "not_applied", "partially_applied", "x"], "number": ["0.5", "10", "600", "601"],
    "workers": ["1", "8", "64", "65"], "env": ["HOME", "NOPE_NOT_SET"], "list_type": sorted(LIST_TYPES),
    "record": ["R1", "R2", "B1", "nope", "R\x1b[2J"],
    "body": [BODY, OTHER_BODY, BODY.lower(), CO, "124101064100000118", RESIDENT_IDS[0], WRITTEN_IDS[5]],
    "channel": [*sorted(CLUE_CHANNELS), "hotline", "信用郑州专栏"], "clue_status": [*CLUE_STATUSES, "lost"],
    "region": ["410106", "410184", "4101", "41010x", "999999", "４１０１０６"],
    "days": ["0", "1", "60", "61", "-1", "1.5"], "amount": ["120000", "0.01", "1000", "0", "-5", "1e16", "1e400"],
    "contract": ["HT-001", "HT-404", "ht-001", RESIDENT_IDS[0]],
    "key": ["fuzz-key", "fuzz-key", "other-key", "nobody", "a@b.c", "x" * 65, "名字", "a b", RESIDENT_IDS[0]],
    "anchor": ["1:" + "0" * 64, "2:" + "f" * 64, "0:" + "0" * 64, "99999:" + "a" * 64, "1:abc", "x:y", "1" * 19 + ":"],
    "limit": ["1", "5", "100000", "100001", "0", "-1"],
    "month": ["2024-03", "2025-09", "2024-13", "9999-12", "0000-01", "2024-3", "2024-03-01", "x"],
    "districts": [str(SHIPPED_DISTRICTS), "missing.yaml", "bad.yaml", "records.csv", "lists"],
    **PATHS,
}


def _resolve(word: str, w: Workdir) -> str:
    if word.startswith("<clue") and word.endswith(">"):
        return w.clue_ids[int(word[5:-1]) % len(w.clue_ids)]
    if word == "<gov-record>":
        return w.gov_record
    if word.startswith("<case") and word.endswith(">"):
        index, _, width = word[5:-1].partition(":")
        case_id = w.case_ids[int(index) % len(w.case_ids)]
        return case_id[:int(width)] if width else case_id
    return word


# (options with the kind of value they take, "" for a flag; positionals)
COMMANDS: dict[str, tuple[dict[str, str], list[str]]] = {
    "check": ({"--subject": "subject", "--matter": "matter", "--name": "text", "--subject-type": "subject_type",
               "--related": "related", "--at": "date", "--item-code": "text", "--application-no": "text",
               "--no-case": "", "--json": "", "--max-data-age": "age"}, []),
    "records import": ({"--max-input-mb": "mb"}, ["file"]),
    "records repair": ({}, ["record"]),
    "db init": ({}, []),
    "cases list": ({"--status": "status", "--subject": "subject", "--matter": "matter", "--since": "date",
                    "--json": ""}, []),
    "cases dispose": ({"--result": "result", "--text": "text", "--reason": "text", "--description": "text",
                       "--department": "text", "--department-code": "text"}, ["case"]),
    "cases withdraw": ({"--reason": "text"}, ["case"]),
    "cases stats": ({"--json": ""}, []),
    "cases schema": ({}, []),
    # never --to: these runs send nothing over a network
    "cases feedback": ({"--out": "out", "--timeout": "number", "--retry-for": "number", "--workers": "workers",
                        "--json": "", "--token": "text", "--token-env": "env", "--sign-key-env": "env"}, []),
    "batch": ({"--matter": "matter", "--out": "out", "--open-cases": "", "--max-data-age": "age",
               "--max-input-mb": "mb"}, ["file"]),
    "lint": ({}, ["measures"]),
    "gov clues add": ({"--body": "body", "--channel": "channel", "--summary": "text", "--amount": "amount",
                       "--received": "date", "--region": "region", "--name": "text", "--json": ""}, []),
    "gov clues transfer": ({"--to": "text", "--due": "date", "--on": "date", "--transfer-days": "days",
                            "--json": ""}, ["clue"]),
    "gov clues verify": ({"--confirmed": "", "--unfounded": "", "--reason": "text", "--rectify-by": "date",
                          "--amount": "amount", "--on": "date", "--decision-no": "text", "--json": ""}, ["clue"]),
    "gov clues show": ({"--json": ""}, ["clue"]),
    "gov clues list": ({"--status": "clue_status", "--overdue": "", "--at": "date", "--transfer-days": "days",
                        "--json": ""}, []),
    "gov clearance add": ({"--paid": "amount", "--on": "date", "--note": "text", "--json": ""}, ["gov_record"]),
    "gov clearance show": ({"--json": ""}, ["gov_record"]),
    "gov contracts import": ({"--max-input-mb": "mb", "--json": ""}, ["file"]),
    "gov contracts show": ({"--json": ""}, ["contract"]),
    "gov districts list": ({"--districts": "districts", "--json": ""}, []),
    "gov districts import-scores": ({"--districts": "districts", "--max-input-mb": "mb", "--json": ""}, ["file"]),
    "gov districts report": ({"--month": "month", "--out": "out", "--districts": "districts", "--json": ""}, []),
    "keys create": ({"--name": "key"}, []),
    "keys list": ({"--json": ""}, []),
    "keys revoke": ({}, ["key"]),
    "audit verify": ({"--anchor": "anchor", "--json": ""}, []),
    "audit list": ({"--limit": "limit", "--json": ""}, []),
    # never serve: it would run until stopped
}
REQUIRED = {"check": ["--subject", "--matter"], "cases dispose": ["--result"], "cases withdraw": ["--reason"],
            "cases feedback": ["--out"], "batch": ["--matter", "--out"],
            "gov clues add": ["--body", "--channel", "--summary"], "gov clues transfer": ["--to", "--due"],
            "gov clues verify": ["--confirmed", "--reason"], "gov clearance add": ["--paid", "--on"],
            "keys create": ["--name"], "gov districts report": ["--month"]}


@st.composite
def argv(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    options, positionals = COMMANDS[command]
    options = {**options, "--db": "db", "--measures": "measures", "-v": ""}

    def value(kind: str) -> str:
        if draw(st.integers(0, 7)) == 0:
            return draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12)))
        return draw(st.sampled_from(POOLS[kind]))

    chosen = [o for o in REQUIRED.get(command, []) if draw(st.integers(0, 19)) > 0]
    chosen += draw(st.lists(st.sampled_from(sorted(options)), max_size=4))
    if "--db" not in chosen and draw(st.booleans()):
        chosen.append("--db")  # most runs name the fuzzed database, or another
    words: list[str] = []
    for option in chosen:
        words += [option] if not options[option] else [option, value(options[option])]
    for kind in positionals:
        if draw(st.integers(0, 19)) > 0:
            words.append(value(kind))
    if draw(st.integers(0, 7)) == 0:
        words.insert(draw(st.integers(0, len(words))), draw(st.sampled_from(HOSTILE)))
    words = draw(st.permutations(words)) if draw(st.integers(0, 9)) == 0 else words
    prefix = command.split()
    if draw(st.integers(0, 15)) == 0:
        prefix = draw(st.sampled_from([[], ["cases"], ["records"], ["nope"], ["--version"], ["-h"], ["check", "-h"],
                                             ["gov"], ["gov", "clues"], ["keys"], ["audit"], ["gov", "nope"]]))
    return [*prefix, *words]


def _assert_run(argv: list[str], code: int, out: str, err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code in (0, 1, 2), (code, argv, err)
    if code == 2:
        assert len(lines) == 1, (argv, err)
    assert len(lines) <= 12, (argv, err)
    for text in (out, err):
        assert_safe(text)
        assert "\x1b" not in text and "\x9b" not in text, (argv, text[-500:])
        for secret in SECRETS:
            assert secret not in text, (argv, text[-500:])


@example(words=["check", "--subject", CO, "--matter", "bidding", "--name", NOT_UTF8])
@example(words=["check", "--subject", CO, "--matter", "bidding", "--at", "2024-W01-1"])
@example(words=["check", "--subject", CO, "--matter", "bidding", "--at", "20240101"])
@example(words=["cases", "feedback", "--out", "f.jsonl", "--timeout", "inf"])
@example(words=["cases", "feedback", "--out", "f.jsonl", "--workers", "99999999999"])
@example(words=["cases", "list", "--db", "postgresql://admin:S3cret@[::1/credit"])
@example(words=["records", "import", "records.csv", "--db", "sqlite://admin:pw@/x.db"])
@example(words=["records", "import", "bomb.xlsx"])
@example(words=["records", "import", "xxe.xlsx"])
@example(words=["records", "import", "rows.jsonl"])
@example(words=["check", "--subject", RESIDENT_IDS[0], "--matter", "bidding", "--name", f"王某（身份证{RESIDENT_IDS[0]}）"])
@example(words=["check", "--subject", CO, "--matter", "bidding", "--item-code", "\ud800"])
@example(words=["batch", "subjects.csv", "--matter", "bidding", "--out", "subjects.csv"])
@example(words=["batch", "subjects.csv", "--matter", "bidding", "--out", "out"])
@example(words=["lint", "bad.yaml"])
@example(words=["gov", "clues", "add", "--body", "x", "--channel", "other", "--summary", "s"])
@example(words=["gov", "clues", "add", "--body", RESIDENT_IDS[0], "--channel", "other", "--summary", "s"])
@example(words=["gov", "clues", "verify", "<clue0>", "--confirmed", "--reason", "r"])
@example(words=["gov", "clearance", "add", "<gov-record>", "--paid", "1e16", "--on", "2024-04-02"])
@example(words=["gov", "clearance", "show", RESIDENT_IDS[0]])
@example(words=["gov", "contracts", "import", "contracts_bad.csv"])
@example(words=["check", "--subject", CO, "--matter", "bidding", "--at", "9999-12-31T23:59:59-12:00"])
@example(words=["check", "--subject", CO, "--matter", "bidding", "--at", "0001-01-01T00:00+14:00"])
@example(words=["gov", "clues", "list", "--overdue", "--at", "9999-12-31"])
@example(words=["gov", "clues", "add", "--body", BODY, "--channel", "other", "--summary", "s", "--received",
                "9999-12-31"])
@example(words=["gov", "clues", "transfer", "<clue0>", "--to", "x", "--due", "9999-12-31", "--on", "9999-12-31"])
@example(words=["keys", "revoke", "nobody"])
@example(words=["keys", "create", "--name", RESIDENT_IDS[0]])
@example(words=["audit", "verify", "--db", "sqlite:///missing.db"])
@example(words=["audit", "list", "--db", "postgresql://admin:S3cret@[::1/credit"])
@given(words=argv())
@budget(700)
def test_random_command_lines_exit_0_1_2_in_one_line(words: list[str], workdir: Workdir) -> None:
    """Random argv: exit 0, 1 or 2, a wrong command line in one stderr line, no traceback, no internal
    error, no resident id, password or control character in clear, nothing stored lost."""
    words = [_resolve(word, workdir) for word in words]
    before = _stored(workdir.db)
    code, out, err = run_main(words, workdir)
    count(AREA, "argv")
    count(AREA, f"exit {code}")
    _assert_run(words, code, out, err)
    after = _stored(workdir.db)
    assert all(now >= then for now, then in zip(after, before, strict=True)), words


SUBPROCESS_RUNS = [
    [b"check", b"--subject", CO.encode(), b"--matter", b"bidding", b"--name", b"\xff\xfe abc"],
    [b"cases", b"feedback", b"--out", b"f.jsonl", b"--timeout", b"inf"],
    [b"check", b"--subject", CO.encode(), b"--matter", b"bidding", b"--at", b"2024-W01-1"],
    [b"records", b"import", b"bomb.xlsx", b"--db", b"postgresql://admin:S3cret@[::1/credit"],
    [b"check", b"--subject", RESIDENT_IDS[0].encode(), b"--matter", b"bidding"],
]


@pytest.mark.parametrize("args", SUBPROCESS_RUNS, ids=lambda a: b" ".join(a[:4]).decode("utf-8", "replace"))
def test_command_lines_in_a_real_process(args: list[bytes], workdir: Workdir) -> None:
    """A few of issue 11's command lines in a real process: the same exit code as in-process, one
    error line at most, nothing in clear."""
    env = {**os.environ, "JOINT_SANCTIONS_DB": workdir.db, "PYTHONUNBUFFERED": "1"}
    env.pop("JOINT_SANCTIONS_MAX_DATA_AGE", None)
    p = subprocess.run([sys.executable, "-m", "joint_sanctions", *args], capture_output=True, cwd=workdir.path,
                       env=env, timeout=120, check=False)
    out, err = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
    count(AREA, "real processes")
    _assert_run([a.decode("utf-8", "surrogateescape") for a in args], p.returncode, out, err)
    same = run_main([a.decode("utf-8", "surrogateescape") for a in args], workdir)[0]
    assert p.returncode == same


@pytest.mark.parametrize("word", ["\ud800", "a\udfffb", "\udcff\ud800"])
def test_an_argument_with_a_lone_surrogate_exits_2(word: str, workdir: Workdir) -> None:
    """An argument holding a surrogate no byte stands for (main called with any str, or a Windows
    command line) is a wrong command line: exit 2, one line, not an uncaught UnicodeEncodeError."""
    code, out, err = run_main(["check", "--subject", CO, "--matter", "bidding", "--item-code", word], workdir)
    assert code == 2
    assert "UTF-8" in err and len(err.strip().splitlines()) == 1
    assert_safe(out + err)


@pytest.mark.parametrize("option", ["--out", "--to"])
def test_an_empty_feedback_destination_exits_2(option: str, workdir: Workdir) -> None:
    """`cases feedback --out ''` (or --to '') is a wrong command line: exit 2, one line; it used to
    fall through to the HTTP sink with no URL (internal error, TypeError)."""
    code, out, err = run_main(["cases", "feedback", option, ""], workdir)
    assert code == 2
    assert option in err and len(err.strip().splitlines()) == 1
    assert_safe(out + err)


def test_lint_of_a_path_that_is_a_database_url_hides_its_password(workdir: Workdir) -> None:
    """`lint` given a database URL by mistake reports the file as missing without printing the
    password, as every other message does (redacted, ids masked, controls escaped)."""
    code, out, err = run_main(["lint", "postgresql://admin:S3cret@[::1/credit"], workdir)
    assert code == 1 and "file_not_found" in out
    assert "S3cret" not in out + err and "admin:***@" in out


# A newcomer's mistakes with the new commands: each refusal is one clear line, English first, then
# Chinese after the last " / " (a contract file's bad rows: one such line each).
NEWCOMER_MISTAKES: list[tuple[list[str], int]] = [
    (["gov", "clues", "add", "--body", "x"], 2),
    (["gov", "clues", "add", "--body", "x", "--channel", "other", "--summary", "s"], 1),
    (["gov", "clues", "add", "--body", RESIDENT_IDS[0], "--channel", "other", "--summary", "s"], 1),
    (["gov", "clues", "add", "--body", CO, "--channel", "other", "--summary", "s"], 1),
    (["gov", "clues", "add", "--body", BODY, "--channel", "other", "--summary", " "], 1),
    (["gov", "clues", "add", "--body", BODY, "--channel", "other", "--summary", "s", "--amount", "0"], 1),
    (["gov", "clues", "add", "--body", BODY, "--channel", "other", "--summary", "s", "--region", "4101"], 1),
    (["gov", "clues", "add", "--body", BODY, "--channel", "other", "--summary", "s", "--received", "9999-12-31"], 1),
    (["gov", "clues", "transfer", "<clue0>", "--to", "x", "--due", "9999-12-31"], 1),
    (["gov", "clues", "list", "--overdue", "--at", "0001-01-01"], 1),
    (["gov", "clues", "list", "--status", "x"], 2),
    (["gov", "clues", "show", "x", "--bogus"], 2),
    (["gov", "clues", "verify", "<clue0>", "--reason", "r"], 2),
    (["gov", "clues", "verify", "<clue0>", "--confirmed", "--unfounded", "--reason", "r"], 2),
    (["gov", "clues", "verify", "<clue0>", "--confirmed", "--reason", "r"], 1),
    (["gov", "clues", "transfer", "<clue2>", "--to", "x", "--due", "2024-04-01"], 1),
    (["gov", "clues", "transfer", "nope", "--to", "x", "--due", "2024-04-01"], 1),
    (["gov", "clearance", "add", "R1", "--paid", "1", "--on", "2024-04-02"], 1),
    (["gov", "clearance", "add", "<gov-record>", "--paid", "999999", "--on", "2024-04-02"], 1),
    (["gov", "clearance", "add", "<gov-record>", "--paid", "1", "--on", "2020-01-01"], 1),
    (["gov", "contracts", "import", "contracts_bad.csv"], 1),
    (["gov", "contracts", "import", "records.csv"], 1),
    (["gov", "contracts", "show", "HT-404"], 1),
    (["gov"], 2),
    (["keys", "create", "--name"], 2),
    (["keys", "create", "--name", "a/b"], 1),
    (["keys", "create", "--name", "fuzz-key"], 1),
    (["keys", "revoke", "nobody"], 1),
    (["keys", "frobnicate"], 2),
    (["audit", "verify", "--db", "sqlite:///never-created.db"], 1),
    (["audit", "verify", "--anchor", "1:abc"], 2),
    (["audit", "list", "--limit", "0"], 2),
    (["nope"], 2),
    (["check", "--subject", CO, "--matter", "bidding", "--at", "9999-12-31T23:59:59-12:00"], 2),
    (["check", "--subject", CO, "--matter", "bidding", "--at", "0001-01-01"], 2),
]
_LATIN = re.compile("[A-Za-z]{3}")
_HAN = re.compile("[\u4e00-\u9fff]")


@pytest.mark.parametrize(("words", "expected"), NEWCOMER_MISTAKES, ids=lambda v: " ".join(v)[:60] if isinstance(v, list)
                         else str(v))
def test_a_newcomers_mistake_is_one_line_in_english_and_chinese(words: list[str], expected: int,
                                                                workdir: Workdir) -> None:
    """Each refusal of gov, keys and audit (and a check date out of range, once an OverflowError) is one
    line per problem: English, then " / " and Chinese."""
    code, out, err = run_main([_resolve(word, workdir) for word in words], workdir)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == expected, err
    assert lines and (len(lines) == 1 or words[:3] == ["gov", "contracts", "import"]), err
    for line in lines:
        english, _, chinese = line.rpartition(" / ")
        assert _LATIN.search(english) and _HAN.search(chinese), line
    assert_safe(out + err)


def test_an_empty_audit_log_is_listed_as_empty(tmp_path: Path) -> None:
    """``audit list`` on a log with no entry says so (exit 0) rather than printing nothing."""
    work = Workdir(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}", [])
    assert run_main(["db", "init"], work)[0] == 0
    code, out, err = run_main(["audit", "list"], work)
    assert (code, err) == (0, "")
    assert out == "no audit entries / 没有审计记录\n"
