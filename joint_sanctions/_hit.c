/* A hit's facts and the firing memo's known answers, compiled: the twins of _results._facts' loop over
 * the records (hit_facts) and of FiringMemo.fire_grouped's usual path (known_answers, with
 * _memo.abstract). Both build exactly what their twins build; tests/test_accel.py holds them equal. */
#include "_speedups.h"

#include <math.h>

static PyObject *S_FACT_ID, *S_ROLE, *S_LIST_TYPE, *S_AUTHORITY, *S_DOCUMENT_NO, *S_REASON;
static PyObject *S_BANS_KEY, *S_OVERDUE_KEY, *S_SELF, *UTF8;
static PyObject *F_SUBJECT_ID, *F_RECORD_ID, *F_BAN_MATTERS, *F_BAN_ITEMS, *F_BAN_UNTIL, *F_RECTIFY_BY;
static PyObject *F_ROLE, *F_DICT, *F_LIST_TYPE, *F_AUTHORITY, *F_DOCUMENT_NO, *F_REASON;
static PyObject *ABSENT, *NONE_CLASS; /* _memo._ABSENT and _NONE */

/* --- the memo's abstraction ------------------------------------------------------------------------ */

/* Where `v` stands among the sorted constants `order`: bisect_left, and whether it equals the one there;
   -1 on error. */
static Py_ssize_t
place(PyObject *order, PyObject *v, int *on)
{
    Py_ssize_t lo = 0, hi = PyTuple_GET_SIZE(order);
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        int lt = PyObject_RichCompareBool(PyTuple_GET_ITEM(order, mid), v, Py_LT);
        if (lt < 0) {
            return -1;
        }
        if (lt) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *on = 0;
    if (lo < PyTuple_GET_SIZE(order)) {
        *on = PyObject_RichCompareBool(PyTuple_GET_ITEM(order, lo), v, Py_EQ);
        if (*on < 0) {
            return -1;
        }
    }
    return lo;
}

/* A lookup that raised TypeError (an unhashable value) means the fact bypasses the memo: 1; other
   errors stay set: -1. */
static int
unhashable(void)
{
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        return 1;
    }
    return -1;
}

/* _memo.abstract: the class of `fact` under `spec` (a new tuple), Py_None (new) to bypass, NULL on error. */
static PyObject *
abstract(PyObject *spec, PyObject *fact)
{
    Py_ssize_t n = PyTuple_GET_SIZE(spec);
    PyObject *out = PyTuple_New(n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *field = PyTuple_GET_ITEM(spec, k); /* (key, order, classes, values) */
        if (!PyTuple_Check(field) || PyTuple_GET_SIZE(field) != 4 || !PyDict_Check(PyTuple_GET_ITEM(field, 2))
            || !PyAnySet_Check(PyTuple_GET_ITEM(field, 3))
            || (PyTuple_GET_ITEM(field, 1) != Py_None && !PyTuple_Check(PyTuple_GET_ITEM(field, 1)))) {
            PyErr_SetString(PyExc_TypeError, "known_answers: an abstraction's field is (key, order, classes, values)");
            goto error;
        }
        PyObject *order = PyTuple_GET_ITEM(field, 1), *classes = PyTuple_GET_ITEM(field, 2);
        PyObject *v = PyDict_GetItemWithError(fact, PyTuple_GET_ITEM(field, 0)), *cls;
        if (v == NULL) {
            if (PyErr_Occurred()) {
                goto error;
            }
            cls = Py_NewRef(ABSENT);
        } else if (v == Py_None) {
            cls = Py_NewRef(NONE_CLASS);
        } else if (order != Py_None) {
            int is_float = PyFloat_CheckExact(v), on;
            if (!(PyLong_CheckExact(v) || (is_float && !isnan(PyFloat_AS_DOUBLE(v))))) {
                goto bypass;
            }
            Py_ssize_t i = place(order, v, &on);
            if (i < 0) {
                goto error;
            }
            cls = PyLong_FromSsize_t((2 * i + on) * 2 + is_float);
        } else {
            PyObject *typed = PyTuple_Pack(2, (PyObject *)Py_TYPE(v), v);
            if (typed == NULL) {
                goto error;
            }
            cls = PyDict_GetItemWithError(classes, typed);
            Py_DECREF(typed);
            if (cls == NULL) {
                int constant;
                if (PyErr_Occurred()) {
                    if (unhashable() > 0) {
                        goto bypass;
                    }
                    goto error;
                }
                constant = PySet_Contains(PyTuple_GET_ITEM(field, 3), v);
                if (constant < 0 && unhashable() > 0) {
                    goto bypass;
                }
                if (constant < 0) {
                    goto error;
                }
                if (constant) {
                    goto bypass; /* equal to a constant of another type: kept exact */
                }
                cls = Py_NewRef((PyObject *)Py_TYPE(v));
            } else {
                Py_INCREF(cls);
            }
        }
        if (cls == NULL) {
            goto error;
        }
        PyTuple_SET_ITEM(out, k, cls);
    }
    return out;
bypass:
    Py_DECREF(out);
    Py_RETURN_NONE;
error:
    Py_DECREF(out);
    return NULL;
}

