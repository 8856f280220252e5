/*
 * inspect.c: `charrnn inspect MODEL FILE -o report.html`: one self-contained
 * HTML page of what a model makes of a text. The library's trace
 * (crnn_evaluator_trace) gives the numbers per position; this file ranks the
 * cells against the text's properties (properties.c), sums up the weights,
 * the gates and the training log, and writes them as JSON into the page's
 * template (report.html, built into the program), which draws everything in
 * the browser. Needs jansson.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "properties.h"

static const char INSPECT_HELP[] =
    "usage: charrnn inspect MODEL FILE -o REPORT.html [--chars N]\n"
    "\n"
    "Writes one self-contained HTML page (it opens from disk, nothing is fetched) of what\n"
    "MODEL makes of the text in FILE: the text coloured by how surprised the model is at each\n"
    "character (bits; hover a character for the candidates it expected), the cells that\n"
    "follow simple properties of the text (inside quotes, position in the line, bracket\n"
    "depth, start of a word, ...) ranked by correlation, any cell's activation over the\n"
    "text, the weights, the share of saturated gates, and the loss curves of the run's\n"
    "log when NAME.csv sits beside the snapshot. The cells found are also printed.\n"
    "\n"
    "  -o, --output FILE   the report to write (written whole, then renamed into place)\n"
    "  --chars N           read at most the first N characters (default 3000, at most\n"
    "                      20000): the page holds every cell's activation at each one\n"
    "  --threads N         compute threads (default: all cores)\n";

enum { INSPECT_DEFAULT_CHARS = 3000, INSPECT_MAX_CHARS = 20000, TOP = 5, BEST_CELLS = 5,
       SPANS = 12, HIST_BINS = 40 };
/* At most this many cell activations (layers x hidden x characters) in a
 * report: 8M values, about 11 MB of page and under 300 MB while it is made. */
#define INSPECT_MAX_VALUES ((size_t)8 << 20)

void inspect_parse(cli_args *a, inspect_options *o)
{
    memset(o, 0, sizeof *o);
    o->chars = INSPECT_DEFAULT_CHARS;
    const char *arg;
    while (cli_next(a, &arg)) {
        if (cli_is(a, arg, "--help") || cli_is(a, arg, "-h")) {
            o->help = 1;
            return;
        } else if (cli_is(a, arg, "-o") || cli_is(a, arg, "--output")) {
            o->output = cli_value(a, arg);
        } else if (cli_is(a, arg, "--chars")) {
            o->chars = (size_t)cli_int(a, cli_value(a, arg), "--chars", 2, INSPECT_MAX_CHARS);
        } else if (cli_is(a, arg, "--threads")) {
            o->threads = (int)cli_int(a, cli_value(a, arg), "--threads", 0, 1024);
        } else if (arg[0] != '-' && !o->model) {
            o->model = arg;
        } else if (arg[0] != '-' && !o->text) {
            o->text = arg;
        } else {
            cli_unexpected(a, arg);
        }
    }
    if (!a->failed && (!o->model || !o->text))
        cli_error(a, "give a model and a text: charrnn inspect MODEL FILE -o REPORT.html");
    else if (!a->failed && !o->output)
        cli_error(a, "give the report to write: -o REPORT.html");
}

/* Parses the arguments: an exit status when that is all there is to do (help,
 * a usage error, said), else -1. Both builds' cmd_inspect start here. */
static int inspect_arguments(int argc, char **argv, inspect_options *o)
{
    cli_args a;
    cli_args_init(&a, argc, argv, "inspect");
    inspect_parse(&a, o);
    return cli_parsed(&a, o->help, INSPECT_HELP);
}

#ifndef CRNN_HAVE_JANSSON

int cmd_inspect(int argc, char **argv)
{
    inspect_options o;
    int done = inspect_arguments(argc, argv, &o);
    if (done >= 0)
        return done;
    fprintf(stderr, "charrnn: error: this charrnn was built without jansson, which inspect "
                    "needs to write its report (install libjansson-dev and rebuild)\n");
    return EXIT_USAGE;
}

