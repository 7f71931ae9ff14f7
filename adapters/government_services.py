"""政务服务 (government services): what the handling window needs to know about an applicant.

A service item (事项编码) maps to one or more matter types through ``service_items.yaml``, a file
policy staff edit (:func:`load_service_items`; problems are reported all together as
``path:line:col: code: message``). :meth:`ServiceWindow.advise` checks the applicant for each of the
item's matter types and answers the window's four questions:

* is the application barred (a binding mandatory prohibition applies: the check says ``prohibited``)?
* may the 告知承诺 (notify-and-commit) route be used? — only where the item offers it and no applied
  measure is tagged ``no_notify_commit``; when only measures whose basis is unconfirmed close it, the
  route is not granted but left to a person (``notify_commit_review``), never refused outright;
* may 容缺受理 (acceptance with missing documents) be used? — where the item offers it to applicants
  in good standing, or an incentive tagged ``fault_tolerant_acceptance`` grants it; never while a
  punishment measure applies, because incentives never override a punishment;
* is strict review required? — whenever a punishment measure applies.

Answers come from the measures' tags and effects, never from measure ids, so policy staff can change
the lists without a code change::

    window = ServiceWindow(Engine())
    advice = window.advise({"id": "91410100MA0000015B", "name": "…"}, "000117001000-…", application_no="…")
    advice.barred, advice.notify_commit_allowed, advice.guidance
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from joint_sanctions._check import Engine
from joint_sanctions._errors import Problem
from joint_sanctions._identifiers import mask_text
from joint_sanctions._models import AppliedMeasure, CheckResult, MatterType
from joint_sanctions.vocabulary import MATTER_TYPES

from ._common import Model, Reason, ServiceItemsError, UnknownServiceItemError, party, reason_of

__all__ = ["SERVICE_ITEMS", "ServiceCatalog", "ServiceItem", "ServiceWindow", "WindowAdvice",
           "load_service_items"]

#: The shipped mapping; it sits beside this module in the repository and in the wheel alike.
SERVICE_ITEMS = Path(__file__).with_name("service_items.yaml")

# Tags the window reads (measure_lists/README.md): route closed by a punishment, or granted by an incentive.
NO_NOTIFY_COMMIT = "no_notify_commit"
FAULT_TOLERANT = "fault_tolerant_acceptance"
GREEN_CHANNEL = "green_channel"
PRIORITY = "priority_handling"

_REFUSE = ("不予受理：申请人依法不得申请本事项，详见措施依据 / Refuse: the applicant is barred from this item by "
           "law (see the measures and their legal basis)")
_DECISION_SEVERITY = {"clear": 0, "review": 1, "restricted": 2, "prohibited": 3}


class ServiceItem(Model):
    """One service item of the mapping; ``source`` is where it is written (``file:line``)."""

    code: str
    name: str
    department: str
    matter_types: tuple[MatterType, ...]
    notify_commit: bool
    fault_tolerant: bool
    source: str


@dataclass(frozen=True)
class ServiceCatalog:
    """The loaded mapping: items by code, with the file's header."""

    path: str
    edition: str
    issuer: str
    region_code: str
    items: Mapping[str, ServiceItem]

    def get(self, item_code: str) -> ServiceItem:
        """The item with this code (surrounding spaces ignored).

        Raises:
            UnknownServiceItemError: no such code; near codes (or the code of an item with exactly
                this name) are suggested.
        """
        code = item_code.strip()
        if code in self.items:
            return self.items[code]
        by_name = [item.code for item in self.items.values() if item.name == code]
        raise UnknownServiceItemError(item_code, by_name or difflib.get_close_matches(code, self.items, n=2,
                                                                                       cutoff=0.9))

    def __contains__(self, item_code: object) -> bool:
        return item_code in self.items

    def __iter__(self) -> Iterator[ServiceItem]:
        return iter(self.items.values())

    def __len__(self) -> int:
        return len(self.items)


