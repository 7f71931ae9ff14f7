"""The fuzz suite's closing lines: how many inputs each area tried (failures end the run before)."""

from __future__ import annotations

from typing import Any

from ._fuzz import MULTIPLIER, TALLY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY:
        return
    terminalreporter.write_line(f"fuzz (examples × {MULTIPLIER}):")
    for area, counts in sorted(TALLY.items()):
        terminalreporter.write_line(f"  {area}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
