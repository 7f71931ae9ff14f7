/* Compiled twins of the check path's steps where the interpreter's own work is most of the cost
 * (docs/performance.md, "Compiled helpers").
 *
 * Each function here does exactly what its pure-Python twin does (see joint_sanctions/_accel.py), and
 * tests/test_accel.py holds them equal on generated input. The package works without this module
 * (a machine without a C compiler gets the twins); it only makes checks cheaper:
 *
 * uscc(text)  the fast path of parse_identifier for an upper-case 统一社会信用代码 as host systems
 *             send it: (text, "uscc") when it is one, else None (the caller then takes the full
 *             path, with its normalisation and its messages). Never raises for a str.
 * model(cls, values, fields_set)
 *             a pydantic model built without validation from values the engine has validated, as
 *             joint_sanctions._models.trusted does: BaseModel's own slot descriptors (handed over
 *             once by setup_models()), the values dict taken as the instance's __dict__.
 * applied(rows, cls, fields_set)
 *             Assembly.assemble's last step: per row (fields, (record_ids, via_related_party)) a copy
 *             of the prebuilt fields with the check's own record ids (and related party, unless None)
 *             made a model as model() makes one; the list of them.
 * clear(clears, compiled, data_as_of, subject_id, kind, name, subject_type, matter, when)
 *             ClearResults.build: the clear CheckResult of a subject no one listed, built from the
 *             template dict of `clears` (classes and helpers handed over once by setup_clear()).
 * clear_many(clears, compiled, data_as_of, subject_ids, kinds, matter, when)
 *             ClearResults.build_many: clear() of each bare id, in order.
 * bare_usccs(subjects, hashes)
 *             check_many's first pass: the subjects that are upper-case USCCs no one is listed under.
 * CheckIds(prefix, start=1)
 *             an engine's default check ids: prefix + a counter in 16 hex digits, per call.
 * CheckLane   Engine.check's commonest call whole in C (_lane.c).
 */
#include "_speedups.h"
#include <stddef.h>
#include <structmember.h>

/* --- uscc ------------------------------------------------------------------------------------- */

