"""The audit log: a hash chain of every check in the store's database, and its verification.

Tampering is done as an intruder would, with SQL through a connection of its own; verify must name
the first entry changed, removed, reordered or inserted.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from joint_sanctions import AuditLog, CheckResult, StoreError
from joint_sanctions._audit import ALGORITHMS, DEFAULT_ALGORITHM, canonical_entry, result_digest
from joint_sanctions.stores._audit_tables import AUDIT_COLUMNS, GENESIS
from joint_sanctions.testing import MemoryStore

from .conftest import CO, PERSON, Database, Loop, assert_masked, cli, resident_id

N = 6  # entries most tests append


def result(n: int, subject: str = CO, **extra: Any) -> CheckResult:
    """A check result as an engine gives it (built directly: the audit log takes any result)."""
    return CheckResult.model_validate({
        "check_id": f"chk-{n}", "checked_at": "2025-06-01T04:00:00+00:00", "revision": "rev-1",
        "subject": {"id": subject, "id_kind": "uscc", "name": "某公司", "subject_type": "legal_person"},
        "matter_type": "government_procurement", "decision": "prohibited" if n % 2 else "clear", "measures": [],
        "case_id": f"case-{n}" if n % 2 else None, **extra})


def filled(database: Database, n: int = N, **kw: Any) -> AuditLog:
    """An audit log in ``database`` holding ``n`` entries."""
    log = AuditLog(database.open(), **kw)
    log.append_many([result(i) for i in range(1, n + 1)], caller="platform-a")
    return log


def row(database: Database, seq: int) -> dict[str, Any]:
    """Entry ``seq`` as stored."""
    (values,) = database.rows(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log WHERE seq = ?", (seq,))
    return dict(zip(AUDIT_COLUMNS, values, strict=True))


def quoted(value: Any) -> str:
    return "NULL" if value is None else str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


# --- appending ---------------------------------------------------------------------------------------


def test_entries_form_a_chain_and_verify_clean(database: Database) -> None:
    """Entries are numbered from 1, each names the hash of the one before, and verify reports them all."""
    log = AuditLog(database.open())
    first = log.append(result(1), caller="platform-a")
    rest = log.append_many([result(2), result(3)])
    assert [e.seq for e in (first, *rest)] == [1, 2, 3]
    assert first.prev_hash == GENESIS and rest[0].prev_hash == first.entry_hash
    assert rest[1].prev_hash == rest[0].entry_hash
    assert (first.caller, rest[0].caller) == ("platform-a", None)
    assert (first.check_id, first.case_id, first.decision, first.revision) == ("chk-1", "case-1", "prohibited", "rev-1")
    report = log.verify()
    assert report.ok and report.entries == 3 and (report.head_seq, report.head_hash) == (3, rest[1].entry_hash)
    assert log.count() == 3 and [e.seq for e in log.latest(2)] == [3, 2]


def test_an_entry_hash_is_the_documented_canonical_form() -> None:
    """The entry hash is SM3 (where available) of ``audit-v1|len:value|…`` over the columns in order, so a
    verifier in another language can recompute it; the result digest is the hash of its sorted JSON."""
    log = AuditLog(MemoryStore())
    entry = log.append(result(1), caller="平台")
    assert entry.algorithm == DEFAULT_ALGORITHM == "sm3"  # this platform has SM3
    columns = [entry.seq, entry.recorded_at, entry.caller, entry.check_id, entry.case_id, entry.checked_at,
               entry.subject_id, entry.subject_type, entry.matter_type, entry.decision, entry.revision,
               entry.result_digest, entry.prev_hash, entry.algorithm]
    parts = [b"audit-v1"] + [b"-" if v is None else f"{len(str(v).encode())}:{v}".encode() for v in columns]
    assert canonical_entry(entry.to_dict()) == b"|".join(parts)
    assert entry.entry_hash == hashlib.new("sm3", b"|".join(parts)).hexdigest()
    body = json.dumps(result(1).to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert entry.result_digest == hashlib.new("sm3", body.encode()).hexdigest() == result_digest(result(1))


def test_resident_ids_are_masked_in_every_column(database: Database) -> None:
    """A result that carries a resident id unmasked, and a caller named with one, are stored masked."""
    person, other = PERSON, resident_id(7)
    log = AuditLog(database.open())
    entry = log.append(result(1, subject=person), caller=f"key of {other}")
    assert_masked(json.dumps(entry.to_dict()), person, other)
    assert_masked(json.dumps(database.rows("SELECT * FROM audit_log"), default=str), person, other)
    assert log.verify().ok


def test_sha256_entries_and_sm3_entries_verify_in_one_chain(database: Database) -> None:
    """Each entry names its algorithm: a chain begun with SHA-256 and continued with SM3 verifies."""
    store = database.open()
    AuditLog(store, algorithm="sha256").append_many([result(1), result(2)])
    AuditLog(store, algorithm="sm3").append(result(3))
    log = AuditLog(store)
    assert [e.algorithm for e in reversed(log.latest())] == ["sha256", "sha256", "sm3"]
    assert log.verify().ok and log.verify().entries == 3
    assert set(ALGORITHMS) == {"sha256", "sm3"}
    with pytest.raises(ValueError, match="md5"):
        AuditLog(store, algorithm="md5")


def test_refused_caller_appends_nothing(database: Database) -> None:
    """A caller name with a NUL character is refused before anything is written."""
    log = filled(database, 2)
    with pytest.raises(ValueError, match="NUL"):
        log.append_many([result(3), result(4)], caller="a\x00b")
    assert log.count() == 2 and log.verify().ok
    assert log.append_many([]) == []


def test_the_memory_store_keeps_an_audit_log() -> None:
    """The test kit's MemoryStore keeps the audit log in its private SQLite database, one per store."""
    store = MemoryStore()
    AuditLog(store).append(result(1))
    assert AuditLog(store).count() == 1 and AuditLog(store).verify().ok
    assert AuditLog(MemoryStore()).count() == 0


