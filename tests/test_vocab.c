/*
 * test_vocab.c: the tokenizer: round trips in several scripts, invalid UTF-8
 * with its byte offset, line and column, --lossy, the BOM, normalization, a
 * large CJK vocabulary, and characters outside the vocabulary.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "utf8.h"
#include "vocab.h"

static char *encode_all(const uint32_t *cps, size_t n, size_t *len)
{
    char *out = malloc(n * 4 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)crnn_utf8_encode(cps[i], out + k);
    out[k] = 0;
    *len = k;
    return out;
}

/* Decodes text[0, bytes), builds its vocabulary, encodes it to ids and back to
 * UTF-8: the bytes must come back unchanged. Lengths are explicit so that NUL
 * bytes go through like any other character. */
static void round_trip_n(const char *text, size_t bytes, size_t expect_chars)
{
    crnn_error err = {0};
    uint32_t *cps;
    size_t n;
    CHECK_OK(crnn_utf8_decode((const unsigned char *)text, bytes, "t", 0,
                              CRNN_NORMALIZE_NONE, &cps, &n, &err), err);
    CHECK(n == expect_chars, "'%s': %zu code points, expected %zu", text, n, expect_chars);
    crnn_vocab v;
    CHECK_OK(crnn_vocab_build(&v, cps, n, 0, NULL, NULL, &err), err);
    CHECK_OK(crnn_vocab_encode(&v, cps, n, -1, &err), err);
    for (size_t i = 0; i < n; i++)
        cps[i] = v.symbols[cps[i]];
    size_t len;
    char *back = encode_all(cps, n, &len);
    CHECK(len == bytes && !memcmp(back, text, len), "round trip of '%s' (%zu bytes) gave '%s' "
          "(%zu bytes)", text, bytes, back, len);
    free(back);
    free(cps);
    crnn_vocab_free(&v);
}

/* A string literal, its length taken from the array (NUL bytes inside count). */
#define round_trip(literal, expect_chars) round_trip_n(literal, sizeof literal - 1, expect_chars)