class WindowAdvice(Model):
    """What the window may do with this application; the applicant's id is masked if a person's."""

    item_code: str
    item_name: str
    department: str
    applicant_id: str
    applicant_name: str
    decision: str
    barred: bool
    notify_commit_allowed: bool
    fault_tolerant_allowed: bool
    strict_review: bool
    green_channel: bool
    priority_handling: bool
    reasons: tuple[Reason, ...]
    incentives: tuple[str, ...]
    revision: str
    check_ids: tuple[str, ...]
    case_ids: tuple[str, ...]
    notify_commit_offered: bool
    fault_tolerant_offered: bool
    #: Notify-and-commit is closed only by measures that do not bind (basis unconfirmed): a person decides.
    notify_commit_review: bool = False

    @property
    def guidance(self) -> tuple[str, ...]:
        """Instructions for the window clerk, one line each, Chinese then English."""
        if self.barred:
            return (_REFUSE,)
        lines = []
        if self.notify_commit_allowed:
            lines.append("可按告知承诺制办理 / The notify-and-commit route may be used")
        elif self.notify_commit_review:
            lines.append("告知承诺制：依据待核实 → 人工复核后决定 / Notify-and-commit: the measure closing it has "
                         "an unconfirmed basis; a person decides")
        elif self.notify_commit_offered:
            lines.append("不适用告知承诺制，按一般程序办理 / Notify-and-commit is not available to this "
                         "applicant: use the ordinary procedure")
        if self.fault_tolerant_allowed:
            lines.append("可容缺受理 / May be accepted with non-essential documents missing")
        elif self.fault_tolerant_offered:
            lines.append("不予容缺受理，材料须齐全 / Not eligible for acceptance with missing documents")
        if self.strict_review:
            lines.append("从严审核 / Strict review required")
        if any(not r.binding for r in self.reasons):
            lines.append("依据待核实的措施须人工复核后适用 / Measures whose basis is unconfirmed apply only once "
                         "a person confirms them")
        if self.green_channel:
            lines.append("开通绿色通道 / Green channel")
        if self.priority_handling:
            lines.append("优先办理 / Priority handling")
        return tuple(lines) or ("按一般程序办理 / Handle by the ordinary procedure",)


class ServiceWindow:
    """Answers for a government-service window: the engine plus the service-item mapping.

    Args:
        engine: answers the checks.
        catalog: the mapping; default the shipped ``service_items.yaml``.
    """

    def __init__(self, engine: Engine, catalog: ServiceCatalog | None = None) -> None:
        self.engine = engine
        self.catalog = catalog if catalog is not None else load_service_items()

    def advise(self, applicant: Mapping[str, Any] | str, item_code: str, *, application_no: str | None = None,
               open_case: bool = True) -> WindowAdvice:
        """Check ``applicant`` for the service item ``item_code`` and say what the window may do.

        Args:
            applicant: ``{id, name, subject_type?, legal_representative?: {id, name}}`` or a bare id.
            item_code: the 事项编码.
            application_no: the application number (申请编号), kept with the check and any case.
            open_case: ``False`` asks without opening cases (e.g. a pre-check before submission).

        Raises:
            UnknownServiceItemError: the code is not in the mapping.
            AdapterInputError: the applicant is malformed.
        """
        item = self.catalog.get(item_code)
        subject, _ = party(applicant, "applicant")
        results = [self.engine.check(subject, matter_type, open_case=open_case, item_code=item.code,
                                     application_no=application_no, department=item.department,
                                     region_code=self.catalog.region_code or None)
                   for matter_type in item.matter_types]
        applied: dict[str, tuple[AppliedMeasure, CheckResult]] = {}
        for result in results:
            for measure in result.measures:
                applied.setdefault(measure.measure_id, (measure, result))
        punishments = [(m, r) for m, r in applied.values() if m.kind == "punishment"]
        incentive_tags = {tag for m, _ in applied.values() if m.kind == "incentive" for tag in m.tags}
        closed_tags = {tag for m, _ in punishments for tag in m.tags}
        bound_tags = {tag for m, _ in punishments if m.binding for tag in m.tags}
        barred = any(r.decision == "prohibited" for r in results)
        punished = bool(punishments)
        return WindowAdvice(
            item_code=item.code, item_name=item.name, department=item.department,
            applicant_id=results[0].subject.id, applicant_name=mask_text(subject.name),
            decision=max((r.decision for r in results), key=_DECISION_SEVERITY.__getitem__),
            barred=barred,
            notify_commit_allowed=item.notify_commit and not barred and NO_NOTIFY_COMMIT not in closed_tags,
            fault_tolerant_allowed=not punished and (item.fault_tolerant or FAULT_TOLERANT in incentive_tags),
            strict_review=punished,
            green_channel=not punished and GREEN_CHANNEL in incentive_tags,
            priority_handling=not punished and PRIORITY in incentive_tags,
            reasons=tuple(reason_of(m, r) for m, r in punishments),
            incentives=tuple(m.name for m, _ in applied.values() if m.kind == "incentive"),
            revision=self.engine.revision,
            check_ids=tuple(r.check_id for r in results),
            case_ids=tuple(r.case_id for r in results if r.case_id),
            notify_commit_offered=item.notify_commit, fault_tolerant_offered=item.fault_tolerant,
            notify_commit_review=(item.notify_commit and not barred and NO_NOTIFY_COMMIT in closed_tags
                                  and NO_NOTIFY_COMMIT not in bound_tags))


