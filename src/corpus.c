/*
 * corpus.c: streaming tokenization of a text file and its id cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "corpus.h"
#include "io.h"
#include "sources.h"
#include "utf8.h"

#define CACHE_MAGIC "CRNNIDS"
#define CACHE_VERSION 2u /* 2: a record per file (corpora of several files) */
#define CACHE_ENDIAN 0x01020304u
#define CACHE_ALIGN 4096

/* ---- The id cache file: header, vocabulary, a record per file, ids. ---- */

typedef struct cache_header {
    char magic[8];
    uint32_t version, endian;
    uint64_t files, file_bytes;
    uint32_t file_crc, lossy, normalize;
    int32_t max_vocab, vocab_size, width;
    uint64_t length, distinct, unknown, ids_offset;
    uint32_t header_crc, reserved;
} cache_header;

typedef struct cache_file { /* what identifies one file of the corpus */
    uint64_t bytes, inode, device;
    int64_t sec, nsec;
    uint32_t crc, reserved;
} cache_file;

static cache_file record_of(const crnn_corpus_file *f)
{
    return (cache_file){f->bytes, f->inode, f->device, f->mtime_sec, f->mtime_nsec, f->crc, 0};
}

/* The header's CRC: over the header (its CRC zeroed), the vocabulary and the
 * file records. */
static uint32_t header_crc(const cache_header *h, const uint32_t *symbols,
                           const cache_file *records)
{
    cache_header copy = *h;
    copy.header_crc = 0;
    uLong crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)&copy, sizeof copy);
    crc = crc32(crc, (const Bytef *)symbols, (uInt)(sizeof *symbols * (size_t)h->vocab_size));
    return (uint32_t)crc32(crc, (const Bytef *)records, (uInt)(sizeof *records * h->files));
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* DIR/NAME.HASH.ids, NAME the first file's, the hash over every file's
 * absolute path and the options. */
static char *cache_name(const char *dir, const crnn_corpus *c, const crnn_corpus_options *o)
{
    char abs[PATH_MAX], first[PATH_MAX];
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < c->nfiles; i++) {
        if (!realpath(c->files[i].path, abs))
            return NULL;
        if (i == 0)
            memcpy(first, abs, sizeof first);
        h = fnv1a(h, abs, strlen(abs) + 1);
    }
    int opts[3] = {o->lossy, (int)o->normalize, o->max_vocab};
    h = fnv1a(h, opts, sizeof opts);
    if (o->base) /* the ids depend on the vocabulary extended */
        h = fnv1a(h, o->base->symbols, sizeof(uint32_t) * (size_t)o->base->size);
    const char *base = strrchr(first, '/');
    base = base ? base + 1 : first;
    size_t n = strlen(dir) + strlen(base) + 40;
    char *name = malloc(n);
    if (name)
        snprintf(name, n, "%s/%.100s.%016llx.ids", dir, base, (unsigned long long)h);
    return name;
}

static int make_dirs(const char *dir)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* 1 if the records are the files of c as they are now (the CRCs, which the
 * listing does not know, are taken from the records). */
static int same_files(crnn_corpus *c, const cache_file *records)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        const crnn_corpus_file *f = &c->files[i];
        const cache_file *r = &records[i];
        if (r->bytes != f->bytes || r->inode != f->inode || r->device != f->device ||
            r->sec != f->mtime_sec || r->nsec != f->mtime_nsec)
            return 0;
    }
    for (size_t i = 0; i < c->nfiles; i++)
        c->files[i].crc = records[i].crc;
    return 1;
}

/* Maps a valid cache file for these files and options into c (replacing its
 * vocabulary); 0 if there is none (c unchanged but for nothing). */
