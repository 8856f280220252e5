/*
 * snapshot.c: writing and reading snapshot files. The layout is specified
 * byte by byte in docs/snapshot-format.md; keep the two in step.
 *
 * Writing streams: each section (tagged, length-prefixed, little-endian
 * fields) is compressed with zlib as it is produced and written to a
 * temporary file beside the target (io.h), so no copy of the weights is made;
 * the header, whose lengths and CRCs are known only at the end, is written
 * last over a placeholder, then the file is synced and renamed.
 * Reading checks, in order: size, magic, header CRC, version, compressed
 * length and CRC, inflated length and CRC, then each section's bounds.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common.h"
#include "half.h"
#include "io.h"
#include "snapshot.h"

static const unsigned char MAGIC[8] = {'C', 'H', 'A', 'R', 'R', 'N', 'N', 0x1A};

/* Largest payload accepted (a model of about 4G weights with moments). */
#define MAX_PAYLOAD ((uint64_t)1 << 36)
/* zlib cannot expand data more than about 1032:1. */
#define MAX_RATIO 1040u

#define SECTION_REQUIRED 1u
/* PLAN's flags (format 1.4). */
#define PLAN_BF16 1u

/* ------------------------------------------------------------ byte buffer */

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
    int failed;
} buf;

static void reserve(buf *b, size_t more)
{
    if (b->failed || b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *q = realloc(b->p, cap);
    if (!q) {
        b->failed = 1;
        return;
    }
    b->p = q;
    b->cap = cap;
}

static void put_bytes(buf *b, const void *data, size_t n)
{
    reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u32(buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put_bytes(b, x, 4);
}

static void put_u64(buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f32(buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(b, u);
}

static void put_f64(buf *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u64(b, u);
}

/* ------------------------------------------------------------ reader */

typedef struct reader {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} reader;

static int need(reader *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static uint32_t get_u32(reader *r)
{
    if (!need(r, 4))
        return 0;
    const unsigned char *x = r->p + r->pos;
    r->pos += 4;
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

static uint64_t get_u64(reader *r)
{
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}

static float get_f32(reader *r)
{
    uint32_t u = get_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double get_f64(reader *r)
{
    uint64_t u = get_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Reads a u64 count followed by that many floats into a new array. */
static float *get_floats(reader *r, size_t *n)
{
    uint64_t count = get_u64(r);
    if (r->bad || count > (r->len - r->pos) / 4) {
        r->bad = 1;
        return NULL;
    }
    float *x = crnn_alloc_floats((size_t)count);
    if (!x) {
        r->bad = 1;
        return NULL;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(x, r->p + r->pos, (size_t)count * 4);
    r->pos += (size_t)count * 4;
#else
    for (uint64_t i = 0; i < count; i++)
        x[i] = get_f32(r);
#endif
    *n = (size_t)count;
    return x;
}

/* ------------------------------------------------------------ contents */

static void put_config(buf *b, const crnn_snapshot *s)
{
    const crnn_train_config *c = &s->config;
    put_u32(b, (uint32_t)c->layers);
    put_u32(b, (uint32_t)c->hidden);
    put_u32(b, (uint32_t)c->embed);
    put_u32(b, (uint32_t)c->batch);
    put_u32(b, (uint32_t)c->seq);
    put_u32(b, (uint32_t)c->cell);
    put_u32(b, (uint32_t)c->normalize);
    put_u32(b, (uint32_t)c->lossy);
    put_f32(b, c->learning_rate);
    put_f32(b, c->clip);
    put_f32(b, c->val_fraction);
    put_f32(b, c->test_fraction);
    put_u64(b, c->seed);
    put_u32(b, (uint32_t)c->max_vocab);
    put_u32(b, (uint32_t)c->optimizer);
    put_u32(b, (uint32_t)c->schedule);
    put_f32(b, c->lr_decay);
    put_f32(b, c->decay_every);
    put_u64(b, c->warmup_steps);
    put_u64(b, c->schedule_steps);
    put_f32(b, c->weight_decay);
    put_f32(b, c->dropout);
    put_u32(b, (uint32_t)c->reset_state);
    put_f32(b, c->forget_bias);    /* format 1.1 */
    put_u64(b, c->cooldown_steps); /* format 1.5 */
}

/* A field appended by a minor version is read from files of that version on;
 * older files did not record it, and it takes its default. */
static void get_config(reader *r, crnn_snapshot *s, unsigned minor)
{
    crnn_train_config *c = &s->config;
    c->layers = (int)get_u32(r);
    c->hidden = (int)get_u32(r);
    c->embed = (int)get_u32(r);
    c->batch = (int)get_u32(r);
    c->seq = (int)get_u32(r);
    c->cell = (crnn_cell_type)get_u32(r);
    c->normalize = (crnn_normalization)get_u32(r);
    c->lossy = (int)get_u32(r);
    c->learning_rate = get_f32(r);
    c->clip = get_f32(r);
    c->val_fraction = get_f32(r);
    c->test_fraction = get_f32(r);
    c->seed = get_u64(r);
    c->max_vocab = (int)get_u32(r);
    c->optimizer = (crnn_optimizer)get_u32(r);
    c->schedule = (crnn_schedule)get_u32(r);
    c->lr_decay = get_f32(r);
    c->decay_every = get_f32(r);
    c->warmup_steps = get_u64(r);
    c->schedule_steps = get_u64(r);
    c->weight_decay = get_f32(r);
    c->dropout = get_f32(r);
    c->reset_state = (int)get_u32(r);
    c->forget_bias = minor >= 1 ? get_f32(r) : 1.0f; /* 1.1 on; before, the default */
    c->cooldown_steps = minor >= 5 ? get_u64(r) : 0; /* 1.5 on; before, no cooldown */
}

static void put_progress(buf *b, const crnn_snapshot *s)
{
    put_u64(b, s->step);
    put_u64(b, s->adam_step);
    put_u64(b, s->best_step);
    put_f64(b, s->last_val_loss);
    put_f64(b, s->best_val_loss);
    for (int i = 0; i < 4; i++)
        put_u64(b, s->rng[i]);
    put_u64(b, s->run.max_iters);
    put_u64(b, s->run.eval_every);
    put_u64(b, s->run.save_every);
    put_f64(b, s->run.max_epochs);
    put_u64(b, s->run.patience);
    put_u64(b, s->run.eval_chars); /* format 1.2 */
}

static void get_progress(reader *r, crnn_snapshot *s, unsigned minor)
{
    s->step = get_u64(r);
    s->adam_step = get_u64(r);
    s->best_step = get_u64(r);
    s->last_val_loss = get_f64(r);
    s->best_val_loss = get_f64(r);
    for (int i = 0; i < 4; i++)
        s->rng[i] = get_u64(r);
    s->run.max_iters = get_u64(r);
    s->run.eval_every = get_u64(r);
    s->run.save_every = get_u64(r);
    s->run.max_epochs = get_f64(r);
    s->run.patience = get_u64(r);
    s->run.eval_chars = minor >= 2 ? get_u64(r) : 0; /* 1.2 on; before, the default */
}

/* crc32 over a buffer that may exceed uInt. */
static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

static void put_header_field_u32(unsigned char *h, int at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        h[at + i] = (unsigned char)(v >> (8 * i));
}

static void put_header_field_u64(unsigned char *h, int at, uint64_t v)
{
    put_header_field_u32(h, at, (uint32_t)v);
    put_header_field_u32(h, at + 4, (uint32_t)(v >> 32));
}

/* ------------------------------------------------------------ writer */

/* The payload is compressed and written as it is produced, so saving needs no
 * copy of the weights and moments (at 3 x 512 that was 130 MB more at every
 * save: the peak of a whole training run). The header, which holds lengths and
 * CRCs known only at the end, is written last over a placeholder. */
typedef struct writer {
    crnn_atomic_file file;
    z_stream z;
    uLong payload_crc, z_crc;
    uint64_t payload_len, z_len;
    uint32_t sections;
    int rc;
    crnn_error *err;
    unsigned char out[1 << 16];
} writer;

static void w_deflate(writer *w, const void *data, size_t n, int finish)
{
    const unsigned char *p = data;
    do {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        if (w->rc != CRNN_OK)
            return;
        w->payload_crc = crc32(w->payload_crc, p, chunk);
        w->payload_len += chunk;
        w->z.next_in = (Bytef *)(uintptr_t)p;
        w->z.avail_in = chunk;
        int last = finish && chunk == n;
        do {
            w->z.next_out = w->out;
            w->z.avail_out = sizeof w->out;
            int zr = deflate(&w->z, last ? Z_FINISH : Z_NO_FLUSH);
            if (zr == Z_STREAM_ERROR) {
                w->rc = crnn_fail(w->err, CRNN_ERR_NOMEM, "compression failed writing %s",
                                  w->file.path);
                return;
            }
            size_t have = sizeof w->out - w->z.avail_out;
            w->z_crc = crc32(w->z_crc, w->out, (uInt)have);
            w->z_len += have;
            w->rc = crnn_atomic_write(&w->file, w->out, have, w->err);
        } while (w->rc == CRNN_OK && w->z.avail_out == 0);
        p += chunk;
        n -= chunk;
    } while (n > 0);
}

enum { AS_F32, AS_F16, AS_BF16 };

/* A section: tag, flags, u64 length, then head's bytes and n values of x
 * (little-endian, as fp32 or converted to fp16 or bf16). */
static void w_section(writer *w, const char tag[4], uint32_t flags, const buf *head,
                      const float *x, size_t n, int as)
{
    if (head && head->failed) {
        w->rc = w->rc ? w->rc : crnn_fail(w->err, CRNN_ERR_NOMEM, "out of memory");
        return;
    }
    size_t elem = as == AS_F32 ? 4 : 2;
    uint64_t len = (head ? head->len : 0) + (uint64_t)n * elem;
    unsigned char h[16];
    memcpy(h, tag, 4);
    for (int i = 0; i < 4; i++)
        h[4 + i] = (unsigned char)(flags >> (8 * i));
    for (int i = 0; i < 8; i++)
        h[8 + i] = (unsigned char)(len >> (8 * i));
    w_deflate(w, h, sizeof h, 0);
    if (head && head->len)
        w_deflate(w, head->p, head->len, 0);
    unsigned char chunk[1 << 14];
    size_t per = sizeof chunk / elem;
    for (size_t i = 0; i < n && w->rc == CRNN_OK; i += per) {
        size_t k = n - i < per ? n - i : per;
        for (size_t j = 0; j < k; j++) {
            uint32_t v;
            if (as == AS_F32)
                memcpy(&v, &x[i + j], 4);
            else
                v = as == AS_F16 ? crnn_f32_to_f16(x[i + j]) : crnn_f32_to_bf16(x[i + j]);
            for (size_t b = 0; b < elem; b++)
                chunk[j * elem + b] = (unsigned char)(v >> (8 * b));
        }
        w_deflate(w, chunk, k * elem, 0);
    }
    w->sections++;
}

/* A section whose whole content is small and built in a buffer first. */
static void w_small(writer *w, const char tag[4], uint32_t flags, buf *content)
{
    w_section(w, tag, flags, content, NULL, 0, AS_F32);
    free(content->p);
    *content = (buf){0};
}

static void write_payload(writer *w, const crnn_snapshot *s)
{
    buf b = {0};
    put_config(&b, s);
    w_small(w, "CONF", SECTION_REQUIRED, &b);

    /* An extended vocabulary is not in code point order: VOCX, which a reader
     * that expects VOCB's order refuses as too new rather than as damaged. */
    int increasing = 1;
    put_u32(&b, (uint32_t)s->vocab_size);
    for (int i = 0; i < s->vocab_size; i++) {
        put_u32(&b, s->vocab[i]);
        increasing &= i == 0 || s->vocab[i] > s->vocab[i - 1];
    }
    w_small(w, increasing ? "VOCB" : "VOCX", SECTION_REQUIRED, &b);

    if (s->origin_path) {
        size_t olen = strlen(s->origin_path);
        put_u64(&b, s->origin_step);
        put_u32(&b, (uint32_t)s->origin_vocab);
        put_u32(&b, (uint32_t)olen);
        put_bytes(&b, s->origin_path, olen);
        w_small(w, "ORIG", 0, &b);
    }

    if (s->plan.seconds > 0) {
        const crnn_plan *pl = &s->plan;
        put_f64(&b, pl->seconds);
        put_f64(&b, pl->setup_seconds);
        put_f64(&b, pl->train_chars_per_second);
        put_f64(&b, pl->eval_chars_per_second);
        put_f64(&b, pl->save_seconds);
        put_u64(&b, pl->steps);
        put_u64(&b, pl->final_chars);
        put_f64(&b, pl->epochs);
        put_u32(&b, pl->chosen);
        size_t clen = strnlen(pl->command, sizeof pl->command - 1);
        put_u32(&b, (uint32_t)clen);
        put_bytes(&b, pl->command, clen);
        put_u32(&b, pl->bf16 ? PLAN_BF16 : 0);
        w_small(w, "PLAN", 0, &b);
    }

    put_u64(&b, s->corpus_bytes);
    put_u32(&b, s->corpus_crc);
    size_t plen = s->corpus_path ? strlen(s->corpus_path) : 0;
    put_u32(&b, (uint32_t)plen);
    put_bytes(&b, s->corpus_path ? s->corpus_path : "", plen);
    w_small(w, "CRPS", 0, &b);

    if (s->n_corpus_args > 0) {
        put_u32(&b, s->n_corpus_args);
        for (uint32_t i = 0; i < s->n_corpus_args; i++) {
            size_t n = strlen(s->corpus_args[i]);
            put_u32(&b, (uint32_t)n);
            put_bytes(&b, s->corpus_args[i], n);
        }
        put_u32(&b, s->n_corpus_files);
        for (uint32_t i = 0; i < s->n_corpus_files; i++) {
            size_t n = strlen(s->corpus_files[i].path);
            put_u32(&b, (uint32_t)n);
            put_bytes(&b, s->corpus_files[i].path, n);
            put_u64(&b, s->corpus_files[i].bytes);
            put_u32(&b, s->corpus_files[i].crc);
        }
        w_small(w, "SRCS", 0, &b);
    }

    put_progress(&b, s);
    w_small(w, "PROG", 0, &b);

    put_u64(&b, s->n_params);
    if (s->weights_dtype == CRNN_WEIGHTS_F32)
        w_section(w, "PARM", SECTION_REQUIRED, &b, s->params, s->n_params, AS_F32);
    else if (s->weights_dtype == CRNN_WEIGHTS_F16)
        w_section(w, "PF16", SECTION_REQUIRED, &b, s->params, s->n_params, AS_F16);
    else
        w_section(w, "PB16", SECTION_REQUIRED, &b, s->params, s->n_params, AS_BF16);
    if (s->adam_m && s->adam_v) {
        w_section(w, "ADMM", 0, &b, s->adam_m, s->n_params, AS_F32);
        w_section(w, "ADMV", 0, &b, s->adam_v, s->n_params, AS_F32);
    }
    free(b.p);
    b = (buf){0};
    if (s->cursors) {
        put_u32(&b, (uint32_t)s->n_cursors);
        for (int i = 0; i < s->n_cursors; i++)
            put_u64(&b, s->cursors[i]);
        w_small(w, "CURS", 0, &b);
    }
    if (s->state) {
        put_u64(&b, s->n_state);
        w_section(w, "HIDN", 0, &b, s->state, s->n_state, AS_F32);
        free(b.p);
    }
    w_deflate(w, "", 0, 1);
}

int crnn_snapshot_save(const char *path, const crnn_snapshot *snap, crnn_error *err)
{
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory writing %s", path);
    w->err = err;
    w->payload_crc = w->z_crc = crc32(0L, Z_NULL, 0);
    if (deflateInit(&w->z, 6) != Z_OK) {
        free(w);
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory writing %s", path);
    }
    unsigned char h[CRNN_HEADER_BYTES] = {0};
    w->rc = crnn_atomic_open(&w->file, path, err);
    if (w->rc == CRNN_OK)
        w->rc = crnn_atomic_write(&w->file, h, sizeof h, err); /* placeholder */
    if (w->rc == CRNN_OK)
        write_payload(w, snap);
    deflateEnd(&w->z);
    if (w->rc == CRNN_OK) {
        memcpy(h, MAGIC, 8);
        h[8] = CRNN_FORMAT_MAJOR & 0xFF;
        h[9] = CRNN_FORMAT_MAJOR >> 8;
        h[10] = CRNN_FORMAT_MINOR & 0xFF;
        h[11] = CRNN_FORMAT_MINOR >> 8;
        put_header_field_u32(h, 12, 0); /* flags */
        put_header_field_u32(h, 16, w->sections);
        put_header_field_u64(h, 20, w->payload_len);
        put_header_field_u64(h, 28, w->z_len);
        put_header_field_u32(h, 36, (uint32_t)w->z_crc);
        put_header_field_u32(h, 40, (uint32_t)w->payload_crc);
        put_header_field_u32(h, 44, crc_of(h, 44));
        w->rc = crnn_atomic_pwrite(&w->file, h, sizeof h, 0, err);
    }
    int rc = w->rc;
    if (rc == CRNN_OK)
        rc = crnn_atomic_commit(&w->file, err);
    else if (w->file.tmp)
        crnn_atomic_abort(&w->file);
    free(w);
    return rc;
}

static int corrupt(crnn_error *err, const char *name, const char *what)
{
    return crnn_fail(err, CRNN_ERR_FORMAT, "%s is damaged: %s (the file cannot be used)", name,
                     what);
}

/* The readers of the sections' contents, each given a reader over exactly
 * its section (sr); the caller checks afterwards that none ran short. */

/* A u32 length and that many bytes, as a new string; NULL if it does not fit
 * (or memory ran out: *nomem set). */
static char *get_string(reader *sr, int *nomem)
{
    uint32_t n = get_u32(sr);
    if (sr->bad || n > sr->len - sr->pos)
        return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out) {
        *nomem = 1;
        return NULL;
    }
    memcpy(out, sr->p + sr->pos, n);
    out[n] = 0;
    sr->pos += n;
    return out;
}

static int by_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* VOCB: u32 n, then n code points, strictly increasing; VOCX (any order):
 * distinct. */
static int read_vocab(reader *sr, crnn_snapshot *s, int any_order, const char *name,
                      crnn_error *err)
{
    uint32_t n = get_u32(sr);
    if (sr->bad || n == 0 || n > (sr->len - sr->pos) / 4)
        return corrupt(err, name, "the vocabulary length does not fit");
    s->vocab = malloc(sizeof(uint32_t) * n);
    if (!s->vocab)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name);
    for (uint32_t i = 0; i < n; i++)
        s->vocab[i] = get_u32(sr);
    s->vocab_size = (int)n;
    uint32_t *sorted = s->vocab;
    if (any_order) {
        if (!(sorted = malloc(sizeof(uint32_t) * n)))
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name);
        memcpy(sorted, s->vocab, sizeof(uint32_t) * n);
        qsort(sorted, n, sizeof *sorted, by_u32);
    }
    int ok = 1;
    for (uint32_t i = 0; i < n; i++)
        ok &= sorted[i] <= 0x10FFFF && (i == 0 || sorted[i] > sorted[i - 1]);
    if (sorted != s->vocab)
        free(sorted);
    return ok ? CRNN_OK
              : corrupt(err, name, any_order ? "the vocabulary holds a code point twice"
                                             : "the vocabulary is not a sorted set of code points");
}

/* SRCS: u32 arguments, each a string; u32 files, each a string, u64 bytes
 * and u32 CRC. Counts are checked against the bytes left (at least 4 and 16
 * bytes each) before anything is allocated. */
static int read_sources(reader *sr, crnn_snapshot *s, const char *name, crnn_error *err)
{
    int nomem = 0;
    uint32_t nargs = get_u32(sr);
    if (sr->bad || nargs == 0 || nargs > (sr->len - sr->pos) / 4)
        return corrupt(err, name, "the corpus's arguments do not fit");
    if (!(s->corpus_args = calloc(nargs, sizeof *s->corpus_args)))
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name);
    for (; s->n_corpus_args < nargs; s->n_corpus_args++)
        if (!(s->corpus_args[s->n_corpus_args] = get_string(sr, &nomem)))
            return nomem ? crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name)
                         : corrupt(err, name, "a corpus argument does not fit");
    uint32_t nfiles = get_u32(sr);
    if (sr->bad || nfiles == 0 || nfiles > (sr->len - sr->pos) / 16)
        return corrupt(err, name, "the corpus's files do not fit");
    if (!(s->corpus_files = calloc(nfiles, sizeof *s->corpus_files)))
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name);
    for (; s->n_corpus_files < nfiles; s->n_corpus_files++) {
        struct crnn_snapshot_file *f = &s->corpus_files[s->n_corpus_files];
        if (!(f->path = get_string(sr, &nomem)))
            return nomem ? crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name)
                         : corrupt(err, name, "a corpus file's name does not fit");
        f->bytes = get_u64(sr);
        f->crc = get_u32(sr);
    }
    return CRNN_OK;
}

/* ORIG: u64 step, u32 vocabulary size, u32 path length, the path. */
static int read_origin(reader *sr, crnn_snapshot *s, const char *name, crnn_error *err)
{
    int nomem = 0;
    s->origin_step = get_u64(sr);
    uint32_t vocab = get_u32(sr);
    if (sr->bad || vocab > 0x110000 || !(s->origin_path = get_string(sr, &nomem)))
        return nomem ? crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name)
                     : corrupt(err, name, "the origin section does not fit");
    s->origin_vocab = (int)vocab;
    return CRNN_OK;
}

