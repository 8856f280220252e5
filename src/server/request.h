/*
 * request.h: the body of POST /v1/completions, read and checked. Pure: no
 * I/O, no globals, no threads, so the parser can be fuzzed on its own. It
 * knows the server's limits but nothing of models or vocabularies (the
 * generator checks a prompt's characters when the request is queued).
 */
#ifndef SRV_REQUEST_H
#define SRV_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

enum {
    SRV_MAX_STOP = 4,           /* stop texts per request, as OpenAI allows */
    SRV_MAX_STOP_BYTES = 1000,  /* bytes of one stop text */
    SRV_DEFAULT_MAX_TOKENS = 16 /* OpenAI's default */
};

/* What the server allows (from its command line). */
typedef struct srv_limits {
    long long max_length; /* characters of a prompt and of max_tokens (--max-length) */
    int max_streams;      /* streams one request may take: n x prompts (--max-clients) */
} srv_limits;

/* One completion request. Strings are the request's own copies. */
typedef struct srv_completion {
    char *model;             /* NULL: not given (the only model, if there is one) */
    char **prompts;          /* (n_prompts) UTF-8 without NUL bytes; "" when none was given */
    size_t *prompt_lens;     /* (n_prompts) bytes */
    uint64_t *prompt_chars;  /* (n_prompts) characters (code points) */
    int n_prompts;           /* 1 for a string; an array's length */
    uint64_t max_tokens;     /* characters to generate per choice */
    crnn_sample_options sampling;
    int n;                   /* choices per prompt */
    char *stop[SRV_MAX_STOP];
    int n_stop;
    uint64_t seed;           /* choice i (over all prompts) uses seed + i */
    int have_seed;           /* 0: the server picks one from the clock */
    int stream;              /* answer with Server-Sent Events */
} srv_completion;

/* Why a request was refused: an HTTP status, the field at fault ("" for
 * none: JSON null) and one line for people. */
typedef struct srv_error {
    int status;
    char param[32];
    char message[480];
} srv_error;

/* Reads body (len bytes, not NUL-terminated) into out. Returns 0, or -1 with
 * err filled (status 400) and out left empty; out is released with
 * srv_completion_free either way. Fields used: model, prompt, max_tokens,
 * temperature, top_p, top_k, n, stop, seed, stream; any other field is
 * accepted and ignored (echo, logprobs, best_of, presence_penalty, ...). A
 * null field counts as absent. */
int srv_parse_completion(const char *body, size_t len, const srv_limits *limits,
                         srv_completion *out, srv_error *err);
void srv_completion_free(srv_completion *c);

/* Fills err (param names the field at fault, NULL for none); returns -1. */
int srv_fail(srv_error *err, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
