/*
 * _charrnn.c: the C extension under the charrnn Python package: thin types
 * over libcharrnn's public header (Generator, Evaluator, Trainer), the
 * library's configuration structs as dicts, and exceptions that carry the
 * library's messages. It releases the GIL around the library's long calls
 * and lets one thread at a time into the library (charrnn.h's rule).
 *
 * It does not choose defaults, check argument types for people or run the
 * training loop: charrnn/__init__.py does, in Python, with docstrings.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charrnn.h"

/* ------------------------------------------------------------------ the library's lock */

/* The library is called from one thread at a time (charrnn.h); threads that
 * wait for it wait without the GIL, so Python goes on meanwhile. */
static PyThread_type_lock lib_lock;

#define LIBRARY_CALL(statement)                                                               \
    do {                                                                                      \
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(lib_lock, WAIT_LOCK);                    \
        statement;                                                                            \
        PyThread_release_lock(lib_lock);                                                      \
        Py_END_ALLOW_THREADS                                                                  \
    } while (0)

/* ------------------------------------------------------------------ exceptions */

static PyObject *Error, *FileError, *ArgumentError, *EncodingError, *VocabularyError,
    *DataError, *SnapshotError, *NumericError, *OutOfMemory;

/* The exception class of a crnn_status. */
static PyObject *error_class(int status)
{
    switch (status) {
    case CRNN_ERR_IO:
    case CRNN_ERR_NOSPACE: return FileError;
    case CRNN_ERR_NOMEM: return OutOfMemory;
    case CRNN_ERR_ARG: return ArgumentError;
    case CRNN_ERR_UTF8: return EncodingError;
    case CRNN_ERR_FORMAT:
    case CRNN_ERR_VERSION: return SnapshotError;
    case CRNN_ERR_DATA: return DataError;
    case CRNN_ERR_NUMERIC: return NumericError;
    case CRNN_ERR_VOCAB: return VocabularyError;
    default: return Error;
    }
}

/* Raises the library's failure: its message (paths that are not UTF-8 shown
 * with U+FFFD), with .status its short name ("io", "vocab", ...). NULL. */
static PyObject *raise_error(int status, const crnn_error *err)
{
    const char *text = err->message[0] ? err->message : crnn_status_name(status);
    PyObject *message = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strnlen(text, sizeof err->message),
                                             "replace");
    if (!message)
        return NULL;
    PyObject *cls = error_class(status);
    PyObject *exc = PyObject_CallOneArg(cls, message);
    Py_DECREF(message);
    if (!exc)
        return NULL;
    PyObject *name = PyUnicode_FromString(crnn_status_name(status));
    if (name && PyObject_SetAttrString(exc, "status", name) == 0)
        PyErr_SetObject(cls, exc);
    Py_XDECREF(name);
    Py_DECREF(exc);
    return NULL;
}

/* ------------------------------------------------------------------ values */

/* A path argument (str, bytes or os.PathLike) as bytes: *out is a new
 * reference; 0 or -1 with an exception. */
static int path_bytes(PyObject *path, PyObject **out)
{
    *out = NULL;
    return PyUnicode_FSConverter(path, out) ? 0 : -1;
}

/* Named values of the configuration's enumerations, as the CLI words them. */
typedef struct named {
    const char *name;
    int value;
} named;

static const named optimizers[] = {
    {"adam", CRNN_OPT_ADAM}, {"rmsprop", CRNN_OPT_RMSPROP}, {"sgd", CRNN_OPT_SGD}, {NULL, 0}};
static const named schedules[] = {{"constant", CRNN_SCHEDULE_CONSTANT},
                                  {"step", CRNN_SCHEDULE_STEP},
                                  {"cosine", CRNN_SCHEDULE_COSINE},
                                  {NULL, 0}};
static const named normalizations[] = {{"none", CRNN_NORMALIZE_NONE},
                                       {"nfc", CRNN_NORMALIZE_NFC},
                                       {"nfkc", CRNN_NORMALIZE_NFKC},
                                       {NULL, 0}};
static const named splits[] = {
    {"validation", CRNN_SPLIT_VALIDATION}, {"test", CRNN_SPLIT_TEST}, {NULL, 0}};

static const char *name_of(const named *set, int value)
{
    for (; set->name; set++)
        if (set->value == value)
            return set->name;
    return "?";
}

/* dict[key] if present (borrowed; NULL if absent), counted in *used. */
static PyObject *item(PyObject *dict, const char *key, int *used)
{
    PyObject *v = PyDict_GetItemString(dict, key);
    if (v)
        (*used)++;
    return v;
}

