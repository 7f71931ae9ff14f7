/* The check lane: Engine.check's commonest call answered whole in C (docs/performance.md, "The check
 * lane"). Part of the compiled module joint_sanctions._speedups (_speedups.h).
 *
 * CheckLane(check) wraps Engine.check as written in Python (the class attribute is the wrapper, and
 * __wrapped__ the function). A call engine.check(subject, matter[, amount=...]) at the current time
 * (``at`` None, ``open_case`` and ``caller`` whatever: a clear answer opens no case) is answered here
 * when all of these hold, and by the wrapped function otherwise, which handles every call; so the
 * lane's answer is that function's answer, and tests/test_lane.py holds them equal:
 *   - the subject is an upper-case USCC (uscc()) whose hash is not among the listed subjects';
 *   - the matter is a matter-type id the engine has resolved before (Engine._matters), and the amount,
 *     if any, is a float or an int in [0, AMOUNT_MAX];
 *   - the engine has no injected clock and no max_data_age, its store has data (``oldest``), and no
 *     refresh is due (the store's local_writes as of the last refresh, next_poll not reached).
 * A bare USCC someone is listed under, in an otherwise plain call, is handed from there to the engine's
 * store lookup (Engine._lookup) with what the lane has resolved, as check as written hands it: the
 * Python method's own start (parsing, resolving the matter, the clock) is not done a second time.
 * The engine's state is as Engine.check reads it on every call: a reload or a refresh is followed at
 * once (what the last call read is kept while the dicts it came from are unchanged: read_state). The
 * wall clock is read once per check: every reason to leave is known before.
 * A check whose engine logs checks writes its check event as check's own path writes it.
 */
#include "_speedups.h"
#include <datetime.h>
#include <math.h>
#include <structmember.h>
#include <time.h>

static PyObject *GLOBALS;                        /* joint_sanctions._check's module dict */
static PyObject *FROM_TIMESTAMP, *UTC;           /* datetime.fromtimestamp, datetime.UTC */
static PyObject *S_WALL_CLOCK, *S_MONOTONIC, *S_CLOCK, *S_MAX_AGE, *S_MATTERS, *S_DAY, *S_STORE, *S_LISTED;
static PyObject *S_LOCAL_WRITES, *S_LOCAL, *S_NEXT_POLL, *S_OLDEST, *S_HASHES, *S_COMPILED, *S_CLEARS;
static PyObject *S_DATA_AS_OF, *S_NEW_DAY, *S_AMOUNT, *S_AT, *S_OPEN_CASE, *S_CALLER, *S_LOG_CHECKS, *S_LOG_CHECK;
static PyObject *S_ID, *S_LOOKUP, *S_DISTRICT, *S_BARE_SUBJECT, *S_CHECK_ERROR;
static PyObject *S_OWN_IDS, *S_LOG, *S_INFO, *S_CHECK, *S_ROUND, *S_CHECK_ID, *S_REVISION, *S_MATTER_TYPE, *S_DECISION;
static PyObject *S_SUBJECT, *EVENT_KEYS, *THREE; /* the check event's keyword names, in order; 3 */
static PyObject *PERF_COUNTER; /* time.perf_counter: a logged check's start, as check's own path takes it */

/* A float the clock returned: its value, or -1 with *ok = 0 when it returned something else. */
static double
clock_value(PyObject *now, int *ok)
{
    *ok = now != NULL && PyFloat_CheckExact(now);
    return *ok ? PyFloat_AS_DOUBLE(now) : -1.0;
}

/* datetime.fromtimestamp(t, UTC), computed as CPython computes it (the microseconds rounded half to
   even, the seconds from gmtime), without its call: for a float between 1970 and 9999, else the call. */
