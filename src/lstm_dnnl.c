/*
 * lstm_dnnl.c: the LSTM stack's training engine on oneDNN (see lstm_dnnl.h).
 * One layer is one oneDNN LSTM of depth 1, so dropout can sit between layers
 * as in model.c. Layers of the same input width share their primitives and
 * their reordered weights (a layer's weights are reordered just before it
 * runs); each layer keeps its own oneDNN workspace (the gates and states the
 * backward reads). All layers share one scratchpad, sized for the largest.
 *
 * charrnn's buffers are handed to oneDNN as they are (plain layouts: tnc for
 * sequences, ldnc for states, ldigo for weights, ldgo for the bias); only the
 * weights are reordered into the layouts oneDNN's kernels prefer. The weight
 * gradients are written straight into charrnn's gradient array: oneDNN's
 * backward accumulates into its diff weights, which is the += of the cell
 * interface. On small layers the rows are split into groups that run side by
 * side, one thread each (group_count). Does not know about dropout, losses or
 * the rest of the model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include "common.h"
#include "lstm_dnnl.h"

enum { WIDTHS = 2 }; /* input widths: embed (layer 0), hidden (layers above) */

/* Primitives and reorders for layers of one input width. */
typedef struct dnnl_part {
    int in;
    dnnl_primitive_t fwd, bwd;
    dnnl_primitive_t to_fwd_wl, to_fwd_wi, to_bwd_wl, to_bwd_wi; /* weight reorders */
    dnnl_memory_t fwd_wl, fwd_wi, bwd_wl, bwd_wi;               /* reordered weights (owned) */
    dnnl_memory_t user_wl, user_wi;                             /* views of charrnn's weights */
    dnnl_memory_t diff_wl, diff_wi;                             /* views of its gradients */
    dnnl_memory_t src_layer, diff_src_layer;                    /* (T,B,in) views */
    dnnl_primitive_t x_to_low;                                  /* bf16: input f32 -> bf16 */
    dnnl_memory_desc_t ws_md, x_low_md;
} dnnl_part;

/* The engine for one group of rows: rows row0 .. row0+rows-1 of charrnn's
 * all_rows-row buffers, which oneDNN reads and writes through strided views. */
typedef struct group {
    int layers, rows, steps, hidden, row0, all_rows;
    int bf16; /* products in bf16: sequences and h in bf16, c, bias and gradients in f32 */
    int estimate; /* only count the bytes (crnn_dnnl_lstm_estimate): allocate and build nothing */
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_part part[WIDTHS];
    dnnl_memory_t *workspace; /* (layers) oneDNN's record of each layer's forward */
    dnnl_memory_t scratchpad;
    /* Views of charrnn's buffers (pointers set before each call). */
    dnnl_memory_t src_iter, src_iter_c, bias, dst_layer, dst_iter, dst_iter_c;
    dnnl_memory_t diff_src_iter, diff_src_iter_c, diff_bias, diff_dst_layer, diff_dst_iter,
        diff_dst_iter_c;
    /* bf16: the layer's input, outputs and initial h as oneDNN reads them, per
     * layer (its backward reads them again); outputs are widened into a->h. */
    dnnl_memory_t *x_low, *h_low, *h0_low; /* (layers) (T,B,in), (T,B,H), (B,H) */
    dnnl_memory_t h_last_low;              /* (B,H) dst_iter */
    dnnl_primitive_t h_to_f32, h0_to_low;
    float *h_last;      /* (B,H) dst_iter: h after step T, already in a->h[T] */
    float *zero_state;  /* (B,H) zeros: no gradient from beyond the chunk */
    size_t bytes;
} group;

enum { MAX_GROUPS = 64 };

struct crnn_dnnl_lstm {
    int groups;
    group *group[MAX_GROUPS]; /* run side by side, one thread each (groups > 1) */
    float *private_grads;     /* (groups-1, wx + wh + b of the widest layer): the weight
                                 gradients of groups 1.., added to charrnn's after */
    size_t grad_floats;       /* per group */
    size_t bytes;
};

