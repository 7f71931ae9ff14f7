"""The HTTP service's access keys (docs/http.md): a table in the store's own database, written once
over the SQL seam (:mod:`._sql`) for SQLite and PostgreSQL.

Only a key's SHA-256 digest is stored; the key itself is shown once, when it is created. A key is 256
random bits, so a plain digest is as hard to reverse as the key is to guess: no salt or slow hash is
needed (those protect passwords people choose). A revoked key keeps its row, so its name, which cases
carry as their ``caller``, always names one key.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from .._errors import JointSanctionsError
from .._identifiers import mask_text
from ._sql import Dialect, Migration, SqlStore, sql_store_of

__all__ = ["ApiKey", "ApiKeyError", "KeyBook", "hash_key", "key_migrations"]

#: What a key's name may be: it is the ``caller`` of every check the key makes, so it stays short and plain.
_NAME = re.compile(r"[\w.\-@]{1,64}")
_PREFIX = "jsk_"


class ApiKeyError(JointSanctionsError):
    """A key cannot be created or revoked as asked (a name in use, unknown or already revoked)."""


@dataclass(frozen=True)
class ApiKey:
    """One key as ``keys list`` shows it: never the key itself, nor its digest."""

    name: str
    created_at: str
    revoked_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "created_at": self.created_at, "revoked_at": self.revoked_at}


def key_migrations(d: Dialect) -> tuple[Migration, ...]:
    """The key table's schema in dialect ``d``, oldest first. Append; never edit an applied migration."""
    return (
        Migration("keys-0001", (
            f"""CREATE TABLE api_keys (
                   name       {d.key_text} NOT NULL PRIMARY KEY,
                   key_hash   TEXT NOT NULL,
                   created_at TEXT NOT NULL,
                   revoked_at TEXT
               )""",
            "CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash)",
        )),
    )


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256, lowercase hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class KeyBook:
    """Creates, lists and revokes keys in ``store``'s database; :meth:`valid` serves the HTTP service.

    Raises:
        StoreError: the store is no SQL store, or the key table cannot be created.
    """

    def __init__(self, store: Any) -> None:
        self._store: SqlStore = sql_store_of(store, "access keys")
        self._dialect = self._store.dialect
        self._store.migrate(key_migrations(self._dialect))

    def create(self, name: str) -> str:
        """Store a new key named ``name`` and return it (the only time it is ever shown).

        Raises:
            ApiKeyError: the name is not 1–64 letters, digits, ``.``, ``-``, ``_`` or ``@``, holds an
                identity number, or is taken (by a live or a revoked key).
        """
        if not _NAME.fullmatch(name) or mask_text(name) != name:
            raise ApiKeyError(f"key name {mask_text(name)[:80]!r} is not 1–64 letters, digits, '.', '-', '_' "
                              "or '@' (and no identity number) / 密钥名称须为 1–64 个字母、数字或 . - _ @")
        key = _PREFIX + secrets.token_urlsafe(32)
        sql = self._dialect.sql
        with self._store.transaction() as conn:
            if conn.execute(sql("SELECT 1 FROM api_keys WHERE name = :name"), {"name": name}).fetchone():
                raise ApiKeyError(f"a key named {name!r} exists already (revoked keys keep their names) / "
                                  f"密钥名称 {name} 已存在")
            conn.execute(sql("INSERT INTO api_keys (name, key_hash, created_at) VALUES (:name, :hash, :at)"),
                         {"name": name, "hash": hash_key(key), "at": _now()})
        return key

    def list(self) -> builtins.list[ApiKey]:
        """Every key, live and revoked, by name."""
        with self._store.reading() as conn:
            rows = conn.execute("SELECT name, created_at, revoked_at FROM api_keys ORDER BY name").fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, name: str) -> ApiKey:
        """Revoke the key named ``name``: every serving process refuses it within a second.

        Raises:
            ApiKeyError: no key has that name, or it is revoked already.
        """
        sql = self._dialect.sql
        with self._store.transaction() as conn:
            row = conn.execute(sql("SELECT name, created_at, revoked_at FROM api_keys WHERE name = :name"),
                               {"name": name}).fetchone()
            if row is None:
                raise ApiKeyError(f"no key named {mask_text(name)[:80]!r} / 没有名为该名称的密钥")
            if row[2] is not None:
                raise ApiKeyError(f"key {name!r} was revoked at {row[2]} already / 密钥已于 {row[2]} 吊销")
            at = _now()
            conn.execute(sql("UPDATE api_keys SET revoked_at = :at WHERE name = :name AND revoked_at IS NULL"),
                         {"at": at, "name": name})
        return ApiKey(row[0], row[1], at)

    def valid(self) -> dict[str, str]:
        """The digests of the keys not revoked, each with its name (what a server caches briefly)."""
        with self._store.reading() as conn:
            rows = conn.execute("SELECT key_hash, name FROM api_keys WHERE revoked_at IS NULL").fetchall()
        return {str(digest): str(name) for digest, name in rows}
