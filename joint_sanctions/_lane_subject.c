/* The check lane's reading of a subject (_lane.c): a bare upper-case USCC, or a mapping of plain text
 * read as joint_sanctions._inputs._read_plain reads it, whose ids the membership test then asks about;
 * and of the matter's amount. Part of the compiled module joint_sanctions._speedups (_speedups.h). */
#include "_speedups.h"

static PyObject *PARSE_ID;              /* _inputs._parse_id */
static PyObject *SUBJECT_TYPES, *ROLES; /* the subject types a mapping may give (not region), the roles */
static PyObject *S_ID, *S_NAME, *S_SUBJECT_TYPE, *S_RELATED_PARTIES, *S_ROLE, *S_AMOUNT_KEY;
static PyObject *MATTER_CLS, *MATTER_FIELDS; /* Matter and its shared fields set */
static double AMOUNT_MAX;

/* A name as _read_plain takes it: text without NUL. */
static int
plain_text(PyObject *text)
{
    return PyUnicode_CheckExact(text) && PyUnicode_FindChar(text, 0, 0, PyUnicode_GET_LENGTH(text), 1) == -1;
}

/* A related party's id normalised as _inputs._parse_id normalises it (new reference); NULL with no error
   set when it is not an id (check's own path then says so), NULL with an error set on failure. */
static PyObject *
party_id(PyObject *given)
{
    if (is_uscc(given)) {
        return Py_NewRef(given);
    }
    PyObject *parsed = PyObject_CallOneArg(PARSE_ID, given), *id = NULL;
    if (parsed == NULL) {
        if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyErr_Clear();
        }
        return NULL;
    }
    if (PyTuple_CheckExact(parsed) && PyTuple_GET_SIZE(parsed) == 2) {
        id = Py_NewRef(PyTuple_GET_ITEM(parsed, 0));
    }
    Py_DECREF(parsed);
    return id;
}

/* The related parties of a mapping subject, as _read_plain reads them: 1, 0 to leave, -1 on error. */
static int
read_parties(Held *held, PyObject *given, Reading *r)
{
    if (given == NULL || given == Py_None) {
        return 1;
    }
    if (!PyList_CheckExact(given) && !PyTuple_CheckExact(given)) {
        return 0;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(given);
    if (n > MAX_PARTIES) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *party = PySequence_Fast_GET_ITEM(given, i), *key, *value, *role = NULL, *id = NULL;
        PyObject *name = EMPTY_STR;
        Py_ssize_t pos = 0;
        if (!PyDict_CheckExact(party)) {
            return 0;
        }
        while (PyDict_Next(party, &pos, &key, &value)) {
            if (!PyUnicode_CheckExact(key)) {
                return 0;
            }
            if (named(key, S_ROLE)) {
                role = value;
            } else if (named(key, S_ID)) {
                id = value;
            } else if (named(key, S_NAME)) {
                name = value;
            } else {
                return 0;
            }
        }
        if (role == NULL || !PyUnicode_CheckExact(role) || id == NULL || !PyUnicode_CheckExact(id) || !plain_text(name)) {
            return 0;
        }
        int known = PySet_Contains(ROLES, role);
        if (known <= 0) {
            return known;
        }
        PyObject *parsed = hold(held, party_id(id));
        if (parsed == NULL) {
            return PyErr_Occurred() ? -1 : 0;
        }
        r->parties[r->n++] = parsed;
    }
    return 1;
}

/* The subject of a check as the lane takes it: a bare upper-case USCC, or a dict of plain text whose id
   is one (with a name, a subject type but a region, up to MAX_PARTIES related parties), which
   _read_plain reads alike. 1 (read), 0 (leave it to check's own path, which judges it), -1 (error). */
int
read_subject(Held *held, PyObject *subject, Reading *r)
{
    r->id = subject;
    r->name = EMPTY_STR;
    r->type = Py_None;
    r->n = 0;
    if (!PyDict_CheckExact(subject)) {
        return is_uscc(subject);
    }
    PyObject *key, *value, *parties = NULL;
    Py_ssize_t pos = 0;
    r->id = NULL;
    while (PyDict_Next(subject, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) {
            return 0;
        }
        if (named(key, S_ID)) {
            r->id = value;
        } else if (named(key, S_NAME)) {
            r->name = value;
        } else if (named(key, S_SUBJECT_TYPE)) {
            r->type = value;
        } else if (named(key, S_RELATED_PARTIES)) {
            parties = value;
        } else {
            return 0;
        }
    }
    if (r->id == NULL || !is_uscc(r->id) || !plain_text(r->name)
        || (r->type != Py_None && !PyUnicode_CheckExact(r->type))) {
        return 0;
    }
    int known = r->type == Py_None ? 1 : PySet_Contains(SUBJECT_TYPES, r->type);
    if (known <= 0) {
        return known;
    }
    /* Held: the check runs Python code (ids, clocks) while the caller's dict could change meanwhile. */
    if (hold(held, Py_NewRef(r->id)) == NULL || hold(held, Py_NewRef(r->name)) == NULL
        || hold(held, Py_NewRef(r->type)) == NULL) {
        return -1;
    }
    return read_parties(held, parties, r);
}

