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

int crnn_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes,
                           int nparts, crnn_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int rc = write_error(err, "create", tmp, errno);
        free(tmp);
        return rc;
    }
    for (int i = 0; i < nparts; i++) {
        const unsigned char *p = parts[i];
        size_t left = sizes[i];
        while (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                int rc = write_error(err, "write", tmp, w < 0 ? errno : ENOSPC);
                close(fd);
                unlink(tmp);
                free(tmp);
                return rc;
            }
            p += w;
            left -= (size_t)w;
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int rc = write_error(err, "sync", tmp, errno);
        close(fd);
        unlink(tmp);
        free(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        int rc = write_error(err, "rename to", path, errno);
        unlink(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    /* Make the rename itself durable. */
    char *dircopy = strdup(path);
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