#else

extern const char cli_report_page[];
extern const unsigned long cli_report_page_len;

#define PLACEHOLDER "<script id=\"data\" type=\"application/json\">{}</script>"

/* The whole file, or NULL with the reason on stderr: a directory, an empty
 * file and a read error are named. */
static char *read_text(const char *path, size_t *len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "charrnn: error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "charrnn: error: %s is a directory: inspect reads one text file\n", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "charrnn: error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "charrnn: error: cannot read %s%s\n", path, buf ? "" : ": out of memory");
        free(buf);
        return NULL;
    }
    if (n == 0) {
        fprintf(stderr, "charrnn: error: %s is empty: there is nothing to inspect\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static json_t *char_string(uint32_t cp)
{
    char utf8[5] = {0};
    int n = crnn_utf8_encode(cp, utf8);
    return json_stringn(utf8, (size_t)n);
}

static const char *cell_name(int cell)
{
    switch (cell) {
    case CRNN_CELL_LSTM:
        return "lstm";
    case CRNN_CELL_GRU:
        return "gru";
    case CRNN_CELL_RNN_TANH:
        return "rnn-tanh";
    default:
        return "rnn-relu";
    }
}

static const char *dtype_name(crnn_weights_dtype d)
{
    return d == CRNN_WEIGHTS_F16 ? "fp16" : d == CRNN_WEIGHTS_BF16 ? "bf16" : "fp32";
}

static json_t *model_json(const char *path, const crnn_snapshot_info *info)
{
    json_t *m = json_object();
    cli_json_set(m, "path", cli_json_text(path));
    cli_json_set(m, "cell", json_string(cell_name(info->config.cell)));
    cli_json_set(m, "layers", json_integer(info->config.layers));
    cli_json_set(m, "hidden", json_integer(info->config.hidden));
    cli_json_set(m, "embed", json_integer(info->config.embed));
    cli_json_set(m, "vocab_size", json_integer(info->vocab_size));
    cli_json_set(m, "parameters", json_integer((json_int_t)info->parameters));
    cli_json_set(m, "step", json_integer((json_int_t)info->step));
    cli_json_set(m, "best_val_loss", cli_json_number(info->best_val_loss));
    cli_json_set(m, "trained_on", cli_json_text(info->corpus_path));
    cli_json_set(m, "weights_dtype", json_string(dtype_name(info->weights_dtype)));
    return m;
}

/* The activation shown for cell j of layer l at position i: tanh(c) for the
 * LSTM (the cell state, as in Karpathy et al.'s pictures), else h; in -1..1. */
static float activation(const crnn_trace *t, size_t i, int l, int j)
{
    size_t o = (i * (size_t)t->layers + (size_t)l) * (size_t)t->hidden + (size_t)j;
    float v = t->c ? tanhf(t->c[o]) : t->h[o];
    return v > 1 ? 1 : v < -1 ? -1 : v;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of n bytes (NUL-terminated; caller frees). */
static char *base64(const unsigned char *p, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1), *q = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *q++ = B64[v >> 18 & 63];
        *q++ = B64[v >> 12 & 63];
        *q++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
        *q++ = i + 2 < n ? B64[v & 63] : '=';
    }
    *q = 0;
    return out;
}

/* One cell ranked against a property. */
typedef struct ranked_cell {
    int layer, cell;
    double r;
} ranked_cell;

static int by_strength(const void *a, const void *b)
{
    double x = fabs(((const ranked_cell *)a)->r), y = fabs(((const ranked_cell *)b)->r);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The cells: every activation (bytes), and each property with the cells
 * that follow it best; the best of each is printed. */
static json_t *cells_json(const crnn_trace *t, FILE *say)
{
    size_t n = t->length, L = (size_t)t->layers, H = (size_t)t->hidden;
    json_t *cells = json_object();
    cli_json_set(cells, "layers", json_integer(t->layers));
    cli_json_set(cells, "hidden", json_integer(t->hidden));
    cli_json_set(cells, "positions", json_integer((json_int_t)n));
    cli_json_set(cells, "what", json_string(t->c ? "tanh(c), the LSTM cell state"
                                                 : "h, the hidden state"));
    unsigned char *bytes = malloc(L * H * n + 1);
    float *act = malloc(sizeof *act * L * H * n + 1); /* (L, H, n) */
    double *values = malloc(sizeof *values * CLI_PROPERTIES * n + 1);
    ranked_cell *rank = malloc(sizeof *rank * L * H + 1);
    if (!bytes || !act || !values || !rank) {
        free(bytes);
        free(act);
        free(values);
        free(rank);
        json_decref(cells);
        return NULL;
    }
    for (size_t l = 0; l < L; l++)
        for (size_t j = 0; j < H; j++)
            for (size_t i = 0; i < n; i++) {
                float v = activation(t, i, (int)l, (int)j);
                act[(l * H + j) * n + i] = v;
                bytes[(l * H + j) * n + i] = (unsigned char)lrintf((v + 1.0f) * 127.5f);
            }
    char *b64 = base64(bytes, L * H * n);
    cli_json_set(cells, "data", b64 ? json_string(b64) : NULL);
    free(b64);
    cli_properties_compute(t->code_points, n, values);
    json_t *props = json_array();
    for (int p = 0; p < CLI_PROPERTIES; p++) {
        const double *x = values + (size_t)p * n;
        size_t k = 0;
        for (size_t l = 0; l < L; l++)
            for (size_t j = 0; j < H; j++) {
                double r = cli_correlation(x, act + (l * H + j) * n, 1, n);
                if (!isnan(r))
                    rank[k++] = (ranked_cell){(int)l, (int)j, r};
            }
        if (k == 0) { /* the property never changes in this text */
            fprintf(say, "  %-17s does not vary in this text\n", cli_properties[p].name);
            continue;
        }
        qsort(rank, k, sizeof *rank, by_strength);
        json_t *prop = json_object(), *vals = json_array(), *best = json_array();
        cli_json_set(prop, "name", json_string(cli_properties[p].name));
        cli_json_set(prop, "description", json_string(cli_properties[p].description));
        for (size_t i = 0; i < n; i++)
            cli_json_append(vals, cli_json_number(x[i]));
        for (size_t b = 0; b < k && b < BEST_CELLS; b++) {
            json_t *c = json_object();
            cli_json_set(c, "layer", json_integer(rank[b].layer));
            cli_json_set(c, "cell", json_integer(rank[b].cell));
            cli_json_set(c, "r", cli_json_number(rank[b].r));
            cli_json_append(best, c);
        }
        cli_json_set(prop, "values", vals);
        cli_json_set(prop, "best", best);
        cli_json_append(props, prop);
        fprintf(say, "  %-17s layer %d cell %d, r = %+.2f\n", cli_properties[p].name,
                rank[0].layer + 1, rank[0].cell, rank[0].r);
    }
    cli_json_set(cells, "properties", props);
    free(bytes);
    free(act);
    free(values);
    free(rank);
    return cells;
}

/* Most surprising spans: the most surprising characters, each widened to its
 * word (up to the spaces around it), merged when they meet, ranked by the
 * bits they hold. */
static json_t *spans_json(const crnn_trace *t, const double *bits)
{
    size_t n = t->length;
    size_t *order = malloc(sizeof *order * n + 1);
    unsigned char *taken = calloc(n + 1, 1);
    json_t *spans = json_array();
    if (!order || !taken) {
        free(order);
        free(taken);
        return spans;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(bits[i]))
            order[k++] = i;
    /* Partial selection of the SPANS most surprising positions. */
    for (size_t a = 0; a < k && a < SPANS; a++)
        for (size_t b = a + 1; b < k; b++)
            if (bits[order[b]] > bits[order[a]]) {
                size_t x = order[a];
                order[a] = order[b];
                order[b] = x;
            }
    typedef struct span {
        size_t start, end;
        double bits;
    } span;
    span found[SPANS];
    int have = 0;
    for (size_t a = 0; a < k && a < SPANS; a++) {
        size_t i = order[a];
        if (taken[i])
            continue;
        size_t s = i, e = i + 1;
        while (s > 0 && i - s < 20 && t->code_points[s - 1] != ' ' && t->code_points[s - 1] != '\n')
            s--;
        while (e < n && e - i < 20 && t->code_points[e] != ' ' && t->code_points[e] != '\n')
            e++;
        double sum = 0;
        for (size_t j = s; j < e; j++) {
            taken[j] = 1;
            sum += isnan(bits[j]) ? 0 : bits[j];
        }
        found[have++] = (span){s, e, sum};
    }
    for (int a = 0; a < have; a++) /* most bits first */
        for (int b = a + 1; b < have; b++)
            if (found[b].bits > found[a].bits) {
                span x = found[a];
                found[a] = found[b];
                found[b] = x;
            }
    for (int a = 0; a < have; a++) {
        json_t *s = json_object();
        cli_json_set(s, "start", json_integer((json_int_t)found[a].start));
        cli_json_set(s, "end", json_integer((json_int_t)found[a].end));
        cli_json_set(s, "bits", cli_json_number(found[a].bits));
        cli_json_append(spans, s);
    }
    free(order);
    free(taken);
    return spans;
}

static json_t *surprise_json(const crnn_trace *t)
{
    size_t n = t->length;
    double *bits = malloc(sizeof *bits * n + 1);
    if (!bits)
        return NULL;
    json_t *s = json_object(), *jb = json_array(), *jp = json_array(), *top = json_array();
    for (size_t i = 0; i < n; i++) {
        bits[i] = t->nats[i] / log(2.0);
        cli_json_append(jb, cli_json_number(bits[i]));
        cli_json_append(jp, cli_json_number(exp(-t->nats[i])));
        if (isnan(t->nats[i])) {
            cli_json_append(top, json_null());
            continue;
        }
        json_t *cands = json_array();
        for (int k = 0; k < t->top_k; k++) {
            float p = t->top_probs[i * (size_t)t->top_k + (size_t)k];
            if (p <= 0)
                break;
            json_t *pair = json_array();
            cli_json_append(pair, char_string(t->top_code_points[i * (size_t)t->top_k + (size_t)k]));
            cli_json_append(pair, cli_json_number(p));
            cli_json_append(cands, pair);
        }
        cli_json_append(top, cands);
    }
    cli_json_set(s, "bits", jb);
    cli_json_set(s, "prob", jp);
    cli_json_set(s, "top", top);
    cli_json_set(s, "nats_per_char", cli_json_number(t->report.nats_per_char));
    cli_json_set(s, "bits_per_char", cli_json_number(t->report.nats_per_char / log(2.0)));
    cli_json_set(s, "predicted", json_integer((json_int_t)t->report.characters));
    cli_json_set(s, "spans", spans_json(t, bits));
    free(bits);
    return s;
}

static json_t *text_json(const crnn_trace *t, const char *name, int unknown)
{
    json_t *x = json_object(), *chars = json_array(), *unseen = json_array();
    char seen[200] = "";
    size_t seen_len = 0;
    for (size_t i = 0; i < t->length; i++)
        cli_json_append(chars, char_string(t->code_points[i]));
    /* A character the model never saw is left out (token -1) or read as
     * U+FFFD (the token of U+FFFD for another code point): both are marked. */
    for (size_t i = 0; i < t->length; i++)
        if (t->token[i] < 0 || (t->token[i] == unknown && t->code_points[i] != 0xFFFD))
            cli_json_append(unseen, json_integer((json_int_t)i));
    for (int k = 0; k < t->report.unseen_distinct && k < CRNN_EVAL_EXAMPLES; k++) {
        char what[48];
        crnn_describe_code_point(t->report.unseen_examples[k], what, sizeof what);
        seen_len += (size_t)snprintf(seen + seen_len, sizeof seen - seen_len, "%s%s",
                                     k ? ", " : "", what);
        if (seen_len >= sizeof seen)
            break;
    }
    cli_json_set(x, "name", cli_json_text(name));
    cli_json_set(x, "chars", chars);
    cli_json_set(x, "cut", json_boolean(t->length < t->text_characters));
    cli_json_set(x, "total_chars", json_integer((json_int_t)t->text_characters));
    cli_json_set(x, "unseen", json_integer((json_int_t)t->report.unseen));
    cli_json_set(x, "unseen_chars", cli_json_text(seen));
    cli_json_set(x, "unseen_positions", unseen);
    return x;
}

static json_t *weights_json(const crnn_evaluator *ev)
{
    crnn_weight_matrix m[2 + 3 * 16 + 2];
    int count = crnn_evaluator_matrices(ev, m, (int)(sizeof m / sizeof m[0]));
    json_t *all = json_array();
    for (int k = 0; k < count && k < (int)(sizeof m / sizeof m[0]); k++) {
        size_t n = (size_t)m[k].rows * (size_t)m[k].cols;
        double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            double v = m[k].values[i];
            sum += v;
            sq += v * v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        double mean = sum / (double)n, var = sq / (double)n - mean * mean;
        json_t *counts = json_array();
        long bins[HIST_BINS] = {0};
        double width = hi > lo ? (hi - lo) / HIST_BINS : 1;
        for (size_t i = 0; i < n; i++) {
            int b = (int)((m[k].values[i] - lo) / width);
            bins[b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b]++;
        }
        for (int b = 0; b < HIST_BINS; b++)
            cli_json_append(counts, json_integer(bins[b]));
        json_t *w = json_object(), *hist = json_object();
        cli_json_set(hist, "lo", cli_json_number(lo));
        cli_json_set(hist, "hi", cli_json_number(hi));
        cli_json_set(hist, "counts", counts);
        cli_json_set(w, "name", json_string(m[k].name));
        cli_json_set(w, "rows", json_integer(m[k].rows));
        cli_json_set(w, "cols", json_integer(m[k].cols));
        cli_json_set(w, "norm", cli_json_number(sqrt(sq)));
        cli_json_set(w, "mean", cli_json_number(mean));
        cli_json_set(w, "std", cli_json_number(var > 0 ? sqrt(var) : 0));
        cli_json_set(w, "min", cli_json_number(lo));
        cli_json_set(w, "max", cli_json_number(hi));
        cli_json_set(w, "hist", hist);
        cli_json_append(all, w);
    }
    return all;
}

/* The share of each LSTM gate's activations near its limits on this text:
 * below 0.1 or above 0.9 for the sigmoid gates, beyond +-0.9 for the tanh
 * candidate (Karpathy et al.'s measure). Empty for cells without gates. */
static json_t *saturation_json(const crnn_trace *t)
{
    json_t *all = json_array();
    if (!t->gates || !t->length)
        return all;
    static const char *names[4] = {"input", "forget", "candidate", "output"};
    size_t L = (size_t)t->layers, H = (size_t)t->hidden;
    for (size_t l = 0; l < L; l++)
        for (int g = 0; g < 4; g++) {
            size_t sat = 0;
            for (size_t i = 0; i < t->length; i++) {
                const float *v = t->gates + ((i * L + l) * 4 + (size_t)g) * H;
                for (size_t j = 0; j < H; j++)
                    sat += g == 2 ? fabsf(v[j]) > 0.9f : (v[j] < 0.1f || v[j] > 0.9f);
            }
            json_t *s = json_object();
            cli_json_set(s, "layer", json_integer((json_int_t)l));
            cli_json_set(s, "gate", json_string(names[g]));
            cli_json_set(s, "share", cli_json_number((double)sat / (double)(t->length * H)));
            cli_json_append(all, s);
        }
    return all;
}

static json_t *vocabulary_json(const crnn_evaluator *ev, const crnn_trace *t)
{
    int V;
    const uint32_t *sym = crnn_evaluator_vocabulary(ev, &V);
    size_t *count = calloc((size_t)V + 1, sizeof *count);
    json_t *all = json_array();
    if (!count)
        return all;
    for (size_t i = 0; i < t->length; i++)
        if (t->token[i] >= 0 && t->token[i] < V)
            count[t->token[i]]++;
    for (int v = 0; v < V; v++) {
        json_t *e = json_object();
        cli_json_set(e, "char", char_string(sym[v]));
        cli_json_set(e, "code_point", json_integer(sym[v]));
        cli_json_set(e, "count", json_integer((json_int_t)count[v]));
        cli_json_append(all, e);
    }
    free(count);
    return all;
}

/* The run's CSV log beside the snapshot (NAME.csv, or for NAME.best.crnn
 * the run's NAME.csv), or null. */
static json_t *log_json(const char *model)
{
    char *path = replace_extension(model, ".crnn", ".csv");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f && path) {
        size_t n = strlen(path);
        if (n > 9 && !strcmp(path + n - 9, ".best.csv")) {
            strcpy(path + n - 9, ".csv");
            f = fopen(path, "r");
        }
    }
    free(path);
    if (!f)
        return json_null();
    json_t *log = json_object(), *columns = json_array(), *rows = json_array();
    char line[4096];
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        json_t *row = first ? NULL : json_array();
        char *p = line; /* fields by hand: an empty one is null */
        for (;;) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = 0;
            if (first) {
                cli_json_append(columns, json_string(p));
            } else {
                char *end;
                double v = strtod(p, &end);
                cli_json_append(row, end != p && *end == 0 ? cli_json_number(v) : json_null());
            }
            if (!comma)
                break;
            p = comma + 1;
        }
        if (!first)
            cli_json_append(rows, row);
        first = 0;
    }
    fclose(f);
    cli_json_set(log, "columns", columns);
    cli_json_set(log, "rows", rows);
    return log;
}