/* CRPS: u64 corpus bytes, u32 CRC, u32 path length, the path. */
static int read_corpus(reader *sr, crnn_snapshot *s, const char *name, crnn_error *err)
{
    int nomem = 0;
    s->corpus_bytes = get_u64(sr);
    s->corpus_crc = get_u32(sr);
    if (!(s->corpus_path = get_string(sr, &nomem)))
        return nomem ? crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name)
                     : corrupt(err, name, "the corpus path does not fit");
    return CRNN_OK;
}

/* PARM, ADMM, ADMV, HIDN: u64 n, then n fp32 values. The weights and both
 * moments have one length. */
static int read_f32_array(const char *tag, reader *sr, crnn_snapshot *s, const char *name,
                          crnn_error *err)
{
    float **dst = !strcmp(tag, "PARM")   ? &s->params
                  : !strcmp(tag, "ADMM") ? &s->adam_m
                  : !strcmp(tag, "ADMV") ? &s->adam_v
                                         : &s->state;
    if (*dst || (dst == &s->params && s->params_half))
        return corrupt(err, name, "a section appears twice");
    size_t n = 0;
    *dst = get_floats(sr, &n);
    if (!*dst)
        return corrupt(err, name, "an array length does not fit");
    if (dst == &s->state) {
        s->n_state = n;
        return CRNN_OK;
    }
    if (s->n_params && s->n_params != n)
        return corrupt(err, name, "the weight and moment arrays differ in length");
    s->n_params = n;
    return CRNN_OK;
}

