"""What a record store is (:class:`RecordStore`) and what every one does alike, written once.

A repair is a dated status change kept in the record's history, a re-import never undoes one
(:func:`merged`), a store is its own context manager, and a row read back is checked before it becomes
a record (:func:`stored_record`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from .._errors import RecordError, UnreadableRecordError
from .._identifiers import mask_text
from .._models import CreditRecord, RecordAction, RecordChange, RecordEvent, ban_problem, trusted
from ..vocabulary import LIST_TYPES, MATTER_TYPES, RECORD_STATUSES, SUBJECT_TYPES

#: What a caller may check of a record before a status change is written (raise RecordError to refuse).
Validator = Callable[[CreditRecord, RecordChange], None]


@runtime_checkable
class RecordStore(Protocol):
    """Credit records by ``record_id``, queried by subject.

    Subject ids passed in are normalised ones (as :func:`~joint_sanctions._identifiers.parse_identifier`
    returns them); records hold them that way because :class:`CreditRecord` normalises on creation.
    """

    def upsert(self, records: Iterable[CreditRecord]) -> int:
        """Insert each record, or replace the stored one with the same ``record_id``.

        Records are written in order, so of two with the same id the later one wins. A record that
        would undo a repair or removal is not written (see :meth:`upsert_checked`).

        Returns:
            The number of records written.
        """
        ...

    def upsert_checked(self, records: Iterable[CreditRecord]) -> tuple[int, dict[str, str]]:
        """:meth:`upsert`, except that a record which would undo a repair or removal is not written.

        A record stored ``repaired`` or ``removed`` is replaced by one saying ``active`` only when its
        ``listed_on`` is after the end date (a new listing); every change is kept in :meth:`history`.

        Returns:
            ``(records written, {record_id: why it was refused})``.
        """
        ...

    def get(self, record_id: str) -> CreditRecord | None:
        """The record with this id, or None."""
        ...

    def change_status(self, record_id: str, change: RecordChange, validate: Validator | None = None) -> CreditRecord:
        """Repair, remove or reinstate a record from ``change.on``, in one transaction with its history entry.

        Args:
            record_id: the record.
            change: the new status, the day it takes effect, and the decision behind it.
            validate: called with the stored record and ``change`` before anything is written; what it
                raises refuses the change.

        Raises:
            RecordError: unknown ``record_id``, a date before the listing, or what ``validate`` raised.
        """
        ...

    def history(self, record_id: str) -> list[RecordEvent]:
        """Every change of the record after its first listing, oldest first (empty for none or an unknown id)."""
        ...

    def records_of(self, subject_id: str) -> list[CreditRecord]:
        """Every record of the subject whatever its status, ordered by (listed_on, record_id)."""
        ...

    def active_records(self, subject_ids: Sequence[str], day: dt.date) -> list[CreditRecord]:
        """Records of any of ``subject_ids`` that count on ``day``.

        A record counts while ``listed_on <= day < expires_on`` (no ``expires_on`` = open-ended) and
        it is ``active``, or was repaired or removed with a date after ``day``.

        Returns:
            The records ordered by (subject_id, list_type, record_id).
        """
        ...

    def set_status(self, record_id: str, status: str, reason: str = "") -> CreditRecord:
        """Change a record's status (credit repair, removal, or back to active).

        Args:
            record_id: the record to change.
            status: ``active``, ``repaired`` or ``removed``.
            reason: why, kept for audit where the backend can.

        Returns:
            The record as stored after the change.

        Raises:
            RecordError: unknown ``record_id`` or invalid ``status``.
        """
        ...

    def repair(self, record_id: str) -> CreditRecord:
        """Mark a record ``repaired`` (信用修复): it stops counting at once.

        Raises:
            RecordError: unknown ``record_id``.
        """
        ...

    def iter_records(self) -> Iterator[CreditRecord]:
        """Every stored record, ordered by ``record_id``."""
        ...

    def count(self) -> int:
        """How many records are stored, whatever their status."""
        ...

    def listed_subject_ids(self, day: dt.date | None = None) -> set[str]:
        """Subject ids with at least one ``active`` record (counting on ``day`` when given)."""
        ...

    def data_version(self) -> int:
        """A number that grows whenever a stored record changes, from any connection or process."""
        ...

    def data_as_of(self) -> dict[str, dt.datetime]:
        """When each list type was last written: ``{list_type: aware time}``.

        Every write of records stamps the list types it wrote (an upsert, also of unchanged records;
        a status change, such as a repair, stamps its record's list type). Empty while no record was
        ever written: checks then refuse to answer (docs/failing-closed.md).
        """
        ...

    def listed_since(self, version: int) -> tuple[int, set[str]]:
        """Catch up on listings: ``(data_version now, subject ids with a record written after version that
        counts on some day)``: active, or ended on a known date (a check of an earlier day still sees
        it). ``listed_since(-1)`` gives every such subject."""
        ...

    @property
    def local_writes(self) -> int:
        """How many write transactions went through this store object; reading it costs no I/O,
        so an engine can notice its own process's writes on every check."""
        ...

    def close(self) -> None:
        """Release the backend's resources; closing twice is harmless."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


@runtime_checkable
class BulkLoading(Protocol):
    """What a :class:`RecordStore` may add to make large imports faster (optional).

    :func:`~joint_sanctions._records.import_records` runs its upserts inside :meth:`bulk_load` when
    the store has it.
    """

    def bulk_load(self) -> AbstractContextManager[None]:
        """A block of many upserts: the store may defer work (index upkeep) to its end. Whatever
        was written inside stays written when the block ends by an error, and the store is fully
        usable afterwards."""
        ...


_TEXT_FIELDS = ("subject_id", "subject_name", "authority", "document_no", "reason")


def stored_record(values: dict[str, Any]) -> CreditRecord:
    """The record a stored row holds, built without pydantic once each value is one the engine knows.

    Rows were validated on the way in, so re-validating each would only parse every subject id again on
    every read. A row changed behind the store's back (raw SQL, a bad restore) is refused instead of
    being read as something it is not: an unknown list type would otherwise match no measure and let
    its subject be answered ``clear``.

    Raises:
        UnreadableRecordError: a value the engine does not know, naming the record and the field.
    """
    record_id = values["record_id"]
    problem = _problem(values)
    if problem is not None:
        raise UnreadableRecordError(record_id if type(record_id) is str else repr(record_id), *problem)
    return trusted(CreditRecord, values)


def _problem(values: dict[str, Any]) -> tuple[str, str] | None:
    """The first field of a stored row the engine cannot read, and why; None for a good row."""
    if type(values["record_id"]) is not str or not values["record_id"]:
        return "record_id", "empty or not text"
    if values["list_type"] not in LIST_TYPES:
        return "list_type", f"{_shown(values['list_type'])} is not a known list type"
    if values["subject_type"] is not None and values["subject_type"] not in SUBJECT_TYPES:
        return "subject_type", f"{_shown(values['subject_type'])} is not a known subject type"
    if values["status"] not in RECORD_STATUSES:
        return "status", f"{_shown(values['status'])} is not a known status"
    listed_on, expires_on = values["listed_on"], values["expires_on"]
    if type(listed_on) is not dt.date:
        return "listed_on", f"{_shown(listed_on)} is not a date"
    if expires_on is not None and (type(expires_on) is not dt.date or expires_on <= listed_on):
        return "expires_on", f"{_shown(expires_on)} is not a date after listed_on"
    if values["ended_on"] is not None and type(values["ended_on"]) is not dt.date:
        return "ended_on", f"{_shown(values['ended_on'])} is not a date"
    for name in _TEXT_FIELDS:
        if type(values[name]) is not str or (name == "subject_id" and not values[name]):
            return name, "empty or not text" if name == "subject_id" else "not text"
    return _ban_problem(values)


def _ban_problem(values: dict[str, Any]) -> tuple[str, str] | None:
    """The first of the optional fields (region, deadline, ban) the engine cannot read, and why."""
    region = values["region_code"]
    if region is not None and (type(region) is not str or len(region) != 6 or not region.isdigit()
                               or not region.isascii()):
        return "region_code", f"{_shown(region)} is not a 6-digit code"
    for name in ("rectify_by", "ban_until"):
        if values[name] is not None and type(values[name]) is not dt.date:
            return name, f"{_shown(values[name])} is not a date"
    matters, codes = values["ban_matter_types"], values["ban_item_codes"]
    if type(matters) is not tuple or any(m not in MATTER_TYPES for m in matters):
        return "ban_matter_types", f"{_shown(matters)} holds what is not a matter type"
    if type(codes) is not tuple or any(type(c) is not str or not c for c in codes):
        return "ban_item_codes", f"{_shown(codes)} holds what is not an item code"
    if matters or codes or values["ban_until"] is not None:
        problem = ban_problem(values["list_type"], values["listed_on"], matters, codes, values["ban_until"])
        if problem is not None:
            field, _, why = problem.partition(": ")
            return field, why
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


_ENDED = {"repaired": ("repaired", "修复"), "removed": ("removed", "移出")}


def ended_words(record: CreditRecord) -> tuple[str, str]:
    """How a repaired or removed record's end is told: ``repaired on 2025-03-01`` / ``已于 2025-03-01 修复``."""
    en, zh = _ENDED.get(record.status, (record.status, record.status))
    if record.ended_on is None:
        return f"{en} (date unknown)", f"已{zh}（日期未知）"
    return f"{en} on {record.ended_on}", f"已于 {record.ended_on} {zh}"


def merged(old: CreditRecord | None, new: CreditRecord) -> tuple[CreditRecord | None, str, RecordAction | None]:
    """What an upsert of ``new`` over the stored ``old`` writes (docs/record-import.md, "When a record counts").

    Returns:
        ``(record to write or None, why it is refused or "", the history action or None for none)``.
        A row saying ``active`` over a repaired or removed record is refused unless it is a new listing:
        its ``listed_on`` after the end date (after the old listing when the end date is unknown). A row
        that repeats an end keeps the stored date.
    """
    if old is None:
        return new, "", None
    if old.status != "active":
        if new.status == "active":
            end = old.ended_on if old.ended_on is not None else old.listed_on
            if new.listed_on <= end:
                en, zh = ended_words(old)
                return None, (f"record {mask_text(old.record_id)!r} was {en}; a row saying active with listed_on "
                              f"{new.listed_on} cannot undo that (only a listing after {end} lists it anew) "
                              f"/ 该记录{zh}，列入日期不晚于 {end} 的有效记录不能撤销修复或移出"), None
            return new, "", "relisted"
        if new.ended_on is None and old.ended_on is not None:
            new = new.model_copy(update={"ended_on": old.ended_on})
    if new == old:
        return new, "", None
    if old.status == "active" and new.status != "active":
        return new, "", new.status  # repaired or removed
    return new, "", "updated"


def status_changed(old: CreditRecord, change: RecordChange) -> tuple[CreditRecord, RecordAction]:
    """The record after ``change``, and its history action.

    Raises:
        RecordError: the change would take effect before the record was listed.
    """
    if change.status == "active":
        return old.model_copy(update={"status": "active", "ended_on": None}), "reinstated"
    if change.on is None:  # undated: counts on no day, unless an earlier change gave it a date
        return old.model_copy(update={"status": change.status}), change.status
    if change.on < old.listed_on:
        raise RecordError(f"record {mask_text(old.record_id)!r} cannot be {change.status} on {change.on}, before it "
                          f"was listed on {old.listed_on} / 修复或移出日期 {change.on} 早于列入日期 {old.listed_on}")
    ended_on = change.on if old.ended_on is None else min(old.ended_on, change.on)
    return old.model_copy(update={"status": change.status, "ended_on": ended_on}), change.status


def unknown_record(record_id: str) -> RecordError:
    return RecordError(f"unknown record id {mask_text(record_id)!r} / 未知的记录编号")


def legacy_change(status: str, reason: str) -> RecordChange:
    """The change :meth:`RecordStore.set_status` makes: undated (the record stops counting on every day,
    as before dated repairs), no decision number."""
    if status not in RECORD_STATUSES:
        raise RecordError(f"invalid record status {mask_text(status)!r} "
                          f"(expected one of {', '.join(RECORD_STATUSES)})")
    return trusted(RecordChange, {"status": status, "on": None, "reason": reason, "decision_no": "",
                                  "authority": "", "early": False})


class StoreBase:
    """The parts of :class:`~joint_sanctions.stores.RecordStore` that do not depend on the storage."""

    def change_status(self, record_id: str, change: RecordChange, validate: Validator | None = None) -> CreditRecord:
        raise NotImplementedError

    def upsert_checked(self, records: Iterable[CreditRecord]) -> tuple[int, dict[str, str]]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def upsert(self, records: Iterable[CreditRecord]) -> int:
        """See :meth:`RecordStore.upsert`: records that would undo a repair are left out (see upsert_checked)."""
        return self.upsert_checked(records)[0]

    def set_status(self, record_id: str, status: str, reason: str = "") -> CreditRecord:
        """See :meth:`RecordStore.set_status`: an undated change, kept in the history."""
        return self.change_status(record_id, legacy_change(status, reason))

    def repair(self, record_id: str) -> CreditRecord:
        """See :meth:`RecordStore.repair`."""
        return self.set_status(record_id, "repaired")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