static int try_cache(crnn_corpus *c, const char *name, const crnn_corpus_options *o)
{
    crnn_vocab vocab = {0};
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    cache_header h;
    int ok = fstat(fd, &st) == 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
             memcmp(h.magic, CACHE_MAGIC, 8) == 0 && h.version == CACHE_VERSION &&
             h.endian == CACHE_ENDIAN && h.files == c->nfiles &&
             h.lossy == (uint32_t)o->lossy && h.normalize == (uint32_t)o->normalize &&
             h.max_vocab == o->max_vocab && h.vocab_size >= 1 && h.vocab_size <= 0x110000 &&
             (h.width == 1 || h.width == 2 || h.width == 4) && h.ids_offset % CACHE_ALIGN == 0 &&
             h.ids_offset >= sizeof h + sizeof(uint32_t) * (uint64_t)h.vocab_size +
                                sizeof(cache_file) * h.files &&
             h.length > 0 && (uint64_t)st.st_size >= h.ids_offset &&
             h.length <= ((uint64_t)st.st_size - h.ids_offset) / (uint64_t)h.width &&
             (uint64_t)st.st_size == h.ids_offset + h.length * (uint64_t)h.width;
    uint32_t *symbols = NULL;
    cache_file *records = NULL;
    if (ok) {
        size_t sb = sizeof *symbols * (size_t)h.vocab_size, rb = sizeof *records * c->nfiles;
        symbols = malloc(sb);
        records = malloc(rb);
        ok = symbols && records && pread(fd, symbols, sb, sizeof h) == (ssize_t)sb &&
             pread(fd, records, rb, (off_t)(sizeof h + sb)) == (ssize_t)rb &&
             header_crc(&h, symbols, records) == h.header_crc && same_files(c, records);
    }
    free(records);
    crnn_error ignored;
    if (ok && o->base) /* an extension of this base, or not ours */
        ok = h.vocab_size >= o->base->size &&
             !memcmp(symbols, o->base->symbols, sizeof *symbols * (size_t)o->base->size);
    if (ok)
        ok = crnn_vocab_adopt(&vocab, symbols, h.vocab_size, &ignored) == CRNN_OK;
    void *map = MAP_FAILED;
    if (ok) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        ok = map != MAP_FAILED;
    }
    close(fd);
    if (!ok) {
        free(symbols); /* also when adopted: vocab.symbols is the same array */
        free(vocab.order);
        return 0;
    }
    crnn_vocab_free(&c->vocab);
    c->vocab = vocab;
    c->mapping = map;
    c->mapping_length = (size_t)st.st_size;
    c->ids = (const unsigned char *)map + h.ids_offset;
    c->length = (size_t)h.length;
    c->width = h.width;
    c->file_bytes = h.file_bytes;
    c->file_crc = h.file_crc;
    c->distinct = (size_t)h.distinct;
    c->unknown = (size_t)h.unknown;
    c->added = o->base ? (size_t)(h.vocab_size - o->base->size) : 0;
    c->cache_reused = 1;
    return 1;
}

/* ---- Tokenizing. ---- */

/* Pass 1: every file's CRC, the UTF-8 check and the count of every code
 * point; the length, size and CRC of the whole. */
static int count_pass(crnn_corpus *c, const crnn_corpus_options *o, uint64_t *counts,
                      crnn_error *err)
{
    size_t n = 0;
    uint64_t bytes = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    /* Four tables for the first 256 code points, used in turn: counting one
     * table, a run of the same character waits on its own previous store. */
    uint64_t small[4][256];
    memset(small, 0, sizeof small);
    int rc = CRNN_OK;
    for (size_t f = 0; f < c->nfiles && rc == CRNN_OK; f++) {
        crnn_utf8_reader s;
        rc = crnn_utf8_open_file(&s, c->files[f].path, o->lossy, o->normalize, err);
        while (rc == CRNN_OK && (rc = crnn_utf8_next(&s, err)) == 1) {
            const uint32_t *cp = s.cps;
            size_t i = 0;
            for (; i + 4 <= s.ncps; i += 4)
                for (int k = 0; k < 4; k++) {
                    uint32_t x = cp[i + (size_t)k];
                    if (x < 256)
                        small[k][x]++;
                    else
                        counts[x]++;
                }
            for (; i < s.ncps; i++)
                counts[cp[i]]++;
            n += s.ncps;
            rc = CRNN_OK;
        }
        if (rc == CRNN_OK && s.bytes != c->files[f].bytes)
            rc = crnn_fail(err, CRNN_ERR_DATA, "%s changed while it was being read",
                           c->files[f].path);
        c->files[f].crc = s.crc;
        crc = crc32_combine(crc, s.crc, (z_off_t)s.bytes);
        bytes += s.bytes;
        crnn_utf8_close(&s);
    }
    for (int k = 0; k < 4; k++)
        for (int x = 0; x < 256; x++)
            counts[x] += small[k][x];
    c->length = n;
    c->file_bytes = bytes;
    c->file_crc = (uint32_t)crc;
    return rc < 0 ? rc : CRNN_OK;
}

