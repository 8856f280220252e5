/*
 * http.c: the HTTP side of charrnn serve, on libmicrohttpd with a thread per
 * connection (a handler may block while its request waits for the engine):
 * routing, the API key, request bodies, JSON and Server-Sent Events
 * responses, the listening socket, signals and the graceful stop. Requests
 * are read by request.c and run by engine.c; nothing here touches a model.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h> /* POLLRDHUP: _GNU_SOURCE, set for the whole project */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "engine.h"
#include "request.h"
#include "server.h"

enum {
    BODY_LIMIT = 1 << 20, /* bytes of a request body; more is 413 */
    DRAIN_SECONDS = 5,    /* what requests in flight get at SIGINT / SIGTERM */
};

typedef struct server {
    const srv_config *cfg;
    srv_engine *engine;
    srv_limits limits;
    time_t *created;      /* (n_models) the model files' modification times */
    pthread_mutex_t lock; /* for next_id */
    unsigned long long next_id, id_salt;
} server;

/* One request's upload, kept between the access handler's calls. */
typedef struct upload {
    char *data; /* (cap) len bytes of body */
    size_t len, cap;
    int too_big;
} upload;

/* ------------------------------------------------------------------ responses */

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, char *body,
                                 const char *type, const char *header, const char *value)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (header)
        MHD_add_response_header(r, header, value);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Sends root as JSON (and releases it). */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *root)
{
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return send_body(c, status, body, "application/json", NULL, NULL);
}

/* OpenAI's error object: {"error":{"message","type","param","code"}}. */
static json_t *error_object(const srv_error *e)
{
    const char *type = e->status == 429 ? "rate_limit_error"
                       : e->status >= 500 ? "server_error" : "invalid_request_error";
    const char *code = e->status == 401 ? "invalid_api_key"
                       : e->status == 429 ? "rate_limit_exceeded" : NULL;
    return json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", e->message, "type", type,
                     "param", e->param[0] ? e->param : NULL, "code", code);
}

/* Sends e as OpenAI's error object, with one more header if header is not NULL. */
static enum MHD_Result send_error_with(struct MHD_Connection *c, const srv_error *e,
                                       const char *header, const char *value)
{
    char *body = NULL;
    json_t *root = error_object(e);
    if (root)
        body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return send_body(c, (unsigned)e->status, body, "application/json", header, value);
}

static enum MHD_Result send_error(struct MHD_Connection *c, const srv_error *e)
{
    return send_error_with(c, e, e->status == 401 ? MHD_HTTP_HEADER_WWW_AUTHENTICATE : NULL,
                           "Bearer");
}

