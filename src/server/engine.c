/*
 * engine.c: the thread that owns the generators (the library's objects are
 * not thread-safe, and its header asks a program serving several models to
 * drive them from one thread, so the steps of different models never contend
 * for one thread pool). Requests wait in a FIFO per model; a request takes
 * n x prompts slots at once and holds them until its last choice ends.
 * Everything shared with HTTP threads sits behind one mutex; the generator
 * steps run outside it. It does not speak HTTP or JSON.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

enum job_state {
    JOB_NEW,      /* queued, prompts not yet checked */
    JOB_CHECKED,  /* queued, prompts readable by the model */
    JOB_RUNNING,  /* its streams are in the generator */
    JOB_FINISHED, /* every choice ended */
    JOB_FAILED,   /* refused or lost: err */
};

typedef struct choice {
    srv_job *job;
    int64_t id;        /* generator stream, -1 before admission */
    char *text;        /* (cap) text not yet collected, len bytes */
    size_t len, cap;
    uint64_t chars;
    int end;           /* crnn_stream_end */
    int reported;      /* the end has been collected */
} choice;

typedef struct model {
    char *name;
    crnn_generator *g;      /* capacity max_clients + 1: the spare slot checks prompts */
    srv_job *queue, *queue_tail; /* waiting for admission, in arrival order */
    int waiting;            /* queued jobs that hold no slots: at most max_queue */
    int reserved;           /* streams of the jobs that hold slots (queued or running) */
    srv_job *running;
    crnn_stream_update *updates; /* (capacity) */
    int n_updates, step_rc;
    crnn_error step_err;
} model;

struct srv_job {
    srv_engine *e;
    model *m;
    srv_completion req;
    uint64_t seed;
    int streams;        /* n_prompts x n */
    int holds;          /* holds `streams` slots of its model */
    enum job_state state;
    int cancelled;      /* the client left while it ran: the engine cancels its streams */
    int refs;           /* the engine's (while queued or running) and the HTTP side's */
    srv_error err;
    pthread_cond_t cond; /* news for the HTTP side */
    choice *choices;    /* (streams) */
    int ended;
    srv_job *next;      /* in the model's queue or running list */
};

struct srv_engine {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* new work for the engine thread */
    pthread_cond_t idle; /* a job was freed */
    model *models;
    int n_models, max_clients, max_queue;
    int jobs;            /* jobs not yet freed */
    int refusing, stopping, started;
    pthread_t thread;
};

/* ------------------------------------------------------------------ jobs */

static void job_free(srv_engine *e, srv_job *j)
{
    for (int i = 0; i < j->streams; i++)
        free(j->choices[i].text);
    free(j->choices);
    srv_completion_free(&j->req);
    pthread_cond_destroy(&j->cond);
    free(j);
    e->jobs--;
    pthread_cond_broadcast(&e->idle);
}

/* Drops one reference (lock held). */
static void job_unref(srv_engine *e, srv_job *j)
{
    if (--j->refs == 0)
        job_free(e, j);
}

static void unlink_job(srv_job **list, srv_job **tail, srv_job *j)
{
    srv_job *prev = NULL;
    for (srv_job *p = *list; p; prev = p, p = p->next) {
        if (p != j)
            continue;
        if (prev)
            prev->next = p->next;
        else
            *list = p->next;
        if (tail && *tail == p)
            *tail = prev;
        p->next = NULL;
        return;
    }
}

/* Queued jobs take the slots freed, in order (the first that does not fit
 * keeps the others waiting: no overtaking by smaller requests). */
static void promote(srv_engine *e, model *m)
{
    for (srv_job *j = m->queue; j; j = j->next) {
        if (j->holds)
            continue;
        if (m->reserved + j->streams > e->max_clients)
            return;
        j->holds = 1;
        m->reserved += j->streams;
        m->waiting--;
    }
}

/* The job leaves its model (queue or running list) for good. */
static void job_leave(srv_engine *e, srv_job *j, enum job_state state)
{
    model *m = j->m;
    if (j->state == JOB_RUNNING)
        unlink_job(&m->running, NULL, j);
    else
        unlink_job(&m->queue, &m->queue_tail, j);
    if (j->holds) {
        m->reserved -= j->streams;
        j->holds = 0;
    } else {
        m->waiting--;
    }
    j->state = state;
    promote(e, m);
    pthread_cond_broadcast(&j->cond);
    pthread_cond_signal(&e->wake);
}

static void job_fail(srv_engine *e, srv_job *j, int status, const char *message)
{
    srv_fail(&j->err, status, status == 400 ? "prompt" : NULL, "%s", message);
    job_leave(e, j, JOB_FAILED);
    job_unref(e, j);
}

