"""The list-type policy (``measure_lists/list_types.yaml``): per list type who lists and repairs it, its
maximum publication period and its minimum period before repair (measure_lists/README.md, docs/record-import.md).

Policy staff maintain the file beside the measure lists; it is linted with them (same readers, same
``file:line:col: code: message`` problems) and loaded with them: ``--measures DIR`` takes the policy
file of that directory, or none. A period binds only where it is certain:

- an open-ended record (no ``expires_on``) ends at ``listed_on`` + the maximum only when its list
  type's ``basis_status`` is ``confirmed``: an unverified period must never turn a listed subject
  ``clear`` (docs/failing-closed.md). Without a policy, or a maximum, such a record counts as before;
- a repair or removal before ``listed_on`` + the minimum is refused unless the deciding body says it
  is early (``records repair --early``, with its decision number), whatever the basis status: the
  cautious direction, which a person can override with a decision.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import yaml

from ._errors import Problem
from ._load_fields import _BASIS_STATUS, _LIST_TYPE, _legal_basis_entry
from ._load_nodes import (
    _BAD,
    _any_text,
    _Field,
    _File,
    _items,
    _list_of,
    _read_mapping,
    _Slot,
    _text,
    _Where,
    _wrong_type,
)
from ._models import BasisStatus, CreditRecord, LegalBasis

__all__ = ["POLICY_FILE", "ListTypePolicy", "Period", "Policies", "add_period", "is_policy_file", "policies_of",
           "policy_paths", "read_policy"]

#: The file name of the policy in a measure-list directory.
POLICY_FILE = "list_types.yaml"

#: A period as written: (count, unit) with unit ``years``, ``months`` or ``days``.
Period = tuple[int, str]

_PERIOD = re.compile(r"([0-9]{1,4})\s*(years?|months?|days?|年|个月|月|天|日)")
_UNITS = {"year": "years", "years": "years", "年": "years", "month": "months", "months": "months",
          "个月": "months", "月": "months", "day": "days", "days": "days", "天": "days", "日": "days"}


def add_period(day: dt.date, period: Period) -> dt.date:
    """``day`` + ``period`` in calendar terms; a day the target month lacks becomes its last day."""
    count, unit = period
    if unit == "days":
        return day + dt.timedelta(days=count)
    months = day.month - 1 + count * (12 if unit == "years" else 1)
    year, month = day.year + months // 12, months % 12 + 1
    if year > dt.MAXYEAR:
        return dt.date.max
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _days(period: Period) -> float:
    """A period's rough length, only to tell a minimum longer than a maximum."""
    return period[0] * {"years": 365.25, "months": 30.44, "days": 1.0}[period[1]]


@dataclass(frozen=True)
class ListTypePolicy:
    """What the policy file says of one list type."""

    list_type: str
    name: str
    listed_by: str
    repaired_by: str
    basis_status: BasisStatus
    maximum_period: Period | None = None
    minimum_before_repair: Period | None = None
    basis: tuple[LegalBasis, ...] = ()
    note: str = ""
    source: str = ""


