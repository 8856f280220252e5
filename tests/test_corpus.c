/*
 * test_corpus.c: the streaming tokenizer and the token id cache. The streamed
 * ids must equal ids computed in this file by the definitions (a plain
 * whole-buffer UTF-8 decoder, utf8proc's whole-text normalization, the
 * vocabulary as sorted code points), across block boundaries (the reader
 * works in 4 MB segments), with normalization, for 1-, 2- and 4-byte ids; the cache must be reused only while the corpus
 * and options are unchanged, and a damaged cache must never be trusted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <utf8proc.h>

#include "check.h"
#include "corpus.h"
#include "data.h"
#include "testutil.h"
#include "utf8.h"
#include "vocab.h"

/* Appends the UTF-8 of cp to buf at *n. */
/* The corpus of one path. */
static int open1(crnn_corpus *c, const char *path, const crnn_corpus_options *o, crnn_error *err)
{
    return crnn_corpus_open(c, &path, 1, o, err);
}

static void put(unsigned char *buf, size_t *n, uint32_t cp)
{
    char tmp[4];
    int k = crnn_utf8_encode(cp, tmp);
    memcpy(buf + *n, tmp, (size_t)k);
    *n += (size_t)k;
}

/* ---- The reference: ids computed by the definitions, sharing no code with
 * the reader (no crnn_utf8_*, no crnn_vocab_*, no segments). ---- */

enum { CODE_POINTS = 0x110000, UNKNOWN = 0xFFFD };

/* Decodes well-formed UTF-8 (RFC 3629) in one pass over the whole buffer,
 * after a byte order mark if there is one. The inputs of these tests are
 * well-formed; anything else is a failure of the test itself. */
static uint32_t *plain_decode(const unsigned char *s, size_t len, size_t *n)
{
    uint32_t *out = malloc(sizeof *out * (len + 1));
    size_t i = len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF ? 3 : 0, k = 0;
    while (i < len) {
        unsigned b = s[i];
        int more = b < 0x80 ? 0 : b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : 1;
        uint32_t cp = more == 0 ? b : more == 1 ? b & 0x1Fu : more == 2 ? b & 0x0Fu : b & 0x07u;
        int ok = (b < 0x80 || b >= 0xC2) && b <= 0xF4 && i + (size_t)more < len;
        for (int j = 1; ok && j <= more; j++) {
            ok = (s[i + (size_t)j] & 0xC0) == 0x80;
            cp = cp << 6 | (s[i + (size_t)j] & 0x3Fu);
        }
        if (!ok) {
            CHECK(0, "the test's own text is not well-formed UTF-8 at byte %zu", i);
            break;
        }
        out[k++] = cp;
        i += (size_t)more + 1;
    }
    *n = k;
    return out;
}

/* The vocabulary by its definition: every code point of the text, in
 * increasing order; with max_vocab, only the max_vocab - 1 most frequent (ties
 * to the smaller code point) and U+FFFD, which stands for the others. Replaces
 * each code point of cps by its id; returns the symbols and their number. */
static uint32_t *plain_ids(uint32_t *cps, size_t n, int max_vocab, int *size, size_t *distinct,
                           size_t *unknown)
{
    uint64_t *count = calloc(CODE_POINTS, sizeof *count);
    unsigned char *kept = calloc(CODE_POINTS, 1);
    int32_t *id = malloc(sizeof *id * CODE_POINTS);
    for (size_t i = 0; i < n; i++)
        count[cps[i]]++;
    *distinct = 0;
    for (uint32_t cp = 0; cp < CODE_POINTS; cp++) {
        kept[cp] = count[cp] > 0;
        *distinct += kept[cp];
    }
    *unknown = 0;
    if (max_vocab > 0 && *distinct > (size_t)max_vocab) {
        memset(kept, 0, CODE_POINTS);
        for (int k = 0; k < max_vocab - 1; k++) { /* the most frequent not yet kept */
            uint32_t best = 0;
            for (uint32_t cp = 1; cp < CODE_POINTS; cp++)
                if (!kept[cp] && (kept[best] || count[cp] > count[best]))
                    best = cp;
            kept[best] = 1;
        }
        kept[UNKNOWN] = 1;
        for (uint32_t cp = 0; cp < CODE_POINTS; cp++)
            *unknown += kept[cp] ? 0 : count[cp];
    }
    uint32_t *symbols = malloc(sizeof *symbols * (*distinct + 1));
    *size = 0;
    for (uint32_t cp = 0; cp < CODE_POINTS; cp++)
        if (kept[cp]) {
            id[cp] = *size;
            symbols[(*size)++] = cp;
        }
    for (size_t i = 0; i < n; i++)
        cps[i] = (uint32_t)(kept[cps[i]] ? id[cps[i]] : id[UNKNOWN]);
    free(count);
    free(kept);
    free(id);
    return symbols;
}

