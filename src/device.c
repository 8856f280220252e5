/*
 * device.c: the public names and checks of the device setting (CPU or a
 * CUDA device); what a device is and does is gpu.h's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "gpu.h"

int crnn_device_parse(const char *name, int *device)
{
    if (!name)
        return CRNN_ERR_ARG;
    if (!strcmp(name, "auto"))
        *device = CRNN_DEVICE_AUTO;
    else if (!strcmp(name, "cpu"))
        *device = CRNN_DEVICE_CPU;
    else if (!strcmp(name, "cuda"))
        *device = 0;
    else if (!strncmp(name, "cuda:", 5) && name[5] >= '0' && name[5] <= '9') {
        char *end = NULL;
        long n = strtol(name + 5, &end, 10);
        if (*end || n > 1024)
            return CRNN_ERR_ARG;
        *device = (int)n;
    } else
        return CRNN_ERR_ARG;
    return CRNN_OK;
}

void crnn_device_name(int device, char *out, size_t size)
{
    if (device == CRNN_DEVICE_AUTO)
        snprintf(out, size, "auto");
    else if (device < 0)
        snprintf(out, size, "cpu");
    else
        snprintf(out, size, "cuda:%d", device);
}

int crnn_device_check(int device, crnn_error *err)
{
    if (device == CRNN_DEVICE_AUTO || device == CRNN_DEVICE_CPU)
        return CRNN_OK;
    if (device < 0)
        return crnn_fail(err, CRNN_ERR_ARG, "unknown device setting %d", device);
    crnn_gpu_info info;
    int rc = crnn_gpu_query(device, &info, err);
    if (rc != CRNN_OK && crnn_gpu_built() && err) {
        /* Say which setting failed, before the reason. */
        char reason[sizeof err->message];
        snprintf(reason, sizeof reason, "%s", err->message);
        crnn_fail(err, CRNN_ERR_ARG, "--device cuda:%d cannot be used: %s", device, reason);
    }
    return rc == CRNN_OK ? CRNN_OK : CRNN_ERR_ARG;
}

int crnn_device_count(void)
{
    return crnn_gpu_count();
}

int crnn_scorer_on_device(const struct crnn_model *model, const float *params, int device,
                          int automatic, int rows, int steps, crnn_gpu_scorer **out,
                          crnn_error *err)
{
    *out = NULL;
    int rc = crnn_device_check(device, err);
    crnn_gpu_scorer *sc = NULL;
    if (rc == CRNN_OK && !(sc = crnn_gpu_scorer_create(model, device, rows, steps, err)))
        rc = err ? err->status : CRNN_ERR_DEVICE;
    if (rc == CRNN_OK)
        rc = crnn_gpu_scorer_put(sc, params, err);
    if (rc == CRNN_OK) {
        *out = sc;
        return CRNN_OK;
    }
    crnn_gpu_scorer_free(sc);
    if (!automatic)
        return rc;
    if (err) /* left to choose, the CPU rather than a failure */
        memset(err, 0, sizeof *err);
    return CRNN_OK;
}
