/*
 * fuzz_request.c: libFuzzer target for charrnn serve's request parser
 * (src/server/request.c). The first byte picks the limits (--max-length,
 * --max-clients); the rest is the body of POST /v1/completions. Besides
 * memory errors it checks what the server relies on: a refusal says what is
 * wrong, and an accepted request stays inside the limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    srv_limits lim = {.max_length = 1 + (data[0] & 0x0f) * 300, .max_streams = 1 + (data[0] >> 4)};
    srv_completion c;
    srv_error err;
    memset(&err, 0, sizeof err);
    if (srv_parse_completion((const char *)data + 1, size - 1, &lim, &c, &err) < 0) {
        if (!err.message[0] || (err.status != 400 && err.status != 500) || c.prompts)
            abort(); /* a refusal names its problem and leaves nothing behind */
        srv_completion_free(&c);
        return 0;
    }
    if (c.n_prompts < 1 || c.n < 1 || (long long)c.n * c.n_prompts > lim.max_streams ||
        c.max_tokens > (uint64_t)lim.max_length || c.n_stop < 0 || c.n_stop > SRV_MAX_STOP ||
        !(c.sampling.temperature >= 0 && c.sampling.temperature <= 2) ||
        !(c.sampling.top_p > 0 && c.sampling.top_p <= 1) || c.sampling.top_k < 0)
        abort();
    for (int i = 0; i < c.n_prompts; i++)
        if (!c.prompts[i] || strlen(c.prompts[i]) != c.prompt_lens[i] ||
            c.prompt_chars[i] > (uint64_t)lim.max_length)
            abort();
    for (int i = 0; i < c.n_stop; i++)
        if (!c.stop[i] || !c.stop[i][0])
            abort();
    srv_completion_free(&c);
    return 0;
}
