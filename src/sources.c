/*
 * sources.c: files and directories to an ordered list of files (sources.h).
 * Directories are read whole, their names sorted, then walked depth first;
 * the directories met during one argument's walk are kept in a small hash set
 * of (device, inode) so that links cannot make the walk loop. It reads no
 * file's contents.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "sources.h"

typedef struct dir_id {
    uint64_t device, inode;
    int used;
} dir_id;

typedef struct walk {
    crnn_sources *out;
    size_t cap;          /* of out->files */
    size_t max_files;
    dir_id *seen;        /* (seen_cap) open addressing; seen_cap a power of 2 */
    size_t seen_cap, seen_count;
    uint64_t hidden;     /* names skipped for their leading '.' in this argument */
    crnn_error *err;
} walk;

static size_t dir_hash(uint64_t device, uint64_t inode, size_t cap)
{
    uint64_t h = (device * 0x9E3779B97F4A7C15ull) ^ inode;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return (size_t)h & (cap - 1);
}

/* Adds a directory to the set: 1 if it is new, 0 if it was there, or
 * CRNN_ERR_NOMEM. */
static int seen_add(walk *w, uint64_t device, uint64_t inode)
{
    if (2 * (w->seen_count + 1) > w->seen_cap) { /* keep it at most half full */
        size_t cap = w->seen_cap ? 2 * w->seen_cap : 64;
        dir_id *bigger = crnn_calloc(cap, sizeof *bigger);
        if (!bigger)
            return crnn_fail(w->err, CRNN_ERR_NOMEM, "out of memory listing directories");
        for (size_t i = 0; i < w->seen_cap; i++) {
            if (!w->seen[i].used)
                continue;
            size_t j = dir_hash(w->seen[i].device, w->seen[i].inode, cap);
            while (bigger[j].used)
                j = (j + 1) & (cap - 1);
            bigger[j] = w->seen[i];
        }
        free(w->seen);
        w->seen = bigger;
        w->seen_cap = cap;
    }
    size_t j = dir_hash(device, inode, w->seen_cap);
    for (; w->seen[j].used; j = (j + 1) & (w->seen_cap - 1))
        if (w->seen[j].device == device && w->seen[j].inode == inode)
            return 0;
    w->seen[j] = (dir_id){device, inode, 1};
    w->seen_count++;
    return 1;
}

/* Appends a file; takes ownership of path (freed on failure). */
static int add_file(walk *w, char *path, const struct stat *st, const char *arg)
{
    crnn_sources *out = w->out;
    if (out->count >= w->max_files) {
        free(path);
        return crnn_fail(w->err, CRNN_ERR_DATA, "%s: more than %zu files; name fewer files or "
                         "directories", arg, w->max_files);
    }
    if (out->count == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        crnn_source *bigger =
            cap <= SIZE_MAX / sizeof *bigger ? realloc(out->files, cap * sizeof *bigger) : NULL;
        if (!bigger) {
            free(path);
            return crnn_fail(w->err, CRNN_ERR_NOMEM, "out of memory listing files");
        }
        out->files = bigger;
        w->cap = cap;
    }
    crnn_source *s = &out->files[out->count++];
    s->path = path;
    s->bytes = S_ISREG(st->st_mode) && st->st_size > 0 ? (uint64_t)st->st_size : 0;
    s->device = (uint64_t)st->st_dev;
    s->inode = (uint64_t)st->st_ino;
    s->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    s->mtime_nsec = (int64_t)st->st_mtim.tv_nsec;
    out->bytes += s->bytes;
    return CRNN_OK;
}

