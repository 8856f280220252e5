/*
 * info.c: `charrnn info`: describes a snapshot after validating all of it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char INFO_HELP[] =
    "usage: charrnn info SNAP [--json]\n"
    "\n"
    "Checks a snapshot completely (checksums, sections) and prints its format version,\n"
    "configuration, vocabulary size, step, losses and sizes.\n"
    "\n"
    "  --json   print the same as one JSON object, for scripts (numbers as numbers,\n"
    "           losses null before the first evaluation)\n";

void info_parse(cli_args *a, file_options *o)
{
    memset(o, 0, sizeof *o);
    const char *arg;
    while (cli_next(a, &arg)) {
        if (cli_is(a, arg, "--help") || cli_is(a, arg, "-h")) {
            o->help = 1;
            return;
        } else if (cli_is(a, arg, "--json")) {
            o->json = 1;
            cli_json_check(a, "--json");
        } else if (arg[0] != '-' && !o->path) {
            o->path = arg;
        } else {
            cli_unexpected(a, arg);
        }
    }
    if (!a->failed && !o->path)
        cli_error(a, "no snapshot given: charrnn info SNAP");
}

static const char *dtype_name(crnn_weights_dtype dtype)
{
    return dtype == CRNN_WEIGHTS_F32 ? "fp32" : dtype == CRNN_WEIGHTS_F16 ? "fp16" : "bf16";
}

/* 1.0 format files did not record the forget-gate bias: info shows the default. */
static int forget_bias_assumed(const crnn_snapshot_info *in)
{
    return in->version_major == 1 && in->version_minor == 0;
}

/* The names of what a plan chose (crnn_plan.chosen), comma-separated. */
static void chosen_names(unsigned chosen, char *out, size_t size)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{CRNN_GIVEN_CELL, "cell"},          {CRNN_GIVEN_LAYERS, "layers"},
                 {CRNN_GIVEN_HIDDEN, "hidden"},      {CRNN_GIVEN_EMBED, "embed"},
                 {CRNN_GIVEN_BATCH, "batch"},        {CRNN_GIVEN_SEQ, "seq"},
                 {CRNN_GIVEN_LR, "lr"},              {CRNN_GIVEN_SCHEDULE, "schedule"},
                 {CRNN_GIVEN_WARMUP, "warmup"},      {CRNN_GIVEN_DROPOUT, "dropout"},
                 {CRNN_GIVEN_FORGET_BIAS, "forget-bias"}, {CRNN_GIVEN_EVAL_EVERY, "eval-every"},
                 {CRNN_GIVEN_WEIGHT_DECAY, "weight-decay"}, {CRNN_GIVEN_PRECISION, "precision"},
                 {CRNN_GIVEN_COOLDOWN, "cooldown"}};
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (chosen & names[i].bit && len + strlen(names[i].name) + 3 < size)
            len += (size_t)snprintf(out + len, size - len, "%s%s", len ? ", " : "",
                                    names[i].name);
}

#ifdef CRNN_HAVE_JANSSON
/* A float setting as the shortest decimal that reads back as it (0.002, not
 * 0.0020000000949949026): the way it was most likely given. */
static json_t *json_float(float value)
{
    char text[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)value);
        if ((float)strtod(text, NULL) == value)
            break;
    }
    return cli_json_number(strtod(text, NULL));
}