/* known_answers(table, specs, matter_type, facts): (fact id, answer, list type) of each fact a measure
   may fire on, when the memo knows every one's class; None when any is not known or bypasses it. */
static PyObject *
known_answers(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (ABSENT == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "joint_sanctions._speedups: setup_memo() first");
        return NULL;
    }
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "known_answers(table, specs, matter_type, facts): table and specs are dicts");
        return NULL;
    }
    PyObject *table = args[0], *specs = args[1], *matter_type = args[2];
    PyObject *facts = PySequence_Fast(args[3], "known_answers: facts is a sequence");
    PyObject *found = facts == NULL ? NULL : PyList_New(0);
    if (found == NULL) {
        Py_XDECREF(facts);
        return NULL;
    }
    for (Py_ssize_t f = 0; f < PySequence_Fast_GET_SIZE(facts); f++) {
        PyObject *fact = PySequence_Fast_GET_ITEM(facts, f), *list_type, *fact_id, *rkey, *spec, *cls, *key, *answer;
        if (!PyDict_Check(fact)) {
            PyErr_SetString(PyExc_TypeError, "known_answers: a fact is a dict");
            goto error;
        }
        list_type = PyDict_GetItemWithError(fact, S_LIST_TYPE);
        fact_id = list_type == NULL ? NULL : PyDict_GetItemWithError(fact, S_FACT_ID);
        if (fact_id == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetObject(PyExc_KeyError, list_type == NULL ? S_LIST_TYPE : S_FACT_ID);
            }
            goto error;
        }
        rkey = PyTuple_Pack(2, list_type, matter_type);
        if (rkey == NULL) {
            goto error;
        }
        spec = PyDict_GetItemWithError(specs, rkey);
        if (spec == NULL) {
            Py_DECREF(rkey);
            if (PyErr_Occurred()) {
                goto error;
            }
            continue; /* no measure for this list and matter type: nothing can fire */
        }
        if (!PyTuple_Check(spec)) {
            Py_DECREF(rkey);
            PyErr_SetString(PyExc_TypeError, "known_answers: an abstraction is a tuple");
            goto error;
        }
        cls = abstract(spec, fact);
        if (cls == NULL || cls == Py_None) {
            Py_DECREF(rkey);
            Py_XDECREF(cls);
            if (cls == NULL) {
                goto error;
            }
            goto unknown;
        }
        key = PyTuple_Pack(2, rkey, cls);
        Py_DECREF(rkey);
        Py_DECREF(cls);
        if (key == NULL) {
            goto error;
        }
        answer = PyDict_GetItemWithError(table, key);
        Py_DECREF(key);
        if (answer == NULL) {
            if (PyErr_Occurred()) {
                goto error;
            }
            goto unknown;
        }
        PyObject *entry = PyTuple_Pack(3, fact_id, answer, list_type);
        if (entry == NULL || PyList_Append(found, entry) < 0) {
            Py_XDECREF(entry);
            goto error;
        }
        Py_DECREF(entry);
    }
    Py_DECREF(facts);
    return found;