static PyObject *
utc_of(PyObject *now)
{
    double t = PyFloat_CheckExact(now) ? PyFloat_AS_DOUBLE(now) : -1.0, seconds;
    if (!(t >= 0 && t < 253402300000.0)) {
        return PyObject_CallFunctionObjArgs(FROM_TIMESTAMP, now, UTC, NULL);
    }
    volatile double us = modf(t, &seconds) * 1e6; /* volatile: rounded as CPython rounds it */
    double rounded = round(us);
    if (fabs(us - rounded) == 0.5) {
        rounded = 2.0 * round(us / 2.0);
    }
    if (rounded >= 1e6) {
        rounded -= 1e6;
        seconds += 1.0;
    }
    time_t whole = (time_t)seconds;
    struct tm tm;
    if (gmtime_r(&whole, &tm) == NULL) {
        return PyObject_CallFunctionObjArgs(FROM_TIMESTAMP, now, UTC, NULL);
    }
    return PyDateTimeAPI->DateTime_FromDateAndTime(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                                   tm.tm_min, tm.tm_sec > 59 ? 59 : tm.tm_sec, (int)rounded, UTC,
                                                   PyDateTimeAPI->DateTimeType);
}

/* utc(t): utc_of() for the tests, which hold it equal to datetime.fromtimestamp(t, UTC). */
PyObject *
utc(PyObject *module, PyObject *now)
{
    if (UTC == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "joint_sanctions._speedups: setup_lane() first");
        return NULL;
    }
    return utc_of(now);
}

static PyObject *
call_global(PyObject *name)
{
    PyObject *fn = PyDict_GetItemWithError(GLOBALS, name);
    if (fn == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_RuntimeError, "lane(): joint_sanctions._check has no %U", name);
        }
        return NULL;
    }
    Py_INCREF(fn); /* the call may run code that rebinds it */
    PyObject *out = PyObject_CallNoArgs(fn);
    Py_DECREF(fn);
    return out;
}

/* A value of an instance's own dict (a new reference), or NULL with an error set. */
static PyObject *
own(Held *held, PyObject *dict, PyObject *name)
{
    PyObject *v = PyDict_GetItemWithError(dict, name);
    if (v == NULL && !PyErr_Occurred()) {
        PyErr_Format(PyExc_AttributeError, "lane(): no attribute %U", name);
    }
    return v == NULL ? NULL : hold(held, Py_NewRef(v));
}

/* What a lane check reads of the engine (its own dict), then of its ListedSubjects (theirs). */
enum { CLOCK, MAX_AGE, MATTERS, STORE, LISTED, DAY, CLEARS, COMPILED, ENGINE_VALUES,
       HASHES = ENGINE_VALUES, LOCAL, NEXT_POLL, OLDEST, AS_OF, STATE_VALUES };
static PyObject **STATE_NAMES[STATE_VALUES] = {&S_CLOCK, &S_MAX_AGE, &S_MATTERS, &S_STORE, &S_LISTED, &S_DAY,
                                               &S_CLEARS, &S_COMPILED, &S_HASHES, &S_LOCAL, &S_NEXT_POLL,
                                               &S_OLDEST, &S_DATA_AS_OF};

/* The state the last call read, with the two dicts it came from and their version tags (PEP 509: a
   dict's tag changes with every change to it, and no two dicts share one): while both dicts are the
   same objects at the same tags, they hold these very values, and a call takes them without the
   thirteen lookups. Borrowed, so never used unless the call holds both dicts. From Python 3.12 on
   the tags are deprecated, and every call looks up. */
static struct {
    PyObject *mine, *theirs;
    uint64_t mine_tag, theirs_tag;
    PyObject *values[STATE_VALUES];
} last;

#if PY_VERSION_HEX < 0x030C0000
#define TAG(dict) (((PyDictObject *)(dict))->ma_version_tag)
#else
#define TAG(dict) ((uint64_t)0)
#endif

