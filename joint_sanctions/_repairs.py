"""Dated credit repair and removal (信用修复、移出) under the list-type policy: ``records repair`` and
``records remove`` (docs/record-import.md, docs/cli.md).

The store writes the change and its history entry in one transaction; this module decides whether the
change may be made at all, from the stored record and the policy, before anything is written.
"""

from __future__ import annotations

from ._errors import RecordError
from ._gov_clearance import arrears_problem
from ._identifiers import mask_text
from ._list_types import Policies
from ._models import CreditRecord, RecordChange
from .stores import RecordStore
from .stores._base import ended_words

__all__ = ["end_record"]

_WORDS = {"repaired": ("repair", "修复"), "removed": ("removal", "移出")}


def end_record(store: RecordStore, record_id: str, change: RecordChange, policies: Policies | None) -> CreditRecord:
    """Repair or remove a record from ``change.on``, keeping who, why and when in its history.

    Args:
        store: where the record is.
        record_id: the record.
        change: ``status`` ``repaired`` or ``removed``, the date, reason, decision number, authority,
            and ``early`` when the deciding body allows it before the minimum period.
        policies: the list-type policy (None or empty: no minimum period).

    Returns:
        The record as stored after the change.

    Raises:
        RecordError: one line in English and Chinese: an unknown record, no reason or decision number,
            a record already repaired or removed, a date before its listing, a date before the list
            type's minimum period without ``early``, or a repair of a government-dishonesty record whose
            arrears are not cleared by its date (:mod:`joint_sanctions._gov_clearance`). Nothing is
            written then.
    """
    if change.status not in _WORDS:
        raise RecordError(f"a record can be repaired or removed, not set to {change.status!r} / 只能修复或移出记录")
    if change.on is None:
        raise RecordError("a repair or removal needs the day it takes effect / 修复或移出须写明生效日期")
    if not change.reason.strip() or not change.decision_no.strip():
        raise RecordError("a repair or removal needs its reason and decision number / 修复或移出须写明事由和决定文号")
    if change.status == "repaired":
        # A government-dishonesty record lasts until rectified: arrears recorded against it must be paid by
        # the repair date (payments only ever reduce them, so checking before the write is enough).
        problem = arrears_problem(store, record_id, change.on)
        if problem is not None:
            raise RecordError(problem)

    def allowed(old: CreditRecord, change: RecordChange) -> None:
        en, zh = _WORDS[change.status]
        if old.status != "active":
            was_en, was_zh = ended_words(old)
            raise RecordError(f"record {mask_text(old.record_id)!r} is already {was_en} / 该记录{was_zh}")
        earliest = policies.earliest_repair(old) if policies is not None else None
        if earliest is not None and change.on is not None and change.on < earliest and not change.early:
            raise RecordError(
                f"record {mask_text(old.record_id)!r} ({old.list_type}, listed on {old.listed_on}) may not have its "
                f"{en} before {earliest}, the list type's minimum period; if the deciding body allows it "
                f"early, give --early with its decision number "
                f"/ 未满最短期限（{earliest} 前不得{zh}）；如认定单位决定提前{zh}，请加 --early 并写明决定文号")

    return store.change_status(record_id, change, allowed)
