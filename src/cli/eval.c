/*
 * eval.c: `charrnn eval`: a model's loss on text files and directories: one
 * line per file and the total, or one JSON object (--json). The scoring and
 * the walk through directories are the library's (crnn_evaluator_paths); this
 * only words the reports.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char EVAL_HELP[] =
    "usage: charrnn eval SNAP FILE... [--strict] [--json] [--device D]\n"
    "\n"
    "Prints the model's cross-entropy on each FILE in nats and bits per character\n"
    "(lower is better), reading it the way training reads text, and with several\n"
    "files their total: the mean over all their characters. A directory stands for\n"
    "the files under it, in byte order of their names, at any depth; names that\n"
    "begin with '.' are skipped. An empty file is skipped (not when all are).\n"
    "\n"
    "Characters the model never saw are scored as U+FFFD where its vocabulary has\n"
    "U+FFFD (a model trained with --max-vocab), and otherwise left out of the text;\n"
    "either way the report counts them and names the first few.\n"
    "\n"
    "  --strict   a character the model never saw is an error (naming it, the file,\n"
    "             its line and column)\n"
    "  --json     print one JSON object instead, for scripts: the snapshot, each file\n"
    "             and the total, with nats and bits per character, characters and\n"
    "             unseen characters (numbers as numbers; null when nothing was scored)\n"
    "  --device D where the model runs: auto (a GPU when one is present and built in,\n"
    "             default), cpu, cuda or cuda:N; the figures agree within rounding\n";

void eval_parse(cli_args *a, eval_options *o)
{
    memset(o, 0, sizeof *o);
    o->paths = calloc(a->argc > 0 ? (size_t)a->argc : 1, sizeof *o->paths);
    if (!o->paths) {
        cli_error(a, "out of memory");
        return;
    }
    int only_paths = 0; /* after "--" */
    const char *arg;
    while (cli_next(a, &arg)) {
        if (!only_paths && (cli_is(a, arg, "--help") || cli_is(a, arg, "-h"))) {
            o->help = 1;
            return;
        } else if (!only_paths && !strcmp(arg, "--")) {
            only_paths = 1;
        } else if (!only_paths && cli_is(a, arg, "--strict")) {
            o->strict = 1;
        } else if (!only_paths && cli_is(a, arg, "--json")) {
            o->json = 1;
            cli_json_check(a, "--json");
        } else if (!only_paths && cli_is(a, arg, "--device")) {
            o->device = cli_value(a, arg);
        } else if (only_paths || arg[0] != '-') {
            if (!o->snapshot)
                o->snapshot = arg;
            else
                o->paths[o->count++] = arg;
        } else {
            cli_unexpected(a, arg);
        }
    }
    if (!a->failed && (!o->snapshot || !o->count))
        cli_error(a, "usage: charrnn eval SNAP FILE... [--strict] [--json] [--device D]");
    int device = CRNN_DEVICE_AUTO;
    crnn_error err = {0};
    if (!a->failed && o->device && crnn_device_parse(o->device, &device) != CRNN_OK)
        cli_error(a, "--device must be auto, cpu, cuda or cuda:N (got '%s')", o->device);
    else if (!a->failed && crnn_device_check(device, &err) != CRNN_OK)
        cli_error(a, "%s", err.message);
    o->device_index = device;
}

void eval_options_free(eval_options *o)
{
    free(o->paths);
    o->paths = NULL;
    o->count = 0;
}

typedef struct eval_run {
    int json;
    size_t files, skipped;
#ifdef CRNN_HAVE_JANSSON
    json_t *array; /* the files' objects */
#endif
} eval_run;

/* ", K unseen characters (scored as U+FFFD): 'x' (U+0078), ..." */
static void print_unseen(const crnn_eval_report *r)
{
    if (!r->unseen)
        return;
    printf(", %llu unseen character%s (%s): ", (unsigned long long)r->unseen,
           r->unseen == 1 ? "" : "s", r->unseen_as_unknown ? "scored as U+FFFD" : "left out");
    for (int k = 0; k < r->unseen_distinct && k < CRNN_EVAL_EXAMPLES; k++) {
        char what[48];
        crnn_describe_code_point(r->unseen_examples[k], what, sizeof what);
        printf("%s%s", k ? ", " : "", what);
    }
    if (r->unseen_distinct > CRNN_EVAL_EXAMPLES)
        printf(" and %d more", r->unseen_distinct - CRNN_EVAL_EXAMPLES);
}