const char *crnn_dnnl_description(void)
{
    static char desc[96];
    static const struct {
        dnnl_cpu_isa_t isa;
        const char *name;
    } isas[] = {{dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"},
                {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
                {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"},
                {dnnl_cpu_isa_avx512_core, "avx512_core"},
                {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"},
                {dnnl_cpu_isa_avx2, "avx2"},
                {dnnl_cpu_isa_avx, "avx"},
                {dnnl_cpu_isa_sse41, "sse41"}};
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const char *name = "generic";
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++)
        if ((isa & isas[i].isa) == isas[i].isa) {
            name = isas[i].name;
            break;
        }
    const dnnl_version_t *v = dnnl_version();
    snprintf(desc, sizeof desc, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch, name);
    return desc;
}

static int dnnl_failed(crnn_error *err, dnnl_status_t s, const char *what)
{
    if (s == dnnl_out_of_memory)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for oneDNN's %s", what);
    return crnn_fail(err, CRNN_ERR_ARG, "oneDNN refused the %s (status %d)", what, (int)s);
}

#define TRY(call, what)                                                                            \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success) {                                                                  \
            dnnl_failed(err, s_, what);                                                            \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

static dnnl_memory_desc_t typed_md(int ndims, const dnnl_dims_t dims, dnnl_data_type_t type,
                                   dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    dnnl_memory_desc_init_by_tag(&md, ndims, dims, type, tag);
    return md;
}

static dnnl_memory_desc_t plain_md(int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag)
{
    return typed_md(ndims, dims, dnnl_f32, tag);
}

/* A group's rows of one of charrnn's f32 buffers: (T, rows, width) in steps
 * of all_rows * width, or a state (1, 1, rows, width). */
static dnnl_memory_desc_t rows_md(const group *e, int state, dnnl_dim_t width)
{
    dnnl_memory_desc_t md;
    dnnl_dim_t all = (dnnl_dim_t)e->all_rows * width;
    if (state) {
        dnnl_dims_t dims = {1, 1, e->rows, width}, strides = {all, all, width, 1};
        dnnl_memory_desc_init_by_strides(&md, 4, dims, dnnl_f32, strides);
    } else {
        dnnl_dims_t dims = {e->steps, e->rows, width}, strides = {all, width, 1};
        dnnl_memory_desc_init_by_strides(&md, 3, dims, dnnl_f32, strides);
    }
    return md;
}

/* A memory object over a buffer charrnn owns (the pointer is set before use). */
static dnnl_status_t view(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t eng)
{
    return dnnl_memory_create(m, md, eng, DNNL_MEMORY_NONE);
}

/* Memory the engine owns; when only estimating, just counted. */
static dnnl_status_t owned(group *e, dnnl_memory_t *m, const dnnl_memory_desc_t *md)
{
    e->bytes += dnnl_memory_desc_get_size(md);
    return e->estimate ? dnnl_success : dnnl_memory_create(m, md, e->engine, DNNL_MEMORY_ALLOCATE);
}

/* The primitive of pd (consumed); when only estimating, none. */
static dnnl_status_t make_primitive(group *e, dnnl_primitive_t *p, dnnl_primitive_desc_t pd)
{
    dnnl_status_t s = e->estimate ? dnnl_success : dnnl_primitive_create(p, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static size_t scratch_of(const_dnnl_primitive_desc_t pd)
{
    return dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
}

static dnnl_status_t make_reorder(group *e, dnnl_primitive_t *p,
                                  const dnnl_memory_desc_t *from,
                                  const dnnl_memory_desc_t *to, dnnl_engine_t eng,
                                  const_dnnl_primitive_attr_t attr, size_t *scratch)
{
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, attr);
    if (s != dnnl_success)
        return s;
    size_t need = scratch_of(pd);
    if (need > *scratch)
        *scratch = need;
    return make_primitive(e, p, pd);
}

/* The forward-training and backward primitives for one input width. */
static int make_part(group *e, dnnl_part *p, int in, const_dnnl_primitive_attr_t attr,
                     size_t *scratch, crnn_error *err)
{
    dnnl_engine_t eng = e->engine;
    dnnl_dim_t T = e->steps, B = e->rows, H = e->hidden;
    dnnl_dims_t src_dims = {T, B, in}, dst_dims = {T, B, H}, iter_dims = {1, 1, B, H};
    dnnl_dims_t wl_dims = {1, 1, in, 4, H}, wi_dims = {1, 1, H, 4, H}, bias_dims = {1, 1, 4, H};
    /* What the products read: f32, or bf16; the cell state, bias and every
     * gradient stay f32 (oneDNN's bf16 training). */
    dnnl_data_type_t low = e->bf16 ? dnnl_bf16 : dnnl_f32;
    /* charrnn's buffers (this group's rows), and oneDNN's own dense ones. */
    dnnl_memory_desc_t src = rows_md(e, 0, in), dst = rows_md(e, 0, H), iter = rows_md(e, 1, H);
    dnnl_memory_desc_t iter_dense = plain_md(4, iter_dims, dnnl_ldnc);
    dnnl_memory_desc_t src_low = typed_md(3, src_dims, low, dnnl_tnc);
    dnnl_memory_desc_t dst_low = typed_md(3, dst_dims, low, dnnl_tnc);
    dnnl_memory_desc_t iter_low = typed_md(4, iter_dims, low, dnnl_ldnc);
    /* What the primitives read and write: charrnn's f32 buffers, or in bf16
     * the engine's copies; h after the last step goes to a buffer of ours. */
    dnnl_memory_desc_t src_p = e->bf16 ? src_low : src, dst_p = e->bf16 ? dst_low : dst;
    dnnl_memory_desc_t iter_p = e->bf16 ? iter_low : iter, last_p = iter_low;
    dnnl_memory_desc_t bias = plain_md(4, bias_dims, dnnl_ldgo);
    dnnl_memory_desc_t wl_user = plain_md(5, wl_dims, dnnl_ldigo);
    dnnl_memory_desc_t wi_user = plain_md(5, wi_dims, dnnl_ldigo);
    dnnl_memory_desc_t wl_any = typed_md(5, wl_dims, low, dnnl_format_tag_any);
    dnnl_memory_desc_t wi_any = typed_md(5, wi_dims, low, dnnl_format_tag_any);
    dnnl_primitive_desc_t fwd_pd = NULL, bwd_pd = NULL;
    dnnl_rnn_desc_t fd, bd;
    p->in = in;
    TRY(dnnl_lstm_forward_desc_init(&fd, dnnl_forward_training, dnnl_unidirectional_left2right,
                                    &src_p, &iter_p, &iter, &wl_any, &wi_any, &bias, &dst_p,
                                    &last_p, &iter, 0),
        "LSTM forward");
    TRY(dnnl_primitive_desc_create(&fwd_pd, &fd, attr, eng, NULL), "LSTM forward");
    /* The weight gradients in charrnn's own layout, so they land in its array. */
    TRY(dnnl_lstm_backward_desc_init(&bd, dnnl_backward, dnnl_unidirectional_left2right, &src_p,
                                     &iter_p, &iter, &wl_any, &wi_any, &bias, &dst_p, &last_p,
                                     &iter, &src, &iter, &iter, &wl_user, &wi_user, &bias, &dst,
                                     &iter_dense, &iter_dense, 0),
        "LSTM backward");
    TRY(dnnl_primitive_desc_create(&bwd_pd, &bd, attr, eng, fwd_pd), "LSTM backward");
    size_t need = scratch_of(fwd_pd) > scratch_of(bwd_pd) ? scratch_of(fwd_pd) : scratch_of(bwd_pd);
    if (need > *scratch)
        *scratch = need;
    p->ws_md = *dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_workspace_md, 0);
    p->x_low_md = src_low;
    if (e->bf16)
        TRY(make_reorder(e, &p->x_to_low, &src, &src_low, eng, attr, scratch), "input reorder");
    const dnnl_memory_desc_t *fwd_wl = dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *fwd_wi = dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_weights_md, 1);
    const dnnl_memory_desc_t *bwd_wl = dnnl_primitive_desc_query_md(bwd_pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *bwd_wi = dnnl_primitive_desc_query_md(bwd_pd, dnnl_query_weights_md, 1);
    TRY(owned(e, &p->fwd_wl, fwd_wl), "weights");
    TRY(owned(e, &p->fwd_wi, fwd_wi), "weights");
    TRY(owned(e, &p->bwd_wl, bwd_wl), "weights");
    TRY(owned(e, &p->bwd_wi, bwd_wi), "weights");
    TRY(view(&p->user_wl, &wl_user, eng), "weights");
    TRY(view(&p->user_wi, &wi_user, eng), "weights");
    TRY(view(&p->diff_wl, &wl_user, eng), "weights");
    TRY(view(&p->diff_wi, &wi_user, eng), "weights");
    TRY(view(&p->src_layer, &src, eng), "input");
    TRY(view(&p->diff_src_layer, &src, eng), "input");
    TRY(make_reorder(e, &p->to_fwd_wl, &wl_user, fwd_wl, eng, attr, scratch), "weight reorder");
    TRY(make_reorder(e, &p->to_fwd_wi, &wi_user, fwd_wi, eng, attr, scratch), "weight reorder");
    TRY(make_reorder(e, &p->to_bwd_wl, &wl_user, bwd_wl, eng, attr, scratch), "weight reorder");
    TRY(make_reorder(e, &p->to_bwd_wi, &wi_user, bwd_wi, eng, attr, scratch), "weight reorder");
    dnnl_status_t s = make_primitive(e, &p->fwd, fwd_pd);
    fwd_pd = NULL;
    TRY(s, "LSTM forward");
    s = make_primitive(e, &p->bwd, bwd_pd);
    bwd_pd = NULL;
    TRY(s, "LSTM backward");
    return CRNN_OK;
fail:
    if (fwd_pd)
        dnnl_primitive_desc_destroy(fwd_pd);
    if (bwd_pd)
        dnnl_primitive_desc_destroy(bwd_pd);
    return err ? err->status : CRNN_ERR_ARG;
}

static void group_free(group *e);

static group *build(int layers, int embed, int hidden, int rows, int steps, int bf16,
                    int row0, int all_rows, int estimate, crnn_error *err)
{
    group *e = crnn_calloc(1, sizeof *e);
    dnnl_primitive_attr_t attr = NULL;
    if (!e || !(e->workspace = crnn_calloc((size_t)layers, sizeof *e->workspace)) ||
        !(e->x_low = crnn_calloc((size_t)layers, sizeof *e->x_low)) ||
        !(e->h_low = crnn_calloc((size_t)layers, sizeof *e->h_low)) ||
        !(e->h0_low = crnn_calloc((size_t)layers, sizeof *e->h0_low))) {
        group_free(e); /* layers is still 0: frees only the arrays */
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the oneDNN engine");
        return NULL;
    }
    e->layers = layers, e->rows = rows, e->steps = steps, e->hidden = hidden, e->bf16 = bf16;
    e->estimate = estimate, e->row0 = row0, e->all_rows = all_rows;
    size_t bh = (size_t)rows * hidden, scratch = 0;
    TRY(dnnl_engine_create(&e->engine, dnnl_cpu, 0), "CPU engine");
    TRY(dnnl_stream_create(&e->stream, e->engine, dnnl_stream_default_flags), "stream");
    /* The scratchpad is ours: allocated once here, shared by every primitive. */
    TRY(dnnl_primitive_attr_create(&attr), "attributes");
    TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "attributes");
    if (make_part(e, &e->part[0], embed, attr, &scratch, err) != CRNN_OK)
        goto fail;
    if (layers > 1 && make_part(e, &e->part[1], hidden, attr, &scratch, err) != CRNN_OK)
        goto fail;
    for (int l = 0; l < layers; l++)
        TRY(owned(e, &e->workspace[l], &e->part[l > 0].ws_md), "workspace");
    dnnl_dim_t T = steps, B = rows, H = hidden;
    dnnl_dims_t dst_dims = {T, B, H}, iter_dims = {1, 1, B, H}, bias_dims = {1, 1, 4, H};
    dnnl_memory_desc_t dst = rows_md(e, 0, H), iter = rows_md(e, 1, H);
    dnnl_memory_desc_t iter_dense = plain_md(4, iter_dims, dnnl_ldnc);
    dnnl_memory_desc_t bias = plain_md(4, bias_dims, dnnl_ldgo);
    dnnl_memory_t *iters[] = {&e->src_iter,      &e->src_iter_c,    &e->dst_iter_c,
                              &e->diff_src_iter, &e->diff_src_iter_c};
    for (size_t i = 0; i < sizeof iters / sizeof *iters; i++)
        TRY(view(iters[i], &iter, e->engine), "state");
    dnnl_memory_t *dense[] = {&e->dst_iter, &e->diff_dst_iter, &e->diff_dst_iter_c};
    for (size_t i = 0; i < sizeof dense / sizeof *dense; i++)
        TRY(view(dense[i], &iter_dense, e->engine), "state");
    TRY(view(&e->bias, &bias, e->engine), "bias");
    TRY(view(&e->diff_bias, &bias, e->engine), "bias");
    TRY(view(&e->dst_layer, &dst, e->engine), "output");
    TRY(view(&e->diff_dst_layer, &dst, e->engine), "output");
    if (bf16) {
        dnnl_memory_desc_t dst_low = typed_md(3, dst_dims, dnnl_bf16, dnnl_tnc);
        dnnl_memory_desc_t iter_low = typed_md(4, iter_dims, dnnl_bf16, dnnl_ldnc);
        for (int l = 0; l < layers; l++) {
            TRY(owned(e, &e->x_low[l], &e->part[l > 0].x_low_md), "bf16 input");
            TRY(owned(e, &e->h_low[l], &dst_low), "bf16 output");
            TRY(owned(e, &e->h0_low[l], &iter_low), "bf16 state");
        }
        TRY(owned(e, &e->h_last_low, &iter_low), "bf16 state");
        TRY(make_reorder(e, &e->h_to_f32, &dst_low, &dst, e->engine, attr, &scratch), "output reorder");
        TRY(make_reorder(e, &e->h0_to_low, &iter, &iter_low, e->engine, attr, &scratch),
            "state reorder");
    }
    dnnl_dims_t sp_dims = {(dnnl_dim_t)(scratch / sizeof(float) + 1)};
    dnnl_memory_desc_t sp = plain_md(1, sp_dims, dnnl_a);
    TRY(owned(e, &e->scratchpad, &sp), "scratchpad");
    if (!(e->h_last = crnn_alloc_floats(bh)) || !(e->zero_state = crnn_calloc(bh, sizeof(float)))) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the oneDNN engine");
        goto fail;
    }
    e->bytes += 2 * bh * sizeof(float);
    dnnl_primitive_attr_destroy(attr);
    return e;
fail:
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    group_free(e);
    return NULL;
}

/* How many groups of rows run side by side. oneDNN threads each time step of
 * a layer and meets at a barrier after it; on small layers that barrier is
 * most of the cost, and one group of rows per thread, each on one thread,
 * never meets: 2 x 128 at B50 went from 83k to 96k chars/s on 2 threads. On
 * wide layers the steps thread well and single-threaded kernels on half the
 * rows do worse (2 x 512: 9.7k -> 7.2k; 2 x 256: even), so groups only where
 * one step's recurrent product, rows x H x 4H, is under 8 M multiply-adds,
 * with at least MIN_GROUP_ROWS rows each. forced >= 1 forces that many
 * (benchmarks, tests; the CLI reads CHARRNN_ONEDNN_GROUPS). */
enum { MIN_GROUP_ROWS = 16 };
#define MAX_STEP_WORK 8e6

static int group_count(int rows, int hidden, int forced)
{
    if (forced >= 1) {
        int n = forced < MAX_GROUPS ? forced : MAX_GROUPS;
        return n <= rows ? n : rows;
    }
    int threads = omp_get_max_threads();
    threads = threads < MAX_GROUPS ? threads : MAX_GROUPS;
    int small = (double)rows * hidden * 4.0 * hidden < MAX_STEP_WORK;
    return threads > 1 && small && rows / threads >= MIN_GROUP_ROWS ? threads : 1;
}

static crnn_dnnl_lstm *build_all(int layers, int embed, int hidden, int rows, int steps, int bf16,
                                 int groups, int estimate, crnn_error *err)
{
    crnn_dnnl_lstm *e = crnn_calloc(1, sizeof *e);
    if (!e) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the oneDNN engine");
        return NULL;
    }
    e->groups = group_count(rows, hidden, groups);
    for (int k = 0; k < e->groups; k++) {
        int row0 = (int)((int64_t)rows * k / e->groups);
        int n = (int)((int64_t)rows * (k + 1) / e->groups) - row0;
        if (!(e->group[k] = build(layers, embed, hidden, n, steps, bf16, row0, rows, estimate, err))) {
            crnn_dnnl_lstm_free(e);
            return NULL;
        }
        e->bytes += e->group[k]->bytes;
    }
    int in_max = embed > hidden ? embed : hidden;
    e->grad_floats = (size_t)(in_max + hidden + 1) * 4 * hidden;
    size_t private = (size_t)(e->groups - 1) * e->grad_floats;
    e->bytes += private * sizeof(float);
    if (private && !estimate && !(e->private_grads = crnn_alloc_floats(private))) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the oneDNN engine");
        crnn_dnnl_lstm_free(e);
        return NULL;
    }
    return e;
}