static int get_int(PyObject *d, const char *key, int *out, int *used)
{
    PyObject *v = item(d, key, used);
    if (!v)
        return 0;
    if (!PyLong_Check(v) || PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.80s", key, Py_TYPE(v)->tp_name);
        return -1;
    }
    int overflow = 0;
    long x = PyLong_AsLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (overflow || x < -2147483647L || x > 2147483647L) {
        PyErr_Format(PyExc_ValueError, "%s is out of range", key);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int get_u64(PyObject *d, const char *key, uint64_t *out, int *used)
{
    PyObject *v = item(d, key, used);
    if (!v)
        return 0;
    if (!PyLong_Check(v) || PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.80s", key, Py_TYPE(v)->tp_name);
        return -1;
    }
    unsigned long long x = PyLong_AsUnsignedLongLong(v);
    if (x == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s must be between 0 and 2**64 - 1", key);
        return -1;
    }
    *out = (uint64_t)x;
    return 0;
}

static int get_double(PyObject *d, const char *key, double *out, int *used)
{
    PyObject *v = item(d, key, used);
    if (!v)
        return 0;
    if (!(PyFloat_Check(v) || PyLong_Check(v)) || PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a number, not %.80s", key,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    double x = PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred())
        return -1;
    *out = x;
    return 0;
}

static int get_float(PyObject *d, const char *key, float *out, int *used)
{
    double x = *out;
    if (get_double(d, key, &x, used) < 0)
        return -1;
    if (isfinite(x) && fabs(x) > 3.4e38) {
        PyErr_Format(PyExc_ValueError, "%s is out of range", key);
        return -1;
    }
    *out = (float)x;
    return 0;
}

static int get_bool(PyObject *d, const char *key, int *out, int *used)
{
    PyObject *v = item(d, key, used);
    if (!v)
        return 0;
    if (!PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be True or False, not %.80s", key,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    *out = v == Py_True;
    return 0;
}

/* A word of set, or of the cell names when set is NULL. */
static int get_named(PyObject *d, const char *key, const named *set, int *out, int *used)
{
    PyObject *v = item(d, key, used);
    if (!v)
        return 0;
    const char *word = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
    if (!word) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "%s must be a str, not %.80s", key,
                         Py_TYPE(v)->tp_name);
        return -1;
    }
    if (!set) {
        crnn_cell_type cell;
        if (crnn_cell_parse(word, &cell) == CRNN_OK) {
            *out = (int)cell;
            return 0;
        }
        PyErr_Format(PyExc_ValueError, "unknown %s '%s' (lstm, gru, rnn-tanh or rnn-relu)", key,
                     word);
        return -1;
    }
    for (const named *n = set; n->name; n++)
        if (!strcmp(n->name, word)) {
            *out = n->value;
            return 0;
        }
    PyErr_Format(PyExc_ValueError, "unknown %s '%s'", key, word);
    return -1;
}

/* Applies the keys of dict (crnn_train_config's field names, enumerations
 * by their words) over *c. Unknown keys are a TypeError. 0 or -1. */
static int config_from_dict(PyObject *dict, crnn_train_config *c)
{
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "the configuration must be a dict");
        return -1;
    }
    int used = 0, v;
    if (get_named(dict, "cell", NULL, (v = (int)c->cell, &v), &used) < 0)
        return -1;
    c->cell = (crnn_cell_type)v;
    if (get_named(dict, "optimizer", optimizers, (v = (int)c->optimizer, &v), &used) < 0)
        return -1;
    c->optimizer = (crnn_optimizer)v;
    if (get_named(dict, "schedule", schedules, (v = (int)c->schedule, &v), &used) < 0)
        return -1;
    c->schedule = (crnn_schedule)v;
    if (get_named(dict, "normalize", normalizations, (v = (int)c->normalize, &v), &used) < 0)
        return -1;
    c->normalize = (crnn_normalization)v;
    if (get_int(dict, "layers", &c->layers, &used) < 0 ||
        get_int(dict, "hidden", &c->hidden, &used) < 0 ||
        get_int(dict, "embed", &c->embed, &used) < 0 ||
        get_int(dict, "batch", &c->batch, &used) < 0 ||
        get_int(dict, "seq", &c->seq, &used) < 0 ||
        get_float(dict, "learning_rate", &c->learning_rate, &used) < 0 ||
        get_float(dict, "lr_decay", &c->lr_decay, &used) < 0 ||
        get_float(dict, "decay_every", &c->decay_every, &used) < 0 ||
        get_u64(dict, "warmup_steps", &c->warmup_steps, &used) < 0 ||
        get_u64(dict, "schedule_steps", &c->schedule_steps, &used) < 0 ||
        get_u64(dict, "cooldown_steps", &c->cooldown_steps, &used) < 0 ||
        get_float(dict, "weight_decay", &c->weight_decay, &used) < 0 ||
        get_float(dict, "dropout", &c->dropout, &used) < 0 ||
        get_bool(dict, "reset_state", &c->reset_state, &used) < 0 ||
        get_float(dict, "forget_bias", &c->forget_bias, &used) < 0 ||
        get_float(dict, "clip", &c->clip, &used) < 0 ||
        get_float(dict, "val_fraction", &c->val_fraction, &used) < 0 ||
        get_float(dict, "test_fraction", &c->test_fraction, &used) < 0 ||
        get_u64(dict, "seed", &c->seed, &used) < 0 ||
        get_bool(dict, "lossy", &c->lossy, &used) < 0 ||
        get_int(dict, "max_vocab", &c->max_vocab, &used) < 0)
        return -1;
    if (used != (int)PyDict_Size(dict)) {
        PyErr_SetString(PyExc_TypeError, "unknown key in the configuration");
        return -1;
    }
    return 0;
}

/* A float of the configuration as the shortest decimal that reads back as
 * it (0.002, not 0.0020000000949949026). */
static PyObject *float_value(float f)
{
    char text[32];
    for (int digits = 1; digits < 10; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)f);
        if (strtof(text, NULL) == f)
            return PyFloat_FromDouble(strtod(text, NULL));
    }
    return PyFloat_FromDouble((double)f);
}

static PyObject *config_to_dict(const crnn_train_config *c)
{
    return Py_BuildValue(
        "{s:s,s:i,s:i,s:i,s:i,s:i,s:N,s:s,s:s,s:N,s:N,s:K,s:K,s:N,s:N,s:O,s:N,s:N,s:N,s:N,"
        "s:K,s:O,s:s,s:i,s:K}",
        "cell", crnn_cell_name(c->cell) ? crnn_cell_name(c->cell) : "?", "layers", c->layers,
        "hidden", c->hidden, "embed", c->embed, "batch", c->batch, "seq", c->seq,
        "learning_rate", float_value(c->learning_rate), "optimizer", name_of(optimizers, c->optimizer),
        "schedule", name_of(schedules, c->schedule), "lr_decay", float_value(c->lr_decay),
        "decay_every", float_value(c->decay_every), "warmup_steps",
        (unsigned long long)c->warmup_steps, "schedule_steps",
        (unsigned long long)c->schedule_steps, "weight_decay", float_value(c->weight_decay),
        "dropout", float_value(c->dropout), "reset_state", c->reset_state ? Py_True : Py_False,
        "forget_bias", float_value(c->forget_bias), "clip", float_value(c->clip), "val_fraction",
        float_value(c->val_fraction), "test_fraction", float_value(c->test_fraction), "seed",
        (unsigned long long)c->seed, "lossy", c->lossy ? Py_True : Py_False, "normalize",
        name_of(normalizations, c->normalize), "max_vocab", c->max_vocab, "cooldown_steps",
        (unsigned long long)c->cooldown_steps);
}

