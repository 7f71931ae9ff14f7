/* What the files of the compiled module share: _speedups.c (the helpers), _lane.c and _lane_subject.c
 * (the check lane), _membership.c (the membership set), _hit.c (a hit's facts and the memo's answers),
 * _rows.c (stored rows as records), _csv_row.c (CSV import rows as records).
 * Hidden: one extension module's internals, never resolved against another library's symbols. */
#ifndef JOINT_SANCTIONS_SPEEDUPS_H
#define JOINT_SANCTIONS_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define SHARED __attribute__((visibility("hidden")))

SHARED extern PyObject *KIND_USCC, *EMPTY_STR; /* "uscc", "" */

/* 1 when `text` is an upper-case USCC as uscc() accepts one, else 0; never fails. */
SHARED int is_uscc(PyObject *text);
/* Whether setup_models() (and, for_clear, setup_clear()) was done; else a RuntimeError is set. */
SHARED int ready(int for_clear);
/* A model instance from its field values, as _models.trusted builds one (the dict is stolen). */
SHARED PyObject *trusted(PyObject *cls, PyObject *values, PyObject *fields);
/* _membership.c: 1 when hash(subject_id) is in `hashes` (a Membership or a set), 0 when not, -1 on error. */
SHARED int hash_listed(PyObject *subject_id, PyObject *hashes);
/* Starts fetching what hash_listed(subject_id, hashes) will read, for a Membership and a str id. */
SHARED void membership_prefetch(PyObject *hashes, PyObject *subject_id);
/* Whether `hashes` is a Membership or a set or frozenset as such (what hash_listed takes). */
SHARED int is_membership(PyObject *hashes);
/* Adds the Membership type to the module (0 on error). */
SHARED int membership_init(PyObject *module);
/* _hit.c: adds known_answers, hit_facts, setup_memo and setup_hits to the module (0 on error). */
SHARED int hit_init(PyObject *module);
/* _rows.c: adds stored_row and setup_rows to the module (0 on error). */
SHARED int rows_init(PyObject *module);
/* _csv_row.c: adds plain_csv_row and setup_csv_rows to the module (0 on error). */
SHARED int csv_rows_init(PyObject *module);
/* clear()'s result: args are its nine arguments. */
SHARED PyObject *clear_one(PyObject *const *args);

/* The references one call holds, released together. */
typedef struct {
    PyObject *refs[32]; /* more than a call takes: 26, and one per related party (at most 4) */
    int n;
} Held;

static inline PyObject *
hold(Held *held, PyObject *obj)
{
    if (obj != NULL && held->n == (int)(sizeof held->refs / sizeof held->refs[0])) {
        Py_DECREF(obj); /* never so many: a lane bug, reported rather than written past the end */
        PyErr_SetString(PyExc_SystemError, "joint_sanctions._speedups: the lane holds too many references");
        return NULL;
    }
    if (obj != NULL) {
        held->refs[held->n++] = obj;
    }
    return obj;
}

static inline void
release(Held *held)
{
    while (held->n > 0) {
        Py_DECREF(held->refs[--held->n]);
    }
}

static inline int
named(PyObject *name, PyObject *expected)
{
    return name == expected || PyUnicode_Compare(name, expected) == 0;
}

#define MAX_PARTIES 4

/* What the clear result shows of a subject, and the ids the membership test asks about (_lane_subject.c). */
typedef struct {
    PyObject *id, *name, *type;       /* the subject's (held for a mapping; a bare id is the call's argument) */
    PyObject *parties[MAX_PARTIES];   /* the related parties' normalised ids (held) */
    int n;
} Reading;

/* The subject of a lane check read: 1 (read), 0 (leave it to check's own path), -1 (error). */
SHARED int read_subject(Held *held, PyObject *subject, Reading *r);
/* triage_plain(subject, hashes): _inputs.triage's clear answer for a subject the reading reads, else None. */
SHARED PyObject *triage_plain(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
/* The Matter of a lane check: the engine's cached one, or a copy of it with `amount` (a float). */
SHARED PyObject *lane_matter(PyObject *cached, PyObject *amount);
/* An amount as the lane takes it: a new float in [0, AMOUNT_MAX], or NULL (leave; or an error is set). */
SHARED PyObject *lane_amount(PyObject *amount);
/* What the reading calls and consults (setup_lane hands them over), and its names (0 on error). */
SHARED void subject_setup(PyObject *parse_id, PyObject *subject_types, PyObject *roles, PyObject *matter,
                          PyObject *matter_fields, double amount_max);
SHARED int subject_names(void);

/* _lane.c: setup_lane(), and the names and the CheckLane type it adds to the module (0 on error). */
SHARED PyObject *setup_lane(PyObject *module, PyObject *args, PyObject *kwargs);
SHARED int lane_init(PyObject *module);
/* utc(t): datetime.fromtimestamp(t, UTC), as the lane computes it. */
SHARED PyObject *utc(PyObject *module, PyObject *now);

#endif
