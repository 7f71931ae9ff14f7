/* Membership: the set of hash(subject id) of every listed subject (_listed.py), as a table of 64-bit
 * values rather than a Python set of ints.
 *
 * A million listed subjects take 16 MB here against ~64 MB as a set (its 32 MB table and a 32-byte int
 * object per member), and a check of someone not listed (~98 % of checks) asks a filter of 8 to 16 bits
 * a member first: one 64-bit word, three bits in it, ~1 MB in all for a million members, which stays in
 * the core's cache where the set's table could not. Only a "maybe" (a member, or ~3 % of the others)
 * reads the table.
 *
 * Python sees what check code uses of a set of ints: `in`, add(), update(), len(), iteration; its twin is
 * the set itself (_accel.membership). It holds 64-bit signed values (what hash() returns); update() and
 * add() refuse any other int with OverflowError, and `in` answers False for anything not such an int.
 * Every operation runs under the GIL without calling back into Python once it has read its input, so a
 * thread checking while another updates sees the table before or after an update, never in between. */
#include "_speedups.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    uint64_t *slots;     /* open addressing, linear probing; 0 marks an empty slot */
    size_t capacity;     /* a power of two, at least twice count */
    size_t count;        /* members, zero included */
    int has_zero;        /* 0 is a member (it cannot sit in a slot) */
    uint64_t *filter;    /* one word per block; a member sets three bits of its word */
    size_t filter_words; /* a power of two */
} Membership;

#define MIN_CAPACITY 16
#define FILTER_BITS_PER_MEMBER 8

