/*
 * utf8.c: UTF-8 decoding in segments (see utf8.h), and the public encoder of
 * one code point (crnn_utf8_encode).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>
#include <zlib.h>

#include "common.h"
#include "utf8.h"
#include "vocab.h"

#define BLOCK ((size_t)4 << 20) /* bytes read at a time */

/* Buffers for up to `size` bytes at a time (less for a short buffer source:
 * decoding a priming text must not cost 20 MB). */
static int init(crnn_utf8_reader *s, const char *name, int lossy, crnn_normalization norm,
                size_t size, crnn_error *err)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->name = name;
    s->lossy = lossy;
    s->normalize = norm;
    s->at_start = 1;
    s->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    s->cap = size + 8;
    s->buf = malloc(s->cap);
    s->cps_cap = size + 8;
    s->cps = malloc(sizeof *s->cps * s->cps_cap);
    if (!s->buf || !s->cps)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", name);
    return CRNN_OK;
}

int crnn_utf8_open_file(crnn_utf8_reader *s, const char *path, int lossy,
                        crnn_normalization norm, crnn_error *err)
{
    int rc = init(s, path, lossy, norm, BLOCK, err);
    if (rc != CRNN_OK)
        return rc;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0)
        return crnn_fail(err, CRNN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(s->fd, &st) == 0 && S_ISDIR(st.st_mode))
        return crnn_fail(err, CRNN_ERR_IO, "%s is a directory, not a text file", path);
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    return CRNN_OK;
}

int crnn_utf8_open_buffer(crnn_utf8_reader *s, const unsigned char *mem, size_t len,
                          const char *name, int lossy, crnn_normalization norm, crnn_error *err)
{
    int rc = init(s, name, lossy, norm, len < BLOCK ? len : BLOCK, err);
    s->mem = mem;
    s->mem_len = len;
    return rc;
}

void crnn_utf8_close(crnn_utf8_reader *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s->cps);
    s->fd = -1;
    s->buf = NULL;
    s->cps = NULL;
}