/* Where pass 2 puts the ids: a file being written, or a memory buffer. */
typedef struct sink {
    crnn_atomic_file *file;
    unsigned char *mem;
    size_t at;           /* bytes in mem so far */
    unsigned char *staging; /* for the file: one segment's ids */
    size_t staging_cap;
} sink;

static int emit(sink *k, const uint32_t *ids, size_t n, int width, crnn_error *err)
{
    unsigned char *dst;
    size_t bytes = n * (size_t)width;
    if (k->file) {
        if (bytes > k->staging_cap) {
            unsigned char *p = realloc(k->staging, bytes);
            if (!p)
                return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
            k->staging = p;
            k->staging_cap = bytes;
        }
        dst = k->staging;
    } else {
        dst = k->mem + k->at;
    }
    if (width == 1)
        for (size_t i = 0; i < n; i++)
            dst[i] = (unsigned char)ids[i];
    else if (width == 2)
        for (size_t i = 0; i < n; i++)
            ((uint16_t *)(void *)dst)[i] = (uint16_t)ids[i];
    else
        memcpy(dst, ids, bytes);
    if (k->file) {
        int rc = crnn_atomic_write(k->file, dst, bytes, err);
        if (rc != CRNN_OK)
            return rc;
    }
    k->at += bytes;
    return CRNN_OK;
}

/* 1 if path is still the file f was when listed. */
static int unchanged(const crnn_corpus_file *f)
{
    struct stat st;
    return stat(f->path, &st) == 0 && (uint64_t)st.st_size == f->bytes &&
           (uint64_t)st.st_ino == f->inode && (uint64_t)st.st_dev == f->device &&
           (int64_t)st.st_mtim.tv_sec == f->mtime_sec &&
           (int64_t)st.st_mtim.tv_nsec == f->mtime_nsec;
}

/* Pass 2: every code point's id into the sink, file after file. The CRCs
 * were taken by pass 1; a file changed since then shows in its size, inode
 * or modification time. */
static int id_pass(const crnn_corpus *c, const crnn_corpus_options *o, const int32_t *id_of,
                   int unknown_id, sink *k, crnn_error *err)
{
    size_t n = 0;
    int rc = CRNN_OK;
    for (size_t f = 0; f < c->nfiles && rc == CRNN_OK; f++) {
        const char *path = c->files[f].path;
        crnn_utf8_reader s;
        rc = crnn_utf8_open_file(&s, path, o->lossy, o->normalize, err);
        s.skip_crc = 1;
        while (rc == CRNN_OK && (rc = crnn_utf8_next(&s, err)) == 1) {
            uint32_t *cps = s.cps;
            if (n + s.ncps > c->length) {
                rc = crnn_fail(err, CRNN_ERR_DATA, "%s changed while it was being read", path);
                break;
            }
            for (size_t i = 0; i < s.ncps; i++) {
                int32_t id = id_of[cps[i]];
                cps[i] = (uint32_t)(id >= 0 ? id : unknown_id);
            }
            rc = emit(k, cps, s.ncps, c->width, err);
            n += s.ncps;
            rc = rc == CRNN_OK ? CRNN_OK : rc;
        }
        if (rc >= 0 && !unchanged(&c->files[f]))
            rc = crnn_fail(err, CRNN_ERR_DATA, "%s changed while it was being read", path);
        crnn_utf8_close(&s);
    }
    if (rc >= 0 && n != c->length)
        rc = crnn_fail(err, CRNN_ERR_DATA, "%s changed while it was being read",
                       c->files[c->nfiles - 1].path);
    return rc < 0 ? rc : CRNN_OK;
}

/* Pass 2 into a new cache file (written beside it and renamed when whole, as
 * snapshots are). */
