"""Where cases live: the closed loop's tables and their migrations, and :class:`SqlCaseBackend`, the
:class:`~joint_sanctions._case_model.CaseBackend` of every :class:`~._sql.SqlStore`.

Every statement is written once, with ``:name`` parameters; what SQLite and PostgreSQL spell
differently comes from the store's :class:`~._sql.Dialect`. They differ in how a claim picks its
record: SQLite's ``BEGIN IMMEDIATE`` admits one writer at a time, PostgreSQL locks the picked row
with ``FOR UPDATE SKIP LOCKED`` so concurrent claimants pass each other by. Compare-and-set steps keep
their ``WHERE status = …`` guard, which PostgreSQL re-checks on the locked row at READ COMMITTED.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .._case_model import ClaimedRow, Event, NewCase
from .._errors import StoreError
from ._sql import Dialect, Migration

if TYPE_CHECKING:
    from ._sql import SqlStore

__all__ = ["SqlCaseBackend", "case_migrations"]


# The cases table's columns as cases-0001 created them (``{key}``: the dialect's text key type):
# SQLite's cases-0002 rebuilds the table from them.
_CASE_COLUMNS_0001 = """case_id           {key} NOT NULL PRIMARY KEY,
               check_id          TEXT NOT NULL,
               status            TEXT NOT NULL,
               decision          TEXT NOT NULL,
               revision          TEXT NOT NULL,
               matter_type       TEXT NOT NULL,
               kind              TEXT NOT NULL,
               subject_id        TEXT NOT NULL,
               subject_shown_id  TEXT NOT NULL,
               subject_id_kind   TEXT NOT NULL,
               subject_name      TEXT NOT NULL,
               subject_type      TEXT NOT NULL,
               matter            TEXT NOT NULL,
               measures          TEXT NOT NULL,
               hits              TEXT NOT NULL,
               initiated_at      {key} NOT NULL,
               responded_at      {key} NOT NULL,
               result            TEXT,
               result_text       TEXT,
               reason            TEXT,
               description       TEXT,
               department        TEXT,
               department_code   TEXT,
               disposed_at       TEXT,
               disposed_month    TEXT"""
_CASE_COLUMN_NAMES_0001 = tuple(line.split()[0] for line in _CASE_COLUMNS_0001.split(","))
_CASE_CHECKS_0001 = (
    "CHECK (status IN ('responded', 'disposed', 'fed_back', 'rejected'))",
    "CHECK (result IN ('applied', 'not_applied', 'partially_applied'))",
    "CHECK ((status = 'responded') = (result IS NULL))",
    "CHECK (result <> 'not_applied' OR reason IS NOT NULL)",
)
# The cases table's constraints from cases-0002 on: a withdrawn case, like a responded one, has no
# disposal, and carries the reason and time of its withdrawal.
_CASE_CHECKS_0002 = (
    "CONSTRAINT cases_status_known CHECK (status IN ('responded', 'disposed', 'fed_back', 'rejected', 'withdrawn'))",
    "CONSTRAINT cases_result_known CHECK (result IN ('applied', 'not_applied', 'partially_applied'))",
    "CONSTRAINT cases_disposal_iff_disposed CHECK ((status IN ('responded', 'withdrawn')) = (result IS NULL))",
    "CONSTRAINT cases_not_applied_reason CHECK (result <> 'not_applied' OR reason IS NOT NULL)",
    ("CONSTRAINT cases_withdrawal "
     "CHECK ((status = 'withdrawn') = (withdrawn_at IS NOT NULL AND withdrawal_reason IS NOT NULL))"),
)


def _backfill_open_keys(d: Dialect) -> tuple[str, str]:
    """Statements that give the responded cases opened before cases-0002 their open key (the text
    :func:`~joint_sanctions._case_model.open_key` computes).

    Where several responded cases share a key (opened twice before this migration), the oldest
    (initiated, responded, case id) keeps it and the later ones keep none: they stay responded and
    can still be disposed or withdrawn, but a new check returns the oldest.
    """
    def part(name: str) -> str:
        value = d.json_field.format(column="matter", name=name)
        return f"CASE WHEN {value} IS NULL THEN '-' ELSE CAST(length({value}) AS TEXT) || ':' || {value} END"

    key = f"subject_id || '|' || matter_type || '|' || {part('item_code')} || '|' || {part('application_no')}"
    return (f"UPDATE cases SET open_key = {key} WHERE status = 'responded'",
            ("UPDATE cases SET open_key = NULL WHERE open_key IS NOT NULL AND EXISTS ("
             "SELECT 1 FROM cases o WHERE o.open_key = cases.open_key AND o.status = 'responded' "
             "AND (o.initiated_at, o.responded_at, o.case_id) < (cases.initiated_at, cases.responded_at, "
             "cases.case_id))"))


def _cases_0002(d: Dialect) -> tuple[str, ...]:
    """One case per matter, and withdrawal."""
    unique_open = f"CREATE UNIQUE INDEX cases_open ON cases ({d.open_key_indexed.format('open_key')}) " \
                  "WHERE status = 'responded'"
    if d.name == "sqlite":
        # SQLite cannot change a table's CHECK constraints, so the cases table is rebuilt (no foreign
        # key enforcement is on, so the tables referring to it keep their rows and references).
        return (
            f"""CREATE TABLE cases_0002 (
                   {_CASE_COLUMNS_0001.format(key=d.key_text)},
                   open_key          TEXT,
                   withdrawal_reason TEXT,
                   withdrawn_at      TEXT,
                   {", ".join(_CASE_CHECKS_0002)}
               )""",
            (f"INSERT INTO cases_0002 ({', '.join(_CASE_COLUMN_NAMES_0001)}) "
             f"SELECT {', '.join(_CASE_COLUMN_NAMES_0001)} FROM cases"),
            "DROP TABLE cases",
            "ALTER TABLE cases_0002 RENAME TO cases",
            "CREATE INDEX cases_status ON cases (status, initiated_at)",
            "CREATE INDEX cases_initiated ON cases (initiated_at, responded_at, case_id)",
            "CREATE INDEX cases_subject ON cases (subject_id, matter_type)",
            *_backfill_open_keys(d),
            unique_open,
        )
    return (
        # cases-0001's CHECK constraints carry names PostgreSQL chose: find them rather than guess.
        """DO $$
           DECLARE found record;
           BEGIN
             FOR found IN SELECT conname FROM pg_constraint
                          WHERE conrelid = 'cases'::regclass AND contype = 'c' LOOP
               EXECUTE 'ALTER TABLE cases DROP CONSTRAINT ' || quote_ident(found.conname);
             END LOOP;
           END $$""",
        "ALTER TABLE cases ADD COLUMN open_key TEXT, ADD COLUMN withdrawal_reason TEXT, "
        "ADD COLUMN withdrawn_at TEXT, " + ", ".join(f"ADD {check}" for check in _CASE_CHECKS_0002),
        "CREATE INDEX cases_subject ON cases (subject_id, matter_type)",
        *_backfill_open_keys(d),
        unique_open,
    )


def case_migrations(d: Dialect) -> tuple[Migration, ...]:
    """The case book's schema in dialect ``d``, oldest first. Append; never edit an applied migration."""
    return (
        Migration("cases-0001", (
            f"""CREATE TABLE cases (
                   {_CASE_COLUMNS_0001.format(key=d.key_text)},
                   {", ".join(_CASE_CHECKS_0001)}
               )""",
            "CREATE INDEX cases_status ON cases (status, initiated_at)",
            "CREATE INDEX cases_initiated ON cases (initiated_at, responded_at, case_id)",
            f"""CREATE TABLE case_measures (
                   case_id    {d.key_text} NOT NULL REFERENCES cases (case_id),
                   measure_id TEXT NOT NULL,
                   kind       TEXT NOT NULL,
                   PRIMARY KEY (case_id, measure_id)
               )""",
            f"""CREATE TABLE case_lists (
                   case_id   {d.key_text} NOT NULL REFERENCES cases (case_id),
                   list_type TEXT NOT NULL,
                   PRIMARY KEY (case_id, list_type)
               )""",
            f"""CREATE TABLE case_events (
                   id          {d.serial_key},
                   case_id     {d.key_text} NOT NULL,
                   from_status TEXT,
                   to_status   TEXT NOT NULL,
                   at          TEXT NOT NULL,
                   actor       TEXT NOT NULL,
                   detail      TEXT NOT NULL
               )""",
            "CREATE INDEX case_events_case ON case_events (case_id, id)",
            # One row per disposed case. The payload is frozen at disposal so every resend carries the
            # same bytes under the same Idempotency-Key.
            f"""CREATE TABLE feedback_outbox (
                   case_id          {d.key_text} NOT NULL PRIMARY KEY REFERENCES cases (case_id),
                   payload          TEXT NOT NULL,
                   state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'rejected')),
                   enqueued_at      {d.real} NOT NULL,
                   attempts         INTEGER NOT NULL DEFAULT 0,
                   next_attempt_at  {d.real} NOT NULL,
                   last_attempt_at  {d.real},
                   last_error       TEXT,
                   status_code      INTEGER,
                   claimed_by       TEXT,
                   claim_token      TEXT,
                   claim_expires_at {d.real},
                   finished_at      {d.real}
               )""",
            "CREATE INDEX feedback_outbox_due ON feedback_outbox (state, next_attempt_at)",
        )),
        Migration("cases-0002", _cases_0002(d)),
        # How current the lists were that answered the check (docs/failing-closed.md): {list type: ISO
        # time}. It comes after cases-0002, whose SQLite rebuild copies only the columns of cases-0001.
        Migration("cases-data-as-of", ("ALTER TABLE cases ADD COLUMN data_as_of TEXT NOT NULL DEFAULT '{}'",)),
        # Who asked for the check that opened the case (an HTTP key's name, docs/http.md); NULL before.
        Migration("cases-0003", ("ALTER TABLE cases ADD COLUMN caller TEXT",)),
    )