/* A NUL-terminated C string of a path from a str; NULL for None. */
typedef struct path_arg {
    PyObject *bytes; /* owned */
    const char *s;
} path_arg;

static int path_from(PyObject *o, path_arg *p)
{
    p->bytes = NULL;
    p->s = NULL;
    if (o == Py_None)
        return 0;
    if (path_bytes(o, &p->bytes) < 0)
        return -1;
    p->s = PyBytes_AS_STRING(p->bytes);
    return 0;
}

/* ------------------------------------------------------------------ Generator */

typedef struct {
    PyObject_HEAD
    crnn_generator *g;
    crnn_stream_update *updates; /* (capacity) */
} GeneratorObject;

static int Generator_init(GeneratorObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "max_streams", NULL};
    PyObject *path_obj;
    int max_streams;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&i", kwlist, PyUnicode_FSConverter, &path_obj,
                                     &max_streams))
        return -1;
    if (self->g) {
        Py_DECREF(path_obj);
        PyErr_SetString(PyExc_RuntimeError, "Generator is initialised already");
        return -1;
    }
    crnn_error err = {0};
    crnn_generator *g = NULL;
    const char *path = PyBytes_AS_STRING(path_obj);
    LIBRARY_CALL(g = crnn_generator_open(path, max_streams, &err));
    Py_DECREF(path_obj);
    if (!g) {
        raise_error(err.status, &err);
        return -1;
    }
    self->updates = PyMem_Calloc((size_t)crnn_generator_capacity(g), sizeof *self->updates);
    if (!self->updates) {
        crnn_generator_free(g);
        PyErr_NoMemory();
        return -1;
    }
    self->g = g;
    return 0;
}

static void Generator_dealloc(GeneratorObject *self)
{
    crnn_generator_free(self->g);
    PyMem_Free(self->updates);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int generator_ready(GeneratorObject *self)
{
    if (self->g)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "Generator is not initialised");
    return -1;
}

/* add(prompt: bytes, seed, temperature, top_k, top_p, max_chars, stop: tuple of bytes) -> id */
static PyObject *Generator_add(GeneratorObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"prompt", "seed", "temperature", "top_k", "top_p", "max_chars",
                             "stop", NULL};
    const char *prompt;
    Py_ssize_t prompt_len;
    unsigned long long seed, max_chars;
    float temperature, top_p;
    int top_k;
    PyObject *stop;
    if (generator_ready(self) < 0 ||
        !PyArg_ParseTupleAndKeywords(args, kwds, "y#KfifKO!", kwlist, &prompt, &prompt_len,
                                     &seed, &temperature, &top_k, &top_p, &max_chars,
                                     &PyTuple_Type, &stop))
        return NULL;
    Py_ssize_t n_stop = PyTuple_GET_SIZE(stop);
    const char **stops = PyMem_Calloc(n_stop ? (size_t)n_stop : 1, sizeof *stops);
    if (!stops)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n_stop; i++) {
        PyObject *s = PyTuple_GET_ITEM(stop, i);
        if (!PyBytes_Check(s)) {
            PyMem_Free(stops);
            PyErr_SetString(PyExc_TypeError, "stop texts must be bytes");
            return NULL;
        }
        stops[i] = PyBytes_AS_STRING(s); /* stop texts hold no NUL: the caller checks */
    }
    crnn_stream_request q;
    crnn_stream_request_default(&q);
    q.prime = prompt_len ? prompt : NULL;
    q.prime_len = (size_t)prompt_len;
    q.seed = seed;
    q.options.temperature = temperature;
    q.options.top_k = top_k;
    q.options.top_p = top_p;
    q.max_chars = max_chars;
    q.stop = stops;
    q.n_stop = (int)n_stop;
    crnn_error err = {0};
    int64_t id = crnn_generator_add(self->g, &q, &err); /* quick: the prime is read by steps */
    PyMem_Free(stops);
    if (id < 0)
        return raise_error((int)id, &err);
    return PyLong_FromLongLong(id);
}

