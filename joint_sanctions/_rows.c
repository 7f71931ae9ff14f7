/* A stored row as a CreditRecord, compiled: the usual path of SqlStoreBase._record (its twin), for a row
 * every value of which the engine knows (no ban, no region). A row that needs anything else, or that
 * _base.stored_record would refuse, is left to the twin (None), which judges it and says why; so a record
 * built here equals the twin's and no row the twin refuses is built (tests/test_accel.py). */
#include "_speedups.h"

#include <datetime.h>

#define N_FIELDS 17

static PyObject *RECORD_CLS, *RECORD_FIELD_SET, *FIELD_NAMES; /* CreditRecord, its fields set, FIELDS */
static PyObject *LIST_TYPES, *SUBJECT_TYPES, *STATUSES;       /* the vocabularies (frozensets) */
static PyObject *FROM_ISO, *DAYS;                             /* date.fromisoformat; days read, by text */
static PyObject *EMPTY_TUPLE;
static int I_RECORD_ID, I_LIST_TYPE, I_SUBJECT_TYPE, I_STATUS, I_LISTED_ON, I_EXPIRES_ON, I_ENDED_ON, I_REGION;
static int I_RECTIFY_BY, I_BAN_MATTERS, I_BAN_ITEMS, I_BAN_UNTIL;
static int I_TEXTS[5], I_SUBJECT_ID;

#define MAX_DAYS 100000 /* days kept: a few thousand listing and expiry dates in practice */

/* A stored day as a date (new), Py_None (new) for one that is none, or NULL without an error for a value
   the twin would refuse or read otherwise (text when the dialect passes dates as they are). */
static PyObject *
day_of(PyObject *value, int text_days)
{
    if (value == Py_None) {
        return Py_NewRef(Py_None);
    }
    if (PyDate_CheckExact(value)) {
        return Py_NewRef(value);
    }
    if (!text_days || !PyUnicode_CheckExact(value)) {
        return NULL;
    }
    PyObject *day = PyDict_GetItemWithError(DAYS, value);
    if (day != NULL) {
        return Py_NewRef(day);
    }
    if (PyErr_Occurred() || (day = PyObject_CallOneArg(FROM_ISO, value)) == NULL) {
        PyErr_Clear(); /* not a date: the twin keeps the text, and refuses it */
        return NULL;
    }
    if (PyDict_GET_SIZE(DAYS) < MAX_DAYS && PyDict_SetItem(DAYS, value, day) < 0) {
        PyErr_Clear();
    }
    return day;
}

static int
known(PyObject *vocabulary, PyObject *value)
{
    return PyUnicode_CheckExact(value) && PySet_Contains(vocabulary, value) == 1;
}

/* 1 when `row`'s plain values are all the engine knows (the checks of _base._problem that a row without
   a ban or region meets), 0 when the twin must judge it, -1 on error. */
static int
plain(PyObject *row)
{
    PyObject *id = PyTuple_GET_ITEM(row, I_RECORD_ID), *type = PyTuple_GET_ITEM(row, I_SUBJECT_TYPE);
    if (!PyUnicode_CheckExact(id) || PyUnicode_GET_LENGTH(id) == 0
        || !known(LIST_TYPES, PyTuple_GET_ITEM(row, I_LIST_TYPE))
        || (type != Py_None && !known(SUBJECT_TYPES, type)) || !known(STATUSES, PyTuple_GET_ITEM(row, I_STATUS))
        || PyTuple_GET_ITEM(row, I_REGION) != Py_None || PyTuple_GET_ITEM(row, I_BAN_UNTIL) != Py_None) {
        return 0;
    }
    for (int t = 0; t < 5; t++) {
        PyObject *text = PyTuple_GET_ITEM(row, I_TEXTS[t]);
        if (!PyUnicode_CheckExact(text) || (I_TEXTS[t] == I_SUBJECT_ID && PyUnicode_GET_LENGTH(text) == 0)) {
            return 0;
        }
    }
    PyObject *bans[2] = {PyTuple_GET_ITEM(row, I_BAN_MATTERS), PyTuple_GET_ITEM(row, I_BAN_ITEMS)};
    for (int b = 0; b < 2; b++) {
        if (!PyUnicode_CheckExact(bans[b]) || PyUnicode_GET_LENGTH(bans[b]) != 0) {
            return 0;
        }
    }
    return 1;
}