/* Everything the text form says, as one object. */
static int print_json(const char *path, const crnn_snapshot_info *in)
{
    const crnn_train_config *c = &in->config;
    char format[32];
    snprintf(format, sizeof format, "%u.%u", in->version_major, in->version_minor);
    json_t *o = json_object();
    cli_json_set(o, "file", cli_json_text(path));
    cli_json_set(o, "format", json_string(format));
    cli_json_set(o, "file_bytes", json_integer((json_int_t)in->file_bytes));
    cli_json_set(o, "payload_bytes", json_integer((json_int_t)in->payload_bytes));
    cli_json_set(o, "resumable", json_boolean(in->resumable));
    cli_json_set(o, "weights", json_string(dtype_name(in->weights_dtype)));
    cli_json_set(o, "cell", json_string(crnn_cell_name(c->cell) ? crnn_cell_name(c->cell) : "?"));
    cli_json_set(o, "layers", json_integer(c->layers));
    cli_json_set(o, "hidden", json_integer(c->hidden));
    cli_json_set(o, "embed", json_integer(c->embed));
    cli_json_set(o, "vocabulary", json_integer(in->vocab_size));
    cli_json_set(o, "parameters", json_integer((json_int_t)in->parameters));
    cli_json_set(o, "batch", json_integer(c->batch));
    cli_json_set(o, "seq", json_integer(c->seq));
    cli_json_set(o, "learning_rate", json_float(c->learning_rate));
    cli_json_set(o, "clip", json_float(c->clip));
    cli_json_set(o, "seed", json_integer((json_int_t)c->seed));
    /* the other cells have no forget gate */
    cli_json_set(o, "forget_bias",
                 c->cell == CRNN_CELL_LSTM ? json_float(c->forget_bias) : json_null());
    cli_json_set(o, "forget_bias_assumed",
                 json_boolean(c->cell == CRNN_CELL_LSTM && forget_bias_assumed(in)));
    cli_json_set(o, "step", json_integer((json_int_t)in->step));
    cli_json_set(o, "validation_loss", cli_json_number(in->last_val_loss));
    cli_json_set(o, "validation_bits", cli_json_number(in->last_val_loss / log(2.0)));
    cli_json_set(o, "best_validation_loss", cli_json_number(in->best_val_loss));
    cli_json_set(o, "corpus", cli_json_text(in->corpus_path));
    cli_json_set(o, "corpus_bytes", json_integer((json_int_t)in->corpus_bytes));
    cli_json_set(o, "corpus_files", json_integer((json_int_t)in->corpus_files));
    cli_json_set(o, "corpus_crc", json_integer((json_int_t)in->corpus_crc));
    if (in->origin_path[0]) { /* fine-tuned */
        json_t *from = json_object();
        cli_json_set(from, "path", cli_json_text(in->origin_path));
        cli_json_set(from, "step", json_integer((json_int_t)in->origin_step));
        cli_json_set(from, "vocab_size", json_integer(in->origin_vocab_size));
        cli_json_set(o, "fine_tuned_from", from);
    } else {
        cli_json_set(o, "fine_tuned_from", json_null());
    }
    const crnn_plan *p = &in->plan;
    if (p->seconds > 0) {
        json_t *plan = json_object(), *chose = json_array();
        char names[300];
        chosen_names(p->chosen, names, sizeof names);
        for (char *w = strtok(names, ", "); w; w = strtok(NULL, ", "))
            json_array_append_new(chose, json_string(w));
        cli_json_set(plan, "seconds", cli_json_number(p->seconds));
        cli_json_set(plan, "steps", json_integer((json_int_t)p->steps));
        cli_json_set(plan, "epochs", cli_json_number(p->epochs));
        cli_json_set(plan, "train_chars_per_second", cli_json_number(p->train_chars_per_second));
        cli_json_set(plan, "eval_chars_per_second", cli_json_number(p->eval_chars_per_second));
        cli_json_set(plan, "save_seconds", cli_json_number(p->save_seconds));
        cli_json_set(plan, "setup_seconds", cli_json_number(p->setup_seconds));
        cli_json_set(plan, "final_chars", json_integer((json_int_t)p->final_chars));
        cli_json_set(plan, "chosen", chose);
        cli_json_set(plan, "bf16", json_boolean(p->bf16));
        cli_json_set(plan, "command", cli_json_text(p->command));
        cli_json_set(o, "plan", plan);
    } else {
        cli_json_set(o, "plan", json_null());
    }
    return cli_json_print(o);
}
#endif

