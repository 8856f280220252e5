/*
 * sources.h: the text files named by a list of arguments (files and
 * directories), in a fixed order, with what identifies each one. Used by
 * `charrnn eval` and by training on several files. It only lists: it opens no
 * file, reads no text and decides nothing about empty files (the callers do).
 * Library-internal (not installed).
 */
#ifndef CRNN_SOURCES_H
#define CRNN_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

/* More files than this is refused (CRNN_ERR_DATA): a mistyped argument such
 * as / would otherwise list the whole machine. */
#define CRNN_SOURCES_MAX_FILES 4000000u

/* One file, as stat(2) saw it when listed (symbolic links followed). */
typedef struct crnn_source {
    char *path;                    /* the argument as given, or DIR "/" NAME inside a directory */
    uint64_t bytes;                /* size (0 for a pipe or other non-regular argument) */
    uint64_t device, inode;        /* st_dev, st_ino: which file it is */
    int64_t mtime_sec, mtime_nsec; /* modification time: whether it changed since */
} crnn_source;

typedef struct crnn_sources {
    crnn_source *files; /* (count) in order: see crnn_sources_expand */
    size_t count;
    uint64_t bytes;     /* the sum of the files' sizes */
} crnn_sources;

/* Expands args[0 .. n-1] into files, in this order:
 *  - an argument that is not a directory is one file, as given (a pipe or
 *    /dev/stdin too), in argument order;
 *  - a directory is walked recursively, each directory's entries in byte
 *    order of their names (strcmp), in place of the argument. Names beginning
 *    with '.' (hidden files and directories) are skipped, and so is anything
 *    that is neither a regular file nor a directory. Symbolic links are
 *    followed; a directory reached a second time (same device and inode: a
 *    link loop, or two links to one directory) is skipped, so the walk ends.
 *    An entry that vanishes during the walk, a dangling link and a link to
 *    itself are skipped.
 * Empty files are listed. The same file given twice, or reached through two
 * links, is listed twice; so is a directory given twice (the check against
 * loops holds within one argument's walk).
 * Returns CRNN_OK and fills *out (the caller frees it with
 * crnn_sources_free), or, with *out left empty:
 *  CRNN_ERR_ARG   n is 0, or an argument is "";
 *  CRNN_ERR_IO    an argument is missing, or a path cannot be examined, or a
 *                 directory cannot be read (the message names the path);
 *  CRNN_ERR_DATA  a directory argument holds no text files (no regular file
 *                 that is not hidden, at any depth), or there are more than
 *                 CRNN_SOURCES_MAX_FILES files;
 *  CRNN_ERR_NOMEM. */
int crnn_sources_expand(const char *const *args, size_t n, crnn_sources *out, crnn_error *err);

/* The same with another limit than CRNN_SOURCES_MAX_FILES (for tests). */
int crnn_sources_expand_at_most(const char *const *args, size_t n, size_t max_files,
                                crnn_sources *out, crnn_error *err);

/* Frees the paths and the array, and empties *sources (NULL is fine). */
void crnn_sources_free(crnn_sources *sources);

#endif
