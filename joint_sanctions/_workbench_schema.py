"""JSON Schemas (draft 2020-12) of a measure-list file and of the list-type policy, for editors.

``joint-sanctions schema measures`` prints the first, ``schema list-types`` the second; both ship in
``measure_lists/schemas/`` beside the lists, and every shipped YAML names its schema on its first line
(``# yaml-language-server: $schema=schemas/….schema.json``), so VS Code and JetBrains complete fields and
flag mistakes as staff type. The schemas are generated here from the loader's field tables (which
fields exist, which are required) and the vocabulary (the enums); a test keeps the shipped files equal to
what this module generates (regenerate with ``python -m joint_sanctions._workbench_schema``).

Lint stays the authority: a schema cannot check what spans fields or files (kind against effect,
repeated ids, conditions, dates in order), and lint reports those.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, get_args

from ._list_types import _ENTRY_FIELDS, _FILE_FIELDS, _PERIOD
from ._load import shipped_measures_dir
from ._load_fields import _BASIS_FIELDS, _HEADER_FIELDS, _MEASURE_FIELDS
from ._load_nodes import _DATE, _ID, _REGION, _TAG_ID, MAX_LIST_ITEMS, _Field
from ._models import BasisStatus
from .vocabulary import EFFECTS, KINDS, LIST_TYPES, MATTER_TYPES, RELATED_PARTY_ROLES, SUBJECT_TYPES

__all__ = ["SCHEMAS", "schema_text", "shipped_schema_path"]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_BASIS_STATUS_NAMES = {"confirmed": "依据条款已核实", "unconfirmed": "依据待核实（不单独具有约束力）"}


def _pattern(regex: str) -> str:
    return f"^{regex}$"


_TEXT: dict[str, Any] = {"type": "string", "pattern": r"\S"}
_ANY_TEXT: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_DATE_TEXT: dict[str, Any] = {"type": "string", "pattern": _pattern(_DATE.pattern), "format": "date"}


def _enum(names: Mapping[str, str]) -> dict[str, Any]:
    # enumDescriptions is the editors' keyword (VS Code, yaml-language-server); validators ignore it.
    return {"enum": list(names), "enumDescriptions": [f"{name} / {key}" for key, name in names.items()]}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_LIST_ITEMS, "uniqueItems": True}


def _object(fields: Mapping[str, _Field], shapes: Mapping[str, tuple[dict[str, Any], str, str]],
            zh: str, en: str) -> dict[str, Any]:
    """An object of exactly the loader's ``fields``, required as the loader requires them."""
    missing = set(fields) ^ set(shapes)
    if missing:  # the field table changed: the schema must describe it before it can ship
        raise KeyError(f"schema shapes and loader fields differ: {sorted(missing)}")
    properties = {name: {"description": f"{shapes[name][1]} / {shapes[name][2]}", **shapes[name][0]}
                  for name in fields}
    return {"type": "object", "description": f"{zh} / {en}", "properties": properties,
            "required": [name for name, field in fields.items() if field.required],
            "additionalProperties": False}


_BASIS = _object(_BASIS_FIELDS, {
    "document": (_TEXT, "文件名称", "the document's title"),
    "number": (_ANY_TEXT, "文号；没有或不知道写空字符串 \"\"", "its number; \"\" when it has none or it is unknown"),
    "article": (_ANY_TEXT, "条款；不知道写空字符串 \"\"", "the article; \"\" when unknown"),
}, "一条法律依据", "one legal basis")

_BASIS_STATUS_SCHEMA = _enum({key: _BASIS_STATUS_NAMES[key] for key in get_args(BasisStatus)})

_MEASURE = _object(_MEASURE_FIELDS, {
    "id": ({"type": "string", "pattern": _pattern(_ID.pattern)},
           "稳定编号，全部文件内唯一：大写字母、数字、连字符（如 NAT-GP-001）；发布后不要改号",
           "stable id, unique across all files: upper-case letters, digits, hyphens (e.g. NAT-GP-001)"),
    "name": (_TEXT, "措施名称（中文）", "the measure's name (Chinese)"),
    "kind": (_enum(KINDS), "措施类别", "punishment or incentive"),
    "effect": (_enum(EFFECTS), "措施效力；incentive 只能用于激励措施",
               "the effect; 'incentive' goes with kind 'incentive' only"),
    "mandatory": (_BOOL, "依据用语为“应当/不得”写 true，“可以/作为参考”写 false",
                  "true for 应当/不得 (shall), false for 可以 (may)"),
    "list_types": (_list(_enum(LIST_TYPES)), "名单类型：惩戒措施用惩戒名单，激励措施用红名单",
                   "list types: punishment lists for a punishment, red lists for an incentive"),
    "matter_types": (_list(_enum(MATTER_TYPES)), "事项类型", "matter types"),
    "legal_basis": (_list(_BASIS), "依据列表", "the legal basis, one entry per document"),
    "basis_status": (_BASIS_STATUS_SCHEMA, "只有所引条款本身已核实才写 confirmed，其余一律 unconfirmed",
                     "confirmed only when the cited article itself is confirmed; else unconfirmed"),
    "implementing_departments": (_list(_TEXT), "实施部门", "implementing departments"),
    "subject_types": (_list(_enum(SUBJECT_TYPES)), "只对这些类型的主体本身适用；省略 = 任何主体",
                      "applies only to subjects of these types (not their related parties); omitted = any"),
    "related_party_roles": (_list(_enum(RELATED_PARTY_ROLES)), "关联人被列入名单时，对本主体也适用",
                            "also applies when a related party in one of these roles is listed"),
    "condition": (_TEXT, "条件表达式，如 matter.amount >= 1000000（字段见 joint-sanctions vocab）",
                  "a condition, e.g. matter.amount >= 1000000 (fields: joint-sanctions vocab)"),
    "valid_from": (_DATE_TEXT, "依据生效日期 YYYY-MM-DD（valid_from ≤ 核查日）；不知道就不写",
                   "when the basis took effect, YYYY-MM-DD (valid_from ≤ check day); omit if unknown"),
    "valid_to": (_DATE_TEXT, "依据失效日期 YYYY-MM-DD（核查日 < valid_to）", "when it ended (check day < valid_to)"),
    "requires_ban": (_BOOL, "true：只有记录本身载明的禁入覆盖本事项、且在 ban_until 之前才适用",
                     "true: applies only while the record's own ban covers the matter"),
    "requires_overdue": (_BOOL, "true：只有记录的整改期限已过、记录仍有效时才适用（逾期未整改）",
                         "true: applies only once the record's rectify_by has passed (overdue)"),
    "description": (_ANY_TEXT, "措施完整表述", "the measure's full wording"),
    "tags": (_list({"type": "string", "pattern": _pattern(_TAG_ID.pattern)}), "宿主系统适配用的标记（小写下划线）",
             "markers for host adapters (lower snake_case)"),
}, "一条措施", "one measure")

