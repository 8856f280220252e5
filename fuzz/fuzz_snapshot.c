/*
 * fuzz_snapshot.c: libFuzzer target for the snapshot reader. The first byte
 * picks the mode: even, the input is a whole file (header, CRCs and all);
 * odd, the rest is a payload that gets compressed and framed with a valid
 * header, so the fuzzer reaches the section parser past the checksums.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "snapshot.h"

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void parse(const unsigned char *bytes, size_t len)
{
    crnn_snapshot s;
    crnn_error err;
    if (crnn_snapshot_parse(bytes, len, "fuzz", &s, &err) == CRNN_OK)
        crnn_snapshot_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!(data[0] & 1)) {
        parse(data + 1, size - 1);
        return 0;
    }
    if (size < 5)
        return 0;
    /* bytes 1..4: the section count; the rest: the payload. */
    const unsigned char *payload = data + 5;
    size_t plen = size - 5;
    uLongf zlen = compressBound((uLong)plen);
    unsigned char *file = malloc(48 + zlen);
    if (!file || compress2(file + 48, &zlen, payload, (uLong)plen, 1) != Z_OK) {
        free(file);
        return 0;
    }
    static const unsigned char magic[8] = {'C', 'H', 'A', 'R', 'R', 'N', 'N', 0x1A};
    memset(file, 0, 48);
    memcpy(file, magic, 8);
    file[8] = CRNN_FORMAT_MAJOR;
    file[10] = CRNN_FORMAT_MINOR;
    memcpy(file + 16, data + 1, 4);
    put32(file + 20, (uint32_t)plen);
    put32(file + 28, (uint32_t)zlen);
    put32(file + 36, (uint32_t)crc32(0L, file + 48, (uInt)zlen));
    put32(file + 40, (uint32_t)crc32(0L, payload, (uInt)plen));
    put32(file + 44, (uint32_t)crc32(0L, file, 44));
    parse(file, 48 + zlen);
    free(file);
    return 0;
}