/* PF16, PB16: u64 n, then n weights as fp16 or bf16, widened to fp32 (or
 * kept as they are with CRNN_SNAPSHOT_HALF_AS_IS). */
static int read_half_params(const char *tag, reader *sr, crnn_snapshot *s, unsigned flags,
                            const char *name, crnn_error *err)
{
    uint64_t count = get_u64(sr);
    if (sr->bad || count > (sr->len - sr->pos) / 2 || count == 0)
        return corrupt(err, name, "an array length does not fit");
    if (s->n_params && s->n_params != count)
        return corrupt(err, name, "the weight and moment arrays differ in length");
    int f16 = tag[1] == 'F', as_is = flags & CRNN_SNAPSHOT_HALF_AS_IS;
    if (as_is)
        s->params_half = malloc((size_t)count * sizeof(uint16_t));
    else
        s->params = crnn_alloc_floats((size_t)count);
    if (!s->params && !s->params_half)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name);
    const unsigned char *q = sr->p + sr->pos;
    for (uint64_t i = 0; i < count; i++) {
        uint16_t h = (uint16_t)(q[2 * i] | q[2 * i + 1] << 8);
        if (as_is)
            s->params_half[i] = h;
        else
            s->params[i] = f16 ? crnn_f16_to_f32(h) : crnn_bf16_to_f32(h);
    }
    sr->pos += (size_t)count * 2;
    s->n_params = (size_t)count;
    s->weights_dtype = f16 ? CRNN_WEIGHTS_F16 : CRNN_WEIGHTS_BF16;
    return CRNN_OK;
}

