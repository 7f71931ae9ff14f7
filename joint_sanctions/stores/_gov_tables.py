"""Where government-integrity data lives (docs/government-integrity.md): complaint clues and their trail,
arrears owed under a government-dishonesty record and the payments that clear them, and the contracts
of government bodies with their events.

The tables sit in the record store's database, created on first use by the migrations ``gov-0001``…
through the :class:`~._sql.SqlStore` seam, so SQLite and PostgreSQL run the same statements. Amounts
are kept in fen (分) as whole numbers: sums and the comparison of a payment with what is still owed
are then exact. The government-dishonesty records themselves are ordinary credit records, written by
the record store; these tables only refer to them by ``record_id``.
"""

from __future__ import annotations

from .._errors import StoreError
from ._base import RecordStore
from ._sql import Dialect, Migration, SqlStore, sql_store_of

__all__ = ["gov_migrations", "gov_store"]


def gov_migrations(d: Dialect) -> list[Migration]:
    """The government-integrity tables' migrations for the dialect, in order."""
    key, date, time = d.key_text, d.date, d.time
    return [Migration("gov-0001", (
        # A clue's state is its latest step; every step is also an event of the trail below.
        f"""CREATE TABLE gov_clues (
               clue_id         {key} NOT NULL PRIMARY KEY,
               body_id         {key} NOT NULL,
               body_name       TEXT NOT NULL,
               region_code     {key} NOT NULL,
               channel         TEXT NOT NULL,
               summary         TEXT NOT NULL,
               amount_fen      BIGINT,
               received_on     {date} NOT NULL,
               status          TEXT NOT NULL,
               source          TEXT NOT NULL,
               department      TEXT,
               transferred_on  {date},
               transfer_due    {date},
               transfer_late   INTEGER,
               verified_on     {date},
               verify_overdue  INTEGER,
               reason          TEXT,
               record_id       TEXT,
               created_at      {time} NOT NULL,
               CONSTRAINT gov_clues_status CHECK (status IN ('received', 'transferred', 'confirmed', 'unfounded'))
           )""",
        "CREATE INDEX gov_clues_status ON gov_clues (status, received_on)",
        "CREATE INDEX gov_clues_region ON gov_clues (region_code, received_on)",
        f"""CREATE TABLE gov_clue_events (
               event_id   {d.serial_key},
               clue_id    {key} NOT NULL,
               recorded_at  {time} NOT NULL,
               effective_on {date} NOT NULL,
               action       TEXT NOT NULL,
               actor        TEXT NOT NULL,
               note         TEXT NOT NULL,
               warning      TEXT
           )""",
        "CREATE INDEX gov_clue_events_clue ON gov_clue_events (clue_id, event_id)",
        # One row per government-dishonesty record that carries an owed amount (清欠).
        f"""CREATE TABLE gov_arrears (
               record_id    {key} NOT NULL PRIMARY KEY,
               clue_id      TEXT,
               body_id      {key} NOT NULL,
               region_code  {key} NOT NULL,
               owed_fen     BIGINT NOT NULL,
               listed_on    {date} NOT NULL,
               created_at   {time} NOT NULL,
               CONSTRAINT gov_arrears_owed CHECK (owed_fen > 0)
           )""",
        f"""CREATE TABLE gov_payments (
               payment_id   {d.serial_key},
               record_id    {key} NOT NULL,
               paid_fen     BIGINT NOT NULL,
               paid_on      {date} NOT NULL,
               note         TEXT NOT NULL,
               recorded_at  {time} NOT NULL,
               CONSTRAINT gov_payments_positive CHECK (paid_fen > 0)
           )""",
        "CREATE INDEX gov_payments_record ON gov_payments (record_id, paid_on)",
        f"""CREATE TABLE gov_contracts (
               contract_no   {key} NOT NULL PRIMARY KEY,
               body_id       {key} NOT NULL,
               region_code   {key} NOT NULL,
               counterparty  TEXT NOT NULL,
               signed_on     {date},
               due_on        {date},
               amount_fen    BIGINT,
               updated_at    {time} NOT NULL
           )""",
        # The key makes a re-imported event a no-op: the same contract, event and day is one event.
        f"""CREATE TABLE gov_contract_events (
               contract_no  {key} NOT NULL,
               event        {key} NOT NULL,
               event_on     {date} NOT NULL,
               amount_fen   BIGINT,
               note         TEXT NOT NULL,
               clue_id      TEXT,
               source       TEXT NOT NULL,
               recorded_at  {time} NOT NULL,
               PRIMARY KEY (contract_no, event, event_on),
               CONSTRAINT gov_contract_events_event CHECK (event IN ('signed', 'performed', 'defaulted'))
           )""",
    ))]


def gov_store(store: RecordStore) -> SqlStore:
    """``store``'s SQL side with the government-integrity tables in place (created on first use).

    Raises:
        StoreError: the store keeps no SQL database (the test kit's MemoryStore): one line naming it.
    """
    try:
        sql_store = sql_store_of(store, "government integrity")
    except StoreError:
        raise StoreError(f"government integrity needs a SQLite or PostgreSQL store, not {type(store).__name__} "
                         "/ 政务诚信功能需要 SQLite 或 PostgreSQL 数据库") from None
    sql_store.migrate(gov_migrations(sql_store.dialect))
    return sql_store