def test_a_store_without_sql_tables_is_refused() -> None:
    """A record store that keeps no SQL tables gets a clear StoreError, not an AttributeError."""

    class Elsewhere:
        pass

    with pytest.raises(StoreError, match="needs a SQLite or PostgreSQL store, not Elsewhere"):
        AuditLog(Elsewhere())  # type: ignore[arg-type]


# --- tampering ---------------------------------------------------------------------------------------

REPLACEMENTS: dict[str, Any] = {
    "seq": 1000, "recorded_at": "2025-06-01T00:00:00+00:00", "caller": "someone-else", "check_id": "chk-x",
    "case_id": "case-x", "checked_at": "2025-01-01T00:00:00+00:00", "subject_id": "91350100M000100Y43",
    "subject_type": "natural_person", "matter_type": "special_bond", "decision": "clear", "revision": "rev-0",
    "result_digest": "ab" * 32, "prev_hash": "cd" * 32, "algorithm": "sha256", "entry_hash": "ef" * 32,
}


def test_every_column_is_covered_by_the_hash(database: Database) -> None:
    """Changing any one column of entry 3 by SQL makes verify name entry 3; putting it back heals the log."""
    log = filled(database)
    assert set(REPLACEMENTS) == set(AUDIT_COLUMNS)
    original = row(database, 3)
    for column, value in REPLACEMENTS.items():
        assert original[column] != value
        database.execute(f"UPDATE audit_log SET {column} = {quoted(value)} WHERE seq = 3")
        problem = log.verify().problem
        assert problem is not None, column
        assert (problem.seq, problem.kind) == (3, "reordered" if column == "seq" else "changed"), column
        assert problem.message.startswith("audit entry 3 ") and " / " in problem.message
        where = f"seq = {value}" if column == "seq" else "seq = 3"
        database.execute(f"UPDATE audit_log SET {column} = {quoted(original[column])} WHERE {where}")
        assert log.verify().ok, column


@pytest.mark.parametrize("gone", [1, 3])
def test_a_removed_entry_is_named(database: Database, gone: int) -> None:
    """Deleting an entry (the first, or one inside) makes verify name it as removed."""
    log = filled(database)
    database.execute(f"DELETE FROM audit_log WHERE seq = {gone}")
    report = log.verify()
    assert report.problem is not None and (report.problem.seq, report.problem.kind) == (gone, "removed")
    assert report.entries == gone - 1


@pytest.mark.parametrize("a, b", [(2, 3), (2, 5)])
def test_swapped_entries_are_named(database: Database, a: int, b: int) -> None:
    """Swapping two entries' places (their numbers) makes verify name the first as reordered."""
    log = filled(database)
    database.execute(f"UPDATE audit_log SET seq = -1 WHERE seq = {a}",
           f"UPDATE audit_log SET seq = {a} WHERE seq = {b}", f"UPDATE audit_log SET seq = {b} WHERE seq = -1")
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (a, "reordered")
    assert f"now number {b}" in problem.message


def test_a_truncated_tail_is_named(database: Database) -> None:
    """Deleting the last entries leaves a sound chain, but the head still names the last: the first cut
    entry is reported removed."""
    log = filled(database)
    database.execute("DELETE FROM audit_log WHERE seq >= 5")
    report = log.verify()
    assert report.problem is not None and (report.problem.seq, report.problem.kind) == (5, "removed")
    assert "5-6" in report.problem.message and report.entries == 4


