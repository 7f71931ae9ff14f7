"""Rule back ends: durable_rules, and the reference evaluator that is its oracle and fallback.

Both take the compiled measures and the facts of one check and return which measure fired on which
fact. durable_rules has traps, each handled here:

* an *event* is consumed by the first rule that matches → facts are asserted, so every rule fires;
* two identical facts raise ``MessageObservedException`` → every fact carries a unique ``id``;
* DSL rules lose their names → rules are JSON, named by the measure id(s) they stand for (the
  action name; measures with the same residual conditions share a rule, see
  :meth:`CompiledMeasures.durable_rulesets`);
* a ruleset name cannot be registered twice → rulesets named by revision, registered once;
* one ruleset cannot hold ~1,000 measures with ``or`` alternatives (error 107/303) → one small
  ruleset per (list type, matter type) of the index, each fact asserted into its own;
* more than 1,024 live sessions raise ``MemoryError`` → a private ``sid`` per check, deleted after;
* ``delete_state`` on a session that never matched a fact crashes the process → every session
  starts with a sentinel fact that a sentinel rule handles, so the state always exists;
* concurrent first use creates two hosts → one host per process, created under a lock, and every
  call into it serialised by that lock;
* the host's background dispatcher spins a new thread per ruleset per cycle (with 143 rulesets a
  check took 1 ms) and works outside our lock → switched off; actions run inside assert_fact;
* a rule fires once per true branch of an ``or`` → firings are de-duplicated;
* exceptions inside actions are swallowed into the session state → actions only append to a
  collector; anything they raise is kept and re-raised as :class:`RuleEngineError`;
* it does not import on Python 3.13+ → :func:`make_runner` falls back to the reference evaluator
  with a warning.
"""

from __future__ import annotations

import itertools
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from .compile import CompiledMeasures
from .errors import RuleEngineError

Fact = Mapping[str, Any]
Firing = tuple[str, str]  # (measure id, fact id)

_SENTINEL_RULE = "__session_open__"


class RuleRunner(Protocol):
    """Fires the measures of ``compiled`` on the facts of one check."""

    name: str

    def prepare(self, compiled: CompiledMeasures) -> None:
        """Get ready for ``compiled`` (register rules); raises RuleEngineError if refused."""
        ...

    def fire(self, compiled: CompiledMeasures, matter_type: str, facts: Sequence[Fact]) -> list[Firing]:
        ...


class ReferenceRunner:
    """Evaluates each candidate measure's compiled predicate on each fact, in plain Python."""

    name = "reference"

    def prepare(self, compiled: CompiledMeasures) -> None:
        """Nothing to prepare: predicates are built by the compiler."""

    def fire(self, compiled: CompiledMeasures, matter_type: str, facts: Sequence[Fact]) -> list[Firing]:
        fired: list[Firing] = []
        for fact in facts:
            for cm in compiled.candidates(fact["record__list_type"], matter_type):
                if cm.predicate(fact):
                    fired.append((cm.measure.id, fact["id"]))
        return fired


