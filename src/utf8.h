/*
 * utf8.h: UTF-8 text to Unicode code points with utf8proc, read in segments
 * of a few MB from a file or a buffer so that text of any size decodes in
 * bounded memory. Checks every byte (invalid UTF-8 is an error naming the byte
 * offset, line and column, or U+FFFD with lossy), skips a byte order mark,
 * and normalizes (NFC, NFKC) line by line: a newline never composes with what
 * surrounds it, so no character is cut. Knows nothing of vocabularies.
 */
#ifndef CRNN_UTF8_H
#define CRNN_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

typedef struct crnn_utf8_reader {
    const char *name;            /* for messages: the path, or what the buffer is */
    int fd;                      /* file source, or -1 */
    const unsigned char *mem;    /* buffer source */
    size_t mem_len, mem_pos;
    int eof, at_start, lossy;
    crnn_normalization normalize;
    unsigned char *buf;          /* carry from the previous segment, then new bytes */
    size_t cap, len;
    uint64_t offset;             /* source offset of buf[0] */
    uint64_t bytes;              /* bytes read so far */
    uint32_t crc;                /* CRC-32 of those bytes (unless skip_crc) */
    int skip_crc;                /* set after opening to save the CRC's time */
    unsigned char first[2];      /* for the UTF-16 hint */
    uint32_t *cps;               /* the current segment's code points */
    size_t ncps, cps_cap;
} crnn_utf8_reader;

/* Opens a file (path) or, with path NULL, the buffer mem[0, len) named name. */
int crnn_utf8_open_file(crnn_utf8_reader *r, const char *path, int lossy,
                        crnn_normalization norm, crnn_error *err);
int crnn_utf8_open_buffer(crnn_utf8_reader *r, const unsigned char *mem, size_t len,
                          const char *name, int lossy, crnn_normalization norm, crnn_error *err);

/* Decodes the next segment into r->cps[0, r->ncps): 1, or 0 at the end of the
 * text, or a negative crnn_status. */
int crnn_utf8_next(crnn_utf8_reader *r, crnn_error *err);

void crnn_utf8_close(crnn_utf8_reader *r);

/* Decodes a whole buffer; *out is malloc'ed (caller frees). */
int crnn_utf8_decode(const unsigned char *bytes, size_t len, const char *name, int lossy,
                     crnn_normalization norm, uint32_t **out, size_t *count, crnn_error *err);

#endif
