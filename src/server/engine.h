/*
 * engine.h: continuous batching for charrnn serve. One thread owns every
 * model's crnn_generator and loops: check the prompts of new requests, admit
 * waiting requests into free slots, step every model that has streams
 * running, hand each request its new text. HTTP threads submit jobs and
 * collect their text; they never touch a generator. It knows no HTTP and no
 * JSON.
 */
#ifndef SRV_ENGINE_H
#define SRV_ENGINE_H

#include <stdint.h>

#include "charrnn.h"
#include "request.h"

typedef struct srv_engine srv_engine;
typedef struct srv_job srv_job;

/* Loads the models (names[i] is how the API calls paths[i]): each runs up to
 * max_clients streams at once, and up to max_queue requests wait for a slot.
 * NULL with err set (the model that failed to load named in it). */
srv_engine *srv_engine_open(const char *const *paths, const char *const *names, int n_models,
                            int max_clients, int max_queue, crnn_error *err);
/* Starts the engine's thread: CRNN_OK or CRNN_ERR_NOMEM. */
int srv_engine_start(srv_engine *e, crnn_error *err);
/* New jobs get 503 from now on (shutdown has begun). */
void srv_engine_refuse(srv_engine *e);
/* Waits up to seconds for every job to end; 1 if they all did. */
int srv_engine_drain(srv_engine *e, double seconds);
/* Ends the jobs left (their collectors see SRV_ABORTED) and joins the thread. */
void srv_engine_stop(srv_engine *e);
/* Stops if needed, then frees the generators. */
void srv_engine_free(srv_engine *e);

int srv_engine_models(const srv_engine *e);
const char *srv_engine_model_name(const srv_engine *e, int model);
/* The model named name, or -1. */
int srv_engine_find(const srv_engine *e, const char *name);

/* Queues a request for model (taking ownership of *req, which is emptied,
 * whatever the outcome): the job, or NULL with err: 429 (the queue is full),
 * 503 (shutting down), 500 (out of memory). Choice i, over all prompts in
 * order, uses seed + i. */
srv_job *srv_job_submit(srv_engine *e, int model, srv_completion *req, uint64_t seed,
                        srv_error *err);

/* Says whether the client went away (checked while waiting). */
typedef int (*srv_gone_fn)(void *cls);

enum {
    SRV_MORE = 0,     /* pieces hold new text or ends */
    SRV_FINISHED = 1, /* every choice has ended, all of it collected (now or before) */
    SRV_FAILED = -1,  /* the engine refused or lost the job: err says why */
    SRV_GONE = -2,    /* gone() said so: release the job, which frees its slots */
};

/* Waits until the job's prompts have been checked against the model's
 * vocabulary (it may still wait for a slot): SRV_MORE, or SRV_FAILED with
 * err (400 for a prompt the model cannot read, 503 when shutting down), or
 * SRV_GONE. */
int srv_job_wait_checked(srv_job *job, srv_error *err, srv_gone_fn gone, void *cls);

/* What one choice made since the last collect. */
typedef struct srv_piece {
    char *text;     /* UTF-8, malloc'ed, the caller frees; NULL when len is 0 */
    size_t len;
    uint64_t chars; /* characters generated so far */
    int end;        /* crnn_stream_end, reported once: in the collect that first sees it */
} srv_piece;

/* Waits for news: with all, until every choice has ended; otherwise until
 * any choice has text or an end not yet collected. Fills pieces (one per
 * choice, n_prompts x n of them, prompt-major) and returns SRV_MORE (or
 * SRV_FINISHED when nothing is left to come), SRV_FAILED with err (500 an
 * engine failure, 503 shutdown), or SRV_GONE. */
int srv_job_collect(srv_job *job, srv_piece *pieces, int all, srv_error *err, srv_gone_fn gone,
                    void *cls);

/* The HTTP side is done with the job: it is cancelled if still queued or
 * running (its slots free at once), and freed when the engine is done too. */
void srv_job_release(srv_job *job);

#endif