/* splitmix64's finaliser: hash() of a str is already random, but an int set by hand may not be. */
static inline uint64_t
mixed(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static inline uint64_t
filter_bits(uint64_t m)
{
    return (1ULL << (m & 63)) | (1ULL << ((m >> 6) & 63)) | (1ULL << ((m >> 12) & 63));
}

static inline size_t
filter_word(const Membership *self, uint64_t m)
{
    return (size_t)(m >> 32) & (self->filter_words - 1);
}

/* 1 when `value` is a member; never fails. */
static int
has(const Membership *self, uint64_t value)
{
    if (value == 0) {
        return self->has_zero;
    }
    uint64_t m = mixed(value), bits = filter_bits(m);
    if ((self->filter[filter_word(self, m)] & bits) != bits) {
        return 0;
    }
    size_t mask = self->capacity - 1;
    for (size_t i = (size_t)m & mask;; i = (i + 1) & mask) {
        uint64_t slot = self->slots[i];
        if (slot == value) {
            return 1;
        }
        if (slot == 0) {
            return 0;
        }
    }
}

static size_t
power_of_two_at_least(size_t n)
{
    size_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

/* Tables sized for `members` members, filled with this one's (0 on memory error, the old kept). */
static int
resized(Membership *self, size_t members)
{
    size_t capacity = power_of_two_at_least(members * 2 > MIN_CAPACITY ? members * 2 : MIN_CAPACITY);
    /* Sized by the table: at least FILTER_BITS_PER_MEMBER bits a member until the table grows again. */
    size_t words = capacity / 2 * FILTER_BITS_PER_MEMBER / 64;
    uint64_t *slots = PyMem_Calloc(capacity, sizeof *slots), *filter = PyMem_Calloc(words, sizeof *filter);
    if (slots == NULL || filter == NULL) {
        PyMem_Free(slots);
        PyMem_Free(filter);
        PyErr_NoMemory();
        return 0;
    }
    Membership grown = {.slots = slots, .capacity = capacity, .filter = filter, .filter_words = words};
    for (size_t i = 0; i < self->capacity; i++) {
        uint64_t value = self->slots[i];
        if (value != 0) {
            uint64_t m = mixed(value);
            size_t j = (size_t)m & (capacity - 1);
            while (slots[j] != 0) {
                j = (j + 1) & (capacity - 1);
            }
            slots[j] = value;
            filter[filter_word(&grown, m)] |= filter_bits(m);
        }
    }
    PyMem_Free(self->slots);
    PyMem_Free(self->filter);
    self->slots = slots;
    self->capacity = capacity;
    self->filter = filter;
    self->filter_words = words;
    return 1;
}

/* Adds `n` values, the tables grown first for all of them (0 on memory error, nothing added). */
static int
add_all(Membership *self, const uint64_t *values, size_t n)
{
    if ((self->count + n) * 2 > self->capacity && !resized(self, self->count + n)) {
        return 0;
    }
    size_t mask = self->capacity - 1;
    for (size_t k = 0; k < n; k++) {
        uint64_t value = values[k];
        if (value == 0) {
            self->count += !self->has_zero;
            self->has_zero = 1;
            continue;
        }
        uint64_t m = mixed(value);
        size_t i = (size_t)m & mask;
        while (self->slots[i] != 0 && self->slots[i] != value) {
            i = (i + 1) & mask;
        }
        if (self->slots[i] == 0) {
            self->slots[i] = value;
            self->count++;
            self->filter[filter_word(self, m)] |= filter_bits(m);
        }
    }
    return 1;
}

/* A member's value from a Python int (0 with OverflowError or TypeError set on anything else). */
static int
value_of(PyObject *item, uint64_t *value)
{
    if (!PyLong_Check(item)) {
        PyErr_Format(PyExc_TypeError, "a membership holds hash values (int), not %.100s", Py_TYPE(item)->tp_name);
        return 0;
    }
    long long v = PyLong_AsLongLong(item);
    if (v == -1 && PyErr_Occurred()) {
        return 0;
    }
    *value = (uint64_t)v;
    return 1;
}

static PyObject *
membership_update(Membership *self, PyObject *iterable)
{
    /* Read whole first: the iteration may run Python code, the insertion then runs none. */
    PyObject *items = PySequence_Fast(iterable, "update() takes an iterable of hash values");
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    uint64_t *values = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof *values);
    int ok = values != NULL;
    if (!ok) {
        PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        ok = value_of(PySequence_Fast_GET_ITEM(items, i), &values[i]);
    }
    ok = ok && add_all(self, values, (size_t)n);
    PyMem_Free(values);
    Py_DECREF(items);
    return ok ? Py_NewRef(Py_None) : NULL;
}

static PyObject *
membership_add(Membership *self, PyObject *item)
{
    uint64_t value;
    return value_of(item, &value) && add_all(self, &value, 1) ? Py_NewRef(Py_None) : NULL;
}

static int
membership_contains(Membership *self, PyObject *item)
{
    if (!PyLong_Check(item)) {
        return 0;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    return !overflow && has(self, (uint64_t)v);
}

static Py_ssize_t
membership_len(Membership *self)
{
    return (Py_ssize_t)self->count;
}

static PyObject *
membership_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *iterable = NULL;
    static char *keywords[] = {"iterable", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:Membership", keywords, &iterable)) {
        return NULL;
    }
    Membership *self = (Membership *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    if (!resized(self, 0)) {
        Py_DECREF(self);
        return NULL;
    }
    if (iterable != NULL) {
        PyObject *done = membership_update(self, iterable);
        if (done == NULL) {
            Py_DECREF(self);
            return NULL;
        }
        Py_DECREF(done);
    }
    return (PyObject *)self;
}

static void
membership_dealloc(Membership *self)
{
    PyMem_Free(self->slots);
    PyMem_Free(self->filter);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* iter(): the members as ints, in no particular order (a list's iterator over a snapshot). */
static PyObject *
membership_iter(Membership *self)
{
    PyObject *members = PyList_New(0);
    int ok = members != NULL;
    if (ok && self->has_zero) {
        PyObject *zero = PyLong_FromLong(0);
        ok = zero != NULL && PyList_Append(members, zero) == 0;
        Py_XDECREF(zero);
    }
    for (size_t i = 0; ok && i < self->capacity; i++) {
        if (self->slots[i] != 0) {
            PyObject *member = PyLong_FromLongLong((long long)self->slots[i]);
            ok = member != NULL && PyList_Append(members, member) == 0;
            Py_XDECREF(member);
        }
    }
    PyObject *it = ok ? PyObject_GetIter(members) : NULL;
    Py_XDECREF(members);
    return it;
}

static PyObject *
membership_sizeof(Membership *self, PyObject *Py_UNUSED(ignored))
{
    size_t size = sizeof *self + self->capacity * sizeof *self->slots + self->filter_words * sizeof *self->filter;
    return PyLong_FromSize_t(size);
}

static PyMethodDef membership_methods[] = {
    {"add", (PyCFunction)membership_add, METH_O, "Add one hash value."},
    {"update", (PyCFunction)membership_update, METH_O, "Add every hash value of an iterable."},
    {"__sizeof__", (PyCFunction)membership_sizeof, METH_NOARGS, "Bytes held, tables included."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods membership_sequence = {
    .sq_length = (lenfunc)membership_len,
    .sq_contains = (objobjproc)membership_contains,
};

static PyTypeObject MembershipType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "joint_sanctions._speedups.Membership",
    .tp_basicsize = sizeof(Membership),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Membership(iterable=()): hash values of listed subjects; `in`, add, update, len, iter.",
    .tp_new = membership_new,
    .tp_dealloc = (destructor)membership_dealloc,
    .tp_iter = (getiterfunc)membership_iter,
    .tp_as_sequence = &membership_sequence,
    .tp_methods = membership_methods,
};

int
hash_listed(PyObject *subject_id, PyObject *hashes)
{
    Py_hash_t h = PyObject_Hash(subject_id);
    if (h == -1) {
        return -1;
    }
    if (Py_IS_TYPE(hashes, &MembershipType)) {
        return has((Membership *)hashes, (uint64_t)h);
    }
    PyObject *key = PyLong_FromSsize_t(h);
    int listed = key == NULL ? -1 : PySet_Contains(hashes, key);
    Py_XDECREF(key);
    return listed;
}

void
membership_prefetch(PyObject *hashes, PyObject *subject_id)
{
    if (Py_IS_TYPE(hashes, &MembershipType) && PyUnicode_CheckExact(subject_id)) {
        Py_hash_t h = PyObject_Hash(subject_id); /* a str's never fails, and is kept for the test */
        Membership *self = (Membership *)hashes;
        __builtin_prefetch(&self->filter[filter_word(self, mixed((uint64_t)h))]);
    }
}

int
is_membership(PyObject *hashes)
{
    return Py_IS_TYPE(hashes, &MembershipType) || PyAnySet_CheckExact(hashes);
}

int
membership_init(PyObject *module)
{
    return PyType_Ready(&MembershipType) == 0
           && PyModule_AddObjectRef(module, "Membership", (PyObject *)&MembershipType) == 0;
}
