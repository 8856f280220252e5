/*
 * check.h: a tiny test harness. CHECK records a failure with its location and
 * goes on; the program's exit status is the number of failures (capped), so a
 * failing test can never exit 0. Works in release builds (no assert).
 */
#ifndef CRNN_CHECK_H
#define CRNN_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            check_failures++;                                                                 \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                   \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
        }                                                                                     \
    } while (0)

#define CHECK_OK(rc, err)                                                                     \
    CHECK((rc) == 0, "status %d: %s", (int)(rc), (err).message)

static inline int check_result(const char *name)
{
    if (check_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    else
        fprintf(stderr, "%s: all checks passed\n", name);
    /* 77 would read as "skipped" to meson test. */
    return check_failures > 100 ? 100 : check_failures == 77 ? 78 : check_failures;
}

#endif