static enum MHD_Result fail(struct MHD_Connection *c, int status, const char *param,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result fail(struct MHD_Connection *c, int status, const char *param,
                            const char *fmt, ...)
{
    srv_error e = {.status = status};
    snprintf(e.param, sizeof e.param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    return send_error(c, &e);
}

/* ------------------------------------------------------------------ requests */

/* The client closed its side (checked while a request waits on the engine,
 * whose text may be long in coming: a stop text pending, a queue). */
static int client_gone(void *cls)
{
    struct pollfd p = {.fd = *(const int *)cls, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static int connection_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

/* Compares without an early exit, so the time taken says nothing of the key. */
static int same_key(const char *given, const char *key)
{
    size_t n = strlen(given), k = strlen(key);
    unsigned char diff = n != k;
    for (size_t i = 0; i < k; i++)
        diff |= (unsigned char)(key[i] ^ given[i < n ? i : 0]);
    return !diff && n == k;
}

static int authorized(const server *s, struct MHD_Connection *c)
{
    if (!s->cfg->api_key)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return same_key(h, s->cfg->api_key);
}

static void new_id(server *s, char *out, size_t len)
{
    pthread_mutex_lock(&s->lock);
    unsigned long long n = ++s->next_id;
    pthread_mutex_unlock(&s->lock);
    snprintf(out, len, "cmpl-%016llx%08llx", s->id_salt, n);
}

static uint64_t clock_seed(void)
{
    static _Atomic uint64_t calls;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec) + 7919 * ++calls;
}

static const char *finish_reason(int end)
{
    return end == CRNN_STREAM_STOP ? "stop" : end == CRNN_STREAM_LENGTH ? "length" : NULL;
}

/* ------------------------------------------------------------------ streamed completions */

/* A response of Server-Sent Events: owned by MHD's response, freed with it. */
typedef struct sse {
    srv_job *job;
    int fd;            /* the client's socket, watched for a hangup */
    int choices;
    srv_piece *pieces; /* (choices) */
    char id[48];
    long long created;
    char *model;
    char *out;         /* (cap) events not yet handed to MHD: out_pos .. out_len */
    size_t out_len, out_pos, cap;
    int finished;      /* [DONE] (or an error) written */
    int failed;        /* out of memory: end the response */
} sse;

static void sse_put(sse *st, const char *text, size_t len)
{
    if (st->failed)
        return;
    if (st->out_len + len > st->cap) {
        size_t cap = (st->out_len + len) * 2;
        char *t = realloc(st->out, cap);
        if (!t) {
            st->failed = 1;
            return;
        }
        st->out = t;
        st->cap = cap;
    }
    memcpy(st->out + st->out_len, text, len);
    st->out_len += len;
}

/* Appends "data: JSON\n\n" (and releases root). */
static void sse_event(sse *st, json_t *root)
{
    char *json = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!json) {
        st->failed = 1;
        return;
    }
    sse_put(st, "data: ", 6);
    sse_put(st, json, strlen(json));
    sse_put(st, "\n\n", 2);
    free(json);
}

static void sse_chunk(sse *st, int index, const char *text, size_t len, const char *reason)
{
    sse_event(st, json_pack("{s:s, s:s, s:I, s:s, s:[{s:s%, s:i, s:n, s:s?}]}", "id", st->id,
                            "object", "text_completion", "created", (json_int_t)st->created,
                            "model", st->model, "choices", "text", text ? text : "", len,
                            "index", index, "logprobs", "finish_reason", reason));
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse *st = cls;
    while (st->out_pos == st->out_len) {
        if (st->failed)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (st->finished)
            return MHD_CONTENT_READER_END_OF_STREAM;
        st->out_pos = st->out_len = 0;
        srv_error err;
        int rc = srv_job_collect(st->job, st->pieces, 0, &err, client_gone, &st->fd);
        if (rc == SRV_GONE)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (rc == SRV_FAILED) { /* an error event ends the stream, as OpenAI's do */
            sse_event(st, error_object(&err));
            st->finished = 1;
            continue;
        }
        for (int i = 0; i < st->choices; i++) {
            srv_piece *p = &st->pieces[i];
            if (p->len)
                sse_chunk(st, i, p->text, p->len, NULL);
            free(p->text);
            p->text = NULL;
            if (p->end)
                sse_chunk(st, i, "", 0, finish_reason(p->end));
        }
        if (rc == SRV_FINISHED) {
            sse_put(st, "data: [DONE]\n\n", 14);
            st->finished = 1;
        }
    }
    size_t n = st->out_len - st->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, st->out + st->out_pos, n);
    st->out_pos += n;
    return (ssize_t)n;
}

/* The response is done with (sent, or the client left): the job's slots free. */
static void sse_free(void *cls)
{
    sse *st = cls;
    srv_job_release(st->job);
    for (int i = 0; st->pieces && i < st->choices; i++)
        free(st->pieces[i].text);
    free(st->pieces);
    free(st->model);
    free(st->out);
    free(st);
}

static enum MHD_Result start_stream(server *s, struct MHD_Connection *c, srv_job *job,
                                    int choices, const char *model, int fd)
{
    sse *st = calloc(1, sizeof *st);
    if (!st || !(st->pieces = calloc((size_t)choices, sizeof *st->pieces)) ||
        !(st->model = strdup(model))) {
        if (st)
            free(st->pieces);
        free(st);
        srv_job_release(job);
        return fail(c, 500, NULL, "out of memory");
    }
    st->job = job;
    st->fd = fd;
    st->choices = choices;
    st->created = (long long)time(NULL);
    new_id(s, st->id, sizeof st->id);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, st, sse_free);
    if (!r) {
        sse_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* ------------------------------------------------------------------ the endpoints */

static json_t *model_object(const server *s, int k)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "id", srv_engine_model_name(s->engine, k),
                     "object", "model", "created", (json_int_t)s->created[k],
                     "owned_by", "charrnn");
}

