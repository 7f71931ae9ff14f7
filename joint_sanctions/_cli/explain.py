"""``check … --explain``: below the check's table, every candidate measure and why it applied or not."""

from __future__ import annotations

from .._explain import Explanation
from .._text import escape_controls


def render(explanation: Explanation) -> str:
    """One block per candidate measure: applied or not, the guard or the first
    failing part on each record tried, in Chinese and English; then how many measures no record reaches."""
    lines = [f"说明 Explanation (核查日 check day {explanation.day}):"]
    for m in explanation.measures:
        state = "适用 applied" if m.applied else f"未适用 not applied ({m.failed})"
        lines.append(f"  - {m.measure_id} {m.name} [{m.kind}/{m.effect}]: {state}")
        if m.applied and m.guard_zh is not None:
            lines.append(f"      效力 binding: {m.guard_zh} / {m.guard_en}")
        for t in m.trials:
            whose = "本主体 subject" if t.role == "self" else f"关联方 {t.role} {t.subject_id}"
            lines.append(f"      记录 record {t.record_id} ({t.list_type}, {whose}):")
            lines.append(f"        {t.reason_zh}")
            lines.append(f"        {t.reason_en}")
    if not explanation.measures:
        lines.append("  无 none: 没有在效记录的名单类型关联本事项的措施 / no measure is indexed for the active "
                     "records' list types and this matter")
    lines.append(f"未涉及 not reached: 本事项另有 {explanation.unreached} 项措施，没有在效记录的名单类型触及 / "
                 f"{explanation.unreached} more measures of this matter that no active record's list type reaches")
    # Imported text (names, reasons) may hold terminal escapes, as in the check's table.
    return "\n".join(map(escape_controls, lines))
