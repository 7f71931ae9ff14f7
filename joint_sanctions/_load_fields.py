"""Reading measure lists, part 2: the fields of a file header and of a measure, and the checks
across the fields of one measure (measure_lists/README.md describes them for policy staff).

The readers they use, and how problems are located and told, are in :mod:`~joint_sanctions._load_nodes`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import get_args

import yaml

from ._load_nodes import (
    _BAD,
    _STR,
    _any_text,
    _bool,
    _choice,
    _condition,
    _date,
    _describe,
    _Draft,
    _Field,
    _File,
    _items,
    _list_of,
    _measure_id,
    _Read,
    _read_mapping,
    _region_code,
    _Slot,
    _tag,
    _text,
    _Where,
    _wrong_type,
)
from ._models import BasisStatus, LegalBasis
from .vocabulary import (
    BAN_LIST_TYPES,
    EFFECTS,
    INCENTIVE_LIST_TYPES,
    KINDS,
    LIST_TYPES,
    MATTER_TYPES,
    PUNISHMENT_LIST_TYPES,
    RELATED_PARTY_ROLES,
    SUBJECT_TYPES,
)

# --- the fields of a legal basis entry and of a measure -------------------------------------------

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
    "requires_ban": _Field(_bool, required=False),
    "requires_overdue": _Field(_bool, required=False),
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


def _bans_on_ban_lists(read: _Read, file: _File, where: _Where) -> None:
    """``requires_ban`` only on list types whose records carry bans (vocabulary.BAN_LIST_TYPES): on any
    other the measure could never apply, which is a mistake, not a policy."""
    node = read.nodes.get("list_types")
    if read.values.get("requires_ban") is not True or not isinstance(node, yaml.SequenceNode):
        return
    for item in node.value:
        if isinstance(item, yaml.ScalarNode) and item.value in LIST_TYPES and item.value not in BAN_LIST_TYPES:
            file.report(item, "ban_list_type",
                        f"{where.en} has requires_ban: true, but a '{item.value}' record carries no ban of its "
                        f"own, so the measure could never apply through it; bans ride on "
                        f"{', '.join(BAN_LIST_TYPES)}",
                        f"{where.zh} 要求 requires_ban: true，但 '{item.value}' 名单的记录不带禁入事项，"
                        f"该措施对其永远不会适用；带禁入事项的名单为：{', '.join(BAN_LIST_TYPES)}")


def _overdue_on_punishment(read: _Read, file: _File, where: _Where) -> None:
    if read.values.get("requires_overdue") is True and read.values.get("kind") == "incentive":
        file.report(read.nodes["requires_overdue"], "overdue_on_incentive",
                    f"{where.en} is an incentive; overdue rectification (requires_overdue) can only "
                    "trigger a punishment",
                    f"{where.zh} 是激励措施；逾期未整改（requires_overdue）只能触发惩戒措施")


_CROSS_CHECKS: tuple[Callable[[_Read, _File, _Where], None], ...] = (
    _kind_matches_effect, _lists_match_kind, _dates_in_order, _confirmed_has_articles, _bans_on_ban_lists,
    _overdue_on_punishment,
)


# --- measures and file headers -----------------------------------------------------------------

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
