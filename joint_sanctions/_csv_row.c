/* A CSV import row as a CreditRecord, compiled: the usual path of _records._read_csv's loop, _row and
 * _plain_record (their twin) for a row of known columns without a ban, region or deadline whose every value
 * is well formed. Any other row (blank, short, long, a field past 1 MiB, a missing or bad value, a ban)
 * is left to the twin (None), which reads it and says what is wrong; so a record built here equals the
 * twin's and no row the twin refuses is built (tests/test_accel.py). */
#include "_speedups.h"

#include <datetime.h>

enum { RECORD_ID, LIST_TYPE, SUBJECT_ID, SUBJECT_NAME, SUBJECT_TYPE, AUTHORITY, DOCUMENT_NO, LISTED_ON, EXPIRES_ON,
       STATUS, REASON, N_COLUMNS };

static PyObject *COLUMN_NAMES;          /* _records.COLUMNS, in the order of the enum above */
static PyObject *BY_NAME;               /* _records._BY_NAME: column → {Chinese name: id} */
static PyObject *SEEN_DATES, *FROM_ISO; /* _records._SEEN_DATES; date.fromisoformat */
static PyObject *LISTS, *SUBJECTS, *STATUS_IDS, *PARSE_ID, *KIND_MISMATCH, *RECORD, *RECORD_FIELDS, *ACTIVE, *NO_ITEMS;
static PyObject *DICT_KEYS[17];         /* the record's dict keys in the model's field order */
static Py_ssize_t FIELD_MAX;

#define SEEN_MAX 100000

/* `cell` stripped as str.strip() strips it (a new reference). */
static PyObject *
stripped(PyObject *cell)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(cell), start = 0, end = n;
    int kind = PyUnicode_KIND(cell);
    const void *data = PyUnicode_DATA(cell);
    while (start < end && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, start))) {
        start++;
    }
    while (end > start && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, end - 1))) {
        end--;
    }
    return start == 0 && end == n ? Py_NewRef(cell) : PyUnicode_Substring(cell, start, end);
}

/* A date cell (YYYY-MM-DD) as _records._parse_date reads it (new), or NULL without an error for the twin. */
static PyObject *
date_cell(PyObject *text)
{
    PyObject *day = PyDict_GetItemWithError(SEEN_DATES, text);
    if (day != NULL) {
        return Py_NewRef(day);
    }
    if (PyErr_Occurred() || PyUnicode_GET_LENGTH(text) != 10 || !PyUnicode_IS_ASCII(text)
        || PyUnicode_READ_CHAR(text, 4) != '-' || PyUnicode_READ_CHAR(text, 7) != '-') {
        PyErr_Clear();
        return NULL; /* the other forms (2024/1/5): the twin's */
    }
    if ((day = PyObject_CallOneArg(FROM_ISO, text)) == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (PyDict_GET_SIZE(SEEN_DATES) < SEEN_MAX && PyDict_SetItem(SEEN_DATES, text, day) < 0) {
        PyErr_Clear();
    }
    return day;
}

/* The column of each place of the header (-1: not one the plain path reads), for the last header seen. */
static PyObject *last_columns;
static int places[N_COLUMNS + 8];

static int
plan(PyObject *columns)
{
    if (columns == last_columns) {
        return 1;
    }
    Py_ssize_t n = PyList_GET_SIZE(columns);
    if (n > (Py_ssize_t)(sizeof places / sizeof places[0])) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        places[i] = -1;
        for (int c = 0; c < N_COLUMNS; c++) {
            if (PyUnicode_Compare(PyList_GET_ITEM(columns, i), PyTuple_GET_ITEM(COLUMN_NAMES, c)) == 0) {
                places[i] = c;
            }
        }
    }
    Py_XSETREF(last_columns, Py_NewRef(columns));
    return 1;
}

