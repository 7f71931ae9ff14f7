"""Rule back ends: durable_rules, and the reference evaluator that is its oracle and fallback.

Both take the compiled measures and the facts of one check and return which measure fired on which
fact. durable_rules has traps, each handled here:

* an *event* is consumed by the first rule that matches → facts are asserted, so every rule fires;
* two identical facts raise ``MessageObservedException`` → every fact carries a unique ``id``;
* DSL rules lose their names → rules are JSON, named by the measure id(s) they stand for (the
  action name; measures with the same residual conditions share a rule, see
  :meth:`CompiledMeasures.durable_rulesets`);
* a ruleset name cannot be registered twice → rulesets named by the digest of their content
  (never by the measures' order in the files), registered once, deleted when no engine serves
  them any more (its Host never deletes one; its native module can);
* a test with more than 511 alternatives below it hangs ruleset creation, and a fact that fires
  more than 64 rule branches at once fails (error 303) → long ``in`` lists are tested beside it as
  sets, and rulesets over :data:`MAX_RULESET_ALTERNATIVES` or :data:`MAX_RULESET_FIRINGS` are
  refused (the loader refuses them first);
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

import collections
import itertools
import threading
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from ._compile import MAX_RULESET_ALTERNATIVES, MAX_RULESET_FIRINGS, CompiledMeasures, SetTest
from ._errors import RuleEngineError

Fact = Mapping[str, Any]
Firing = tuple[str, str]  # (measure id, fact id)

_SENTINEL_RULE = "__session_open__"


class RuleRunner(Protocol):
    """Fires the measures of ``compiled`` on the facts of one check."""

    name: str

    def prepare(self, compiled: CompiledMeasures) -> None:
        """Get ready for ``compiled`` (register rules); raises RuleEngineError if refused."""
        ...

    def release(self, compiled: CompiledMeasures) -> None:
        """An engine no longer serves ``compiled`` (a reload replaced it, or the engine closed)."""
        ...

    def fire(self, compiled: CompiledMeasures, matter_type: str, facts: Sequence[Fact]) -> list[Firing]:
        ...


class ReferenceRunner:
    """Evaluates each candidate measure's compiled predicate on each fact, in plain Python."""

    name = "reference"

    def prepare(self, compiled: CompiledMeasures) -> None:
        """Nothing to prepare: predicates are built by the compiler."""

    def release(self, compiled: CompiledMeasures) -> None:
        """Nothing to release."""

    def fire(self, compiled: CompiledMeasures, matter_type: str, facts: Sequence[Fact]) -> list[Firing]:
        fired: list[Firing] = []
        for fact in facts:
            for cm in compiled.candidates(fact["record__list_type"], matter_type):
                if cm.predicate(fact):
                    fired.append((cm.measure.id, fact["id"]))
        return fired