/* Expected ids of a whole file: normalized by utf8proc in one call over the
 * whole text (independent of the reader's line-by-line normalization), then
 * decoded and numbered by the plain functions above. */
static uint32_t *reference_ids(const unsigned char *text, size_t len, crnn_normalization norm,
                               int max_vocab, uint32_t **symbols, int *size, size_t *distinct,
                               size_t *unknown, size_t *n)
{
    utf8proc_uint8_t *mapped = NULL;
    if (norm != CRNN_NORMALIZE_NONE) {
        int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
        if (norm == CRNN_NORMALIZE_NFKC)
            options |= UTF8PROC_COMPAT;
        size_t skip = len >= 3 && text[0] == 0xEF && text[1] == 0xBB && text[2] == 0xBF ? 3 : 0;
        utf8proc_ssize_t m = utf8proc_map(text + skip, (utf8proc_ssize_t)(len - skip), &mapped,
                                          (utf8proc_option_t)options);
        CHECK(m >= 0, "utf8proc_map: %zd", (ssize_t)m);
        text = mapped;
        len = m >= 0 ? (size_t)m : 0;
    }
    uint32_t *ids = plain_decode(text, len, n);
    free(mapped);
    *symbols = plain_ids(ids, *n, max_vocab, size, distinct, unknown);
    return ids;
}

static void same_as_reference(const char *what, const char *path, const unsigned char *text,
                              size_t len, crnn_corpus_options o, int expect_width)
{
    size_t n, distinct, unknown;
    uint32_t *symbols;
    int size;
    CHECK(!o.lossy, "%s: the reference decodes well-formed text only", what);
    uint32_t *ref = reference_ids(text, len, o.normalize, o.max_vocab, &symbols, &size, &distinct,
                                  &unknown, &n);
    crnn_corpus c;
    crnn_error err;
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(c.length == n, "%s: %zu ids, expected %zu", what, c.length, n);
    CHECK(c.width == expect_width, "%s: width %d, expected %d", what, c.width, expect_width);
    CHECK(c.vocab.size == size && memcmp(c.vocab.symbols, symbols, 4 * (size_t)size) == 0,
          "%s: vocabulary differs (%d vs %d)", what, c.vocab.size, size);
    CHECK(c.distinct == distinct && c.unknown == unknown,
          "%s: %zu distinct, %zu unknown; expected %zu and %zu", what, c.distinct, c.unknown,
          distinct, unknown);
    size_t bad = 0;
    for (size_t i = 0; i < n && i < c.length; i++)
        bad += crnn_id_at(c.ids, c.width, i) != ref[i];
    CHECK(bad == 0, "%s: %zu ids differ", what, bad);
    CHECK(c.file_bytes == len, "%s: file size %llu", what, (unsigned long long)c.file_bytes);
    crnn_corpus_close(&c);
    free(symbols);
    free(ref);
}

/* A text over 9 MB with multi-byte characters at every alignment, so that
 * some straddle each 4 MB block boundary. */
static unsigned char *mixed_text(size_t *len)
{
    size_t cap = 10u << 20, n = 0;
    unsigned char *t = malloc(cap + 16);
    static const uint32_t cps[] = {'a', 'b', ' ', 0xE9, 0x3B1, 0x4E2D, 0x1F600, '\n', 'e', 0x301};
    uint64_t x = 12345;
    while (n < cap - 8) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t cp = cps[(x >> 33) % 10];
        put(t, &n, cp);
        if (cp == 'e' || cp == 'a') /* always composes under NFC: a cut here would show */
            put(t, &n, cp == 'e' ? 0x301 : 0x308);
    }
    *len = n;
    return t;
}