crnn_dnnl_lstm *crnn_dnnl_lstm_create(int layers, int embed, int hidden, int rows, int steps,
                                      int bf16, int groups, crnn_error *err)
{
    return build_all(layers, embed, hidden, rows, steps, bf16, groups, 0, err);
}

size_t crnn_dnnl_lstm_estimate(int layers, int embed, int hidden, int rows, int steps, int bf16,
                               int groups)
{
    crnn_dnnl_lstm *e = build_all(layers, embed, hidden, rows, steps, bf16, groups, 1, NULL);
    size_t bytes = e ? e->bytes : 0;
    crnn_dnnl_lstm_free(e);
    return bytes;
}

static void destroy_memory(dnnl_memory_t m)
{
    if (m)
        dnnl_memory_destroy(m);
}

static void destroy_primitive(dnnl_primitive_t p)
{
    if (p)
        dnnl_primitive_destroy(p);
}

static void group_free(group *e)
{
    if (!e)
        return;
    for (int w = 0; w < WIDTHS; w++) {
        dnnl_part *p = &e->part[w];
        dnnl_primitive_t prims[] = {p->fwd,       p->bwd,       p->to_fwd_wl, p->to_fwd_wi,
                                    p->to_bwd_wl, p->to_bwd_wi, p->x_to_low};
        for (size_t i = 0; i < sizeof prims / sizeof *prims; i++)
            destroy_primitive(prims[i]);
        dnnl_memory_t mems[] = {p->fwd_wl,  p->fwd_wi,  p->bwd_wl,    p->bwd_wi,
                                p->user_wl, p->user_wi, p->diff_wl,   p->diff_wi,
                                p->src_layer, p->diff_src_layer};
        for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
            destroy_memory(mems[i]);
    }
    for (int l = 0; l < e->layers; l++) {
        destroy_memory(e->workspace ? e->workspace[l] : NULL);
        destroy_memory(e->x_low ? e->x_low[l] : NULL);
        destroy_memory(e->h_low ? e->h_low[l] : NULL);
        destroy_memory(e->h0_low ? e->h0_low[l] : NULL);
    }
    destroy_memory(e->h_last_low);
    destroy_primitive(e->h_to_f32);
    destroy_primitive(e->h0_to_low);
    dnnl_memory_t mems[] = {e->scratchpad,     e->src_iter,       e->src_iter_c,
                            e->bias,           e->dst_layer,      e->dst_iter,
                            e->dst_iter_c,     e->diff_src_iter,  e->diff_src_iter_c,
                            e->diff_bias,      e->diff_dst_layer, e->diff_dst_iter,
                            e->diff_dst_iter_c};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        destroy_memory(mems[i]);
    if (e->stream)
        dnnl_stream_destroy(e->stream);
    if (e->engine)
        dnnl_engine_destroy(e->engine);
    crnn_free_floats(e->h_last);
    free(e->zero_state);
    free(e->workspace);
    free(e->x_low);
    free(e->h_low);
    free(e->h0_low);
    free(e);
}