/* JSON that can sit inside a script element: every '<' (which JSON has only
 * inside strings) written as \u003c, so no text ("</script>", "<!--<script>")
 * can end the element or change how the browser reads it. Caller frees. */
static char *script_safe(const char *json)
{
    size_t n = 0;
    for (const char *p = json; *p; p++)
        n += *p == '<' ? 6 : 1;
    char *out = malloc(n + 1), *q = out;
    if (!out)
        return NULL;
    for (const char *p = json; *p; p++) {
        if (*p == '<') {
            memcpy(q, "\\u003c", 6);
            q += 6;
        } else {
            *q++ = *p;
        }
    }
    *q = 0;
    return out;
}

/* The template with the data in place of its placeholder, written to a
 * temporary file and renamed over path. */
static int write_report(const char *path, const char *json)
{
    const char *at = strstr(cli_report_page, PLACEHOLDER);
    if (!at) {
        fprintf(stderr, "charrnn: error: the report template has no data placeholder (a build "
                        "problem)\n");
        return 1;
    }
    size_t tmp_len = strlen(path) + 16;
    char *tmp = malloc(tmp_len);
    if (!tmp)
        return 1;
    snprintf(tmp, tmp_len, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "charrnn: error: cannot write %s: %s\n", tmp, strerror(errno));
        free(tmp);
        return 1;
    }
    const char *tag = "<script id=\"data\" type=\"application/json\">";
    size_t before = (size_t)(at - cli_report_page), skip = strlen(PLACEHOLDER);
    fwrite(cli_report_page, 1, before, f);
    fputs(tag, f);
    fputs(json, f);
    fputs("</script>", f);
    fputs(at + skip, f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "charrnn: error: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return 1;
    }
    free(tmp);
    return 0;
}