/* stored_row(row, text_days): the record of a plain row, or None for the twin to judge. */
static PyObject *
stored_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (RECORD_CLS == NULL || !ready(0)) {
        if (RECORD_CLS == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "joint_sanctions._speedups: setup_rows() first");
        }
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "stored_row(row, text_days)");
        return NULL;
    }
    PyObject *row = args[0];
    int text_days = PyObject_IsTrue(args[1]), ok;
    if (text_days < 0) {
        return NULL;
    }
    if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != N_FIELDS || (ok = plain(row)) == 0) {
        Py_RETURN_NONE;
    }
    if (ok < 0) {
        return NULL;
    }
    PyObject *values = PyDict_New();
    if (values == NULL) {
        return NULL;
    }
    PyObject *listed_on = NULL;
    for (int i = 0; i < N_FIELDS; i++) {
        PyObject *v = PyTuple_GET_ITEM(row, i), *kept;
        if (i == I_LISTED_ON || i == I_EXPIRES_ON || i == I_ENDED_ON || i == I_RECTIFY_BY || i == I_BAN_UNTIL) {
            kept = day_of(v, text_days);
            if (kept == NULL || (i == I_LISTED_ON && kept == Py_None)) {
                Py_XDECREF(kept);
                goto twin;
            }
            if (i == I_LISTED_ON) {
                listed_on = kept;
            } else if (i == I_EXPIRES_ON && kept != Py_None) {
                int after = listed_on != NULL ? PyObject_RichCompareBool(kept, listed_on, Py_GT) : 0;
                if (after <= 0) {
                    Py_DECREF(kept);
                    if (after < 0) {
                        PyErr_Clear();
                    }
                    goto twin;
                }
            }
        } else if (i == I_BAN_MATTERS || i == I_BAN_ITEMS) {
            kept = Py_NewRef(EMPTY_TUPLE);
        } else {
            kept = Py_NewRef(v);
        }
        int failed = PyDict_SetItem(values, PyTuple_GET_ITEM(FIELD_NAMES, i), kept);
        Py_DECREF(kept);
        if (failed < 0) {
            Py_DECREF(values);
            return NULL;
        }
    }
    return trusted(RECORD_CLS, values, RECORD_FIELD_SET);
twin:
    Py_DECREF(values);
    Py_RETURN_NONE;
}

static int
index_of(PyObject *names, const char *name)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(names, i), name) == 0) {
            return (int)i;
        }
    }
    PyErr_Format(PyExc_ValueError, "setup_rows: no field %s", name);
    return -1;
}

/* setup_rows(cls, fields, fields_set, list_types, subject_types, statuses): CreditRecord, its fields in
   the order of a stored row, its fields set, and the vocabularies a stored value must be in. */
static PyObject *
setup_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyType_Check(args[0]) || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) != N_FIELDS
        || !PyFrozenSet_Check(args[3]) || !PyFrozenSet_Check(args[4]) || !PyFrozenSet_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "setup_rows(cls, fields, fields_set, list_types, subject_types, "
                                         "statuses): 17 fields, three frozensets");
        return NULL;
    }
    PyObject *names = args[1];
    int *slots[] = {&I_RECORD_ID, &I_LIST_TYPE, &I_SUBJECT_TYPE, &I_STATUS, &I_LISTED_ON, &I_EXPIRES_ON,
                    &I_ENDED_ON, &I_REGION, &I_RECTIFY_BY, &I_BAN_MATTERS, &I_BAN_ITEMS, &I_BAN_UNTIL,
                    &I_TEXTS[0], &I_TEXTS[1], &I_TEXTS[2], &I_TEXTS[3], &I_TEXTS[4]};
    const char *spelt[] = {"record_id", "list_type", "subject_type", "status", "listed_on", "expires_on",
                           "ended_on", "region_code", "rectify_by", "ban_matter_types", "ban_item_codes",
                           "ban_until", "subject_id", "subject_name", "authority", "document_no", "reason"};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if ((*slots[i] = index_of(names, spelt[i])) < 0) {
            return NULL;
        }
    }
    I_SUBJECT_ID = I_TEXTS[0];
    PyObject *date_type = (PyObject *)PyDateTimeAPI->DateType;
    PyObject *from_iso = PyObject_GetAttrString(date_type, "fromisoformat");
    if (from_iso == NULL) {
        return NULL;
    }
    Py_XSETREF(FROM_ISO, from_iso);
    Py_XSETREF(RECORD_CLS, Py_NewRef(args[0]));
    Py_XSETREF(FIELD_NAMES, Py_NewRef(names));
    Py_XSETREF(RECORD_FIELD_SET, Py_NewRef(args[2]));
    Py_XSETREF(LIST_TYPES, Py_NewRef(args[3]));
    Py_XSETREF(SUBJECT_TYPES, Py_NewRef(args[4]));
    Py_XSETREF(STATUSES, Py_NewRef(args[5]));
    Py_RETURN_NONE;
}

static PyMethodDef rows_methods[] = {
    {"stored_row", (PyCFunction)(void (*)(void))stored_row, METH_FASTCALL, "A plain stored row's record."},
    {"setup_rows", (PyCFunction)(void (*)(void))setup_rows, METH_FASTCALL, "What stored_row uses."},
    {NULL, NULL, 0, NULL},
};

int
rows_init(PyObject *module)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL || (DAYS = PyDict_New()) == NULL || (EMPTY_TUPLE = PyTuple_New(0)) == NULL) {
        return 0;
    }
    return PyModule_AddFunctions(module, rows_methods) == 0;
}