static const char USCC_ALPHABET[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const int USCC_WEIGHTS[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
static signed char USCC_VALUE[128]; /* value of an alphabet character, -1 for any other ASCII */
PyObject *KIND_USCC, *EMPTY_STR;

int
is_uscc(PyObject *text)
{
    if (!PyUnicode_CheckExact(text) || PyUnicode_GET_LENGTH(text) != 18 || !PyUnicode_IS_ASCII(text)) {
        return 0;
    }
    const unsigned char *s = PyUnicode_1BYTE_DATA(text);
    int digits = 1, total = 0;
    for (int i = 0; i < 17; i++) {
        int v = USCC_VALUE[s[i]];
        if (v < 0) {
            return 0;
        }
        if (v > 9) {
            digits = 0;
        }
        total += v * USCC_WEIGHTS[i];
    }
    /* Seventeen digits may be a resident id: parse_identifier decides that in Python. */
    return !digits && s[17] == (unsigned char)USCC_ALPHABET[(31 - total % 31) % 31]
           && strchr("123456789ANY", s[0]) != NULL;
}

static PyObject *
uscc(PyObject *module, PyObject *text)
{
    if (!is_uscc(text)) {
        Py_RETURN_NONE;
    }
    return PyTuple_Pack(2, text, KIND_USCC);
}

/* --- clear -------------------------------------------------------------------------------------- */

static PyObject *RESULT_CLS, *REF_CLS;                      /* CheckResult, SubjectRef */
static PyObject *MODEL_BASE;                                /* pydantic.BaseModel */
static PyObject *SET_DICT, *SET_FIELDS, *SET_EXTRA, *SET_PRIVATE; /* BaseModel's slot descriptors */
static PyObject *RESULT_FIELDS, *REF_FIELDS;                /* the shared fields-set of each model */
static PyObject *MASK_PARSED, *MASK_TEXT;                   /* _masking.mask_parsed, mask_text */
static PyObject *S_CHECK_ID, *S_CHECKED_AT, *S_SUBJECT, *S_MATTER_TYPE, *S_MATTER;
static PyObject *S_ID, *S_ID_KIND, *S_NAME, *S_SUBJECT_TYPE, *S_TEMPLATE, *S_NEW_ID, *S_REBUILT;
static PyObject *T_GOVERNMENT, *T_INDIVIDUAL, *T_LEGAL, *T_NATURAL;

static int
set_slot(PyObject *descriptor, PyObject *obj, PyObject *value)
{
    return Py_TYPE(descriptor)->tp_descr_set(descriptor, obj, value);
}

/* Where BaseModel's three object slots sit in an instance (their member descriptors' offsets), -1 where a
   descriptor is not a plain object slot: then the descriptors set them. */
static Py_ssize_t SLOT_AT[3] = {-1, -1, -1};

/* Sets a fresh instance's dict and slots as their descriptors would, without calling them: 1, or 0 when
   that cannot be done here (the caller then calls the descriptors). */
static int
set_direct(PyObject *obj, PyObject *values, PyObject *fields)
{
    if (SLOT_AT[0] < 0 || SLOT_AT[1] < 0 || SLOT_AT[2] < 0) {
        return 0;
    }
    PyObject **dict = _PyObject_GetDictPtr(obj);
    if (dict == NULL || *dict != NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *given[3] = {fields, Py_None, Py_None};
    for (int i = 0; i < 3; i++) {
        PyObject **slot = (PyObject **)((char *)obj + SLOT_AT[i]);
        if (*slot != NULL) { /* a fresh instance's slots are empty: anything else is not ours to write */
            return 0;
        }
    }
    *dict = Py_NewRef(values);
    for (int i = 0; i < 3; i++) {
        *(PyObject **)((char *)obj + SLOT_AT[i]) = Py_NewRef(given[i]);
    }
    return 1;
}

PyObject *
trusted(PyObject *cls, PyObject *values, PyObject *fields)
{
    /* Allocated as object.__new__ allocates it, without the inline attribute values it would give an
       instance first (a managed dict, Python 3.11+): setting __dict__ would turn them into a dict only
       to drop it for this one. Its dict and slots are then written as their descriptors write them. */
    PyObject *obj = ((PyTypeObject *)cls)->tp_alloc((PyTypeObject *)cls, 0);
    if (obj == NULL || (!set_direct(obj, values, fields)
                        && (set_slot(SET_DICT, obj, values) < 0 || set_slot(SET_FIELDS, obj, fields) < 0
                            || set_slot(SET_EXTRA, obj, Py_None) < 0 || set_slot(SET_PRIVATE, obj, Py_None) < 0))) {
        Py_XDECREF(obj);
        Py_DECREF(values);
        return NULL;
    }
    /* Left out of the cyclic collector, with its dict: a frozen model of values holds no cycle, and
       check_many's thousands of results (a hit's ~30 measures) were scanned by every young collection
       while they lived. A dict later given a container is tracked again (CPython's rule); a cycle a host
       makes through a model's dict by hand is not collected. */
    PyObject_GC_UnTrack(values);
    PyObject_GC_UnTrack(obj);
    Py_DECREF(values);
    return obj;
}

/* The template dict of `clears` for this revision and store state (rebuilt when either changed). */
static PyObject *
template_of(PyObject *clears, PyObject *compiled, PyObject *data_as_of)
{
    PyObject *template = PyObject_GetAttr(clears, S_TEMPLATE);
    if (template == NULL) {
        return NULL;
    }
    if (PyTuple_Check(template) && PyTuple_GET_SIZE(template) == 3 && PyTuple_GET_ITEM(template, 0) == compiled
        && PyTuple_GET_ITEM(template, 1) == data_as_of) {
        PyObject *values = PyTuple_GET_ITEM(template, 2);
        Py_INCREF(values);
        Py_DECREF(template);
        return values;
    }
    Py_DECREF(template);
    return PyObject_CallMethodObjArgs(clears, S_REBUILT, compiled, data_as_of, NULL);
}

/* Checked once per entry point, so trusted() need not. */
int
ready(int for_clear)
{
    if (MODEL_BASE == NULL || (for_clear && RESULT_CLS == NULL)) {
        PyErr_SetString(PyExc_RuntimeError, for_clear ? "joint_sanctions._speedups: setup_models() and "
                                                        "setup_clear() first"
                                                      : "joint_sanctions._speedups: setup_models() first");
        return 0;
    }
    return 1;
}

static PyObject *
model(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!ready(0)) {
        return NULL;
    }
    if (nargs != 3 || !PyType_Check(args[0]) || !PyType_IsSubtype((PyTypeObject *)args[0], (PyTypeObject *)MODEL_BASE)
        || !PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "model(cls, values, fields_set): a model class, a dict and a set");
        return NULL;
    }
    return trusted(args[0], Py_NewRef(args[1]), args[2]);
}

static PyObject *S_RECORD_IDS, *S_VIA;

static PyObject *
applied(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!ready(0)) {
        return NULL;
    }
    if (nargs != 3 || !PyType_Check(args[1]) || !PyType_IsSubtype((PyTypeObject *)args[1], (PyTypeObject *)MODEL_BASE)) {
        PyErr_SetString(PyExc_TypeError, "applied(rows, cls, fields_set): rows, a model class and a set");
        return NULL;
    }
    PyObject *iterator = PyObject_GetIter(args[0]), *out = PyList_New(0), *row;
    if (iterator == NULL || out == NULL) {
        goto fail;
    }
    while ((row = PyIter_Next(iterator)) != NULL) {
        PyObject *fields, *own, *record_ids, *via;
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 2 || !PyDict_Check(fields = PyTuple_GET_ITEM(row, 0))
            || !PyTuple_Check(own = PyTuple_GET_ITEM(row, 1)) || PyTuple_GET_SIZE(own) != 2) {
            PyErr_SetString(PyExc_TypeError, "applied(): each row is (fields, (record_ids, via_related_party))");
            Py_DECREF(row);
            goto fail;
        }
        record_ids = PyTuple_GET_ITEM(own, 0);
        via = PyTuple_GET_ITEM(own, 1);
        PyObject *values = PyDict_Copy(fields), *m = NULL;
        if (values == NULL || PyDict_SetItem(values, S_RECORD_IDS, record_ids) < 0
            || (via != Py_None && PyDict_SetItem(values, S_VIA, via) < 0)) {
            Py_XDECREF(values);
            Py_DECREF(row);
            goto fail;
        }
        m = trusted(args[1], values, args[2]);
        Py_DECREF(row);
        if (m == NULL || PyList_Append(out, m) < 0) {
            Py_XDECREF(m);
            goto fail;
        }
        Py_DECREF(m);
    }
    if (PyErr_Occurred()) {
        goto fail;
    }
    Py_DECREF(iterator);
    return out;