/* CURS: u32 n, then n u64 stream positions. */
static int read_cursors(reader *sr, crnn_snapshot *s, const char *name, crnn_error *err)
{
    uint32_t n = get_u32(sr);
    if (sr->bad || n == 0 || n > (sr->len - sr->pos) / 8)
        return corrupt(err, name, "the cursor count does not fit");
    s->cursors = malloc(sizeof(uint64_t) * n);
    if (!s->cursors)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name);
    for (uint32_t i = 0; i < n; i++)
        s->cursors[i] = get_u64(sr);
    s->n_cursors = (int)n;
    return CRNN_OK;
}

/* Walks the payload's sections: tag, flags, u64 length, content. Each known
 * section may appear once; an unknown one is skipped unless it is required. */
/* PLAN (format 1.3; 1.4 appends flags): how a run was planned for its time. */
static int read_plan(reader *sr, crnn_snapshot *s, unsigned minor, const char *name,
                     crnn_error *err)
{
    crnn_plan *pl = &s->plan;
    pl->seconds = get_f64(sr);
    pl->setup_seconds = get_f64(sr);
    pl->train_chars_per_second = get_f64(sr);
    pl->eval_chars_per_second = get_f64(sr);
    pl->save_seconds = get_f64(sr);
    pl->steps = get_u64(sr);
    pl->final_chars = get_u64(sr);
    pl->epochs = get_f64(sr);
    pl->chosen = get_u32(sr);
    uint32_t clen = get_u32(sr);
    if (sr->bad || !(pl->seconds > 0) || clen >= sizeof pl->command || !need(sr, clen))
        return corrupt(err, name, "the plan section does not fit");
    memcpy(pl->command, sr->p + sr->pos, clen);
    pl->command[clen] = 0;
    sr->pos += clen;
    if (minor >= 4)
        pl->bf16 = (get_u32(sr) & PLAN_BF16) != 0;
    return CRNN_OK;
}