/* The engine's state into `values` (held), as its dicts hold it now; 0 on error. */
static int
read_state(Held *held, PyObject *engine, PyObject **values)
{
    PyObject *mine = hold(held, PyObject_GenericGetDict(engine, NULL)), *theirs;
    if (mine == NULL) {
        return 0;
    }
    int cached = PY_VERSION_HEX < 0x030C0000 && mine == last.mine && TAG(mine) == last.mine_tag;
    if (cached) {
        if ((theirs = hold(held, PyObject_GenericGetDict(last.values[LISTED], NULL))) == NULL) {
            return 0;
        }
        if (theirs == last.theirs && TAG(theirs) == last.theirs_tag) {
            for (int i = 0; i < STATE_VALUES; i++) {
                if ((values[i] = hold(held, Py_NewRef(last.values[i]))) == NULL) {
                    return 0;
                }
            }
            return 1;
        }
    }
    for (int i = 0; i < ENGINE_VALUES; i++) {
        if ((values[i] = own(held, mine, *STATE_NAMES[i])) == NULL) {
            return 0;
        }
    }
    if ((theirs = hold(held, PyObject_GenericGetDict(values[LISTED], NULL))) == NULL) {
        return 0;
    }
    for (int i = ENGINE_VALUES; i < STATE_VALUES; i++) {
        if ((values[i] = own(held, theirs, *STATE_NAMES[i])) == NULL) {
            return 0;
        }
    }
    /* Dict lookups by str keys run no Python code: both dicts are as they were read. */
    last.mine = mine;
    last.theirs = theirs;
    last.mine_tag = TAG(mine);
    last.theirs_tag = TAG(theirs);
    memcpy(last.values, values, sizeof last.values);
    return 1;
}

/* What check as written does for a bare USCC the membership names, from the store lookup on: the
   engine's _lookup of bare_subject(id, "uscc"), and on a CheckError its _district, as check's own
   except clause calls it (a USCC is no region code: it raises that error again). */
static PyObject *
look_up(PyObject *engine, PyObject *compiled, PyObject *id, PyObject *mat, PyObject *when, PyObject *day,
        PyObject *opens, PyObject *caller)
{
    PyObject *make = PyDict_GetItemWithError(GLOBALS, S_BARE_SUBJECT), *error = PyDict_GetItemWithError(GLOBALS,
                                                                                                  S_CHECK_ERROR);
    if (make == NULL || error == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError, "lane(): _check has no bare_subject or CheckError");
        }
        return NULL;
    }
    Py_INCREF(make); /* the calls run Python code, which may rebind either name */
    Py_INCREF(error);
    PyObject *subj = PyObject_CallFunctionObjArgs(make, id, KIND_USCC, NULL), *result = NULL;
    Py_DECREF(make);
    if (subj != NULL) {
        result = PyObject_CallMethodObjArgs(engine, S_LOOKUP, compiled, subj, mat, when, day, opens, Py_None, caller,
                                            NULL);
    }
    if (result == NULL && subj != NULL && PyErr_ExceptionMatches(error)) {
        PyObject *type, *refused, *traceback;
        PyErr_Fetch(&type, &refused, &traceback);
        PyErr_NormalizeException(&type, &refused, &traceback);
        if (traceback != NULL) {
            PyException_SetTraceback(refused, traceback);
        }
        PyObject *both = PyObject_CallMethodObjArgs(engine, S_DISTRICT, id, refused, mat, when, Py_None, day, opens,
                                                    caller, NULL);
        Py_XDECREF(type);
        Py_XDECREF(refused);
        Py_XDECREF(traceback);
        result = both == NULL ? NULL : Py_NewRef(PySequence_Fast_GET_ITEM(both, 0));
        Py_XDECREF(both);
    }
    Py_XDECREF(subj);
    Py_DECREF(error);
    return result;
}

/* The answer to check(subject, matter[, amount=...]) on `engine`: the clear result, or for a bare USCC
   someone is listed under the store lookup's (*looked_up set); None when the lane leaves the call to
   check's own path (the module comment says when), NULL on error. Every reason to leave is known
   before the wall clock is read, so a check reads it once, whichever path answers. */
