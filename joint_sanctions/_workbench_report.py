"""The sheets of ``joint-sanctions diff``: a plain table for the terminal, Markdown, and a self-contained
HTML page a department head can read (Chinese first, no external assets, everything escaped)."""

from __future__ import annotations

import html
import json
from typing import Any

from ._html import badge, head, table
from ._identifiers import mask_text
from ._text import escape_controls
from ._workbench_diff import Diff
from .vocabulary import LIST_TYPES, MATTER_TYPES, SUBJECT_TYPES


def _shown(value: Any) -> str:
    """A value as a person may see it: JSON for structures, resident ids masked, controls escaped."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return escape_controls(mask_text(text))


def _outcome(outcome: dict[str, Any]) -> str:
    ids = ", ".join(outcome["measure_ids"]) or "—"
    return f"{outcome['decision']} [{ids}]"


def _counts(diff: Diff) -> list[tuple[str, str, int]]:
    rows = [("新增措施", "measures added", len(diff.added)), ("删除措施", "measures removed", len(diff.removed)),
            ("修改措施", "measures changed", len(diff.changed)), ("结果变化的格子", "cells changed", len(diff.cells))]
    if diff.impact is not None:
        rows.append(("结论变化的主体（按事项累计）", "subjects whose decision changes (summed over matters)",
                     sum(i.subjects_changed for i in diff.impact)))
    return rows


def render_text(diff: Diff) -> str:
    """A readable table for the terminal."""
    out = [f"修订 revision {diff.before_revision} → {diff.after_revision} · 核查日 day {diff.day.isoformat()}"]
    out += [f"{zh} / {en}: {n}" for zh, en, n in _counts(diff)]
    for title, ids in (("新增 added", diff.added), ("删除 removed", diff.removed)):
        for mid in ids:
            out.append(f"{title}: {mid} {_shown(diff.names.get(mid, ''))}")
    for change in diff.changed:
        for name, values in change["fields"].items():
            out.append(f"修改 changed: {change['measure_id']}.{name}: {_shown(values['before'])} → "
                       f"{_shown(values['after'])}")
    for cell in diff.cells:
        out.append(f"格子 cell: {cell['list_type']} × {cell['matter_type']} × {cell['subject_type']}: "
                   f"{_outcome(cell['before'])} → {_outcome(cell['after'])}")
    for impact in diff.impact or ():
        if impact.subjects_changed:
            sample = ", ".join(f"{s['subject']} {s['before']}→{s['after']}" for s in impact.sample)
            out.append(f"影响 impact: {impact.matter_type}: {impact.subjects_changed} ({sample})")
    if not (diff.added or diff.removed or diff.changed or diff.cells):
        out.append("无变化 / no change")
    return "\n".join(out) + "\n"


def _md(value: Any) -> str:
    return _shown(value).replace("|", "\\|")


def render_markdown(diff: Diff) -> str:
    """The sheet as Markdown (for a ticket or a wiki page)."""
    out = ["# 措施清单变更核对单 Measure-list change sheet", "",
           f"修订 Revision `{diff.before_revision}` → `{diff.after_revision}` · 核查日 Day {diff.day.isoformat()}",
           "", "| 项目 Item | 数量 Count |", "|---|---:|"]
    out += [f"| {zh} {en} | {n} |" for zh, en, n in _counts(diff)]
    out += ["", "## 措施 Measures", "", "| 变更 Change | 编号 ID | 字段 Field | 原 Before | 新 After |",
            "|---|---|---|---|---|"]
    out += [f"| 新增 added | {mid} | | | {_md(diff.names.get(mid, ''))} |" for mid in diff.added]
    out += [f"| 删除 removed | {mid} | | {_md(diff.names.get(mid, ''))} | |" for mid in diff.removed]
    out += [f"| 修改 changed | {c['measure_id']} | {name} | {_md(v['before'])} | {_md(v['after'])} |"
            for c in diff.changed for name, v in c["fields"].items()]
    out += ["", "## 结果变化的格子 Cells whose outcome changes", "",
            "| 名单 List | 事项 Matter | 主体 Subject | 原 Before | 新 After |", "|---|---|---|---|---|"]
    out += [f"| {c['list_type']} | {c['matter_type']} | {c['subject_type']} | {_md(_outcome(c['before']))} | "
            f"{_md(_outcome(c['after']))} |" for c in diff.cells]
    if diff.impact is not None:
        out += ["", f"## 受影响的主体 Subjects affected (of {diff.subjects_screened} with active records)", "",
                "| 事项 Matter | 主体数 Subjects | 样例 Sample |", "|---|---:|---|"]
        out += [f"| {i.matter_type} | {i.subjects_changed} | "
                f"{_md(', '.join(s['subject'] + ' ' + s['before'] + '→' + s['after'] for s in i.sample))} |"
                for i in diff.impact if i.subjects_changed]
    return "\n".join(out) + "\n"


def _esc(value: Any) -> str:
    return html.escape(_shown(value), quote=True)


def _named(ids: dict[str, str], key: str) -> str:
    return f'{_esc(ids.get(key, key))} <span class="mid">{_esc(key)}</span>'


def _html_outcome(outcome: dict[str, Any]) -> str:
    ids = ", ".join(outcome["measure_ids"]) or "—"
    return f'{badge(outcome["decision"])} <span class="ids">{_esc(ids)}</span>'


def render_html(diff: Diff) -> str:
    """A self-contained page: the counts first, then measures, cells and the subjects affected."""
    cards = "".join(f'<div class="card"><dt>{_esc(zh)} {_esc(en)}</dt><dd>{n}</dd></div>'
                    for zh, en, n in _counts(diff))
    measures = [f'<tr><td>新增 added</td><td class="mid">{_esc(m)}</td><td></td><td></td>'
                f'<td>{_esc(diff.names.get(m, ""))}</td></tr>' for m in diff.added]
    measures += [f'<tr><td>删除 removed</td><td class="mid">{_esc(m)}</td><td></td>'
                 f'<td>{_esc(diff.names.get(m, ""))}</td><td></td></tr>' for m in diff.removed]
    measures += [f'<tr><td>修改 changed</td><td class="mid">{_esc(c["measure_id"])}</td><td>{_esc(name)}</td>'
                 f'<td>{_esc(v["before"])}</td><td>{_esc(v["after"])}</td></tr>'
                 for c in diff.changed for name, v in c["fields"].items()]
    cells = [f'<tr><td>{_named(LIST_TYPES, c["list_type"])}</td><td>{_named(MATTER_TYPES, c["matter_type"])}</td>'
             f'<td>{_named(SUBJECT_TYPES, c["subject_type"])}</td><td>{_html_outcome(c["before"])}</td>'
             f'<td>{_html_outcome(c["after"])}</td></tr>' for c in diff.cells]
    impact = ""
    if diff.impact is not None:
        rows = [f'<tr><td>{_named(MATTER_TYPES, i.matter_type)}</td><td class="num">{i.subjects_changed}</td>'
                f'<td class="ids">{"<br>".join(_esc(s["subject"]) + " " + badge(s["before"]) + " → " + badge(s["after"]) for s in i.sample)}'
                f'</td></tr>' for i in diff.impact if i.subjects_changed]
        impact = (f'<section id="impact"><h2>受影响的主体<small>Subjects with active records whose decision '
                  f'changes — of {diff.subjects_screened} screened; resident ids masked</small></h2>'
                  f'{table(("事项 Matter", "#主体数 Subjects", "样例 Sample"), rows, "无主体受影响 / no subject affected")}'
                  f'</section>')
    return f"""{head("措施清单变更核对单 Measure-list change sheet")}
<header>
<h1>措施清单变更核对单 <span>Measure-list change sheet</span></h1>
<p>修订 Revision {_esc(diff.before_revision)} → {_esc(diff.after_revision)} · 核查日 Day {_esc(diff.day.isoformat())}</p>
</header>
<main>
<section id="summary">
<h2>汇总<small>Summary</small></h2>
<dl class="cards">{cards}</dl>
</section>
<section id="measures">
<h2>措施的变化<small>Measures added, removed and changed</small></h2>
{table(("变更 Change", "编号 ID", "字段 Field", "原 Before", "新 After"), measures, "措施无变化 / no measure changed")}
</section>
<section id="cells">
<h2>结果变化的格子<small>Cells (list type × matter type × subject type) whose outcome changes — when every
condition is met</small></h2>
{table(("名单 List type", "事项 Matter type", "主体 Subject type", "原 Before", "新 After"), cells, "无格子变化 / no cell changes")}
</section>
{impact}
</main>
<footer>发布前请由政策处室负责人核对签字 Sign before publishing · 居民身份证号码已脱敏 Resident ids are masked ·
joint-sanctions</footer>
</body>
</html>
"""
