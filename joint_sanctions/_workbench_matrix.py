"""The matrix picture (``joint-sanctions matrix``): list types × matter types, each cell the strongest
effect of the measures indexed there, their ids and whether the strongest binds; empty cells and
overlaps (more than one measure on one cell) marked. Written as JSON, a colour-coded HTML page (no
external assets, everything escaped) or an XLSX sheet with the same colours."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import IO, Any

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ._batch_reports import _cell
from ._compile import CompiledMeasures
from ._html import head as page_head
from ._identifiers import mask_text
from ._text import escape_controls
from .vocabulary import EFFECTS, LIST_TYPES, MATTER_TYPES

__all__ = ["MatrixCell", "matrix", "render_html", "write_xlsx"]

#: Strongest first: the order a cell's effect is chosen by.
EFFECT_ORDER = ("prohibit", "restrict", "strict_review", "reference", "incentive")
#: Cell colours (hex RGB) by effect; a cell whose strongest effect does not bind gets the pale one.
COLOURS = {"prohibit": ("C0392B", "F5C6C1"), "restrict": ("D35400", "FAD7BC"),
           "strict_review": ("B7791F", "F7E5C0"), "reference": ("5B6B7C", "DDE3EA"),
           "incentive": ("2E7D32", "CDE8CF")}
EMPTY_COLOUR = "F4F6F9"


@dataclass(frozen=True)
class MatrixCell:
    """One list type × matter type cell."""

    list_type: str
    matter_type: str
    effect: str | None
    measure_ids: tuple[str, ...]
    binding_ids: tuple[str, ...]
    conditional_ids: tuple[str, ...]
    #: The measures of the strongest effect.
    strongest_ids: tuple[str, ...] = ()

    @property
    def binding(self) -> bool:
        """Whether a measure of the strongest effect binds (a punishment whose basis is confirmed)."""
        return any(mid in self.binding_ids for mid in self.strongest_ids)

    #: The strongest effect among the binding measures (what applies without a person confirming it).
    binding_effect: str | None = None

    @property
    def empty(self) -> bool:
        return not self.measure_ids

    @property
    def overlap(self) -> bool:
        return len(self.measure_ids) > 1

    def as_json(self) -> dict[str, Any]:
        return {"list_type": self.list_type, "matter_type": self.matter_type, "effect": self.effect,
                "measure_ids": list(self.measure_ids), "binding": self.binding,
                "binding_effect": self.binding_effect, "binding_ids": list(self.binding_ids),
                "conditional_ids": list(self.conditional_ids),
                "empty": self.empty, "overlap": self.overlap}


def matrix(compiled: CompiledMeasures) -> list[MatrixCell]:
    """Every list type × matter type cell of the vocabulary, in its order."""
    cells = []
    for lt in LIST_TYPES:
        for mt in MATTER_TYPES:
            measures = [cm.measure for cm in compiled.candidates(lt, mt)]
            effect = min((m.effect for m in measures), key=EFFECT_ORDER.index, default=None)
            # the legality guard: a punishment binds only on a confirmed basis; an incentive is granted
            binds = [m for m in measures if m.kind != "punishment" or m.basis_status == "confirmed"]
            cells.append(MatrixCell(
                lt, mt, effect, tuple(m.id for m in measures), tuple(m.id for m in binds),
                tuple(m.id for m in measures if m.condition or m.requires_ban or m.requires_overdue),
                tuple(m.id for m in measures if m.effect == effect),
                min((m.effect for m in binds), key=EFFECT_ORDER.index, default=None)))
    return cells


def as_json(compiled: CompiledMeasures, cells: list[MatrixCell]) -> dict[str, Any]:
    return {"revision": compiled.revision, "list_types": list(LIST_TYPES), "matter_types": list(MATTER_TYPES),
            "cells": [c.as_json() for c in cells]}


def _esc(value: object) -> str:
    return html.escape(escape_controls(mask_text(str(value))), quote=True)


_MATRIX_CSS = """
table.matrix { width:auto; font-size:12.5px; }
table.matrix th.mt { white-space:normal; width:74px; vertical-align:bottom; padding:6px 3px; font-size:11.5px;
                     text-align:center; }
table.matrix th.mt .mid { display:block; white-space:normal; word-break:break-all; font-size:10px; }
table.matrix td.c { width:74px; height:54px; text-align:center; vertical-align:middle; border:1px solid #fff;
                    padding:3px; font-size:11px; line-height:1.25; }
