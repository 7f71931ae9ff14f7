"""Set-based re-screening: every registered subject against the records at once (a nightly job).

A host registers the subjects it keeps (suppliers, grantees, licence holders) with
:func:`register_subjects`. :func:`rescreen` then works out, for all of them in one SQL statement
(``registered_subjects LEFT JOIN credit_records`` grouped by subject, the same text in SQLite and
PostgreSQL), the sorted set of list types with a record active on the day, reports each subject whose
set differs from the one stored by the previous run, and stores the new sets::

    before            after                          kind
    (none)            court_defaulter                newly_listed (also at a subject's first run)
    court_defaulter   court_defaulter,wage_arrears   changed
    wage_arrears      (none)                         delisted

Only a subject's own records count (a check also follows related parties), incentive lists included.
The registry lives in the record store's database (``rescreen-0001``, applied on first use): any
:class:`~joint_sanctions.stores.SqlStore` (SQLite, PostgreSQL), its statements written once over the
store's dialect.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from . import _identifiers as identifiers
from ._check import SubjectLike, coerce_subject
from ._list_types import Period, Policies, add_period
from ._logging import get_logger
from ._models import CST
from .stores import RecordStore, SqlStore
from .stores._sql import Dialect, Migration, sql_store_of, temp_table
from .vocabulary import LIST_TYPES

__all__ = ["ChangeKind", "RescreenReport", "StatusChange", "register_subjects", "rescreen"]

_log = get_logger()

ChangeKind = Literal["newly_listed", "changed", "delisted"]

_BATCH_SIZE = 10_000  # subjects per registration transaction


@dataclass(frozen=True)
class StatusChange:
    """A registered subject whose active list types differ from the previous run's.

    Attributes:
        subject_id: the normalised id, unmasked (the host acts on it); ``repr`` masks it.
        before: list types active at the previous run, sorted; empty when none or never screened.
        after: list types active now, sorted; empty when none.
    """

    subject_id: str
    name: str
    subject_type: str | None
    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def kind(self) -> ChangeKind:
        """``newly_listed`` (on no list before), ``delisted`` (on none now), else ``changed``."""
        if not self.before:
            return "newly_listed"
        return "changed" if self.after else "delisted"

    def __repr__(self) -> str:
        return (f"StatusChange({identifiers.mask(self.subject_id)!r}, {self.kind}, "
                f"before={self.before!r}, after={self.after!r})")


@dataclass(frozen=True)
class RescreenReport:
    """What one :func:`rescreen` run found.

    Attributes:
        day: the day records were counted on.
        screened: how many registered subjects were screened.
        changes: the subjects whose status changed, ordered by subject id.
    """

    day: dt.date
    screened: int
    changes: tuple[StatusChange, ...]

    @property
    def newly_listed(self) -> tuple[StatusChange, ...]:
        """Changes of subjects that were on no list before."""
        return self._of("newly_listed")

    @property
    def changed(self) -> tuple[StatusChange, ...]:
        """Changes of subjects listed before and now, on other list types."""
        return self._of("changed")

    @property
    def delisted(self) -> tuple[StatusChange, ...]:
        """Changes of subjects that are on no list any more."""
        return self._of("delisted")

    def _of(self, kind: ChangeKind) -> tuple[StatusChange, ...]:
        return tuple(change for change in self.changes if change.kind == kind)


# --- SQL, written once over the store's dialect -----------------------------------------------------

# One MAX(CASE …) per list type in sorted order: the sorted, comma-separated set in plain SQL, where
# string_agg(… ORDER BY …) is PostgreSQL's and group_concat has no order before SQLite 3.44. The
# list types are the vocabulary's fixed ids, safe to write into the statement.
_STATUS = ("rtrim(" + " || ".join(f"COALESCE(MAX(CASE WHEN r.list_type = '{t}' THEN '{t},' END), '')"
                                   for t in sorted(LIST_TYPES)) + ", ',')")
_SCREEN = f"""INSERT INTO rescreen_now (subject_id, status)
    SELECT s.subject_id, {_STATUS}
    FROM registered_subjects s
    LEFT JOIN credit_records r
      ON r.subject_id = s.subject_id AND r.listed_on <= :day
         AND (r.expires_on IS NULL OR :day < r.expires_on) AND (r.status = 'active' OR :day < r.ended_on)
         {{past_maximum}}
    {{where}}
    GROUP BY s.subject_id"""
# NULL (never screened) and '' (on no list) both mean "not listed before".
_CHANGES = """SELECT s.subject_id, s.name, s.subject_type, COALESCE(s.last_status, ''), n.status
    FROM registered_subjects s JOIN rescreen_now n ON n.subject_id = s.subject_id
    WHERE COALESCE(s.last_status, '') <> n.status
    ORDER BY s.subject_id"""
_RECORD = """UPDATE registered_subjects SET last_status = n.status, last_screened_on = :day
    FROM rescreen_now n WHERE registered_subjects.subject_id = n.subject_id"""
_LOAD = "registered_subjects_load"
# A name or type left out when registering again keeps the one stored. WHERE true: SQLite would
# read ON CONFLICT as a join's ON without it.
_REGISTER = (
    "INSERT INTO registered_subjects (subject_id, name, subject_type, registered_at) "
    f"SELECT subject_id, name, subject_type, {{now}} FROM {_LOAD} WHERE true "
    "ON CONFLICT (subject_id) DO UPDATE SET "
    "name = CASE WHEN excluded.name = '' THEN registered_subjects.name ELSE excluded.name END, "
    "subject_type = COALESCE(excluded.subject_type, registered_subjects.subject_type)")


def _migration(d: Dialect) -> Migration:
    return Migration("rescreen-0001", (
        # PostgreSQL's fillfactor leaves room on each page, so the nightly update of every row can
        # stay on its page (a HOT update: no index touched).
        f"""CREATE TABLE registered_subjects (
               subject_id       {d.key_text} NOT NULL PRIMARY KEY,
               name             TEXT NOT NULL,
               subject_type     TEXT,
               registered_at    {d.time} NOT NULL,
               last_status      TEXT,
               last_screened_on {d.date}
           ){d.table_options(without_rowid=True, fillfactor=80)}""",
    ))


def _prepared(store: RecordStore) -> SqlStore:
    """The store's SQL side, with the registry's migration applied."""
    sql_store = sql_store_of(store, "re-screening")
    sql_store.migrate([_migration(sql_store.dialect)])
    return sql_store


def register_subjects(store: RecordStore, subjects: Iterable[SubjectLike]) -> int:
    """Add subjects to the registry, or update the name and type of those already in it.

    A subject registered again keeps its last status; a name or type not given keeps the stored one.

    Args:
        store: a SQLite or PostgreSQL store; the registry is created in its database on first use.
        subjects: :class:`~joint_sanctions._models.Subject` models, mappings with ``id`` (and
            ``name``, ``subject_type``) or bare ids; a lazy iterable is read in batches.

    Returns:
        How many subjects were given (one repeated id counts each time; its last entry wins).

    Raises:
        CheckError: a subject's id is not a valid USCC or resident id; batches before it are kept.
        StoreError: the store is of another kind, or its database failed.
    """
    sql_store = _prepared(store)
    dialect = sql_store.dialect
    create_load = temp_table(dialect, _LOAD, "subject_id TEXT, name TEXT, subject_type TEXT")
    register = dialect.sql(_REGISTER.format(now=dialect.now))
    given = 0
    pending = iter(subjects)
    while batch := list(itertools.islice(pending, _BATCH_SIZE)):
        # ON CONFLICT may not touch one row twice in a statement: the last entry of an id wins.
        rows = {s.id: (s.id, s.name, s.subject_type) for s in map(coerce_subject, batch)}
        with sql_store.transaction() as conn:
            # The batch goes into a load table the fastest way the database has, then is merged in
            # one statement.
            conn.execute(create_load)
            sql_store.copy_rows(conn, _LOAD, ("subject_id", "name", "subject_type"), rows.values())
            conn.execute(register, dialect.clock(dt.datetime.now(dt.UTC)))
            conn.execute(f"DROP TABLE {_LOAD}")
        given += len(batch)
    _log.info("subjects_registered", count=given)
    return given


def _last_listing_ended(period: Period, day: dt.date) -> dt.date:
    """The latest listed_on whose open-ended record has reached ``listed_on + period`` by ``day``."""
    count, unit = period
    years, months = (count, 0) if unit == "years" else (0, count) if unit == "months" else (0, 0)
    months_back = day.year * 12 + day.month - 1 - years * 12 - months
    year, month = divmod(months_back, 12)
    guess = (dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1])) if unit != "days"
             else day - dt.timedelta(days=count))
    while add_period(guess + dt.timedelta(days=1), period) <= day:  # calendar ends of months: step to the edge
        guess += dt.timedelta(days=1)
    while add_period(guess, period) > day:
        guess -= dt.timedelta(days=1)
    return guess


def _past_maximum(policies: Policies | None, day: dt.date, dialect: Dialect,
                  params: dict[str, Any]) -> str:
    """The join condition that leaves out open-ended records past their list type's confirmed maximum."""
    if policies is None or not policies.maxima:
        return ""
    parts = []
    for n, (list_type, period) in enumerate(sorted(policies.maxima.items())):
        params[f"max_type_{n}"] = list_type
        params[f"max_last_{n}"] = dialect.day(_last_listing_ended(period, day))
        parts.append(f"(r.list_type = :max_type_{n} AND r.listed_on <= :max_last_{n})")
    return f"AND NOT (r.expires_on IS NULL AND ({' OR '.join(parts)}))"