_EDITION = (_TEXT, "版本（字符串，加引号）", "edition, a string (quote it)")
_ISSUER = (_TEXT, "维护单位", "who maintains the file")

_MEASURE_FILE = _object(_HEADER_FIELDS, {
    "edition": _EDITION,
    "issuer": _ISSUER,
    # An unquoted 410100 is read back as text by lint; a leading 0 must be quoted (YAML would lose it).
    "region_code": ({"oneOf": [{"type": "string", "pattern": _pattern(_REGION.pattern)},
                               {"type": "integer", "minimum": 100000, "maximum": 999999}]},
                    "6 位行政区划代码，加引号（如 \"410100\"）；全国性清单写 \"000000\"",
                    "6-digit administrative division code, quoted (e.g. \"410100\"); \"000000\" for national lists"),
    "measures": (_list(_MEASURE), "措施列表", "the measures"),
}, "联合奖惩措施清单文件", "a measure-list file")

# The loader's own period pattern, anchored, without a zero count (lint: bad_period).
_PERIOD_TEXT = {"type": "string", "pattern": rf"^\s*(?!0+\s*[^\s0-9])(?:{_PERIOD.pattern})\s*$"}

_POLICY_ENTRY = _object(_ENTRY_FIELDS, {
    "list_type": (_enum(LIST_TYPES), "名单类型", "the list type"),
    "name": (_TEXT, "名单中文名称", "its Chinese name"),
    "listed_by": (_TEXT, "认定单位", "the authority that lists"),
    "repaired_by": (_TEXT, "修复单位（谁认定谁修复）", "the authority that repairs"),
    "maximum_period": (_PERIOD_TEXT, "最长公示期限，如 3 years、12 months、90 days（或 3年）；不写 = 不设上限",
                       "maximum publication period, e.g. 3 years; omitted = open-ended"),
    "minimum_before_repair": (_PERIOD_TEXT, "最短修复期限；不写 = 随时可修复",
                              "minimum period before repair; omitted = none"),
    "basis": (_list(_BASIS), "依据列表（confirmed 时必填）", "the legal basis (required when confirmed)"),
    "basis_status": (_BASIS_STATUS_SCHEMA, "资料标注 [C] 写 confirmed，其余 unconfirmed",
                     "confirmed only for a [C] source; else unconfirmed"),
    "note": (_ANY_TEXT, "说明", "a note"),
}, "一类名单的政策", "the policy of one list type")

_POLICY_FILE = _object(_FILE_FIELDS, {
    "edition": _EDITION,
    "issuer": _ISSUER,
    "list_types": (_list(_POLICY_ENTRY), "各类名单的政策", "one entry per list type"),
}, "名单类型政策文件（list_types.yaml）", "the list-type policy file (list_types.yaml)")


def _document(body: dict[str, Any], zh: str, en: str) -> dict[str, Any]:
    return {"$schema": _DRAFT, "title": f"{zh} / {en}",
            "$comment": "生成自 joint_sanctions 的字段表与词表；以 joint-sanctions lint 为准 / generated from the "
                        "loader's fields and the vocabulary; joint-sanctions lint is the authority", **body}


#: Each schema: its command-line name → (its file name, how it is generated).
SCHEMAS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "measures": ("measures.schema.json",
                 lambda: _document(_MEASURE_FILE, "联合奖惩措施清单", "measure list")),
    "list-types": ("list-types.schema.json",
                   lambda: _document(_POLICY_FILE, "名单类型政策", "list-type policy")),
}


def schema_text(name: str) -> str:
    """The JSON text of the schema called ``name`` (a key of :data:`SCHEMAS`), as shipped."""
    return json.dumps(SCHEMAS[name][1](), ensure_ascii=False, indent=2) + "\n"


def shipped_schema_path(name: str) -> Path:
    """Where the schema called ``name`` ships: ``measure_lists/schemas/``, beside the lists that name it."""
    return shipped_measures_dir() / "schemas" / SCHEMAS[name][0]


if __name__ == "__main__":  # regenerate the shipped files
    for _name in SCHEMAS:
        shipped_schema_path(_name).parent.mkdir(exist_ok=True)
        shipped_schema_path(_name).write_text(schema_text(_name), encoding="utf-8")