/* step() -> list of (id, text: bytes, end: int) */
static PyObject *Generator_step(GeneratorObject *self, PyObject *unused)
{
    (void)unused;
    if (generator_ready(self) < 0)
        return NULL;
    crnn_error err = {0};
    int rc, count = 0;
    LIBRARY_CALL(rc = crnn_generator_step(self->g, self->updates, &count, &err));
    if (rc != CRNN_OK)
        return raise_error(rc, &err);
    PyObject *list = PyList_New(count);
    if (!list)
        return NULL;
    for (int i = 0; i < count; i++) {
        const crnn_stream_update *u = &self->updates[i];
        PyObject *t = Py_BuildValue("(Ly#i)", (long long)u->id, u->text ? u->text : "",
                                    (Py_ssize_t)u->len, u->end);
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *Generator_cancel(GeneratorObject *self, PyObject *arg)
{
    if (generator_ready(self) < 0)
        return NULL;
    long long id = PyLong_AsLongLong(arg);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(crnn_generator_cancel(self->g, (int64_t)id));
}

static PyObject *Generator_running(GeneratorObject *self, void *closure)
{
    (void)closure;
    return generator_ready(self) < 0 ? NULL : PyLong_FromLong(crnn_generator_running(self->g));
}

static PyObject *Generator_capacity(GeneratorObject *self, void *closure)
{
    (void)closure;
    return generator_ready(self) < 0 ? NULL : PyLong_FromLong(crnn_generator_capacity(self->g));
}

static PyObject *Generator_vocab_size(GeneratorObject *self, void *closure)
{
    (void)closure;
    return generator_ready(self) < 0 ? NULL
                                     : PyLong_FromLong(crnn_generator_vocab_size(self->g));
}

static PyMethodDef Generator_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Generator_add, METH_VARARGS | METH_KEYWORDS,
     "add(prompt, seed, temperature, top_k, top_p, max_chars, stop) -> stream id"},
    {"step", (PyCFunction)Generator_step, METH_NOARGS,
     "step() -> [(id, text, end)]: one character for every running stream"},
    {"cancel", (PyCFunction)Generator_cancel, METH_O, "cancel(id) -> True if it was running"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Generator_getset[] = {
    {"running", (getter)Generator_running, NULL, "streams not yet finished", NULL},
    {"capacity", (getter)Generator_capacity, NULL, "streams it can run at once", NULL},
    {"vocab_size", (getter)Generator_vocab_size, NULL, "characters the model knows", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject GeneratorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "charrnn._charrnn.Generator",
    .tp_doc = "Generator(path, max_streams): crnn_generator, streams stepped together.",
    .tp_basicsize = sizeof(GeneratorObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Generator_init,
    .tp_dealloc = (destructor)Generator_dealloc,
    .tp_methods = Generator_methods,
    .tp_getset = Generator_getset,
};

/* ------------------------------------------------------------------ Evaluator */

typedef struct {
    PyObject_HEAD
    crnn_evaluator *ev;
} EvaluatorObject;

static int Evaluator_init(EvaluatorObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", NULL};
    PyObject *path_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&", kwlist, PyUnicode_FSConverter, &path_obj))
        return -1;
    if (self->ev) {
        Py_DECREF(path_obj);
        PyErr_SetString(PyExc_RuntimeError, "Evaluator is initialised already");
        return -1;
    }
    crnn_error err = {0};
    const char *path = PyBytes_AS_STRING(path_obj);
    LIBRARY_CALL(self->ev = crnn_evaluator_open(path, &err));
    Py_DECREF(path_obj);
    if (!self->ev) {
        raise_error(err.status, &err);
        return -1;
    }
    return 0;
}

static void Evaluator_dealloc(EvaluatorObject *self)
{
    crnn_evaluator_free(self->ev);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* text(data: bytes, strict: bool) -> dict of the report */
static PyObject *Evaluator_text(EvaluatorObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", "strict", NULL};
    Py_buffer data;
    int strict = 0;
    if (!self->ev) {
        PyErr_SetString(PyExc_RuntimeError, "Evaluator is not initialised");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|p", kwlist, &data, &strict))
        return NULL;
    crnn_error err = {0};
    crnn_eval_report r;
    int rc;
    LIBRARY_CALL(rc = crnn_evaluator_text(self->ev, data.buf, (size_t)data.len, NULL, strict,
                                          &r, &err));
    PyBuffer_Release(&data);
    if (rc != CRNN_OK)
        return raise_error(rc, &err);
    int shown = r.unseen_distinct < CRNN_EVAL_EXAMPLES ? r.unseen_distinct : CRNN_EVAL_EXAMPLES;
    PyObject *examples = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, r.unseen_examples,
                                                   shown);
    if (!examples)
        return NULL;
    return Py_BuildValue("{s:d,s:d,s:K,s:K,s:K,s:O,s:i,s:N}", "nats_per_char", r.nats_per_char,
                         "nats", r.nats, "characters", (unsigned long long)r.characters,
                         "text_characters", (unsigned long long)r.text_characters, "unseen",
                         (unsigned long long)r.unseen, "unseen_as_unknown",
                         r.unseen_as_unknown ? Py_True : Py_False, "unseen_distinct",
                         r.unseen_distinct, "unseen_examples", examples);
}

/* Floats as bytes (NULL gives None): the wrapper views them as shaped arrays. */
static PyObject *float_bytes(const float *v, size_t n)
{
    if (!v)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)v, (Py_ssize_t)(n * sizeof *v));
}

/* trace(data: bytes, max_chars: int, top_k: int, states: bool) -> dict of
 * crnn_evaluator_trace's arrays */
static PyObject *Evaluator_trace(EvaluatorObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", "max_chars", "top_k", "states", NULL};
    Py_buffer data;
    Py_ssize_t max_chars = 0;
    int top_k = 5, states = 1;
    if (!self->ev) {
        PyErr_SetString(PyExc_RuntimeError, "Evaluator is not initialised");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|nip", kwlist, &data, &max_chars, &top_k,
                                     &states))
        return NULL;
    if (max_chars < 0) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "max_chars must be 0 (no limit) or more");
        return NULL;
    }
    crnn_error err = {0};
    crnn_trace *t = NULL;
    int rc;
    unsigned flags = states ? CRNN_TRACE_STATES | CRNN_TRACE_GATES : 0;
    LIBRARY_CALL(rc = crnn_evaluator_trace(self->ev, data.buf, (size_t)data.len, NULL,
                                           (size_t)max_chars, top_k, flags, &t, &err));
    PyBuffer_Release(&data);
    if (rc != CRNN_OK)
        return raise_error(rc, &err);
    size_t n = t->length, per = (size_t)t->layers * (size_t)t->hidden;
    PyObject *text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, t->code_points,
                                               (Py_ssize_t)n);
    PyObject *tokens = PyList_New((Py_ssize_t)n), *nats = PyList_New((Py_ssize_t)n);
    PyObject *top = PyList_New((Py_ssize_t)n);
    if (!text || !tokens || !nats || !top)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        PyList_SET_ITEM(tokens, (Py_ssize_t)i, PyLong_FromLong(t->token[i]));
        PyList_SET_ITEM(nats, (Py_ssize_t)i, PyFloat_FromDouble(t->nats[i]));
        PyObject *cands = PyList_New(0);
        if (!cands)
            goto fail;
        for (int k = 0; k < t->top_k && !isnan(t->nats[i]); k++) {
            size_t o = i * (size_t)t->top_k + (size_t)k;
            if (t->top_probs[o] <= 0)
                break;
            Py_UCS4 cp = t->top_code_points[o];
            PyObject *pair = Py_BuildValue("(Nd)", PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND,
                                                                             &cp, 1),
                                           (double)t->top_probs[o]);
            if (!pair || PyList_Append(cands, pair) != 0) {
                Py_XDECREF(pair);
                Py_DECREF(cands);
                goto fail;
            }
            Py_DECREF(pair);
        }
        PyList_SET_ITEM(top, (Py_ssize_t)i, cands);
    }
    PyObject *result = Py_BuildValue(
        "{s:N,s:N,s:N,s:N,s:i,s:i,s:N,s:N,s:N,s:d,s:K,s:K}", "text", text, "tokens", tokens,
        "nats", nats, "top", top, "layers", t->layers, "hidden", t->hidden, "h",
        float_bytes(t->h, n * per), "c", float_bytes(t->c, n * per), "gates",
        float_bytes(t->gates, 4 * n * per), "nats_per_char", t->report.nats_per_char,
        "characters", (unsigned long long)t->report.characters, "unseen",
        (unsigned long long)t->report.unseen);
    crnn_trace_free(t);
    return result;