def test_a_rewritten_entry_with_a_recomputed_hash_is_named(database: Database) -> None:
    """An intruder who changes entry 3 and recomputes its hash is caught by entry 4, which recorded the
    old one: verify names entry 3."""
    log = filled(database)
    forged = {**row(database, 3), "decision": "clear"}
    forged["entry_hash"] = ALGORITHMS[forged["algorithm"]](canonical_entry(forged))
    database.execute(f"UPDATE audit_log SET decision = 'clear', entry_hash = '{forged['entry_hash']}' WHERE seq = 3")
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (3, "changed")


def test_the_last_entry_rewritten_with_a_recomputed_hash_is_named(database: Database) -> None:
    """No entry follows the last one to give it away, but the head row recorded its hash: verify names it."""
    log = filled(database)
    forged = {**row(database, N), "decision": "clear" if row(database, N)["decision"] != "clear" else "review"}
    forged["entry_hash"] = ALGORITHMS[forged["algorithm"]](canonical_entry(forged))
    database.execute(f"UPDATE audit_log SET decision = '{forged['decision']}', "
                     f"entry_hash = '{forged['entry_hash']}' WHERE seq = {N}")
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (N, "changed")


def test_an_entry_forged_past_the_head_is_named(database: Database) -> None:
    """An entry added by SQL after the last one, hash and link correct, is reported as inserted."""
    log = filled(database, 3)
    forged = {**row(database, 3), "seq": 4, "check_id": "chk-forged", "prev_hash": row(database, 3)["entry_hash"]}
    forged["entry_hash"] = ALGORITHMS[forged["algorithm"]](canonical_entry(forged))
    database.execute(f"INSERT INTO audit_log ({', '.join(AUDIT_COLUMNS)}) "
                     f"VALUES ({', '.join(quoted(forged[c]) for c in AUDIT_COLUMNS)})")
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (4, "inserted")


def _rewrite_from(database: Database, seq: int, last: int) -> None:
    """What an intruder who knows the algorithm can do: rewrite entries ``seq``…``last`` with recomputed
    hashes and links, and move the head to the new last entry."""
    prev = row(database, seq - 1)["entry_hash"]
    for n in range(seq, last + 1):
        forged = {**row(database, n), "decision": "clear", "prev_hash": prev}
        forged["entry_hash"] = prev = ALGORITHMS[forged["algorithm"]](canonical_entry(forged))
        database.execute(f"UPDATE audit_log SET decision = 'clear', prev_hash = '{forged['prev_hash']}', "
                         f"entry_hash = '{prev}' WHERE seq = {n}")
    database.execute(f"UPDATE audit_head SET seq = {last}, entry_hash = '{prev}'")


def test_an_anchor_kept_elsewhere_catches_a_log_rewritten_whole(database: Database) -> None:
    """A log rewritten from entry 4 on, hashes and head included, verifies alone; against the head of
    an earlier report it names the anchored entry; cut short, it names the first entry missing."""
    log = filled(database)
    earlier = log.verify()
    anchor = (earlier.head_seq, earlier.head_hash)
    assert log.verify(anchor=anchor).ok
    _rewrite_from(database, 4, N)
    assert log.verify().ok
    problem = log.verify(anchor=anchor).problem
    assert problem is not None and (problem.seq, problem.kind) == (N, "changed")
    database.execute("DELETE FROM audit_log WHERE seq > 3")
    _rewrite_from(database, 3, 3)
    assert log.verify().ok
    problem = log.verify(anchor=anchor).problem
    assert problem is not None and (problem.seq, problem.kind) == (4, "removed")


# --- concurrent writers --------------------------------------------------------------------------------

_WRITER = textwrap.dedent("""
    import sys
    from joint_sanctions import AuditLog, CheckResult, open_store

    url, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    def result(n):
        return CheckResult.model_validate({
            "check_id": f"{name}-{n}", "checked_at": "2025-06-01T04:00:00+00:00", "revision": "r",
            "subject": {"id": "91410100MA0000015B", "id_kind": "uscc", "name": "", "subject_type": "legal_person"},
            "matter_type": "government_procurement", "decision": "clear", "measures": []})
    with open_store(url) as store:
        log = AuditLog(store)
        for n in range(rounds):
            if n % 3 == 0:
                log.append_many([result(f"{n}a"), result(f"{n}b")], caller=name)
            else:
                log.append(result(n), caller=name)
    print("done")
""")