static int parse_sections(const unsigned char *p, size_t len, uint32_t nsections, unsigned minor,
                          unsigned load_flags, const char *name, crnn_snapshot *s,
                          crnn_error *err)
{
    reader r = {p, len, 0, 0};
    int have_conf = 0, have_vocab = 0, have_params = 0;
    for (uint32_t k = 0; k < nsections; k++) {
        if (!need(&r, 16))
            return corrupt(err, name, "a section header is cut short");
        char tag[5] = {0};
        memcpy(tag, r.p + r.pos, 4);
        r.pos += 4;
        uint32_t flags = get_u32(&r);
        uint64_t slen = get_u64(&r);
        if (slen > r.len - r.pos)
            return corrupt(err, name, "a section is longer than the file");
        reader sr = {r.p + r.pos, (size_t)slen, 0, 0};
        r.pos += (size_t)slen;
        int known = 1, twice = 0, rc = CRNN_OK;
        if (!strcmp(tag, "CONF")) {
            if (!(twice = have_conf++))
                get_config(&sr, s, minor);
        } else if (!strcmp(tag, "VOCB") || !strcmp(tag, "VOCX")) {
            if (!(twice = have_vocab++))
                rc = read_vocab(&sr, s, tag[3] == 'X', name, err);
        } else if (!strcmp(tag, "SRCS")) {
            if (!(twice = s->corpus_args != NULL))
                rc = read_sources(&sr, s, name, err);
        } else if (!strcmp(tag, "ORIG")) {
            if (!(twice = s->origin_path != NULL))
                rc = read_origin(&sr, s, name, err);
        } else if (!strcmp(tag, "PLAN")) {
            if (!(twice = s->plan.seconds > 0))
                rc = read_plan(&sr, s, minor, name, err);
        } else if (!strcmp(tag, "CRPS")) {
            if (!(twice = s->corpus_path != NULL))
                rc = read_corpus(&sr, s, name, err);
        } else if (!strcmp(tag, "PROG")) {
            if (!(twice = s->has_progress++))
                get_progress(&sr, s, minor);
        } else if (!strcmp(tag, "PARM") || !strcmp(tag, "ADMM") || !strcmp(tag, "ADMV") ||
                   !strcmp(tag, "HIDN")) {
            rc = read_f32_array(tag, &sr, s, name, err);
            have_params |= !strcmp(tag, "PARM");
        } else if (!strcmp(tag, "PF16") || !strcmp(tag, "PB16")) {
            if (!(twice = s->params != NULL || s->params_half != NULL))
                rc = read_half_params(tag, &sr, s, load_flags, name, err);
            have_params = 1;
        } else if (!strcmp(tag, "CURS")) {
            if (!(twice = s->cursors != NULL))
                rc = read_cursors(&sr, s, name, err);
        } else {
            known = 0;
            if (flags & SECTION_REQUIRED)
                return crnn_fail(err, CRNN_ERR_VERSION,
                                 "%s needs a newer charrnn: it has a required section '%s' this "
                                 "version does not know",
                                 name, tag);
        }
        if (twice)
            return corrupt(err, name, "a section appears twice");
        if (rc != CRNN_OK)
            return rc;
        /* Known sections must be exactly as long as their fields (newer minor
         * versions may append fields: longer is allowed, shorter is not). */
        if (known && sr.bad)
            return corrupt(err, name, "a section is shorter than its fields");
    }
    if (r.pos != r.len)
        return corrupt(err, name, "bytes follow the last section");
    if (!have_conf || !have_vocab || !have_params)
        return corrupt(err, name, "a required section is missing");
    if (s->origin_path && s->origin_vocab > s->vocab_size)
        return corrupt(err, name, "the origin's vocabulary is larger than the model's");
    return CRNN_OK;
}

