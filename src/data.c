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

void crnn_split_corpus(const uint32_t *tokens, size_t n, double val_fraction,
                       double test_fraction, crnn_splits *splits)
{
    size_t nval = share(n, val_fraction), ntest = share(n, test_fraction);
    if (nval + ntest > n)
        nval = ntest = 0;
    size_t ntrain = n - nval - ntest;
    splits->train = (crnn_split){tokens, ntrain};
    splits->val = (crnn_split){tokens + ntrain, nval};
    splits->test = (crnn_split){tokens + ntrain + nval, ntest};
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

void crnn_stream_chunk(const crnn_split *split, int streams, int first, int count, int steps,
                       const uint64_t *cursors, uint32_t *inputs, uint32_t *targets)
{
    size_t len = crnn_stream_length(split, streams);
    for (int b = 0; b < count; b++) {
        int stream = first + b;
        const uint32_t *s = split->tokens + (size_t)stream * len + cursors[stream];
        for (int t = 0; t < steps; t++) {
            inputs[(size_t)t * count + b] = s[t];
            targets[(size_t)t * count + b] = s[t + 1];
        }
    }
}