static void test_streaming_equals_whole(void)
{
    size_t len;
    unsigned char *text = mixed_text(&len);
    const char *path = temp_path("mixed.txt");
    write_text(path, (const char *)text, len);
    crnn_corpus_options o = {0, CRNN_NORMALIZE_NONE, 0, NULL, NULL};
    same_as_reference("mixed, in memory", path, text, len, o, 1);
    o.cache_dir = temp_path("cache");
    same_as_reference("mixed, cached", path, text, len, o, 1);
    o.normalize = CRNN_NORMALIZE_NFC; /* e + U+0301 compose, across blocks too */
    same_as_reference("mixed, NFC", path, text, len, o, 1);
    o.normalize = CRNN_NORMALIZE_NONE;
    o.max_vocab = 5;
    same_as_reference("mixed, max_vocab 5", path, text, len, o, 1);
    free(text);

    /* A byte order mark is skipped; a long line with no newline normalizes whole. */
    size_t n = 0;
    unsigned char *bom = malloc(5u << 20);
    bom[n++] = 0xEF, bom[n++] = 0xBB, bom[n++] = 0xBF;
    while (n < (5u << 20) - 8)
        put(bom, &n, n % 7 ? 'x' : 0x301);
    path = temp_path("bom.txt");
    write_text(path, (const char *)bom, n);
    o = (crnn_corpus_options){0, CRNN_NORMALIZE_NFC, 0, NULL, NULL};
    same_as_reference("BOM, one 5 MB line, NFC", path, bom, n, o, 1);
    free(bom);
}

static void test_widths(void)
{
    /* 300 distinct characters: 2-byte ids; 70,000: 4-byte ids. */
    unsigned char *t = malloc(70000 * 4 + 16);
    size_t n = 0;
    for (uint32_t i = 0; i < 300; i++)
        put(t, &n, 0x4E00 + i);
    const char *path = temp_path("cjk.txt");
    write_text(path, (const char *)t, n);
    crnn_corpus_options o = {0, CRNN_NORMALIZE_NONE, 0, temp_path("cache"), NULL};
    same_as_reference("300 symbols", path, t, n, o, 2);
    n = 0;
    for (uint32_t i = 0; i < 70000; i++)
        put(t, &n, 0x20000 + i); /* CJK extension B onwards: all assigned, 4 bytes each */
    path = temp_path("wide.txt");
    write_text(path, (const char *)t, n);
    same_as_reference("70000 symbols", path, t, n, o, 4);
    free(t);
}

static void test_errors(void)
{
    crnn_corpus c;
    crnn_error err;
    crnn_corpus_options o = {0, CRNN_NORMALIZE_NONE, 0, temp_path("cache"), NULL};
    const char *path = temp_path("empty.txt");
    write_text(path, "", 0);
    CHECK(open1(&c, path, &o, &err) == CRNN_ERR_DATA, "empty: %s", err.message);
    CHECK(open1(&c, temp_path("missing.txt"), &o, &err) == CRNN_ERR_IO, "missing");
    const char *empty_dir = temp_path("no-text");
    mkdir(empty_dir, 0755);
    CHECK(open1(&c, empty_dir, &o, &err) == CRNN_ERR_DATA && strstr(err.message, "no text files"),
          "a directory with no text: %s", err.message);

    /* Invalid UTF-8 in the third block: byte offset, line and column. */
    size_t len = (9u << 20) + 100;
    unsigned char *t = malloc(len);
    memset(t, 'a', len);
    for (size_t i = 99; i < len; i += 100)
        t[i] = '\n';
    size_t at = (8u << 20) + 1234;
    t[at] = 0xC3;
    t[at + 1] = 'x'; /* a lead byte without its continuation */
    path = temp_path("bad.txt");
    write_text(path, (const char *)t, len);
    CHECK(open1(&c, path, &o, &err) == CRNN_ERR_UTF8, "invalid UTF-8 accepted");
    char want[96];
    snprintf(want, sizeof want, "at byte %zu (line %zu, column %zu)", at, at / 100 + 1,
             at % 100 + 1);
    CHECK(strstr(err.message, want), "message '%s' lacks '%s'", err.message, want);
    o.lossy = 1;
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(c.length == len, "lossy: %zu ids", c.length);
    CHECK(crnn_vocab_index(&c.vocab, CRNN_UNKNOWN_CODE_POINT) >= 0, "lossy: no U+FFFD");
    crnn_corpus_close(&c);
    free(t);
}

