"""The audit log (docs/audit.md): every check appended to a hash chain in the store's database, and its
verification.

::

    AuditLog(store).append(result, caller="platform-a")   → AuditEntry #n, hash Hₙ = H(entry n, Hₙ₋₁)
    AuditLog(store).verify()                               → AuditReport: the first entry changed,
                                                             removed, reordered or inserted, if any

An entry keeps what a later reader must be able to prove — who asked (``caller``), about whom (the
masked subject id), for which matter, what was answered (``decision`` and the digest of the whole
result) and on which ``revision`` of the lists — and the hash of the entry before it. Its own hash
covers every column in a documented canonical form (:func:`canonical_entry`), so editing, removing
or reordering an entry breaks the chain where it happened. SM3 (GB/T 32905) where the platform has it,
else SHA-256; each entry names its algorithm, so a log written on either verifies on the other.

The tables and their locking are in :mod:`joint_sanctions.stores._audit_tables`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes

from ._identifiers import mask, mask_text
from ._logging import get_logger
from ._models import CheckResult
from .stores._audit_tables import AUDIT_COLUMNS, GENESIS, audit_tables_of
from .stores._base import RecordStore

__all__ = [
    "ALGORITHMS",
    "CANONICAL_VERSION",
    "DEFAULT_ALGORITHM",
    "AuditEntry",
    "AuditLog",
    "AuditProblem",
    "AuditReport",
    "canonical_entry",
    "result_digest",
]

#: The tag that opens every entry's canonical form; a new form gets a new tag.
CANONICAL_VERSION = "audit-v1"
_log = get_logger()
#: Entries read per query while verifying, so no connection is held for the whole walk.
_PAGE = 1_000


def _sm3_hashlib(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


def _sm3_cryptography(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _available(candidates: Sequence[Callable[[bytes], str]]) -> Callable[[bytes], str] | None:
    """The first of ``candidates`` this platform can compute (OpenSSL builds differ: FIPS ones lack SM3)."""
    for candidate in candidates:
        try:
            candidate(b"")
        except Exception:  # noqa: BLE001 - hashlib's ValueError, cryptography's UnsupportedAlgorithm
            _log.debug("hash_unavailable", candidate=candidate.__name__)
        else:
            return candidate
    return None


_SM3 = _available((_sm3_hashlib, _sm3_cryptography))
#: Hash functions by the name an entry records, each giving lowercase hex; ``sm3`` only where available.
ALGORITHMS: dict[str, Callable[[bytes], str]] = {"sha256": _sha256, **({"sm3": _SM3} if _SM3 else {})}
#: What new entries use: SM3 where the platform has it, else SHA-256.
DEFAULT_ALGORITHM = "sm3" if _SM3 else "sha256"


def canonical_entry(entry: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash is computed over (docs/audit.md, "Canonical form").

    ``audit-v1`` followed, for each column of :data:`AUDIT_COLUMNS` but ``entry_hash``, in that order,
    by ``|`` and either ``-`` (no value) or the UTF-8 length of the value's text, ``:`` and that text
    (integers in decimal). The lengths make it unambiguous whatever the values contain.

    Raises:
        KeyError: a column is missing. TypeError: a value is neither text, an integer nor None.
    """
    parts = [CANONICAL_VERSION.encode()]
    for column in AUDIT_COLUMNS[:-1]:
        value = entry[column]
        if value is None:
            parts.append(b"-")
            continue
        if type(value) is int:
            text = str(value).encode()
        elif isinstance(value, str):
            # surrogatepass: a value the database handed back is hashed, never a crash of the verifier.
            text = value.encode("utf-8", "surrogatepass")
        else:
            raise TypeError(f"audit column {column} holds {type(value).__name__}")
        parts.append(b"%d:%s" % (len(text), text))
    return b"|".join(parts)