/* dir "/" name, without doubling a trailing '/' (dir "/" stays "/name"). */
static char *join(const char *dir, const char *name)
{
    size_t d = strlen(dir), n = strlen(name);
    while (d > 1 && dir[d - 1] == '/')
        d--;
    int slash = dir[d - 1] != '/';
    char *p = malloc(d + (size_t)slash + n + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, d);
    if (slash)
        p[d] = '/';
    memcpy(p + d + slash, name, n + 1);
    return p;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The names in a directory that do not begin with '.', sorted; the caller
 * frees them (free_names). */
static int read_names(walk *w, const char *path, char ***names_out, size_t *count)
{
    *names_out = NULL;
    *count = 0;
    DIR *d = opendir(path);
    if (!d)
        return crnn_fail(w->err, CRNN_ERR_IO, "cannot read directory %s: %s", path,
                         strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = CRNN_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                rc = crnn_fail(w->err, CRNN_ERR_IO, "cannot read directory %s: %s", path,
                               strerror(errno));
            break;
        }
        if (e->d_name[0] == '.') {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                w->hidden++;
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **bigger = cap <= SIZE_MAX / sizeof *bigger ? realloc(names, cap * sizeof *bigger)
                                                             : NULL;
            if (!bigger) {
                rc = crnn_fail(w->err, CRNN_ERR_NOMEM, "out of memory reading directory %s", path);
                break;
            }
            names = bigger;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = crnn_fail(w->err, CRNN_ERR_NOMEM, "out of memory reading directory %s", path);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != CRNN_OK) {
        free_names(names, n);
        return rc;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, by_name);
    *names_out = names;
    *count = n;
    return CRNN_OK;
}

/* Lists the files under the directory at path (already in the seen set). */
static int walk_dir(walk *w, const char *path, const char *arg)
{
    char **names;
    size_t n;
    int rc = read_names(w, path, &names, &n);
    for (size_t i = 0; rc == CRNN_OK && i < n; i++) {
        char *child = join(path, names[i]);
        if (!child) {
            rc = crnn_fail(w->err, CRNN_ERR_NOMEM, "out of memory listing %s", path);
            break;
        }
        struct stat st;
        if (stat(child, &st) != 0) {
            /* ENOENT: removed meanwhile, or a dangling link; ELOOP: a link to itself */
            if (errno != ENOENT && errno != ELOOP)
                rc = crnn_fail(w->err, CRNN_ERR_IO, "cannot examine %s: %s", child,
                               strerror(errno));
            free(child);
        } else if (S_ISREG(st.st_mode)) {
            rc = add_file(w, child, &st, arg); /* child is the list's now */
        } else if (S_ISDIR(st.st_mode)) {
            rc = seen_add(w, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            if (rc == 1)
                rc = walk_dir(w, child, arg);
            free(child);
        } else { /* fifos, sockets, devices: not text files */
            free(child);
        }
    }
    free_names(names, n);
    return rc;
}

int crnn_sources_expand_at_most(const char *const *args, size_t n, size_t max_files,
                                crnn_sources *out, crnn_error *err)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || !args)
        return crnn_fail(err, CRNN_ERR_ARG, "no files given");
    walk w = {.out = out, .max_files = max_files, .err = err};
    int rc = CRNN_OK;
    for (size_t a = 0; rc == CRNN_OK && a < n; a++) {
        const char *arg = args[a];
        struct stat st;
        if (!arg || !arg[0]) {
            rc = crnn_fail(err, CRNN_ERR_ARG, "an empty file name was given");
            break;
        }
        if (stat(arg, &st) != 0) {
            rc = crnn_fail(err, CRNN_ERR_IO, "cannot open %s: %s", arg, strerror(errno));
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            char *copy = strdup(arg);
            rc = copy ? add_file(&w, copy, &st, arg)
                      : crnn_fail(err, CRNN_ERR_NOMEM, "out of memory listing files");
            continue;
        }
        /* Each directory argument is walked on its own: given twice, listed twice. */
        for (size_t i = 0; i < w.seen_cap; i++)
            w.seen[i].used = 0;
        w.seen_count = 0;
        w.hidden = 0;
        size_t before = out->count;
        rc = seen_add(&w, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (rc == 1)
            rc = walk_dir(&w, arg, arg);
        if (rc == CRNN_OK && out->count == before)
            rc = crnn_fail(err, CRNN_ERR_DATA, "%s holds no text files%s", arg,
                           w.hidden ? " (names beginning with '.' are skipped)" : "");
    }
    free(w.seen);
    if (rc != CRNN_OK)
        crnn_sources_free(out);
    return rc;
}

int crnn_sources_expand(const char *const *args, size_t n, crnn_sources *out, crnn_error *err)
{
    return crnn_sources_expand_at_most(args, n, CRNN_SOURCES_MAX_FILES, out, err);
}

void crnn_sources_free(crnn_sources *sources)
{
    if (!sources)
        return;
    for (size_t i = 0; i < sources->count; i++)
        free(sources->files[i].path);
    free(sources->files);
    memset(sources, 0, sizeof *sources);
}
