"""The measure lists an engine serves: loaded and compiled from files, held in the rule back end,
and watched for changes (:meth:`~joint_sanctions._check.Engine.watch`).

The engine's module imports this one, never the reverse: a watcher knows the engine only as the
small :class:`Reloadable` protocol.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from . import _identifiers as identifiers
from ._compile import CompiledMeasures, compile_measures
from ._errors import MeasureListError, RuleEngineError
from ._load import load_list_types, load_measure_lists, shipped_measures_dir
from ._logging import get_logger
from ._rules import RuleRunner

__all__ = ["MeasureWatcher", "MeasuresLike", "Reloadable", "ServedMeasures", "compile_paths"]

log = get_logger()
MeasuresLike = CompiledMeasures | str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def _measure_paths(measures: MeasuresLike) -> list[str | os.PathLike[str]]:
    if measures is None:
        return [shipped_measures_dir()]
    if isinstance(measures, str | os.PathLike):
        return [measures]
    return list(measures)  # type: ignore[arg-type]  # CompiledMeasures is handled by the caller


def compile_paths(measures: MeasuresLike) -> CompiledMeasures:
    """Load and compile measure lists from files/directories (default: the shipped lists)."""
    if isinstance(measures, CompiledMeasures):
        return measures
    paths = _measure_paths(measures)
    files = load_measure_lists(paths)  # raises for problems of the policy file too
    return compile_measures(files, load_list_types(paths))


class ServedMeasures:
    """The compiled measures an engine holds in its rule back end; released once, whatever ends it."""

    def __init__(self, runner: RuleRunner, compiled: CompiledMeasures) -> None:
        self._runner = runner
        self._compiled: CompiledMeasures | None = compiled
        self._lock = threading.Lock()

    def swap(self, compiled: CompiledMeasures) -> None:
        """Serve ``compiled`` (already prepared) instead; the previous one is released."""
        with self._lock:
            previous, self._compiled = self._compiled, compiled
        if previous is not None:
            self._runner.release(previous)

    def release(self) -> None:
        with self._lock:
            previous, self._compiled = self._compiled, None
        if previous is not None:
            self._runner.release(previous)


class Reloadable(Protocol):
    """What a :class:`MeasureWatcher` needs of the engine it reloads."""

    #: The measure lists as given (paths, or compiled measures, which have no files to watch).
    _source: MeasuresLike

    @property
    def revision(self) -> str: ...

    def reload(self) -> str: ...


class MeasureWatcher:
    """Reloads an engine's measure lists when their files change; :meth:`stop` ends it."""

    def __init__(self, engine: Reloadable, interval: float) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._seen = self._fingerprint()
        self._thread = threading.Thread(target=self._run, name="joint-sanctions-watch", daemon=True)
        self._thread.start()

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        source = self._engine._source
        if isinstance(source, CompiledMeasures):
            return ()
        files: list[Path] = []
        for p in map(Path, _measure_paths(source)):
            files.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]) if p.is_dir() else [p])  # the policy too
        stats = []
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            stats.append((str(f), st.st_mtime_ns, st.st_size))
        return tuple(stats)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            seen = self._fingerprint()
            if seen != self._seen:
                self._seen = seen
                try:
                    self._engine.reload()
                except (MeasureListError, RuleEngineError):
                    pass  # logged by reload; the old revision keeps serving
                except Exception as exc:  # noqa: BLE001 -- a bad revision must not end watching for good
                    log.error("measures_watch_failed", revision=self._engine.revision, error=type(exc).__name__,
                              message=identifiers.mask_text(str(exc))[:500])

    def stop(self) -> None:
        """Stop watching (waits for the watcher thread to end)."""
        self._stop.set()
        self._thread.join()