# --- loading the mapping ------------------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"
_HEADER_FIELDS = ("edition", "issuer", "region_code", "items")
_ITEM_FIELDS = ("code", "name", "department", "matter_types", "notify_commit", "fault_tolerant")
_OPTIONAL = frozenset({"department"})
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{2,99}")
_REGION = re.compile(r"[0-9]{6}")
_Where = tuple[str, str]  # what a mapping is, in English and Chinese, for messages
_FILE_HEADER: _Where = ("the file header", "文件头")


class _Reader:
    """Reads one mapping file, collecting every problem with its place."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def report(self, node: yaml.Node, code: str, en: str, zh: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.path, mark.line + 1, mark.column + 1, code, f"{en} / {zh}"))

    def fields(self, node: yaml.Node, allowed: tuple[str, ...], where: _Where) -> dict[str, yaml.Node] | None:
        """The keys of a mapping node; unknown, repeated and missing keys reported."""
        en, zh = where
        if not isinstance(node, yaml.MappingNode):
            self.report(node, "not_a_mapping", f"{en} must be a mapping of fields", f"{zh}应为字段映射")
            return None
        found: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name in found:
                self.report(key, "duplicate_key", f"{name!r} is given twice in {en}", f"{zh}中 {name!r} 重复")
            elif name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                hint = (f" (did you mean {close[0]!r}?)", f"（是否为 {close[0]!r}？）") if close else ("", "")
                self.report(key, "unknown_field", f"{name!r} is not a field of {en}{hint[0]}",
                            f"{name!r} 不是{zh}的字段{hint[1]}")
            else:
                found[name] = value
        for name in allowed:
            if name not in found and name not in _OPTIONAL:
                self.report(node, "missing_field", f"{en} lacks {name!r}", f"{zh}缺少 {name!r}")
        return found

    def text(self, node: yaml.Node, name: str, where: _Where) -> str | None:
        en, zh = where
        if not isinstance(node, yaml.ScalarNode) or node.tag != _TAG + "str":
            self.report(node, "wrong_type", f"{name} of {en} must be text (put it in quotes)",
                        f"{zh}的 {name} 应为文本（请加引号）")
            return None
        if not node.value.strip():
            self.report(node, "empty_value", f"{name} of {en} is empty", f"{zh}的 {name} 为空")
            return None
        return str(node.value).strip()

    def boolean(self, node: yaml.Node, name: str, where: _Where) -> bool | None:
        # Only true/false: PyYAML would also take yes/no/on/off, which policy staff do not mean as booleans.
        if isinstance(node, yaml.ScalarNode) and node.value in ("true", "false"):
            return str(node.value) == "true"
        self.report(node, "wrong_type", f"{name} of {where[0]} must be true or false",
                    f"{where[1]}的 {name} 应为 true 或 false")
        return None

    def matter_types(self, node: yaml.Node, where: _Where) -> tuple[str, ...] | None:
        en, zh = where
        if not isinstance(node, yaml.SequenceNode):
            self.report(node, "wrong_type", f"matter_types of {en} must be a list",
                        f"{zh}的 matter_types 应为列表")
            return None
        if not node.value:
            self.report(node, "empty_list", f"matter_types of {en} is empty", f"{zh}的 matter_types 为空")
            return None
        found: list[str] = []
        for child in node.value:
            value = child.value if isinstance(child, yaml.ScalarNode) else None
            if value not in MATTER_TYPES:
                close = difflib.get_close_matches(str(value), MATTER_TYPES, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.report(child, "unknown_matter_type", f"unknown matter type {value!r}{hint}",
                            f"未知的事项类型 {value!r}")
            elif value in found:
                self.report(child, "duplicate_value", f"matter type {value!r} is listed twice",
                            f"事项类型 {value!r} 重复")
            else:
                found.append(value)
        return tuple(found) if len(found) == len(node.value) else None

    def item(self, node: yaml.Node, index: int, seen: dict[str, int]) -> ServiceItem | None:
        where = (f"item #{index + 1}", f"第 {index + 1} 个事项")
        fields = self.fields(node, _ITEM_FIELDS, where)
        if fields is None:
            return None
        code = self.text(fields["code"], "code", where) if "code" in fields else None
        if code is not None:
            where = (f"item {code}", f"事项 {code}")
            if not _CODE.fullmatch(code):
                self.report(fields["code"], "bad_item_code",
                            f"item code {code!r} may hold only letters, digits and hyphens",
                            f"事项编码 {code!r} 只能包含字母、数字和连字符")
                code = None
            elif code in seen:
                self.report(fields["code"], "duplicate_item_code",
                            f"item code {code} is also on line {seen[code]}",
                            f"事项编码 {code} 与第 {seen[code]} 行重复")
                code = None
            else:
                seen[code] = fields["code"].start_mark.line + 1
        values: dict[str, Any] = {"code": code, "department": ""}
        for name, value in fields.items():
            if name in ("name", "department"):
                values[name] = self.text(value, name, where)
            elif name == "matter_types":
                values[name] = self.matter_types(value, where)
            elif name in ("notify_commit", "fault_tolerant"):
                values[name] = self.boolean(value, name, where)
        if len(values) < len(_ITEM_FIELDS) or any(v is None for v in values.values()):
            return None
        return ServiceItem(**values, source=f"{self.path}:{node.start_mark.line + 1}")


def load_service_items(path: str | os.PathLike[str] | None = None) -> ServiceCatalog:
    """Load and check a service-item mapping (default: the shipped ``service_items.yaml``).

    Raises:
        ServiceItemsError: every problem found, each ``path:line:col: code: message`` (codes:
            file_not_found, bad_encoding, yaml_syntax, not_a_mapping, duplicate_key, unknown_field,
            missing_field, wrong_type, empty_value, empty_list, bad_region_code, bad_item_code,
            duplicate_item_code, unknown_matter_type, duplicate_value).
    """
    name = os.fspath(path) if path is not None else str(SERVICE_ITEMS)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ServiceItemsError([Problem(name, 1, 1, "file_not_found", "file not found / 文件不存在")]) from None
    except UnicodeDecodeError as exc:
        raise ServiceItemsError([Problem(name, 1, 1, "bad_encoding",
                                         f"not UTF-8 (byte {exc.start}) / 文件不是 UTF-8 编码")]) from None
    reader = _Reader(name)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ServiceItemsError([Problem(name, line, col, "yaml_syntax",
                                         f"{exc.problem or exc} / YAML 语法错误")]) from None
    if root is None:
        raise ServiceItemsError([Problem(name, 1, 1, "not_a_mapping", "the file is empty / 文件为空")])
    header = reader.fields(root, _HEADER_FIELDS, _FILE_HEADER) or {}
    edition, issuer, region = (reader.text(header[key], key, _FILE_HEADER) if key in header else None
                               for key in ("edition", "issuer", "region_code"))
    if region is not None and not _REGION.fullmatch(region):
        reader.report(header["region_code"], "bad_region_code", f"region_code {region!r} is not 6 digits",
                      f"行政区划代码 {region!r} 应为 6 位数字")
    items: dict[str, ServiceItem] = {}
    nodes = header.get("items")
    if nodes is not None and not isinstance(nodes, yaml.SequenceNode):
        reader.report(nodes, "wrong_type", "items must be a list", "items 应为列表")
    elif nodes is not None:
        if not nodes.value:
            reader.report(nodes, "empty_list", "items is empty", "items 为空")
        seen: dict[str, int] = {}
        for index, node in enumerate(nodes.value):
            item = reader.item(node, index, seen)
            if item is not None:
                items[item.code] = item
    if reader.problems:
        raise ServiceItemsError(reader.problems)
    return ServiceCatalog(path=name, edition=edition or "", issuer=issuer or "", region_code=region or "",
                          items=items)