static enum MHD_Result list_models(server *s, struct MHD_Connection *c)
{
    json_t *data = json_array();
    for (int k = 0; data && k < srv_engine_models(s->engine); k++)
        json_array_append_new(data, model_object(s, k));
    return send_json(c, MHD_HTTP_OK, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static void model_names(const server *s, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (int k = 0; k < srv_engine_models(s->engine) && used < len; k++) {
        int n = snprintf(out + used, len - used, "%s%s", k ? ", " : "",
                         srv_engine_model_name(s->engine, k));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static enum MHD_Result complete(server *s, struct MHD_Connection *c, upload *u)
{
    if (u->too_big)
        return fail(c, 413, NULL, "the request body is larger than %d bytes", BODY_LIMIT);
    srv_completion req;
    srv_error err;
    if (srv_parse_completion(u->data ? u->data : "", u->len, &s->limits, &req, &err) < 0)
        return send_error(c, &err);
    char names[400];
    model_names(s, names, sizeof names);
    int k = 0;
    if (req.model) {
        k = srv_engine_find(s->engine, req.model);
        if (k < 0) {
            enum MHD_Result rc = fail(c, 400, "model", "model '%.100s' is not served here (models: %s)",
                                      req.model, names);
            srv_completion_free(&req);
            return rc;
        }
    } else if (srv_engine_models(s->engine) > 1) {
        srv_completion_free(&req);
        return fail(c, 400, "model", "model is required: this server has several (%s)", names);
    }
    /* What the answer needs, before the engine takes the request. */
    int choices = req.n_prompts * req.n, stream = req.stream;
    uint64_t prompt_chars = 0;
    for (int i = 0; i < req.n_prompts; i++)
        prompt_chars += req.prompt_chars[i];
    uint64_t seed = req.have_seed ? req.seed : clock_seed();
    srv_job *job = srv_job_submit(s->engine, k, &req, seed, &err);
    if (!job)
        return send_error(c, &err);
    int fd = connection_fd(c);
    int rc = srv_job_wait_checked(job, &err, client_gone, &fd);
    if (rc != SRV_MORE) {
        srv_job_release(job);
        return rc == SRV_GONE ? MHD_NO : send_error(c, &err);
    }
    const char *model = srv_engine_model_name(s->engine, k);
    if (stream)
        return start_stream(s, c, job, choices, model, fd);
    srv_piece *pieces = calloc((size_t)choices, sizeof *pieces);
    if (!pieces) {
        srv_job_release(job);
        return fail(c, 500, NULL, "out of memory");
    }
    rc = srv_job_collect(job, pieces, 1, &err, client_gone, &fd);
    srv_job_release(job);
    enum MHD_Result sent = MHD_NO;
    if (rc == SRV_FAILED) {
        sent = send_error(c, &err);
    } else if (rc != SRV_GONE) {
        uint64_t chars = 0;
        json_t *list = json_array();
        for (int i = 0; list && i < choices; i++) {
            chars += pieces[i].chars;
            json_array_append_new(list, json_pack("{s:s%, s:i, s:n, s:s?}", "text",
                                                  pieces[i].text ? pieces[i].text : "",
                                                  pieces[i].len, "index", i, "logprobs",
                                                  "finish_reason", finish_reason(pieces[i].end)));
        }
        char id[48];
        new_id(s, id, sizeof id);
        sent = send_json(c, MHD_HTTP_OK,
                         json_pack("{s:s, s:s, s:I, s:s, s:o, s:{s:I, s:I, s:I}}", "id", id,
                                   "object", "text_completion", "created", (json_int_t)time(NULL),
                                   "model", model, "choices", list, "usage", "prompt_tokens",
                                   (json_int_t)prompt_chars, "completion_tokens",
                                   (json_int_t)chars, "total_tokens",
                                   (json_int_t)(prompt_chars + chars)));
    }
    for (int i = 0; i < choices; i++)
        free(pieces[i].text);
    free(pieces);
    return sent;
}

/* Routes a request whose body has arrived. Paths under /v1/ need the API
 * key (when there is one); the page and /health do not, so a browser can
 * load the page and a monitor can poll. */
static enum MHD_Result route(server *s, struct MHD_Connection *c, const char *url,
                             const char *method, upload *u)
{
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    const char *allow = NULL;
    int api = !strncmp(url, "/v1/", 4);
    int known = !strcmp(url, "/") || !strcmp(url, "/health") || !strcmp(url, "/v1/models") ||
                !strcmp(url, "/v1/completions") || !strncmp(url, "/v1/models/", 11);
    if (!known)
        return fail(c, 404, NULL, "no such path: %.200s (see /v1/completions, /v1/models, "
                    "/health, /)", url);
    if (api && !authorized(s, c))
        return fail(c, 401, NULL, "a valid API key is needed: send the header "
                    "'Authorization: Bearer KEY'");
    if (!strcmp(url, "/v1/completions")) {
        if (!strcmp(method, "POST"))
            return complete(s, c, u);
        allow = "POST";
    } else if (!get) {
        allow = "GET, HEAD";
    } else if (!strcmp(url, "/")) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            srv_page_len, (void *)srv_page, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
        enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return rc;
    } else if (!strcmp(url, "/health")) {
        return send_json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
    } else if (!strcmp(url, "/v1/models")) {
        return list_models(s, c);
    } else {
        int k = srv_engine_find(s->engine, url + 11);
        if (k < 0)
            return fail(c, 404, "model", "model '%.100s' is not served here", url + 11);
        return send_json(c, MHD_HTTP_OK, model_object(s, k));
    }
    srv_error e = {.status = 405};
    snprintf(e.message, sizeof e.message, "%s takes %s, not %.20s", url, allow, method);
    return send_error_with(c, &e, MHD_HTTP_HEADER_ALLOW, allow);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *data, size_t *size, void **state)
{
    (void)version;
    server *s = cls;
    upload *u = *state;
    if (!u) { /* the headers are in: a declared body too large is refused before it comes */
        if (!(u = calloc(1, sizeof *u)))
            return MHD_NO;
        *state = u;
        const char *length =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > BODY_LIMIT) {
            u->too_big = 1;
            return fail(c, 413, NULL, "the request body is larger than %d bytes", BODY_LIMIT);
        }
        return MHD_YES;
    }
    if (*size) {
        if (u->len + *size > BODY_LIMIT) {
            u->too_big = 1; /* read and dropped, then refused */
        } else if (!u->too_big) {
            if (u->len + *size > u->cap) {
                size_t cap = (u->len + *size) * 2;
                char *t = realloc(u->data, cap);
                if (!t)
                    return MHD_NO;
                u->data = t;
                u->cap = cap;
            }
            memcpy(u->data + u->len, data, *size);
            u->len += *size;
        }
        *size = 0;
        return MHD_YES;
    }
    return route(s, c, url, method, u);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    upload *u = *state;
    if (u)
        free(u->data);
    free(u);
    *state = NULL;
}

/* ------------------------------------------------------------------ running */

/* A listening socket on host:port; -1 after saying why. The port actually
 * bound goes to *bound (port 0 asks for any free one). */
static int listen_on(const char *host, int port, int *bound, int *ipv6)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *list;
    int rc = getaddrinfo(host, service, &hints, &list);
    if (rc) {
        fprintf(stderr, "charrnn serve: error: cannot use the address %s: %s\n", host,
                gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *a = list; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 128) < 0) {
            saved = errno;
            close(fd);
            fd = -1;
            continue;
        }
        *ipv6 = a->ai_family == AF_INET6;
    }
    freeaddrinfo(list);
    if (fd < 0) {
        fprintf(stderr, "charrnn serve: error: cannot listen on %s port %d: %s%s\n", host, port,
                strerror(saved), saved == EADDRINUSE ? " (choose another with --port)" : "");
        return -1;
    }
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    *bound = port;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        if (addr.ss_family == AF_INET)
            *bound = ntohs(((struct sockaddr_in *)&addr)->sin_port);
        else if (addr.ss_family == AF_INET6)
            *bound = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    }
    return fd;
}

