"""Loading and linting measure lists: YAML files → validated :class:`MeasureListFile`.

The fields of a measure list are described for policy staff in measure_lists/README.md.

Each file is *composed* into YAML nodes, never constructed into Python objects first, so every
problem keeps the line and column where it is written, and PyYAML's quiet habits (a repeated key
keeps the last value, ``yes`` is a boolean, ``012345`` an octal number) are caught instead of
trusted. Fields are read through tables of field specs; a reader reports its own problems and
returns ``_BAD`` when the value cannot be used, so one pass collects every problem of every file.
Models are built only when no file has a problem.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import get_args

import yaml

from ._compile import MAX_RULESET_ALTERNATIVES, MAX_RULESET_FIRINGS, residual_of
from ._conditions import SET_TEST_MIN, ConditionError, alternatives, coincident, parse_condition
from ._errors import MeasureListError, Problem
from ._identifiers import mask_text
from ._models import BasisStatus, LegalBasis, Measure, MeasureListFile
from .vocabulary import (
    EFFECTS,
    INCENTIVE_LIST_TYPES,
    KINDS,
    LIST_TYPES,
    MATTER_TYPES,
    PUNISHMENT_LIST_TYPES,
    RELATED_PARTY_ROLES,
    SUBJECT_TYPES,
)

__all__ = ["ERROR_CODES", "MAX_LIST_ITEMS", "lint", "load_measure_lists", "shipped_measures_dir"]

#: Most items a list field of a measure may hold (``list_too_long`` beyond). Real lists hold a few
#: to a few dozen (departments, list types, tags); the bound keeps a list reused by YAML alias in
#: many measures from making lint slow.
MAX_LIST_ITEMS = 1000

#: Every problem code the loader can report (stable: tools and people match on them).
ERROR_CODES: tuple[str, ...] = (
    # files and YAML
    "file_not_found", "no_measure_files", "bad_encoding", "yaml_syntax", "not_a_mapping",
    # shape of a mapping or list
    "duplicate_key", "missing_field", "unknown_field", "wrong_type", "empty_value", "empty_list",
    "duplicate_value", "list_too_long",
    # single values
    "bad_id", "duplicate_measure_id", "bad_region_code", "bad_date", "date_order", "bad_tag",
    # ids outside the vocabulary of docs/vocabulary.md
    "unknown_kind", "unknown_effect", "unknown_list_type", "unknown_matter_type", "unknown_subject_type",
    "unknown_role", "unknown_basis_status",
    # fields of one measure that contradict each other
    "kind_effect_mismatch", "list_kind_mismatch", "basis_status",
    # conditions (the codes of conditions.ConditionError)
    "condition_syntax", "condition_unknown_field", "condition_type", "condition_unsafe", "condition_number",
    # what the rule engine cannot take (docs/failing-closed.md)
    "bad_text", "rules_too_large",
)

PathLike = str | os.PathLike[str]

_BAD = object()  # a reader's answer when it reported a problem and has no usable value

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _TIMESTAMP = _TAG + "str", _TAG + "null", _TAG + "bool", _TAG + "timestamp"
_INT = _TAG + "int"

_ID = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*")
_TAG_ID = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_REGION = re.compile(r"[0-9]{6}")
# The line breaks PyYAML counts, so positions computed here agree with its marks.
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")

# What a node is, in words, for wrong_type messages.
_TAG_NAMES: dict[str, tuple[str, str]] = {
    _STR: ("text", "文本"),
    _INT: ("a number", "数字"),
    _TAG + "float": ("a number", "数字"),
    _BOOL: ("a YAML 1.1 boolean", "旧式布尔值"),
    _NULL: ("nothing", "空值"),
    _TIMESTAMP: ("a date", "日期"),
}
_WANTS: dict[str, tuple[str, str]] = {
    "text": ("text", "文本"),
    "list": ("a list", "列表"),
    "mapping": ("a mapping of fields", "字段映射"),
    "bool": ("true or false", "布尔值 true 或 false"),
    "date": ("a date (YYYY-MM-DD)", "日期（YYYY-MM-DD）"),
}


# --- where problems are and how they are told --------------------------------------------------

@dataclass
class _File:
    """One file being checked: its problems and, once read, its header values and measures."""

    path: str
    problems: list[Problem] = field(default_factory=list)
    header: dict[str, object] = field(default_factory=dict)
    drafts: tuple[_Draft, ...] = ()

    def report_at(self, line: int, col: int, code: str, en: str, zh: str) -> None:
        # Problems quote the file's values, and a value may be a resident id: never shown in clear.
        self.problems.append(Problem(self.path, line, col, code, mask_text(f"{en} / {zh}")))

    def report(self, node: yaml.Node, code: str, en: str, zh: str) -> None:
        mark = node.start_mark
        self.report_at(mark.line + 1, mark.column + 1, code, en, zh)


@dataclass(frozen=True)
class _Where:
    """What a mapping is, for messages: ``measure ZZ-03`` / ``措施 ZZ-03``."""

    en: str
    zh: str


_HEADER = _Where("the file header", "文件头")


@dataclass(frozen=True)
class _Slot:
    """The field a reader is reading; ``index`` is set for items of a list."""

    file: _File
    where: _Where
    name: str
    index: int | None = None

    def report(self, node: yaml.Node, code: str, en: str, zh: str) -> None:
        """Report a problem of this field, prefixed with the field and the measure it belongs to."""
        self.file.report(node, code, f"{self.name} of {self.where.en}: {en}",
                         f"{self.where.zh} 的 {self.name}：{zh}")


def _suggest(word: str, known: Collection[str]) -> tuple[str, str]:
    """A "did you mean" hint, or the list of known values when nothing is close."""
    close = difflib.get_close_matches(word, list(known), n=1)
    if close:
        return f" (did you mean '{close[0]}'?)", f"（是否应为 '{close[0]}'？）"
    listed = ", ".join(known)
    return f" (known: {listed})", f"（可用：{listed}）"


def _describe(node: yaml.Node) -> tuple[str, str]:
    """What a node is, in words, quoting a scalar's text (shortened)."""
    if isinstance(node, yaml.MappingNode):
        return _WANTS["mapping"]
    if isinstance(node, yaml.SequenceNode):
        return _WANTS["list"]
    en, zh = _TAG_NAMES.get(node.tag, (f"a value tagged {node.tag}", f"标记为 {node.tag} 的值"))
    if not node.value:
        return en, zh
    text = node.value if len(node.value) <= 40 else node.value[:39] + "…"
    return f"{en} '{text}'", f"{zh} '{text}'"


