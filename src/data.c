/*
 * data.c: splits and streams.
 */
#include "data.h"

static size_t share(size_t n, double fraction)
{
    if (fraction <= 0)
        return 0;
    size_t k = (size_t)((double)n * fraction);
    return k < 2 && n >= 8 ? 2 : k;
}

void crnn_split_corpus(const unsigned char *ids, int width, size_t n, uint32_t limit,
                       double val_fraction, double test_fraction, crnn_splits *splits)
{
    size_t nval = share(n, val_fraction), ntest = share(n, test_fraction);
    if (nval + ntest > n)
        nval = ntest = 0;
    size_t ntrain = n - nval - ntest, w = (size_t)width;
    splits->train = (crnn_split){ids, width, ntrain, limit};
    splits->val = (crnn_split){ids + ntrain * w, width, nval, limit};
    splits->test = (crnn_split){ids + (ntrain + nval) * w, width, ntest, limit};
}

size_t crnn_stream_length(const crnn_split *split, int streams)
{
    return streams > 0 ? split->length / (size_t)streams : 0;
}

uint64_t crnn_chunks_per_epoch(const crnn_split *split, int streams, int steps)
{
    size_t len = crnn_stream_length(split, streams);
    return len < (size_t)steps + 1 ? 0 : (uint64_t)((len - 1) / (size_t)steps);
}

int crnn_stream_chunk(const crnn_split *split, int streams, int first, int count, int steps,
                      const uint64_t *cursors, uint32_t *inputs, uint32_t *targets)
{
    size_t len = crnn_stream_length(split, streams);
    uint32_t largest = 0;
    for (int b = 0; b < count; b++) {
        int stream = first + b;
        size_t at = (size_t)stream * len + cursors[stream];
        for (int t = 0; t < steps; t++) {
            uint32_t x = crnn_id_at(split->ids, split->width, at + (size_t)t);
            uint32_t y = crnn_id_at(split->ids, split->width, at + (size_t)t + 1);
            inputs[(size_t)t * count + b] = x;
            targets[(size_t)t * count + b] = y;
            largest |= x | y;
        }
    }
    /* Cheap check first (OR of all ids), exact one only when it may fail. */
    if (largest < split->limit)
        return 0;
    for (size_t i = 0; i < (size_t)steps * (size_t)count; i++)
        if (inputs[i] >= split->limit || targets[i] >= split->limit)
            return -1;
    return 0;
}