/* Appends up to BLOCK new bytes to buf (growing it if it is full). */
static int fill(crnn_utf8_reader *s, crnn_error *err)
{
    size_t want = BLOCK;
    if (s->fd < 0 && s->mem_len - s->mem_pos < want)
        want = s->mem_len - s->mem_pos;
    if (s->cap - s->len < want) {
        size_t cap = s->len + want + 8;
        if (cap < 2 * s->cap)
            cap = 2 * s->cap; /* a long line while normalizing: grow geometrically */
        unsigned char *b = realloc(s->buf, cap);
        if (!b)
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", s->name);
        s->buf = b;
        s->cap = cap;
    }
    size_t got = 0;
    if (s->fd < 0) {
        got = s->mem_len - s->mem_pos < BLOCK ? s->mem_len - s->mem_pos : BLOCK;
        if (got)
            memcpy(s->buf + s->len, s->mem + s->mem_pos, got);
        s->mem_pos += got;
        s->eof = s->mem_pos == s->mem_len;
    }
    while (s->fd >= 0 && got < BLOCK) {
        ssize_t r = read(s->fd, s->buf + s->len + got, BLOCK - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return crnn_fail(err, CRNN_ERR_IO, "cannot read %s: %s", s->name, strerror(errno));
        if (r == 0) {
            s->eof = 1;
            break;
        }
        got += (size_t)r;
    }
    if (s->bytes < 2)
        for (size_t i = 0; i < got && s->bytes + i < 2; i++)
            s->first[s->bytes + i] = s->buf[s->len + i];
    if (!s->skip_crc)
        s->crc = (uint32_t)crc32(s->crc, s->buf + s->len, (uInt)got);
    s->bytes += got;
    s->len += got;
    return CRNN_OK;
}

/* Line and column (1-based, in code points) of a byte offset: counted again
 * from the start, since this only happens on the way to an error. */
static void locate(const crnn_utf8_reader *s, uint64_t offset, size_t *line, size_t *column)
{
    *line = *column = 1;
    FILE *f = s->fd >= 0 ? fopen(s->name, "rb") : NULL;
    if (s->fd >= 0 && !f)
        return;
    for (uint64_t i = 0; i < offset; i++) {
        int ch = f ? getc(f) : i < s->mem_len ? s->mem[i] : EOF;
        if (ch == EOF)
            break;
        if (ch == '\n') {
            ++*line;
            *column = 1;
        } else if ((ch & 0xC0) != 0x80) {
            ++*column;
        }
    }
    if (f)
        fclose(f);
}

static int invalid_utf8(crnn_utf8_reader *s, size_t at, size_t end, crnn_error *err)
{
    uint64_t where = s->offset + at;
    size_t line, column;
    locate(s, where, &line, &column);
    char shown[32] = "";
    size_t k = 0;
    for (size_t i = at; i < end && i < at + 4; i++)
        k += (size_t)snprintf(shown + k, sizeof shown - k, "%s0x%02X", i > at ? " " : "", s->buf[i]);
    const char *hint = "";
    if (s->bytes >= 2 && ((s->first[0] == 0xFF && s->first[1] == 0xFE) ||
                          (s->first[0] == 0xFE && s->first[1] == 0xFF)))
        hint = " (the file looks like UTF-16: convert it with iconv -f UTF-16 -t UTF-8)";
    return crnn_fail(err, CRNN_ERR_UTF8,
                     "%s: invalid UTF-8 at byte %llu (line %zu, column %zu): %s%s; "
                     "use --lossy to replace invalid bytes with U+FFFD",
                     s->name, (unsigned long long)where, line, column, shown, hint);
}

static size_t sequence_length(unsigned char lead)
{
    return lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

/* Where the current segment must end so that no character (or, when
 * normalizing, no line: a newline never composes with its neighbours) is cut
 * by the end of the buffer; 0 if more bytes are needed first. */
static size_t segment_end(const crnn_utf8_reader *s)
{
    if (s->eof)
        return s->len;
    if (s->normalize != CRNN_NORMALIZE_NONE) {
        for (size_t i = s->len; i > 0; i--)
            if (s->buf[i - 1] == '\n')
                return i;
        return 0;
    }
    size_t end = s->len;
    for (size_t back = 1; back <= 3 && back <= s->len; back++) {
        unsigned char b = s->buf[s->len - back];
        if ((b & 0xC0) == 0x80)
            continue; /* continuation byte: look further back for its lead */
        if (b >= 0xC0 && sequence_length(b) > back)
            end = s->len - back;
        break;
    }
    return end;
}

static int grow_cps(crnn_utf8_reader *s, size_t need, crnn_error *err)
{
    if (need <= s->cps_cap)
        return CRNN_OK;
    size_t cap = need + need / 2;
    uint32_t *p = realloc(s->cps, sizeof *p * cap);
    if (!p)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", s->name);
    s->cps = p;
    s->cps_cap = cap;
    return CRNN_OK;
}

/* Decodes buf[from, end) into cps (ASCII eight bytes at a time). */
static int decode(crnn_utf8_reader *s, size_t from, size_t end, crnn_error *err)
{
    int rc = grow_cps(s, end - from, err);
    if (rc != CRNN_OK)
        return rc;
    const unsigned char *b = s->buf;
    uint32_t *out = s->cps;
    size_t n = 0, i = from;
    while (i < end) {
        if (i + 8 <= end) {
            uint64_t w;
            memcpy(&w, b + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                for (int k = 0; k < 8; k++)
                    out[n + (size_t)k] = b[i + (size_t)k];
                n += 8;
                i += 8;
                continue;
            }
        }
        if (b[i] < 0x80) {
            out[n++] = b[i++];
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t used = utf8proc_iterate(b + i, (utf8proc_ssize_t)(end - i), &cp);
        if (used < 0) {
            if (!s->lossy)
                return invalid_utf8(s, i, end, err);
            out[n++] = CRNN_UNKNOWN_CODE_POINT;
            i++;
            continue;
        }
        out[n++] = (uint32_t)cp;
        i += (size_t)used;
    }
    s->ncps = n;
    return CRNN_OK;
}

/* NFC or NFKC of the segment in cps, through utf8proc. */
static int normalize(crnn_utf8_reader *s, crnn_error *err)
{
    size_t n = s->ncps;
    unsigned char *utf8 = malloc(n * 4 + 1);
    if (!utf8)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory normalizing %s", s->name);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)utf8proc_encode_char((utf8proc_int32_t)s->cps[i], utf8 + k);
    int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    if (s->normalize == CRNN_NORMALIZE_NFKC)
        options |= UTF8PROC_COMPAT;
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t m = utf8proc_map(utf8, (utf8proc_ssize_t)k, &mapped, (utf8proc_option_t)options);
    free(utf8);
    if (m < 0)
        return crnn_fail(err, CRNN_ERR_UTF8, "%s: normalization failed: %s", s->name,
                         utf8proc_errmsg(m));
    int rc = grow_cps(s, (size_t)m, err);
    size_t count = 0;
    for (utf8proc_ssize_t i = 0; rc == CRNN_OK && i < m;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t used = utf8proc_iterate(mapped + i, m - i, &cp);
        if (used <= 0) { /* utf8proc's own output: cannot happen */
            rc = crnn_fail(err, CRNN_ERR_UTF8, "%s: normalization produced invalid UTF-8", s->name);
            break;
        }
        s->cps[count++] = (uint32_t)cp;
        i += used;
    }
    free(mapped);
    s->ncps = count;
    return rc;
}

/* The next segment of code points in s->cps: 1, or 0 at the end of the text. */
static int next_segment(crnn_utf8_reader *s, crnn_error *err)
{
    for (;;) {
        size_t end = segment_end(s);
        if (end == 0 && !s->eof) {
            int rc = fill(s, err);
            if (rc != CRNN_OK)
                return rc;
            if (s->len == 0 && s->eof)
                return 0;
            if (segment_end(s) == 0 && !s->eof)
                continue;
            end = segment_end(s);
        }
        if (end == 0 && s->eof)
            return 0;
        size_t from = 0;
        if (s->at_start) {
            if (end >= 3 && s->buf[0] == 0xEF && s->buf[1] == 0xBB && s->buf[2] == 0xBF)
                from = 3; /* byte order mark */
            s->at_start = 0;
        }
        int rc = decode(s, from, end, err);
        if (rc == CRNN_OK && s->normalize != CRNN_NORMALIZE_NONE)
            rc = normalize(s, err);
        if (rc != CRNN_OK)
            return rc;
        memmove(s->buf, s->buf + end, s->len - end);
        s->len -= end;
        s->offset += end;
        if (s->ncps > 0 || !s->eof)
            return 1;
    }
}

int crnn_utf8_next(crnn_utf8_reader *s, crnn_error *err)
{
    if (s->bytes == 0 && !s->eof) {
        int rc = fill(s, err);
        if (rc != CRNN_OK)
            return rc;
    }
    return next_segment(s, err);
}

int crnn_utf8_decode(const unsigned char *bytes, size_t len, const char *name, int lossy,
                     crnn_normalization norm, uint32_t **out, size_t *count, crnn_error *err)
{
    *out = NULL;
    *count = 0;
    crnn_utf8_reader r;
    int rc = crnn_utf8_open_buffer(&r, bytes, len, name, lossy, norm, err);
    uint32_t *all = NULL;
    size_t n = 0, cap = 0;
    while (rc == CRNN_OK && (rc = crnn_utf8_next(&r, err)) == 1) {
        rc = CRNN_OK;
        if (n + r.ncps + 1 > cap) {
            size_t want = (n + r.ncps + 1) * 2;
            uint32_t *p = realloc(all, sizeof *p * want);
            if (!p) {
                rc = crnn_fail(err, CRNN_ERR_NOMEM, "out of memory decoding %s", name);
                break;
            }
            all = p;
            cap = want;
        }
        memcpy(all + n, r.cps, sizeof *all * r.ncps);
        n += r.ncps;
    }
    crnn_utf8_close(&r);
    if (rc < 0) {
        free(all);
        return rc;
    }
    if (!all && !(all = malloc(sizeof *all)))
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory decoding %s", name);
    *out = all;
    *count = n;
    return CRNN_OK;
}

int crnn_utf8_encode(uint32_t code_point, char out[4])
{
    if (code_point > CRNN_MAX_CODE_POINT)
        code_point = 0xFFFD;
    return (int)utf8proc_encode_char((utf8proc_int32_t)code_point, (utf8proc_uint8_t *)out);
}