fail:
    Py_XDECREF(text);
    Py_XDECREF(tokens);
    Py_XDECREF(nats);
    Py_XDECREF(top);
    crnn_trace_free(t);
    return NULL;
}

static PyMethodDef Evaluator_methods[] = {
    {"text", (PyCFunction)(void (*)(void))Evaluator_text, METH_VARARGS | METH_KEYWORDS,
     "text(data: bytes, strict=False) -> dict: crnn_evaluator_text's report"},
    {"trace", (PyCFunction)(void (*)(void))Evaluator_trace, METH_VARARGS | METH_KEYWORDS,
     "trace(data: bytes, max_chars=0, top_k=5, states=True) -> dict: crnn_evaluator_trace"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EvaluatorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "charrnn._charrnn.Evaluator",
    .tp_doc = "Evaluator(path): crnn_evaluator, a model loaded to score texts.",
    .tp_basicsize = sizeof(EvaluatorObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Evaluator_init,
    .tp_dealloc = (destructor)Evaluator_dealloc,
    .tp_methods = Evaluator_methods,
};

/* ------------------------------------------------------------------ Trainer */

typedef struct {
    PyObject_HEAD
    crnn_trainer *t;
} TrainerObject;

/* A list or tuple of paths as NUL-terminated strings: bytes (owned, a
 * list) and their pointers (PyMem). 0 or -1. */
static int paths_from(PyObject *seq, PyObject **owned, const char ***paths, Py_ssize_t *n)
{
    *owned = NULL;
    *paths = NULL;
    *n = 0;
    if (!PyList_Check(seq) && !PyTuple_Check(seq)) {
        PyErr_SetString(PyExc_TypeError, "the corpus paths must be a list");
        return -1;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    *owned = PyList_New(count);
    *paths = PyMem_Calloc(count ? (size_t)count : 1, sizeof **paths);
    if (!*owned || !*paths) {
        Py_CLEAR(*owned);
        PyMem_Free(*paths);
        *paths = NULL;
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *b;
        if (path_bytes(PySequence_Fast_GET_ITEM(seq, i), &b) < 0) {
            Py_CLEAR(*owned);
            PyMem_Free(*paths);
            *paths = NULL;
            return -1;
        }
        PyList_SET_ITEM(*owned, i, b);
        (*paths)[i] = PyBytes_AS_STRING(b);
    }
    *n = count;
    return 0;
}

static int run_settings_from_dict(PyObject *dict, crnn_run_settings *rs);

/* Trainer(corpora, config=None, init_from=None, resume=None, engine="auto",
 *         cache_dir=None, row_groups=0, memory_bytes=0, plan_seconds=0,
 *         plan_spent=0, given=0, run_settings=None, scratch=None): with
 * plan_seconds, a new run planned for that time (crnn_trainer_plan), keeping
 * the settings whose CRNN_GIVEN_* bits are in given. */
static int Trainer_init(TrainerObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"corpora", "config", "init_from", "resume", "engine",
                             "cache_dir", "row_groups", "memory_bytes", "plan_seconds",
                             "plan_spent", "given", "run_settings", "scratch", NULL};
    PyObject *corpora, *config = Py_None, *init_obj = Py_None, *resume_obj = Py_None,
                       *cache_obj = Py_None, *rs_obj = Py_None, *scratch_obj = Py_None;
    const char *engine = "auto";
    int row_groups = 0;
    unsigned long long memory_bytes = 0;
    double plan_seconds = 0, plan_spent = 0;
    unsigned int given = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOsOiKddIOO", kwlist, &corpora, &config,
                                     &init_obj, &resume_obj, &engine, &cache_obj, &row_groups,
                                     &memory_bytes, &plan_seconds, &plan_spent, &given, &rs_obj,
                                     &scratch_obj))
        return -1;
    crnn_run_settings plan_rs = {0};
    if (rs_obj != Py_None && run_settings_from_dict(rs_obj, &plan_rs) < 0)
        return -1;
    if (self->t) {
        PyErr_SetString(PyExc_RuntimeError, "Trainer is initialised already");
        return -1;
    }
    crnn_train_config cfg;
    crnn_train_config_default(&cfg);
    if (config != Py_None && config_from_dict(config, &cfg) < 0)
        return -1;
    crnn_compute_options compute;
    crnn_compute_options_default(&compute);
    compute.row_groups = row_groups;
    compute.memory_bytes = memory_bytes;
    crnn_error err = {0};
    if (crnn_engine_parse(engine, &compute.engine) != CRNN_OK) {
        PyErr_Format(PyExc_ValueError,
                     "unknown engine '%s' (auto, own, onednn or onednn-bf16)", engine);
        return -1;
    }
    if (crnn_engine_check(compute.engine, &err) != CRNN_OK) {
        raise_error(err.status, &err);
        return -1;
    }
    path_arg init, resume, cache;
    PyObject *owned = NULL;
    const char **paths = NULL;
    Py_ssize_t n = 0;
    int rc = -1;
    if (path_from(init_obj, &init) < 0)
        return -1;
    if (path_from(resume_obj, &resume) < 0)
        goto out_init;
    if (path_from(cache_obj, &cache) < 0)
        goto out_resume;
    if (cache_obj != Py_None)
        compute.cache_dir = cache.s; /* "" = ids in memory only */
    if (paths_from(corpora, &owned, &paths, &n) < 0)
        goto out_cache;
    crnn_trainer *t = NULL;
    path_arg scratch = {0};
    if (plan_seconds > 0 && path_from(scratch_obj, &scratch) < 0)
        goto out_paths;
    if (resume.s) {
        LIBRARY_CALL(t = crnn_trainer_resume(resume.s, n ? paths[0] : NULL, &compute, &err));
    } else if (plan_seconds > 0) {
        crnn_plan plan;
        LIBRARY_CALL(t = crnn_trainer_plan(paths, (size_t)n, init.s, &cfg, given, &plan_rs,
                                           &compute, plan_seconds, plan_spent, scratch.s, &plan,
                                           &err));
    } else {
        LIBRARY_CALL(t = crnn_trainer_create_from(paths, (size_t)n, init.s, &cfg, &compute,
                                                  &err));
    }
    Py_XDECREF(scratch.bytes);
    if (!t)
        raise_error(err.status, &err);
    else
        self->t = t, rc = 0;
out_paths:
    Py_XDECREF(owned);
    PyMem_Free(paths);
out_cache:
    Py_XDECREF(cache.bytes);
out_resume:
    Py_XDECREF(resume.bytes);
out_init:
    Py_XDECREF(init.bytes);
    return rc;
}