srv_job *srv_job_submit(srv_engine *e, int mi, srv_completion *req, uint64_t seed, srv_error *err)
{
    srv_job *j = calloc(1, sizeof *j);
    int streams = req->n_prompts * req->n;
    if (!j || !(j->choices = calloc((size_t)streams, sizeof *j->choices))) {
        free(j);
        srv_completion_free(req);
        srv_fail(err, 500, NULL, "out of memory for the request");
        return NULL;
    }
    j->req = *req;
    memset(req, 0, sizeof *req);
    j->seed = seed;
    j->streams = streams;
    j->state = JOB_NEW;
    j->refs = 2;
    pthread_cond_init(&j->cond, NULL);
    for (int i = 0; i < streams; i++) {
        j->choices[i].job = j;
        j->choices[i].id = -1;
    }
    pthread_mutex_lock(&e->lock);
    model *m = &e->models[mi];
    j->e = e;
    j->m = m;
    e->jobs++;
    const char *refusal = NULL;
    int status = 0;
    if (e->refusing || e->stopping) {
        status = 503;
        refusal = "the server is shutting down";
    } else if (!m->waiting && m->reserved + streams <= e->max_clients) {
        j->holds = 1; /* runs at the next step */
        m->reserved += streams;
    } else if (m->waiting >= e->max_queue) {
        status = 429;
        refusal = "too many requests: every slot of this model is taken and its queue is full; "
                  "try again later";
    } else {
        m->waiting++;
    }
    if (refusal) {
        srv_fail(err, status, NULL, "%s", refusal);
        j->refs = 1;
        job_unref(e, j);
        pthread_mutex_unlock(&e->lock);
        return NULL;
    }
    if (m->queue_tail)
        m->queue_tail->next = j;
    else
        m->queue = j;
    m->queue_tail = j;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    return j;
}

/* Waits for the job's news for at most 100 ms (lock held): the caller then
 * asks gone() again, so a client that left is noticed within that time. */
static void wait_news(srv_job *j)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += 100 * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&j->cond, &j->e->lock, &t);
}

int srv_job_wait_checked(srv_job *j, srv_error *err, srv_gone_fn gone, void *cls)
{
    pthread_mutex_lock(&j->e->lock);
    int rc = SRV_MORE;
    while (j->state == JOB_NEW) {
        if (gone && gone(cls)) {
            rc = SRV_GONE;
            break;
        }
        wait_news(j);
    }
    if (j->state == JOB_FAILED) {
        *err = j->err;
        rc = SRV_FAILED;
    }
    pthread_mutex_unlock(&j->e->lock);
    return rc;
}

/* Something for a collector (lock held). */
static int has_news(const srv_job *j, int all)
{
    if (j->state == JOB_FAILED || j->state == JOB_FINISHED)
        return 1;
    if (all)
        return 0;
    for (int i = 0; i < j->streams; i++)
        if (j->choices[i].len || (j->choices[i].end && !j->choices[i].reported))
            return 1;
    return 0;
}

int srv_job_collect(srv_job *j, srv_piece *pieces, int all, srv_error *err, srv_gone_fn gone,
                    void *cls)
{
    memset(pieces, 0, (size_t)j->streams * sizeof *pieces);
    pthread_mutex_lock(&j->e->lock);
    int rc = SRV_MORE;
    while (!has_news(j, all)) {
        if (gone && gone(cls)) {
            rc = SRV_GONE;
            goto out;
        }
        wait_news(j);
    }
    if (j->state == JOB_FAILED) {
        *err = j->err;
        rc = SRV_FAILED;
        goto out;
    }
    int left = 0;
    for (int i = 0; i < j->streams; i++) {
        choice *c = &j->choices[i];
        pieces[i] = (srv_piece){c->len ? c->text : NULL, c->len, c->chars, 0};
        if (c->len) { /* the buffer goes to the caller */
            c->text = NULL;
            c->len = c->cap = 0;
        }
        if (c->end && !c->reported) {
            pieces[i].end = c->end;
            c->reported = 1;
        }
        left += !c->reported;
    }
    if (!left)
        rc = SRV_FINISHED;
out:
    pthread_mutex_unlock(&j->e->lock);
    return rc;
}

void srv_job_release(srv_job *j)
{
    srv_engine *e = j->e;
    pthread_mutex_lock(&e->lock);
    if (j->state == JOB_NEW || j->state == JOB_CHECKED) {
        job_leave(e, j, JOB_FAILED); /* never started: gone from the queue now */
        j->refs--;                   /* the engine's reference */
    } else if (j->state == JOB_RUNNING) {
        j->cancelled = 1; /* the engine thread owns the generator: it cancels */
        pthread_cond_signal(&e->wake);
    }
    job_unref(e, j);
    pthread_mutex_unlock(&e->lock);
}

