"""The vocabulary as policy staff look it up (``joint-sanctions vocab``): every id a measure list, a
condition or an import file may use, each with its Chinese name, gathered from where each is defined
(:mod:`joint_sanctions.vocabulary`, the condition language, the import columns) so it cannot drift.
"""

from __future__ import annotations

from typing import Any

from . import vocabulary as v
from ._conditions import CONDITION_FIELDS
from ._records import _CHINESE_COLUMNS, _KNOWN, _REQUIRED

__all__ = ["CONDITION_FIELD_NAMES", "SECTIONS", "vocabulary_tables"]

#: The Chinese name of each field a condition may name (the fields are the condition language's own).
CONDITION_FIELD_NAMES: dict[str, str] = {
    "matter.amount": "事项金额（元）",
    "matter.item_code": "事项编码",
    "matter.region_code": "事项行政区划代码",
    "matter.department_code": "办理部门编码",
    "matter.organizer": "事项主办系统",
    "subject.subject_type": "主体类型",
    "subject.id_kind": "主体标识类型",
    "record.list_type": "名单类型",
    "record.authority": "认定单位",
    "record.document_no": "认定文号",
    "record.reason": "列入事由",
}

_TYPE_NAMES = {float: "number", str: "text", int: "number", bool: "boolean"}

#: Each section of the vocabulary: its JSON key and its heading in Chinese and English.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("list_types", "名单类型", "List types"),
    ("matter_types", "事项类型", "Matter types"),
    ("subject_types", "主体类型", "Subject types"),
    ("kinds", "措施类别", "Measure kinds"),
    ("effects", "措施效力", "Measure effects"),
    ("related_party_roles", "关联人角色", "Related-party roles"),
    ("organizers", "事项主办系统", "Matter organisers"),
    ("clue_channels", "政务失信投诉线索渠道", "Complaint channels of government-integrity clues"),
    ("condition_fields", "条件字段", "Condition fields"),
    ("import_columns", "导入列", "Import columns"),
)


def _named(table: dict[str, str]) -> list[dict[str, Any]]:
    return [{"id": key, "name": name} for key, name in table.items()]


def vocabulary_tables() -> dict[str, list[dict[str, Any]]]:
    """Every section of :data:`SECTIONS`, each a list of ``{"id", "name", …}`` in the vocabulary's order.

    List types also say their ``kind`` and whether their records may carry a ban (``carries_ban``);
    condition fields their value ``type``; import columns whether they are ``required``.
    """
    headers = {column: header for header, column in _CHINESE_COLUMNS.items()}
    return {
        "list_types": [{"id": key, "name": name,
                        "kind": "incentive" if key in v.INCENTIVE_LIST_TYPES else "punishment",
                        "carries_ban": key in v.BAN_LIST_TYPES} for key, name in v.LIST_TYPES.items()],
        "matter_types": _named(v.MATTER_TYPES),
        "subject_types": _named(v.SUBJECT_TYPES),
        "kinds": _named(v.KINDS),
        "effects": _named(v.EFFECTS),
        "related_party_roles": _named(v.RELATED_PARTY_ROLES),
        "organizers": _named(v.ORGANIZERS),
        "clue_channels": _named(v.CLUE_CHANNELS),
        "condition_fields": [{"id": key, "name": CONDITION_FIELD_NAMES[key], "type": _TYPE_NAMES[kind]}
                             for key, kind in CONDITION_FIELDS.items()],
        "import_columns": [{"id": column, "name": headers[column], "required": column in _REQUIRED}
                           for column in _KNOWN],
    }
