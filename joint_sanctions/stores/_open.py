"""Turning a database URL into a record store: :func:`open_store`, the one place that does it."""

from __future__ import annotations

import os

from .._errors import StoreError
from .._text import redact_url
from ._base import RecordStore
from ._sqlite import SqliteStore

__all__ = ["DEFAULT_URL", "open_store"]

#: Used when neither an argument nor ``JOINT_SANCTIONS_DB`` names a database (docs/cli.md).
DEFAULT_URL = "sqlite:///./joint_sanctions.db"

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def open_store(url: str | None = None, *, create: bool = False) -> RecordStore:
    """Open the record store a database URL names.

    A missing SQLite file is an error unless ``create`` is given: a mistyped path or another working
    directory must never turn into a new, empty database that answers every check ``clear``.

    Args:
        url: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, a bare path ending in
            ``.db``/``.sqlite``/``.sqlite3``, or ``postgresql://…``. ``None`` means the environment
            variable ``JOINT_SANCTIONS_DB``, else :data:`DEFAULT_URL`.
        create: create a missing SQLite file (never its folder). A PostgreSQL database is never
            created; its tables are, on every open.

    Returns:
        An open store, its schema up to date.

    Raises:
        StoreError: the URL is not supported, the SQLite file (without ``create``) or its folder is
            missing, or the database cannot be opened. Messages never show a password.
    """
    if url is None:
        url = os.environ.get("JOINT_SANCTIONS_DB") or DEFAULT_URL
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.lower().endswith(_SQLITE_SUFFIXES):
            return _open_sqlite(url, create)
        raise StoreError(redact_url(f"not a database URL: {url!r} (use sqlite:///path.db, a path ending "
                                    "in .db, or postgresql://…)"))
    scheme = scheme.lower()
    if scheme == "sqlite":
        # sqlite:///x.db → "/x.db" after the scheme; the first slash separates an (empty) host.
        if not rest.startswith("/") or rest == "/":
            raise StoreError(redact_url(f"malformed SQLite URL {url!r}: use sqlite:///relative/path.db or "
                                        "sqlite:////absolute/path.db"))
        return _open_sqlite(rest[1:], create)
    if scheme in ("postgresql", "postgres"):
        return _open_postgres(url)
    # Only the scheme is echoed: the rest of a URL may carry a password.
    raise StoreError(f"unsupported database URL scheme {scheme!r}: use sqlite:///path.db or "
                     "postgresql://…")


def _open_sqlite(path: str, create: bool) -> RecordStore:
    return SqliteStore(os.path.expanduser(path), create=create)


def _open_postgres(url: str) -> RecordStore:
    # psycopg is an optional dependency: only a PostgreSQL URL needs it.
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise StoreError(f"PostgreSQL support needs psycopg 3 ({exc}): "
                         "pip install 'joint-sanctions[postgres]'") from exc
    from ._postgres import PostgresStore

    return PostgresStore(url)
