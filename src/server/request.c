/*
 * request.c: POST /v1/completions bodies, read with jansson and checked field
 * by field against the server's limits; every refusal names its field. It
 * does not know the models: an unknown model name or a prompt character the
 * model never saw is found later, by the engine.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "request.h"

int srv_fail(srv_error *err, int status, const char *param, const char *fmt, ...)
{
    err->status = status;
    snprintf(err->param, sizeof err->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

void srv_completion_free(srv_completion *c)
{
    free(c->model);
    for (int i = 0; c->prompts && i < c->n_prompts; i++)
        free(c->prompts[i]);
    free(c->prompts);
    free(c->prompt_lens);
    free(c->prompt_chars);
    for (int i = 0; i < c->n_stop; i++)
        free(c->stop[i]);
    memset(c, 0, sizeof *c);
}

/* Characters in valid UTF-8 (jansson has checked it): the bytes that start one. */
static uint64_t utf8_chars(const char *s, size_t len)
{
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static char *copy(const char *s, size_t len)
{
    char *t = malloc(len + 1);
    if (t) {
        memcpy(t, s, len);
        t[len] = 0;
    }
    return t;
}

/* The member, or NULL when absent or null. */
static json_t *field(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return json_is_null(v) ? NULL : v;
}

/* An integer field in [min, max] into *out (left as it is when absent). */
static int get_int(json_t *root, const char *key, long long min, long long max, long long *out,
                   const char *limit_note, srv_error *err)
{
    json_t *v = field(root, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return srv_fail(err, 400, key, "%s must be a whole number", key);
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return srv_fail(err, 400, key, "%s must be between %lld and %lld%s (got %lld)", key, min,
                        max, limit_note, x);
    *out = x;
    return 0;
}

/* A number field in [min, max] (min excluded if open) into *out. */
static int get_number(json_t *root, const char *key, double min, int open, double max,
                      float *out, srv_error *err)
{
    json_t *v = field(root, key);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return srv_fail(err, 400, key, "%s must be a number", key);
    double x = json_number_value(v);
    float f = (float)x;
    if (!(open ? f > min : f >= min) || !(x <= max))
        return srv_fail(err, 400, key, "%s must be %s %g and at most %g (got %g)", key,
                        open ? "above" : "at least", min, max, x);
    *out = f;
    return 0;
}

static int nomem(srv_error *err)
{
    return srv_fail(err, 500, NULL, "out of memory reading the request");
}

static int get_prompts(json_t *root, const srv_limits *lim, srv_completion *c, srv_error *err)
{
    json_t *v = field(root, "prompt");
    size_t count = 1;
    if (json_is_array(v)) {
        count = json_array_size(v);
        if (count == 0)
            return srv_fail(err, 400, "prompt", "prompt is an empty array");
        if (count > (size_t)lim->max_streams)
            return srv_fail(err, 400, "prompt",
                            "prompt has %zu texts; this server takes at most %d at once "
                            "(--max-clients)", count, lim->max_streams);
    } else if (v && !json_is_string(v)) {
        return srv_fail(err, 400, "prompt", "prompt must be a string or an array of strings");
    }
    c->prompts = calloc(count, sizeof *c->prompts);
    c->prompt_lens = calloc(count, sizeof *c->prompt_lens);
    c->prompt_chars = calloc(count, sizeof *c->prompt_chars);
    if (!c->prompts || !c->prompt_lens || !c->prompt_chars)
        return nomem(err);
    c->n_prompts = (int)count;
    for (size_t i = 0; i < count; i++) {
        json_t *p = json_is_array(v) ? json_array_get(v, i) : v;
        if (p && !json_is_string(p))
            return srv_fail(err, 400, "prompt",
                            "prompt must be a string or an array of strings (token ids are not "
                            "taken: charrnn reads characters); item %zu is not a string", i);
        const char *s = p ? json_string_value(p) : "";
        size_t len = p ? json_string_length(p) : 0;
        uint64_t chars = utf8_chars(s, len);
        if (chars > (uint64_t)lim->max_length)
            return srv_fail(err, 400, "prompt",
                            "prompt is %llu characters long; this server takes at most %lld "
                            "(--max-length)", (unsigned long long)chars, lim->max_length);
        if (!(c->prompts[i] = copy(s, len)))
            return nomem(err);
        c->prompt_lens[i] = len;
        c->prompt_chars[i] = chars;
    }
    return 0;
}

static int get_stop(json_t *root, srv_completion *c, srv_error *err)
{
    json_t *v = field(root, "stop");
    if (!v)
        return 0;
    size_t count = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_array(v) && !json_is_string(v))
        return srv_fail(err, 400, "stop", "stop must be a string or an array of strings");
    if (count > SRV_MAX_STOP)
        return srv_fail(err, 400, "stop", "stop has %zu texts; at most %d are allowed", count,
                        SRV_MAX_STOP);
    for (size_t i = 0; i < count; i++) {
        json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(s))
            return srv_fail(err, 400, "stop", "stop must be a string or an array of strings");
        size_t len = json_string_length(s);
        if (len == 0)
            return srv_fail(err, 400, "stop", "a stop text is empty");
        if (len > SRV_MAX_STOP_BYTES)
            return srv_fail(err, 400, "stop", "a stop text is %zu bytes long; at most %d are "
                            "allowed", len, SRV_MAX_STOP_BYTES);
        if (strlen(json_string_value(s)) != len) /* jansson refuses \u0000; be sure */
            return srv_fail(err, 400, "stop", "a stop text holds a NUL character");
        if (!(c->stop[c->n_stop] = copy(json_string_value(s), len)))
            return nomem(err);
        c->n_stop++;
    }
    return 0;
}