class DurableRunner:
    """Runs the measures as a durable_rules ruleset, one private session per check."""

    name = "durable"

    def __init__(self) -> None:
        # Imported here: it is optional on Python 3.13+. It ships no type information.
        from durable import engine  # type: ignore[import-untyped]

        self._engine = engine
        self._lock = threading.Lock()
        self._collectors: dict[str, list[Firing]] = {}
        self._errors: dict[str, BaseException] = {}
        self._registered: set[str] = set()
        self._sids = itertools.count()
        runner = self

        class _Host(engine.Host):  # type: ignore[misc]  # durable ships no type hints
            def get_action(self, action_name: str) -> Callable[[Any], None]:
                return runner._action(action_name)

            def _run(self) -> None:
                # durable's background dispatcher starts a Timer thread per ruleset per cycle and
                # touches rulesets outside our lock. We use no timers or queued messages: every
                # action runs inside assert_fact. So it stays off.
                pass

        self._host = _Host()

    def _action(self, rule_name: str) -> Callable[[Any], None]:
        if rule_name == _SENTINEL_RULE:
            return lambda c: None

        def act(c: Any) -> None:
            sid = c.m["sid"]
            try:
                self._collectors[sid].append((rule_name, c.m["id"]))
            except BaseException as exc:  # noqa: BLE001 -- durable would swallow it into the state; keep it
                self._errors[sid] = exc
        return act

    def _register(self, compiled: CompiledMeasures) -> None:
        """Register every ruleset of a revision at once, so a ruleset durable refuses fails early."""
        if compiled.revision in self._registered:
            return
        rulesets = {}
        for (list_type, matter_type), rules in compiled.durable_rulesets().items():
            rules[_SENTINEL_RULE] = {"all": [{"m": {"session__open": True}}], "run": _SENTINEL_RULE}
            rulesets[f"js_{compiled.revision}_{list_type}_{matter_type}"] = rules
        try:
            self._host.set_rulesets(rulesets)
        except Exception as exc:
            raise RuleEngineError(f"durable_rules refused the rules of revision {compiled.revision}: "
                                  f"{exc}") from exc
        self._registered.add(compiled.revision)

    def prepare(self, compiled: CompiledMeasures) -> None:
        """Register a revision's rulesets now (an engine does it when it compiles or reloads)."""
        with self._lock:
            self._register(compiled)

    def fire(self, compiled: CompiledMeasures, matter_type: str, facts: Sequence[Fact]) -> list[Firing]:
        with self._lock:
            self._register(compiled)
            by_ruleset: dict[str, list[Fact]] = {}
            for fact in facts:
                if compiled.candidates(fact["record__list_type"], matter_type):
                    name = f"js_{compiled.revision}_{fact['record__list_type']}_{matter_type}"
                    by_ruleset.setdefault(name, []).append(fact)
            sid = f"c{next(self._sids)}"
            collected: list[Firing] = []
            self._collectors[sid] = collected
            try:
                for ruleset, ruleset_facts in by_ruleset.items():
                    self._host.assert_fact(ruleset, {"sid": sid, "id": "__open__", "session__open": True})
                    for fact in ruleset_facts:
                        try:
                            self._host.assert_fact(ruleset, {**fact, "sid": sid})
                        except self._engine.MessageNotHandledException:
                            pass  # no rule matched this fact: normal
                    self._host.delete_state(ruleset, sid)
            except Exception as exc:
                raise RuleEngineError(f"durable_rules failed: {exc}") from exc
            finally:
                del self._collectors[sid]
            error = self._errors.pop(sid, None)
            if error is not None:
                raise RuleEngineError(f"a rule action failed: {error!r}") from error
            # A rule stands for every measure sharing its conditions; one whose condition has
            # several true 'or' branches fires once per branch.
            groups = compiled.rule_measures
            return list(dict.fromkeys((mid, fact_id) for name, fact_id in collected for mid in groups[name]))


_durable: DurableRunner | None = None
_durable_lock = threading.Lock()


def make_runner(kind: str = "auto") -> RuleRunner:
    """The rule back end: ``durable`` (one per process), ``reference``, or ``auto`` (durable if it imports).

    Raises:
        ValueError: unknown kind.
        ImportError: ``durable`` asked for explicitly and durable_rules does not import.
    """
    global _durable
    if kind == "reference":
        return ReferenceRunner()
    if kind not in ("auto", "durable"):
        raise ValueError(f"unknown rule back end {kind!r}: use auto, durable or reference")
    with _durable_lock:
        if _durable is None:
            try:
                _durable = DurableRunner()
            except ImportError:
                if kind == "durable":
                    raise
                warnings.warn("durable_rules does not import here; using the reference evaluator",
                              RuntimeWarning, stacklevel=2)
                return ReferenceRunner()
        return _durable
