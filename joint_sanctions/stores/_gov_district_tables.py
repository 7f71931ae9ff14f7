"""The tables of district monitoring (docs/government-integrity-districts.md), and the one record query a
district-level check needs: the bodies with a government-dishonesty record in an area.

Migrations are prefixed ``gov-districts-``. The scores table holds the third-party monitoring scores of a
district for a month, one row per (region code, month, dimension); a re-import replaces a row.
The partial index on credit_records covers government-dishonesty records only (a few per thousand), so
it costs imports next to nothing and spares a district check a scan of every record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ._base import RecordStore
from ._sql import Dialect, Migration, SqlStore, sql_store_of

__all__ = ["DistrictScore", "bodies_in", "district_migrations", "read_scores", "write_scores"]

GOVERNMENT_DISHONESTY = "government_dishonesty"


def district_migrations(d: Dialect) -> tuple[Migration, ...]:
    """The district tables in dialect ``d``, oldest first. Append; never edit an applied migration."""
    return (
        Migration("gov-districts-0001", (
            f"""CREATE TABLE gov_district_scores (
                   region_code {d.key_text} NOT NULL,
                   month       {d.key_text} NOT NULL,
                   dimension   {d.key_text} NOT NULL,
                   score       {d.real} NOT NULL,
                   source      TEXT NOT NULL,
                   imported_at {d.time} NOT NULL,
                   PRIMARY KEY (region_code, month, dimension)
               ){d.table_options(without_rowid=True)}""",
            # Covers the district query (subject_id, region_code) over government-dishonesty rows only.
            ("CREATE INDEX credit_records_gov_region ON credit_records (subject_id, region_code) "
             f"WHERE list_type = '{GOVERNMENT_DISHONESTY}'"),
        )),
    )


@dataclass(frozen=True)
class DistrictScore:
    """One third-party score: a district's score in one dimension for one month (0–100)."""

    region_code: str
    month: str
    dimension: str
    score: float
    source: str = ""


_BODIES = ("SELECT DISTINCT subject_id FROM credit_records WHERE list_type = 'government_dishonesty' "
           "AND (region_code LIKE :area OR (region_code IS NULL AND substr(subject_id, 3, 6) LIKE :area))")


def bodies_in(store: RecordStore, area: str) -> set[str]:
    """The subjects with a government-dishonesty record (whatever its status) whose region_code starts
    with ``area`` or, without one, whose id's positions 3–8 (a USCC's registration area) do.

    A candidate set: the caller keeps only the records active on its day and really in the area.
    """
    if isinstance(store, SqlStore):
        with store.reading() as conn:
            rows = conn.execute(store.dialect.sql(_BODIES), {"area": f"{area}%"}).fetchall()
        return {row[0] for row in rows}
    return {r.subject_id for r in store.iter_records() if r.list_type == GOVERNMENT_DISHONESTY}


def _migrated(store: RecordStore) -> SqlStore:
    sql = sql_store_of(store, "district monitoring / 区县监测")
    sql.migrate(district_migrations(sql.dialect))
    return sql


def write_scores(store: RecordStore, scores: Iterable[DistrictScore], when: dt.datetime) -> int:
    """Store ``scores`` (replacing a stored score of the same district, month and dimension) in one
    transaction at ``when`` (SQLite; PostgreSQL takes its own clock). Returns how many were written."""
    sql = _migrated(store)
    d = sql.dialect
    written = 0
    statement = d.sql(
        "INSERT INTO gov_district_scores (region_code, month, dimension, score, source, imported_at) "
        f"VALUES (:region_code, :month, :dimension, :score, :source, {d.now}) "
        "ON CONFLICT (region_code, month, dimension) DO UPDATE SET score = excluded.score, "
        "source = excluded.source, imported_at = excluded.imported_at")
    with sql.transaction() as conn:
        for s in scores:
            conn.execute(statement, {"region_code": s.region_code, "month": s.month, "dimension": s.dimension,
                                     "score": s.score, "source": s.source, **d.clock(when)})
            written += 1
    return written


def read_scores(store: RecordStore, months: Sequence[str]) -> list[DistrictScore]:
    """The stored scores of ``months``, ordered by (month, region code, dimension)."""
    if not isinstance(store, SqlStore):
        return []  # a store without SQL tables (the test kit's) holds no imported scores
    sql = _migrated(store)
    d = sql.dialect
    with sql.reading() as conn:
        rows = conn.execute(d.sql("SELECT region_code, month, dimension, score, source FROM gov_district_scores "
                                  f"WHERE {d.in_list.format(column='month', name='months')} "
                                  "ORDER BY month, region_code, dimension"), {"months": d.ids(months)}).fetchall()
    return [DistrictScore(str(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4])) for r in rows]