/* triage_plain(subject, hashes): _inputs.triage's clear answer, (id, "uscc", name, subject type), for a
   subject read_subject reads (an upper-case USCC, or a plain mapping whose id is one) when no id it names
   is in `hashes`; None for any other subject, or one who may be listed, which triage then judges. */
PyObject *
triage_plain(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !is_membership(args[1])) {
        PyErr_SetString(PyExc_TypeError, "triage_plain(subject, hashes): hashes a Membership or a set");
        return NULL;
    }
    if (PARSE_ID == NULL) { /* before setup_lane(): triage judges */
        Py_RETURN_NONE;
    }
    Held held = {.n = 0};
    Reading read;
    PyObject *out = NULL;
    int found = read_subject(&held, args[0], &read);
    if (found == 0) {
        out = Py_NewRef(Py_None);
    } else if (found > 0) {
        found = hash_listed(read.id, args[1]);
        for (int i = 0; found == 0 && i < read.n; i++) {
            found = hash_listed(read.parties[i], args[1]);
        }
        out = found < 0 ? NULL : found ? Py_NewRef(Py_None) : PyTuple_Pack(4, read.id, KIND_USCC, read.name, read.type);
    }
    release(&held);
    return out;
}

/* The Matter of this check: the engine's cached one, or a copy of it with `amount` (float). */
PyObject *
lane_matter(PyObject *cached, PyObject *amount)
{
    if (amount == NULL) {
        return Py_NewRef(cached);
    }
    PyObject *own = PyObject_GenericGetDict(cached, NULL);
    if (own == NULL) {
        return NULL;
    }
    PyObject *values = PyDict_Copy(own);
    Py_DECREF(own);
    if (values == NULL || PyDict_SetItem(values, S_AMOUNT_KEY, amount) < 0) {
        Py_XDECREF(values);
        return NULL;
    }
    return trusted(MATTER_CLS, values, MATTER_FIELDS);
}

/* The amount as _matter takes it without its general path: a new float, or NULL (the lane must leave
   this call, or an error is set). */
PyObject *
lane_amount(PyObject *amount)
{
    if (PyFloat_CheckExact(amount)) {
        double v = PyFloat_AS_DOUBLE(amount);
        return v >= 0 && v <= AMOUNT_MAX ? Py_NewRef(amount) : NULL; /* NaN fails both */
    }
    if (PyLong_CheckExact(amount)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(amount, &overflow);
        /* Exact: any int up to AMOUNT_MAX (1e15) is below 2**53. */
        return v == -1 && PyErr_Occurred() ? NULL
               : !overflow && v >= 0 && (double)v <= AMOUNT_MAX ? PyFloat_FromDouble((double)v) : NULL;
    }
    return NULL;
}

void
subject_setup(PyObject *parse_id, PyObject *subject_types, PyObject *roles, PyObject *matter, PyObject *matter_fields,
              double amount_max)
{
    Py_XSETREF(PARSE_ID, Py_NewRef(parse_id));
    Py_XSETREF(SUBJECT_TYPES, Py_NewRef(subject_types));
    Py_XSETREF(ROLES, Py_NewRef(roles));
    Py_XSETREF(MATTER_CLS, Py_NewRef(matter));
    Py_XSETREF(MATTER_FIELDS, Py_NewRef(matter_fields));
    AMOUNT_MAX = amount_max;
}

int
subject_names(void)
{
    return (S_ID = PyUnicode_InternFromString("id")) != NULL && (S_NAME = PyUnicode_InternFromString("name")) != NULL
           && (S_SUBJECT_TYPE = PyUnicode_InternFromString("subject_type")) != NULL
           && (S_RELATED_PARTIES = PyUnicode_InternFromString("related_parties")) != NULL
           && (S_ROLE = PyUnicode_InternFromString("role")) != NULL
           && (S_AMOUNT_KEY = PyUnicode_InternFromString("amount")) != NULL;
}