class DurableRunner:
    """Runs the measures as durable_rules rulesets, one private session per check.

    Rulesets are registered by the digest of their content (:attr:`CompiledMeasures.rules_digest`)
    and counted by the engines serving them (:meth:`prepare` / :meth:`release`). A digest no engine
    serves any more stays registered among the last :attr:`IDLE_KEPT` (a check still in flight on
    it, or a reload back to it, finds it) and beyond that is deleted: durable_rules keeps ~55 KB per
    ruleset and refuses a 131,072nd one (error 112, measured with 2.0.28), so a long ``watch()``
    would otherwise grow without bound and then stop compiling.
    """

    name = "durable"

    #: Registered digests that no engine serves, kept for checks in flight and quick reloads.
    IDLE_KEPT = 4

    def __init__(self) -> None:
        # Imported here: it is optional on Python 3.13+. It ships no type information.
        import durable_rules_engine  # type: ignore[import-not-found]
        from durable import engine  # type: ignore[import-untyped]

        self._engine = engine
        self._lock = threading.Lock()
        self._collectors: dict[str, list[Firing]] = {}
        self._errors: dict[str, BaseException] = {}
        self._registered: dict[str, tuple[str, ...]] = {}  # digest → its ruleset names
        self._holders: dict[str, int] = {}  # digest → engines serving it
        self._idle: dict[str, None] = {}  # registered digests no engine serves, oldest first
        # Digests given up by release(), counted down at the next prepare() or fire(): release may
        # run inside a check that holds the lock (see release), so it only queues. deque.append is
        # atomic, so it needs no lock of its own.
        self._released: collections.deque[str] = collections.deque()
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

            def drop_rulesets(self, names: Collection[str]) -> None:
                # durable's Host registers but never deletes; its native module can.
                gone = [self._ruleset_directory.pop(n) for n in names if n in self._ruleset_directory]
                self._ruleset_list[:] = [r for r in self._ruleset_list if r._name not in names]
                for ruleset in gone:
                    durable_rules_engine.delete_ruleset(ruleset._handle)

        self._host = _Host()

    @property
    def live_rulesets(self) -> int:
        """How many rulesets durable_rules holds now (all digests, served or idle)."""
        return len(self._host._ruleset_directory)

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

    @staticmethod
    def _ruleset_name(digest: str, list_type: str, matter_type: str) -> str:
        return f"js_{digest}_{list_type}_{matter_type}"

    def _register(self, compiled: CompiledMeasures) -> str:
        """Register every ruleset of ``compiled`` at once (so a refusal comes early); its digest."""
        digest = compiled.rules_digest
        if digest in self._registered:
            return digest
        for (list_type, matter_type), (paths, firings) in compiled.sizes().items():
            # durable_rules would spin forever in create_ruleset, or fail checks; the loader refuses them.
            if paths > MAX_RULESET_ALTERNATIVES or firings > MAX_RULESET_FIRINGS:
                raise RuleEngineError(
                    f"the rules of revision {compiled.revision} for {list_type} × {matter_type} have {paths} "
                    f"alternatives of which one fact may meet {firings}; durable_rules takes "
                    f"{MAX_RULESET_ALTERNATIVES} and {MAX_RULESET_FIRINGS} / 规则备选分支过多")
        rulesets = {}
        for (list_type, matter_type), rules in compiled.durable_rulesets().items():
            rules[_SENTINEL_RULE] = {"all": [{"m": {"session__open": True}}], "run": _SENTINEL_RULE}
            rulesets[self._ruleset_name(digest, list_type, matter_type)] = rules
        try:
            self._host.set_rulesets(rulesets)
        except Exception as exc:
            # Rulesets registered before the refusal are taken back: a retry registers them anew.
            self._host.drop_rulesets(rulesets)
            raise RuleEngineError(f"durable_rules refused the rules of revision {compiled.revision}: "
                                  f"{exc}") from exc
        self._registered[digest] = tuple(rulesets)
        if not self._holders.get(digest):
            self._set_idle(digest)
        return digest

    def _set_idle(self, digest: str) -> None:
        self._idle[digest] = None
        while len(self._idle) > self.IDLE_KEPT:
            oldest = next(iter(self._idle))
            del self._idle[oldest]
            self._host.drop_rulesets(self._registered.pop(oldest))

    def prepare(self, compiled: CompiledMeasures) -> None:
        """Register a revision's rulesets now and count one more engine serving them.

        Raises:
            RuleEngineError: durable_rules refused them (nothing is counted then).
        """
        with self._lock:
            self._count_released()
            digest = self._register(compiled)
            self._holders[digest] = self._holders.get(digest, 0) + 1
            self._idle.pop(digest, None)

    def release(self, compiled: CompiledMeasures) -> None:
        """One engine fewer serves ``compiled``; with none left its rulesets become idle (see class doc).

        Never blocks: an engine's finalizer calls this on whatever thread the collector runs, which
        may be one inside :meth:`fire` holding the lock; the count is taken at the next
        :meth:`prepare` or :meth:`fire`.
        """
        self._released.append(compiled.rules_digest)

    def _count_released(self) -> None:
        """Apply the releases queued by :meth:`release` (the lock is held)."""
        while self._released:
            digest = self._released.popleft()
            left = self._holders.get(digest, 0) - 1
            if left > 0:
                self._holders[digest] = left
                continue
            self._holders.pop(digest, None)
            if digest in self._registered:
                self._set_idle(digest)

    def fire(self, compiled: CompiledMeasures, matter_type: str, facts: Sequence[Fact]) -> list[Firing]:
        with self._lock:
            self._count_released()
            try:
                return self._fire(compiled, matter_type, facts)
            except RuleEngineError:
                raise
            except Exception as exc:
                # A lookup that fails here is a bug of ours or durable's, never the host's: typed.
                raise RuleEngineError(f"durable_rules failed: {type(exc).__name__}: {exc}") from exc

    def _fire(self, compiled: CompiledMeasures, matter_type: str, facts: Sequence[Fact]) -> list[Firing]:
        digest = self._register(compiled)
        by_ruleset: dict[str, tuple[tuple[SetTest, ...], list[Fact]]] = {}
        for fact in facts:
            key = (fact["record__list_type"], matter_type)
            if compiled.candidates(*key):
                name = self._ruleset_name(digest, *key)
                by_ruleset.setdefault(name, (compiled.set_tests.get(key, ()), []))[1].append(fact)
        sid = f"c{next(self._sids)}"
        collected: list[Firing] = []
        self._collectors[sid] = collected
        opened: list[str] = []
        try:
            for ruleset, (tests, ruleset_facts) in by_ruleset.items():
                self._host.assert_fact(ruleset, {"sid": sid, "id": "__open__", "session__open": True})
                opened.append(ruleset)  # its state exists now, so deleting it is safe
                for fact in ruleset_facts:
                    message = {**fact, "sid": sid}
                    for set_key, test in tests:
                        message[set_key] = test(fact)
                    try:
                        self._host.assert_fact(ruleset, message)
                    except self._engine.MessageNotHandledException:
                        pass  # no rule matched this fact: normal
        except Exception as exc:
            raise RuleEngineError(f"durable_rules failed: {exc}") from exc
        finally:
            del self._collectors[sid]
            # Every session is deleted whatever happened, or 1,024 failed checks would exhaust them.
            for ruleset in opened:
                self._host.delete_state(ruleset, sid)
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
