/*
 * properties.c: the text properties of properties.h. Each is a number per
 * position, taken after reading the character there, so that it lines up
 * with the state a model has after reading it.
 */
#include <math.h>

#include "properties.h"

const cli_property cli_properties[CLI_PROPERTIES] = {
    {"inside quotes", "1 from an opening quote (\" or \u201c) to its closing one, else 0"},
    {"position in line", "characters since the last line break (0 on the break)"},
    {"bracket depth", "( [ { opened and not yet closed"},
    {"start of a word", "1 on a letter that follows a non-letter"},
    {"position in word", "letters since the start of the word (0 outside words)"},
    {"upper case", "1 on a capital letter"},
    {"space", "1 on a space, tab or line break"},
    {"punctuation", "1 on . , ; : ! ? ' \" - and the like"},
    {"digit", "1 on 0-9"},
    {"vowel", "1 on a, e, i, o, u (either case)"},
};

static int is_upper(uint32_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
           (c >= 0x391 && c <= 0x3A9) || (c >= 0x410 && c <= 0x42F);
}

static int is_lower(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7) ||
           (c >= 0x3B1 && c <= 0x3C9) || (c >= 0x430 && c <= 0x44F);
}

static int is_letter(uint32_t c)
{
    /* Beyond the scripts with case, any character above Latin-1's symbols
     * that is not punctuation counts (CJK, Arabic, ...). */
    return is_upper(c) || is_lower(c) || (c >= 0x250 && !(c >= 0x2000 && c <= 0x206F) &&
                                          !(c >= 0x3000 && c <= 0x303F));
}

static int is_punct(uint32_t c)
{
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E) || (c >= 0x2010 && c <= 0x2027) || c == 0xAB || c == 0xBB;
}

void cli_properties_compute(const uint32_t *text, size_t n, double *values)
{
    int quoted = 0, curly = 0;
    double column = 0, depth = 0, in_word = 0;
    uint32_t prev = '\n';
    for (size_t i = 0; i < n; i++) {
        uint32_t c = text[i];
        double *v = values + i;
        /* Straight quotes toggle; curly ones open and close. The quote that
         * opens counts as inside, the one that closes as outside. */
        if (c == '"')
            quoted = !quoted;
        else if (c == 0x201C)
            curly = 1;
        else if (c == 0x201D)
            curly = 0;
        column = c == '\n' ? 0 : column + 1;
        if (c == '(' || c == '[' || c == '{')
            depth++;
        else if ((c == ')' || c == ']' || c == '}') && depth > 0)
            depth--;
        int letter = is_letter(c);
        in_word = letter ? in_word + 1 : 0;
        v[0 * n] = quoted || curly;
        v[1 * n] = column;
        v[2 * n] = depth;
        v[3 * n] = letter && !is_letter(prev);
        v[4 * n] = in_word;
        v[5 * n] = is_upper(c);
        v[6 * n] = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        v[7 * n] = is_punct(c);
        v[8 * n] = c >= '0' && c <= '9';
        uint32_t lc = c | 0x20;
        v[9 * n] = c < 0x80 && (lc == 'a' || lc == 'e' || lc == 'i' || lc == 'o' || lc == 'u');
        prev = c;
    }
}

double cli_correlation(const double *x, const float *y, size_t stride, size_t n)
{
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i * stride];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i * stride] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx <= 0 || syy <= 1e-24)
        return NAN;
    return sxy / sqrt(sxx * syy);
}