static int parse(const unsigned char *bytes, size_t len, const char *name, unsigned load_flags,
                 crnn_snapshot *snap, crnn_error *err)
{
    memset(snap, 0, sizeof *snap);
    if (len < 8 || memcmp(bytes, MAGIC, 8) != 0)
        return crnn_fail(err, CRNN_ERR_FORMAT, "%s is not a charrnn snapshot (wrong magic bytes)",
                         name);
    if (len < CRNN_HEADER_BYTES)
        return corrupt(err, name, "the file is cut short inside its header");
    reader h = {bytes, CRNN_HEADER_BYTES, 8, 0};
    unsigned major = bytes[8] | (unsigned)bytes[9] << 8, minor = bytes[10] | (unsigned)bytes[11] << 8;
    h.pos = 12;
    uint32_t flags = get_u32(&h), nsections = get_u32(&h);
    uint64_t plen = get_u64(&h), zlen = get_u64(&h);
    uint32_t zcrc = get_u32(&h), pcrc = get_u32(&h), hcrc = get_u32(&h);
    if (crc_of(bytes, 44) != hcrc)
        return corrupt(err, name, "header checksum mismatch");
    if (major != CRNN_FORMAT_MAJOR)
        return crnn_fail(err, CRNN_ERR_VERSION,
                         "%s is snapshot format %u.%u; this charrnn %s reads format %d.x%s", name,
                         major, minor, CRNN_VERSION_STRING, CRNN_FORMAT_MAJOR,
                         major > CRNN_FORMAT_MAJOR ? ": a newer charrnn is needed" : "");
    if (flags != 0)
        return crnn_fail(err, CRNN_ERR_VERSION, "%s uses features this charrnn does not know "
                         "(header flags 0x%x): a newer charrnn is needed", name, flags);
    if (zlen != len - CRNN_HEADER_BYTES)
        return corrupt(err, name, len - CRNN_HEADER_BYTES < zlen ? "the file is truncated"
                                                                 : "extra bytes follow the data");
    if (plen > MAX_PAYLOAD || plen > zlen * MAX_RATIO + 64 || nsections > plen / 16)
        return corrupt(err, name, "the recorded sizes are impossible");
    const unsigned char *z = bytes + CRNN_HEADER_BYTES;
    if (crc_of(z, (size_t)zlen) != zcrc)
        return corrupt(err, name, "checksum mismatch in the compressed data");
    unsigned char *payload = malloc(plen ? (size_t)plen : 1);
    if (!payload)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name);
    uLongf got = (uLongf)plen;
    int zrc = uncompress(payload, &got, z, (uLong)zlen);
    if (zrc != Z_OK || got != plen || crc_of(payload, (size_t)plen) != pcrc) {
        free(payload);
        return corrupt(err, name, "the compressed data does not inflate to the recorded payload");
    }
    int rc = parse_sections(payload, (size_t)plen, nsections, minor, load_flags, name, snap, err);
    free(payload);
    if (rc != CRNN_OK) {
        crnn_snapshot_free(snap);
        return rc;
    }
    snap->version_major = major;
    snap->version_minor = minor;
    snap->file_bytes = len;
    snap->payload_bytes = plen;
    return CRNN_OK;
}

