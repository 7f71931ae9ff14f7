"""Every check answered over HTTP leaves an audit entry (design.md §11, docs/audit.md): the caller's key
name, masked ids, the result's digest, in a hash chain that ``audit verify`` proves untouched. A real
``joint-sanctions serve`` process over a real SQLite file or PostgreSQL database."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx

from .conftest import CO, CO2, PERSON, Database, Server, cli, loop_db, loop_records, server_key

GP = "government_procurement"


def _entries(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as lite:
        lite.row_factory = sqlite3.Row
        return lite.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()


def test_every_check_over_http_is_audited_with_its_caller_and_tampering_is_named(tmp_path: Path) -> None:
    """A check and a batch append one entry per answer, in order, with the key's name as caller and the
    resident id masked; ``audit verify`` counts them, and names the entry an intruder changed."""
    db = tmp_path / "a.db"
    url = loop_db(db)
    key = server_key(url, "trading-platform", tmp_path)
    server = Server(url, tmp_path)
    try:
        one = server.call("POST", "/v1/checks", key, json={"subject": CO, "matter": GP, "open_case": False})
        assert one.status_code == 200, one.text
        many = server.call("POST", "/v1/checks:batch", key, json={"subjects": [CO2, PERSON], "matter": GP})
        assert many.status_code == 200, many.text
    finally:
        assert server.stop() == 0
    answers = [one.json(), *many.json()["results"]]
    entries = _entries(db)
    assert [e["check_id"] for e in entries] == [a["check_id"] for a in answers]
    assert [e["decision"] for e in entries] == [a["decision"] for a in answers]
    assert {e["caller"] for e in entries} == {"trading-platform"}
    assert {e["revision"] for e in entries} == {answers[0]["revision"]}
    assert all(PERSON not in str(value) for e in entries for value in tuple(e))

    verified = cli("audit", "verify", "--db", url, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "3 entries" in verified.stdout

    with sqlite3.connect(db) as lite:
        lite.execute("UPDATE audit_log SET caller = 'someone-else' WHERE seq = 2")
    tampered = cli("audit", "verify", "--db", url, cwd=tmp_path)
    assert tampered.returncode == 1
    assert "audit entry 2 changed" in tampered.stderr


def test_a_check_the_audit_log_cannot_record_is_not_answered(tmp_path: Path) -> None:
    """When the audit entry cannot be written, the caller gets 503 ``store_unavailable`` rather than a
    decision nobody could prove later; the server keeps serving health."""
    db = tmp_path / "b.db"
    url = loop_db(db)
    key = server_key(url, "funds-system", tmp_path)
    server = Server(url, tmp_path)
    try:
        assert server.call("POST", "/v1/checks", key, json={"subject": CO, "matter": GP}).status_code == 200
        with sqlite3.connect(db) as lite:
            lite.execute("DROP TABLE audit_log")
        refused = server.call("POST", "/v1/checks", key, json={"subject": CO2, "matter": GP})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "store_unavailable"
        assert "Traceback" not in refused.text
        batch = server.call("POST", "/v1/checks:batch", key, json={"subjects": [CO2], "matter": GP})
        assert batch.status_code == 503, batch.text
    finally:
        assert server.stop() == 0


def test_concurrent_requests_to_several_workers_are_each_audited_once(pg_url: str, tmp_path: Path) -> None:
    """16 clients against two workers on PostgreSQL, checks and batches at once: every answer sent is in
    the audit log exactly once with its own caller, a batch's entries stay together and in order, and
    the chain verifies."""
    database = Database("postgres", pg_url, tmp_path)
    store = database.open()
    store.upsert(loop_records())
    keys = {name: server_key(database.url, name, tmp_path) for name in ("platform-a", "platform-b")}
    server = Server(database.url, tmp_path, "--workers", "2")
    answers: list[tuple[str, list[str]]] = []  # (caller, check ids of one request, in order)
    failures: list[str] = []

    def client(n: int) -> None:
        name = "platform-a" if n % 2 else "platform-b"
        with httpx.Client(base_url=server.base, timeout=60) as http:
            for i in range(12):
                body: dict[str, Any]
                if i % 3 == 0:
                    body = {"subjects": [CO, CO2, PERSON], "matter": GP, "open_case": False}
                    got = http.post("/v1/checks:batch", json=body, headers={"Authorization": f"Bearer {keys[name]}"})
                    ids = [r["check_id"] for r in got.json()["results"]] if got.status_code == 200 else []
                else:
                    body = {"subject": [CO, CO2, PERSON][i % 3], "matter": GP, "open_case": False}
                    got = http.post("/v1/checks", json=body, headers={"Authorization": f"Bearer {keys[name]}"})
                    ids = [got.json()["check_id"]] if got.status_code == 200 else []
                if got.status_code != 200:
                    failures.append(got.text)
                answers.append((name, ids))

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        assert server.stop() == 0
    assert failures == []
    rows = database.rows("SELECT seq, check_id, caller FROM audit_log ORDER BY seq")
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    place = {check_id: (seq, caller) for seq, check_id, caller in rows}
    sent = [check_id for _, ids in answers for check_id in ids]
    assert len(rows) == len(sent) == len(set(sent)) == 16 * (4 * 3 + 8)
    for caller, ids in answers:
        seqs = [place[i][0] for i in ids]
        assert seqs == list(range(seqs[0], seqs[0] + len(ids)))  # together and in order
        assert {place[i][1] for i in ids} == {caller}
    verified = cli("audit", "verify", "--db", database.url, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