static void Trainer_dealloc(TrainerObject *self)
{
    crnn_trainer_free(self->t);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int trainer_ready(TrainerObject *self)
{
    if (self->t)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "Trainer is not initialised");
    return -1;
}

/* step() -> loss. A signal that came during the step (Ctrl-C) is raised
 * after it, with the trainer consistent, so the caller can save. */
static PyObject *Trainer_step(TrainerObject *self, PyObject *unused)
{
    (void)unused;
    if (trainer_ready(self) < 0)
        return NULL;
    crnn_error err = {0};
    double loss = NAN;
    int rc;
    LIBRARY_CALL(rc = crnn_trainer_step(self->t, &loss, &err));
    if (rc != CRNN_OK)
        return raise_error(rc, &err);
    if (PyErr_CheckSignals() < 0)
        return NULL;
    return PyFloat_FromDouble(loss);
}

static PyObject *Trainer_evaluate(TrainerObject *self, PyObject *unused)
{
    (void)unused;
    if (trainer_ready(self) < 0)
        return NULL;
    crnn_error err = {0};
    double loss = NAN;
    int rc;
    LIBRARY_CALL(rc = crnn_trainer_evaluate(self->t, &loss, &err));
    if (rc != CRNN_OK)
        return raise_error(rc, &err);
    return PyFloat_FromDouble(loss);
}

/* measure(split: "validation" | "test", max_chars) -> (loss, characters read) */
static PyObject *Trainer_measure(TrainerObject *self, PyObject *args)
{
    PyObject *split_obj;
    unsigned long long max_chars;
    if (trainer_ready(self) < 0 || !PyArg_ParseTuple(args, "UK", &split_obj, &max_chars))
        return NULL;
    int split = 0, used = 0;
    PyObject *d = Py_BuildValue("{s:O}", "split", split_obj);
    if (!d)
        return NULL;
    int bad = get_named(d, "split", splits, &split, &used);
    Py_DECREF(d);
    if (bad < 0)
        return NULL;
    crnn_error err = {0};
    double loss = NAN;
    uint64_t read = 0;
    int rc;
    LIBRARY_CALL(rc = crnn_trainer_measure(self->t, (crnn_split_kind)split, max_chars, &loss,
                                           &read, &err));
    if (rc != CRNN_OK)
        return raise_error(rc, &err);
    return Py_BuildValue("(dK)", loss, (unsigned long long)read);
}

static PyObject *Trainer_save(TrainerObject *self, PyObject *arg)
{
    if (trainer_ready(self) < 0)
        return NULL;
    PyObject *path_obj;
    if (path_bytes(arg, &path_obj) < 0)
        return NULL;
    crnn_error err = {0};
    int rc;
    const char *path = PyBytes_AS_STRING(path_obj);
    LIBRARY_CALL(rc = crnn_trainer_save(self->t, path, &err));
    Py_DECREF(path_obj);
    if (rc != CRNN_OK)
        return raise_error(rc, &err);
    Py_RETURN_NONE;
}

static PyObject *Trainer_status(TrainerObject *self, PyObject *unused)
{
    (void)unused;
    if (trainer_ready(self) < 0)
        return NULL;
    crnn_trainer_status st;
    crnn_trainer_get_status(self->t, &st);
    return Py_BuildValue(
        "{s:K,s:d,s:K,s:N,s:N,s:K,s:K,s:K,s:K,s:i,s:K,s:K,s:z,s:s,s:d,s:N,s:K,s:i}", "step",
        (unsigned long long)st.step, "epoch", st.epoch, "steps_per_epoch",
        (unsigned long long)st.steps_per_epoch, "last_val_loss", PyFloat_FromDouble(st.last_val_loss),
        "best_val_loss", PyFloat_FromDouble(st.best_val_loss), "best_val_step",
        (unsigned long long)st.best_val_step, "train_chars", (unsigned long long)st.train_chars,
        "val_chars", (unsigned long long)st.val_chars, "test_chars",
        (unsigned long long)st.test_chars, "vocab_size", st.vocab_size, "corpus_bytes",
        (unsigned long long)st.corpus_bytes, "parameters", (unsigned long long)st.parameters,
        "origin_path", st.origin_path, "engine", st.engine ? st.engine : "", "learning_rate",
        st.learning_rate, "config", config_to_dict(&st.config), "last_val_chars",
        (unsigned long long)st.last_val_chars, "plan_open", st.plan_open);
}