@dataclass(frozen=True)
class Policies:
    """The list-type policy an engine serves; empty when the measure lists have no policy file."""

    entries: Mapping[str, ListTypePolicy] = field(default_factory=lambda: MappingProxyType({}))
    #: List type → its maximum, only where it binds (confirmed): what ends open-ended records.
    maxima: Mapping[str, Period] = field(default_factory=lambda: MappingProxyType({}))

    def current(self, records: Sequence[CreditRecord], day: dt.date) -> Sequence[CreditRecord]:
        """``records`` without the open-ended ones past their list type's confirmed maximum on ``day``."""
        maxima = self.maxima
        if not maxima:
            return records
        return [r for r in records if r.expires_on is not None or (period := maxima.get(r.list_type)) is None
                or day < add_period(r.listed_on, period)]

    def earliest_repair(self, record: CreditRecord) -> dt.date | None:
        """The first day the record may be repaired or removed without ``--early``; None = any day."""
        entry = self.entries.get(record.list_type)
        if entry is None or entry.minimum_before_repair is None:
            return None
        return add_period(record.listed_on, entry.minimum_before_repair)

    def digest(self) -> str:
        """A content hash of the entries (part of the revision of the measure lists)."""
        if not self.entries:
            return ""
        blob = json.dumps([[e.list_type, e.name, e.listed_by, e.repaired_by, e.basis_status, e.maximum_period,
                            e.minimum_before_repair, [b.model_dump() for b in e.basis]]
                           for _, e in sorted(self.entries.items())], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


# --- reading and linting ----------------------------------------------------------------------------


def _period(node: yaml.Node, slot: _Slot) -> object:
    if not isinstance(node, yaml.ScalarNode):
        return _wrong_type(node, slot, "text")
    found = _PERIOD.fullmatch(str(node.value).strip())
    if found is None or int(found[1]) == 0:
        slot.report(node, "bad_period", f"'{node.value}' is not a period such as '3 years', '12 months' or '90 days'",
                    f"'{node.value}' 不是期限，应写作 '3 years'、'12 months' 或 '90 days'（或 3年、12个月、90天）")
        return _BAD
    return int(found[1]), _UNITS[found[2]]


_ENTRY_FIELDS: dict[str, _Field] = {
    "list_type": _Field(_LIST_TYPE),
    "name": _Field(_text),
    "listed_by": _Field(_text),
    "repaired_by": _Field(_text),
    "maximum_period": _Field(_period, required=False),
    "minimum_before_repair": _Field(_period, required=False),
    "basis": _Field(_list_of(_legal_basis_entry), required=False),
    "basis_status": _Field(_BASIS_STATUS),
    "note": _Field(_any_text, required=False),
}


def _entries(node: yaml.Node, slot: _Slot) -> object:
    nodes = _items(node, slot)
    if nodes is None:
        return _BAD
    entries: list[ListTypePolicy] = []
    seen: dict[str, int] = {}
    file = slot.file
    for index, child in enumerate(nodes):
        if not isinstance(child, yaml.MappingNode):
            _wrong_type(child, slot, "mapping")
            continue
        where = _Where(f"list type entry #{index + 1}", f"第 {index + 1} 个名单类型")
        before = len(file.problems)
        read = _read_mapping(child, _ENTRY_FIELDS, file, where)
        v = read.values
        list_type = v.get("list_type")
        if isinstance(list_type, str):
            if list_type in seen:
                file.report(read.nodes["list_type"], "duplicate_list_type",
                            f"list type {list_type} is already described on line {seen[list_type]}",
                            f"名单类型 {list_type} 已在第 {seen[list_type]} 行说明")
            else:
                seen[list_type] = read.nodes["list_type"].start_mark.line + 1
        maximum, minimum = v.get("maximum_period"), v.get("minimum_before_repair")
        if isinstance(maximum, tuple) and isinstance(minimum, tuple) and _days(minimum) >= _days(maximum):
            file.report(read.nodes["minimum_before_repair"], "period_order",
                        f"minimum_before_repair {minimum[0]} {minimum[1]} of {where.en} is not shorter than its "
                        f"maximum_period {maximum[0]} {maximum[1]}",
                        f"{where.zh} 的最短修复期限不短于最长公示期限")
        basis = v.get("basis", ())
        # Periods are confirmed by the rule that sets them, whose article the sources may not give: a
        # confirmed entry must cite that rule, not necessarily an article.
        if v.get("basis_status") == "confirmed" and "basis" not in read.nodes:
            file.report(read.nodes["basis_status"], "basis_status",
                        f"{where.en} is 'confirmed' but cites no basis; cite it or mark it 'unconfirmed'",
                        f"{where.zh} 标为 confirmed，但未写明依据；请补充依据或改为 unconfirmed")
        if len(file.problems) == before:
            entries.append(ListTypePolicy(
                list_type=str(list_type), name=str(v["name"]), listed_by=str(v["listed_by"]),
                repaired_by=str(v["repaired_by"]), basis_status=v["basis_status"],  # type: ignore[arg-type]
                maximum_period=maximum if isinstance(maximum, tuple) else None,
                minimum_before_repair=minimum if isinstance(minimum, tuple) else None,
                basis=tuple(basis) if isinstance(basis, tuple) else (), note=str(v.get("note", "")),
                source=f"{file.path}:{child.start_mark.line + 1}"))
    return tuple(entries)


_FILE_FIELDS: dict[str, _Field] = {
    "edition": _Field(_text),
    "issuer": _Field(_text),
    "list_types": _Field(_entries),
}


def is_policy_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a list-type policy file rather than a measure list."""
    return os.path.basename(os.fspath(path)) == POLICY_FILE


def policy_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The policy files among ``paths``: a directory's ``list_types.yaml``, or a file of that name."""
    found = []
    for given in paths:
        path = os.fspath(given)
        if os.path.isdir(path):
            candidate = os.path.join(path, POLICY_FILE)
            if os.path.isfile(candidate):
                found.append(candidate)
        elif is_policy_file(path):
            found.append(path)
    return found


def read_policy(root: yaml.MappingNode, file: _File) -> tuple[ListTypePolicy, ...]:
    """The entries of one composed policy file; its problems are reported on ``file``."""
    read = _read_mapping(root, _FILE_FIELDS, file, _Where("the list-type policy", "名单类型政策文件"))
    found = read.values.get("list_types")
    return found if isinstance(found, tuple) else ()


def policies_of(files: Sequence[tuple[str, tuple[ListTypePolicy, ...]]]) -> tuple[list[Problem], Policies]:
    """The policy the read files give together, and the list types described twice across them."""
    problems: list[Problem] = []
    entries: dict[str, ListTypePolicy] = {}
    for path, read in files:
        for entry in read:
            if entry.list_type in entries:
                problems.append(Problem(path, 1, 1, "duplicate_list_type",
                                        f"list type {entry.list_type} is also described in "
                                        f"{entries[entry.list_type].source} / 名单类型 {entry.list_type} 已在其他政策文件中说明"))
            entries[entry.list_type] = entry
    maxima = {lt: e.maximum_period for lt, e in entries.items()
              if e.maximum_period is not None and e.basis_status == "confirmed"}
    return problems, Policies(MappingProxyType(entries), MappingProxyType(maxima))
