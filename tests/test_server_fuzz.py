"""Hostile requests against a real ``joint-sanctions serve`` process (design.md §11, docs/http.md).

Random and hostile bodies (malformed JSON, wrong types, deep nesting, huge numbers, NaN and Infinity,
unknown fields, invalid ids, resident ids in every field, unknown matter types, bad dates, bytes that
are not UTF-8), content types, paths, methods and Authorization headers, to every endpoint. Every answer
is a documented status with either a success body or the error body ``{"error": {"code", "message"}}``:
never 500, never a stack trace, never a resident id in clear. Afterwards the server is still up and the
audit log verifies, holding one entry per check answered 200.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from joint_sanctions.stores import open_store

from .conftest import (
    CO,
    CO2,
    FIXTURE,
    PERSON,
    Server,
    cli,
    loop_db,
    loop_records,
    numbered_uscc,
    server_key,
)
from .fuzz._fuzz import RESIDENT_IDS, WRITTEN_IDS, budget, count, leaks

AREA = "http"
GP = "government_procurement"
STATUSES = {200, 400, 401, 404, 405, 409, 413, 503}


@dataclass
class Served:
    server: Server
    key: str
    revoked: str
    url: str
    case_ids: list[str]
    audited: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server over a SQLite file or a PostgreSQL database with the loop's records, a valid and a
    revoked key, and open cases."""
    workdir = tmp_path_factory.mktemp("server-fuzz")
    if request.param == "sqlite":
        url, drop = loop_db(workdir / "fuzz.db"), None
    else:
        pg = request.getfixturevalue("pg_server")
        url, drop = pg.create_database(), pg.drop_database
        with contextlib.closing(open_store(url, create=True)) as store:
            store.upsert(loop_records())
    key = server_key(url, "fuzz-platform", workdir)
    revoked = server_key(url, "revoked-platform", workdir)
    assert cli("keys", "revoke", "revoked-platform", "--db", url, cwd=workdir).returncode == 0
    server = Server(url, workdir)
    state = Served(server, key, revoked, url, [])
    for n in range(4):
        response = server.call("POST", "/v1/checks", key=key, json={"subject": CO if n % 2 else PERSON, "matter": GP,
                                                                    "application_no": f"FUZZ-{n}"})
        assert response.status_code == 200, response.text
        state.case_ids.append(response.json()["case_id"])
        state.audited += 1
    yield state
    server.stop()
    if drop is not None:
        drop(url)


# --- requests ------------------------------------------------------------------------------------------

BAD_IDS = ["91410100MA000001XX", RESIDENT_IDS[0][:-1] + ("0" if RESIDENT_IDS[0][-1] != "0" else "1"), "", " ",
           "x" * 5000, "\x00", "\x1b[2J", "\ud800", "１２３", RESIDENT_IDS[0].lower(), "410102"]
IDS = [CO, CO2, PERSON, numbered_uscc(4242), *RESIDENT_IDS, *WRITTEN_IDS, *BAD_IDS]
DATES = ["2025-06-01", "2024-02-30", "2024-W01-1", "20240101", "0001-01-01", "9999-12-31",
         "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2024-01-01T25:00", "now", "", RESIDENT_IDS[1]]
TEXTS = ["某", "郑州某公司", f"王某（身份证{RESIDENT_IDS[2]}）", WRITTEN_IDS[4], "\x1b]0;pwned\x07", "\ud800", "a\x00b",
         "x" * 3000, "applied", "not_applied", "responded", "legal_representative", "shareholder"]
MATTERS = [GP, "bidding", "honors", "special_bond", "lottery", "", "GOVERNMENT_PROCUREMENT", RESIDENT_IDS[3]]
NUMBERS: list[Any] = [0, -1, 1.5, 10**15, 10**15 + 1, 10**30, 1e300, -0.0, math.nan, math.inf, -math.inf, True]
FIELDS = ["subject", "subjects", "matter", "at", "item_code", "application_no", "amount", "organizer", "department",
          "department_code", "open_case", "result", "text", "reason", "description"]
UNKNOWN_FIELDS = ["colour", f"note{RESIDENT_IDS[0]}", "", "subject ", "\x1b[2J"]

leaf = st.one_of(st.sampled_from(IDS), st.sampled_from(DATES), st.sampled_from(TEXTS), st.sampled_from(MATTERS),
                 st.sampled_from(NUMBERS), st.none(), st.booleans(), st.text(max_size=8),
                 st.integers(min_value=-(10**40), max_value=10**40))