/* The values of a row by column (new references, NULL where empty); 1, or 0 for the twin. */
static int
read_cells(PyObject *cells, PyObject *columns, PyObject *values[N_COLUMNS])
{
    int any = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(cells); i++) {
        PyObject *cell = PyList_GET_ITEM(cells, i), *value;
        if (!PyUnicode_CheckExact(cell) || PyUnicode_GET_LENGTH(cell) > FIELD_MAX) {
            return 0;
        }
        if ((value = stripped(cell)) == NULL) {
            PyErr_Clear();
            return 0;
        }
        if (PyUnicode_GET_LENGTH(value) == 0) {
            Py_DECREF(value);
            continue;
        }
        any = 1;
        if (places[i] < 0) { /* a ban, region or deadline: the model judges those */
            Py_DECREF(value);
            return 0;
        }
        PyObject *names = PyDict_GetItemWithError(BY_NAME, PyList_GET_ITEM(columns, i));
        PyObject *id = names == NULL ? NULL : PyDict_GetItemWithError(names, value);
        if (id != NULL) {
            Py_SETREF(value, Py_NewRef(id));
        }
        PyErr_Clear();
        values[places[i]] = value;
    }
    return any;
}

/* plain_csv_row(cells, columns): the record of a plain row (cells as csv.reader gives them, columns the
   header's names), or None for the twin to read. */
static PyObject *
plain_csv_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (RECORD == NULL || !ready(0)) {
        if (RECORD == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "joint_sanctions._speedups: setup_csv_rows() first");
        }
        return NULL;
    }
    if (nargs != 2 || !PyList_CheckExact(args[0]) || !PyList_CheckExact(args[1])
        || PyList_GET_SIZE(args[0]) != PyList_GET_SIZE(args[1]) || !plan(args[1])) {
        Py_RETURN_NONE;
    }
    PyObject *v[N_COLUMNS] = {NULL}, *listed_on = NULL, *expires_on = NULL, *parsed = NULL, *out = Py_None;
    if (!read_cells(args[0], args[1], v) || !v[RECORD_ID] || !v[LIST_TYPE] || !v[SUBJECT_ID] || !v[LISTED_ON]
        || PySet_Contains(LISTS, v[LIST_TYPE]) != 1
        || (v[SUBJECT_TYPE] && PySet_Contains(SUBJECTS, v[SUBJECT_TYPE]) != 1)
        || (v[STATUS] && PySet_Contains(STATUS_IDS, v[STATUS]) != 1) || (listed_on = date_cell(v[LISTED_ON])) == NULL
        || (v[EXPIRES_ON] && (expires_on = date_cell(v[EXPIRES_ON])) == NULL)) {
        goto done;
    }
    if (expires_on != NULL && PyObject_RichCompareBool(expires_on, listed_on, Py_GT) != 1) {
        goto done;
    }
    if ((parsed = is_uscc(v[SUBJECT_ID]) ? PyTuple_Pack(2, v[SUBJECT_ID], KIND_USCC)
                                         : PyObject_CallOneArg(PARSE_ID, v[SUBJECT_ID])) == NULL) {
        goto done; /* IdentifierError: the twin says why */
    }
    if (v[SUBJECT_TYPE] != NULL) {
        PyObject *why = PyObject_CallFunctionObjArgs(KIND_MISMATCH, PyTuple_GET_ITEM(parsed, 1), v[SUBJECT_TYPE], NULL);
        int mismatch = why == NULL || why != Py_None;
        Py_XDECREF(why);
        if (mismatch) {
            goto done;
        }
    }
    PyObject *given[17] = {v[RECORD_ID], v[LIST_TYPE], PyTuple_GET_ITEM(parsed, 0), v[SUBJECT_NAME], v[SUBJECT_TYPE],
                           v[AUTHORITY], v[DOCUMENT_NO], listed_on, expires_on, v[STATUS], v[REASON]};
    PyObject *fields = PyDict_New();
    for (int f = 0; fields != NULL && f < 17; f++) {
        PyObject *value = given[f];
        if (value == NULL) { /* the model's defaults: '' text, 'active', no ban lists, else None */
            value = f == 3 || f == 5 || f == 6 || f == 10 ? EMPTY_STR : f == 9 ? ACTIVE
                    : f == 13 || f == 14 ? NO_ITEMS : Py_None;
        }
        if (PyDict_SetItem(fields, DICT_KEYS[f], value) < 0) {
            Py_CLEAR(fields);
        }
    }
    out = fields == NULL ? NULL : trusted(RECORD, fields, RECORD_FIELDS);