int crnn_snapshot_parse(const unsigned char *bytes, size_t len, const char *name,
                        crnn_snapshot *snap, crnn_error *err)
{
    return parse(bytes, len, name, 0, snap, err);
}

int crnn_snapshot_load(const char *path, crnn_snapshot *snap, crnn_error *err)
{
    return crnn_snapshot_load_flags(path, 0, snap, err);
}

int crnn_snapshot_load_flags(const char *path, unsigned flags, crnn_snapshot *snap,
                             crnn_error *err)
{
    memset(snap, 0, sizeof *snap);
    unsigned char *bytes;
    size_t len;
    int rc = crnn_read_file(path, MAX_PAYLOAD + CRNN_HEADER_BYTES, &bytes, &len, err);
    if (rc != CRNN_OK)
        return rc;
    rc = parse(bytes, len, path, flags, snap, err);
    free(bytes);
    return rc;
}

void crnn_snapshot_free(crnn_snapshot *snap)
{
    free(snap->vocab);
    free(snap->corpus_path);
    free(snap->origin_path);
    for (uint32_t i = 0; i < snap->n_corpus_args; i++)
        free(snap->corpus_args[i]);
    free(snap->corpus_args);
    for (uint32_t i = 0; i < snap->n_corpus_files; i++)
        free(snap->corpus_files[i].path);
    free(snap->corpus_files);
    crnn_free_floats(snap->params);
    free(snap->params_half);
    crnn_free_floats(snap->adam_m);
    crnn_free_floats(snap->adam_v);
    free(snap->cursors);
    crnn_free_floats(snap->state);
    memset(snap, 0, sizeof *snap);
}