/* ------------------------------------------------------------------ the engine thread */

/* Adds stream i of job j to the generator; the id or a negative status. */
static int64_t add_stream(model *m, srv_job *j, int i, crnn_error *err)
{
    const srv_completion *q = &j->req;
    int p = i / q->n;
    crnn_stream_request r;
    crnn_stream_request_default(&r);
    r.prime = q->prompts[p];
    r.prime_len = q->prompt_lens[p];
    r.seed = j->seed + (uint64_t)i;
    r.options = q->sampling;
    r.max_chars = q->max_tokens;
    r.stop = (const char *const *)q->stop;
    r.n_stop = q->n_stop;
    r.user = &j->choices[i];
    return crnn_generator_add(m->g, &r, err);
}

/* Checks each prompt of the new jobs by adding it in the spare slot and
 * cancelling it at once (the generator is what knows the vocabulary; a
 * stream added costs nothing until a step). */
static void check_new(srv_engine *e, model *m)
{
    for (srv_job *j = m->queue, *next; j; j = next) {
        next = j->next;
        if (j->state != JOB_NEW)
            continue;
        crnn_error err = {0};
        int rc = 0;
        for (int p = 0; p < j->req.n_prompts && rc >= 0; p++) {
            int64_t id = add_stream(m, j, p * j->req.n, &err);
            if (id >= 0)
                crnn_generator_cancel(m->g, id);
            rc = id < 0 ? (int)id : 0;
        }
        if (rc < 0) {
            int client = rc == CRNN_ERR_VOCAB || rc == CRNN_ERR_UTF8 || rc == CRNN_ERR_ARG;
            job_fail(e, j, client ? 400 : 500, err.message);
            continue;
        }
        j->state = JOB_CHECKED;
        pthread_cond_broadcast(&j->cond);
    }
}

/* Moves the queued jobs that hold slots into the generator. */
static void admit(srv_engine *e, model *m)
{
    for (srv_job *j = m->queue, *next; j; j = next) {
        next = j->next;
        if (!j->holds || j->state != JOB_CHECKED)
            continue;
        crnn_error err = {0};
        int i;
        for (i = 0; i < j->streams; i++) {
            int64_t id = add_stream(m, j, i, &err);
            if (id < 0)
                break;
            j->choices[i].id = id;
        }
        if (i < j->streams) { /* out of memory: undo */
            while (i-- > 0)
                crnn_generator_cancel(m->g, j->choices[i].id);
            job_fail(e, j, 500, err.message);
            continue;
        }
        unlink_job(&m->queue, &m->queue_tail, j);
        j->state = JOB_RUNNING;
        j->next = m->running;
        m->running = j;
        pthread_cond_broadcast(&j->cond);
    }
}

/* Frees the slots of the jobs whose clients left. */
static void drop_cancelled(srv_engine *e, model *m)
{
    for (srv_job *j = m->running, *next; j; j = next) {
        next = j->next;
        if (!j->cancelled)
            continue;
        for (int i = 0; i < j->streams; i++)
            if (!j->choices[i].end)
                crnn_generator_cancel(m->g, j->choices[i].id);
        job_leave(e, j, JOB_FAILED);
        job_unref(e, j);
    }
}

static int append(choice *c, const char *text, size_t len)
{
    if (c->len + len > c->cap) {
        size_t cap = (c->len + len) * 2 + 64;
        char *t = realloc(c->text, cap);
        if (!t)
            return -1;
        c->text = t;
        c->cap = cap;
    }
    memcpy(c->text + c->len, text, len);
    c->len += len;
    return 0;
}

/* Hands the step's updates to their jobs (lock held). */
static void deliver(srv_engine *e, model *m)
{
    if (m->step_rc != CRNN_OK) {
        while (m->running) {
            srv_job *j = m->running;
            for (int i = 0; i < j->streams; i++)
                if (!j->choices[i].end)
                    crnn_generator_cancel(m->g, j->choices[i].id);
            job_fail(e, j, 500, m->step_err.message);
        }
        m->step_rc = CRNN_OK;
        return;
    }
    for (int u = 0; u < m->n_updates; u++) {
        const crnn_stream_update *up = &m->updates[u];
        choice *c = up->user;
        srv_job *j = c->job;
        if (up->len && append(c, up->text, up->len) < 0 && !j->cancelled) {
            j->cancelled = 1; /* out of memory: the job fails at the next turn */
            srv_fail(&j->err, 500, NULL, "out of memory for the generated text");
        }
        c->chars = up->chars;
        if (up->end) {
            c->end = up->end;
            if (++j->ended == j->streams) {
                job_leave(e, j, JOB_FINISHED);
                job_unref(e, j);
                continue;
            }
        }
        pthread_cond_broadcast(&j->cond);
    }
    m->n_updates = 0;
}

