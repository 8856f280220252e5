/*
 * server.h: `charrnn serve`, an OpenAI-compatible HTTP server over the
 * public header (src/server/: request.c reads request bodies, engine.c
 * batches the models' streams, http.c speaks HTTP on libmicrohttpd). The
 * command line is parsed in src/cli/serve.c, which calls srv_run.
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

typedef struct srv_config {
    const char *const *paths; /* (n_models) snapshot or exported model files */
    const char *const *names; /* (n_models) their API names, distinct */
    int n_models;
    const char *host;         /* address to bind (a name or a numeric address) */
    int port;                 /* 0: any free port (the startup line says which) */
    int threads;              /* compute threads, 0 = all cores */
    long long max_length;     /* characters of a prompt and of max_tokens */
    int max_clients;          /* streams stepped together per model */
    int max_queue;            /* requests waiting per model beyond those */
    int idle_timeout;         /* seconds an idle connection stays open */
    const char *api_key;      /* NULL: no key asked */
} srv_config;

/* Loads the models, listens and serves until SIGINT or SIGTERM, then lets
 * the requests in flight finish for up to 5 s. Returns the exit status: 0
 * after a signal, 1 when it could not start (said on stderr). */
int srv_run(const srv_config *config);

/* The web page served at / (page.html, embedded at build time). */
extern const char srv_page[];
extern const unsigned long srv_page_len;

#endif