def _wrong_type(node: yaml.Node, slot: _Slot, want: str, hint: tuple[str, str] = ("", "")) -> object:
    (want_en, want_zh), (got_en, got_zh) = _WANTS[want], _describe(node)
    slot.report(node, "wrong_type", f"expected {want_en}, found {got_en}{hint[0]}",
                f"应为{want_zh}，实际为{got_zh}{hint[1]}")
    return _BAD


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``, counting line breaks as PyYAML does."""
    lines = _LINE_BREAK.split(text[:index])
    return len(lines), len(lines[-1]) + 1


# --- readers of single values ------------------------------------------------------------------

Reader = Callable[[yaml.Node, _Slot], object]


def _string(node: yaml.Node, slot: _Slot) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
        return str(node.value)
    # 2024, 1.5, true or 2020-01-01 are text once quoted.
    quote = isinstance(node, yaml.ScalarNode) and node.tag != _NULL
    _wrong_type(node, slot, "text", (" (quote it)", "（请加引号）") if quote else ("", ""))
    return None


def _any_text(node: yaml.Node, slot: _Slot) -> object:
    value = _string(node, slot)
    return _BAD if value is None else value


def _text(node: yaml.Node, slot: _Slot) -> object:
    value = _string(node, slot)
    if value is None:
        return _BAD
    if not value.strip():
        slot.report(node, "empty_value", "must not be empty", "不能为空")
        return _BAD
    return value


def _measure_id(node: yaml.Node, slot: _Slot) -> object:
    value = _text(node, slot)
    if isinstance(value, str) and not _ID.fullmatch(value):
        slot.report(node, "bad_id",
                    f"'{value}' is not a measure id: use upper-case letters, digits and hyphens, "
                    "starting with a letter (e.g. NAT-GP-001)",
                    f"'{value}' 不是合法的措施编号：只能用大写字母、数字和连字符，"
                    "以字母开头（如 NAT-GP-001）")
        return _BAD
    return value


def _region_code(node: yaml.Node, slot: _Slot) -> object:
    # An unquoted 410100 is an int to YAML, harmless to read back as text; an unquoted 012345 is an
    # octal int whose leading zero is already lost, so that one must be quoted.
    if isinstance(node, yaml.ScalarNode) and node.tag == _INT:
        value: str | None = str(node.value)
        if node.value.startswith("0") and _REGION.fullmatch(node.value):
            slot.report(node, "bad_region_code",
                        f"{value} starts with 0, so YAML reads it as an octal number; quote it: \"{value}\"",
                        f"{value} 以 0 开头，YAML 会把它当作八进制数；请加引号：\"{value}\"")
            return _BAD
    else:
        value = _string(node, slot)
    if value is None:
        return _BAD
    if not _REGION.fullmatch(value):
        slot.report(node, "bad_region_code", f"'{value}' is not a 6-digit administrative division code",
                    f"'{value}' 不是 6 位行政区划代码")
        return _BAD
    return value


def _bool(node: yaml.Node, slot: _Slot) -> object:
    if isinstance(node, yaml.ScalarNode) and node.tag == _BOOL:
        if node.value.lower() in ("true", "false"):
            return node.value.lower() == "true"
        # YAML 1.1 also reads yes/no/on/off as booleans; people and other YAML readers disagree.
        return _wrong_type(node, slot, "bool", (f" (write true or false, not '{node.value}')",
                                                f"（请写 true 或 false，而不是 '{node.value}'）"))
    return _wrong_type(node, slot, "bool")


def _calendar_date(text: str) -> dt.date | None:
    found = _DATE.fullmatch(text)
    if found is None:
        return None
    try:
        return dt.date(*(int(part) for part in found.groups()))
    except ValueError:  # 2024-02-30 and the like
        return None


def _date(node: yaml.Node, slot: _Slot) -> object:
    # Any scalar is tried as a date (a YAML timestamp and a quoted 'YYYY-MM-DD' both are), so that
    # 20200101 or 2020/01/01 get the message about the date format rather than about types.
    if not isinstance(node, yaml.ScalarNode):
        return _wrong_type(node, slot, "date")
    date = _calendar_date(node.value)
    if date is None:
        slot.report(node, "bad_date", f"'{node.value}' is not a date written YYYY-MM-DD",
                    f"'{node.value}' 不是 YYYY-MM-DD 格式的日期")
        return _BAD
    return date


def _tag(node: yaml.Node, slot: _Slot) -> object:
    value = _text(node, slot)
    if isinstance(value, str) and not _TAG_ID.fullmatch(value):
        slot.report(node, "bad_tag", f"'{value}' is not a lower-case snake_case tag",
                    f"'{value}' 不是小写下划线格式的标签")
        return _BAD
    return value


def _choice(known: Collection[str], code: str, noun_en: str, noun_zh: str) -> Reader:
    """A reader of one id out of ``known``; unknown ids are reported under ``code``."""

    def read(node: yaml.Node, slot: _Slot) -> object:
        value = _text(node, slot)
        if isinstance(value, str) and value not in known:
            hint_en, hint_zh = _suggest(value, known)
            slot.report(node, code, f"'{value}' is not a {noun_en}{hint_en}",
                        f"'{value}' 不是已定义的{noun_zh}{hint_zh}")
            return _BAD
        return value
    return read


def _condition_column(node: yaml.ScalarNode, offset: int) -> int:
    """The 1-based column of ``offset`` in the condition, or of the scalar when it cannot be mapped.

    The offset maps onto the source only when the scalar sits on one line with no escapes, i.e. its
    source text (between the quotes, if any) is exactly its value; block scalars never are.
    """
    start, end = node.start_mark, node.end_mark
    quoted = 1 if node.style in ("'", '"') else 0
    source = start.buffer[start.pointer + quoted:end.pointer - quoted] if start.buffer else None
    if source == node.value:
        return int(start.column) + 1 + quoted + offset
    return int(start.column) + 1


def _condition(node: yaml.Node, slot: _Slot) -> object:
    value = _string(node, slot)
    if value is None or not isinstance(node, yaml.ScalarNode):
        return _BAD
    try:
        parse_condition(value)
    except ConditionError as error:
        en, _, zh = str(error).partition(" / ")
        slot.file.report_at(node.start_mark.line + 1, _condition_column(node, error.offset), error.code,
                            f"condition of {slot.where.en}: {en}", f"{slot.where.zh} 的条件：{zh or en}")
        return _BAD
    return value


# --- readers of lists and mappings -------------------------------------------------------------

def _items(node: yaml.Node, slot: _Slot) -> list[yaml.Node] | None:
    """The items of a non-empty list, or None after reporting why there are none."""
    if not isinstance(node, yaml.SequenceNode):
        hint = (f" (write [{node.value}])", f"（写作 [{node.value}]）") \
            if isinstance(node, yaml.ScalarNode) else ("", "")
        _wrong_type(node, slot, "list", hint)
        return None
    if not node.value:
        slot.report(node, "empty_list", "the list is empty; give at least one item or leave the field out",
                    "列表为空；至少写一项，或删去该字段")
        return None
    return list(node.value)


def _list_of(item: Reader) -> Reader:
    """A reader of a non-empty list whose items are read by ``item`` and must not repeat."""

    def read(node: yaml.Node, slot: _Slot) -> object:
        nodes = _items(node, slot)
        if nodes is None:
            return _BAD
        if len(nodes) > MAX_LIST_ITEMS:
            slot.report(node, "list_too_long",
                        f"the list has {len(nodes)} items, more than the limit of {MAX_LIST_ITEMS}",
                        f"列表有 {len(nodes)} 项，超过上限 {MAX_LIST_ITEMS} 项")
            return _BAD
        values: list[object] = []
        seen: set[object] = set()  # items are str or frozen models: hashable, so the check stays linear
        for index, child in enumerate(nodes):
            value = item(child, replace(slot, index=index))
            if value is not _BAD:
                if value in seen:
                    slot.report(child, "duplicate_value", f"item {index + 1} repeats an earlier item",
                                f"第 {index + 1} 项与前面的项重复")
                    value = _BAD
                else:
                    seen.add(value)
            values.append(value)
        return _BAD if _BAD in values else tuple(values)
    return read


@dataclass(frozen=True)
class _Field:
    read: Reader
    required: bool = True


@dataclass
class _Read:
    """What a mapping yielded: the usable values and the node of every field present."""

    values: dict[str, object]
    nodes: dict[str, yaml.Node]


def _key_name(key: yaml.Node, file: _File, where: _Where) -> str | None:
    if isinstance(key, yaml.ScalarNode):
        return str(key.value)
    got_en, got_zh = _describe(key)
    file.report(key, "wrong_type", f"a key of {where.en} is {got_en}, not a field name",
                f"{where.zh} 的键是{got_zh}，不是字段名")
    return None


def _unknown_field(key: yaml.Node, name: str, fields: Collection[str], file: _File, where: _Where) -> None:
    if name == "<<":
        hint_en = " (YAML merge keys are not supported; write the fields out)"
        hint_zh = "（不支持 YAML 合并键，请逐项写出字段）"
    else:
        hint_en, hint_zh = _suggest(name, fields)
    file.report(key, "unknown_field", f"'{name}' is not a field of {where.en}{hint_en}",
                f"'{name}' 不是{where.zh} 的字段{hint_zh}")


def _read_mapping(node: yaml.MappingNode, fields: Mapping[str, _Field], file: _File, where: _Where) -> _Read:
    read = _Read({}, {})
    keys: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = _key_name(key, file, where)
        if name is None:
            continue
        if name in keys:
            # PyYAML would silently keep the last value; the first one is kept here and the repeat reported.
            first = keys[name].start_mark.line + 1
            file.report(key, "duplicate_key", f"'{name}' appears twice in {where.en} (first on line {first})",
                        f"'{name}' 在{where.zh} 中重复出现（第一次在第 {first} 行）")
            continue
        keys[name] = key
        spec = fields.get(name)
        if spec is None:
            _unknown_field(key, name, fields, file, where)
            continue
        if isinstance(value, yaml.ScalarNode) and value.tag == _NULL:
            if spec.required:
                file.report(key, "empty_value", f"'{name}' of {where.en} has no value",
                            f"{where.zh} 的 '{name}' 没有值")
            continue  # an optional field left empty means "not given"
        read.nodes[name] = value
        result = spec.read(value, _Slot(file, where, name))
        if result is not _BAD:
            read.values[name] = result
    for name, spec in fields.items():
        if spec.required and name not in keys:
            file.report(node, "missing_field", f"{where.en} has no '{name}'",
                        f"{where.zh} 缺少字段 '{name}'")
    return read


_BASIS_FIELDS: dict[str, _Field] = {
    "document": _Field(_text),
    "number": _Field(_any_text, required=False),
    "article": _Field(_any_text, required=False),
}


def _legal_basis_entry(node: yaml.Node, slot: _Slot) -> object:
    if not isinstance(node, yaml.MappingNode):
        return _wrong_type(node, slot, "mapping")
    number = (slot.index or 0) + 1
    where = _Where(f"legal_basis entry {number} of {slot.where.en}",
                   f"{slot.where.zh} 的第 {number} 条法律依据")
    before = len(slot.file.problems)
    read = _read_mapping(node, _BASIS_FIELDS, slot.file, where)
    return LegalBasis.model_validate(read.values) if len(slot.file.problems) == before else _BAD


_KIND = _choice(KINDS, "unknown_kind", "measure kind", "措施类别")
_EFFECT = _choice(EFFECTS, "unknown_effect", "measure effect", "措施效力")
_LIST_TYPE = _choice(LIST_TYPES, "unknown_list_type", "list type", "名单类型")
_MATTER_TYPE = _choice(MATTER_TYPES, "unknown_matter_type", "matter type", "事项类型")
_BASIS_STATUS = _choice(get_args(BasisStatus), "unknown_basis_status", "basis status", "依据状态")
_SUBJECT_TYPE = _choice(SUBJECT_TYPES, "unknown_subject_type", "subject type", "主体类型")
_ROLE = _choice(RELATED_PARTY_ROLES, "unknown_role", "related-party role", "关联人角色")

_MEASURE_FIELDS: dict[str, _Field] = {
    "id": _Field(_measure_id),
    "name": _Field(_text),
    "kind": _Field(_KIND),
    "effect": _Field(_EFFECT),
    "mandatory": _Field(_bool),
    "list_types": _Field(_list_of(_LIST_TYPE)),
    "matter_types": _Field(_list_of(_MATTER_TYPE)),
    "legal_basis": _Field(_list_of(_legal_basis_entry)),
    "basis_status": _Field(_BASIS_STATUS),
    "implementing_departments": _Field(_list_of(_text)),
    "subject_types": _Field(_list_of(_SUBJECT_TYPE), required=False),
    "related_party_roles": _Field(_list_of(_ROLE), required=False),
    "condition": _Field(_condition, required=False),
    "valid_from": _Field(_date, required=False),
    "valid_to": _Field(_date, required=False),
    "description": _Field(_any_text, required=False),
    "tags": _Field(_list_of(_tag), required=False),
}


# --- checks across the fields of one measure ---------------------------------------------------

def _kind_matches_effect(read: _Read, file: _File, where: _Where) -> None:
    kind, effect = read.values.get("kind"), read.values.get("effect")
    if kind is None or effect is None or (kind == "incentive") == (effect == "incentive"):
        return
    file.report(read.nodes["effect"], "kind_effect_mismatch",
                f"{where.en} has kind '{kind}' but effect '{effect}'; "
                "effect 'incentive' goes with kind 'incentive', and only with it",
                f"{where.zh} 的类别为 {kind}，效力却为 {effect}；"
                "效力 incentive 只能且必须用于激励措施")


def _lists_match_kind(read: _Read, file: _File, where: _Where) -> None:
    kind, node = read.values.get("kind"), read.nodes.get("list_types")
    if kind is None or "list_types" not in read.values or not isinstance(node, yaml.SequenceNode):
        return
    incentive = kind == "incentive"
    allowed = INCENTIVE_LIST_TYPES if incentive else PUNISHMENT_LIST_TYPES
    side_en, side_zh = ("a red list", "红名单") if incentive else ("a punishment list", "惩戒名单")
    for item in node.value:
        if item.value not in allowed:
            file.report(item, "list_kind_mismatch",
                        f"{where.en} is {'an incentive' if incentive else 'a punishment'} measure, "
                        f"so it can only use {side_en}; "
                        f"'{item.value}' is not one",
                        f"{where.zh} 是{KINDS[str(kind)]}措施，只能引用{side_zh}，"
                        f"'{item.value}' 不是{side_zh}")


def _dates_in_order(read: _Read, file: _File, where: _Where) -> None:
    start, end = read.values.get("valid_from"), read.values.get("valid_to")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end <= start:
        file.report(read.nodes["valid_to"], "date_order",
                    f"valid_to {end} of {where.en} is not after valid_from {start}",
                    f"{where.zh} 的 valid_to {end} 不晚于 valid_from {start}")


def _confirmed_has_articles(read: _Read, file: _File, where: _Where) -> None:
    basis = read.values.get("legal_basis")
    if read.values.get("basis_status") != "confirmed" or not isinstance(basis, tuple):
        return
    missing = [str(i + 1) for i, entry in enumerate(basis)
               if isinstance(entry, LegalBasis) and not entry.article.strip()]
    if missing:
        entries = ", ".join(missing)
        file.report(read.nodes["basis_status"], "basis_status",
                    f"{where.en} is 'confirmed' but legal_basis entry {entries} cites no article; "
                    "cite the article or mark it 'unconfirmed'",
                    f"{where.zh} 标为 confirmed，但第 {entries} 条法律依据未写明条款；"
                    "请补充条款或改为 unconfirmed")


_CROSS_CHECKS: tuple[Callable[[_Read, _File, _Where], None], ...] = (
    _kind_matches_effect, _lists_match_kind, _dates_in_order, _confirmed_has_articles,
)


# --- measures and files ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Draft:
    """A measure as read: its usable values (all of them when its file has no problem)."""

    values: dict[str, object]
    id_node: yaml.Node | None
    source: str
    #: Where its rules are sized (``rules_too_large``): its condition, else its id.
    rule_node: yaml.Node | None = None


def _measure_where(node: yaml.MappingNode, index: int) -> _Where:
    """Name the measure by its id when it has a usable one, else by its position in the file."""
    for key, value in node.value:
        if (isinstance(key, yaml.ScalarNode) and key.value == "id" and isinstance(value, yaml.ScalarNode)
                and value.tag == _STR and value.value.strip()):
            return _Where(f"measure {value.value}", f"措施 {value.value}")
    return _Where(f"measure #{index + 1}", f"第 {index + 1} 条措施")


def _measures(node: yaml.Node, slot: _Slot) -> object:
    # Unlike other readers this one returns the measures that have problems too: their ids still
    # take part in the duplicate check across files.
    nodes = _items(node, slot)
    if nodes is None:
        return _BAD
    drafts: list[_Draft] = []
    for index, child in enumerate(nodes):
        if not isinstance(child, yaml.MappingNode):
            got_en, got_zh = _describe(child)
            slot.file.report(child, "not_a_mapping",
                             f"measure #{index + 1} is {got_en}, not a mapping of fields",
                             f"第 {index + 1} 条措施是{got_zh}，不是字段映射")
            continue
        where = _measure_where(child, index)
        read = _read_mapping(child, _MEASURE_FIELDS, slot.file, where)
        for check in _CROSS_CHECKS:
            check(read, slot.file, where)
        source = f"{slot.file.path}:{child.start_mark.line + 1}"
        drafts.append(_Draft(read.values, read.nodes.get("id"), source,
                             read.nodes.get("condition") or read.nodes.get("id") or child))
    return tuple(drafts)


_HEADER_FIELDS: dict[str, _Field] = {
    "edition": _Field(_text),
    "issuer": _Field(_text),
    "region_code": _Field(_region_code),
    "measures": _Field(_measures),
}


def _compose(text: str, file: _File) -> yaml.MappingNode | None:
    """The document's root mapping, or None after reporting why there is none."""
    try:
        root: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (error.context, error.problem) if part)
        file.report_at(line, col, "yaml_syntax", f"YAML syntax error: {what}", f"YAML 语法错误：{what}")
        return None
    except yaml.reader.ReaderError as error:
        line, col = _line_col(text, error.position)
        file.report_at(line, col, "yaml_syntax", f"character {error.character!r} is not allowed in YAML",
                       f"YAML 中不允许字符 {error.character!r}")
        return None
    except (yaml.YAMLError, RecursionError):
        # PyYAML recurses once per nesting level: thousands of '[' exhaust the stack.
        file.report_at(1, 1, "yaml_syntax", "the file is not readable YAML (nested too deeply?)",
                       "文件不是可读的 YAML（嵌套过深？）")
        return None
    if root is not None and _surrogates(root, file):
        return None
    if isinstance(root, yaml.MappingNode):
        return root
    if root is None:
        file.report_at(1, 1, "not_a_mapping",
                       "the file is empty; expected edition, issuer, region_code and measures",
                       "文件为空；应包含 edition、issuer、region_code 和 measures")
    else:
        got_en, got_zh = _describe(root)
        file.report(root, "not_a_mapping", f"the file holds {got_en}, not a mapping of fields",
                    f"文件内容是{got_zh}，不是字段映射")
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogates(root: yaml.Node, file: _File) -> bool:
    """Report every scalar holding an unpaired surrogate (only a YAML escape such as "\\ud800" makes
    one: UTF-8 cannot): it is no character, and no UTF-8 writer, the rule engine included, takes it."""
    found = False
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:  # aliases share nodes, and may loop
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            value = str(node.value)
            if not value.isascii() and (bad := _SURROGATE.search(value)):
                found = True
                file.report(node, "bad_text", f"the text holds an unpaired surrogate ({bad.group()!a}), which is "
                            "not a character; remove that escape",
                            f"文本含有不成对的代理字符 {bad.group()!a}，它不是字符；请删去该转义")
        elif isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in node.value for n in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return found