static PyObject *Trainer_run_settings(TrainerObject *self, PyObject *unused)
{
    (void)unused;
    if (trainer_ready(self) < 0)
        return NULL;
    crnn_run_settings rs;
    crnn_trainer_get_run_settings(self->t, &rs);
    return Py_BuildValue("{s:K,s:K,s:K,s:d,s:K,s:K}", "max_iters",
                         (unsigned long long)rs.max_iters, "eval_every",
                         (unsigned long long)rs.eval_every, "save_every",
                         (unsigned long long)rs.save_every, "max_epochs", rs.max_epochs,
                         "patience", (unsigned long long)rs.patience, "eval_chars",
                         (unsigned long long)rs.eval_chars);
}

/* The keys of dict over *rs (the others kept); -1 with an exception. */
static int run_settings_from_dict(PyObject *dict, crnn_run_settings *rs)
{
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "the run settings must be a dict");
        return -1;
    }
    int used = 0;
    if (get_u64(dict, "max_iters", &rs->max_iters, &used) < 0 ||
        get_u64(dict, "eval_every", &rs->eval_every, &used) < 0 ||
        get_u64(dict, "save_every", &rs->save_every, &used) < 0 ||
        get_double(dict, "max_epochs", &rs->max_epochs, &used) < 0 ||
        get_u64(dict, "patience", &rs->patience, &used) < 0 ||
        get_u64(dict, "eval_chars", &rs->eval_chars, &used) < 0)
        return -1;
    if (used != (int)PyDict_Size(dict)) {
        PyErr_SetString(PyExc_TypeError, "unknown key in the run settings");
        return -1;
    }
    return 0;
}

static PyObject *Trainer_set_run_settings(TrainerObject *self, PyObject *dict)
{
    if (trainer_ready(self) < 0)
        return NULL;
    crnn_run_settings rs;
    crnn_trainer_get_run_settings(self->t, &rs);
    if (run_settings_from_dict(dict, &rs) < 0)
        return NULL;
    crnn_trainer_set_run_settings(self->t, &rs);
    Py_RETURN_NONE;
}

/* The run's plan as a dict, or None if it was not planned. */
static PyObject *Trainer_plan(TrainerObject *self, PyObject *unused)
{
    (void)unused;
    if (trainer_ready(self) < 0)
        return NULL;
    crnn_plan p;
    crnn_trainer_get_plan(self->t, &p);
    if (!(p.seconds > 0))
        Py_RETURN_NONE;
    return Py_BuildValue("{s:d,s:d,s:d,s:d,s:d,s:K,s:K,s:d,s:I,s:s,s:O}", "seconds", p.seconds,
                         "setup_seconds", p.setup_seconds, "train_chars_per_second",
                         p.train_chars_per_second, "eval_chars_per_second",
                         p.eval_chars_per_second, "save_seconds", p.save_seconds, "steps",
                         (unsigned long long)p.steps, "final_chars",
                         (unsigned long long)p.final_chars, "epochs", p.epochs, "chosen",
                         p.chosen, "command", p.command, "bf16", p.bf16 ? Py_True : Py_False);
}

/* set_plan_command(text): the equivalent command line the plan records. */
static PyObject *Trainer_set_plan_command(TrainerObject *self, PyObject *arg)
{
    if (trainer_ready(self) < 0)
        return NULL;
    const char *text = PyUnicode_AsUTF8(arg);
    if (!text)
        return NULL;
    crnn_plan p;
    crnn_trainer_get_plan(self->t, &p);
    snprintf(p.command, sizeof p.command, "%s", text);
    crnn_trainer_set_plan(self->t, &p);
    Py_RETURN_NONE;
}