void crnn_dnnl_lstm_free(crnn_dnnl_lstm *e)
{
    if (!e)
        return;
    for (int k = 0; k < e->groups; k++)
        group_free(e->group[k]);
    crnn_free_floats(e->private_grads);
    free(e);
}

int crnn_dnnl_lstm_groups(const crnn_dnnl_lstm *e)
{
    return e->groups;
}

size_t crnn_dnnl_lstm_bytes(const crnn_dnnl_lstm *e)
{
    return e->bytes;
}

/* Points a view at a buffer of charrnn's (oneDNN does not write the const ones). */
static dnnl_status_t point(dnnl_memory_t m, const float *p)
{
    return dnnl_memory_set_data_handle(m, (void *)p);
}

static dnnl_status_t run(group *e, dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args)
{
    return dnnl_primitive_execute(prim, e->stream, n, args);
}

static dnnl_status_t reorder(group *e, dnnl_primitive_t prim, dnnl_memory_t from,
                             dnnl_memory_t to)
{
    dnnl_exec_arg_t args[] = {
        {DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, e->scratchpad}};
    return run(e, prim, 3, args);
}

/* Points the views every pass shares at layer l's buffers. */
static dnnl_status_t point_common(group *e, dnnl_part *p, const crnn_layer_weights *w,
                                  const crnn_layer_acts *a)
{
    size_t bh = (size_t)a->rows * a->hidden, r = (size_t)e->row0 * a->hidden;
    dnnl_status_t s;
    if ((s = point(p->src_layer, a->x + (size_t)e->row0 * a->in)) ||
        (s = point(p->user_wl, w->wx)) || (s = point(p->user_wi, w->wh)) ||
        (s = point(e->bias, w->b)) || (s = point(e->src_iter, a->h + r)) ||
        (s = point(e->src_iter_c, a->c + r)) || (s = point(e->dst_layer, a->h + bh + r)) ||
        (s = point(e->dst_iter, e->h_last)) || (s = point(e->dst_iter_c, a->c + bh + r)))
        return s;
    return dnnl_success;
}