table.matrix td.c b { display:block; font-size:12px; }
table.matrix td.c small { display:block; word-break:keep-all; overflow-wrap:anywhere; }
table.matrix td.empty { background:#f4f6f9; color:#9aa7b4; }
td.c .ov { display:inline-block; margin-top:2px; padding:0 4px; border-radius:6px; background:#1d2733; color:#fff;
           font-size:10.5px; }
.legend span { display:inline-block; margin:0 12px 6px 0; font-size:12.5px; }
.legend i { display:inline-block; width:14px; height:14px; border-radius:3px; vertical-align:-2px; margin-right:5px; }
"""


def _cell_html(cell: MatrixCell) -> str:
    if cell.empty:
        return '<td class="c empty" data-empty>—</td>'
    strong, pale = COLOURS[cell.effect or "reference"]
    background, colour = (f"#{strong}", "#fff") if cell.binding else (f"#{pale}", "#1d2733")
    title = (f"{EFFECTS[cell.effect or 'reference']} {cell.effect} · {'约束 binding' if cell.binding else '待核 not binding'}"
             f" · 约束效力 binding effect: {cell.binding_effect or '—'} · {', '.join(cell.measure_ids)}")
    overlap = f'<span class="ov" data-overlap>×{len(cell.measure_ids)}</span>' if cell.overlap else ""
    return (f'<td class="c" style="background:{background};color:{colour}" title="{_esc(title)}" '
            f'data-effect="{_esc(cell.effect)}" data-binding="{str(cell.binding).lower()}">'
            f'<b>{_esc(EFFECTS[cell.effect or "reference"])}</b><small>{_esc(" ".join(cell.measure_ids[:2]))}'
            f'{" …" if len(cell.measure_ids) > 2 else ""}</small>{overlap}</td>')


def render_html(compiled: CompiledMeasures, cells: list[MatrixCell]) -> str:
    """A self-contained colour-coded page: rows list types, columns matter types."""
    by_key = {(c.list_type, c.matter_type): c for c in cells}
    head = "".join(f'<th class="mt">{_esc(name)}<span class="mid">{_esc(mt)}</span></th>'
                   for mt, name in MATTER_TYPES.items())
    rows = "".join(f'<tr><th>{_esc(name)}<br><span class="mid">{_esc(lt)}</span></th>'
                   + "".join(_cell_html(by_key[(lt, mt)]) for mt in MATTER_TYPES) + "</tr>"
                   for lt, name in LIST_TYPES.items())
    legend = "".join(f'<span><i style="background:#{COLOURS[e][0]}"></i>{_esc(EFFECTS[e])} {_esc(e)}</span>'
                     f'<span><i style="background:#{COLOURS[e][1]}"></i>{_esc(EFFECTS[e])}（待核 not binding）</span>'
                     for e in EFFECT_ORDER)
    empty = sum(c.empty for c in cells)
    overlaps = sum(c.overlap for c in cells)
    return f"""{page_head("措施矩阵 Measure matrix", _MATRIX_CSS)}
<header>
<h1>措施矩阵 <span>Measure matrix — list types × matter types</span></h1>
<p>修订 Revision {_esc(compiled.revision)} · 每格为最强效力 each cell shows the strongest effect</p>
</header>
<main>
<section id="summary">
<h2>汇总<small>Summary</small></h2>
<dl class="cards">
<div class="card"><dt>措施 Measures</dt><dd data-measures>{len(compiled.measures)}</dd></div>
<div class="card"><dt>有措施的格子 Cells with measures</dt><dd data-filled>{len(cells) - empty}</dd></div>
<div class="card"><dt>空格子 Empty cells</dt><dd data-empty-count>{empty}</dd></div>
<div class="card"><dt>重叠的格子 Overlapping cells</dt><dd data-overlaps>{overlaps}</dd></div>
</dl>
<div class="legend">{legend}<span><i style="background:#{EMPTY_COLOUR};border:1px solid #dde3ea"></i>无措施 empty</span>
<span><i style="background:#1d2733"></i>×N 多项措施重叠 N measures overlap</span></div>
</section>
<section id="matrix">
<h2>矩阵<small>深色 = 约束（依据已核实）dark = binding; 浅色 = 待核 pale = not binding</small></h2>
<table class="matrix"><thead><tr><th>名单类型 List type</th>{head}</tr></thead><tbody>{rows}</tbody></table>
</section>
</main>
<footer>依据待核实的惩戒措施须经办理部门核对后适用 Punishments whose basis is unconfirmed need review · joint-sanctions</footer>
</body>
</html>
"""


def write_xlsx(file: IO[bytes], compiled: CompiledMeasures, cells: list[MatrixCell]) -> None:
    """One sheet: rows list types, columns matter types, each cell coloured as in the HTML."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = "措施矩阵 Matrix"
    bold = Font(bold=True)
    sheet.cell(row=1, column=1, value="名单类型 List type \\ 事项类型 Matter type").font = bold
    sheet.column_dimensions["A"].width = 36
    for col, (mt, name) in enumerate(MATTER_TYPES.items(), start=2):
        head = sheet.cell(row=1, column=col, value=f"{name}\n{mt}")
        head.font, head.alignment = bold, Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[get_column_letter(col)].width = 18
    by_key = {(c.list_type, c.matter_type): c for c in cells}
    for row, (lt, name) in enumerate(LIST_TYPES.items(), start=2):
        sheet.cell(row=row, column=1, value=f"{name} {lt}").font = bold
        for col, mt in enumerate(MATTER_TYPES, start=2):
            cell = by_key[(lt, mt)]
            if cell.empty:
                target = sheet.cell(row=row, column=col, value="—")
                target.fill = PatternFill("solid", fgColor=EMPTY_COLOUR)
                continue
            effect = cell.effect or "reference"
            text = (f"{EFFECTS[effect]} {effect}{'' if cell.binding else '（待核）'}\n"
                    f"{', '.join(cell.measure_ids)}{f' ×{len(cell.measure_ids)}' if cell.overlap else ''}")
            target = sheet.cell(row=row, column=col, value=_cell(text))
            strong, pale = COLOURS[effect]
            target.fill = PatternFill("solid", fgColor=strong if cell.binding else pale)
            target.font = Font(color="FFFFFF" if cell.binding else "1D2733")
            target.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    notes = book.create_sheet("说明 Notes")
    notes.append(["修订 Revision", compiled.revision])
    notes.append(["深色 Dark", "约束：依据已核实 binding (basis confirmed)"])
    notes.append(["浅色 Pale", "待核：依据未核实 not binding (basis unconfirmed)"])
    notes.append(["×N", "多项措施重叠 N measures on one cell"])
    book.save(file)