fail:
    Py_XDECREF(iterator);
    Py_XDECREF(out);
    return NULL;
}

PyObject *
clear_one(PyObject *const *args)
{
    PyObject *clears = args[0], *compiled = args[1], *data_as_of = args[2], *subject_id = args[3];
    PyObject *kind = args[4], *name = args[5], *subject_type = args[6], *matter = args[7], *when = args[8];
    PyObject *shown = NULL, *shown_name = NULL, *ref_values = NULL, *ref = NULL, *values = NULL;
    PyObject *check_id = NULL, *matter_type = NULL, *result = NULL;

    /* The subject as results show it: a USCC as it is, its type (when none is given) inferred as
       identifiers.infer_subject_type does; any other id masked (a natural person). */
    PyObject *inferred = T_NATURAL;
    if (!PyUnicode_Check(subject_id)) {
        PyErr_SetString(PyExc_TypeError, "clear(): the subject id must be a str");
        return NULL;
    }
    if (PyUnicode_Check(kind) && PyUnicode_CompareWithASCIIString(kind, "uscc") == 0) {
        shown = Py_NewRef(subject_id);
        Py_ssize_t length = PyUnicode_GET_LENGTH(subject_id);
        Py_UCS4 first = length > 0 ? PyUnicode_READ_CHAR(subject_id, 0) : 0;
        Py_UCS4 second = length > 1 ? PyUnicode_READ_CHAR(subject_id, 1) : 0;
        inferred = first == '1' ? T_GOVERNMENT : (first == '9' && second == '2') ? T_INDIVIDUAL : T_LEGAL;
    } else {
        shown = PyObject_CallFunctionObjArgs(MASK_PARSED, subject_id, kind, NULL);
        if (shown == NULL) {
            goto done;
        }
    }
    int has_name = PyObject_IsTrue(name), has_type = PyObject_IsTrue(subject_type);
    if (has_name < 0 || has_type < 0) {
        goto done;
    }
    shown_name = has_name ? PyObject_CallOneArg(MASK_TEXT, name) : Py_NewRef(name);
    if (shown_name == NULL || (ref_values = PyDict_New()) == NULL
        || PyDict_SetItem(ref_values, S_ID, shown) < 0 || PyDict_SetItem(ref_values, S_ID_KIND, kind) < 0
        || PyDict_SetItem(ref_values, S_NAME, shown_name) < 0
        || PyDict_SetItem(ref_values, S_SUBJECT_TYPE, has_type ? subject_type : inferred) < 0) {
        Py_CLEAR(ref_values);
        goto done;
    }
    ref = trusted(REF_CLS, ref_values, REF_FIELDS);
    if (ref == NULL) {
        goto done;
    }

    PyObject *template = template_of(clears, compiled, data_as_of);
    if (template == NULL) {
        goto done;
    }
    values = PyDict_Copy(template);
    Py_DECREF(template);
    if (values == NULL) {
        goto done;
    }
    PyObject *new_id = PyObject_GetAttr(clears, S_NEW_ID);
    if (new_id == NULL) {
        goto done;
    }
    check_id = PyObject_CallNoArgs(new_id);
    Py_DECREF(new_id);
    if (check_id == NULL || (matter_type = PyObject_GetAttr(matter, S_MATTER_TYPE)) == NULL
        || PyDict_SetItem(values, S_CHECK_ID, check_id) < 0 || PyDict_SetItem(values, S_CHECKED_AT, when) < 0
        || PyDict_SetItem(values, S_SUBJECT, ref) < 0 || PyDict_SetItem(values, S_MATTER_TYPE, matter_type) < 0
        || PyDict_SetItem(values, S_MATTER, matter) < 0) {
        goto done;
    }
    result = trusted(RESULT_CLS, values, RESULT_FIELDS);
    values = NULL; /* stolen by trusted() */

done:
    Py_XDECREF(shown);
    Py_XDECREF(shown_name);
    Py_XDECREF(ref);
    Py_XDECREF(values);
    Py_XDECREF(check_id);
    Py_XDECREF(matter_type);
    return result;
}

