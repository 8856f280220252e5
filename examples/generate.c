/*
 * generate.c: the README's example of embedding libcharrnn: load a snapshot
 * (or an export) and print text generated from a prime, one character at a
 * time. Build: cc generate.c $(pkg-config --cflags --libs charrnn)
 * usage: generate SNAP [PRIME] [LENGTH]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <charrnn.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SNAP [PRIME] [LENGTH]\n", argv[0]);
        return 2;
    }
    const char *prime = argc > 2 ? argv[2] : "";
    long length = argc > 3 ? atol(argv[3]) : 200;

    crnn_error err;
    crnn_sampler *sampler = crnn_sampler_open(argv[1], &err);
    if (!sampler) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    crnn_sampler_seed(sampler, 42);
    if (crnn_sampler_prime(sampler, prime, strlen(prime), &err) != CRNN_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        crnn_sampler_free(sampler);
        return 1;
    }
    crnn_sample_options options;
    crnn_sample_options_default(&options);
    options.temperature = 0.8f;
    options.top_k = 20;

    fputs(prime, stdout);
    for (long i = 0; i < length; i++) {
        uint32_t code_point;
        if (crnn_sampler_next(sampler, &options, &code_point, &err) != CRNN_OK) {
            fprintf(stderr, "error: %s\n", err.message);
            break;
        }
        char utf8[4];
        fwrite(utf8, 1, (size_t)crnn_utf8_encode(code_point, utf8), stdout);
    }
    putchar('\n');
    crnn_sampler_free(sampler);
    return 0;
}