unknown:
    Py_DECREF(facts);
    Py_DECREF(found);
    Py_RETURN_NONE;
error:
    Py_DECREF(facts);
    Py_DECREF(found);
    return NULL;
}

/* --- the facts ------------------------------------------------------------------------------------- */

/* 1 when `text` holds a lone surrogate (what _inputs._SURROGATE finds), 0 when not, -1 (TypeError) for
   anything but text, as the twin's concatenation raises. */
static int
has_surrogate(PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "hit_facts: a record's authority, document_no and reason are text");
        return -1;
    }
    int kind = PyUnicode_KIND(text);
    if (kind == PyUnicode_1BYTE_KIND) {
        return 0;
    }
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0, n = PyUnicode_GET_LENGTH(text); i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= 0xD800 && c <= 0xDFFF) {
            return 1;
        }
    }
    return 0;
}

/* A field of a record's dict (borrowed), KeyError when missing. */
static PyObject *
field(PyObject *values, PyObject *name)
{
    PyObject *v = PyDict_GetItemWithError(values, name);
    if (v == NULL && !PyErr_Occurred()) {
        PyErr_SetObject(PyExc_KeyError, name);
    }
    return v;
}

/* The ban and overdue flags of a record's fact: 0 or 1 each in *bans, *overdue; -1 on error. */
static int
flags(PyObject *values, PyObject *matter_type, PyObject *item_code, PyObject *day, int *bans, int *overdue)
{
    PyObject *matters = field(values, F_BAN_MATTERS), *items = matters ? field(values, F_BAN_ITEMS) : NULL;
    PyObject *until = items ? field(values, F_BAN_UNTIL) : NULL;
    PyObject *rectify_by = until ? field(values, F_RECTIFY_BY) : NULL;
    if (rectify_by == NULL) {
        return -1;
    }
    int any = PyObject_IsTrue(matters);
    if (any == 0) {
        any = PyObject_IsTrue(items);
    }
    if (any < 0) {
        return -1;
    }
    *bans = 0;
    if (any) {
        int covers = PySequence_Contains(matters, matter_type);
        if (covers == 0 && item_code != Py_None) {
            covers = PySequence_Contains(items, item_code);
        }
        if (covers > 0) {
            covers = until == Py_None ? 1 : PyObject_RichCompareBool(day, until, Py_LT);
        }
        if (covers < 0) {
            return -1;
        }
        *bans = covers;
    }
    *overdue = rectify_by == Py_None ? 0 : PyObject_RichCompareBool(rectify_by, day, Py_LT);
    return *overdue < 0 ? -1 : 0;
}

/* One fact: base's items, then the fact's own (as the twin's {**base, ...} makes it). */
static PyObject *
one_fact(PyObject *base, PyObject *fact_id, PyObject *role, PyObject *list_type, PyObject *const texts[3],
         int bans, int overdue)
{
    PyObject *fact = PyDict_Copy(base);
    if (fact == NULL || PyDict_SetItem(fact, S_FACT_ID, fact_id) < 0 || PyDict_SetItem(fact, S_ROLE, role) < 0
        || PyDict_SetItem(fact, S_LIST_TYPE, list_type) < 0 || PyDict_SetItem(fact, S_AUTHORITY, texts[0]) < 0
        || PyDict_SetItem(fact, S_DOCUMENT_NO, texts[1]) < 0 || PyDict_SetItem(fact, S_REASON, texts[2]) < 0
        || PyDict_SetItem(fact, S_BANS_KEY, bans ? Py_True : Py_False) < 0
        || PyDict_SetItem(fact, S_OVERDUE_KEY, overdue ? Py_True : Py_False) < 0) {
        Py_XDECREF(fact);
        return NULL;
    }
    return fact;
}