static PyObject *
clear(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!ready(1)) {
        return NULL;
    }
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "clear() takes 9 arguments");
        return NULL;
    }
    return clear_one(args);
}

/* clear_many(clears, compiled, data_as_of, subject_ids, kinds, matter, when): clear() of each bare id
   (no name, no subject type given), in order: a list. */
static PyObject *
clear_many(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!ready(1)) {
        return NULL;
    }
    if (nargs != 7 || !PyList_Check(args[3]) || !PyList_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "clear_many() takes 7 arguments, the ids and kinds as two lists");
        return NULL;
    }
    if (PyList_GET_SIZE(args[3]) != PyList_GET_SIZE(args[4])) {  /* as zip(strict=True) in the twin */
        PyErr_SetString(PyExc_ValueError, "clear_many(): as many kinds as ids");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(args[3]);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        return NULL;
    }
    PyObject *one[9] = {args[0], args[1], args[2], NULL, NULL, EMPTY_STR, Py_None, args[5], args[6]};
    for (Py_ssize_t i = 0; i < n; i++) {
        /* The lists cannot change meanwhile: clear_one() runs no code of the caller's but new_id. */
        one[3] = PyList_GET_ITEM(args[3], i);
        one[4] = PyList_GET_ITEM(args[4], i);
        Py_INCREF(one[3]);
        Py_INCREF(one[4]);
        PyObject *result = clear_one(one);
        Py_DECREF(one[3]);
        Py_DECREF(one[4]);
        if (result == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, result);
    }
    return out;
}

/* bare_usccs(subjects, hashes): for a check_many call, per subject its id and "uscc" when it is an
   upper-case USCC (uscc()) whose hash is not in `hashes` (no one so listed), else None and "";
   third, the places of the others, which the caller judges. */
