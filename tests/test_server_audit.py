"""Every check answered over HTTP leaves an audit entry (design.md §11, docs/audit.md): the caller's key
name, masked ids, the result's digest, in a hash chain that ``audit verify`` proves untouched. A real
``joint-sanctions serve`` process over a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .conftest import CO, CO2, PERSON, Server, cli, loop_db, server_key

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
