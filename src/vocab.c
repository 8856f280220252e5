/*
 * vocab.c: UTF-8 decoding with utf8proc (validation, BOM, normalization) and
 * the code point vocabulary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common.h"
#include "vocab.h"

/* Position of byte `offset` as 1-based line and column (in code points). */
static void locate(const unsigned char *bytes, size_t offset, size_t *line, size_t *column)
{
    size_t ln = 1, col = 1;
    for (size_t i = 0; i < offset; i++) {
        if (bytes[i] == '\n') {
            ln++;
            col = 1;
        } else if ((bytes[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    *line = ln;
    *column = col;
}

static int invalid_utf8(const unsigned char *bytes, size_t len, size_t at, const char *name,
                        crnn_error *err)
{
    size_t line, column;
    locate(bytes, at, &line, &column);
    char shown[32] = "";
    size_t k = 0;
    for (size_t i = at; i < len && i < at + 4; i++)
        k += (size_t)snprintf(shown + k, sizeof shown - k, "%s0x%02X", i > at ? " " : "", bytes[i]);
    const char *hint = "";
    if (len >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF)))
        hint = " (the file looks like UTF-16: convert it with iconv -f UTF-16 -t UTF-8)";
    return crnn_fail(err, CRNN_ERR_UTF8,
                     "%s: invalid UTF-8 at byte %zu (line %zu, column %zu): %s%s; "
                     "use --lossy to replace invalid bytes with U+FFFD",
                     name, at, line, column, shown, hint);
}

/* Encodes code points back to UTF-8 (for normalization). */
static unsigned char *encode_all(const uint32_t *cps, size_t n, size_t *outlen)
{
    if (n > (SIZE_MAX - 1) / 4)
        return NULL;
    unsigned char *buf = malloc(n * 4 + 1);
    if (!buf)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)utf8proc_encode_char((utf8proc_int32_t)cps[i], buf + k);
    buf[k] = 0;
    *outlen = k;
    return buf;
}

static int decode_valid(const unsigned char *bytes, size_t len, const char *name, int lossy,
                        uint32_t **out, size_t *count, crnn_error *err)
{
    size_t start = 0;
    if (len >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF)
        start = 3;
    uint32_t *cps = malloc(sizeof *cps * (len - start + 1));
    if (!cps)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory decoding %s", name);
    size_t n = 0, i = start;
    while (i < len) {
        if (bytes[i] < 0x80) { /* ASCII fast path */
            cps[n++] = bytes[i++];
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t used = utf8proc_iterate(bytes + i, (utf8proc_ssize_t)(len - i), &cp);
        if (used < 0) {
            if (!lossy) {
                free(cps);
                return invalid_utf8(bytes, len, i, name, err);
            }
            cps[n++] = 0xFFFD;
            i++;
            continue;
        }
        cps[n++] = (uint32_t)cp;
        i += (size_t)used;
    }
    *out = cps;
    *count = n;
    return CRNN_OK;
}

int crnn_utf8_decode(const unsigned char *bytes, size_t len, const char *name, int lossy,
                     crnn_normalization norm, uint32_t **out, size_t *count, crnn_error *err)
{
    *out = NULL;
    *count = 0;
    uint32_t *cps;
    size_t n;
    int rc = decode_valid(bytes, len, name, lossy, &cps, &n, err);
    if (rc != CRNN_OK || norm == CRNN_NORMALIZE_NONE) {
        if (rc == CRNN_OK) {
            *out = cps;
            *count = n;
        }
        return rc;
    }
    /* Normalize the now valid text with utf8proc, then decode the result. */
    size_t ulen;
    unsigned char *valid = encode_all(cps, n, &ulen);
    free(cps);
    if (!valid)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory normalizing %s", name);
    int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    if (norm == CRNN_NORMALIZE_NFKC)
        options |= UTF8PROC_COMPAT;
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t mlen = utf8proc_map(valid, (utf8proc_ssize_t)ulen, &mapped,
                                         (utf8proc_option_t)options);
    free(valid);
    if (mlen < 0)
        return crnn_fail(err, CRNN_ERR_UTF8, "%s: normalization failed: %s", name,
                         utf8proc_errmsg(mlen));
    rc = decode_valid(mapped, (size_t)mlen, name, 0, out, count, err);
    free(mapped);
    return rc;
}

/* Most frequent first; ties by the smaller code point. */
typedef struct counted {
    uint32_t cp;
    uint32_t count;
} counted;

static int by_count(const void *a, const void *b)
{
    const counted *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return x->cp < y->cp ? -1 : 1;
}

static int by_code_point(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int crnn_vocab_build(crnn_vocab *vocab, const uint32_t *text, size_t n, int max_size,
                     size_t *distinct_out, size_t *mapped_out, crnn_error *err)
{
    vocab->symbols = NULL;
    vocab->size = 0;
    uint32_t *symbols;
    size_t distinct = 0;
    if (n <= 65536) {
        /* Short texts: sort a copy and drop repeats. */
        symbols = malloc(sizeof *symbols * (n ? n : 1));
        if (!symbols)
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory building the vocabulary");
        memcpy(symbols, text, sizeof *symbols * n);
        qsort(symbols, n, sizeof *symbols, by_code_point);
        for (size_t i = 0; i < n; i++)
            if (i == 0 || symbols[i] != symbols[distinct - 1])
                symbols[distinct++] = symbols[i];
    } else {
        /* Long texts: one bit per possible code point (136 KiB), then the set bits. */
        size_t words = (CRNN_MAX_CODE_POINT + 64) / 64;
        uint64_t *seen = calloc(words, sizeof *seen);
        if (!seen)
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory building the vocabulary");
        for (size_t i = 0; i < n; i++) {
            uint64_t bit = 1ull << (text[i] & 63);
            uint64_t *w = &seen[text[i] >> 6];
            distinct += !(*w & bit);
            *w |= bit;
        }
        symbols = malloc(sizeof *symbols * (distinct ? distinct : 1));
        if (!symbols) {
            free(seen);
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory building the vocabulary");
        }
        size_t k = 0;
        for (size_t w = 0; w < words; w++) {
            uint64_t bits = seen[w];
            while (bits) {
                int b = __builtin_ctzll(bits);
                symbols[k++] = (uint32_t)(w * 64 + (size_t)b);
                bits &= bits - 1;
            }
        }
        free(seen);
    }
    size_t size = distinct, mapped = 0;
    if (max_size > 0 && distinct > (size_t)max_size) {
        /* Count each symbol, keep the most frequent, fold the rest into U+FFFD. */
        counted *c = calloc(distinct, sizeof *c);
        if (!c) {
            free(symbols);
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory building the vocabulary");
        }
        for (size_t i = 0; i < distinct; i++)
            c[i].cp = symbols[i];
        crnn_vocab sorted = {symbols, (int)distinct};
        for (size_t i = 0; i < n; i++)
            c[crnn_vocab_index(&sorted, text[i])].count++;
        qsort(c, distinct, sizeof *c, by_count);
        size = 0;
        int have_unknown = 0;
        for (size_t i = 0; i < distinct; i++) {
            if (size < (size_t)max_size - 1 || c[i].cp == CRNN_UNKNOWN_CODE_POINT) {
                symbols[size++] = c[i].cp;
                have_unknown |= c[i].cp == CRNN_UNKNOWN_CODE_POINT;
            } else {
                mapped += c[i].count;
            }
        }
        if (!have_unknown)
            symbols[size++] = CRNN_UNKNOWN_CODE_POINT;
        free(c);
        qsort(symbols, size, sizeof *symbols, by_code_point);
    }
    vocab->symbols = symbols;
    vocab->size = (int)size;
    if (distinct_out)
        *distinct_out = distinct;
    if (mapped_out)
        *mapped_out = mapped;
    return CRNN_OK;
}

int crnn_vocab_adopt(crnn_vocab *vocab, uint32_t *symbols, int size, crnn_error *err)
{
    for (int i = 0; i < size; i++) {
        if (symbols[i] > CRNN_MAX_CODE_POINT || (i > 0 && symbols[i] <= symbols[i - 1]))
            return crnn_fail(err, CRNN_ERR_FORMAT, "vocabulary is not a sorted set of code points");
    }
    vocab->symbols = symbols;
    vocab->size = size;
    return CRNN_OK;
}

void crnn_vocab_free(crnn_vocab *vocab)
{
    free(vocab->symbols);
    vocab->symbols = NULL;
    vocab->size = 0;
}

int crnn_vocab_index(const crnn_vocab *vocab, uint32_t code_point)
{
    int lo = 0, hi = vocab->size - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        uint32_t s = vocab->symbols[mid];
        if (s == code_point)
            return mid;
        if (s < code_point)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

void crnn_describe_code_point(uint32_t cp, char *out, size_t outlen)
{
    if (cp >= 0x20 && cp != 0x7F && cp <= CRNN_MAX_CODE_POINT && !(cp >= 0x80 && cp < 0xA0)) {
        char utf8[5] = {0};
        utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)utf8);
        snprintf(out, outlen, "'%s' (U+%04X)", utf8, cp);
    } else {
        snprintf(out, outlen, "U+%04X", cp);
    }
}

int crnn_vocab_encode(const crnn_vocab *vocab, uint32_t *text, size_t n, int unknown_id,
                      crnn_error *err)
{
    uint32_t last_cp = UINT32_MAX;
    int last_id = -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = text[i];
        int id = cp == last_cp ? last_id : crnn_vocab_index(vocab, cp);
        if (id < 0)
            id = unknown_id;
        if (id < 0) {
            char what[48];
            crnn_describe_code_point(cp, what, sizeof what);
            return crnn_fail(err, CRNN_ERR_VOCAB,
                             "character %s at position %zu is not in the model's vocabulary", what,
                             i);
        }
        last_cp = cp;
        last_id = id;
        text[i] = (uint32_t)id;
    }
    return CRNN_OK;
}

int crnn_utf8_encode(uint32_t code_point, char out[4])
{
    if (code_point > CRNN_MAX_CODE_POINT)
        code_point = 0xFFFD;
    return (int)utf8proc_encode_char((utf8proc_int32_t)code_point, (utf8proc_uint8_t *)out);
}
