"""Checking subjects: ``Engine.check(subject, matter)`` and the module-level :func:`check`.

The engine lives here; the input it is given is made safe in :mod:`~joint_sanctions._inputs`
(subjects, matters, the maximum data age), and its facts and answers are built in
:mod:`~joint_sanctions._results`. Neither imports this module.

The path of a check:

1. the subject id is validated (a typed error otherwise) and the matter resolved;
2. one in-memory membership test: is the subject, or one of its related parties, among the
   subjects with an active record? For the ~98 % that are not, the result is ``clear`` at once —
   neither the database nor the rule engine is touched;
3. otherwise one indexed store lookup finds the records active on the check date, each record
   becomes a fact, and the rule back end says which measures fire on which fact (it is skipped
   when no measure is indexed for the records' lists and this matter);
4. the result is assembled (measures with legal basis, hits, decision), a case is opened for a
   current check with measures, and one decision-log event is written.

The membership set, kept current with the store's ``data_as_of``: :mod:`~joint_sanctions._listed`. A
hash collision, or a repaired or expired record still in the set, only sends a check down the exact
path. A check refuses to answer (docs/failing-closed.md) when no record was ever written
(``no_data``) or, with ``max_data_age``, a list type was not written for longer (``stale_data``).
Where compiled, the commonest calls (a bare USCC or a plain mapping, no one listed) are answered
whole in C (``_lane.c``), with the same result as the path here.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import _gov_districts as districts
from . import _identifiers as identifiers
from ._accel import check_ids, compiled_lane
from ._accel import uscc as _uscc
from ._base import Closing
from ._case_model import CaseOpener, CaseRecorder, case_backend_of, record_case
from ._compile import CompiledMeasures, collector_paused
from ._conditions import AMOUNT_MAX
from ._errors import CheckError, IdentifierError, MeasureListError, RuleEngineError
from ._explain import Explanation, explain_check
from ._inputs import (
    MatterLike,
    SubjectLike,
    _max_data_age,
    _parse_id,
    _shown_age,
    bare_subject,
    coerce_matter,
    coerce_subject,
    matter_of,
    parse_max_data_age,
    triage,
    triage_many,
)
from ._listed import ListedSubjects
from ._logging import get_logger, premasked_logger
from ._masking import mask_parsed
from ._memo import FiringMemo
from ._models import (
    CST,
    AppliedMeasure,
    CheckResult,
    CreditRecord,
    Decision,
    Matter,
    RelatedParty,
    Subject,
    checkable_time,
    fields_set,
    trusted,
)
from ._results import Assembly, ClearResults, _facts, _hit, _subject_ref
from ._rules import RuleRunner, make_runner
from ._serving import MeasuresLike, MeasureWatcher, ServedMeasures, compile_paths
from .stores import RecordStore, open_store
from .vocabulary import RELATED_PARTY_ROLES, SUBJECT_TYPES

__all__ = [
    "CaseRecorder",
    "Engine",
    "MatterLike",
    "MeasureWatcher",
    "MeasuresLike",
    "SubjectLike",
    "When",
    "check",
    "coerce_matter",
    "coerce_subject",
    "compile_paths",
    "default_engine",
    "parse_max_data_age",
]

log = get_logger()
When = dt.date | dt.datetime | None


#: The time source of checks without an injected clock (seconds since the epoch); a module attribute
#: so that tests can put a check just before and just after midnight.
_wall_clock: Callable[[], float] = time.time


_from_timestamp, _UTC, _monotonic = dt.datetime.fromtimestamp, dt.UTC, time.monotonic


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: Makes Engine.check answer its commonest call in C, check's own path below being its twin (_lane.c).
_lane = compiled_lane(check_globals=globals(), fromtimestamp=_from_timestamp, utc=_UTC, matter=Matter,
                      matter_fields=fields_set(Matter), amount_max=AMOUNT_MAX, perf_counter=time.perf_counter,
                      parse_id=_parse_id, subject_types=frozenset(SUBJECT_TYPES) - {"region"},
                      roles=frozenset(RELATED_PARTY_ROLES))

_NO_DATA = ("no credit records were ever imported: the database cannot answer checks "
            "/ 尚未导入任何信用记录，无法核查")


class Engine(Closing):
    """Compiled measure lists + a record store: answers checks. Safe to share between threads.

    Args:
        measures: compiled measures, or measure-list files/directories; ``None`` = the shipped lists.
            Given paths *replace* the shipped lists.
        store: a :class:`RecordStore` or a database URL; ``None`` = ``JOINT_SANCTIONS_DB`` or the
            default SQLite file. A database named by URL must exist: it is never created here.
        rules: ``auto`` (durable_rules if it imports, else the reference evaluator), ``durable`` or
            ``reference``.
        clock: returns the current time (aware); injectable for reproducible tests.
        new_id: returns fresh check ids; default a random per-engine prefix plus a counter.
        tz: the time zone in which the check date is taken (default China Standard Time).
        cases: where cases are opened; default the case book in the store's own database.
            ``False`` opens no cases.
        refresh_interval: how often (seconds) to look for records written by other processes.
        max_data_age: refuse checks (``CheckError`` code ``stale_data``) while any list type's latest
            write is older than this; ``None`` = ``JOINT_SANCTIONS_MAX_DATA_AGE`` (``36h``, ``7d``)
            when set, else no limit.

    Raises:
        MeasureListError: the measure lists do not load (every problem listed).
        StoreError: ``store`` names a database that does not exist (it is never created here) or
            cannot be opened.
        CheckError: ``max_data_age`` (or its environment variable) is not a positive age.
    """

    def __init__(self, measures: MeasuresLike = None, store: RecordStore | str | None = None, *,
                 rules: str = "auto", clock: Callable[[], dt.datetime] | None = None,
                 new_id: Callable[[], str] | None = None, tz: dt.tzinfo = CST,
                 cases: CaseRecorder | bool = True, refresh_interval: float = 1.0,
                 max_data_age: dt.timedelta | None = None) -> None:
        self._max_age = _max_data_age(max_data_age)
        self._source = measures
        self._compiled = compile_paths(measures)
        self.store: RecordStore
        if store is None or isinstance(store, str):
            self.store, self._owns_store = open_store(store), True
        else:
            self.store, self._owns_store = store, False
        self._runner: RuleRunner = make_runner(rules)
        self._runner.prepare(self._compiled)
        self._memo = FiringMemo(self._compiled, self._runner)
        self._assembly = Assembly(self._compiled)
        # The revision this engine serves is released when it closes, reloads or is collected, so
        # the rule back end can free rulesets no engine serves (a long watch() must not grow).
        self._served = ServedMeasures(self._runner, self._compiled)
        weakref.finalize(self, self._served.release)
        self._clock = clock
        own_ids = new_id is None
        if new_id is None:
            new_id = check_ids(uuid.uuid4().hex[:16])  # unique across engines: a random prefix, a counter
        self._new_id: Callable[[], str] = new_id
        self._own_ids = own_ids  # hex from the generator above: nothing in them to mask
        self._clears = ClearResults(new_id)
        self._tz = tz
        self._day: tuple[float, float, dt.date] = (0.0, 0.0, dt.date.min)  # [start, end) of a day
        self._matters: dict[str, Matter] = {}
        self._listed = ListedSubjects(self.store, refresh_interval)
        self._bind_log()
        self._cases: CaseRecorder | None
        if cases is True:
            # The store provides its case tables; the case book (the loop stage) builds on this one.
            self._cases = CaseOpener(case_backend_of(self.store))
        else:
            self._cases = cases or None

    @property
    def compiled(self) -> CompiledMeasures:
        """The compiled measures serving checks now."""
        return self._compiled

    @property
    def revision(self) -> str:
        """Revision (content hash) of the measure lists serving checks now."""
        return self._compiled.revision

    @property
    def data_as_of(self) -> dict[str, dt.datetime]:
        """When each list type was last written to the store, as of the engine's latest refresh."""
        return self._listed.data_as_of

    @property
    def max_data_age(self) -> dt.timedelta | None:
        """The age beyond which a list type's data refuses checks (None: no limit)."""
        return self._max_age

    def memo_stats(self) -> dict[str, int]:
        """The firing memo of the revision serving now: ``entries``, ``hits``, ``misses`` (facts
        answered from it / decided by the rule back end) and ``bypassed`` (facts it could not class)."""
        return self._memo.stats()

    @property
    def rules_backend(self) -> str:
        """``durable`` or ``reference``."""
        return self._runner.name

    # --- measure lists ---------------------------------------------------------------------------

    def reload(self, measures: MeasuresLike = None) -> str:
        """Compile the measure lists again and swap them in atomically.

        Args:
            measures: new lists (paths or compiled); default the same paths as before.

        Returns:
            The revision now serving.

        Raises:
            MeasureListError: the new lists have problems; the old revision keeps serving.
            RuleEngineError: the rule engine refused the new rules; the old revision keeps serving.
        """
        source = measures if measures is not None else self._source
        if isinstance(source, CompiledMeasures) and measures is None:
            return self._compiled.revision  # built from compiled measures: nothing to re-read
        previous = self._compiled.revision
        try:
            compiled = compile_paths(source)
            self._runner.prepare(compiled)
        except (MeasureListError, RuleEngineError) as exc:
            log.warning("measures_reload_failed", revision=previous, error=type(exc).__name__,
                        problems=len(getattr(exc, "problems", ())) or 1)
            raise
        # A new revision starts a new memo; a check still on the old revision finds the memo not
        # its own and asks the rule back end (see _evaluate).
        self._memo = FiringMemo(compiled, self._runner)
        self._assembly = Assembly(compiled)
        self._compiled, self._source = compiled, source  # one assignment each; checks keep their copy
        self._served.swap(compiled)
        log.info("measures_reloaded", revision=compiled.revision, previous=previous)
        return compiled.revision

    def watch(self, interval: float = 2.0) -> MeasureWatcher:
        """Reload whenever a measure-list file changes (checked every ``interval`` seconds)."""
        return MeasureWatcher(self, interval)

    # --- checks ----------------------------------------------------------------------------------

    def _now(self, at: When) -> tuple[dt.datetime, dt.date]:
        if at is None:
            if self._clock is None:
                t = _wall_clock()
                start, end, day = self._day
                return _from_timestamp(t, _UTC), day if start <= t < end else self._new_day(t)
            now = self._clock()
        else:
            now = (at if at.tzinfo is not None else at.replace(tzinfo=self._tz)) if isinstance(at, dt.datetime) \
                else dt.datetime.combine(at, dt.time(), self._tz)
            if not checkable_time(now):  # converting it, or moving it by a day, would overflow
                raise CheckError("invalid_matter", "check time out of range (years 2 to 9998) / 核查时间超出范围")
        return now, now.astimezone(self._tz).date()

    def _new_day(self, t: float) -> dt.date:
        """The check date of time ``t``, a new day: its bounds are computed once."""
        day = dt.datetime.fromtimestamp(t, self._tz).date()
        midnight = dt.datetime.combine(day, dt.time(), self._tz).timestamp()
        self._day = (midnight, midnight + 86400, day)
        return day

    def _bind_log(self) -> None:
        # A bound logger costs a twentieth of the lazy proxy per event; re-bound on every refresh
        # so an application's (re)configuration of structlog or logging is followed within refresh_interval.
        # The check event's values are masked as it is built (_log_check): it skips the masking step.
        self._log = premasked_logger()
        enabled = getattr(self._log, "is_enabled_for", None)
        self._log_checks = enabled(logging.INFO) if callable(enabled) else True

    def close(self) -> None:
        """Close the store if this engine opened it (from a URL or the default); a store passed in is
        the caller's to close. Closing twice is harmless."""
        self._served.release()
        if self._owns_store:
            self.store.close()

    @staticmethod
    def _validate(subjects: Iterable[SubjectLike]) -> None:
        for subject in subjects:
            coerce_subject(subject)

    def _poll(self) -> None:
        self._listed.refresh()
        self._bind_log()

    def _refuse_without_data(self, when: dt.datetime, at: When, subjects: Iterable[SubjectLike]) -> None:
        """Raise unless the store's data may answer: some record was written, and no list type is
        older than ``max_data_age``. Staleness is judged on the data as it is now, for a check in the
        past too: what was repaired or removed since is known only from current data.

        An invalid subject is reported first: a typo in an id is what the caller can fix at once.
        """
        listed = self._listed
        if listed.oldest is None:
            self._validate(subjects)
            raise CheckError("no_data", _NO_DATA)
        if self._max_age is None:
            return
        now = when if at is None else (self._clock() if self._clock is not None else _utc_now())
        if now - listed.oldest <= self._max_age:
            return
        stale = sorted((t, lt) for lt, t in listed.data_as_of.items() if now - t > self._max_age)
        if not stale:
            return  # refreshed in between
        self._validate(subjects)
        shown = ", ".join(f"{lt} (last written {t.isoformat(timespec='seconds')})" for t, lt in stale)
        raise CheckError("stale_data", f"stale data / 数据过期: {shown}; older than max_data_age "
                                       f"{_shown_age(self._max_age)} / 超过数据时效，请先导入最新名单")

    @_lane
    def check(self, subject: SubjectLike, matter: MatterLike, *, at: When = None, open_case: bool = True,
              caller: str | None = None, **matter_fields: Any) -> CheckResult:
        """Check one subject for one matter.

        Args:
            subject: a :class:`Subject`, a mapping (``id``, ``name``, ``subject_type``,
                ``related_parties``) or a bare USCC / resident id.
            matter: a matter-type id (docs/vocabulary.md), a :class:`Matter` or a mapping.
            at: check time (date or datetime); default now. It decides record activity and
                measure validity. A historical check (``at`` given) opens no case.
            open_case: ``False`` keeps a current check with measures from opening a case.
            caller: who asked (an HTTP key's name), kept with the case the check opens.
            **matter_fields: what the host knows of the matter: ``item_code``, ``application_no``,
                ``department``, ``department_code``, ``region_code``, ``amount``, ``organizer``
                (``development_reform``, ``social_credit`` or, by default, ``other``).

        Raises:
            CheckError: unknown matter type (``code`` unknown_matter_type), invalid subject
                (``code`` invalid_subject), no record ever written to the store (``no_data``), a
                list type older than ``max_data_age`` (``stale_data``, also for a check in the past), or a
                matter the rules cannot take (``code`` invalid_matter): an amount that is not a finite
                number of yuan in [0, 10^15] (rules compare it to the fen), an organizer outside the
                vocabulary, or text holding an unpaired surrogate.
        """
        started = time.perf_counter()
        mat = matter_of(self._matters, matter, matter_fields)
        listed = self._listed
        if at is None and self._clock is None:  # the host's usual call: _now's default clock inline
            t = _wall_clock()
            start, end, day = self._day
            if not start <= t < end:
                day = self._new_day(t)
            # ListedSubjects.due, inlined: the process's own writes are noticed on the next check.
            if self.store.local_writes != listed.local or _monotonic() >= listed.next_poll:
                self._poll()
            when = _from_timestamp(t, _UTC)
        else:
            when, day = self._now(at)
            if listed.due():
                self._poll()
        try:
            if listed.oldest is None or self._max_age is not None:  # the usual case needs no call
                self._refuse_without_data(when, at, (subject,))
            if type(subject) is str:  # the commonest subject: its no-hit answer inline
                try:
                    norm, kind = _uscc(subject) or identifiers.parse_identifier(subject)  # the commonest id first
                except IdentifierError as exc:
                    raise CheckError("invalid_subject", str(exc)) from exc
                compiled = self._compiled  # one revision for the whole check, even across a reload
                if hash(norm) not in listed.hashes:
                    result = self._clears.build(compiled, listed.data_as_of, norm, kind, "", None, mat, when)
                else:
                    result = self._lookup(compiled, bare_subject(norm, kind), mat, when, day,
                                          at is None and open_case, None, caller)
            else:
                result = self._answer(subject, mat, when, day, at is None and open_case, caller)
        except CheckError as refused:  # not a USCC or resident id: a district (region code) may be meant
            result = self._district(subject, refused, mat, when, at, day, at is None and open_case, caller)[0]
        if self._log_checks:  # read after the refresh: logging configured meanwhile is followed at once
            self._log_check(result, started)
        return result

    def check_many(self, subjects: Iterable[SubjectLike], matter: MatterLike, *, at: When = None,
                   open_case: bool = True, caller: str | None = None, **matter_fields: Any) -> list[CheckResult]:
        """Check many subjects for the same matter at one check time; results in input order.

        Raises:
            CheckError: as :meth:`check`, for the first subject that is invalid; ``no_data`` and
                ``stale_data`` before any subject is checked.
        """
        mat = matter_of(self._matters, matter, matter_fields)
        when, day = self._now(at)
        if self._listed.due():
            self._poll()
        subjects = subjects if isinstance(subjects, Sequence) else list(subjects)
        self._refuse_without_data(when, at, subjects)
        opens = at is None and open_case
        compiled = self._compiled  # one revision for the whole call, even across a reload
        clear, clear_many, lookup, perf = self._clears.build, self._clears.build_many, self._lookup, time.perf_counter
        as_of = self._listed.data_as_of
        # Every result is kept until the call returns: the collector's scans of the growing young
        # generations would cost ~40 % of the time and free nothing.
        with collector_paused():
            hashes = self._listed.hashes
            # Set-based: every subject validated first (the first invalid one raises before any
            # check), then one store query for the distinct ids of all the possibly listed ones.
            norms, kinds, other, maybe_listed = triage_many(subjects, hashes)
            found: dict[str, tuple[int, list[CreditRecord]]] = {}  # subject id → (its place, its records)
            if maybe_listed:
                wanted = {i for r in maybe_listed for i in (r.id, *(p.id for p in r.related_parties))
                          if hash(i) in hashes}
                for rec in self.store.active_records(sorted(wanted), day):
                    found.setdefault(rec.subject_id, (len(found), []))[1].append(rec)

            def answer(r: Subject | tuple[str, str, str, str | None]) -> CheckResult:
                return (clear(compiled, as_of, *r, mat, when) if isinstance(r, tuple)
                        else lookup(compiled, r, mat, when, day, opens, found, caller))

            results: list[CheckResult] = []
            if self._log_checks:  # one by one, each check timed for its event
                for place, bare_id in enumerate(norms):
                    started = perf()
                    result = (answer(other[place]) if bare_id is None
                              else clear(compiled, as_of, bare_id, kinds[place], "", None, mat, when))
                    self._log_check(result, started)
                    results.append(result)
                return results
            # The bare ids between two other subjects in one call (in C where compiled): check ids
            # are drawn in input order all the same.
            start = 0
            for place, r in other.items():
                results += clear_many(compiled, as_of, norms[start:place], kinds[start:place], mat, when)
                results.append(answer(r))
                start = place + 1
            return results + clear_many(compiled, as_of, norms[start:], kinds[start:], mat, when)

    def _answer(self, subject: SubjectLike, mat: Matter, when: dt.datetime, day: dt.date,
                opens: bool, caller: str | None) -> CheckResult:
        compiled = self._compiled  # one revision for the whole check, even across a reload
        read = triage(subject, self._listed.hashes)
        if isinstance(read, tuple):  # not isinstance(read, Subject): a model class's check costs ~0.4 µs
            return self._clears.build(compiled, self._listed.data_as_of, *read, mat, when)
        return self._lookup(compiled, read, mat, when, day, opens, None, caller)

    def _lookup(self, compiled: CompiledMeasures, subj: Subject, mat: Matter, when: dt.datetime, day: dt.date,
                opens: bool, found: Mapping[str, tuple[int, list[CreditRecord]]] | None,
                caller: str | None = None) -> CheckResult:
        """The answer for a subject that may be listed: its active records (from ``found``, the
        records of many subjects as one store query returned them, or from the store), the rules,
        and a case for a current check with measures."""
        by_id = {p.id: p for p in subj.related_parties}
        if found is None:  # an id the membership set does not name has no record that counts (_listed)
            hashes = self._listed.hashes
            active = self.store.active_records([i for i in (subj.id, *by_id) if hash(i) in hashes], day)
        else:  # in the order the store gave them, as a query of these ids alone would
            active = [rec for _, recs in sorted(found[i] for i in {subj.id, *by_id} if i in found) for rec in recs]
        # Open-ended records past their list type's maximum (list_types.yaml) no longer count.
        records = compiled.list_types.current(active, day)
        result = self._evaluate(compiled, subj, mat, when, day, by_id, records)
        if result.measures and opens and self._cases is not None:
            result = record_case(self._cases, result, subj, caller)
        return result

    def _district(self, subject: SubjectLike, refused: CheckError, mat: Matter, when: dt.datetime, at: When,
                  day: dt.date, opens: bool, caller: str | None = None
                  ) -> tuple[CheckResult, Subject, list[CreditRecord]]:
        """A district-level check (:mod:`~joint_sanctions._gov_districts`); ``refused`` for any other subject."""
        self._refuse_without_data(when, at, (district := districts.district_of(subject, refused),))
        return districts.district_result(self.store, self._compiled, district, day, self._listed.data_as_of,
                                         lambda c, own: self._evaluate(c, district, mat, when, day, {}, own),
                                         self._cases if opens else None, caller)

    def explain(self, subject: SubjectLike, matter: MatterLike, *, at: When = None,
                **matter_fields: Any) -> Explanation:
        """Check as :meth:`check` does (opening no case) and say, for every measure indexed for the
        active records' list types and this matter, whether it applied and, if not, the first part of
        its rule that failed, with the values it saw (Chinese and English). A separate path: checks
        never pay for it.

        Raises:
            CheckError: as :meth:`check`.
        """
        mat = matter_of(self._matters, matter, matter_fields)
        when, day = self._now(at)
        if self._listed.due():
            self._poll()
        try:
            self._refuse_without_data(when, at, (subject,))
            compiled, subj = self._compiled, coerce_subject(subject)
        except CheckError as refused:  # a district (region code) may be meant
            result, district, owned = self._district(subject, refused, mat, when, at, day, False)
            return explain_check(self._compiled, district, mat, day, {}, owned, result)
        by_id = {p.id: p for p in subj.related_parties}
        records = compiled.list_types.current(self.store.active_records([subj.id, *by_id], day), day)
        result = self._evaluate(compiled, subj, mat, when, day, by_id, records)
        return explain_check(compiled, subj, mat, day, by_id, records, result)

    def _log_check(self, result: CheckResult, started: float) -> None:
        """The decision-log event of one check. Its values need no masking step: the subject id in
        results is already masked, the revision is a hash, matter type, decision and measure ids come
        from the vocabulary and the validated lists; only a check id from the host's ``new_id`` is
        masked here."""
        check_id = result.check_id if self._own_ids else identifiers.mask_text(result.check_id)
        self._log.info("check", check_id=check_id, revision=result.revision,
                       subject=result.subject.id, matter_type=result.matter_type, decision=result.decision,
                       measure_ids=[m.measure_id for m in measures] if (measures := result.measures) else [],
                       duration_ms=round((time.perf_counter() - started) * 1000, 3))

    def _evaluate(self, compiled: CompiledMeasures, subj: Subject, mat: Matter, when: dt.datetime,
                  day: dt.date, parties: Mapping[str, RelatedParty],
                  records: Sequence[CreditRecord]) -> CheckResult:
        own = [r for r in records if r.subject_id == subj.id]
        subject_type = (subj.subject_type
                        or next((r.subject_type for r in own if r.subject_type), None)
                        or identifiers.infer_subject_type(subj.id, subj.id_kind))
        applied: list[AppliedMeasure] = []
        party_records: list[CreditRecord] = []
        decision: Decision = "clear"
        if records:
            facts, by_fact = _facts(subj, subject_type, mat, day, parties, records)
            memo, assembly = self._memo, self._assembly
            if memo.compiled is compiled:  # it passes over facts no measure could fire on
                groups = memo.fire_grouped(mat.matter_type, facts)
            elif any(compiled.candidates(f["record__list_type"], mat.matter_type) for f in facts):
                # A reload in between: this check stays on its own revision.
                groups = [(fid, (mid,)) for mid, fid in self._runner.fire(compiled, mat.matter_type, facts)]
            else:
                groups = []
            if groups:
                if assembly.compiled is not compiled:
                    assembly = Assembly(compiled)
                applied, party_records, decision = assembly.assemble(groups, by_fact, parties)
        ref = _subject_ref(subj.id, subj.id_kind, subj.name, subject_type)
        shown = ref.id  # the subject's own id as results show it (masked when a resident id)
        return trusted(CheckResult, {
            "check_id": self._new_id(), "checked_at": when, "revision": compiled.revision, "subject": ref,
            "matter_type": mat.matter_type, "decision": decision, "measures": tuple(applied),
            "data_as_of": self._listed.data_as_of, "case_id": None,
            "hits": (*(_hit(r, shown) for r in own),
                     *(_hit(r, mask_parsed(r.subject_id, parties[r.subject_id].id_kind))
                       for r in party_records if r.subject_id != subj.id)),
            "matter": mat})


_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The engine behind :func:`check`: shipped lists and the default database, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


def check(subject: SubjectLike, matter_type: MatterLike, *, at: When = None, **matter_fields: Any) -> CheckResult:
    """Check ``subject`` for ``matter_type`` with the default engine (see :meth:`Engine.check`)."""
    return default_engine().check(subject, matter_type, at=at, **matter_fields)
