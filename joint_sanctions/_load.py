"""Loading and linting measure lists: YAML files → validated :class:`MeasureListFile`.

The fields of a measure list are described for policy staff in measure_lists/README.md.

Each file is read as text and *composed* into YAML nodes here, never constructed into Python
objects first, so every problem keeps the line and column where it is written. Its fields are read
by :mod:`~joint_sanctions._load_fields` with the readers of :mod:`~joint_sanctions._load_nodes`,
which report every problem and go on, so one pass collects every problem of every file; the checks
across files (repeated measure ids, rules too large for the engine) follow. Models are built only
when no file has a problem.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from ._compile import MAX_RULESET_ALTERNATIVES, MAX_RULESET_FIRINGS, residual_of
from ._conditions import SET_TEST_MIN, ConditionError, alternatives, coincident
from ._errors import MeasureListError, Problem
from ._list_types import ListTypePolicy, Policies, is_policy_file, policies_of, policy_paths, read_policy
from ._load_fields import _HEADER_FIELDS
from ._load_nodes import _HEADER, MAX_LIST_ITEMS, _describe, _File, _line_col, _read_mapping
from ._models import Measure, MeasureListFile
from ._yaml_messages import yaml_error_zh

__all__ = ["ERROR_CODES", "MAX_LIST_ITEMS", "lint", "load_list_types", "load_measure_lists", "shipped_measures_dir"]

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
    "kind_effect_mismatch", "list_kind_mismatch", "basis_status", "ban_list_type", "overdue_on_incentive",
    # conditions (the codes of conditions.ConditionError)
    "condition_syntax", "condition_unknown_field", "condition_type", "condition_unsafe", "condition_number",
    # what the rule engine cannot take (docs/failing-closed.md)
    "bad_text", "rules_too_large",
    # the list-type policy file (list_types.yaml)
    "bad_period", "period_order", "duplicate_list_type",
)

PathLike = str | os.PathLike[str]


# --- files ------------------------------------------------------------------------------------------

def _compose(text: str, file: _File) -> yaml.MappingNode | None:
    """The document's root mapping, or None after reporting why there is none."""
    try:
        root: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (error.context, error.problem) if part)
        file.report_at(line, col, "yaml_syntax", f"YAML syntax error: {what}",
                       f"YAML 语法错误：{yaml_error_zh(error.context, error.problem)}")
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
            if not is_policy_file(path):  # the list-type policy is read by its own reader
                files.append(path)  # a missing file is reported when it is read
            continue
        try:
            names = sorted(n for n in os.listdir(path) if n.endswith((".yaml", ".yml"))
                           and not is_policy_file(n) and os.path.isfile(os.path.join(path, n)))
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
                                       v.get("condition"),  # type: ignore[arg-type]
                                       requires_ban=v.get("requires_ban") is True,
                                       requires_overdue=v.get("requires_overdue") is True)
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


def _check_policies(paths: Iterable[PathLike]) -> tuple[list[Problem], Policies]:
    """Every problem of the list-type policy files among ``paths``, and the policy (empty with problems)."""
    problems: list[Problem] = []
    read: list[tuple[str, tuple[ListTypePolicy, ...]]] = []
    for path in policy_paths(paths):
        file = _File(path)
        text = _read_text(file)
        root = _compose(text, file) if text is not None else None
        read.append((path, read_policy(root, file) if root is not None else ()))
        problems += file.problems
    across, policies = policies_of(read)
    problems += across
    return problems, (Policies() if problems else policies)


def load_list_types(paths: Iterable[PathLike] | PathLike) -> Policies:
    """The list-type policy (list_types.yaml) of the measure lists at ``paths``; empty when they have none.

    Raises:
        MeasureListError: the policy file has problems (every one listed).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    problems, policies = _check_policies(paths)
    if problems:
        raise MeasureListError(sorted(problems))
    return policies


def _check(paths: Iterable[PathLike] | PathLike) -> tuple[list[Problem], list[_File]]:
    # A lone path is a common slip (a str is itself an iterable of one-letter "paths").
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    paths = list(paths)
    names, problems = _expand(paths)
    problems += _check_policies(paths)[0]
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
