"""The HTTP service (design.md §11, docs/http.md), driven over HTTP: a real ``joint-sanctions serve``
process on a free port, over real SQLite files and a real PostgreSQL database."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import (
    CO,
    CO2,
    PERSON,
    Database,
    Server,
    cli,
    free_port,
    loop_db,
    loop_records,
    numbered_uscc,
    resident_id,
    server_key,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "examples" / "http" / "openapi.json"
GP = "government_procurement"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    """One server over a SQLite file holding the loop's records, and a key for it: (server, key, db url)."""
    workdir = tmp_path_factory.mktemp("served")
    url = loop_db(workdir / "served.db")
    key = server_key(url, "trading-platform", workdir)
    server = Server(url, workdir)
    yield server, key, url
    server.stop()


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    assert "Traceback" not in response.text
    return str(body["error"]["message"])


# --- keys ---------------------------------------------------------------------------------------------


def test_keys_create_prints_the_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    """``keys create`` prints the key alone on stdout; the database holds its SHA-256, never the key;
    ``keys list`` shows names and times, never a key or digest."""
    url = loop_db(tmp_path / "k.db")
    key = server_key(url, "funds-system", tmp_path)
    assert key.startswith("jsk_") and len(key) > 40
    with sqlite3.connect(tmp_path / "k.db") as conn:
        rows = conn.execute("SELECT * FROM api_keys").fetchall()
    assert rows and all(key not in str(v) for v in rows[0])
    assert hashlib.sha256(key.encode()).hexdigest() in rows[0]
    listed = cli("keys", "list", "--json", "--db", url, cwd=tmp_path)
    assert listed.returncode == 0
    assert [k["name"] for k in json.loads(listed.stdout)] == ["funds-system"]
    assert key not in listed.stdout and hashlib.sha256(key.encode()).hexdigest() not in listed.stdout


def test_keys_refuse_a_taken_name_an_unknown_one_and_a_second_revocation(tmp_path: Path) -> None:
    """A name in use, an unknown name and a key revoked already are refused with exit 1, one line."""
    url = loop_db(tmp_path / "k.db")
    server_key(url, "a", tmp_path)
    again = cli("keys", "create", "--name", "a", "--db", url, cwd=tmp_path)
    assert again.returncode == 1 and "exists already" in again.stderr
    assert cli("keys", "revoke", "nobody", "--db", url, cwd=tmp_path).returncode == 1
    assert cli("keys", "revoke", "a", "--db", url, cwd=tmp_path).returncode == 0
    twice = cli("keys", "revoke", "a", "--db", url, cwd=tmp_path)
    assert twice.returncode == 1 and len(twice.stderr.strip().splitlines()) == 1
    bad = cli("keys", "create", "--name", f"x{resident_id(7)}", "--db", url, cwd=tmp_path)
    assert bad.returncode == 1 and resident_id(7) not in bad.stderr
    assert "revoked" in cli("keys", "list", "--db", url, cwd=tmp_path).stdout


def test_every_route_but_health_and_metrics_needs_a_valid_key(served: tuple[Server, str, str]) -> None:
    """No key, an unknown key or another scheme: 401 with the error body; /healthz and /metrics need none."""
    server, key, _ = served
    for path in ("/v1/cases", "/v1/measures", "/openapi.json"):
        _error(server.call("GET", path), 401, "unauthorized")
        _error(server.call("GET", path, key="jsk_not-a-key"), 401, "unauthorized")
        _error(server.call("GET", path, headers={"Authorization": f"Basic {key}"}), 401, "unauthorized")
    _error(server.call("POST", "/v1/checks", json={"subject": CO, "matter": GP}), 401, "unauthorized")
    assert server.call("GET", "/healthz").status_code == 200
    assert server.call("GET", "/metrics").status_code == 200
    assert server.call("GET", "/v1/cases", key=key).status_code == 200


def test_a_revoked_key_is_refused_within_a_second(served: tuple[Server, str, str]) -> None:
    """After ``keys revoke`` returns, the key gets 401, and no request sent a second later is answered 200."""
    server, _, url = served
    key = server_key(url, "soon-revoked", server.log.parent)
    wait_until(lambda: server.call("GET", "/v1/cases", key=key).status_code == 200)
    assert cli("keys", "revoke", "soon-revoked", "--db", url, cwd=server.log.parent).returncode == 0
    revoked_at = time.monotonic()
    late_successes = []

    def refused() -> bool:
        sent = time.monotonic()
        status = server.call("GET", "/v1/cases", key=key).status_code
        if status == 200 and sent - revoked_at >= 1.0:
            late_successes.append(sent - revoked_at)
        return status == 401

    wait_until(refused)
    assert not late_successes