static int check_shape(const group *e, int l, const crnn_layer_acts *a)
{
    return l >= 0 && l < e->layers && a->rows == e->all_rows && a->steps == e->steps &&
           a->hidden == e->hidden && a->in == e->part[l > 0].in;
}

/* What oneDNN reads and writes for layer l's sequences and h: charrnn's own
 * f32 buffers (the views), or in bf16 the engine's per-layer copies. */
typedef struct layer_io {
    dnnl_memory_t src, src_iter, dst, dst_iter;
} layer_io;

static layer_io io_of(const group *e, const dnnl_part *p, int l)
{
    if (e->bf16)
        return (layer_io){e->x_low[l], e->h0_low[l], e->h_low[l], e->h_last_low};
    return (layer_io){p->src_layer, e->src_iter, e->dst_layer, e->dst_iter};
}

static int group_forward(group *e, int l, const crnn_layer_weights *w, crnn_layer_acts *a)
{
    if (!check_shape(e, l, a))
        return CRNN_ERR_ARG;
    dnnl_part *p = &e->part[l > 0];
    layer_io io = io_of(e, p, l);
    dnnl_exec_arg_t args[] = {
        {DNNL_ARG_SRC_LAYER, io.src},         {DNNL_ARG_SRC_ITER, io.src_iter},
        {DNNL_ARG_SRC_ITER_C, e->src_iter_c}, {DNNL_ARG_WEIGHTS_LAYER, p->fwd_wl},
        {DNNL_ARG_WEIGHTS_ITER, p->fwd_wi},   {DNNL_ARG_BIAS, e->bias},
        {DNNL_ARG_DST_LAYER, io.dst},         {DNNL_ARG_DST_ITER, io.dst_iter},
        {DNNL_ARG_DST_ITER_C, e->dst_iter_c}, {DNNL_ARG_WORKSPACE, e->workspace[l]},
        {DNNL_ARG_SCRATCHPAD, e->scratchpad}};
    /* The weights changed since the last step: reorder them first. */
    if (point_common(e, p, w, a) || reorder(e, p->to_fwd_wl, p->user_wl, p->fwd_wl) ||
        reorder(e, p->to_fwd_wi, p->user_wi, p->fwd_wi))
        return CRNN_ERR_ARG;
    if (e->bf16 && (reorder(e, p->x_to_low, p->src_layer, io.src) ||
                    reorder(e, e->h0_to_low, e->src_iter, io.src_iter)))
        return CRNN_ERR_ARG;
    if (run(e, p->fwd, (int)(sizeof args / sizeof *args), args))
        return CRNN_ERR_ARG;
    if (e->bf16 && reorder(e, e->h_to_f32, io.dst, e->dst_layer)) /* h for the model, in f32 */
        return CRNN_ERR_ARG;
    return dnnl_stream_wait(e->stream) == dnnl_success ? CRNN_OK : CRNN_ERR_ARG;
}

