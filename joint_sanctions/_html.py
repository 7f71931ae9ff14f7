"""HTML for people, written once: the style of the project's report pages, decision badges, tables.

Every report page (batch reports, the diff sheet, the matrix) is one self-contained file: no external
assets, every text escaped and its control characters made visible.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from ._text import escape_controls
from .vocabulary import DECISIONS

DECISION_COLOURS = {"prohibited": "#c0392b", "restricted": "#e67e22", "review": "#d4a017",
                     "clear": "#2e8b57"}

CSS = """
:root { --ink:#1d2733; --muted:#5b6b7c; --line:#dde3ea; --bg:#f4f6f9; --accent:#1f4e79; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.55 system-ui,"Segoe UI",Roboto,"Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei",
       "Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Zen Hei","WenQuanYi Micro Hei",sans-serif; }
header { background:var(--accent); color:#fff; padding:22px 40px 18px; }
header h1 { margin:0 0 4px; font-size:24px; font-weight:600; }
header h1 span { font-weight:400; }
header p { margin:0; opacity:.85; font-size:13px; }
main { max-width:1180px; margin:0 auto; padding:24px 40px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 22px;
          margin:0 0 20px; }
h2 { font-size:17px; margin:0 0 12px; color:var(--accent); }
h2 small { color:var(--muted); font-weight:400; font-size:13px; margin-left:6px; }
.meta { display:grid; grid-template-columns:max-content 1fr; gap:4px 18px; margin:0; font-size:13.5px; }
.meta dt { color:var(--muted); } .meta dd { margin:0; word-break:break-all; }
.cards { display:grid; grid-template-columns:repeat(4,1fr); gap:14px; margin:0 0 16px; }
.card { border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
.card dt { color:var(--muted); font-size:13px; }
.card dd { margin:2px 0 0; font-size:30px; font-weight:700; }
.card.flag dd { color:#c0392b; } .card.rej dd { color:#8e44ad; }
.grid { display:grid; grid-template-columns:1fr 1fr; gap:22px; align-items:start; }
.caption { margin:0 0 6px; color:var(--muted); font-size:13px; }
table { border-collapse:collapse; width:100%; font-size:13.5px; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef2f7; font-weight:600; white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.badge { display:inline-block; padding:1px 9px; border-radius:10px; color:#fff; font-size:12px;
         white-space:nowrap; }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px; }
.mid, .ids { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:12.5px; }
.mid { color:var(--muted); white-space:nowrap; }
.empty { color:var(--muted); margin:0; }
.tag { display:inline-block; padding:0 6px; border:1px solid #c9d2dc; border-radius:4px; color:var(--muted);
       font-size:11.5px; white-space:nowrap; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:0 40px 30px; }
"""


def esc(text: str) -> str:
    """Text safe inside HTML, its control characters made visible."""
    return html.escape(escape_controls(text), quote=True)


def table(headings: Sequence[str], rows: Sequence[str], empty: str) -> str:
    """A table with one header row (``#`` marks a numeric column), or a note when there are no rows."""
    if not rows:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f'<th class="num">{esc(h[1:])}</th>' if h.startswith("#") else f"<th>{esc(h)}</th>"
                   for h in headings)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def badge(decision: str) -> str:
    """A decision as a coloured badge with its Chinese name and id."""
    return (f'<span class="badge" style="background:{DECISION_COLOURS.get(decision, "#555")}">'
            f"{esc(DECISIONS.get(decision, decision))} {esc(decision)}</span>")


def head(title: str, extra_css: str = "") -> str:
    """The start of a report page, up to and including ``<body>``; ``title`` is escaped here."""
    return (f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}{extra_css}</style>\n</head>\n<body>")