static PyObject *
bare_usccs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0]) || !is_membership(args[1])) {
        PyErr_SetString(PyExc_TypeError, "bare_usccs(subjects, hashes): a list and a set or Membership");
        return NULL;
    }
    PyObject *subjects = args[0], *hashes = args[1];
    Py_ssize_t n = PyList_GET_SIZE(subjects);
    PyObject *ids = PyList_New(n), *kinds = PyList_New(n), *others = PyList_New(0);
    if (ids == NULL || kinds == NULL || others == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyList_GET_ITEM(subjects, i), *id = Py_None, *kind = EMPTY_STR;
        if (is_uscc(s)) {
            int listed = hash_listed(s, hashes);
            if (listed < 0) {
                goto fail;
            }
            if (!listed) {
                id = s;
                kind = KIND_USCC;
            }
        }
        PyList_SET_ITEM(ids, i, Py_NewRef(id));
        PyList_SET_ITEM(kinds, i, Py_NewRef(kind));
        if (id == Py_None) {
            PyObject *place = PyLong_FromSsize_t(i);
            if (place == NULL || PyList_Append(others, place) < 0) {
                Py_XDECREF(place);
                goto fail;
            }
            Py_DECREF(place);
        }
    }
    return Py_BuildValue("(NNN)", ids, kinds, others);
fail:
    Py_XDECREF(ids);
    Py_XDECREF(kinds);
    Py_XDECREF(others);
    return NULL;
}

/* --- check ids -------------------------------------------------------------------------------- */

/* CheckIds(prefix, start=1): a callable returning prefix + the next number as 16 hex digits, as
   map(f"{prefix}%016x".__mod__, itertools.count(start)).__next__ does (to 2**64 ids; the GIL keeps
   one call whole across threads). The prefix is 16 ASCII characters. */
typedef struct {
    PyObject_HEAD
    char prefix[16];
    unsigned long long next;
    vectorcallfunc vectorcall;
} CheckIds;

static PyObject *
ids_next(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) != 0 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "a check id maker takes no arguments");
        return NULL;
    }
    CheckIds *self = (CheckIds *)callable;
    PyObject *id = PyUnicode_New(32, 127);
    if (id == NULL) {
        return NULL;
    }
    char *text = (char *)PyUnicode_1BYTE_DATA(id);
    memcpy(text, self->prefix, 16);
    unsigned long long n = self->next++;
    for (int i = 31; i >= 16; i--, n >>= 4) {
        text[i] = "0123456789abcdef"[n & 15];
    }
    return id;
}

static PyObject *
ids_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"prefix", "start", NULL};
    PyObject *prefix;
    unsigned long long start = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "U|K:CheckIds", names, &prefix, &start)) {
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(prefix) || PyUnicode_GET_LENGTH(prefix) != 16) {
        PyErr_SetString(PyExc_ValueError, "CheckIds(): the prefix is 16 ASCII characters");
        return NULL;
    }
    CheckIds *self = PyObject_New(CheckIds, type);
    if (self != NULL) {
        memcpy(self->prefix, PyUnicode_1BYTE_DATA(prefix), 16);
        self->next = start;
        self->vectorcall = ids_next;
    }
    return (PyObject *)self;
}

static PyTypeObject CheckIdsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "joint_sanctions._speedups.CheckIds",
    .tp_basicsize = sizeof(CheckIds),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "CheckIds(prefix, start=1): prefix + the next number as 16 hex digits, per call.",
    .tp_new = ids_new,
    .tp_dealloc = (destructor)PyObject_Free,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(CheckIds, vectorcall),
};

/* --- setup -------------------------------------------------------------------------------------- */

static PyObject *
setup_models(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyType_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "setup_models(BaseModel, set_dict, set_fields_set, set_extra, set_private)");
        return NULL;
    }
    for (int i = 1; i < 5; i++) {
        if (Py_TYPE(args[i])->tp_descr_set == NULL) {
            PyErr_SetString(PyExc_TypeError, "setup_models(): arguments 2-5 must be slot descriptors");
            return NULL;
        }
    }
    PyObject **slots[5] = {&MODEL_BASE, &SET_DICT, &SET_FIELDS, &SET_EXTRA, &SET_PRIVATE};
    for (int i = 0; i < 5; i++) {
        Py_XSETREF(*slots[i], Py_NewRef(args[i]));
    }
    for (int i = 0; i < 3; i++) { /* the object slots a member descriptor writes (T_OBJECT_EX, writable) */
        PyObject *descriptor = args[i + 2];
        PyMemberDef *member = Py_IS_TYPE(descriptor, &PyMemberDescr_Type)
                                  ? ((PyMemberDescrObject *)descriptor)->d_member : NULL;
        SLOT_AT[i] = member != NULL && member->type == T_OBJECT_EX && !(member->flags & READONLY)
                             && PyType_IsSubtype((PyTypeObject *)args[0], PyDescr_TYPE(descriptor))
                         ? member->offset : -1;
    }
    Py_RETURN_NONE;
}

