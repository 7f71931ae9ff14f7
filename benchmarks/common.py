"""Helpers shared by the benchmark driver and its worker processes: timing, memory, logging set-up."""

from __future__ import annotations

import gc
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def log(message: str) -> None:
    """Progress of a benchmark, on stderr (stdout carries the table)."""
    print(message, file=sys.stderr, flush=True)


def quiet_logging() -> None:
    """Drop the engine's info-level events (one ``check`` event per check) in this process.

    The benchmark is the application here, so it configures structlog; the library never does.
    Warnings and errors still print.
    """
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def rss_mb() -> dict[str, float]:
    """Resident memory of this process now (VmRSS) and at its peak (VmHWM), in MB (10^6 bytes)."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value, _unit = line.split()
                    out[key[:-1]] = int(value) * 1024 / 1e6
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
        out = {"VmRSS": peak, "VmHWM": peak}
    return {"rss_mb": round(out["VmRSS"], 1), "peak_mb": round(out["VmHWM"], 1)}


def timed(
    run_pass: Callable[[], object],
    n_items: int,
    *,
    runs: int,
    min_seconds: float = 0.2,
    budget_seconds: float = 120.0,
) -> dict[str, Any]:
    """Median µs per item of ``run_pass`` (one pass over ``n_items`` items).

    A run repeats the pass until at least ``min_seconds`` have passed (so a fast engine still gets a
    measurable interval); ``runs`` runs are made, fewer when they would not fit in
    ``budget_seconds`` (a slow engine still finishes). The garbage collector is left on, as in a
    real service, but collected before each run so runs start alike.

    Returns:
        ``us`` (median µs per item), ``runs_us`` (each run), ``runs``, ``passes`` per run, ``items``.
    """
    if n_items == 0:
        return {"us": None, "runs_us": [], "runs": 0, "passes": 0, "items": 0}
    per_run: list[float] = []
    passes = 1
    started = time.perf_counter()
    while len(per_run) < runs:
        gc.collect()
        t0 = time.perf_counter()
        done = 0
        while True:
            run_pass()
            done += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_seconds or (per_run and done >= passes):
                break
        passes = max(passes, done)
        per_run.append(elapsed / (done * n_items) * 1e6)
        spent = time.perf_counter() - started
        if per_run and spent + spent / len(per_run) > budget_seconds:
            break
    return {
        "us": statistics.median(per_run),
        "runs_us": [round(x, 3) for x in per_run],
        "runs": len(per_run),
        "passes": passes,
        "items": n_items,
    }


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu or platform.processor(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def report(res: dict[str, Any], render: Callable[[dict[str, Any]], str],
           footer: Callable[[dict[str, Any]], str], results: Any, started: float) -> None:
    """Finish ``res`` (load average after, wall time), print its table and footer, write it as JSON
    to ``results`` (a Path)."""
    res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    res["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(f"\n{render(res)}\n\n{footer(res)}")
    print(f"  * Whole run: {res['wall_seconds']:.0f} s.")
    results.write_text(json.dumps(res, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {results}")
