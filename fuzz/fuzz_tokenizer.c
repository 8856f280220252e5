/*
 * fuzz_tokenizer.c: libFuzzer target for the tokenizer. The first byte picks
 * lossy decoding, the normalization and a vocabulary limit; the rest is text
 * that is decoded, turned into a vocabulary and encoded.
 */
#include <stdint.h>
#include <stdlib.h>

#include "utf8.h"
#include "vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int lossy = data[0] & 1;
    crnn_normalization norm = (crnn_normalization)((data[0] >> 1) % 3);
    int max_vocab = (data[0] >> 3) & 1 ? 2 + (data[0] >> 4) : 0;
    crnn_error err;
    uint32_t *cps;
    size_t n;
    if (crnn_utf8_decode(data + 1, size - 1, "fuzz", lossy, norm, &cps, &n, &err) != CRNN_OK)
        return 0;
    crnn_vocab v;
    if (crnn_vocab_build(&v, cps, n, max_vocab, NULL, NULL, &err) == CRNN_OK) {
        int unknown = max_vocab ? crnn_vocab_index(&v, CRNN_UNKNOWN_CODE_POINT) : -1;
        if (crnn_vocab_encode(&v, cps, n, unknown, &err) == CRNN_OK) {
            for (size_t i = 0; i < n; i++)
                if (cps[i] >= (uint32_t)v.size)
                    abort(); /* a token outside the vocabulary */
        }
        crnn_vocab_free(&v);
    }
    free(cps);
    return 0;
}