static PyObject *
answer(PyObject *engine, PyObject *subject, PyObject *matter, PyObject *amount_given, PyObject *opens,
       PyObject *caller, int *looked_up)
{
    if (!PyUnicode_CheckExact(matter)) {
        Py_RETURN_NONE;
    }
    int ok, plain;
    Reading read;
    Held held = {.n = 0};
    PyObject *result = NULL, *amount = NULL, *state[STATE_VALUES], *cached, *writes, *mono;
    if ((plain = read_subject(&held, subject, &read)) <= 0) {
        goto maybe_error;
    }
    if (amount_given != NULL && (amount = hold(&held, lane_amount(amount_given))) == NULL) {
        goto maybe_error;
    }
    /* The membership first: its filter's words for these ids are fetched from memory (a cache miss
       each, most of a lane check's wait) while the rest is looked at. */
    if (!read_state(&held, engine, state)) {
        goto done;
    }
    membership_prefetch(state[HASHES], read.id);
    for (int i = 0; i < read.n; i++) {
        membership_prefetch(state[HASHES], read.parties[i]);
    }
    if (state[CLOCK] != Py_None || state[MAX_AGE] != Py_None || !PyDict_Check(state[MATTERS])) {
        goto leave;
    }
    if ((cached = PyDict_GetItemWithError(state[MATTERS], matter)) == NULL
        || hold(&held, Py_NewRef(cached)) == NULL) {
        goto maybe_error;
    }

    /* No refresh due (ListedSubjects.due): no write of this process since, no poll of others' due. */
    if ((writes = hold(&held, PyObject_GetAttr(state[STORE], S_LOCAL_WRITES))) == NULL) {
        goto done;
    }
    int changed = PyObject_RichCompareBool(writes, state[LOCAL], Py_NE);
    if (changed != 0) {
        goto maybe_error;
    }
    mono = hold(&held, call_global(S_MONOTONIC));
    double m = clock_value(mono, &ok);
    if (mono == NULL) {
        goto done;
    }
    /* ... the store has data, and no one is listed under this id. */
    if (!ok || !PyFloat_CheckExact(state[NEXT_POLL]) || !(m < PyFloat_AS_DOUBLE(state[NEXT_POLL]))
        || state[OLDEST] == Py_None || !is_membership(state[HASHES])) {
        goto leave;
    }
    int found = hash_listed(read.id, state[HASHES]);
    for (int i = 0; found == 0 && i < read.n; i++) {
        found = hash_listed(read.parties[i], state[HASHES]);
    }
    /* A bare USCC someone is listed under goes to the store lookup as check as written sends it. */
    int hit = found > 0 && read.id == subject;
    if (found != 0 && !hit) {
        goto maybe_error;
    }

    /* The check's time; its day is the one computed last (start <= t < end), or a new one. */
    PyObject *now, *day = state[DAY], *mat, *when;
    if ((now = hold(&held, call_global(S_WALL_CLOCK))) == NULL) {
        goto done;
    }
    double t = PyFloat_AsDouble(now);
    if (t == -1.0 && PyErr_Occurred()) {
        goto done;
    }
    if (!PyTuple_CheckExact(day) || PyTuple_GET_SIZE(day) != 3 || !PyFloat_CheckExact(PyTuple_GET_ITEM(day, 0))
        || !PyFloat_CheckExact(PyTuple_GET_ITEM(day, 1)) || !(PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(day, 0)) <= t)
        || !(t < PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(day, 1)))) {
        if ((day = hold(&held, PyObject_CallMethodObjArgs(engine, S_NEW_DAY, now, NULL))) == NULL) {
            goto done;
        }
    } else {
        day = PyTuple_GET_ITEM(day, 2);
    }
    if ((mat = hold(&held, lane_matter(cached, amount))) == NULL || (when = hold(&held, utc_of(now))) == NULL) {
        goto done;
    }
    if (hit) {
        *looked_up = 1;
        result = look_up(engine, state[COMPILED], subject, mat, when, day, opens, caller);
        goto done;
    }
    PyObject *one[9] = {state[CLEARS], state[COMPILED], state[AS_OF], read.id, KIND_USCC, read.name, read.type, mat,
                        when};
    result = clear_one(one);
    goto done;

