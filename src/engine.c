/*
 * engine.c: the list of engines and the one place that chooses among them
 * (see engine.h); the public names and checks of the engine settings.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "engine.h"

/* Every engine of this build, in the order CRNN_ENGINE_AUTO prefers them
 * (oneDNN's measured faster than the own cells: bench/RESULTS.md). */
static const crnn_engine_ops *const engines[] = {
#ifdef CRNN_HAVE_DNNL
    &crnn_engine_onednn_ops,
    &crnn_engine_onednn_bf16_ops,
#endif
    &crnn_engine_own_ops,
};
enum { ENGINES = sizeof engines / sizeof *engines };

static const char *const setting_names[] = {
    [CRNN_ENGINE_AUTO] = "auto",
    [CRNN_ENGINE_OWN] = "own",
    [CRNN_ENGINE_ONEDNN] = "onednn",
    [CRNN_ENGINE_ONEDNN_BF16] = "onednn-bf16",
};
enum { SETTINGS = sizeof setting_names / sizeof *setting_names };

static const crnn_engine_ops *engine_of(crnn_engine id)
{
    for (int i = 0; i < ENGINES; i++)
        if (engines[i]->id == id)
            return engines[i];
    return NULL;
}

const crnn_engine_ops *crnn_engine_next(const crnn_engine_ops *after, int cell)
{
    int i = 0;
    if (after) {
        while (i < ENGINES && engines[i] != after)
            i++;
        i++; /* the one after it */
    }
    for (; i < ENGINES; i++)
        if (engines[i]->auto_choice && engines[i]->usable(cell))
            return engines[i];
    return NULL;
}

const crnn_engine_ops *crnn_engine_for(crnn_engine setting, int cell)
{
    const crnn_engine_ops *e = setting == CRNN_ENGINE_AUTO ? crnn_engine_next(NULL, cell)
                                                           : engine_of(setting);
    return e && e->usable(cell) ? e : &crnn_engine_own_ops;
}

const char *crnn_engine_name(crnn_engine engine)
{
    return (unsigned)engine < SETTINGS ? setting_names[engine] : NULL;
}

int crnn_engine_parse(const char *name, crnn_engine *engine)
{
    for (int i = 0; i < SETTINGS; i++)
        if (name && !strcmp(name, setting_names[i])) {
            *engine = (crnn_engine)i;
            return CRNN_OK;
        }
    return CRNN_ERR_ARG;
}

int crnn_engine_check(crnn_engine engine, crnn_error *err)
{
    if (!crnn_engine_name(engine))
        return crnn_fail(err, CRNN_ERR_ARG, "unknown engine %d", (int)engine);
    if (engine == CRNN_ENGINE_AUTO)
        return CRNN_OK;
    const crnn_engine_ops *e = engine_of(engine);
    if (!e)
        return crnn_fail(err, CRNN_ERR_ARG, "this charrnn was built without oneDNN (install "
                         "libdnnl-dev and rebuild); use the engine own or auto");
    if (!e->usable(CRNN_CELL_LSTM))
        return crnn_fail(err, CRNN_ERR_ARG, "the engine %s cannot run on this CPU: it needs %s",
                         e->name, e->needs);
    return CRNN_OK;
}

void crnn_engine_describe(crnn_engine engine, char *out, size_t size)
{
    crnn_engine_for(engine, CRNN_CELL_LSTM)->describe(out, size);
}
