/*
 * properties.h: simple properties of a text that `charrnn inspect` looks for
 * in a model's cells (inside quotes, position in the line, bracket depth,
 * ...), computed from the text alone, and the correlation that ranks the
 * cells against them. Knows nothing of models or HTML.
 */
#ifndef CRNN_CLI_PROPERTIES_H
#define CRNN_CLI_PROPERTIES_H

#include <stddef.h>
#include <stdint.h>

typedef struct cli_property {
    const char *name;
    const char *description;
} cli_property;

enum { CLI_PROPERTIES = 10 };
extern const cli_property cli_properties[CLI_PROPERTIES];

/* values (CLI_PROPERTIES, n): each property after reading each character of
 * text (n code points), the state a model's cells are in at that point. */
void cli_properties_compute(const uint32_t *text, size_t n, double *values);

/* Pearson's correlation of x (n) and y (n values, stride apart); NAN if
 * either is constant. */
double cli_correlation(const double *x, const float *y, size_t stride, size_t n);

#endif