int srv_run(const srv_config *cfg)
{
    /* Signals go to sigwait below: blocked here, before any thread starts
     * (the engine's, the compute pools', libmicrohttpd's), so every thread
     * inherits the mask and none is killed by them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    crnn_set_threads(cfg->threads);

    server s = {.cfg = cfg};
    s.limits.max_length = cfg->max_length;
    s.limits.max_streams = cfg->max_clients;
    s.id_salt = clock_seed();
    pthread_mutex_init(&s.lock, NULL);
    int status = 1, fd = -1;
    struct MHD_Daemon *d = NULL;
    crnn_error err = {0};
    if (!(s.created = calloc((size_t)cfg->n_models, sizeof *s.created))) {
        fprintf(stderr, "charrnn serve: error: out of memory\n");
        goto out;
    }
    for (int k = 0; k < cfg->n_models; k++) {
        struct stat st;
        s.created[k] = stat(cfg->paths[k], &st) == 0 ? st.st_mtime : time(NULL);
    }
    s.engine = srv_engine_open(cfg->paths, cfg->names, cfg->n_models, cfg->max_clients,
                               cfg->max_queue, &err);
    if (!s.engine || srv_engine_start(s.engine, &err) != CRNN_OK) {
        fprintf(stderr, "charrnn: error: %s\n", err.message);
        goto out;
    }
    int port = 0, ipv6 = 0;
    if ((fd = listen_on(cfg->host, cfg->port, &port, &ipv6)) < 0)
        goto out;
    /* Each connection has its thread: up to every slot and queue place
     * twice over (keep-alive connections between requests), and some more. */
    unsigned limit = (unsigned)(2 * (cfg->max_clients + cfg->max_queue) * cfg->n_models + 64);
    d = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                             (ipv6 ? MHD_USE_IPv6 : 0),
                         0, NULL, NULL, on_request, &s,
                         MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout,
                         MHD_OPTION_CONNECTION_LIMIT, limit,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "charrnn serve: error: the HTTP server could not start\n");
        goto out;
    }
    char models[1000];
    size_t used = 0;
    models[0] = 0;
    for (int k = 0; k < cfg->n_models && used < sizeof models; k++) {
        int n = snprintf(models + used, sizeof models - used, "%s%s (%s)", k ? ", " : "",
                         cfg->names[k], cfg->paths[k]);
        used += n > 0 ? (size_t)n : 0;
    }
    fprintf(stderr, "charrnn serve: %s %s on http://%s%s%s:%d/ with %d compute threads, %d "
            "streams at once and a queue of %d per model%s\n",
            cfg->n_models > 1 ? "models" : "model", models, ipv6 ? "[" : "", cfg->host,
            ipv6 ? "]" : "", port, crnn_get_threads(), cfg->max_clients, cfg->max_queue,
            cfg->api_key ? "; API key required" : "");
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "charrnn serve: %s: finishing the requests in flight (up to %d s)\n",
            sig == SIGINT ? "interrupted" : "terminated", DRAIN_SECONDS);
    MHD_quiesce_daemon(d); /* no new connections; fd is closed after the stop */
    srv_engine_refuse(s.engine);
    srv_engine_drain(s.engine, DRAIN_SECONDS);
    srv_engine_stop(s.engine); /* what is left ends now, its handlers return */
    /* Their handlers write the closing error event; give them a moment to send it
     * before MHD_stop_daemon closes the connections under them. */
    srv_engine_drain(s.engine, 1.0);
    status = 0;
out:
    if (d)
        MHD_stop_daemon(d);
    if (fd >= 0)
        close(fd);
    srv_engine_free(s.engine);
    free(s.created);
    pthread_mutex_destroy(&s.lock);
    return status;
}