static int group_backward(group *e, int l, const crnn_layer_weights *w, crnn_layer_grads *g,
                          crnn_layer_acts *a, crnn_layer_backward *bw)
{
    if (!check_shape(e, l, a) || !bw->dx)
        return CRNN_ERR_ARG;
    dnnl_part *p = &e->part[l > 0];
    layer_io io = io_of(e, p, l);
    dnnl_exec_arg_t args[] = {
        {DNNL_ARG_SRC_LAYER, io.src},
        {DNNL_ARG_SRC_ITER, io.src_iter},
        {DNNL_ARG_SRC_ITER_C, e->src_iter_c},
        {DNNL_ARG_WEIGHTS_LAYER, p->bwd_wl},
        {DNNL_ARG_WEIGHTS_ITER, p->bwd_wi},
        {DNNL_ARG_BIAS, e->bias},
        {DNNL_ARG_DST_LAYER, io.dst},
        {DNNL_ARG_DST_ITER, io.dst_iter},
        {DNNL_ARG_DST_ITER_C, e->dst_iter_c},
        {DNNL_ARG_WORKSPACE, e->workspace[l]},
        {DNNL_ARG_DIFF_SRC_LAYER, p->diff_src_layer},
        {DNNL_ARG_DIFF_SRC_ITER, e->diff_src_iter},
        {DNNL_ARG_DIFF_SRC_ITER_C, e->diff_src_iter_c},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, p->diff_wl},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, p->diff_wi},
        {DNNL_ARG_DIFF_BIAS, e->diff_bias},
        {DNNL_ARG_DIFF_DST_LAYER, e->diff_dst_layer},
        {DNNL_ARG_DIFF_DST_ITER, e->diff_dst_iter},
        {DNNL_ARG_DIFF_DST_ITER_C, e->diff_dst_iter_c},
        {DNNL_ARG_SCRATCHPAD, e->scratchpad}};
    size_t r = (size_t)e->row0 * a->hidden;
    if (point_common(e, p, w, a) || point(p->diff_src_layer, bw->dx + (size_t)e->row0 * a->in) ||
        point(e->diff_src_iter, bw->dh0 + r) || point(e->diff_src_iter_c, bw->dc0 + r) ||
        point(p->diff_wl, g->wx) || point(p->diff_wi, g->wh) || point(e->diff_bias, g->b) ||
        point(e->diff_dst_layer, bw->dh + r) || point(e->diff_dst_iter, e->zero_state) ||
        point(e->diff_dst_iter_c, e->zero_state) ||
        reorder(e, p->to_bwd_wl, p->user_wl, p->bwd_wl) ||
        reorder(e, p->to_bwd_wi, p->user_wi, p->bwd_wi) ||
        run(e, p->bwd, (int)(sizeof args / sizeof *args), args) || dnnl_stream_wait(e->stream))
        return CRNN_ERR_ARG;
    return CRNN_OK;
}