static PyObject *
setup_clear(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyType_Check(args[0]) || !PyType_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "setup_clear(CheckResult, SubjectRef, result_fields, ref_fields, mask_parsed, mask_text)");
        return NULL;
    }
    PyObject **slots[6] = {&RESULT_CLS, &REF_CLS, &RESULT_FIELDS, &REF_FIELDS, &MASK_PARSED, &MASK_TEXT};
    for (int i = 0; i < 6; i++) {
        Py_XSETREF(*slots[i], Py_NewRef(args[i]));
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"uscc", (PyCFunction)uscc, METH_O, "(text, 'uscc') for an upper-case USCC, else None."},
    {"model", (PyCFunction)(void (*)(void))model, METH_FASTCALL, "A model built without validation."},
    {"applied", (PyCFunction)(void (*)(void))applied, METH_FASTCALL, "Assembly's applied measures."},
    {"clear", (PyCFunction)(void (*)(void))clear, METH_FASTCALL, "ClearResults.build, compiled."},
    {"clear_many", (PyCFunction)(void (*)(void))clear_many, METH_FASTCALL, "clear() of many bare ids."},
    {"bare_usccs", (PyCFunction)(void (*)(void))bare_usccs, METH_FASTCALL, "check_many's unlisted USCCs."},
    {"triage_plain", (PyCFunction)(void (*)(void))triage_plain, METH_FASTCALL, "triage's clear answer, compiled."},
    {"setup_models", (PyCFunction)(void (*)(void))setup_models, METH_FASTCALL, "BaseModel and its slots."},
    {"setup_clear", (PyCFunction)(void (*)(void))setup_clear, METH_FASTCALL, "What clear() uses."},
    {"setup_lane", (PyCFunction)(void (*)(void))setup_lane, METH_VARARGS | METH_KEYWORDS, "What the lane uses."},
    {"utc", (PyCFunction)utc, METH_O, "datetime.fromtimestamp(t, UTC), as the lane computes it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups = {PyModuleDef_HEAD_INIT, "joint_sanctions._speedups",
                                      "Compiled twins of the check path's steps (see _accel.py).", -1, methods,
                                      NULL, NULL, NULL, NULL};

static PyObject *
intern(const char *text)
{
    return PyUnicode_InternFromString(text);
}

PyMODINIT_FUNC
PyInit__speedups(void)
{
    memset(USCC_VALUE, -1, sizeof USCC_VALUE);
    for (int i = 0; USCC_ALPHABET[i]; i++) {
        USCC_VALUE[(unsigned char)USCC_ALPHABET[i]] = (signed char)i;
    }
    if ((KIND_USCC = intern("uscc")) == NULL
        || (EMPTY_STR = intern("")) == NULL
        || (S_RECORD_IDS = intern("record_ids")) == NULL || (S_VIA = intern("via_related_party")) == NULL
        || (S_CHECK_ID = intern("check_id")) == NULL || (S_CHECKED_AT = intern("checked_at")) == NULL
        || (S_SUBJECT = intern("subject")) == NULL || (S_MATTER_TYPE = intern("matter_type")) == NULL
        || (S_MATTER = intern("matter")) == NULL || (S_ID = intern("id")) == NULL
        || (S_ID_KIND = intern("id_kind")) == NULL || (S_NAME = intern("name")) == NULL
        || (S_SUBJECT_TYPE = intern("subject_type")) == NULL || (S_TEMPLATE = intern("_template")) == NULL
        || (S_NEW_ID = intern("_new_id")) == NULL || (S_REBUILT = intern("_rebuilt")) == NULL
        || (T_GOVERNMENT = intern("government_body")) == NULL
        || (T_INDIVIDUAL = intern("individual_business")) == NULL || (T_LEGAL = intern("legal_person")) == NULL
        || (T_NATURAL = intern("natural_person")) == NULL) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups);
    if (module != NULL && (!lane_init(module) || !membership_init(module) || !hit_init(module) || !rows_init(module)
                           || !csv_rows_init(module)
                           || PyType_Ready(&CheckIdsType) < 0
                           || PyModule_AddObjectRef(module, "CheckIds", (PyObject *)&CheckIdsType) < 0)) {
        Py_CLEAR(module);
    }
    return module;
}