static void set_mtime(const char *path, long seconds)
{
    struct timeval tv[2] = {{seconds, 0}, {seconds, 0}};
    CHECK(utimes(path, tv) == 0, "utimes %s", path);
}

static void flip_byte(const char *path, long offset)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL, "open %s", path);
    if (!f)
        return;
    fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET);
    int ch = getc(f);
    fseek(f, -1, SEEK_CUR);
    putc(ch ^ 0xFF, f);
    fclose(f);
}

static void test_cache(void)
{
    const char *dir = temp_path("idcache");
    const char *path = temp_path("cached.txt");
    write_text(path, "hello, world\nhello again\n", 25);
    set_mtime(path, 1000000000);
    crnn_corpus_options o = {0, CRNN_NORMALIZE_NONE, 0, dir, NULL};
    crnn_corpus c;
    crnn_error err;
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(c.cache_path && !c.cache_reused, "first open should write the cache");
    char cache[1024];
    snprintf(cache, sizeof cache, "%s", c.cache_path ? c.cache_path : "");
    uint32_t crc = c.file_crc;
    crnn_corpus_close(&c);

    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(c.cache_reused && c.file_crc == crc && c.length == 25, "second open should reuse it");
    crnn_corpus_close(&c);

    /* Same size, new content and modification time: rebuilt, new ids. */
    write_text(path, "jello, world\nhello again\n", 25);
    set_mtime(path, 1000000100);
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(!c.cache_reused && c.file_crc != crc, "a changed corpus must not reuse the cache");
    CHECK(crnn_vocab_index(&c.vocab, 'j') >= 0, "the new text's vocabulary");
    crnn_corpus_close(&c);

    /* Another size, the same inode and modification time (a file rewritten in
     * place within a second, or a clock that stands still): the size alone
     * must invalidate the cache. */
    write_text(path, "jello, world\nhello again and again\n", 35);
    set_mtime(path, 1000000100);
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(!c.cache_reused && c.length == 35, "a corpus of another size reused the cache");
    crnn_corpus_close(&c);
    write_text(path, "jello, world\nhello again\n", 25);
    set_mtime(path, 1000000100);

    /* Other options: another cache file, not this one. */
    o.max_vocab = 4;
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(!c.cache_reused && c.vocab.size == 4 && c.cache_path && strcmp(c.cache_path, cache) != 0,
          "max_vocab must not share the cache (size %d)", c.vocab.size);
    crnn_corpus_close(&c);
    o.max_vocab = 0;

    /* A damaged header, or a truncated file: rebuilt, never trusted. */
    flip_byte(cache, 40);
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(!c.cache_reused, "a damaged header must not be trusted");
    crnn_corpus_close(&c);
    CHECK(truncate(cache, 4096 + 10) == 0, "truncate");
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(!c.cache_reused && c.length == 25, "a truncated cache must not be trusted");
    crnn_corpus_close(&c);

    /* A damaged id: reading it through a split reports it. */
    flip_byte(cache, -3);
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(c.cache_reused, "id bytes are not checked when opening");
    crnn_splits s;
    crnn_split_corpus(c.ids, c.width, c.length, (uint32_t)c.vocab.size, 0, 0, &s);
    uint64_t cursor = 0;
    uint32_t in[24], tg[24];
    CHECK(crnn_stream_chunk(&s.train, 1, 0, 1, 24, &cursor, in, tg) == -1,
          "an out-of-range id must be reported");
    crnn_corpus_close(&c);

    /* A cache directory that cannot be made: ids in memory, and a warning. */
    const char *blocker = temp_path("not-a-dir");
    write_text(blocker, "x", 1);
    o.cache_dir = blocker;
    CHECK_OK(open1(&c, path, &o, &err), err);
    CHECK(!c.cache_path && c.cache_warning[0] && c.ids, "warning: '%s'", c.cache_warning);
    CHECK(crnn_id_at(c.ids, c.width, 0) == (uint32_t)crnn_vocab_index(&c.vocab, 'j'), "ids");
    crnn_corpus_close(&c);
}

int main(void)
{
    test_streaming_equals_whole();
    test_widths();
    test_errors();
    test_cache();
    return check_result("test_corpus");
}