int crnn_dnnl_lstm_forward(crnn_dnnl_lstm *e, int l, const crnn_layer_weights *w,
                           crnn_layer_acts *a)
{
    if (e->groups == 1)
        return group_forward(e->group[0], l, w, a);
    int failed = 0;
#pragma omp parallel for num_threads(e->groups) schedule(static, 1) reduction(| : failed)
    for (int k = 0; k < e->groups; k++)
        failed |= group_forward(e->group[k], l, w, a) != CRNN_OK;
    return failed ? CRNN_ERR_ARG : CRNN_OK;
}

int crnn_dnnl_lstm_backward(crnn_dnnl_lstm *e, int l, const crnn_layer_weights *w,
                            crnn_layer_grads *g, crnn_layer_acts *a, crnn_layer_backward *bw)
{
    if (e->groups == 1)
        return group_backward(e->group[0], l, w, g, a, bw);
    /* Group 0 accumulates into charrnn's gradients, the others into their own
     * (zeroed) buffers, added in group order afterwards: no two threads write
     * the same weight gradient, and the sum does not depend on timing. */
    size_t nx = (size_t)a->in * 4 * a->hidden, nh = (size_t)a->hidden * 4 * a->hidden;
    size_t nb = (size_t)4 * a->hidden;
    int failed = 0;
#pragma omp parallel for num_threads(e->groups) schedule(static, 1) reduction(| : failed)
    for (int k = 0; k < e->groups; k++) {
        crnn_layer_grads mine = *g;
        if (k > 0) {
            float *p = e->private_grads + (size_t)(k - 1) * e->grad_floats;
            memset(p, 0, sizeof(float) * (nx + nh + nb));
            mine = (crnn_layer_grads){p, p + nx, p + nx + nh};
        }
        failed |= group_backward(e->group[k], l, w, &mine, a, bw) != CRNN_OK;
    }
    for (int k = 1; k < e->groups; k++) {
        const float *p = e->private_grads + (size_t)(k - 1) * e->grad_floats;
        for (size_t i = 0; i < nx; i++)
            g->wx[i] += p[i];
        for (size_t i = 0; i < nh; i++)
            g->wh[i] += p[nx + i];
        for (size_t i = 0; i < nb; i++)
            g->b[i] += p[nx + nh + i];
    }
    return failed ? CRNN_ERR_ARG : CRNN_OK;
}