maybe_error: /* a lookup that found nothing, or failed */
    if (PyErr_Occurred()) {
        goto done;
    }
leave:
    result = Py_NewRef(Py_None);
done:
    release(&held);
    return result;
}

/* --- the method -------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *wrapped; /* Engine.check as written in Python: every call the lane leaves */
    Py_ssize_t answered;
    vectorcallfunc vectorcall;
} CheckLane;

/* The check event of a clear result the lane answered, as Engine._log_check writes it (the same keys
   in the same order; the subject id of a USCC needs no masking): engine._log.info("check", ...). A
   check id from the host's own new_id is masked there: such an event is left to _log_check. */
static PyObject *
log_check(PyObject *engine, PyObject *result, PyObject *started)
{
    PyObject *own_ids = PyObject_GetAttr(engine, S_OWN_IDS);
    if (own_ids != Py_True) {
        Py_XDECREF(own_ids);
        return own_ids == NULL ? NULL : PyObject_CallMethodObjArgs(engine, S_LOG_CHECK, result, started, NULL);
    }
    Py_DECREF(own_ids);
    PyObject *out = NULL, *fields = PyObject_GenericGetDict(result, NULL), *subject = NULL, *shown = NULL;
    PyObject *ids = NULL, *now = NULL, *ms = NULL, *rounded = NULL, *log = NULL;
    if (fields == NULL || (subject = PyDict_GetItemWithError(fields, S_SUBJECT)) == NULL
        || (shown = PyObject_GetAttr(subject, S_ID)) == NULL || (ids = PyList_New(0)) == NULL
        || (now = PyObject_CallNoArgs(PERF_COUNTER)) == NULL
        || (ms = PyFloat_FromDouble((PyFloat_AsDouble(now) - PyFloat_AsDouble(started)) * 1000)) == NULL
        || (rounded = PyObject_CallMethodObjArgs(ms, S_ROUND, THREE, NULL)) == NULL
        || (log = PyObject_GetAttr(engine, S_LOG)) == NULL) {
        goto done;
    }
    PyObject *values[7] = {PyDict_GetItemWithError(fields, S_CHECK_ID), PyDict_GetItemWithError(fields, S_REVISION),
                           shown, PyDict_GetItemWithError(fields, S_MATTER_TYPE),
                           PyDict_GetItemWithError(fields, S_DECISION), ids, rounded};
    for (int i = 0; i < 7; i++) {
        if (values[i] == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_RuntimeError, "lane(): a check result without its fields");
            }
            goto done;
        }
    }
    PyObject *stack[9] = {log, S_CHECK, values[0], values[1], values[2], values[3], values[4], values[5], values[6]};
    out = PyObject_VectorcallMethod(S_INFO, stack, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, EVENT_KEYS);
done:
    Py_XDECREF(fields);
    Py_XDECREF(shown);
    Py_XDECREF(ids);
    Py_XDECREF(now);
    Py_XDECREF(ms);
    Py_XDECREF(rounded);
    Py_XDECREF(log);
    return out;
}

/* engine.check(subject, matter, **keywords): the lane's answer when it has one, else the wrapped
   function's; a check event as check's own path writes it when the engine logs checks. */
