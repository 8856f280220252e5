/*
 * test_properties.c: the text properties `charrnn inspect` ranks cells
 * against (src/cli/properties.c), on texts whose answers are known: nested
 * brackets, quoted passages (straight and curly), lines of known length,
 * words, case, digits; and the correlation (+1, -1, NAN when constant).
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "../src/cli/properties.h"

enum { QUOTES, COLUMN, DEPTH, WORD_START, IN_WORD, UPPER, SPACE, PUNCT, DIGIT, VOWEL };

static size_t decode_ascii(const char *s, uint32_t *out)
{
    size_t n = 0;
    while (s[n]) {
        out[n] = (unsigned char)s[n];
        n++;
    }
    return n;
}

/* The values of property p over text as a string of digits (one per
 * character, values below 10). */
static void expect(const char *what, const uint32_t *text, size_t n, int p, const char *want)
{
    double values[CLI_PROPERTIES * 256];
    cli_properties_compute(text, n, values);
    char got[257];
    for (size_t i = 0; i < n; i++)
        got[i] = (char)('0' + (int)values[(size_t)p * n + i]);
    got[n] = 0;
    CHECK(!strcmp(got, want), "%s:\n  got  %s\n  want %s", what, got, want);
}

int main(void)
{
    uint32_t t[256];
    size_t n = decode_ascii("a(b[c]d(e))f)", t);
    expect("bracket depth", t, n, DEPTH, "0112211221000");
    n = decode_ascii("x \"ab\" y \"c\"", t);
    expect("straight quotes", t, n, QUOTES, "001110000110");
    /* Curly quotes: \u201c opens, \u201d closes. */
    uint32_t curly[] = {'a', 0x201C, 'b', 'c', 0x201D, 'd'};
    expect("curly quotes", curly, 6, QUOTES, "011100");
    n = decode_ascii("abc\nde\n\nf", t);
    expect("position in line", t, n, COLUMN, "123012001");
    n = decode_ascii("Hi, you2 ok", t);
    expect("start of a word", t, n, WORD_START, "10001000010");
    expect("position in word", t, n, IN_WORD, "12001230012");
    expect("upper case", t, n, UPPER, "10000000000");
    expect("space", t, n, SPACE, "00010000100");
    expect("punctuation", t, n, PUNCT, "00100000000");
    expect("digit", t, n, DIGIT, "00000001000");
    expect("vowel", t, n, VOWEL, "01000110010");
    double x[5] = {1, 2, 3, 4, 5};
    float up[5] = {2, 4, 6, 8, 10}, down[5] = {5, 4, 3, 2, 1}, flat[5] = {3, 3, 3, 3, 3};
    CHECK(fabs(cli_correlation(x, up, 1, 5) - 1) < 1e-12, "r of a rising line");
    CHECK(fabs(cli_correlation(x, down, 1, 5) + 1) < 1e-12, "r of a falling line");
    CHECK(isnan(cli_correlation(x, flat, 1, 5)), "r against a constant");
    float strided[10] = {1, 0, 2, 0, 3, 0, 4, 0, 5, 0};
    CHECK(fabs(cli_correlation(x, strided, 2, 5) - 1) < 1e-12, "r with a stride");
    return check_result("test_properties");
}