#ifdef CRNN_HAVE_JANSSON
/* The figures of a report (a file's or the total) as members of o. */
static void json_report(json_t *o, const crnn_eval_report *r)
{
    cli_json_set(o, "nats_per_char", cli_json_number(r->nats_per_char));
    cli_json_set(o, "bits_per_char", cli_json_number(r->nats_per_char / log(2.0)));
    cli_json_set(o, "characters", json_integer((json_int_t)r->characters));
    cli_json_set(o, "text_characters", json_integer((json_int_t)r->text_characters));
    cli_json_set(o, "unseen", json_integer((json_int_t)r->unseen));
    cli_json_set(o, "unseen_distinct", json_integer(r->unseen_distinct));
    json_t *examples = json_array();
    for (int k = 0; examples && k < r->unseen_distinct && k < CRNN_EVAL_EXAMPLES; k++) {
        char utf8[4];
        int n = crnn_utf8_encode(r->unseen_examples[k], utf8);
        cli_json_append(examples, json_stringn(utf8, (size_t)n));
    }
    cli_json_set(o, "unseen_examples", examples);
}
#endif

static void each_file(void *user, const char *path, const crnn_eval_report *r)
{
    eval_run *run = user;
    run->files++;
    run->skipped += r->characters == 0;
#ifdef CRNN_HAVE_JANSSON
    if (run->json) {
        json_t *o = json_object();
        cli_json_set(o, "path", cli_json_text(path));
        cli_json_set(o, "skipped", json_boolean(r->characters == 0));
        json_report(o, r);
        cli_json_append(run->array, o);
        return;
    }
#endif
    if (r->characters == 0 && r->text_characters == 0)
        printf("%s: skipped (empty)", path);
    else if (r->characters == 0)
        printf("%s: skipped (%llu character%s: too short to score)", path,
               (unsigned long long)r->text_characters, r->text_characters == 1 ? "" : "s");
    else
        printf("%s: %.4f nats/char, %.4f bits/char over %llu characters", path, r->nats_per_char,
               r->nats_per_char / log(2.0), (unsigned long long)r->characters);
    print_unseen(r);
    printf("\n");
    fflush(stdout); /* a line per file as it is done: long runs show their progress */
}

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, "eval");
    eval_options o;
    eval_parse(&a, &o);
    int done = cli_parsed(&a, o.help, EVAL_HELP);
    if (done >= 0) {
        eval_options_free(&o);
        return done;
    }
    crnn_set_threads(0);
    eval_run run = {.json = o.json};
    crnn_error err = {0};
    int rc = 0;
    crnn_evaluator *ev = crnn_evaluator_open(o.snapshot, &err);
    if (ev && crnn_evaluator_set_device(ev, o.device_index, &err) != CRNN_OK) {
        rc = cli_report(&err);
        goto done;
    }
#ifdef CRNN_HAVE_JANSSON
    if (o.json)
        run.array = json_array(); /* NULL (out of memory) is reported at the end */
#endif
    if (!ev || crnn_evaluator_paths(ev, o.paths, o.count, o.strict, each_file, &run, &err) !=
                   CRNN_OK) {
        rc = cli_report(&err);
        goto done;
    }
    crnn_eval_report total;
    crnn_evaluator_total(ev, &total);
    if (total.characters == 0) {
        if (run.files == 1)
            fprintf(stderr, "charrnn: error: %s is %s\n", o.paths[0],
                    total.text_characters == 0 ? "empty"
                                               : "too short to evaluate (at least 2 characters)");
        else
            fprintf(stderr, "charrnn: error: nothing to evaluate: each of the %zu files is empty "
                    "or too short (at least 2 characters)\n", run.files);
        rc = 1;
        goto done;
    }
#ifdef CRNN_HAVE_JANSSON
    if (o.json) {
        json_t *root = json_object(), *t = json_object();
        cli_json_set(root, "snapshot", cli_json_text(o.snapshot));
        cli_json_set(root, "strict", json_boolean(o.strict));
        cli_json_set(root, "unseen_as_unknown", json_boolean(total.unseen_as_unknown));
        cli_json_set(root, "files", run.array);
        run.array = NULL;
        cli_json_set(t, "files", json_integer((json_int_t)run.files));
        cli_json_set(t, "skipped", json_integer((json_int_t)run.skipped));
        json_report(t, &total);
        cli_json_set(root, "total", t);
        rc = cli_json_print(root);
        goto done;
    }
#endif
    if (run.files > 1) {
        printf("total: %.4f nats/char, %.4f bits/char over %llu characters in %zu files",
               total.nats_per_char, total.nats_per_char / log(2.0),
               (unsigned long long)total.characters, run.files);
        if (run.skipped)
            printf(" (%zu skipped)", run.skipped);
        print_unseen(&total);
        printf("\n");
    }
done:
#ifdef CRNN_HAVE_JANSSON
    json_decref(run.array);
#endif
    crnn_evaluator_free(ev);
    eval_options_free(&o);
    return rc;
}