def _read_text(file: _File) -> str | None:
    try:
        data = Path(file.path).read_bytes()
    except OSError as error:
        file.report_at(1, 1, "file_not_found", f"cannot read the file: {error.strerror}",
                       f"无法读取文件：{error.strerror}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = data[:error.start].decode("utf-8-sig", errors="replace")
        line, col = _line_col(before, len(before))
        file.report_at(line, col, "bad_encoding", "the file is not UTF-8 text; save it as UTF-8",
                       "文件不是 UTF-8 编码；请另存为 UTF-8")
        return None


def _check_file(path: str) -> _File:
    file = _File(path)
    text = _read_text(file)
    root = _compose(text, file) if text is not None else None
    if root is not None:
        file.header = _read_mapping(root, _HEADER_FIELDS, file, _HEADER).values
        drafts = file.header.get("measures", ())
        file.drafts = drafts if isinstance(drafts, tuple) else ()
    return file


def _expand(paths: Iterable[PathLike]) -> tuple[list[str], list[Problem]]:
    """The files to read (a directory gives its *.yaml and *.yml, sorted) and the paths that fail."""
    files: list[str] = []
    problems: list[Problem] = []
    for given in paths:
        path = os.fspath(given)
        if not os.path.isdir(path):
            files.append(path)  # a missing file is reported when it is read
            continue
        try:
            names = sorted(n for n in os.listdir(path) if n.endswith((".yaml", ".yml"))
                           and os.path.isfile(os.path.join(path, n)))
        except OSError as error:
            reason = error.strerror
            problems.append(Problem(path, 1, 1, "file_not_found",
                                    f"cannot read the directory: {reason} / 无法读取目录：{reason}"))
            continue
        if not names:
            problems.append(Problem(path, 1, 1, "no_measure_files",
                                    "the directory has no .yaml or .yml file / "
                                    "目录中没有 .yaml 或 .yml 文件"))
        files.extend(os.path.join(path, name) for name in names)
    return files, problems


def _duplicate_ids(files: Iterable[_File]) -> list[Problem]:
    """One problem per repeated measure id, at the repeat, naming where the id was first used."""
    first: dict[str, str] = {}
    problems: list[Problem] = []
    for file in files:
        for draft in file.drafts:
            measure_id, node = draft.values.get("id"), draft.id_node
            if not isinstance(measure_id, str) or node is None:
                continue
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            if measure_id not in first:
                first[measure_id] = f"{file.path}:{line}:{col}"
                continue
            there = first[measure_id]
            problems.append(Problem(file.path, line, col, "duplicate_measure_id",
                                    f"measure id {measure_id} is already used at {there} / "
                                    f"措施编号 {measure_id} 已在 {there} 使用"))
    return problems


def _rules_too_large(files: Iterable[_File]) -> list[Problem]:
    """One problem per list type × matter type whose rules durable_rules could not take.

    Measures are counted as the compiler shares them (one rule per distinct residual condition),
    and the problem is put at the measure that takes its group over a limit.
    """
    residuals: dict[tuple[str, str], set[object]] = {}
    used: dict[tuple[str, str], tuple[int, int]] = {}
    problems: list[Problem] = []
    for file in files:
        for draft in file.drafts:
            v = draft.values
            lists, matters = v.get("list_types"), v.get("matter_types")
            if not isinstance(lists, tuple | list) or not isinstance(matters, tuple | list):
                continue
            try:
                residual = residual_of(v.get("valid_from"), v.get("valid_to"),  # type: ignore[arg-type]
                                       v.get("subject_types"), v.get("related_party_roles", ()),  # type: ignore[arg-type]
                                       v.get("condition"))  # type: ignore[arg-type]
            except ConditionError:
                continue  # reported where the condition was read
            size = alternatives(residual), coincident(residual)
            for key in ((lt, mt) for lt in lists for mt in matters):
                seen = residuals.setdefault(key, set())
                if residual in seen:
                    continue
                seen.add(residual)
                paths, firings = used.get(key, (0, 0))
                used[key] = paths + size[0], firings + size[1]
                if draft.rule_node is None:
                    continue
                if paths <= MAX_RULESET_ALTERNATIVES < paths + size[0]:
                    problems.append(_too_large(file, draft.rule_node, key, paths + size[0], MAX_RULESET_ALTERNATIVES,
                                               ("alternatives", "个备选分支")))
                elif firings <= MAX_RULESET_FIRINGS < firings + size[1]:
                    problems.append(_too_large(file, draft.rule_node, key, firings + size[1], MAX_RULESET_FIRINGS,
                                               ("alternatives that one record can meet at once",
                                                "个可被同一条记录同时满足的备选分支")))
    return problems


def _too_large(file: _File, node: yaml.Node, key: tuple[str, str], n: int, limit: int,
               what: tuple[str, str]) -> Problem:
    mark = node.start_mark
    return Problem(file.path, mark.line + 1, mark.column + 1, "rules_too_large",
                   f"with this measure the rules for {key[0]} × {key[1]} have {n} {what[0]}, more than the "
                   f"rule engine takes ({limit}); merge conditions or use fewer 'or' branches (an 'in' list "
                   f"of {SET_TEST_MIN} or more values counts once) / 加上此措施后 {key[0]} × {key[1]} 的规则共有 "
                   f"{n} {what[1]}，超过规则引擎的上限（{limit}）；请合并条件或减少 or 分支"
                   f"（{SET_TEST_MIN} 个值以上的 in 列表只计一次）")


def _check(paths: Iterable[PathLike] | PathLike) -> tuple[list[Problem], list[_File]]:
    # A lone path is a common slip (a str is itself an iterable of one-letter "paths").
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    names, problems = _expand(paths)
    files = [_check_file(name) for name in names]
    problems += [p for file in files for p in file.problems]
    problems += _duplicate_ids(files)
    problems += _rules_too_large(files)
    return sorted(problems), files


def _build(file: _File) -> MeasureListFile:
    measures = tuple(Measure.model_validate({**d.values, "source": d.source}) for d in file.drafts)
    return MeasureListFile.model_validate({**file.header, "path": file.path, "measures": measures})


# --- public API --------------------------------------------------------------------------------

def lint(paths: Iterable[PathLike] | PathLike) -> list[Problem]:
    """Every problem of the measure lists at ``paths`` (files or directories), sorted; empty = clean.

    Never raises for bad content: unreadable paths and bad YAML are problems like any other.
    """
    return _check(paths)[0]


def load_measure_lists(paths: Iterable[PathLike] | PathLike) -> tuple[MeasureListFile, ...]:
    """Load and validate the measure lists at ``paths`` (files, or directories of *.yaml / *.yml).

    Returns:
        One validated file per YAML file, in the order given (a directory's files sorted by name).

    Raises:
        MeasureListError: carrying every problem of every file, when there is any.
    """
    problems, files = _check(paths)
    if problems:
        raise MeasureListError(problems)
    return tuple(_build(file) for file in files)


def shipped_measures_dir() -> Path:
    """The measure lists shipped with the package (the repository's measure_lists/, linked in place)."""
    return Path(__file__).resolve().parent / "measure_lists"