# --- checks -------------------------------------------------------------------------------------------


def test_a_check_answers_the_result_of_section_5_and_opens_a_case_with_the_caller(
        served: tuple[Server, str, str]) -> None:
    """POST /v1/checks gives §5's keys; the case it opens is in the database, its caller the key's name."""
    server, key, url = served
    response = server.call("POST", "/v1/checks", key=key, json={"subject": CO, "matter": GP,
                                                                "application_no": "HTTP-1"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert {"check_id", "checked_at", "revision", "subject", "matter_type", "decision", "measures",
            "data_as_of", "case_id", "hits"} <= set(result)
    assert result["decision"] == "prohibited" and result["case_id"]
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        stored = conn.execute("SELECT caller FROM cases WHERE case_id = ?", (result["case_id"],)).fetchall()
    assert stored == [("trading-platform",)]
    shown = server.call("GET", f"/v1/cases/{result['case_id']}", key=key).json()
    assert shown["caller"] == "trading-platform"


def test_a_batch_answers_every_subject_in_order(served: tuple[Server, str, str]) -> None:
    """POST /v1/checks:batch answers {results: [...]} in the order of the subjects, ids and mappings alike."""
    server, key, _ = served
    clean = numbered_uscc(4242)
    response = server.call("POST", "/v1/checks:batch", key=key, json={
        "subjects": [clean, {"id": CO2, "name": "红名单企业"}, PERSON], "matter": GP, "open_case": False})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["subject"]["id"] for r in results][:2] == [clean, CO2]
    assert results[0]["decision"] == "clear" and results[2]["decision"] != "clear"
    assert all(r["case_id"] is None for r in results)


def test_a_batch_over_ten_thousand_subjects_is_refused_with_413(served: tuple[Server, str, str]) -> None:
    """10,001 subjects: 413 too_many_subjects, nothing checked."""
    server, key, _ = served
    response = server.call("POST", "/v1/checks:batch", key=key,
                           json={"subjects": [CO] * 10_001, "matter": GP})
    _error(response, 413, "too_many_subjects")


def test_bad_input_gets_the_error_body_with_its_code(served: tuple[Server, str, str]) -> None:
    """Malformed JSON, unknown fields, wrong types, invalid ids, unknown matter types: 400 and the code."""
    server, key, _ = served

    def post(body: Any, **kw: Any) -> httpx.Response:
        return server.call("POST", "/v1/checks", key=key, json=body, **kw)

    _error(server.call("POST", "/v1/checks", key=key, content=b'{"subject": "9141',
                       headers={"Content-Type": "application/json"}), 400, "invalid_request")
    _error(server.call("POST", "/v1/checks", key=key, content=b"subject=1"), 400, "invalid_request")
    _error(post([CO, GP]), 400, "invalid_request")
    _error(post({"subject": CO, "matter": GP, "colour": "red"}), 400, "invalid_request")
    _error(post({"subject": 914101, "matter": GP}), 400, "invalid_subject")
    _error(post({"subject": {"id": CO, "name": ["x"]}, "matter": GP}), 400, "invalid_subject")
    _error(post({"subject": "91410100MA000001XX", "matter": GP}), 400, "invalid_subject")
    _error(post({"subject": CO, "matter": "lottery"}), 400, "unknown_matter_type")
    _error(post({"subject": CO}), 400, "unknown_matter_type")
    _error(post({"subject": CO, "matter": GP, "amount": "lots"}), 400, "invalid_matter")
    _error(post({"subject": CO, "matter": GP, "amount": 1e300}), 400, "invalid_matter")
    _error(post({"subject": CO, "matter": GP, "organizer": "mayor"}), 400, "invalid_matter")
    _error(server.call("GET", "/v1/measures?matter=lottery", key=key), 400, "unknown_matter_type")
    _error(server.call("GET", "/v1/cases?status=lost", key=key), 400, "invalid_request")
    _error(server.call("GET", "/v1/nowhere", key=key), 404, "not_found")
    _error(server.call("DELETE", "/v1/checks", key=key), 405, "method_not_allowed")


def test_resident_ids_in_bad_requests_are_never_echoed_unmasked(served: tuple[Server, str, str]) -> None:
    """An invalid resident id, one in an unknown field's name and one in a value of the wrong type come
    back masked."""
    server, key, _ = served
    person = resident_id(31)
    wrong = person[:-1] + ("0" if person[-1] != "0" else "1")
    for body in ({"subject": wrong, "matter": GP}, {"subject": CO, "matter": GP, f"note{person}": 1},
                 {"subject": {"id": person, "name": person, "colour": person}, "matter": GP},
                 {"subject": person, "matter": person}, {"subject": person, "matter": GP, "amount": person}):
        response = server.call("POST", "/v1/checks", key=key, json=body)
        assert response.status_code == 400, response.text
        assert wrong[4:14] not in response.text and person[4:14] not in response.text


def test_a_body_over_the_limit_is_refused_with_413(served: tuple[Server, str, str]) -> None:
    """A declared Content-Length over the limit and a chunked body that passes it both get 413."""
    server, key, _ = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/checks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 999999999\r\n\r\n")
        answer = b""
        while b'"too_large"' not in answer and (part := sock.recv(65536)):
            answer += part
    assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer

    def chunks() -> Iterator[bytes]:
        yield b'{"subject": "' + b"9" * (1 << 20)
        for _ in range(17):
            yield b"9" * (1 << 20)
        yield b'", "matter": "government_procurement"}'

    _error(server.call("POST", "/v1/checks", key=key, content=chunks(),
                       headers={"Content-Type": "application/json"}), 413, "too_large")


# --- measures and cases -------------------------------------------------------------------------------


def test_measures_of_a_matter(served: tuple[Server, str, str]) -> None:
    """GET /v1/measures?matter=M lists the measures that may apply to M, with the revision."""
    server, key, _ = served
    body = server.call("GET", f"/v1/measures?matter={GP}", key=key).json()
    assert body["matter"] == GP and body["revision"]
    assert body["measures"] and all(GP in m["matter_types"] for m in body["measures"])


def test_cases_disposal_and_withdrawal(served: tuple[Server, str, str]) -> None:
    """Cases are listed and shown (by id or prefix), disposed once (again: 409), withdrawn only while
    responded (409 otherwise); an unknown case is 404."""
    server, key, _ = served
    opened: list[str] = []
    for n in range(2):
        result = server.call("POST", "/v1/checks", key=key,
                             json={"subject": CO, "matter": GP, "application_no": f"CASE-{n}"}).json()
        opened.append(result["case_id"])
    listed = server.call("GET", "/v1/cases?status=responded", key=key).json()["cases"]
    assert set(opened) <= {c["case_id"] for c in listed}
    assert server.call("GET", f"/v1/cases/{opened[0][:8]}", key=key).json()["case_id"] == opened[0]
    _error(server.call("GET", "/v1/cases/ffffffffffffffff", key=key), 404, "unknown_case")
    _error(server.call("POST", "/v1/cases/ffffffffffffffff/disposal", key=key, json={"result": "applied"}),
           404, "unknown_case")
    disposed = server.call("POST", f"/v1/cases/{opened[0]}/disposal", key=key,
                           json={"result": "applied", "department": "财政局"})
    assert disposed.status_code == 200 and disposed.json()["status"] == "disposed"
    _error(server.call("POST", f"/v1/cases/{opened[0]}/disposal", key=key, json={"result": "applied"}),
           409, "refused_transition")
    _error(server.call("POST", f"/v1/cases/{opened[0]}/withdrawal", key=key, json={"reason": "late"}),
           409, "refused_transition")
    _error(server.call("POST", f"/v1/cases/{opened[1]}/disposal", key=key, json={"result": "not_applied"}),
           400, "invalid_case_request")
    _error(server.call("POST", f"/v1/cases/{opened[1]}/disposal", key=key, json={"result": "ignored"}),
           400, "invalid_request")
    withdrawn = server.call("POST", f"/v1/cases/{opened[1]}/withdrawal", key=key,
                            json={"reason": "application withdrawn"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"


# --- health, metrics, OpenAPI ---------------------------------------------------------------------------


def test_health_reports_the_revision_and_data_as_of(served: tuple[Server, str, str]) -> None:
    """GET /healthz: 200 with status ok, the revision and when each list type was last written."""
    server, _, _ = served
    body = server.call("GET", "/healthz").json()
    assert body["status"] == "ok" and body["revision"]
    assert set(body["data_as_of"]) == {"court_defaulter", "tax_credit_a", "market_serious_violator"}


def test_health_and_checks_answer_503_on_an_empty_store(tmp_path: Path) -> None:
    """A database into which no record was ever written: /healthz and checks answer 503 no_data."""
    assert cli("db", "init", "--db", f"sqlite:///{tmp_path / 'empty.db'}", cwd=tmp_path).returncode == 0
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    key = server_key(url, "k", tmp_path)
    server = Server(url, tmp_path)
    try:
        _error(server.call("GET", "/healthz"), 503, "no_data")
        _error(server.call("POST", "/v1/checks", key=key, json={"subject": CO, "matter": GP}), 503, "no_data")
    finally:
        assert server.stop() == 0


def test_health_and_checks_answer_503_on_stale_data(tmp_path: Path) -> None:
    """Lists last written longer ago than --max-data-age: /healthz and checks answer 503 stale_data."""
    url = loop_db(tmp_path / "stale.db")
    with sqlite3.connect(tmp_path / "stale.db") as conn:
        conn.execute("UPDATE record_data_as_of SET written_at = '2020-01-01T00:00:00+00:00'")
    key = server_key(url, "k", tmp_path)
    server = Server(url, tmp_path, "--max-data-age", "7d")
    try:
        _error(server.call("GET", "/healthz"), 503, "stale_data")
        _error(server.call("POST", "/v1/checks", key=key, json={"subject": CO, "matter": GP}), 503, "stale_data")
    finally:
        assert server.stop() == 0


def test_metrics_count_checks_by_decision_and_cases_by_status(served: tuple[Server, str, str]) -> None:
    """/metrics is Prometheus text: checks by decision, the latency histogram, cases by status, outbox pending."""
    server, key, _ = served
    assert server.call("POST", "/v1/checks", key=key, json={"subject": numbered_uscc(5), "matter": GP}
                       ).json()["decision"] == "clear"
    text = server.call("GET", "/metrics").text
    clear = [line for line in text.splitlines() if line.startswith('joint_sanctions_checks_total{decision="clear"}')]
    assert clear and float(clear[0].split()[-1]) >= 1
    assert "joint_sanctions_check_seconds_bucket" in text
    assert 'joint_sanctions_cases{status="responded"}' in text
    assert "joint_sanctions_outbox_pending" in text


def test_the_served_openapi_document_is_the_one_checked_in(served: tuple[Server, str, str]) -> None:
    """examples/http/openapi.json is exactly what the server serves (regenerate it: docs/http.md)."""
    server, key, _ = served
    served_doc = server.call("GET", "/openapi.json", key=key).json()
    assert served_doc == json.loads(OPENAPI.read_text(encoding="utf-8"))
    assert {"/v1/checks", "/v1/checks:batch", "/v1/measures", "/v1/cases", "/v1/cases/{case_id}",
            "/v1/cases/{case_id}/disposal", "/v1/cases/{case_id}/withdrawal", "/healthz",
            "/metrics"} <= set(served_doc["paths"])
    assert "CheckResult" in served_doc["components"]["schemas"]


# --- start-up and shutdown ----------------------------------------------------------------------------


def test_serve_refuses_a_missing_database_and_workers_on_sqlite(tmp_path: Path) -> None:
    """serve never creates a database (exit 1, one line); several workers need PostgreSQL (exit 2)."""
    missing = cli("serve", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--port", str(free_port()), cwd=tmp_path)
    assert missing.returncode == 1 and "database not found" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    workers = cli("serve", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--workers", "2", cwd=tmp_path)
    assert workers.returncode == 2 and "PostgreSQL" in workers.stderr


def test_the_library_and_the_cli_load_no_server_package() -> None:
    """Importing the library and building the command line loads neither FastAPI, uvicorn nor the server."""
    code = ("import sys, joint_sanctions, joint_sanctions._cli as c; c.build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'uvicorn', 'prometheus_client')"
            " or m.startswith('joint_sanctions._server')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _load_until_stopped(server: Server, key: str, seen: list[tuple[int, str | None]], prefix: str) -> None:
    """Checks that each open a case, on keep-alive connections of several threads, until the server goes."""
    def worker(n: int) -> None:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            for i in range(10_000):
                try:
                    r = client.post("/v1/checks", headers={"Authorization": f"Bearer {key}"},
                                    json={"subject": CO, "matter": GP, "application_no": f"{prefix}-{n}-{i}"})
                except httpx.TransportError:
                    return
                seen.append((r.status_code, r.json().get("case_id") if r.status_code == 200 else None))
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(seen) >= 20)
    server.terminate()
    for t in threads:
        t.join()


def test_sigterm_lets_checks_in_flight_finish_and_every_reported_case_is_stored(tmp_path: Path) -> None:
    """SIGTERM during load: the server exits 0, and every case id a 200 reported is in the database."""
    url = loop_db(tmp_path / "term.db")
    key = server_key(url, "k", tmp_path)
    server = Server(url, tmp_path)
    seen: list[tuple[int, str | None]] = []
    _load_until_stopped(server, key, seen, "TERM")
    assert server.stop() == 0
    reported = [case_id for status, case_id in seen if status == 200]
    assert reported and all(reported) and {status for status, _ in seen} == {200}
    with sqlite3.connect(tmp_path / "term.db") as conn:
        stored = {row[0] for row in conn.execute("SELECT case_id FROM cases")}
    assert set(reported) <= stored
    assert len(reported) == len(set(reported))


# --- PostgreSQL: several workers ------------------------------------------------------------------------


@pytest.mark.postgres
def test_several_workers_on_postgresql_share_keys_cases_and_metrics(pg_url: str, tmp_path: Path) -> None:
    """--workers 2 on PostgreSQL: both workers answer, a key created or revoked is seen by each, every
    reported case is stored once, and /metrics adds up every worker's checks."""
    database = Database("postgres", pg_url, tmp_path)
    store = database.open()
    store.upsert(loop_records())
    key = server_key(database.url, "two-workers", database.workdir)
    server = Server(database.url, database.workdir, "--workers", "2")
    try:
        pids: set[int] = set()

        def both_answered() -> bool:
            with httpx.Client(base_url=server.base, timeout=30) as fresh:  # a new connection each time
                pids.add(fresh.get("/healthz").json()["pid"])
            return len(pids) == 2

        wait_until(both_answered)
        checks = [server.call("POST", "/v1/checks", key=key,
                              json={"subject": CO, "matter": GP, "application_no": f"PG-{n}"}) for n in range(20)]
        assert {r.status_code for r in checks} == {200}
        reported = [r.json()["case_id"] for r in checks]
        stored = database.rows("SELECT case_id, caller FROM cases")
        assert {c for c, _ in stored} >= set(reported) and len(set(reported)) == 20
        assert {caller for c, caller in stored if c in reported} == {"two-workers"}
        metrics = server.call("GET", "/metrics").text
        total = sum(float(line.split()[-1]) for line in metrics.splitlines()
                    if line.startswith("joint_sanctions_checks_total{"))
        assert total == 20
        assert cli("keys", "revoke", "two-workers", "--db", database.url, cwd=database.workdir).returncode == 0

        def refused_by_both() -> bool:
            statuses = set()
            for _ in range(8):
                with httpx.Client(base_url=server.base, timeout=30) as fresh:
                    statuses.add(fresh.get("/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code)
            return statuses == {401}

        wait_until(refused_by_both)
    finally:
        code = server.stop()
        store.close()
    assert code == 0


@pytest.mark.postgres
def test_health_answers_503_when_the_database_is_gone(pg_url: str, pg_server: Any, tmp_path: Path) -> None:
    """The database dropped under a running server: /healthz answers 503 store_unavailable, with no trace."""
    store = Database("postgres", pg_url, tmp_path).open()
    store.upsert(loop_records())
    store.close()
    server = Server(pg_url, tmp_path)
    try:
        assert server.call("GET", "/healthz").status_code == 200
        pg_server.drop_database(pg_url)
        message = _error(server.call("GET", "/healthz"), 503, "store_unavailable")
        assert "postgresql://" not in message
    finally:
        assert server.stop() == 0