int srv_parse_completion(const char *body, size_t len, const srv_limits *lim,
                         srv_completion *c, srv_error *err)
{
    memset(c, 0, sizeof *c);
    crnn_sample_options_default(&c->sampling);
    c->n = 1;
    c->max_tokens = SRV_DEFAULT_MAX_TOKENS;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return srv_fail(err, 400, NULL, "the body is not valid JSON: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
    int rc = -1;
    long long n = 1, top_k = 0, seed = 0;
    /* OpenAI's default, unless --max-length is shorter (found by fuzz_request) */
    long long max_tokens = lim->max_length < SRV_DEFAULT_MAX_TOKENS ? lim->max_length
                                                                    : SRV_DEFAULT_MAX_TOKENS;
    if (!json_is_object(root)) {
        srv_fail(err, 400, NULL, "the body must be a JSON object");
        goto out;
    }
    json_t *model = field(root, "model"), *stream = field(root, "stream");
    if (model && !json_is_string(model)) {
        srv_fail(err, 400, "model", "model must be a string");
        goto out;
    }
    if (model && !(c->model = copy(json_string_value(model), json_string_length(model)))) {
        nomem(err);
        goto out;
    }
    if (stream && !json_is_boolean(stream)) {
        srv_fail(err, 400, "stream", "stream must be true or false");
        goto out;
    }
    c->stream = json_is_true(stream);
    if (get_prompts(root, lim, c, err) < 0 ||
        get_int(root, "max_tokens", 0, lim->max_length, &max_tokens, " (--max-length)", err) < 0 ||
        get_number(root, "temperature", 0, 0, 2, &c->sampling.temperature, err) < 0 ||
        get_number(root, "top_p", 0, 1, 1, &c->sampling.top_p, err) < 0 ||
        get_int(root, "top_k", 0, 1 << 21, &top_k, "", err) < 0 ||
        get_int(root, "n", 1, lim->max_streams, &n, " (--max-clients)", err) < 0 ||
        get_stop(root, c, err) < 0 ||
        get_int(root, "seed", 0, INT64_MAX, &seed, "", err) < 0)
        goto out;
    if (n * c->n_prompts > lim->max_streams) {
        srv_fail(err, 400, "n", "n (%lld) times the %d prompts is more than the %d streams this "
                 "server runs at once (--max-clients)", n, c->n_prompts, lim->max_streams);
        goto out;
    }
    c->max_tokens = (uint64_t)max_tokens;
    c->sampling.top_k = (int)top_k;
    c->n = (int)n;
    c->seed = (uint64_t)seed;
    c->have_seed = field(root, "seed") != NULL;
    rc = 0;
out:
    json_decref(root);
    if (rc < 0)
        srv_completion_free(c);
    return rc;
}