def test_concurrent_processes_never_fork_the_chain(database: Database, tmp_path: Path) -> None:
    """Four processes appending at once to one database: verify is clean, the chain holds every entry
    appended, numbered 1…n, and no two entries name the same predecessor."""
    AuditLog(database.open())  # the tables exist before the writers race
    rounds, writers = 30, 4
    per_writer = rounds + len(range(0, rounds, 3))
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, database.url, f"w{i}", str(rounds)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(writers)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.strip() == "done", err
    log = AuditLog(database.open())
    report = log.verify()
    total = writers * per_writer
    assert report.ok and report.entries == total == log.count()
    assert database.rows("SELECT COUNT(DISTINCT prev_hash), MIN(seq), MAX(seq) FROM audit_log") == [(total, 1, total)]
    callers = database.rows("SELECT caller, COUNT(*) FROM audit_log GROUP BY caller ORDER BY caller")
    assert callers == [(f"w{i}", per_writer) for i in range(writers)]


def test_verify_while_entries_are_appended_reports_no_problem(database: Database) -> None:
    """Entries appended while verify walks the chain are neither "removed" nor "inserted": every report
    made meanwhile is clean, and the last counts every entry."""
    writer_log, reader_log = AuditLog(database.open()), AuditLog(database.open())
    done = threading.Event()

    def write() -> None:
        try:
            for n in range(150):
                writer_log.append(result(n))
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reports = []
    while not done.is_set():
        reports.append(reader_log.verify())
    writer.join()
    assert [r.problem for r in reports if not r.ok] == []
    assert reader_log.verify().entries == 150


# --- the command line ---------------------------------------------------------------------------------


def test_cli_verify_counts_entries_and_names_the_first_bad_one(database: Database, tmp_path: Path) -> None:
    """``audit verify`` exits 0 with the count; after tampering, exit 1 and one line naming the entry;
    ``--json`` prints the report only."""
    filled(database)
    done = cli("audit", "verify", "--db", database.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "6 entries" in done.stdout and done.stderr == ""
    head = done.stdout.split("head ", 1)[1].split()[0]
    anchored = cli("audit", "verify", "--anchor", head, "--db", database.url, cwd=tmp_path)
    assert anchored.returncode == 0, anchored.stderr
    wrong = cli("audit", "verify", "--anchor", f"6:{'0' * 64}", "--db", database.url, cwd=tmp_path)
    assert wrong.returncode == 1 and "audit entry 6 changed" in wrong.stderr
    malformed = cli("audit", "verify", "--anchor", "six", "--db", database.url, cwd=tmp_path)
    assert malformed.returncode == 2 and len(malformed.stderr.splitlines()) == 1
    database.execute("UPDATE audit_log SET decision = 'prohibited' WHERE seq = 2")
    bad = cli("audit", "verify", "--db", database.url, cwd=tmp_path)
    assert bad.returncode == 1 and bad.stdout == ""
    (line,) = bad.stderr.splitlines()
    assert "audit entry 2 changed" in line and "审计记录第 2 条" in line
    as_json = cli("audit", "verify", "--json", "--db", database.url, cwd=tmp_path)
    assert as_json.returncode == 1
    doc = json.loads(as_json.stdout)
    assert doc["ok"] is False and doc["entries"] == 1 and doc["problem"]["seq"] == 2
    assert doc["problem"]["kind"] == "changed"


def test_cli_list_shows_the_latest_entries_masked(tmp_path: Path) -> None:
    """``audit list --limit N`` shows the N latest entries, newest first, resident ids masked."""
    loop = Loop(tmp_path / "loop.db")
    log = AuditLog(loop.engine.store)
    log.append(loop.engine.check(PERSON, "government_procurement"), caller="platform-a")
    log.append(loop.engine.check(CO, "government_procurement"), caller="platform-b")
    done = cli("audit", "list", "--limit", "1", "--db", loop.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 and "platform-b" in done.stdout and CO in done.stdout
    listed = cli("audit", "list", "--json", "--db", loop.url, cwd=tmp_path)
    entries = json.loads(listed.stdout)
    assert [e["seq"] for e in entries] == [2, 1] and entries[1]["subject_id"] != PERSON
    assert_masked(listed.stdout, PERSON)


def test_cli_verify_never_creates_a_database(tmp_path: Path) -> None:
    """A missing SQLite file is refused with exit 1, and no file is left behind."""
    done = cli("audit", "verify", "--db", "sqlite:///missing.db", cwd=tmp_path)
    assert done.returncode == 1 and "database not found" in done.stderr
    assert not (tmp_path / "missing.db").exists()


def test_append_each_keeps_each_results_own_caller_in_one_chain(database: Database) -> None:
    """``append_each`` writes results of several callers in one transaction, in order, each entry with
    its own caller (masked), and the chain verifies."""
    results = [result(i) for i in (1, 2, 3)]
    audit = AuditLog(database.open())
    entries = audit.append_each([(results[0], "a"), (results[1], None), (results[2], "c")])
    assert [e.caller for e in entries] == ["a", None, "c"]
    assert [e.check_id for e in entries] == [r.check_id for r in results]
    assert audit.verify().ok and audit.count() == 3