static PyObject *
lane_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CheckLane *self = (CheckLane *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *amount = NULL, *opens = Py_True, *caller = Py_None;
    int plain = nargs == 3, looked_up = 0;
    for (Py_ssize_t i = 0; plain && i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i), *value = args[nargs + i];
        if (named(name, S_AMOUNT)) {
            amount = value;
        } else if (named(name, S_AT)) {
            plain = value == Py_None;
        } else if (named(name, S_OPEN_CASE)) {
            opens = value;
        } else if (named(name, S_CALLER)) {
            caller = value;
        } else {
            plain = 0;
        }
    }
    if (plain) {
        if (!ready(1)) {
            return NULL;
        }
        PyObject *engine = args[0], *logs = PyObject_GetAttr(engine, S_LOG_CHECKS), *started = NULL;
        int logged = logs == NULL ? -1 : PyObject_IsTrue(logs);
        Py_XDECREF(logs);
        if (logged < 0 || (logged && (started = PyObject_CallNoArgs(PERF_COUNTER)) == NULL)) {
            return NULL;
        }
        PyObject *result = answer(engine, args[1], args[2], amount, opens, caller, &looked_up);
        if (result != Py_None) {
            if (result != NULL) {
                self->answered += !looked_up; /* answered whole in C */
                if (logged) {
                    PyObject *done = looked_up ? PyObject_CallMethodObjArgs(engine, S_LOG_CHECK, result, started, NULL)
                                               : log_check(engine, result, started);
                    if (done == NULL) {
                        Py_CLEAR(result);
                    }
                    Py_XDECREF(done);
                }
            }
            Py_XDECREF(started);
            return result;
        }
        Py_DECREF(result);
        Py_XDECREF(started);
    }
    return PyObject_Vectorcall(self->wrapped, args, nargsf, kwnames);
}

static PyObject *
lane_get(PyObject *self, PyObject *obj, PyObject *type)
{
    return obj == NULL || obj == Py_None ? Py_NewRef(self) : PyMethod_New(self, obj);
}

static PyObject *
lane_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *wrapped;
    if (!PyArg_ParseTuple(args, "O:CheckLane", &wrapped)) {
        return NULL;
    }
    if (GLOBALS == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "joint_sanctions._speedups: setup_lane() first");
        return NULL;
    }
    CheckLane *self = PyObject_GC_New(CheckLane, type);
    if (self == NULL) {
        return NULL;
    }
    self->wrapped = Py_NewRef(wrapped);
    self->answered = 0;
    self->vectorcall = lane_call;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int
lane_traverse(CheckLane *self, visitproc visit, void *arg)
{
    Py_VISIT(self->wrapped);
    return 0;
}

static int
lane_clear(CheckLane *self)
{
    Py_CLEAR(self->wrapped);
    return 0;
}

static void
lane_dealloc(CheckLane *self)
{
    PyObject_GC_UnTrack(self);
    lane_clear(self);
    PyObject_GC_Del(self);
}

/* __doc__, __name__, __qualname__ and __module__: the wrapped function's (the closure names which). */
static PyObject *
lane_forward(PyObject *self, void *name)
{
    return PyObject_GetAttrString(((CheckLane *)self)->wrapped, (const char *)name);
}