int cmd_info(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, "info");
    file_options o;
    info_parse(&a, &o);
    int done = cli_parsed(&a, o.help, INFO_HELP);
    if (done >= 0)
        return done;
    const char *path = o.path;
    crnn_snapshot_info in;
    crnn_error err = {0};
    if (crnn_snapshot_read_info(path, &in, &err) != CRNN_OK)
        cli_fail(&err);
#ifdef CRNN_HAVE_JANSSON
    if (o.json)
        return print_json(path, &in);
#endif
    const crnn_train_config *c = &in.config;
    printf("file:        %s\n", path);
    printf("format:      %u.%u\n", in.version_major, in.version_minor);
    printf("size:        %llu bytes (%llu uncompressed)\n", (unsigned long long)in.file_bytes,
           (unsigned long long)in.payload_bytes);
    if (in.resumable)
        printf("contents:    full snapshot (training can resume from it)\n");
    else
        printf("contents:    weights only, %s (for sampling)\n", dtype_name(in.weights_dtype));
    printf("model:       %d x %d %s, embedding %d, vocabulary %d, %zu weights\n", c->layers,
           c->hidden, crnn_cell_title(c->cell), c->embed, in.vocab_size, in.parameters);
    printf("training:    batch %d x seq %d, lr %g, clip %g, seed %llu", c->batch, c->seq,
           (double)c->learning_rate, (double)c->clip, (unsigned long long)c->seed);
    if (c->cell == CRNN_CELL_LSTM) /* the other cells have no forget gate */
        printf(", forget-gate bias %g%s", (double)c->forget_bias,
               forget_bias_assumed(&in) ? " (assumed: format 1.0 did not record it)" : "");
    printf("\n");
    printf("step:        %llu\n", (unsigned long long)in.step);
    if (!isnan(in.last_val_loss))
        printf("validation:  %.4f nats/char (%.4f bits); best %.4f\n", in.last_val_loss,
               in.last_val_loss / log(2.0), in.best_val_loss);
    char files[40] = "";
    if (in.corpus_files > 1)
        snprintf(files, sizeof files, "%llu files, ", (unsigned long long)in.corpus_files);
    printf("corpus:      %s (%s%llu bytes, CRC %08x)\n", in.corpus_path, files,
           (unsigned long long)in.corpus_bytes, in.corpus_crc);
    if (in.origin_path[0])
        printf("fine-tuned:  from %s at step %llu; its vocabulary of %d, %d characters added\n",
               in.origin_path, (unsigned long long)in.origin_step, in.origin_vocab_size,
               in.vocab_size - in.origin_vocab_size);
    static const char *const schedules[] = {"constant", "step", "cosine"};
    printf("schedule:    %s", schedules[c->schedule % 3]);
    if (c->schedule == CRNN_SCHEDULE_COSINE && c->schedule_steps)
        printf(" over %llu steps", (unsigned long long)c->schedule_steps);
    if (c->warmup_steps)
        printf(", warm-up %llu", (unsigned long long)c->warmup_steps);
    if (c->schedule == CRNN_SCHEDULE_COSINE && c->cooldown_steps)
        printf(", held until the last %llu", (unsigned long long)c->cooldown_steps);
    printf(", dropout %g\n", (double)c->dropout);
    const crnn_plan *p = &in.plan;
    if (p->seconds > 0) {
        char names[300];
        chosen_names(p->chosen, names, sizeof names);
        printf("planned:     for %.0f s: %llu steps (%.1f epochs) at %.1fk chars/s measured; "
               "chose %s\n",
               p->seconds, (unsigned long long)p->steps, p->epochs,
               p->train_chars_per_second / 1000, names[0] ? names : "nothing");
        if (p->command[0])
            printf("same run:    %s\n", p->command);
    }
    return 0;
}