def result_digest(result: CheckResult, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """The hash of ``result``'s canonical JSON: the object of docs/check-result.md with keys sorted, no
    whitespace, non-ASCII characters as UTF-8. A host that kept the result can prove it is the one logged.

    Raises:
        ValueError: ``algorithm`` is not one of :data:`ALGORITHMS`.
    """
    text = json.dumps(result.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return _hash_function(algorithm)(text.encode("utf-8", "surrogatepass"))


def _hash_function(algorithm: str) -> Callable[[bytes], str]:
    try:
        return ALGORITHMS[algorithm]
    except KeyError:
        raise ValueError(f"unknown or unavailable hash algorithm {algorithm!r} (have: {', '.join(ALGORITHMS)}) "
                         "/ 不支持的哈希算法") from None


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log, as stored (docs/audit.md, "What an entry holds").

    Attributes:
        seq: its number, from 1, without gaps.
        recorded_at: when it was appended (ISO-8601, UTC), as hashed.
        caller: who asked (the API key's name), or None.
        check_id, case_id: the result's ids (``case_id`` None when no case was opened).
        checked_at: the result's ``checked_at`` (ISO-8601), as hashed.
        subject_id: the subject's id, a resident id masked.
        subject_type, matter_type, decision, revision: as in the result.
        result_digest: :func:`result_digest` of the result, with ``algorithm``.
        prev_hash: the hash of the entry before (64 zeros for the first).
        algorithm: ``sm3`` or ``sha256``, for both hashes of this entry.
        entry_hash: the hash of :func:`canonical_entry` of this entry.
    """

    seq: int
    recorded_at: str
    caller: str | None
    check_id: str
    case_id: str | None
    checked_at: str
    subject_id: str
    subject_type: str
    matter_type: str
    decision: str
    revision: str
    result_digest: str
    prev_hash: str
    algorithm: str
    entry_hash: str

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data (the keys are the columns)."""
        return dataclasses.asdict(self)


ProblemKind = Literal["changed", "removed", "reordered", "inserted"]


@dataclass(frozen=True)
class AuditProblem:
    """The first place where the audit log is not what was appended.

    Attributes:
        seq: the number of the first entry that is wrong (or missing).
        kind: ``changed`` (a column differs from what was hashed, or the entry before it was rewritten),
            ``removed`` (the entry is gone), ``reordered`` (another entry stands in its place while the
            one that belongs there is elsewhere), ``inserted`` (entries beyond the recorded head).
        message: one line, English / Chinese.
    """

    seq: int
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class AuditReport:
    """What :meth:`AuditLog.verify` found.

    Attributes:
        entries: entries verified, in order, before the first problem (all of them when ``ok``).
        head_seq, head_hash: the last verified entry's number and hash (``0`` and 64 zeros when none):
            keep the hash elsewhere to prove later that nothing was cut from the end and rewritten.
        problem: the first problem, or None.
    """

    entries: int
    head_seq: int
    head_hash: str
    problem: AuditProblem | None = None

    @property
    def ok(self) -> bool:
        """Every entry is as appended, in order, and none is missing."""
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``ok``, ``entries``, ``head_seq``, ``head_hash``, ``problem``)."""
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq, "head_hash": self.head_hash,
                "problem": None if self.problem is None else dataclasses.asdict(self.problem)}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AuditLog:
    """The audit log in ``store``'s database (its tables are created on first use).

    Appends from any number of threads and processes take turns on the chain's head, so the chain
    never forks (PostgreSQL: the head row is locked until commit; SQLite: one writer at a time).

    Args:
        store: a SQLite or PostgreSQL store (or the test kit's MemoryStore).
        algorithm: the hash of new entries (default :data:`DEFAULT_ALGORITHM`).
        clock: the time of appends (aware); injectable for tests.

    Raises:
        StoreError: the store keeps no SQL tables, or the database failed.
        ValueError: ``algorithm`` is unknown or unavailable here.
    """

    def __init__(self, store: RecordStore, *, algorithm: str | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.algorithm = algorithm or DEFAULT_ALGORITHM
        self._hash = _hash_function(self.algorithm)
        self._clock = clock or _utc_now
        self._tables = audit_tables_of(store)

    def append(self, result: CheckResult, *, caller: str | None = None) -> AuditEntry:
        """Append one check's result.

        Args:
            result: the answer of a check (its subject id is masked again here, whatever it holds).
            caller: who asked (the API key's name); resident ids in it are masked.

        Returns:
            The entry written.

        Raises:
            ValueError: ``caller`` holds a NUL character.
            StoreError: the database failed; nothing was appended.
        """
        return self.append_many((result,), caller=caller)[0]

    def append_many(self, results: Iterable[CheckResult], *, caller: str | None = None) -> list[AuditEntry]:
        """Append the results of a batch in one transaction, in order (all or none).

        Raises:
            ValueError: ``caller`` holds a NUL character.
            StoreError: the database failed; nothing was appended.
        """
        return self.append_each([(r, caller) for r in results])

    def append_each(self, items: Iterable[tuple[CheckResult, str | None]]) -> list[AuditEntry]:
        """Append results each with its own caller, in one transaction, in order (all or none): how a
        service appends the answers of concurrent requests together (one lock of the head for many).

        Raises:
            ValueError: a caller holds a NUL character (nothing is appended).
            StoreError: the database failed; nothing was appended.
        """
        pairs = list(items)
        if any(caller is not None and "\x00" in caller for _, caller in pairs):
            raise ValueError("the caller's name holds a NUL character / 调用方名称含有 NUL 字符")
        shown = {caller: None if caller is None else mask_text(caller) for caller in {c for _, c in pairs}}
        algorithm, digest_of = self.algorithm, self._hash
        # Everything but the chain is worked out before the head is locked, to keep the lock short.
        drafts = [{
            "caller": shown[caller], "check_id": r.check_id, "case_id": r.case_id,
            "checked_at": r.checked_at.isoformat(), "subject_id": mask(r.subject.id),
            "subject_type": r.subject.subject_type, "matter_type": r.matter_type, "decision": r.decision,
            "revision": r.revision, "result_digest": result_digest(r, algorithm), "algorithm": algorithm,
        } for r, caller in pairs]
        if not drafts:
            return []

        def chained(seq: int, prev_hash: str) -> list[dict[str, Any]]:
            recorded_at = self._clock().astimezone(dt.UTC).isoformat(timespec="microseconds")
            rows = []
            for draft in drafts:
                seq += 1
                row = {**draft, "seq": seq, "recorded_at": recorded_at, "prev_hash": prev_hash}
                row["entry_hash"] = prev_hash = digest_of(canonical_entry(row))
                rows.append(row)
            return rows

        return [_entry(row) for row in self._tables.append(chained)]

    def latest(self, limit: int = 20) -> list[AuditEntry]:
        """The ``limit`` latest entries, newest first."""
        return [_entry(dict(zip(AUDIT_COLUMNS, row, strict=True))) for row in self._tables.last(limit)]

    def count(self) -> int:
        """How many entries the log holds."""
        return self._tables.count()

    def verify(self, anchor: tuple[int, str] | None = None) -> AuditReport:
        """Walk the chain from the first entry and recompute every hash.

        Args:
            anchor: ``(seq, entry_hash)`` of an entry as an earlier report gave it (``head_seq``,
                ``head_hash``) and kept outside the database: entry ``seq`` must still have that hash.
                It catches what no chain can show alone: the log rewritten, hashes and head included,
                from some entry on.

        Returns:
            A report naming the first entry changed, removed, reordered or inserted, if any.

        Raises:
            StoreError: the database failed.
        """
        # The head is read before the walk and again after it: entries appended meanwhile (a service
        # keeps appending while an operator verifies) are neither "removed" nor "inserted".
        before = self._tables.head()
        watched = {point[0] for point in (before, anchor) if point is not None}
        seen: dict[int, str] = {}
        expected, prev_hash = 1, GENESIS
        for entry in self._walk():
            problem = self._problem(entry, expected, prev_hash)
            if problem is not None:
                return AuditReport(expected - 1, expected - 1, prev_hash, problem)
            if expected in watched:
                seen[expected] = entry["entry_hash"]
            expected, prev_hash = expected + 1, entry["entry_hash"]
        count = expected - 1
        problem = _anchor_problem(count, seen, anchor) or self._head_problem(
            count, prev_hash, before, seen.get(before[0], GENESIS) if before else GENESIS, self._tables.head())
        return AuditReport(count, count, prev_hash, problem)

    def _walk(self) -> Iterator[dict[str, Any]]:
        after: Any = None
        while True:
            rows = self._tables.page(-(2**63) if after is None else after, _PAGE)
            for row in rows:
                yield dict(zip(AUDIT_COLUMNS, row, strict=True))
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    @staticmethod
    def _sound(entry: Mapping[str, Any]) -> bool:
        """Whether the entry's stored hash is the hash of its columns."""
        function = ALGORITHMS.get(entry["algorithm"]) if isinstance(entry["algorithm"], str) else None
        if function is None:
            return False
        try:
            return bool(function(canonical_entry(entry)) == entry["entry_hash"])
        except TypeError:
            return False

    def _problem(self, entry: Mapping[str, Any], expected: int, prev_hash: str) -> AuditProblem | None:
        """What is wrong where entry number ``expected`` should stand (after the hash ``prev_hash``)."""
        seq, links, sound = entry["seq"], entry["prev_hash"] == prev_hash, self._sound(entry)
        if seq == expected and links and sound:
            return None
        if seq == expected and sound:
            # Whole in itself, but it follows another hash: the entry before it was rewritten with a
            # recomputed hash (or this one was, link included).
            if expected == 1:
                return _changed(1, "names a predecessor, though it is the first entry", "首条记录却指向前一条")
            return _changed(expected - 1, f"no longer has the hash entry {expected} recorded for it (rewritten)",
                            f"与第 {expected} 条记录的前序哈希不符（被改写）")
        if links:
            return _changed(expected, "does not match its hash", "与其哈希不符")
        moved = [row for row in self._tables.following(prev_hash) if row[0] != seq]
        if moved:
            return AuditProblem(expected, "reordered",
                                f"audit entry {expected} is out of order: the entry that follows "
                                f"entry {expected - 1} is now number {moved[0][0]} / "
                                f"审计记录第 {expected} 条顺序被调换（应在此处的记录现为第 {moved[0][0]} 条）")
        if isinstance(seq, int) and seq > expected:
            last = seq - 1
            span = f"{expected}" if last == expected else f"{expected}-{last}"
            return AuditProblem(expected, "removed", f"audit entry {span} removed (the next entry is {seq}) / "
                                                     f"审计记录第 {span} 条被删除")
        return _changed(expected, "does not match its hash", "与其哈希不符")

    @staticmethod
    def _head_problem(count: int, last_hash: str, before: tuple[int, str] | None, hash_at_before: str,
                      after: tuple[int, str] | None) -> AuditProblem | None:
        """What the head row says that the walk did not find: entries cut from the end, rewritten with
        their hashes, or added past it. ``before`` and ``after`` are the head as read before and after
        the walk; ``hash_at_before`` the hash the walk found at ``before``'s entry."""
        if before is None or after is None:
            return _changed(count, "the log's head row is missing", "审计日志头记录缺失")
        if before[0] > count:
            span = f"{count + 1}" if before[0] == count + 1 else f"{count + 1}-{before[0]}"
            return AuditProblem(count + 1, "removed", f"audit entry {span} removed from the end (the log's head "
                                                       f"is entry {before[0]}) / 审计记录第 {span} 条（末尾）被删除")
        if before[0] and hash_at_before != before[1]:
            return _changed(before[0], "is not the entry the log's head recorded (rewritten)", "与头记录不符（被改写）")
        if after[0] < count:
            return AuditProblem(after[0] + 1, "inserted",
                                f"audit entry {after[0] + 1} was inserted after the log's head (entry {after[0]}) "
                                f"/ 审计记录第 {after[0] + 1} 条为头记录之后插入")
        if after[0] == count and after[1] != last_hash:
            return _changed(count, "is not the entry the log's head recorded (rewritten)", "与头记录不符（被改写）")
        return None


def _anchor_problem(count: int, seen: Mapping[int, str], anchor: tuple[int, str] | None) -> AuditProblem | None:
    """Whether the anchored entry is still there with the anchored hash."""
    if anchor is None or anchor[0] < 1:
        return None
    seq, hash_ = anchor
    if seq > count:
        return AuditProblem(count + 1, "removed", f"audit entry {count + 1} removed: the log ends before the anchored "
                                                   f"entry {seq} / 审计记录第 {count + 1} 条起被删除（锚定记录第 {seq} 条已不存在）")
    if seen.get(seq) != hash_.strip().lower():
        return _changed(seq, "its hash is not the anchored one (the log was rewritten at or before it)",
                        "哈希与锚定值不符（该条或之前的记录被改写）")
    return None


def _changed(seq: int, english: str, chinese: str) -> AuditProblem:
    return AuditProblem(seq, "changed", f"audit entry {seq} changed: {english} / 审计记录第 {seq} 条被篡改：{chinese}")


def _entry(row: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(**{column: row[column] for column in AUDIT_COLUMNS})