/* The facts of one record, appended to `facts` and `by_fact`; 0, or -1 on error. */
static int
record_facts(PyObject *record, PyObject *const *args, PyObject *facts, PyObject *by_fact)
{
    PyObject *base = args[0], *subject_id = args[1], *parties = args[2], *matter_type = args[4];
    PyObject *item_code = args[5], *day = args[6];
    PyObject *texts[3] = {NULL, NULL, NULL}, *roles[2], *party_role = NULL;
    int n_roles = 0, bans, overdue, surrogate = 0, status = -1;
    PyObject *values = PyObject_GetAttr(record, F_DICT);
    if (values == NULL) {
        return -1;
    }
    PyObject *own_id = field(values, F_SUBJECT_ID), *record_id = own_id ? field(values, F_RECORD_ID) : NULL;
    PyObject *list_type = record_id ? field(values, F_LIST_TYPE) : NULL;
    if (list_type == NULL || flags(values, matter_type, item_code, day, &bans, &overdue) < 0) {
        goto done;
    }
    int self = PyObject_RichCompareBool(own_id, subject_id, Py_EQ);
    if (self < 0) {
        goto done;
    }
    if (self) {
        roles[n_roles++] = S_SELF;
    }
    PyObject *party = PyDict_GetItemWithError(parties, own_id);
    if (party == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (party != NULL) {
        if ((party_role = PyObject_GetAttr(party, F_ROLE)) == NULL) {
            goto done;
        }
        roles[n_roles++] = party_role;
    }
    for (int t = 0; t < 3; t++) {
        texts[t] = field(values, t == 0 ? F_AUTHORITY : t == 1 ? F_DOCUMENT_NO : F_REASON);
        int found = texts[t] == NULL ? -1 : has_surrogate(texts[t]);
        if (found < 0) {
            texts[t] = NULL;
            for (int u = 0; u < t; u++) {
                Py_CLEAR(texts[u]);
            }
            goto done;
        }
        Py_INCREF(texts[t]);
        surrogate |= found;
    }
    if (surrogate) { /* rare: every text as durable_rules can take it, as the twin does */
        for (int t = 0; t < 3; t++) {
            PyObject *fixed = PyObject_CallOneArg(UTF8, texts[t]);
            if (fixed == NULL) {
                goto done;
            }
            Py_SETREF(texts[t], fixed);
        }
    }
    for (int i = 0; i < n_roles; i++) {
        PyObject *fact_id = PyUnicode_FromFormat("%S:%S", roles[i], record_id), *pair = NULL, *fact = NULL;
        int bad = fact_id == NULL || (pair = PyTuple_Pack(2, record, roles[i])) == NULL
                  || PyDict_SetItem(by_fact, fact_id, pair) < 0
                  || (fact = one_fact(base, fact_id, roles[i], list_type, texts, bans, overdue)) == NULL
                  || PyList_Append(facts, fact) < 0;
        Py_XDECREF(fact_id);
        Py_XDECREF(pair);
        Py_XDECREF(fact);
        if (bad) {
            goto done;
        }
    }
    status = 0;
done:
    for (int t = 0; t < 3; t++) {
        Py_XDECREF(texts[t]);
    }
    Py_XDECREF(party_role);
    Py_DECREF(values);
    return status;
}

/* hit_facts(base, subject_id, parties, records, matter_type, item_code, day): _results._facts' facts and
   by_fact from its base fact (what every fact of the check shows alike). */
static PyObject *
hit_facts(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (S_SELF == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "joint_sanctions._speedups: setup_hits() first");
        return NULL;
    }
    if (nargs != 7 || !PyDict_CheckExact(args[0]) || !PyDict_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "hit_facts(base, subject_id, parties, records, matter_type, item_code, "
                                         "day): base and parties are dicts");
        return NULL;
    }
    PyObject *records = PySequence_Fast(args[3], "hit_facts: records is a sequence");
    PyObject *facts = records ? PyList_New(0) : NULL, *by_fact = facts ? PyDict_New() : NULL;
    if (by_fact == NULL) {
        Py_XDECREF(records);
        Py_XDECREF(facts);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(records); i++) {
        if (record_facts(PySequence_Fast_GET_ITEM(records, i), args, facts, by_fact) < 0) {
            Py_DECREF(records);
            Py_DECREF(facts);
            Py_DECREF(by_fact);
            return NULL;
        }
    }
    Py_DECREF(records);
    PyObject *out = PyTuple_Pack(2, facts, by_fact);
    Py_DECREF(facts);
    Py_DECREF(by_fact);
    return out;
}