static PyGetSetDef lane_getset[] = {
    {"__doc__", lane_forward, NULL, NULL, "__doc__"},
    {"__name__", lane_forward, NULL, NULL, "__name__"},
    {"__qualname__", lane_forward, NULL, NULL, "__qualname__"},
    {"__module__", lane_forward, NULL, NULL, "__module__"},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef lane_members[] = {
    {"__wrapped__", T_OBJECT, offsetof(CheckLane, wrapped), READONLY, "check's own path, in Python"},
    {"answered", T_PYSSIZET, offsetof(CheckLane, answered), READONLY, "calls the lane answered"},
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(CheckLane, vectorcall), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject CheckLaneType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "joint_sanctions._speedups.CheckLane",
    .tp_basicsize = sizeof(CheckLane),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_doc = "CheckLane(check): Engine.check with its commonest call answered in C (_lane.c).",
    .tp_new = lane_new,
    .tp_dealloc = (destructor)lane_dealloc,
    .tp_traverse = (traverseproc)lane_traverse,
    .tp_clear = (inquiry)lane_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(CheckLane, vectorcall),
    .tp_descr_get = lane_get,
    .tp_members = lane_members,
    .tp_getset = lane_getset,
};

/* setup_lane(check_globals=, fromtimestamp=, utc=, matter=, matter_fields=, amount_max=, perf_counter=,
              parse_id=, subject_types=, roles=): what the lane reads and calls (see _accel.compiled_lane). */
PyObject *
setup_lane(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"check_globals", "fromtimestamp", "utc", "matter", "matter_fields", "amount_max",
                            "perf_counter", "parse_id", "subject_types", "roles", NULL};
    PyObject *given[9];
    double amount_max;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$O!OOO!OdOOO!O!:setup_lane", names, &PyDict_Type, &given[0],
                                     &given[1], &given[2], &PyType_Type, &given[3], &given[4], &amount_max,
                                     &given[5], &given[6], &PyFrozenSet_Type, &given[7], &PyFrozenSet_Type,
                                     &given[8])) {
        return NULL;
    }
    PyObject **slots[4] = {&GLOBALS, &FROM_TIMESTAMP, &UTC, &PERF_COUNTER};
    PyObject *kept[4] = {given[0], given[1], given[2], given[5]};
    for (int i = 0; i < 4; i++) {
        Py_XSETREF(*slots[i], Py_NewRef(kept[i]));
    }
    subject_setup(given[6], given[7], given[8], given[3], given[4], amount_max);
    Py_RETURN_NONE;
}

int
lane_init(PyObject *module)
{
    static const char *names[] = {"_wall_clock", "_monotonic", "_clock", "_max_age", "_matters", "_day", "store",
                                  "_listed", "local_writes", "local", "next_poll", "oldest", "hashes",
                                  "_compiled", "_clears", "data_as_of", "_new_day", "amount", "at", "open_case", "caller",
                                  "_log_checks", "_log_check", "id", "_lookup", "_district", "bare_subject",
                                  "CheckError", "_own_ids", "_log", "info", "check", "__round__", "check_id", "revision",
                                  "matter_type", "decision", "subject"};
    PyObject **slots[] = {&S_WALL_CLOCK, &S_MONOTONIC, &S_CLOCK, &S_MAX_AGE, &S_MATTERS, &S_DAY, &S_STORE,
                          &S_LISTED, &S_LOCAL_WRITES, &S_LOCAL, &S_NEXT_POLL, &S_OLDEST, &S_HASHES,
                          &S_COMPILED, &S_CLEARS, &S_DATA_AS_OF, &S_NEW_DAY, &S_AMOUNT, &S_AT, &S_OPEN_CASE, &S_CALLER,
                          &S_LOG_CHECKS, &S_LOG_CHECK, &S_ID, &S_LOOKUP, &S_DISTRICT, &S_BARE_SUBJECT,
                          &S_CHECK_ERROR, &S_OWN_IDS, &S_LOG, &S_INFO, &S_CHECK, &S_ROUND, &S_CHECK_ID, &S_REVISION,
                          &S_MATTER_TYPE, &S_DECISION, &S_SUBJECT};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((*slots[i] = PyUnicode_InternFromString(names[i])) == NULL) {
            return 0;
        }
    }
    if ((THREE = PyLong_FromLong(3)) == NULL
        || (EVENT_KEYS = Py_BuildValue("(sssssss)", "check_id", "revision", "subject", "matter_type", "decision",
                                       "measure_ids", "duration_ms")) == NULL) {
        return 0;
    }
    PyDateTime_IMPORT;
    return PyDateTimeAPI != NULL && subject_names() && PyType_Ready(&CheckLaneType) == 0 && PyModule_AddObjectRef(module, "CheckLane",
                                                                     (PyObject *)&CheckLaneType) == 0;
}