_CASE_INSERT_COLUMNS = ("case_id", "check_id", "status", "decision", "revision", "matter_type", "kind",
                        "subject_id", "subject_shown_id", "subject_id_kind", "subject_name",
                        "subject_type", "matter", "measures", "hits", "initiated_at", "responded_at",
                        "open_key", "data_as_of", "caller")
# The only columns a disposal may set: steps are never free-form updates.
_DISPOSAL_COLUMNS = frozenset({"result", "result_text", "reason", "description", "department",
                               "department_code", "disposed_at", "disposed_month"})
_SELECT_CASE = """SELECT c.*, o.attempts, o.last_attempt_at, o.next_attempt_at, o.last_error,
                         o.status_code, o.claimed_by, o.finished_at, o.state AS outbox_state
                  FROM cases c LEFT JOIN feedback_outbox o ON o.case_id = c.case_id"""
# The casts give PostgreSQL a type for a parameter that may be NULL; SQLite reads them as REAL.
_CLAIMABLE = """state = 'pending'
                AND (CAST(:due_by AS DOUBLE PRECISION) IS NULL OR next_attempt_at <= :due_by)
                AND (CAST(:tried_before AS DOUBLE PRECISION) IS NULL OR last_attempt_at IS NULL
                     OR last_attempt_at < :tried_before)"""