static PyMethodDef Trainer_methods[] = {
    {"step", (PyCFunction)Trainer_step, METH_NOARGS,
     "step() -> loss: one optimisation step (the GIL released)"},
    {"evaluate", (PyCFunction)Trainer_evaluate, METH_NOARGS,
     "evaluate() -> validation loss (recorded as the last and maybe best)"},
    {"plan", (PyCFunction)Trainer_plan, METH_NOARGS,
     "plan() -> dict of how the run was planned for its time, or None"},
    {"set_plan_command", (PyCFunction)Trainer_set_plan_command, METH_O,
     "set_plan_command(text): the equivalent call the snapshots record"},
    {"measure", (PyCFunction)Trainer_measure, METH_VARARGS,
     "measure(split, max_chars) -> (loss, characters read)"},
    {"save", (PyCFunction)Trainer_save, METH_O, "save(path): a snapshot, written atomically"},
    {"status", (PyCFunction)Trainer_status, METH_NOARGS, "status() -> dict"},
    {"run_settings", (PyCFunction)Trainer_run_settings, METH_NOARGS, "run_settings() -> dict"},
    {"set_run_settings", (PyCFunction)Trainer_set_run_settings, METH_O,
     "set_run_settings(dict): keys given replace the trainer's"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TrainerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "charrnn._charrnn.Trainer",
    .tp_doc = "Trainer(corpora, config=None, init_from=None, resume=None, engine='auto', "
              "cache_dir=None, row_groups=0, memory_bytes=0): crnn_trainer.",
    .tp_basicsize = sizeof(TrainerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Trainer_init,
    .tp_dealloc = (destructor)Trainer_dealloc,
    .tp_methods = Trainer_methods,
};

/* ------------------------------------------------------------------ module functions */

static PyObject *mod_default_config(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    crnn_train_config c;
    crnn_train_config_default(&c);
    return config_to_dict(&c);
}

/* fit_config(config: dict, corpus_bytes) -> (config, class batch) */
static PyObject *mod_fit_config(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *config;
    unsigned long long bytes;
    if (!PyArg_ParseTuple(args, "O!K", &PyDict_Type, &config, &bytes))
        return NULL;
    crnn_train_config c;
    crnn_train_config_default(&c);
    if (config_from_dict(config, &c) < 0)
        return NULL;
    int wanted = crnn_train_config_fit(&c, bytes);
    return Py_BuildValue("(Ni)", config_to_dict(&c), wanted);
}

static PyObject *mod_corpus_bytes(PyObject *self, PyObject *seq)
{
    (void)self;
    PyObject *owned;
    const char **paths;
    Py_ssize_t n;
    if (paths_from(seq, &owned, &paths, &n) < 0)
        return NULL;
    crnn_error err = {0};
    uint64_t bytes = 0;
    int rc;
    LIBRARY_CALL(rc = crnn_corpus_bytes(paths, (size_t)n, &bytes, &err));
    Py_DECREF(owned);
    PyMem_Free(paths);
    if (rc != CRNN_OK)
        return raise_error(rc, &err);
    return PyLong_FromUnsignedLongLong(bytes);
}

static PyObject *mod_snapshot_info(PyObject *self, PyObject *arg)
{
    (void)self;
    PyObject *path_obj;
    if (path_bytes(arg, &path_obj) < 0)
        return NULL;
    crnn_snapshot_info in;
    crnn_error err = {0};
    int rc;
    const char *path = PyBytes_AS_STRING(path_obj);
    LIBRARY_CALL(rc = crnn_snapshot_read_info(path, &in, &err));
    Py_DECREF(path_obj);
    if (rc != CRNN_OK)
        return raise_error(rc, &err);
    static const char *const dtypes[] = {"f32", "f16", "bf16"};
    return Py_BuildValue(
        "{s:N,s:i,s:K,s:K,s:N,s:N,s:O,s:s,s:K,s:K}", "config", config_to_dict(&in.config),
        "vocab_size", in.vocab_size, "parameters", (unsigned long long)in.parameters, "step",
        (unsigned long long)in.step, "last_val_loss", PyFloat_FromDouble(in.last_val_loss),
        "best_val_loss", PyFloat_FromDouble(in.best_val_loss), "resumable",
        in.resumable ? Py_True : Py_False, "weights", dtypes[in.weights_dtype % 3],
        "corpus_bytes", (unsigned long long)in.corpus_bytes, "file_bytes",
        (unsigned long long)in.file_bytes);
}

static PyObject *mod_set_threads(PyObject *self, PyObject *arg)
{
    (void)self;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0 || n > 65536) {
        PyErr_SetString(PyExc_ValueError, "threads must be between 0 (all cores) and 65536");
        return NULL;
    }
    LIBRARY_CALL(crnn_set_threads((int)n));
    Py_RETURN_NONE;
}

static PyObject *mod_get_threads(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    return PyLong_FromLong(crnn_get_threads());
}

static PyMethodDef module_methods[] = {
    {"default_config", mod_default_config, METH_NOARGS,
     "default_config() -> dict: crnn_train_config_default"},
    {"fit_config", mod_fit_config, METH_VARARGS,
     "fit_config(config, corpus_bytes) -> (config, batch of the size class): "
     "crnn_train_config_fit"},
    {"corpus_bytes", mod_corpus_bytes, METH_O, "corpus_bytes(paths) -> int"},
    {"snapshot_info", mod_snapshot_info, METH_O, "snapshot_info(path) -> dict"},
    {"set_threads", mod_set_threads, METH_O, "set_threads(n): process-wide, 0 = all cores"},
    {"get_threads", mod_get_threads, METH_NOARGS, "get_threads() -> int"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "charrnn._charrnn",
    .m_doc = "libcharrnn's public header for the charrnn package (use charrnn, not this).",
    .m_size = -1,
    .m_methods = module_methods,
};

/* A new exception class named name under the module, deriving from bases. */
static PyObject *new_error(PyObject *module, const char *name, const char *doc, PyObject *bases)
{
    char qualified[80];
    snprintf(qualified, sizeof qualified, "charrnn.%s", name);
    PyObject *cls = PyErr_NewExceptionWithDoc(qualified, doc, bases, NULL);
    Py_XDECREF(bases);
    if (!cls)
        return NULL;
    if (PyModule_AddObjectRef(module, name, cls) < 0) {
        Py_DECREF(cls);
        return NULL;
    }
    return cls; /* one reference kept for good in the static */
}

PyMODINIT_FUNC PyInit__charrnn(void)
{
    lib_lock = PyThread_allocate_lock();
    if (!lib_lock)
        return PyErr_NoMemory();
    if (PyType_Ready(&GeneratorType) < 0 || PyType_Ready(&EvaluatorType) < 0 ||
        PyType_Ready(&TrainerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Generator", (PyObject *)&GeneratorType) < 0 ||
        PyModule_AddObjectRef(m, "Evaluator", (PyObject *)&EvaluatorType) < 0 ||
        PyModule_AddObjectRef(m, "Trainer", (PyObject *)&TrainerType) < 0 ||
        PyModule_AddStringConstant(m, "version", CRNN_VERSION_STRING) < 0 ||
        PyModule_AddStringConstant(m, "backend", crnn_backend_description()) < 0)
        goto fail;
    /* Library failures: one base class, and the Python class each is most like. */
    if (!(Error = new_error(m, "Error", "A failure of libcharrnn; .status is its short name "
                                        "('io', 'format', ...).", Py_NewRef(PyExc_Exception))))
        goto fail;
#define SUB(var, name, doc, other)                                                            \
    if (!(var = new_error(m, name, doc, PyTuple_Pack(2, Error, other))))                       \
        goto fail;
    SUB(FileError, "FileError", "A file could not be read or written, or the disk is full "
        "(an OSError).", PyExc_OSError)
    SUB(ArgumentError, "ArgumentError", "An argument or option out of range (a ValueError).",
        PyExc_ValueError)
    SUB(EncodingError, "EncodingError", "Invalid UTF-8 (a ValueError).", PyExc_ValueError)
    SUB(VocabularyError, "VocabularyError", "A character the model never saw (a ValueError).",
        PyExc_ValueError)
    SUB(DataError, "DataError", "The corpus or text does not suit the request (a ValueError).",
        PyExc_ValueError)
    SUB(NumericError, "NumericError", "The loss or the gradients became NaN or infinite.",
        PyExc_ArithmeticError)
    SUB(OutOfMemory, "OutOfMemory", "An allocation failed or would be too large (a "
        "MemoryError).", PyExc_MemoryError)
#undef SUB
    if (!(SnapshotError = new_error(m, "SnapshotError", "Not a snapshot, damaged, or made by a "
                                    "newer charrnn.", PyTuple_Pack(1, Error))))
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