done:
    if (out == NULL || out == Py_None) { /* anything unexpected, a MemoryError too: the twin reads it again */
        PyErr_Clear();
        out = Py_NewRef(Py_None);
    }
    for (int c = 0; c < N_COLUMNS; c++) {
        Py_XDECREF(v[c]);
    }
    Py_XDECREF(listed_on);
    Py_XDECREF(expires_on);
    Py_XDECREF(parsed);
    return out;
}

/* setup_csv_rows(columns, by_name, seen_dates, vocabularies, parse_identifier, kind_mismatch, cls, fields,
   fields_set, field_max): _records.COLUMNS, _BY_NAME and _SEEN_DATES, (list types, subject types, statuses)
   as frozensets, the id parser and kind_mismatch, CreditRecord with its fields and fields set, FIELD_MAX. */
static PyObject *
setup_csv_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 10 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != N_COLUMNS || !PyDict_Check(args[1])
        || !PyDict_Check(args[2]) || !PyTuple_Check(args[3]) || PyTuple_GET_SIZE(args[3]) != 3
        || !PyTuple_Check(args[7]) || PyTuple_GET_SIZE(args[7]) != 17) {
        PyErr_SetString(PyExc_TypeError, "setup_csv_rows(columns, by_name, seen_dates, (list types, subject types, "
                                         "statuses), parse_identifier, kind_mismatch, cls, fields, fields_set, max)");
        return NULL;
    }
    Py_ssize_t field_max = PyLong_AsSsize_t(args[9]);
    PyObject *from_iso = PyObject_GetAttrString((PyObject *)PyDateTimeAPI->DateType, "fromisoformat");
    if (field_max < 0 || from_iso == NULL) {
        Py_XDECREF(from_iso);
        return NULL;
    }
    FIELD_MAX = field_max;
    Py_XSETREF(FROM_ISO, from_iso);
    Py_XSETREF(COLUMN_NAMES, Py_NewRef(args[0]));
    Py_XSETREF(BY_NAME, Py_NewRef(args[1]));
    Py_XSETREF(SEEN_DATES, Py_NewRef(args[2]));
    Py_XSETREF(LISTS, Py_NewRef(PyTuple_GET_ITEM(args[3], 0)));
    Py_XSETREF(SUBJECTS, Py_NewRef(PyTuple_GET_ITEM(args[3], 1)));
    Py_XSETREF(STATUS_IDS, Py_NewRef(PyTuple_GET_ITEM(args[3], 2)));
    Py_XSETREF(PARSE_ID, Py_NewRef(args[4]));
    Py_XSETREF(KIND_MISMATCH, Py_NewRef(args[5]));
    Py_XSETREF(RECORD, Py_NewRef(args[6]));
    for (int f = 0; f < 17; f++) {
        Py_XSETREF(DICT_KEYS[f], Py_NewRef(PyTuple_GET_ITEM(args[7], f)));
    }
    Py_XSETREF(RECORD_FIELDS, Py_NewRef(args[8]));
    Py_CLEAR(last_columns);
    Py_RETURN_NONE;
}

static PyMethodDef csv_methods[] = {
    {"plain_csv_row", (PyCFunction)(void (*)(void))plain_csv_row, METH_FASTCALL, "A plain CSV row's record."},
    {"setup_csv_rows", (PyCFunction)(void (*)(void))setup_csv_rows, METH_FASTCALL, "What plain_csv_row uses."},
    {NULL, NULL, 0, NULL},
};

int
csv_rows_init(PyObject *module)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL || (ACTIVE = PyUnicode_InternFromString("active")) == NULL
        || (NO_ITEMS = PyTuple_New(0)) == NULL) {
        return 0;
    }
    return PyModule_AddFunctions(module, csv_methods) == 0;
}