static void *engine_main(void *arg)
{
    srv_engine *e = arg;
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        int busy = 0;
        for (int k = 0; k < e->n_models; k++) {
            model *m = &e->models[k];
            check_new(e, m);
            drop_cancelled(e, m);
            admit(e, m);
            busy |= crnn_generator_running(m->g) > 0;
        }
        if (!busy) {
            pthread_cond_wait(&e->wake, &e->lock);
            continue;
        }
        pthread_mutex_unlock(&e->lock);
        for (int k = 0; k < e->n_models; k++) {
            model *m = &e->models[k];
            if (crnn_generator_running(m->g) > 0)
                m->step_rc = crnn_generator_step(m->g, m->updates, &m->n_updates, &m->step_err);
        }
        pthread_mutex_lock(&e->lock);
        for (int k = 0; k < e->n_models; k++)
            deliver(e, &e->models[k]);
    }
    /* Shutdown: the jobs left end now. */
    for (int k = 0; k < e->n_models; k++) {
        model *m = &e->models[k];
        while (m->running) {
            srv_job *j = m->running;
            for (int i = 0; i < j->streams; i++)
                if (!j->choices[i].end)
                    crnn_generator_cancel(m->g, j->choices[i].id);
            job_fail(e, j, 503, "the server is shutting down");
        }
        while (m->queue)
            job_fail(e, m->queue, 503, "the server is shutting down");
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* ------------------------------------------------------------------ the engine */

srv_engine *srv_engine_open(const char *const *paths, const char *const *names, int n_models,
                            int max_clients, int max_queue, crnn_error *err)
{
    srv_engine *e = calloc(1, sizeof *e);
    if (!e || !(e->models = calloc((size_t)n_models, sizeof *e->models))) {
        free(e);
        if (err) {
            err->status = CRNN_ERR_NOMEM;
            strcpy(err->message, "out of memory");
        }
        return NULL;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    pthread_cond_init(&e->idle, NULL);
    e->n_models = n_models;
    e->max_clients = max_clients;
    e->max_queue = max_queue;
    for (int k = 0; k < n_models; k++) {
        model *m = &e->models[k];
        m->g = crnn_generator_open(paths[k], max_clients + 1, err);
        if (!m->g)
            goto fail;
        m->name = strdup(names[k]);
        m->updates = calloc((size_t)max_clients + 1, sizeof *m->updates);
        if (!m->name || !m->updates) {
            if (err) {
                err->status = CRNN_ERR_NOMEM;
                strcpy(err->message, "out of memory");
            }
            goto fail;
        }
    }
    return e;
fail:
    srv_engine_free(e);
    return NULL;
}

int srv_engine_start(srv_engine *e, crnn_error *err)
{
    int rc = pthread_create(&e->thread, NULL, engine_main, e);
    if (rc) {
        if (err) {
            err->status = CRNN_ERR_NOMEM;
            snprintf(err->message, sizeof err->message, "cannot start the engine thread: %s",
                     strerror(rc));
        }
        return CRNN_ERR_NOMEM;
    }
    e->started = 1;
    return CRNN_OK;
}

void srv_engine_refuse(srv_engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->refusing = 1;
    pthread_mutex_unlock(&e->lock);
}

int srv_engine_drain(srv_engine *e, double seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    double whole = (double)(long)seconds;
    t.tv_sec += (time_t)whole;
    t.tv_nsec += (long)((seconds - whole) * 1e9);
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    while (e->jobs > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&e->idle, &e->lock, &t);
    int drained = e->jobs == 0;
    pthread_mutex_unlock(&e->lock);
    return drained;
}

void srv_engine_stop(srv_engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    if (e->started)
        pthread_join(e->thread, NULL);
    e->started = 0;
}

void srv_engine_free(srv_engine *e)
{
    if (!e)
        return;
    srv_engine_stop(e);
    for (int k = 0; k < e->n_models; k++) {
        crnn_generator_free(e->models[k].g);
        free(e->models[k].name);
        free(e->models[k].updates);
    }
    free(e->models);
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->idle);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

int srv_engine_models(const srv_engine *e)
{
    return e->n_models;
}

const char *srv_engine_model_name(const srv_engine *e, int k)
{
    return e->models[k].name;
}

int srv_engine_find(const srv_engine *e, const char *name)
{
    for (int k = 0; k < e->n_models; k++)
        if (!strcmp(e->models[k].name, name))
            return k;
    return -1;
}
