"""Reading measure lists, part 1: YAML nodes → values, every problem located (file:line:col).

Files are *composed* into YAML nodes (:mod:`~joint_sanctions._load`), never constructed into Python
objects first, so every problem keeps the line and column where it is written, and PyYAML's quiet
habits (a repeated key keeps the last value, ``yes`` is a boolean, ``012345`` an octal number) are
caught instead of trusted. Here are the readers: of single values, of lists and of mappings through
tables of field specs. A reader reports its own problems and returns ``_BAD`` when the value cannot
be used, so one pass collects every problem of every file. What the fields of a measure list are is
in :mod:`~joint_sanctions._load_fields`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace

import yaml

from ._conditions import ConditionError, parse_condition
from ._errors import Problem
from ._identifiers import mask_text

#: Most items a list field of a measure may hold (``list_too_long`` beyond). Real lists hold a few
#: to a few dozen (departments, list types, tags); the bound keeps a list reused by YAML alias in
#: many measures from making lint slow.
MAX_LIST_ITEMS = 1000

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


# --- measures as read ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Draft:
    """A measure as read: its usable values (all of them when its file has no problem)."""

    values: dict[str, object]
    id_node: yaml.Node | None
    source: str
    #: Where its rules are sized (``rules_too_large``): its condition, else its id.
    rule_node: yaml.Node | None = None
