"""Policy case files (``joint-sanctions test``): YAML lists of cases read into :class:`PolicyCase`, every
problem located (file:line:col) and reported at once, like lint.

A case: ``name``, ``subject`` (an id or a mapping), ``matter`` (a type or a mapping), optional ``at``,
``records`` (record rows, only the required columns needed) and ``expect`` — ``decision``, ``measures``,
``binding`` and ``basis`` (each optional), or ``error`` alone.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic
import yaml

from ._errors import Problem
from ._models import CreditRecord
from .vocabulary import DECISIONS

__all__ = ["Expect", "PolicyCase", "read_case_files"]

_CASE_KEYS = ("name", "subject", "matter", "at", "records", "expect")
_EXPECT_KEYS = ("decision", "measures", "binding", "basis", "error")


@dataclass(frozen=True)
class Expect:
    """What a case expects; ``None`` = not asserted."""

    decision: str | None = None
    measures: tuple[str, ...] | None = None
    binding: tuple[str, ...] | None = None
    #: measure id → the exact legal basis it cites (``document``, ``number``, ``article``)
    basis: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class PolicyCase:
    """One policy case, with where it is written."""

    path: str
    line: int
    name: str
    subject: Any
    matter: Any
    at: dt.date | dt.datetime | None
    records: tuple[CreditRecord, ...]
    expect: Expect

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


class _Invalid(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node


def _problem(path: str, node: yaml.Node | None, message: str, code: str = "invalid_case") -> Problem:
    line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
    return Problem(path, line, col, code, message)


def _value_node(mapping: yaml.MappingNode, key: str) -> yaml.Node:
    node: yaml.Node = next(v for k, v in mapping.value if k.value == key)
    return node


def _ids(node: yaml.Node, value: Any, what: str) -> tuple[str, ...]:
    if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        raise _Invalid(node, f"{what} must be a list of measure ids / {what} 应为措施编号列表")
    return tuple(value)


def _only_known(node: yaml.MappingNode, value: dict[Any, Any], allowed: tuple[str, ...], prefix: str) -> None:
    """Refuse the first key of a case mapping the format does not know, at that key's place."""
    for key in value:
        if key not in allowed:
            shown = f"{prefix}{key}" if prefix else repr(key)
            raise _Invalid(_value_node(node, str(key)),
                           f"unknown key {shown} (allowed: {', '.join(allowed)}) / "
                           f"未知字段 {shown}（可用：{'、'.join(allowed)}）")


def _expect(node: yaml.Node, value: Any) -> Expect:
    if not isinstance(value, dict):
        raise _Invalid(node, "expect must be a mapping (decision, measures, binding, basis or error) / "
                             "expect 应为映射（decision、measures、binding、basis 或 error）")
    assert isinstance(node, yaml.MappingNode)
    _only_known(node, value, _EXPECT_KEYS, "expect.")
    if "error" in value:
        if len(value) > 1:
            raise _Invalid(node, "expect.error stands alone (a refused check has no decision or measures) / "
                                 "expect.error 不能与其他预期并用（被拒绝的核查没有决定和措施）")
        if not (isinstance(value["error"], str) and value["error"]):
            raise _Invalid(_value_node(node, "error"), "expect.error must be an error code / expect.error 应为错误代码")
        return Expect(error=value["error"])
    decision = value.get("decision")
    if decision is not None and decision not in DECISIONS:
        raise _Invalid(_value_node(node, "decision"),
                       f"unknown decision {decision!r} (allowed: {', '.join(DECISIONS)}) / "
                       f"未知决定 {decision!r}（可用：{'、'.join(DECISIONS)}）")
    measures = _ids(_value_node(node, "measures"), value["measures"], "expect.measures") if "measures" in value else None
    binding = _ids(_value_node(node, "binding"), value["binding"], "expect.binding") if "binding" in value else None
    basis: dict[str, tuple[Mapping[str, Any], ...]] = {}
    if "basis" in value:
        raw = value["basis"]
        if not (isinstance(raw, dict) and all(isinstance(k, str) and isinstance(v, list)
                                              and all(isinstance(b, dict) for b in v) for k, v in raw.items())):
            raise _Invalid(_value_node(node, "basis"),
                           "expect.basis must map measure ids to lists of {document, number, article} / "
                           "expect.basis 应为 措施编号 → {document, number, article} 列表")
        basis = {k: tuple(v) for k, v in raw.items()}
    return Expect(decision=decision, measures=measures, binding=binding, basis=basis)


