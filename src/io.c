/*
 * io.c: reading whole files, and writing them so that a crash, a kill or a full
 * disk never leaves a damaged file under the real name.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "io.h"

int crnn_read_file(const char *path, uint64_t max_bytes, unsigned char **data, size_t *len,
                   crnn_error *err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return crnn_fail(err, CRNN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return crnn_fail(err, CRNN_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return crnn_fail(err, CRNN_ERR_IO, "%s is a directory, not a file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return crnn_fail(err, CRNN_ERR_IO, "%s is too large (%lld bytes; the limit is %llu)", path,
                         (long long)st.st_size, (unsigned long long)max_bytes);
    }
    /* Read until EOF rather than trusting st_size: pipes and /proc report 0. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    unsigned char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) {
                free(buf);
                close(fd);
                return crnn_fail(err, CRNN_ERR_IO, "%s is too large", path);
            }
            unsigned char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                close(fd);
                return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory reading %s", path);
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return crnn_fail(err, CRNN_ERR_IO, "cannot read %s: %s", path, strerror(e));
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return CRNN_OK;
}

static int write_error(crnn_error *err, const char *what, const char *path, int e)
{
    int status = (e == ENOSPC || e == EDQUOT) ? CRNN_ERR_NOSPACE : CRNN_ERR_IO;
    return crnn_fail(err, status, "cannot %s %s: %s", what, path, strerror(e));
}

int crnn_atomic_open(crnn_atomic_file *f, const char *path, crnn_error *err)
{
    size_t plen = strlen(path);
    f->path = path;
    f->tmp = malloc(plen + 32);
    f->fd = -1;
    if (!f->tmp)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    snprintf(f->tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int rc = write_error(err, "create", f->tmp, errno);
        free(f->tmp);
        f->tmp = NULL;
        return rc;
    }
    return CRNN_OK;
}

/* write(2) at the file position, or pwrite(2) at offset when it is >= 0. */
static int write_fully(crnn_atomic_file *f, const void *data, size_t n, int64_t offset,
                       crnn_error *err)
{
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t w = offset < 0 ? write(f->fd, p, n) : pwrite(f->fd, p, n, (off_t)offset);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return write_error(err, "write", f->tmp, w < 0 ? errno : ENOSPC);
        p += w;
        n -= (size_t)w;
        if (offset >= 0)
            offset += w;
    }
    return CRNN_OK;
}

int crnn_atomic_write(crnn_atomic_file *f, const void *data, size_t n, crnn_error *err)
{
    return write_fully(f, data, n, -1, err);
}

int crnn_atomic_pwrite(crnn_atomic_file *f, const void *data, size_t n, uint64_t offset,
                       crnn_error *err)
{
    return write_fully(f, data, n, (int64_t)offset, err);
}

void crnn_atomic_abort(crnn_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    f->fd = -1;
    f->tmp = NULL;
}

int crnn_atomic_commit(crnn_atomic_file *f, crnn_error *err)
{
    if (fsync(f->fd) != 0) {
        int rc = write_error(err, "sync", f->tmp, errno);
        crnn_atomic_abort(f);
        return rc;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) {
        int rc = write_error(err, "sync", f->tmp, errno);
        crnn_atomic_abort(f);
        return rc;
    }
    if (rename(f->tmp, f->path) != 0) {
        int rc = write_error(err, "rename to", f->path, errno);
        crnn_atomic_abort(f);
        return rc;
    }
    free(f->tmp);
    f->tmp = NULL;
    /* Make the rename itself durable. */
    char *dircopy = strdup(f->path);
    if (dircopy) {
        int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dircopy);
    }
    return CRNN_OK;
}
