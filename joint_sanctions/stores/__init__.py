"""Where credit records live, and the SQL seam later stages keep their own tables behind.

What lives here:

- :class:`RecordStore` (``_base``): the protocol every record store implements.
- :class:`SqlStore` (``_sql``): a record store in a SQL database that stages share: its
  :class:`~._sql.Dialect` (everything SQLite and PostgreSQL spell differently), migrations, read and
  write transactions, and the case tables (``store.case_backend()``).
- :class:`SqliteStore` (``_sqlite``, the embedded default) and :class:`PostgresStore` (``_postgres``,
  production; needs the ``postgres`` extra, so it is imported only when asked for): each implements
  the seam once; what they share is written once in ``_sql_store`` (records) and ``_case_tables``
  (the closed loop's cases and feedback outbox).
- ``_gov_tables``: the government-integrity tables (clues and their trail, arrears and payments,
  contracts), their migrations ``gov-0001``… and :func:`~._gov_tables.gov_store`.
- :func:`open_store` and :data:`DEFAULT_URL` (``_open``): the one place that turns a URL into a store.

What it may import: the model layer only (``_models``, ``_case_model``, ``_errors``, ``_identifiers``,
``_logging``, ``_text``, ``vocabulary``), never a pipeline stage (check, load, the case book, delivery)
nor the test kit; stages build on the stores, not the reverse. The in-memory fake for tests is
:class:`joint_sanctions.testing.MemoryStore`.
"""

from __future__ import annotations

from typing import Any as _Any

from ._base import RecordStore
from ._open import DEFAULT_URL, open_store
from ._sql import SqlStore
from ._sqlite import SqliteStore

__all__ = ["DEFAULT_URL", "PostgresStore", "RecordStore", "SqlStore", "SqliteStore", "open_store"]


def __getattr__(name: str) -> _Any:
    # psycopg is an optional extra: PostgresStore is imported on first use, not with the package.
    if name == "PostgresStore":
        from ._postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
