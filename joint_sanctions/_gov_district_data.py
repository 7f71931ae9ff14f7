"""The deployment's districts and the third-party monitoring scores (docs/government-integrity-districts.md).

The districts are a YAML file (shipped: ``measure_lists/districts/zhengzhou.yaml``; another with
``--districts FILE`` or ``JOINT_SANCTIONS_DISTRICTS``), checked whole when read: every problem is reported
as ``path:line:col: code: message`` and nothing runs on a bad file.

Scores come from the third party that evaluates the districts every month on six dimensions (the seed
reply names them: 依法行政, 政务公开, 勤政高效, 政府信用管理, 信用信息归集共享, “信易+”开展情况). A file
(CSV UTF-8 or XLSX) has a row per district and month with any of the six as columns, read within the
bounds of :mod:`~joint_sanctions._tabular`; a bad row is reported with its line and the good rows are
stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import _identifiers as identifiers
from . import _tabular
from ._errors import IdentifierError, ImportRowError, JointSanctionsError, Problem
from ._gov_districts import area_of
from ._load import shipped_measures_dir
from .stores import RecordStore
from .stores._gov_district_tables import DistrictScore, write_scores

__all__ = ["DIMENSIONS", "District", "DistrictError", "Districts", "ScoreImport", "import_scores",
           "load_districts", "parse_month"]

#: The six dimensions of the monthly government-integrity monitoring (seed reply, part 三), id → Chinese name.
DIMENSIONS: dict[str, str] = {
    "lawful_administration": "依法行政",
    "transparency": "政务公开",
    "efficiency": "勤政高效",
    "credit_management": "政府信用管理",
    "information_sharing": "信用信息归集共享",
    "xinyi_plus": "“信易+”开展情况",
}
_DIMENSION_HEADERS = {**{name: key for key, name in DIMENSIONS.items()}, "信易+": "xinyi_plus",
                      "信易+开展情况": "xinyi_plus"}
_SCORE_HEADERS = {"行政区划代码": "region_code", "月份": "month", "来源": "source", "评估机构": "source",
                  **_DIMENSION_HEADERS}
_SCORE_COLUMNS = ("region_code", "month", "source", *DIMENSIONS)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
DISTRICTS_ENV = "JOINT_SANCTIONS_DISTRICTS"


_Report = Callable[[yaml.Node, str, str], None]  # a problem at a node: code, message


class DistrictError(JointSanctionsError):
    """The districts file or a scores file cannot be used; the message has one line per problem."""


def parse_month(text: str) -> str:
    """``YYYY-MM`` as given, checked.

    Raises:
        ValueError: anything else (one line, English and Chinese).
    """
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1900:
        raise ValueError(f"{text!r} is not a month YYYY-MM / 月份须写作 YYYY-MM")
    return match[0]


# --- the deployment's districts ---------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    """One district of the deployment; ``official`` is false for a code the deployment assigned itself."""

    region_code: str
    name: str
    official: bool = True
    note: str = ""


@dataclass(frozen=True)
class Districts:
    """The deployment's districts, in the file's order, within the area of ``region_code``."""

    path: str
    region_code: str
    name: str
    districts: tuple[District, ...]

    def find(self, code: str) -> District | None:
        """The district with this region code, or None."""
        return next((d for d in self.districts if d.region_code == code), None)


def districts_path(given: str | os.PathLike[str] | None = None) -> Path:
    """The districts file: ``given``, else ``JOINT_SANCTIONS_DISTRICTS``, else the shipped one."""
    if given is not None:
        return Path(given)
    env = os.environ.get(DISTRICTS_ENV)
    return Path(env) if env else shipped_measures_dir() / "districts" / "zhengzhou.yaml"


_TOP_KEYS = {"region_code", "name", "districts"}
_ENTRY_KEYS = {"region_code", "name", "official", "note"}


def load_districts(path: str | os.PathLike[str] | None = None) -> Districts:
    """Read and check the districts file (module docstring).

    Raises:
        DistrictError: every problem, one line each, located ``path:line:col``.
    """
    file = districts_path(path)
    name = os.fspath(file)
    try:
        root = yaml.compose(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DistrictError(f"{name}:1:1: file_not_found: cannot read the districts file: {exc.strerror or exc} "
                            "/ 无法读取区县配置文件") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "1:1"
        raise DistrictError(f"{name}:{where}: yaml_syntax: not valid YAML (UTF-8) / 不是有效的 YAML 文件") from None
    problems: list[Problem] = []

    def problem(node: yaml.Node, code: str, message: str) -> None:
        problems.append(Problem(name, node.start_mark.line + 1, node.start_mark.column + 1, code, message))

    if not isinstance(root, yaml.MappingNode):
        raise DistrictError(f"{name}:1:1: bad_file: the file must be a mapping with region_code, name and "
                            "districts / 文件须包含 region_code、name 和 districts")
    top = _mapping(root, _TOP_KEYS, problem)
    city = _code(top.get("region_code"), root, problem)
    city_name = _text(top.get("name"), root, "name", problem)
    entries = top.get("districts")
    found: list[District] = []
    if not isinstance(entries, yaml.SequenceNode) or not entries.value:
        problem(entries or root, "no_districts", "districts must be a non-empty list / districts 须为非空列表")
    else:
        seen: dict[str, int] = {}
        for node in entries.value:
            entry = _mapping(node, _ENTRY_KEYS, problem) if isinstance(node, yaml.MappingNode) else None
            if entry is None:
                problem(node, "bad_district", "each district is a mapping with region_code and name "
                                              "/ 每个区县须写明 region_code 和 name")
                continue
            code = _code(entry.get("region_code"), node, problem)
            title = _text(entry.get("name"), node, "name", problem)
            official = _flag(entry.get("official"), problem)
            note = entry.get("note")
            if code is None or title is None:
                continue
            if code in seen:
                problem(entry["region_code"], "duplicate_district",
                        f"region code {code} is already given on line {seen[code]} / 行政区划代码重复")
                continue
            seen[code] = entry["region_code"].start_mark.line + 1
            if city is not None and (code == city or not code.startswith(area_of(city))):
                problem(entry["region_code"], "outside_area",
                        f"{code} is not a district of {city} / {code} 不在 {city} 辖区内")
            found.append(District(code, title, official, str(note.value) if isinstance(note, yaml.ScalarNode)
                                  else ""))
    if problems or city is None or city_name is None:
        raise DistrictError("\n".join(str(p) for p in sorted(problems)))
    return Districts(name, city, city_name, tuple(found))


def _mapping(node: yaml.MappingNode, keys: set[str], problem: _Report) -> dict[str, yaml.Node]:
    values: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.value not in keys:
            shown = key.value if isinstance(key, yaml.ScalarNode) else "?"
            problem(key, "unknown_field", f"unknown field {shown!r} (known: {', '.join(sorted(keys))}) / 未知字段")
            continue
        values[key.value] = value
    return values


def _code(node: yaml.Node | None, parent: yaml.Node, problem: _Report) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or not node.value:
        problem(node or parent, "missing_region_code", "region_code is required / 缺少行政区划代码")
        return None
    try:
        return identifiers.parse_region_code(str(node.value))
    except IdentifierError as exc:
        problem(node, "bad_region_code", str(exc))
        return None


def _text(node: yaml.Node | None, parent: yaml.Node, field: str, problem: _Report) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        problem(node or parent, f"missing_{field}", f"{field} is required / 缺少{field}")
        return None
    return str(node.value).strip()


def _flag(node: yaml.Node | None, problem: _Report) -> bool:
    if node is None:
        return True
    if isinstance(node, yaml.ScalarNode) and node.value in ("true", "false"):
        return bool(node.value == "true")
    problem(node, "bad_official", "official must be true or false / official 须为 true 或 false")
    return True


# --- third-party scores ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreImport:
    """What :func:`import_scores` did: rows stored (each a district and month) and the bad rows."""

    path: str
    stored: int
    errors: list[ImportRowError]


def import_scores(store: RecordStore, path: str | os.PathLike[str], districts: Districts, *,
                  max_input_mb: int = _tabular.DEFAULT_MAX_INPUT_MB, now: dt.datetime | None = None) -> ScoreImport:
    """Store the scores of a CSV or XLSX file (module docstring); a re-imported district and month
    replaces the stored dimensions it gives.

    Raises:
        DistrictError: the file cannot be read as a whole (type, encoding, size, header); nothing stored.
    """
    name = os.fspath(path)
    errors: list[ImportRowError] = []
    scores: list[DistrictScore] = []
    rows = 0
    try:
        for line, cells, columns, too_long in _rows(name, max_input_mb):
            read = (ImportRowError(line, f"{too_long} / 字段超过 1 MiB") if too_long
                    else _score_row(line, columns, cells, districts))
            if isinstance(read, ImportRowError):
                errors.append(read)
            elif read:
                scores.extend(read)
                rows += 1
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DistrictError(f"{name}: cannot read the file ({exc}) / 无法读取文件") from None
    if scores:
        write_scores(store, scores, now or dt.datetime.now(dt.UTC))
    return ScoreImport(name, rows, errors)


def _rows(path: str, max_input_mb: int) -> Iterator[tuple[int, Sequence[object], list[str], str | None]]:
    """``(line, cells, header, why the row is too long to read or None)`` of each row after the header."""
    for line, columns, cells in _tabular.table_rows(path, max_input_mb, lambda cells: _header(path, cells),
                                                    DistrictError, "unsupported file type; use .csv or .xlsx "
                                                                   "/ 仅支持 .csv 或 .xlsx 文件"):
        yield line, cells, columns, _tabular.long_field(columns, [c if isinstance(c, str) else "" for c in cells])


def _header(path: str, cells: Sequence[object] | None) -> list[str]:
    given = [_SCORE_HEADERS.get(str(c).strip(), str(c)) if c is not None else None for c in cells or ()]
    names, problems = _tabular.read_header(given, _SCORE_COLUMNS, ("region_code", "month"))
    if not problems and not set(names) & set(DIMENSIONS):
        problems = f"no score column (give any of {', '.join(DIMENSIONS)})"
    if problems:
        raise DistrictError(f"{path}: {problems} (columns: region_code, month, source and the dimensions "
                            f"{', '.join(DIMENSIONS)}, or their Chinese names) / 表头有误")
    return names


def _score_row(line: int, columns: Sequence[str], cells: Sequence[object],
               districts: Districts) -> list[DistrictScore] | ImportRowError:
    """The scores of one row, or why it is refused (every problem of the row in one line)."""
    if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
        return []
    if any(c not in (None, "") for c in cells[len(columns):]):
        return ImportRowError(line, f"{len(cells)} fields, the header has {len(columns)} / 字段数与表头不符")
    values: Mapping[str, object] = dict(zip(columns, cells, strict=False))
    problems: list[str] = []
    code = _tabular.cell_text(values.get("region_code"))
    district = districts.find(code)
    if district is None:
        problems.append(f"region_code {code[:12]!r} is not one of the deployment's districts / 不是本部署的区县")
    month_cell = values.get("month")
    month = (month_cell.strftime("%Y-%m") if isinstance(month_cell, dt.date) else _tabular.cell_text(month_cell))
    try:
        month = parse_month(month)
    except ValueError as exc:
        problems.append(f"month: {exc}")
    scores: list[DistrictScore] = []
    source = _tabular.cell_text(values.get("source"))
    for dimension in DIMENSIONS:
        cell = values.get(dimension)
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        try:
            score = float(cell) if isinstance(cell, int | float | str) and not isinstance(cell, bool) else math.nan
        except (TypeError, ValueError):
            score = math.nan
        if not 0.0 <= score <= 100.0:
            problems.append(f"{dimension}: {_tabular.cell_text(cell)[:20]!r} is not a score from 0 to 100 / 分值须在 0–100 之间")
            continue
        scores.append(DistrictScore(code, month, dimension, score, source))
    if not problems and not scores:
        problems.append("no score given / 未给出任何分值")
    if problems:
        return ImportRowError(line, identifiers.mask_text("; ".join(problems)))
    return scores