def rescreen(store: RecordStore, subjects: Collection[str] | None = None,
             day: dt.date | None = None, *, policies: Policies | None = None) -> RescreenReport:
    """Screen registered subjects against the records in one join; report and store what changed.

    The run is one write transaction. In PostgreSQL it locks out registrations and other runs only.
    On SQLite it holds the store's lock (1,000,000 subjects take seconds): give the job a store of
    its own on the same file, and checks through the engine's store go on reading meanwhile.

    Args:
        store: a SQLite or PostgreSQL store holding the registry and the records.
        subjects: ids to screen (registered ones; others are ignored); ``None`` screens every one.
        day: the day records must be active on; ``None`` is today in China Standard Time.
        policies: the list-type policy (``engine.compiled.list_types``): an open-ended record then ends at
            its list type's confirmed maximum, as a check counts it; ``None`` keeps open-ended records.

    Returns:
        The number screened and every subject whose set of active list types changed.

    Raises:
        IdentifierError: an id in ``subjects`` is not a valid USCC or resident id.
        StoreError: the store is of another kind, or its database failed; nothing is stored then.
    """
    sql_store = _prepared(store)
    dialect = sql_store.dialect
    day = day if day is not None else dt.datetime.now(CST).date()
    params: dict[str, Any] = {"day": dialect.day(day)}
    where = ""
    if subjects is not None:
        params["ids"] = dialect.ids([identifiers.parse_identifier(s)[0] for s in subjects])
        where = "WHERE " + dialect.in_list.format(column="s.subject_id", name="ids")
    with sql_store.transaction() as conn:
        if dialect.lock_table:
            # Keeps concurrent runs and registrations out while this one works (SQLite's write
            # transaction already admits one writer at a time).
            conn.execute(dialect.lock_table.format("registered_subjects"))
        # The same collation as registered_subjects.subject_id, which the joins compare it with.
        conn.execute(temp_table(dialect, "rescreen_now", f"subject_id {dialect.key_text} PRIMARY KEY, "
                                                         "status TEXT NOT NULL", key=True))
        past_maximum = _past_maximum(policies, day, dialect, params)
        screened = conn.execute(dialect.sql(_SCREEN.format(where=where, past_maximum=past_maximum)),
                                params).rowcount
        rows = conn.execute(_CHANGES).fetchall()
        conn.execute(dialect.sql(_RECORD), {"day": params["day"]})
        conn.execute("DROP TABLE rescreen_now")
    changes = tuple(StatusChange(subject_id, name, subject_type, _types(before), _types(after))
                    for subject_id, name, subject_type, before, after in rows)
    report = RescreenReport(day=day, screened=screened, changes=changes)
    _log.info("subjects_rescreened", day=day.isoformat(), screened=screened,
              newly_listed=len(report.newly_listed), changed=len(report.changed),
              delisted=len(report.delisted))
    return report


def _types(status: str) -> tuple[str, ...]:
    return tuple(status.split(",")) if status else ()