static int write_cache(crnn_corpus *c, const char *name, const crnn_corpus_options *o,
                       const int32_t *id_of, int unknown_id, crnn_error *err)
{
    cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.version = CACHE_VERSION;
    h.endian = CACHE_ENDIAN;
    h.files = c->nfiles;
    h.file_bytes = c->file_bytes;
    h.file_crc = c->file_crc;
    h.lossy = (uint32_t)o->lossy;
    h.normalize = (uint32_t)o->normalize;
    h.max_vocab = o->max_vocab;
    h.vocab_size = c->vocab.size;
    h.width = c->width;
    h.length = c->length;
    h.distinct = c->distinct;
    h.unknown = c->unknown;
    size_t sb = sizeof(uint32_t) * (size_t)c->vocab.size, rb = sizeof(cache_file) * c->nfiles;
    size_t head = sizeof h + sb + rb;
    h.ids_offset = (head + CACHE_ALIGN - 1) / CACHE_ALIGN * CACHE_ALIGN;
    unsigned char *front = calloc(1, (size_t)h.ids_offset);
    if (!front)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    cache_file *records = (cache_file *)(void *)(front + sizeof h + sb);
    for (size_t i = 0; i < c->nfiles; i++) {
        cache_file r = record_of(&c->files[i]);
        memcpy(&records[i], &r, sizeof r);
    }
    memcpy(front + sizeof h, c->vocab.symbols, sb);
    h.header_crc = header_crc(&h, c->vocab.symbols, records);
    memcpy(front, &h, sizeof h);
    crnn_atomic_file f;
    int rc = crnn_atomic_open(&f, name, err);
    if (rc == CRNN_OK)
        rc = crnn_atomic_write(&f, front, (size_t)h.ids_offset, err);
    free(front);
    sink k = {&f, NULL, 0, NULL, 0};
    if (rc == CRNN_OK)
        rc = id_pass(c, o, id_of, unknown_id, &k, err);
    free(k.staging);
    if (rc == CRNN_OK)
        return crnn_atomic_commit(&f, err);
    if (f.tmp)
        crnn_atomic_abort(&f);
    return rc;
}

const char *crnn_default_cache_dir(char *buf, size_t size)
{
    const char *env = getenv("CHARRNN_CACHE_DIR");
    if (env)
        return *env ? (snprintf(buf, size, "%s", env), buf) : NULL;
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && *xdg) {
        snprintf(buf, size, "%s/charrnn", xdg);
        return buf;
    }
    const char *home = getenv("HOME");
    if (home && *home) {
        snprintf(buf, size, "%s/.cache/charrnn", home);
        return buf;
    }
    return NULL;
}

static int open_corpus(crnn_corpus *c, const char *const *paths, size_t n,
                       const crnn_corpus_options *o, crnn_error *err);

int crnn_corpus_open(crnn_corpus *c, const char *const *paths, size_t n,
                     const crnn_corpus_options *o, crnn_error *err)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = open_corpus(c, paths, n, o, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    c->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return rc;
}

/* The files named by paths, the empty ones set aside (counted, the first
 * named). A corpus with no text at all is CRNN_ERR_DATA. */
static int list_files(crnn_corpus *c, const char *const *paths, size_t n, crnn_error *err)
{
    crnn_sources src;
    int rc = crnn_sources_expand(paths, n, &src, err);
    if (rc != CRNN_OK)
        return rc;
    c->files = crnn_calloc(src.count, sizeof *c->files);
    if (!c->files) {
        crnn_sources_free(&src);
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory listing the corpus");
    }
    for (size_t i = 0; i < src.count; i++) {
        crnn_source *f = &src.files[i];
        if (f->bytes == 0) {
            if (!c->first_empty && !(c->first_empty = strdup(f->path)))
                rc = crnn_fail(err, CRNN_ERR_NOMEM, "out of memory listing the corpus");
            c->empty_files++;
            continue;
        }
        c->files[c->nfiles++] = (crnn_corpus_file){f->path, f->bytes, 0, f->inode, f->device,
                                                   f->mtime_sec, f->mtime_nsec};
        f->path = NULL; /* now the corpus's */
    }
    crnn_sources_free(&src);
    if (rc == CRNN_OK && c->nfiles == 0)
        rc = n == 1 && c->empty_files == 1
                 ? crnn_fail(err, CRNN_ERR_DATA, "%s is empty: a corpus needs text to learn from",
                             paths[0])
                 : crnn_fail(err, CRNN_ERR_DATA, "the corpus has no text: its %zu files are empty",
                             c->empty_files);
    return rc;
}