_QUEUE_FEEDBACK = ("INSERT INTO feedback_outbox (case_id, payload, state, enqueued_at, next_attempt_at) "
                   "VALUES (:case_id, :payload, 'pending', :at, :at)")
_MOVE_CASE = "UPDATE cases SET status = :to_status WHERE case_id = :case_id AND status = :from_status"
_INSERT_EVENT = ("INSERT INTO case_events (case_id, from_status, to_status, at, actor, detail) "
                 "VALUES (:case_id, :from_status, :to_status, :at, :actor, :detail)")


class SqlCaseBackend:
    """The :class:`~joint_sanctions._case_model.CaseBackend` in a :class:`~._sql.SqlStore`'s database.

    Applies :func:`case_migrations` when created, and runs every statement through the store's read
    and write transactions. Several processes may deliver from one database: a PostgreSQL claim locks
    the record it picks with ``FOR UPDATE SKIP LOCKED``, so two claimants never pick the same one.

    Raises:
        StoreError: the migrations or any later statement fail.
    """

    #: Attempts to insert-or-find before giving up: a found case may be disposed or withdrawn between
    #: the refused insert and the read (PostgreSQL), after which the insert succeeds.
    _OPEN_ATTEMPTS = 5

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._dialect = store.dialect
        store.migrate(case_migrations(store.dialect))

    def _reading(self) -> contextlib.AbstractContextManager[Any]:
        return self._store.reading()

    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        return self._store.transaction()

    def _sql(self, statement: str) -> str:
        """``statement`` with its ``:name`` parameters in the driver's spelling."""
        return self._dialect.sql(statement)

    def _execute(self, conn: Any, statement: str, params: Mapping[str, Any]) -> Any:
        return conn.execute(self._sql(statement), params)

    def _execute_many(self, conn: Any, statement: str, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:  # a case has a handful of measures and lists
            self._execute(conn, statement, row)

    @staticmethod
    def _rows(cursor: Any) -> builtins.list[dict[str, Any]]:
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def insert_case(self, row: Mapping[str, Any], measures: Sequence[tuple[str, str]],
                    list_types: Sequence[str], event: Event) -> tuple[str, bool]:
        with self._writing() as conn:
            return self._insert_case(conn, row, measures, list_types, event)

    def insert_cases(self, cases: Sequence[NewCase]) -> builtins.list[tuple[str, bool]]:
        with self._writing() as conn:
            return [self._insert_case(conn, c.row, c.measures, c.list_types, c.event) for c in cases]

    def _insert_case(self, conn: Any, row: Mapping[str, Any], measures: Sequence[tuple[str, str]],
                     list_types: Sequence[str], event: Event) -> tuple[str, bool]:
        columns = ", ".join(_CASE_INSERT_COLUMNS)
        values = ", ".join(f":{c}" for c in _CASE_INSERT_COLUMNS)
        indexed = self._dialect.open_key_indexed.format("open_key")
        insert = (f"INSERT INTO cases ({columns}) VALUES ({values}) "
                  f"ON CONFLICT ({indexed}) WHERE status = 'responded' DO NOTHING RETURNING case_id")
        holder = (f"SELECT case_id FROM cases WHERE {indexed} = "
                  f"{self._dialect.open_key_indexed.format('CAST(:open_key AS TEXT)')} "
                  "AND open_key = :open_key AND status = 'responded'")
        case_id = row["case_id"]
        for _ in range(self._OPEN_ATTEMPTS):
            if self._execute(conn, insert, row).fetchone() is not None:
                break
            # The insert waited for (PostgreSQL) or came after (SQLite) the case holding the key;
            # this statement sees it committed, unless it has moved on since.
            found = self._execute(conn, holder, {"open_key": row["open_key"]}).fetchone()
            if found is not None:
                return str(found[0]), False
        else:
            raise StoreError(f"case {case_id}: the open case of its matter kept changing; try again")
        self._execute_many(conn, "INSERT INTO case_measures (case_id, measure_id, kind) "
                                 "VALUES (:case_id, :measure_id, :kind)",
                           [{"case_id": case_id, "measure_id": mid, "kind": kind} for mid, kind in measures])
        self._execute_many(conn, "INSERT INTO case_lists (case_id, list_type) VALUES (:case_id, :list_type)",
                           [{"case_id": case_id, "list_type": lt} for lt in list_types])
        self._execute(conn, _INSERT_EVENT, asdict(event))
        return case_id, True

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        with self._reading() as conn:
            rows = self._rows(self._execute(conn, f"{_SELECT_CASE} WHERE c.case_id = :case_id",
                                            {"case_id": case_id}))
        return rows[0] if rows else None

    def list_cases(self, status: str | None, subject_id: str | None = None, matter_type: str | None = None,
                   since: str | None = None) -> builtins.list[dict[str, Any]]:
        params = {"status": status, "subject_id": subject_id, "matter_type": matter_type, "since": since}
        tests = {"status": "c.status = :status", "subject_id": "c.subject_id = :subject_id",
                 "matter_type": "c.matter_type = :matter_type", "since": "c.initiated_at >= :since"}
        used = [tests[name] for name, value in params.items() if value is not None]
        where = f"WHERE {' AND '.join(used)} " if used else ""
        with self._reading() as conn:
            return self._rows(self._execute(
                conn, f"{_SELECT_CASE} {where}ORDER BY c.initiated_at, c.responded_at, c.case_id", params))

    def case_ids_from(self, prefix: str, limit: int) -> builtins.list[str]:
        with self._reading() as conn:
            rows = self._execute(conn, "SELECT case_id FROM cases WHERE case_id >= :prefix "
                                       "ORDER BY case_id LIMIT :limit", {"prefix": prefix, "limit": limit})
            return [str(r[0]) for r in rows.fetchall()]

    def check_ids(self, case_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._reading() as conn:
            for start in range(0, len(case_ids), 500):  # within every driver's parameter limit
                params = {f"c{i}": case_id for i, case_id in enumerate(case_ids[start:start + 500])}
                rows = self._execute(conn, f"SELECT case_id, check_id FROM cases WHERE case_id IN "
                                           f"({', '.join(f':{name}' for name in params)})", params)
                found.update((str(case_id), str(check_id)) for case_id, check_id in rows.fetchall())
        return found

    def withdraw(self, case_id: str, from_status: str, to_status: str, reason: str, at: str,
                 event: Event) -> bool:
        return self._step(event, "UPDATE cases SET status = :to_status, withdrawal_reason = :reason, "
                                 "withdrawn_at = :at WHERE case_id = :case_id AND status = :from_status",
                          {"to_status": to_status, "reason": reason, "at": at, "case_id": case_id,
                           "from_status": from_status})

    def _step(self, event: Event, guarded: str, params: Mapping[str, Any],
              *then: tuple[str, Mapping[str, Any]]) -> bool:
        """One compare-and-set step in one transaction: the ``guarded`` update, and only when it
        changed a row, the statements ``then`` and the audit ``event``.

        Returns:
            False, with nothing changed, when the guard matched no row.
        """
        with self._writing() as conn:
            if not self._execute(conn, guarded, params).rowcount:
                return False
            for statement, values in then:
                self._execute(conn, statement, values)
            self._execute(conn, _INSERT_EVENT, asdict(event))
        return True

    def get_payload(self, case_id: str) -> str | None:
        with self._reading() as conn:
            row = self._execute(conn, "SELECT payload FROM feedback_outbox WHERE case_id = :case_id",
                                {"case_id": case_id}).fetchone()
        return None if row is None else str(row[0])

    def dispose(self, case_id: str, from_status: str, to_status: str, columns: Mapping[str, Any],
                payload: str, enqueued_at: float, event: Event) -> bool:
        unknown = set(columns) - _DISPOSAL_COLUMNS
        if unknown:
            raise ValueError(f"not disposal columns: {sorted(unknown)}")
        assignments = ", ".join(f"{c} = :{c}" for c in columns)
        params = {**columns, "case_id": case_id, "from_status": from_status, "to_status": to_status}
        return self._step(event, f"UPDATE cases SET status = :to_status, {assignments} "
                                 "WHERE case_id = :case_id AND status = :from_status", params,
                          (_QUEUE_FEEDBACK, {"case_id": case_id, "payload": payload, "at": enqueued_at}))

    def claim(self, owner: str, token: str, now: float, lease_until: float, due_by: float | None,
              tried_before: float | None) -> ClaimedRow | None:
        params = {"owner": owner, "token": token, "now": now, "lease_until": lease_until,
                  "due_by": due_by, "tried_before": tried_before}
        free = "(claimed_by IS NULL OR claim_expires_at <= :now)"
        with self._writing() as conn:
            # SQLite's BEGIN IMMEDIATE admits one writer at a time, so the pick and the update are
            # one step; PostgreSQL locks the picked row, and re-checks the outer guard on it.
            row = self._execute(conn,
                "UPDATE feedback_outbox SET claimed_by = :owner, claim_token = :token, "
                "claim_expires_at = :lease_until "
                f"WHERE {free} AND case_id = (SELECT case_id FROM feedback_outbox "
                f"  WHERE {_CLAIMABLE} AND {free} "
                f"  ORDER BY next_attempt_at, enqueued_at, case_id LIMIT 1{self._dialect.lock_picked_row}) "
                "RETURNING case_id, payload, attempts", params).fetchone()
        return None if row is None else ClaimedRow(case_id=row[0], payload=row[1], attempts=row[2])

    def live_claims(self, now: float) -> builtins.list[tuple[str, str, str]]:
        with self._reading() as conn:
            rows = self._execute(conn, "SELECT case_id, claimed_by, claim_token FROM feedback_outbox "
                                       "WHERE state = 'pending' AND claimed_by IS NOT NULL "
                                       "AND claim_expires_at > :now", {"now": now}).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def release(self, case_id: str, token: str) -> bool:
        with self._writing() as conn:
            return bool(self._execute(conn,
                "UPDATE feedback_outbox SET claimed_by = NULL, claim_token = NULL, claim_expires_at = NULL "
                "WHERE case_id = :case_id AND claim_token = :token",
                {"case_id": case_id, "token": token}).rowcount)

    def record_failure(self, case_id: str, token: str, attempted_at: float, error: str,
                       next_attempt_at: float, lease_until: float | None) -> bool:
        keep = lease_until is not None
        with self._writing() as conn:
            return bool(self._execute(conn,
                "UPDATE feedback_outbox SET attempts = attempts + 1, last_attempt_at = :at, "
                "last_error = :error, next_attempt_at = :next, "
                "claimed_by = CASE WHEN :keep THEN claimed_by END, "
                "claim_token = CASE WHEN :keep THEN claim_token END, "
                "claim_expires_at = :lease_until "
                "WHERE case_id = :case_id AND claim_token = :token AND state = 'pending'",
                {"at": attempted_at, "error": error, "next": next_attempt_at, "keep": keep,
                 "lease_until": lease_until, "case_id": case_id, "token": token}).rowcount)

    def finish(self, case_id: str, from_status: str, to_status: str, outbox_state: str,
               attempted_at: float, status_code: int | None, error: str | None, event: Event) -> bool:
        # Not fenced by the claim token: an answer from the platform is a fact whoever holds the claim
        # now (a run whose lease ran out may still hear back).
        return self._step(event,
                          "UPDATE feedback_outbox SET state = :state, attempts = attempts + 1, "
                          "last_attempt_at = :at, status_code = :code, last_error = :error, finished_at = :at, "
                          "claimed_by = NULL, claim_token = NULL, claim_expires_at = NULL "
                          "WHERE case_id = :case_id AND state = 'pending'",
                          {"state": outbox_state, "at": attempted_at, "code": status_code, "error": error,
                           "case_id": case_id},
                          (_MOVE_CASE, {"to_status": to_status, "case_id": case_id, "from_status": from_status}))

    def count_waiting(self, tried_before: float | None) -> int:
        with self._reading() as conn:
            # Every record still to try counts, held or not: a lease that ran out after the
            # caller's last claim attempt leaves a record that the next attempt will take.
            return int(self._execute(conn, f"SELECT COUNT(*) FROM feedback_outbox WHERE {_CLAIMABLE}",
                                     {"due_by": None, "tried_before": tried_before}).fetchone()[0])

    def count_by_status(self) -> dict[str, int]:
        with self._reading() as conn:
            rows = self._execute(conn, "SELECT status, COUNT(*) FROM cases GROUP BY status", {}).fetchall()
        return {s: int(n) for s, n in rows}

    def effective_breakdowns(self, statuses: Sequence[str]) -> dict[str, dict[str, int]]:
        params = {f"s{i}": s for i, s in enumerate(statuses)}
        effective = f"c.status IN ({', '.join(f':{name}' for name in params)})"
        queries = {
            "month": f"SELECT c.disposed_month, COUNT(*) FROM cases c WHERE {effective} GROUP BY 1",
            "department": f"SELECT COALESCE(c.department, 'unspecified'), COUNT(*) FROM cases c "
                          f"WHERE {effective} GROUP BY 1",
            "result": f"SELECT c.result, COUNT(*) FROM cases c WHERE {effective} GROUP BY 1",
            "measure": f"SELECT m.measure_id, COUNT(*) FROM case_measures m "
                       f"JOIN cases c ON c.case_id = m.case_id WHERE {effective} GROUP BY 1",
            "list_type": f"SELECT l.list_type, COUNT(*) FROM case_lists l "
                         f"JOIN cases c ON c.case_id = l.case_id WHERE {effective} GROUP BY 1",
        }
        with self._reading() as conn:
            return {name: {str(k): int(n) for k, n in self._execute(conn, sql, params).fetchall()}
                    for name, sql in queries.items()}
