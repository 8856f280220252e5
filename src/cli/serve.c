/*
 * serve.c: `charrnn serve`: reads its options and the API key, then hands
 * over to the server (src/server/). In a build without the server it only
 * says so. It does no HTTP itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#ifdef CRNN_HAVE_SERVER
#include "server/server.h"
#endif

static const char SERVE_HELP[] =
    "usage: charrnn serve MODEL... [options]\n"
    "\n"
    "Serves models (snapshots or exported models) over HTTP with OpenAI's completions\n"
    "API (POST /v1/completions, GET /v1/models, GET /health) and a web page at /.\n"
    "A model is named by its file name without the extension (models/fortunes.crnn:\n"
    "fortunes). Requests for one model are stepped together (continuous batching).\n"
    "SIGINT or SIGTERM stops it: requests in flight get up to 5 s to finish.\n"
    "\n"
    "  --host H            address to listen on (default 127.0.0.1: this machine only)\n"
    "  --port P            port (default 8080; 0: any free port, named at start)\n"
    "  --threads N         compute threads (default: all cores)\n"
    "  --max-length N      most characters of a prompt and of max_tokens (default 4096)\n"
    "  --max-clients N     streams generated at once per model (default 8); a request\n"
    "                      with n choices takes n of them\n"
    "  --max-queue N       requests waiting per model beyond those (default 64); more\n"
    "                      are refused with 429\n"
    "  --idle-timeout S    seconds before an idle connection is closed (default 30)\n"
    "  --api-key-file F    require 'Authorization: Bearer KEY' on /v1/ paths, KEY being\n"
    "                      the first line of F (the environment's CHARRNN_API_KEY is\n"
    "                      used when no file is given; never on the command line,\n"
    "                      where ps shows it)\n";

/* The API name of a model file: its base name without the extension. */
static char *model_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *name = malloc(n + 1);
    if (name) {
        memcpy(name, base, n);
        name[n] = 0;
    }
    return name;
}

void serve_parse(cli_args *a, serve_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->max_length = 4096;
    o->max_clients = 8;
    o->max_queue = 64;
    o->idle_timeout = 30;
    size_t room = a->argc > 0 ? (size_t)a->argc : 1;
    o->paths = calloc(room, sizeof *o->paths);
    o->names = calloc(room, sizeof *o->names);
    if (!o->paths || !o->names) {
        cli_error(a, "out of memory");
        return;
    }
    const char *arg;
    while (cli_next(a, &arg)) {
        if (cli_is(a, arg, "--help") || cli_is(a, arg, "-h")) {
            o->help = 1;
            return;
        } else if (cli_is(a, arg, "--host")) {
            o->host = cli_value(a, arg);
            if (!*o->host)
                cli_error(a, "--host needs an address");
        } else if (cli_is(a, arg, "--port")) {
            o->port = cli_int(a, cli_value(a, arg), "--port", 0, 65535);
        } else if (cli_is(a, arg, "--threads")) {
            o->threads = cli_int(a, cli_value(a, arg), "--threads", 0, 1024);
        } else if (cli_is(a, arg, "--max-length")) {
            o->max_length = cli_int(a, cli_value(a, arg), "--max-length", 1, 100000000);
        } else if (cli_is(a, arg, "--max-clients")) {
            o->max_clients = cli_int(a, cli_value(a, arg), "--max-clients", 1, 4096);
        } else if (cli_is(a, arg, "--max-queue")) {
            o->max_queue = cli_int(a, cli_value(a, arg), "--max-queue", 0, 100000);
        } else if (cli_is(a, arg, "--idle-timeout")) {
            o->idle_timeout = cli_int(a, cli_value(a, arg), "--idle-timeout", 1, 86400);
        } else if (cli_is(a, arg, "--api-key-file")) {
            o->api_key_file = cli_value(a, arg);
        } else if (cli_is(a, arg, "--api-key")) {
            cli_error(a, "--api-key would show the key to anyone running ps: put it in a file "
                         "(--api-key-file) or in CHARRNN_API_KEY");
        } else if (arg[0] != '-') {
            char *name = model_name(arg);
            if (!name) {
                cli_error(a, "out of memory");
                return;
            }
            for (int i = 0; i < o->count; i++)
                if (!strcmp(o->names[i], name))
                    cli_error(a, "%.200s and %.200s are both named '%.100s': the API names a "
                              "model by its file name, rename one", o->paths[i], arg, name);
            o->paths[o->count] = arg;
            o->names[o->count++] = name;
        } else {
            cli_unexpected(a, arg);
        }
    }
    if (!a->failed && !o->count)
        cli_error(a, "no model given: charrnn serve MODEL...");
}

void serve_options_free(serve_options *o)
{
    for (int i = 0; o->names && i < o->count; i++)
        free(o->names[i]);
    free(o->names);
    free(o->paths);
    memset(o, 0, sizeof *o);
}

#ifdef CRNN_HAVE_SERVER
/* The key: the first line of the file, else $CHARRNN_API_KEY, else none
 * (*key NULL). Returns 0, or 1 after saying what is wrong. */
static int read_key(const char *file, char **key)
{
    *key = NULL;
    if (!file) {
        const char *env = getenv("CHARRNN_API_KEY");
        if (env && *env && !(*key = strdup(env))) {
            fprintf(stderr, "charrnn: error: out of memory\n");
            return 1;
        }
        return 0;
    }
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "charrnn: error: cannot open the API key file %s: %s\n", file,
                strerror(errno));
        return 1;
    }
    char line[1024];
    int got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = got ? strcspn(line, "\r\n") : 0;
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    line[n] = 0;
    if (!n) {
        fprintf(stderr, "charrnn: error: the API key file %s has no key on its first line\n",
                file);
        return 1;
    }
    if (!(*key = strdup(line))) {
        fprintf(stderr, "charrnn: error: out of memory\n");
        return 1;
    }
    return 0;
}
#endif

int cmd_serve(int argc, char **argv)
{
#ifndef CRNN_HAVE_SERVER
    (void)argc, (void)argv, (void)SERVE_HELP;
    fprintf(stderr, "charrnn serve: this charrnn was built without the server: install "
                    "libmicrohttpd-dev and libjansson-dev, then rebuild with the server "
                    "(meson setup --reconfigure build -Dserver=enabled)\n");
    return EXIT_USAGE;
#else
    cli_args a;
    cli_args_init(&a, argc, argv, "serve");
    serve_options o;
    serve_parse(&a, &o);
    int rc = cli_parsed(&a, o.help, SERVE_HELP);
    if (rc >= 0) {
        serve_options_free(&o);
        return rc;
    }
    char *key = NULL;
    if (read_key(o.api_key_file, &key)) {
        serve_options_free(&o);
        return 1;
    }
    srv_config cfg = {
        .paths = o.paths, .names = (const char *const *)o.names, .n_models = o.count,
        .host = o.host, .port = (int)o.port, .threads = (int)o.threads,
        .max_length = o.max_length, .max_clients = (int)o.max_clients,
        .max_queue = (int)o.max_queue, .idle_timeout = (int)o.idle_timeout, .api_key = key,
    };
    rc = srv_run(&cfg);
    free(key);
    serve_options_free(&o);
    return rc;
#endif
}