/* setup_memo(list_type_key, id_key, absent, none): the fact keys known_answers reads and _memo's classes
   of an absent field and of None. */
static PyObject *
setup_memo(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "setup_memo(list_type_key, id_key, absent, none): two keys first");
        return NULL;
    }
    Py_XSETREF(S_LIST_TYPE, Py_NewRef(args[0]));
    Py_XSETREF(S_FACT_ID, Py_NewRef(args[1]));
    Py_XSETREF(ABSENT, Py_NewRef(args[2]));
    Py_XSETREF(NONE_CLASS, Py_NewRef(args[3]));
    Py_RETURN_NONE;
}

/* setup_hits(keys, self_role, utf8): the fact keys (id, party__role, record__list_type, record__authority,
   record__document_no, record__reason, the ban and overdue keys), the subject's own role, _results._utf8. */
static PyObject *
setup_hits(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != 8 || !PyUnicode_Check(args[1])
        || !PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "setup_hits(keys, self_role, utf8): 8 keys, text, a function");
        return NULL;
    }
    PyObject **keys[8] = {&S_FACT_ID, &S_ROLE, &S_LIST_TYPE, &S_AUTHORITY, &S_DOCUMENT_NO, &S_REASON,
                          &S_BANS_KEY, &S_OVERDUE_KEY};
    for (int i = 0; i < 8; i++) {
        Py_XSETREF(*keys[i], Py_NewRef(PyTuple_GET_ITEM(args[0], i)));
    }
    Py_XSETREF(S_SELF, Py_NewRef(args[1]));
    Py_XSETREF(UTF8, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

static PyMethodDef hit_methods[] = {
    {"known_answers", (PyCFunction)(void (*)(void))known_answers, METH_FASTCALL, "The memo's known answers."},
    {"hit_facts", (PyCFunction)(void (*)(void))hit_facts, METH_FASTCALL, "A hit's facts and by_fact."},
    {"setup_memo", (PyCFunction)(void (*)(void))setup_memo, METH_FASTCALL, "What known_answers uses."},
    {"setup_hits", (PyCFunction)(void (*)(void))setup_hits, METH_FASTCALL, "What hit_facts uses."},
    {NULL, NULL, 0, NULL},
};

int
hit_init(PyObject *module)
{
    PyObject **names[] = {&F_SUBJECT_ID, &F_RECORD_ID, &F_BAN_MATTERS, &F_BAN_ITEMS, &F_BAN_UNTIL, &F_RECTIFY_BY,
                          &F_ROLE, &F_DICT, &F_LIST_TYPE, &F_AUTHORITY, &F_DOCUMENT_NO, &F_REASON};
    const char *spelt[] = {"subject_id", "record_id", "ban_matter_types", "ban_item_codes", "ban_until", "rectify_by",
                           "role", "__dict__", "list_type", "authority", "document_no", "reason"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((*names[i] = PyUnicode_InternFromString(spelt[i])) == NULL) {
            return 0;
        }
    }
    return PyModule_AddFunctions(module, hit_methods) == 0;
}