def _record(node: yaml.Node, value: Any, n: int) -> CreditRecord:
    if not isinstance(value, dict):
        raise _Invalid(node, f"records[{n}] must be a mapping of record columns / records[{n}] 应为记录字段映射")
    try:
        return CreditRecord.model_validate(value)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        # the message only, never the value (it may be a resident id)
        message = str(first["msg"]).removeprefix("Value error, ")
        where = ".".join(str(p) for p in first["loc"])
        if not where:  # a check across fields: its message is already bilingual
            raise _Invalid(node, f"records[{n}]: {message}") from None
        raise _Invalid(node, f"records[{n}].{where}: {message} / 第 {n + 1} 条记录的 {where} 不符合要求") from None


def _case(path: str, node: yaml.Node, value: Any) -> PolicyCase:
    if not isinstance(value, dict):
        raise _Invalid(node, "a case must be a mapping (name, subject, matter, at, records, expect) / "
                             "用例应为映射（name、subject、matter、at、records、expect）")
    assert isinstance(node, yaml.MappingNode)
    _only_known(node, value, _CASE_KEYS, "")
    for key in ("name", "subject", "matter", "expect"):
        if key not in value:
            raise _Invalid(node, f"the case has no {key} / 用例缺少 {key}")
    name = value["name"]
    if not (isinstance(name, str) and name.strip()):
        raise _Invalid(_value_node(node, "name"), "name must be a text / name 应为文字")
    if not isinstance(value["subject"], str | dict):
        raise _Invalid(_value_node(node, "subject"), "subject must be an id or a mapping / subject 应为主体标识或映射")
    if not isinstance(value["matter"], str | dict):
        raise _Invalid(_value_node(node, "matter"), "matter must be a matter type or a mapping / matter 应为事项类型或映射")
    at = value.get("at")
    if at is not None and not isinstance(at, dt.date):
        raise _Invalid(_value_node(node, "at"), "at must be a date (YYYY-MM-DD) or a time / at 应为日期（YYYY-MM-DD）或时间")
    raw_records = value.get("records") or []
    if not isinstance(raw_records, list):
        raise _Invalid(_value_node(node, "records"), "records must be a list / records 应为列表")
    record_nodes = _value_node(node, "records").value if raw_records else []
    records = tuple(_record(n, r, i) for i, (n, r) in enumerate(zip(record_nodes, raw_records, strict=True)))
    expect = _expect(_value_node(node, "expect"), value["expect"])
    return PolicyCase(path, node.start_mark.line + 1, name, value["subject"], value["matter"], at, records, expect)


def _read_file(path: str) -> tuple[list[PolicyCase], list[Problem]]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return [], [Problem(path, 1, 1, "file_not_found", f"cannot read the case file: {reason} / 无法读取用例文件：{reason}")]
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        reason = getattr(exc, "problem", None) or "invalid YAML"
        return [], [Problem(path, line, col, "yaml_syntax", f"YAML syntax error: {reason} / YAML 语法错误：{reason}")]
    finally:
        loader.dispose()
    if root is None or data is None:
        return [], [Problem(path, 1, 1, "no_cases", "the case file is empty / 用例文件为空")]
    if not (isinstance(root, yaml.SequenceNode) and isinstance(data, list)):
        return [], [_problem(path, root, "a case file is a YAML list of cases / 用例文件应为用例的 YAML 列表")]
    cases: list[PolicyCase] = []
    problems: list[Problem] = []
    for node, value in zip(root.value, data, strict=True):
        try:
            cases.append(_case(path, node, value))
        except _Invalid as exc:
            problems.append(_problem(path, exc.node, str(exc)))
    return cases, problems


def _expand(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[str], list[Problem]]:
    files: list[str] = []
    problems: list[Problem] = []
    for given in paths:
        path = os.fspath(given)
        if not os.path.isdir(path):
            files.append(path)  # a missing file is reported when it is read
            continue
        names = sorted(n for n in os.listdir(path)
                       if n.endswith((".yaml", ".yml")) and os.path.isfile(os.path.join(path, n)))
        if not names:
            problems.append(Problem(path, 1, 1, "no_cases",
                                    "the directory has no .yaml or .yml case file / 目录中没有 .yaml 或 .yml 用例文件"))
        files.extend(os.path.join(path, n) for n in names)
    return files, problems


def read_case_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[PolicyCase], list[Problem]]:
    """The cases of the files (a directory gives its *.yaml and *.yml, sorted) and every problem found.

    A malformed case is a problem and is left out; the well-formed cases of the same file are kept.
    """
    files, problems = _expand(paths)
    cases: list[PolicyCase] = []
    for path in files:
        found, bad = _read_file(path)
        cases += found
        problems += bad
    return cases, sorted(problems)