int cmd_inspect(int argc, char **argv)
{
    inspect_options o;
    int done = inspect_arguments(argc, argv, &o);
    if (done >= 0)
        return done;
    crnn_set_threads(o.threads);
    crnn_error err = {0};
    crnn_snapshot_info info;
    if (crnn_snapshot_read_info(o.model, &info, &err) != CRNN_OK)
        cli_fail(&err);
    size_t len;
    char *text = read_text(o.text, &len);
    if (!text)
        return 1;
    /* The report holds every cell's activation at every position, and the
     * trace h, c and the gates: keep layers x hidden x characters bounded. */
    size_t cells = (size_t)info.config.layers * (size_t)info.config.hidden;
    if (cells * o.chars > INSPECT_MAX_VALUES) {
        size_t fit = INSPECT_MAX_VALUES / cells;
        fprintf(stderr, "charrnn: notice: reading %zu characters rather than %zu: the page holds "
                        "all %zu cells at each one\n", fit < 2 ? 2 : fit, o.chars, cells);
        o.chars = fit < 2 ? 2 : fit;
    }
    crnn_evaluator *ev = crnn_evaluator_open(o.model, &err);
    if (!ev) {
        free(text);
        cli_fail(&err);
    }
    crnn_trace *t = NULL;
    if (crnn_evaluator_trace(ev, text, len, o.text, o.chars, TOP,
                             CRNN_TRACE_STATES | CRNN_TRACE_GATES, &t, &err) != CRNN_OK) {
        free(text);
        crnn_evaluator_free(ev);
        cli_fail(&err);
    }
    free(text);
    if (t->report.characters == 0) {
        fprintf(stderr, "charrnn: error: %s has fewer than 2 characters the model can read: "
                        "there is nothing to inspect\n", o.text);
        crnn_trace_free(t);
        crnn_evaluator_free(ev);
        return 1;
    }
    fprintf(stderr, "%s: %zu characters%s, %.4f nats/char, %.4f bits/char over %llu",
            o.text, t->length, t->length < t->text_characters ? " (cut)" : "",
            t->report.nats_per_char, t->report.nats_per_char / log(2.0),
            (unsigned long long)t->report.characters);
    if (t->report.unseen)
        fprintf(stderr, "; %llu characters the model never saw, marked",
                (unsigned long long)t->report.unseen);
    fprintf(stderr, "\ncells that follow the text's properties best (of %d x %d):\n",
            t->layers, t->hidden);
    json_t *root = json_object();
    cli_json_set(root, "model", model_json(o.model, &info));
    int V, unknown = -1;
    const uint32_t *symbols = crnn_evaluator_vocabulary(ev, &V);
    for (int v = 0; v < V; v++)
        if (symbols[v] == 0xFFFD)
            unknown = v;
    cli_json_set(root, "text", text_json(t, o.text, unknown));
    cli_json_set(root, "surprise", surprise_json(t));
    cli_json_set(root, "cells", cells_json(t, stderr));
    cli_json_set(root, "weights", weights_json(ev));
    cli_json_set(root, "saturation", saturation_json(t));
    cli_json_set(root, "vocabulary", vocabulary_json(ev, t));
    cli_json_set(root, "log", log_json(o.model));
    crnn_trace_free(t);
    crnn_evaluator_free(ev);
    char *dumped = cli_json_failed() ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    char *json = dumped ? script_safe(dumped) : NULL;
    free(dumped);
    if (!json) {
        fprintf(stderr, "charrnn: error: could not make the report's data (out of memory)\n");
        return 1;
    }
    int rc = write_report(o.output, json);
    free(json);
    if (rc == 0)
        fprintf(stderr, "report: %s\n", o.output);
    return rc;
}

#endif