static void expect_invalid(const char *bytes, size_t len, const char *needle)
{
    crnn_error err = {0};
    uint32_t *cps = NULL;
    size_t n;
    int rc = crnn_utf8_decode((const unsigned char *)bytes, len, "corpus.txt", 0,
                              CRNN_NORMALIZE_NONE, &cps, &n, &err);
    CHECK(rc == CRNN_ERR_UTF8, "invalid UTF-8 accepted (rc %d)", rc);
    CHECK(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
    CHECK(strstr(err.message, "corpus.txt") != NULL, "message '%s' lacks the file", err.message);
    free(cps);
}

/* Extending a model's vocabulary (fine-tuning): old tokens keep their ids,
 * new characters follow in code point order and are found by index; a limit
 * keeps the old ones and the most frequent new ones, the rest U+FFFD. */
static void test_extend(void)
{
    crnn_error err = {0};
    uint32_t *old = malloc(sizeof *old * 3);
    old[0] = 'b', old[1] = 'd', old[2] = 'f';
    crnn_vocab base, v;
    CHECK_OK(crnn_vocab_adopt(&base, old, 3, &err), err);
    uint64_t *counts = calloc(CRNN_MAX_CODE_POINT + 1, sizeof *counts);
    counts['a'] = 5, counts['d'] = 9, counts['z'] = 1, counts[0x4E00] = 7;
    size_t distinct, mapped, added;
    CHECK_OK(crnn_vocab_extend(&v, &base, counts, 0, &distinct, &mapped, &added, &err), err);
    CHECK(v.size == 6 && v.symbols[0] == 'b' && v.symbols[1] == 'd' && v.symbols[2] == 'f' &&
              v.symbols[3] == 'a' && v.symbols[4] == 'z' && v.symbols[5] == 0x4E00,
          "extended vocabulary in token order (size %d)", v.size);
    CHECK(distinct == 4 && mapped == 0 && added == 3 && !crnn_vocab_sorted(&v),
          "distinct %zu, mapped %zu, added %zu", distinct, mapped, added);
    for (int i = 0; i < v.size; i++)
        CHECK(crnn_vocab_index(&v, v.symbols[i]) == i, "index of token %d", i);
    CHECK(crnn_vocab_index(&v, 'c') < 0 && crnn_vocab_index(&v, 0x4E01) < 0,
          "an absent character was found");
    crnn_vocab_free(&v);
    /* At most 5: the three old, the most frequent new (U+4E00) and U+FFFD for 'a' and 'z'. */
    CHECK_OK(crnn_vocab_extend(&v, &base, counts, 5, &distinct, &mapped, &added, &err), err);
    CHECK(v.size == 5 && v.symbols[3] == 0x4E00 && v.symbols[4] == 0xFFFD && mapped == 6 &&
              added == 2, "limited extension: size %d, mapped %zu", v.size, mapped);
    crnn_vocab_free(&v);
    /* Nothing new: the same vocabulary, still sorted. */
    memset(counts, 0, sizeof *counts * (CRNN_MAX_CODE_POINT + 1));
    counts['b'] = counts['f'] = 1;
    CHECK_OK(crnn_vocab_extend(&v, &base, counts, 2, NULL, NULL, &added, &err), err);
    CHECK(v.size == 3 && added == 0 && crnn_vocab_sorted(&v), "nothing to add: size %d", v.size);
    crnn_vocab_free(&v);
    /* Adopting symbols twice is refused. */
    uint32_t *twice = malloc(sizeof *twice * 3);
    twice[0] = 'x', twice[1] = 'a', twice[2] = 'x';
    CHECK(crnn_vocab_adopt(&v, twice, 3, &err) == CRNN_ERR_FORMAT && strstr(err.message, "twice"),
          "a vocabulary with a symbol twice: %s", err.message);
    free(twice);
    free(counts);
    crnn_vocab_free(&base);
}

int main(void)
{
    round_trip("hello, world\n", 13);
    round_trip("Ελληνικά κείμενα", 16);
    round_trip("русский текст", 13);
    round_trip("日本語のテキスト", 8);
    round_trip("עברית", 5);
    round_trip("العربية", 7);
    round_trip("emoji \xF0\x9F\x98\x80 and \xF0\x9D\x84\x9E", 13);
    round_trip("nul\0byte", 8);
    round_trip("\0", 1);
    round_trip("\0\0\xD0\xB6\0", 4);

    /* Invalid sequences: a stray continuation byte, an overlong form, a surrogate,
     * a truncated sequence; each names the byte offset, line and column. */
    expect_invalid("ab\ncd\x80z", 7, "byte 5 (line 2, column 3)");
    expect_invalid("\xC0\xAF", 2, "byte 0 (line 1, column 1)");
    expect_invalid("x\xED\xA0\x80", 4, "byte 1");
    expect_invalid("hi \xE6\x97", 5, "byte 3");
    expect_invalid("\xFF\xFEh\0i\0", 6, "UTF-16");

    crnn_error err = {0};
    uint32_t *cps;
    size_t n;
    /* --lossy: each bad byte becomes U+FFFD, the rest is kept. */
    CHECK_OK(crnn_utf8_decode((const unsigned char *)"a\x80" "b", 3, "t", 1, CRNN_NORMALIZE_NONE,
                              &cps, &n, &err), err);
    CHECK(n == 3 && cps[0] == 'a' && cps[1] == 0xFFFD && cps[2] == 'b', "lossy decode");
    free(cps);
    /* A BOM is skipped. */
    CHECK_OK(crnn_utf8_decode((const unsigned char *)"\xEF\xBB\xBFok", 5, "t", 0,
                              CRNN_NORMALIZE_NONE, &cps, &n, &err), err);
    CHECK(n == 2 && cps[0] == 'o', "BOM not skipped (%zu code points)", n);
    free(cps);
    /* NUL bytes inside the text are characters like any other. */
    CHECK_OK(crnn_utf8_decode((const unsigned char *)"a\0b", 3, "t", 0, CRNN_NORMALIZE_NONE, &cps,
                              &n, &err), err);
    CHECK(n == 3 && cps[1] == 0, "NUL byte");
    free(cps);
    /* NFC composes e + combining acute; NFKC also folds the ﬁ ligature. */
    const char *decomposed = "e\xCC\x81 \xEF\xAC\x81";
    CHECK_OK(crnn_utf8_decode((const unsigned char *)decomposed, strlen(decomposed), "t", 0,
                              CRNN_NORMALIZE_NONE, &cps, &n, &err), err);
    CHECK(n == 4, "no normalization keeps the text as is (%zu)", n);
    free(cps);
    CHECK_OK(crnn_utf8_decode((const unsigned char *)decomposed, strlen(decomposed), "t", 0,
                              CRNN_NORMALIZE_NFC, &cps, &n, &err), err);
    CHECK(n == 3 && cps[0] == 0xE9 && cps[2] == 0xFB01, "NFC (%zu)", n);
    free(cps);
    CHECK_OK(crnn_utf8_decode((const unsigned char *)decomposed, strlen(decomposed), "t", 0,
                              CRNN_NORMALIZE_NFKC, &cps, &n, &err), err);
    CHECK(n == 4 && cps[0] == 0xE9 && cps[2] == 'f' && cps[3] == 'i', "NFKC (%zu)", n);
    free(cps);

    /* A CJK vocabulary of thousands of symbols. */
    size_t big = 70000; /* above the sorting path: the bitmap path */
    uint32_t *text = malloc(sizeof *text * big);
    for (size_t i = 0; i < big; i++)
        text[i] = 0x4E00 + (uint32_t)((i * 7919) % 5000);
    crnn_vocab v;
    CHECK_OK(crnn_vocab_build(&v, text, big, 0, NULL, NULL, &err), err);
    CHECK(v.size == 5000, "CJK vocabulary has %d symbols", v.size);
    CHECK_OK(crnn_vocab_encode(&v, text, big, -1, &err), err);
    CHECK(v.symbols[text[1]] == 0x4E00 + 7919 % 5000, "CJK encoding");
    /* A character outside the vocabulary is named. */
    uint32_t outside[2] = {0x4E00, 'A'};
    int rc = crnn_vocab_encode(&v, outside, 2, -1, &err);
    CHECK(rc == CRNN_ERR_VOCAB && strstr(err.message, "'A' (U+0041)"), "unknown char: %s",
          err.message);
    crnn_vocab_free(&v);

    /* A limited vocabulary keeps the most frequent characters and U+FFFD. */
    for (size_t i = 0; i < big; i++)
        text[i] = i % 10 < 6 ? 'a' : i % 10 < 9 ? 'b' : (uint32_t)(0x4E00 + i % 777);
    size_t distinct, mapped;
    CHECK_OK(crnn_vocab_build(&v, text, big, 3, &distinct, &mapped, &err), err);
    CHECK(v.size == 3 && v.symbols[0] == 'a' && v.symbols[1] == 'b' && v.symbols[2] == 0xFFFD,
          "limited vocabulary: %d symbols", v.size);
    CHECK(distinct == 2 + 777 && mapped == big / 10, "distinct %zu, mapped %zu", distinct, mapped);
    CHECK_OK(crnn_vocab_encode(&v, text, big, crnn_vocab_index(&v, 0xFFFD), &err), err);
    CHECK(text[9] == 2 && text[0] == 0, "rare characters map to U+FFFD");
    free(text);
    crnn_vocab_free(&v);
    test_extend();
    return check_result("test_vocab");
}