@st.composite
def subject(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(IDS))
    shape: dict[str, Any] = {"id": draw(st.sampled_from(IDS))}
    if draw(st.booleans()):
        shape["name"] = draw(st.sampled_from(TEXTS))
    if draw(st.integers(0, 3)) == 0:
        shape["subject_type"] = draw(st.sampled_from(["legal_person", "natural_person", "government_body", "region",
                                                      "x", RESIDENT_IDS[0]]))
    if draw(st.integers(0, 3)) == 0:
        shape["related_parties"] = draw(st.lists(st.fixed_dictionaries(
            {"role": st.sampled_from(["legal_representative", "principal", "shareholder", "boss"]),
             "id": st.sampled_from(IDS)}, optional={"name": st.sampled_from(TEXTS), "x": leaf}), max_size=3))
    if draw(st.integers(0, 5)) == 0:
        shape[draw(st.sampled_from(UNKNOWN_FIELDS))] = draw(leaf)
    if draw(st.integers(0, 7)) == 0:
        return draw(st.sampled_from([shape["id"], [shape], 914101, None, {"id": shape}]))
    return shape


def _value(draw: st.DrawFn, name: str) -> Any:
    """Mostly a value of the field's kind, sometimes anything (a wrong type, a nested structure)."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.recursive(leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
            st.sampled_from(FIELDS + UNKNOWN_FIELDS), inner, max_size=3), max_leaves=6))
    kinds: dict[str, Any] = {
        "subject": subject(), "subjects": st.lists(subject(), max_size=6), "matter": st.sampled_from(MATTERS),
        "at": st.sampled_from(DATES), "amount": st.sampled_from(NUMBERS), "open_case": st.booleans(),
        "organizer": st.sampled_from(["government", "state_owned", "private", "mayor", RESIDENT_IDS[0]]),
        "result": st.sampled_from(["applied", "not_applied", "partially_applied", "ignored"]),
    }
    return draw(kinds.get(name, st.sampled_from(TEXTS)))


def _dumps(document: Any) -> bytes:
    # allow_nan: NaN and Infinity as JavaScript writes them, which Python's parser takes
    return json.dumps(document, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


RAW_BODIES = [b"", b"{", b'{"subject": "9141', b"null", b"[]", b"42", b'"x"', b"subject=1",
              b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
              b'{"subject": "' + CO.encode() + b'", "matter": "government_procurement", "amount": ' + b"1" * 5000 + b"}",
              b'{"subject": "' + CO.encode() + b'", "matter": "government_procurement", "amount": 1e999}',
              b'{"subject": "' + CO.encode() + b'", "matter": "government_procurement", "amount": NaN}',
              b'{"subject": "' + CO.encode() + b'", "matter": "government_procurement", "amount": -Infinity}',
              b'{"subject": "\xff\xfe", "matter": "government_procurement"}', b"\xef\xbb\xbf{}",
              '{"subject": "王某", "matter": "bidding"}'.encode("gbk"),
              '{"subject": "x"}'.encode("utf-16"), b'{"subject": "\\ud800", "matter": "bidding"}',
              b'{"subject": "' + RESIDENT_IDS[0].encode() + b'", "matter": "' + RESIDENT_IDS[1].encode() + b'"}',
              b'{"subject": "' + CO.encode() + b'", "subject": "' + PERSON.encode() + b'", "matter": "bidding"}',
              b'{"result": "applied", "result": null}', b'{"reason": "' + b"r" * 100_000 + b'"}']


@st.composite
def body(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(RAW_BODIES))
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=40))
    names = draw(st.lists(st.sampled_from(FIELDS), max_size=6, unique=True))
    document: dict[str, Any] = {name: _value(draw, name) for name in names}
    if draw(st.integers(0, 7)) == 0:
        document[draw(st.sampled_from(UNKNOWN_FIELDS))] = draw(leaf)
    return _dumps(document)


PATHS = ["/v1/checks", "/v1/checks:batch", "/v1/measures", "/v1/cases", "/v1/cases/<case>",
         "/v1/cases/<case>/disposal", "/v1/cases/<case>/withdrawal", "/healthz", "/metrics", "/openapi.json"]
ODD_PATHS = ["/", "/v1", "/v1/", "/v1/checks/", "//v1/checks", "/v1/checks:batch:x", "/v1/cases/%00",
             f"/v1/cases/{RESIDENT_IDS[0]}", "/v1/cases/%E4%B8%AD", "/v1/cases/%ff", "/v1/cases/x/y",
             "/v1/cases/../checks", "/v1/cases/ffffffffffffffff/disposal", "/" + "a" * 5000, "/V1/CHECKS",
             f"/v1/measures?matter={RESIDENT_IDS[2]}", "/v1/measures?matter=lottery", "/v1/measures?matter=bidding",
             "/v1/measures?matter=", "/v1/cases?status=lost", "/v1/cases?status=responded", "/v1/cases?status=",
             "/v1/cases?status=disposed&status=x", "/v1/checks?debug=1", "/healthz?x=%ff", "/v1/cases/<prefix>",
             "/v1/cases/%20", "/v1/cases/" + "f" * 7]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
CONTENT_TYPES: list[bytes | None] = [
    b"application/json", b"application/json", b"application/json", None, b"text/plain",
    b"application/json; charset=gbk", b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x",
    b"application/json-patch+json", b"APPLICATION/JSON", b"application/\xff"]


@st.composite
def authorization(draw: st.DrawFn) -> bytes | None:
    if draw(st.integers(0, 3)):
        return b"Bearer <key>"
    key = draw(st.sampled_from(["<key>"] * 2 + ["<revoked>", "jsk_not-a-key", "", RESIDENT_IDS[0]]))
    header: bytes | None = draw(st.sampled_from([
        b"Bearer <key>", b"Bearer <key>", b"Bearer <key>", b"Bearer <key>", b"bearer <key>", b"Bearer  <key> ",
        b"Basic <key>", b"Bearer", b"Bearer ", b"<key>", b"Bearer <key> extra", b"Bearer <key>\xff", b"Bearer \xe4\xb8\xad",
        b"Bearer " + b"k" * 10_000, None]))
    return None if header is None else header.replace(b"<key>", key.encode())


@st.composite
def request(draw: st.DrawFn) -> tuple[str, str, dict[str, bytes], bytes]:
    path = draw(st.sampled_from(PATHS)) if draw(st.integers(0, 4)) else draw(st.sampled_from(ODD_PATHS))
    writes = path.startswith(("/v1/checks", "/v1/cases/<case>/")) or path.endswith(("disposal", "withdrawal"))
    method = ("POST" if writes else "GET") if draw(st.integers(0, 6)) else draw(st.sampled_from(METHODS))
    headers: dict[str, bytes] = {}
    if (auth := draw(authorization())) is not None:
        headers["Authorization"] = auth
    if method in ("POST", "PUT", "PATCH") or draw(st.integers(0, 9)) == 0:
        content_type = draw(st.sampled_from(CONTENT_TYPES))
        if content_type is not None:
            headers["Content-Type"] = content_type
        return method, path, headers, draw(body())
    return method, path, headers, b""


def _resolve(path: str, auth: dict[str, bytes], s: Served, n: int) -> tuple[str, dict[str, bytes]]:
    case_id = s.case_ids[n % len(s.case_ids)]
    path = path.replace("<case>", case_id).replace("<prefix>", case_id[:8])
    if "Authorization" in auth:
        auth = {**auth, "Authorization": auth["Authorization"].replace(b"<revoked>", s.revoked.encode())}
    return path, auth


def _assert_answer(response: httpx.Response, sent: tuple[str, str]) -> None:
    status = response.status_code
    assert status in STATUSES, (sent, status, response.text[:2000])
    text = response.content.decode("utf-8", "replace")
    assert "Traceback" not in text and 'File "' not in text, (sent, text[:2000])
    assert not leaks(text), (sent, leaks(text), text[:2000])
    assert not leaks(str(response.headers)), (sent, response.headers)
    if sent[1].startswith("/metrics") and status == 200:
        return
    document = response.json()
    if status != 200:
        assert response.headers["content-type"].startswith("application/json"), (sent, response.headers)
        assert set(document) == {"error"} and set(document["error"]) == {"code", "message"}, (sent, document)
        assert isinstance(document["error"]["code"], str) and document["error"]["code"], (sent, document)
        message = document["error"]["message"]
        assert isinstance(message, str) and message and "\n" not in message and "\x1b" not in message, (sent, document)
        assert " / " in message, (sent, message)  # English / Chinese
        # The database is up throughout: a 503 saying otherwise would take a healthy process out of rotation.
        assert document["error"]["code"] != "store_unavailable", (sent, document)
    else:
        assert isinstance(document, dict), (sent, document)


def _entries(url: str) -> int:
    """The entries in the audit log, read as another program would."""
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as lite:
            return int(lite.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    with psycopg.connect(url) as pg:
        row = pg.execute("SELECT count(*) FROM audit_log").fetchone()
        return int(row[0]) if row else 0


def _audited(method: str, path: str, response: httpx.Response) -> int:
    """The audit entries a 200 answer stands for: one per check answered."""
    path = path.partition("?")[0]
    if response.status_code != 200 or method != "POST":
        return 0
    if path == "/v1/checks":
        return 1
    if path == "/v1/checks:batch":
        return len(response.json()["results"])
    return 0


@example(sent=("POST", "/v1/checks", {"Authorization": b"Bearer <key>", "Content-Type": b"application/json"},
               RAW_BODIES[8]))
@example(sent=("POST", "/v1/checks", {"Authorization": b"Bearer <key>", "Content-Type": b"application/json"},
               RAW_BODIES[9]))
@example(sent=("POST", "/v1/checks", {"Authorization": b"Bearer <key>", "Content-Type": b"application/json"},
               RAW_BODIES[10]))
@example(sent=("POST", "/v1/checks", {"Authorization": b"Bearer <key>", "Content-Type": b"application/json"},
               RAW_BODIES[14]))
@example(sent=("POST", "/v1/checks", {"Authorization": b"Bearer <key>", "Content-Type": b"application/json"},
               _dumps({"subject": CO, "matter": GP, "at": "9999-12-31T23:59:59-12:00"})))
@example(sent=("POST", "/v1/checks", {"Authorization": b"Bearer <key>", "Content-Type": b"application/json"},
               _dumps({"subject": CO, "matter": GP, "item_code": "\ud800"})))
@example(sent=("POST", "/v1/checks:batch", {"Authorization": b"Bearer <key>", "Content-Type": b"application/json"},
               _dumps({"subjects": [CO, {"id": RESIDENT_IDS[0], "name": f"王某{RESIDENT_IDS[1]}"}], "matter": GP,
                       "department": f"经办人{RESIDENT_IDS[2]}"})))
@example(sent=("GET", "/v1/cases/%00", {"Authorization": b"Bearer <key>"}, b""))
@example(sent=("POST", "/v1/cases/a%00b/withdrawal", {"Authorization": b"Bearer <key>"}, b'{"reason": "r"}'))
@example(sent=("GET", "/v1/checks/", {"Authorization": b"Bearer <key>"}, b""))
@example(sent=("PUT", "/v1/checks", {"Authorization": b"Bearer <key>"}, b""))
@example(sent=("POST", "/v1/checks", {"Authorization": b"Bearer <key>", "Content-Type": b"application/json"},
               RAW_BODIES[16]))
@example(sent=("GET", "/v1/cases", {"Authorization": b"Bearer <revoked>"}, b""))
@given(sent=request())
@budget(500)
def test_hostile_requests_get_a_documented_answer(sent: tuple[str, str, dict[str, bytes], bytes],
                                                  served: Served) -> None:
    """Any method, path, header and body: a documented status, the error body on refusal (one line,
    English / Chinese), never 500, a stack trace or a resident id in clear."""
    method, path, headers, content = sent
    path, headers = _resolve(path, headers, served, len(content))
    # stripped: HTTP itself (the client) refuses a header value with a space at either end
    headers = {name: value.replace(b"<key>", served.key.encode()).strip() for name, value in headers.items()}
    response = served.server.client.request(method, path, headers=headers, content=content)
    count(AREA, "requests")
    count(AREA, f"status {response.status_code}")
    _assert_answer(response, (method, path))
    served.audited += _audited(method, path, response)
    entries = _entries(served.url)
    assert entries == served.audited, (method, path, headers, content[:500], response.status_code, response.text[:500])


@pytest.mark.parametrize("field", ["reason", "text", "department", "name", "item_code", "subject", "matter"])
def test_a_lone_surrogate_in_any_text_field_is_400(field: str, served: Served) -> None:
    """A JSON string escaping half a surrogate pair (``"\\ud800"``, text no UTF-8 can hold) in any
    field is bad input (400) on a case that could take the request, never a 500 from the database."""
    server, key = served.server, served.key
    opened = server.call("POST", "/v1/checks", key=key, json={"subject": CO, "matter": GP,
                                                              "application_no": f"SURROGATE-{field}"})
    assert opened.status_code == 200, opened.text
    served.audited += 1
    case_id = opened.json()["case_id"]
    lone = b'"\\ud800"'
    if field in ("reason", "text", "department"):
        body = b'{"result": "applied", "' + field.encode() + b'": ' + lone + b"}"
        path = f"/v1/cases/{case_id}/" + ("withdrawal" if field == "reason" else "disposal")
        if field == "reason":
            body = b'{"reason": ' + lone + b"}"
    else:
        fields = {"subject": b'"' + CO.encode() + b'"', "matter": b'"government_procurement"',
                  "application_no": b'"SURROGATE-again"'}
        if field == "name":
            fields["subject"] = b'{"id": "' + CO.encode() + b'", "name": ' + lone + b"}"
        else:
            fields[field] = lone
        body = b"{" + b", ".join(b'"' + k.encode() + b'": ' + v for k, v in fields.items()) + b"}"
        path = "/v1/checks"
    response = server.call("POST", path, key=key, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert set(response.json()["error"]) == {"code", "message"}
    assert server.call("GET", f"/v1/cases/{case_id}", key=key).json()["status"] == "responded"


def test_after_the_hostile_requests_the_server_is_up_and_the_audit_log_verifies(served: Served) -> None:
    """Run after the property (same module): the server still answers, and ``audit verify`` finds a
    whole chain with one entry per check answered 200."""
    assert served.server.process.poll() is None
    assert served.server.call("GET", "/healthz").status_code == 200
    done = cli("audit", "verify", "--json", "--db", served.url, cwd=served.server.log.parent)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["entries"] == served.audited, report
    log = served.server.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log and not leaks(log), log[-3000:]


def test_an_unforeseen_error_is_500_with_the_error_body_and_one_masked_log_line(tmp_path: Path) -> None:
    """An exception no handler knows (here a check that raises, quoting a resident id) is answered 500
    ``internal_error`` with the error body, logged as one event with the id masked, and never reaches
    the server's own error log as a traceback."""
    import asyncio

    from structlog.testing import capture_logs

    from joint_sanctions._server._app import create_app
    from joint_sanctions._server._service import ServeConfig, Service

    class Failing(Service):
        def check(self, request: Any, caller: str) -> Any:
            raise RuntimeError(f"unforeseen for {RESIDENT_IDS[0]}")

    url = loop_db(tmp_path / "unforeseen.db")
    key = server_key(url, "fuzz-platform", tmp_path)
    service = Failing(ServeConfig(db=url, measures=[str(FIXTURE)]))

    async def post() -> httpx.Response:
        # raise_app_exceptions: any exception that reaches the server fails the test here
        transport = httpx.ASGITransport(app=create_app(service=service), raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/v1/checks", json={"subject": CO, "matter": GP},
                                     headers={"Authorization": f"Bearer {key}"})

    try:
        with capture_logs() as logs:
            response = asyncio.run(post())
    finally:
        service.close()
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error",
                                         "message": "internal error; it is logged / 内部错误，已记录"}}
    failed = [e for e in logs if e["event"] == "request_failed"]
    assert len(failed) == 1 and failed[0]["error"] == "RuntimeError", logs
    assert not leaks(str(logs)) and RESIDENT_IDS[0][:4] in failed[0]["message"]


@pytest.mark.parametrize("where", ["unknown host", "port in use"])
def test_serve_on_an_address_it_cannot_listen_on_is_one_line_exit_1(where: str, tmp_path: Path) -> None:
    """``serve`` on a host name that does not resolve, or a port another process holds, says so in one
    line, English / Chinese, and exits 1 (uvicorn alone printed its own English line and exited 3)."""
    import socket

    url = loop_db(tmp_path / "bind.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        host, port = ("no-such-host.invalid", "8080") if where == "unknown host" else \
            ("127.0.0.1", str(taken.getsockname()[1]))
        done = cli("serve", "--db", url, "--host", host, "--port", port, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("joint-sanctions: error: ") and " / " in lines[0] and host in lines[0], lines
