/*
 * plot.c: the training log (CSV, one line per evaluation, written next to the
 * snapshot) and `charrnn plot`, which draws its loss curves as an SVG file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char PLOT_HELP[] =
    "usage: charrnn plot LOG.csv [-o CURVE.svg]\n"
    "\n"
    "Draws the training and validation loss curves of a training log (the CSV file\n"
    "charrnn train writes next to its snapshot) as an SVG picture. The default output\n"
    "is the log's name with .svg.\n";

static const char LOG_HEADER[] = "step,epoch,train_loss,val_loss,best_val_loss,learning_rate,"
                                 "chars_per_second,elapsed_seconds\n";

int train_log_append(const char *path, const train_log_row *r)
{
    FILE *f = fopen(path, "a+");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    if (ftell(f) == 0)
        fputs(LOG_HEADER, f);
    fprintf(f, "%llu,%.4f,%.6f,%.6f,%.6f,%.6g,%.0f,%.1f\n", (unsigned long long)r->step, r->epoch,
            r->train_loss, r->val_loss, r->best_val_loss, r->learning_rate, r->chars_per_second,
            r->elapsed);
    return fclose(f) == 0 ? 0 : -1;
}

typedef struct series {
    double *step, *train, *val;
    size_t n, cap;
} series;

/* Resizes one column to cap values; on failure it keeps the old buffer (the
 * caller frees it), so nothing is lost or leaked. */
static int grow(double **column, size_t cap)
{
    double *q = realloc(*column, sizeof *q * cap);
    if (!q)
        return -1;
    *column = q;
    return 0;
}

static int read_log(const char *path, series *s, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, whylen, "cannot open %s", path);
        return -1;
    }
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1 && strncmp(line, "step,", 5) == 0)
            continue;
        unsigned long long step;
        double epoch, train, val;
        if (sscanf(line, "%llu,%lf,%lf,%lf", &step, &epoch, &train, &val) != 4) {
            snprintf(why, whylen, "%s line %d is not a charrnn training log line", path, lineno);
            fclose(f);
            return -1;
        }
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 64;
            if (grow(&s->step, cap) || grow(&s->train, cap) || grow(&s->val, cap)) {
                snprintf(why, whylen, "out of memory");
                fclose(f);
                return -1;
            }
            s->cap = cap;
        }
        s->step[s->n] = (double)step;
        s->train[s->n] = train;
        s->val[s->n] = val;
        s->n++;
    }
    fclose(f);
    if (s->n == 0) {
        snprintf(why, whylen, "%s holds no evaluations yet", path);
        return -1;
    }
    return 0;
}

/* A "nice" tick spacing for a range. */
static double tick_step(double range)
{
    double raw = range / 5, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void polyline(FILE *f, const series *s, const double *y, double x0, double x1, double y0,
                     double y1, const char *color)
{
    const double W = 800, H = 480, L = 70, R = 20, T = 30, B = 50;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(y[i]))
            continue;
        double px = L + (s->step[i] - x0) / (x1 - x0) * (W - L - R);
        double py = T + (1 - (y[i] - y0) / (y1 - y0)) * (H - T - B);
        fprintf(f, "%.1f,%.1f ", px, py);
    }
    fputs("\"/>\n", f);
}

int plot_svg(const char *log_path, const char *svg_path, char *why, size_t whylen)
{
    series s = {0};
    if (read_log(log_path, &s, why, whylen) != 0) {
        free(s.step), free(s.train), free(s.val);
        return -1;
    }
    double x0 = 0, x1 = s.step[s.n - 1] > 0 ? s.step[s.n - 1] : 1, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < s.n; i++) {
        double v[2] = {s.train[i], s.val[i]};
        for (int k = 0; k < 2; k++)
            if (isfinite(v[k])) {
                y0 = fmin(y0, v[k]);
                y1 = fmax(y1, v[k]);
            }
    }
    if (!isfinite(y0)) {
        y0 = 0;
        y1 = 1;
    }
    if (y1 - y0 < 1e-6)
        y1 = y0 + 1;
    double pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
    FILE *f = fopen(svg_path, "w");
    if (!f) {
        snprintf(why, whylen, "cannot write %s", svg_path);
        free(s.step), free(s.train), free(s.val);
        return -1;
    }
    const double W = 800, H = 480, L = 70, R = 20, T = 30, B = 50;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">charrnn: loss "
               "per character (nats)</text>\n", W / 2);
    double ys = tick_step(y1 - y0);
    for (double y = ceil(y0 / ys) * ys; y <= y1; y += ys) {
        double py = T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
        fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L, W - R, py, py, L - 6, py + 4, y);
    }
    double xs = tick_step(x1 - x0);
    for (double x = 0; x <= x1; x += xs) {
        double px = L + (x - x0) / (x1 - x0) * (W - L - R);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%g</text>\n",
                px, px, T, H - B, px, H - B + 16, x);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">step</text>\n", (L + W - R) / 2,
            H - 12);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"black\"/>\n", L, T, W - L - R, H - T - B);
    polyline(f, &s, s.train, x0, x1, y0, y1, "#1f77b4");
    polyline(f, &s, s.val, x0, x1, y0, y1, "#d62728");
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f77b4\">training</text>\n", W - R - 150,
            T + 20);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">validation</text>\n", W - R - 80,
            T + 20);
    fputs("</svg>\n", f);
    free(s.step), free(s.train), free(s.val);
    return fclose(f) == 0 ? 0 : -1;
}

void plot_parse(cli_args *a, file_options *o)
{
    memset(o, 0, sizeof *o);
    const char *arg;
    while (cli_next(a, &arg)) {
        if (cli_is(a, arg, "--help") || cli_is(a, arg, "-h")) {
            o->help = 1;
            return;
        } else if (cli_is(a, arg, "-o") || cli_is(a, arg, "--output")) {
            o->output = cli_value(a, "--output");
        } else if (arg[0] != '-' && !o->path) {
            o->path = arg;
        } else {
            cli_unexpected(a, arg);
        }
    }
    if (!a->failed && !o->path)
        cli_error(a, "no log given: charrnn plot LOG.csv [-o CURVE.svg]");
}

/* "run.csv" -> "run.svg"; other names get ".svg" appended. Caller frees. */
char *replace_extension(const char *path, const char *from, const char *to)
{
    size_t n = strlen(path), f = strlen(from);
    char *out = malloc(n + strlen(to) + 1);
    if (!out)
        return NULL;
    if (n > f && !strcmp(path + n - f, from))
        n -= f;
    memcpy(out, path, n);
    strcpy(out + n, to);
    return out;
}

int cmd_plot(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, "plot");
    file_options o;
    plot_parse(&a, &o);
    int done = cli_parsed(&a, o.help, PLOT_HELP);
    if (done >= 0)
        return done;
    char *svg = o.output ? NULL : replace_extension(o.path, ".csv", ".svg");
    char why[600];
    int rc = plot_svg(o.path, o.output ? o.output : svg, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "charrnn: error: %s\n", why);
    else
        fprintf(stderr, "charrnn: wrote %s\n", o.output ? o.output : svg);
    free(svg);
    return rc ? 1 : 0;
}
