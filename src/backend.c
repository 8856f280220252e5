/*
 * backend.c: which kernels run. OpenBLAS picks its kernels for the CPU when it
 * loads; one that does not know a newer CPU falls back to generic SSE kernels
 * (Debian's 0.3.21 on recent Xeons: about a fifth of the speed), and a preset
 * OPENBLAS_CORETYPE can hold it back too. This compares the kernels OpenBLAS
 * chose with what the CPU can run, by CPU features, never by model number.
 */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "charrnn.h"

/* Vector width a CPU supports: 3 AVX-512 (F, BW, DQ, VL), 2 AVX2 + FMA, 1 less. */
static int cpu_level(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 2;
    return 1;
}

/* The level of an OpenBLAS core's kernels (names as openblas_get_corename()
 * gives them, any case). */
static int core_level(const char *core)
{
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const avx2[] = {"haswell", "zen", "skylake", "excavator"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
        if (!strcasecmp(core, avx512[i]))
            return 3;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        if (!strcasecmp(core, avx2[i]))
            return 2;
    return 1;
}

int crnn_blas_better_core(char *core, size_t size)
{
    const char *running = openblas_get_corename();
    int have = cpu_level(), got = core_level(running ? running : "");
    if (got >= have || have < 2)
        return 0;
    const char *better = "Haswell";
    if (have == 3) {
        __builtin_cpu_init();
        better = __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
    }
    snprintf(core, size, "%s", better);
    return 1;
}

const char *crnn_backend_description(void)
{
    static char desc[320];
    /* The gate loops' clones are chosen by the same test (target_clones). */
    __builtin_cpu_init();
    const char *gates = __builtin_cpu_supports("avx512f") ? "AVX-512"
                        : __builtin_cpu_supports("avx2") ? "AVX2" : "SSE2";
    snprintf(desc, sizeof desc, "%s; gate loops %s", openblas_get_config(), gates);
    return desc;
}
