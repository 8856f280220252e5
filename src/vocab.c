/*
 * vocab.c: the code point vocabulary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common.h"
#include "vocab.h"

/* Most frequent first; ties by the smaller code point. */
typedef struct counted {
    uint32_t cp;
    uint64_t count;
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

/* Keeps the max_size - 1 most frequent of the n counted symbols plus U+FFFD,
 * sorted by code point, in symbols (room for n + 1); returns how many, and in
 * *mapped the occurrences of the others. Reorders c. */
static size_t keep_most_frequent(counted *c, size_t n, int max_size, uint32_t *symbols,
                                 size_t *mapped)
{
    qsort(c, n, sizeof *c, by_count);
    size_t size = 0;
    int have_unknown = 0;
    *mapped = 0;
    for (size_t i = 0; i < n; i++) {
        if (size < (size_t)max_size - 1 || c[i].cp == CRNN_UNKNOWN_CODE_POINT) {
            symbols[size++] = c[i].cp;
            have_unknown |= c[i].cp == CRNN_UNKNOWN_CODE_POINT;
        } else {
            *mapped += (size_t)c[i].count;
        }
    }
    if (!have_unknown)
        symbols[size++] = CRNN_UNKNOWN_CODE_POINT;
    qsort(symbols, size, sizeof *symbols, by_code_point);
    return size;
}

static int finish(crnn_vocab *vocab, uint32_t *symbols, size_t size, size_t distinct,
                  size_t mapped, size_t *distinct_out, size_t *mapped_out)
{
    vocab->symbols = symbols;
    vocab->size = (int)size;
    vocab->order = NULL;
    if (distinct_out)
        *distinct_out = distinct;
    if (mapped_out)
        *mapped_out = mapped;
    return CRNN_OK;
}

int crnn_vocab_build(crnn_vocab *vocab, const uint32_t *text, size_t n, int max_size,
                     size_t *distinct_out, size_t *mapped_out, crnn_error *err)
{
    vocab->symbols = NULL;
    vocab->order = NULL;
    vocab->size = 0;
    uint32_t *symbols;
    size_t distinct = 0;
    if (n <= 65536) {
        /* Short texts: sort a copy and drop repeats. */
        symbols = malloc(sizeof *symbols * (n + 1));
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
        symbols = malloc(sizeof *symbols * (distinct + 1));
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
        crnn_vocab sorted = {symbols, (int)distinct, NULL};
        for (size_t i = 0; i < n; i++)
            c[crnn_vocab_index(&sorted, text[i])].count++;
        size = keep_most_frequent(c, distinct, max_size, symbols, &mapped);
        free(c);
    }
    return finish(vocab, symbols, size, distinct, mapped, distinct_out, mapped_out);
}

int crnn_vocab_from_counts(crnn_vocab *vocab, const uint64_t *counts, int max_size,
                           size_t *distinct_out, size_t *mapped_out, crnn_error *err)
{
    vocab->symbols = NULL;
    vocab->order = NULL;
    vocab->size = 0;
    size_t distinct = 0;
    for (uint32_t cp = 0; cp <= CRNN_MAX_CODE_POINT; cp++)
        distinct += counts[cp] != 0;
    uint32_t *symbols = malloc(sizeof *symbols * (distinct + 1));
    counted *c = calloc(distinct + 1, sizeof *c);
    if (!symbols || !c) {
        free(symbols);
        free(c);
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory building the vocabulary");
    }
    size_t k = 0;
    for (uint32_t cp = 0; cp <= CRNN_MAX_CODE_POINT; cp++)
        if (counts[cp]) {
            c[k] = (counted){cp, counts[cp]};
            symbols[k++] = cp;
        }
    size_t size = distinct, mapped = 0;
    if (max_size > 0 && distinct > (size_t)max_size)
        size = keep_most_frequent(c, distinct, max_size, symbols, &mapped);
    free(c);
    return finish(vocab, symbols, size, distinct, mapped, distinct_out, mapped_out);
}

/* For sorting tokens by their code points. */
static const uint32_t *sort_symbols;

static int by_symbol(const void *a, const void *b)
{
    uint32_t x = sort_symbols[*(const int32_t *)a], y = sort_symbols[*(const int32_t *)b];
    return x < y ? -1 : x > y;
}

int crnn_vocab_adopt(crnn_vocab *vocab, uint32_t *symbols, int size, crnn_error *err)
{
    int sorted = 1;
    for (int i = 0; i < size; i++) {
        if (symbols[i] > CRNN_MAX_CODE_POINT)
            return crnn_fail(err, CRNN_ERR_FORMAT, "the vocabulary holds a value that is no code "
                             "point (0x%X)", symbols[i]);
        sorted &= i == 0 || symbols[i] > symbols[i - 1];
    }
    int32_t *order = NULL;
    if (!sorted) { /* an extended vocabulary: look up through the code point order */
        if (!(order = malloc(sizeof *order * (size_t)size)))
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the vocabulary");
        for (int i = 0; i < size; i++)
            order[i] = i;
        sort_symbols = symbols;
        qsort(order, (size_t)size, sizeof *order, by_symbol);
        for (int i = 1; i < size; i++)
            if (symbols[order[i]] == symbols[order[i - 1]]) {
                uint32_t twice = symbols[order[i]];
                free(order);
                return crnn_fail(err, CRNN_ERR_FORMAT, "the vocabulary holds U+%04X twice", twice);
            }
    }
    vocab->symbols = symbols;
    vocab->size = size;
    vocab->order = order;
    return CRNN_OK;
}

int crnn_vocab_sorted(const crnn_vocab *vocab)
{
    return vocab->order == NULL;
}

int crnn_vocab_extend(crnn_vocab *vocab, const crnn_vocab *base, const uint64_t *counts,
                      int max_size, size_t *distinct_out, size_t *mapped_out, size_t *added_out,
                      crnn_error *err)
{
    memset(vocab, 0, sizeof *vocab);
    size_t distinct = 0, fresh = 0, mapped = 0;
    for (uint32_t cp = 0; cp <= CRNN_MAX_CODE_POINT; cp++)
        if (counts[cp]) {
            distinct++;
            fresh += crnn_vocab_index(base, cp) < 0;
        }
    counted *c = calloc(fresh + 1, sizeof *c);
    uint32_t *symbols = malloc(sizeof *symbols * ((size_t)base->size + fresh + 1));
    if (!c || !symbols) {
        free(c);
        free(symbols);
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory building the vocabulary");
    }
    size_t k = 0;
    for (uint32_t cp = 0; cp <= CRNN_MAX_CODE_POINT; cp++)
        if (counts[cp] && crnn_vocab_index(base, cp) < 0)
            c[k++] = (counted){cp, counts[cp]};
    size_t keep = fresh;
    int have_unknown = crnn_vocab_index(base, CRNN_UNKNOWN_CODE_POINT) >= 0;
    if (max_size > 0 && fresh > 0 && (size_t)base->size + fresh > (size_t)max_size) {
        /* The most frequent new characters fill the room; U+FFFD stands for the rest. */
        size_t room = (size_t)max_size - (have_unknown ? 0 : 1);
        keep = room > (size_t)base->size ? room - (size_t)base->size : 0;
        qsort(c, fresh, sizeof *c, by_count);
        for (size_t i = keep; i < fresh; i++)
            mapped += (size_t)c[i].count;
        if (!have_unknown && keep < fresh) {
            int kept_unknown = 0;
            for (size_t i = 0; i < keep; i++)
                kept_unknown |= c[i].cp == CRNN_UNKNOWN_CODE_POINT;
            if (!kept_unknown)
                c[keep++] = (counted){CRNN_UNKNOWN_CODE_POINT, 0};
        }
    }
    memcpy(symbols, base->symbols, sizeof *symbols * (size_t)base->size);
    for (size_t i = 0; i < keep; i++)
        symbols[(size_t)base->size + i] = c[i].cp;
    free(c);
    qsort(symbols + base->size, keep, sizeof *symbols, by_code_point);
    int rc = crnn_vocab_adopt(vocab, symbols, base->size + (int)keep, err);
    if (rc != CRNN_OK) {
        free(symbols);
        return rc;
    }
    if (distinct_out)
        *distinct_out = distinct;
    if (mapped_out)
        *mapped_out = mapped;
    if (added_out)
        *added_out = keep;
    return CRNN_OK;
}

void crnn_vocab_free(crnn_vocab *vocab)
{
    free(vocab->symbols);
    free(vocab->order);
    vocab->symbols = NULL;
    vocab->order = NULL;
    vocab->size = 0;
}

int crnn_vocab_index(const crnn_vocab *vocab, uint32_t code_point)
{
    int lo = 0, hi = vocab->size - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int id = vocab->order ? vocab->order[mid] : mid;
        uint32_t s = vocab->symbols[id];
        if (s == code_point)
            return id;
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