static int open_corpus(crnn_corpus *c, const char *const *paths, size_t n,
                       const crnn_corpus_options *o, crnn_error *err)
{
    memset(c, 0, sizeof *c);
    int rc = list_files(c, paths, n, err);
    if (rc != CRNN_OK) {
        crnn_corpus_close(c);
        return rc;
    }
    const char *path = c->nfiles == 1 ? c->files[0].path : "the corpus";
    int use_cache = o->cache_dir && *o->cache_dir;
    char *name = use_cache ? cache_name(o->cache_dir, c, o) : NULL;
    if (name && try_cache(c, name, o)) {
        c->cache_path = name;
        return CRNN_OK;
    }

    uint64_t *counts = calloc((size_t)CRNN_MAX_CODE_POINT + 1, sizeof *counts);
    int32_t *id_of = NULL;
    if (!counts) {
        rc = crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    rc = count_pass(c, o, counts, err);
    if (rc == CRNN_OK && c->length == 0)
        rc = crnn_fail(err, CRNN_ERR_DATA, "%s holds no characters", path);
    if (rc == CRNN_OK && o->base)
        rc = crnn_vocab_extend(&c->vocab, o->base, counts, o->max_vocab, &c->distinct,
                               &c->unknown, &c->added, err);
    else if (rc == CRNN_OK)
        rc = crnn_vocab_from_counts(&c->vocab, counts, o->max_vocab, &c->distinct, &c->unknown,
                                    err);
    free(counts);
    counts = NULL;
    if (rc != CRNN_OK)
        goto done;
    c->width = c->vocab.size <= 256 ? 1 : c->vocab.size <= 65536 ? 2 : 4;
    id_of = malloc(sizeof *id_of * ((size_t)CRNN_MAX_CODE_POINT + 1));
    if (!id_of) {
        rc = crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    memset(id_of, 0xFF, sizeof *id_of * ((size_t)CRNN_MAX_CODE_POINT + 1)); /* -1: unknown */
    for (int i = 0; i < c->vocab.size; i++)
        id_of[c->vocab.symbols[i]] = i;
    int unknown_id = crnn_vocab_index(&c->vocab, CRNN_UNKNOWN_CODE_POINT);

    if (name) {
        crnn_error werr = {CRNN_ERR_IO, ""};
        if (make_dirs(o->cache_dir) != 0)
            crnn_fail(&werr, CRNN_ERR_IO, "cannot create %s: %s", o->cache_dir, strerror(errno));
        else if (write_cache(c, name, o, id_of, unknown_id, &werr) == CRNN_OK &&
                 try_cache(c, name, o)) {
            c->cache_reused = 0;
            c->cache_path = name;
            name = NULL;
            goto done;
        } else if (werr.status == CRNN_ERR_DATA) { /* the text changed under us */
            *err = werr;
            rc = werr.status;
            goto done;
        }
        if (!werr.message[0])
            snprintf(werr.message, sizeof werr.message, "%s was written but cannot be mapped", name);
        snprintf(c->cache_warning, sizeof c->cache_warning, "%s", werr.message);
    }
    if (c->length > SIZE_MAX / (size_t)c->width) {
        rc = crnn_fail(err, CRNN_ERR_NOMEM, "%s is too large to hold in memory", path);
        goto done;
    }
    c->owned = malloc(c->length * (size_t)c->width + 1);
    if (!c->owned) {
        rc = crnn_fail(err, CRNN_ERR_NOMEM,
                       "out of memory holding %s as %zu ids (give the token cache a writable "
                       "directory with --cache-dir)", path, c->length);
        goto done;
    }
    sink k = {NULL, c->owned, 0, NULL, 0};
    rc = id_pass(c, o, id_of, unknown_id, &k, err);
    c->ids = c->owned;
done:
    free(counts);
    free(id_of);
    free(name);
    if (rc != CRNN_OK)
        crnn_corpus_close(c);
    return rc;
}

void crnn_corpus_trim(crnn_corpus *c)
{
    if (c->mapping)
        madvise(c->mapping, c->mapping_length, MADV_DONTNEED);
}

void crnn_corpus_close(crnn_corpus *c)
{
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i].path);
    free(c->files);
    free(c->first_empty);
    crnn_vocab_free(&c->vocab);
    if (c->mapping)
        munmap(c->mapping, c->mapping_length);
    free(c->owned);
    free(c->cache_path);
    memset(c, 0, sizeof *c);
}
