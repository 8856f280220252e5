/*
 * dnnl_memory.c: where the oneDNN engine's memory goes, from oneDNN's own
 * descriptors for the primitives src/lstm_dnnl.c builds (one LSTM layer of
 * depth 1 per layer, forward training and backward, f32 or bf16): each
 * layer's workspace, the scratchpad the largest primitive needs, and the
 * weights reordered for the forward and the backward; then runs one layer
 * of the larger width forward and backward on buffers of its own and counts
 * the pages of each that were touched (mincore): what of oneDNN's sizes
 * becomes resident memory.
 * usage: build/bench/bench_dnnl_memory LAYERS EMBED HIDDEN BATCH STEPS [bf16]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.h>

#include "lstm_dnnl.h"

#define TRY(x)                                                                                \
    do {                                                                                      \
        dnnl_status_t s_ = (x);                                                               \
        if (s_ != dnnl_success) {                                                             \
            fprintf(stderr, "%s: status %d\n", #x, (int)s_);                                 \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

static dnnl_memory_desc_t md(int ndims, const dnnl_dim_t *dims, dnnl_data_type_t type,
                             dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t d;
    TRY(dnnl_memory_desc_init_by_tag(&d, ndims, dims, type, tag));
    return d;
}

static double mb(size_t bytes)
{
    return (double)bytes / 1e6;
}

/* A buffer of its own pages, none touched yet. */
static void *pages(size_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

/* Bytes of p's pages that are resident. */
static size_t resident(void *p, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (bytes + page - 1) / page, r = 0;
    unsigned char *v = malloc(n ? n : 1);
    if (mincore(p, bytes, v) != 0) {
        perror("mincore");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        r += v[i] & 1;
    free(v);
    return r * page;
}

static dnnl_memory_t mem(dnnl_engine_t eng, const dnnl_memory_desc_t *d, void **data)
{
    size_t bytes = dnnl_memory_desc_get_size(d);
    void *p = pages(bytes);
    dnnl_memory_t m;
    TRY(dnnl_memory_create(&m, d, eng, p));
    if (data)
        *data = p;
    return m;
}

/* One run of pd's forward and backward on fresh buffers: the touched bytes
 * of the workspace and of the scratchpad (forward, then forward and backward). */
static void touched(dnnl_engine_t eng, const_dnnl_primitive_desc_t fwd,
                    const_dnnl_primitive_desc_t bwd)
{
    dnnl_stream_t stream;
    TRY(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
    const dnnl_query_t q_src = dnnl_query_src_md, q_w = dnnl_query_weights_md,
                       q_dst = dnnl_query_dst_md, q_dsrc = dnnl_query_diff_src_md,
                       q_dw = dnnl_query_diff_weights_md, q_ddst = dnnl_query_diff_dst_md;
    dnnl_memory_t m[32];
    int args[32], n = 0;
    void *ws_p, *sp_p;
    size_t ws_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(fwd,
                                                 dnnl_query_workspace_md, 0));
    size_t sp_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(bwd,
                                                 dnnl_query_scratchpad_md, 0));
    size_t sp_fwd = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(fwd,
                                               dnnl_query_scratchpad_md, 0));
    if (sp_fwd > sp_bytes)
        sp_bytes = sp_fwd;
    dnnl_memory_desc_t sp_md;
    dnnl_dims_t sp_dims = {(dnnl_dim_t)sp_bytes};
    TRY(dnnl_memory_desc_init_by_tag(&sp_md, 1, sp_dims, dnnl_u8, dnnl_a));
    dnnl_memory_t ws = mem(eng, dnnl_primitive_desc_query_md(fwd, dnnl_query_workspace_md, 0),
                           &ws_p);
    dnnl_memory_t sp = mem(eng, &sp_md, &sp_p);
    /* Forward: src layer, iter, iter c; weights layer, iter, bias; dst layer, iter, iter c. */
    const int src_args[] = {DNNL_ARG_SRC_LAYER, DNNL_ARG_SRC_ITER, DNNL_ARG_SRC_ITER_C};
    const int w_args[] = {DNNL_ARG_WEIGHTS_LAYER, DNNL_ARG_WEIGHTS_ITER, DNNL_ARG_BIAS};
    const int dst_args[] = {DNNL_ARG_DST_LAYER, DNNL_ARG_DST_ITER, DNNL_ARG_DST_ITER_C};
    for (int i = 0; i < 3; i++) {
        void *p;
        m[n] = mem(eng, dnnl_primitive_desc_query_md(fwd, q_src, i), &p), args[n++] = src_args[i];
        memset(p, 0, dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(fwd, q_src, i)));
        m[n] = mem(eng, dnnl_primitive_desc_query_md(fwd, q_w, i), &p), args[n++] = w_args[i];
        memset(p, 0, dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(fwd, q_w, i)));
        m[n] = mem(eng, dnnl_primitive_desc_query_md(fwd, q_dst, i), NULL), args[n++] = dst_args[i];
    }
    m[n] = ws, args[n++] = DNNL_ARG_WORKSPACE;
    m[n] = sp, args[n++] = DNNL_ARG_SCRATCHPAD;
    dnnl_exec_arg_t exec[32];
    for (int i = 0; i < n; i++)
        exec[i] = (dnnl_exec_arg_t){args[i], m[i]};
    dnnl_primitive_t p_fwd, p_bwd;
    TRY(dnnl_primitive_create(&p_fwd, fwd));
    TRY(dnnl_primitive_execute(p_fwd, stream, n, exec));
    TRY(dnnl_stream_wait(stream));
    size_t ws_fwd = resident(ws_p, ws_bytes), sp_after_fwd = resident(sp_p, sp_bytes);
    /* Backward: the forward's tensors (weights in the backward's layout) and their gradients. */

    const int dsrc_args[] = {DNNL_ARG_DIFF_SRC_LAYER, DNNL_ARG_DIFF_SRC_ITER,
                             DNNL_ARG_DIFF_SRC_ITER_C};
    const int dw_args[] = {DNNL_ARG_DIFF_WEIGHTS_LAYER, DNNL_ARG_DIFF_WEIGHTS_ITER,
                           DNNL_ARG_DIFF_BIAS};
    const int ddst_args[] = {DNNL_ARG_DIFF_DST_LAYER, DNNL_ARG_DIFF_DST_ITER,
                             DNNL_ARG_DIFF_DST_ITER_C};
    for (int i = 0; i < 3; i++) {
        void *p;
        m[n] = mem(eng, dnnl_primitive_desc_query_md(bwd, q_dsrc, i), NULL), args[n++] = dsrc_args[i];
        m[n] = mem(eng, dnnl_primitive_desc_query_md(bwd, q_dw, i), NULL), args[n++] = dw_args[i];
        m[n] = mem(eng, dnnl_primitive_desc_query_md(bwd, q_ddst, i), &p), args[n++] = ddst_args[i];
        memset(p, 0, dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(bwd, q_ddst, i)));
    }

    for (int i = 0; i < n; i++)
        exec[i] = (dnnl_exec_arg_t){args[i], m[i]};
    /* The backward's weights layout may differ from the forward's. */
    for (int i = 0; i < 2; i++) {
        const dnnl_memory_desc_t *d = dnnl_primitive_desc_query_md(bwd, q_w, i);
        void *p;
        for (int j = 0; j < n; j++)
            if (args[j] == w_args[i]) {
                exec[j].memory = mem(eng, d, &p);
                memset(p, 0, dnnl_memory_desc_get_size(d));
            }
    }
    TRY(dnnl_primitive_create(&p_bwd, bwd));
    TRY(dnnl_primitive_execute(p_bwd, stream, n, exec));
    TRY(dnnl_stream_wait(stream));
    printf("one layer run: workspace touched %.1f MB by the forward, %.1f MB by both, of %.1f "
           "MB; scratchpad touched %.1f MB by the forward, %.1f MB by both, of %.1f MB\n",
           mb(ws_fwd), mb(resident(ws_p, ws_bytes)), mb(ws_bytes), mb(sp_after_fwd),
           mb(resident(sp_p, sp_bytes)), mb(sp_bytes));
    dnnl_primitive_destroy(p_fwd);
    dnnl_primitive_destroy(p_bwd);
    dnnl_stream_destroy(stream);
}

/* The sizes for one input width; *scratch grows to the largest scratchpad. */
static void width(dnnl_engine_t eng, int in, int hidden, int batch, int steps, int bf16,
                  size_t *ws, size_t *weights, size_t *scratch_fwd, size_t *scratch_bwd,
                  int run)
{
    dnnl_dim_t T = steps, B = batch, H = hidden;
    dnnl_dim_t src_dims[] = {T, B, in}, dst_dims[] = {T, B, H}, iter_dims[] = {1, 1, B, H};
    dnnl_dim_t wl_dims[] = {1, 1, in, 4, H}, wi_dims[] = {1, 1, H, 4, H};
    dnnl_dim_t bias_dims[] = {1, 1, 4, H};
    dnnl_data_type_t low = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src = md(3, src_dims, low, dnnl_tnc), dst = md(3, dst_dims, low, dnnl_tnc);
    dnnl_memory_desc_t iter = md(4, iter_dims, low, dnnl_ldnc);
    dnnl_memory_desc_t iter_c = md(4, iter_dims, dnnl_f32, dnnl_ldnc);
    dnnl_memory_desc_t bias = md(4, bias_dims, dnnl_f32, dnnl_ldgo);
    dnnl_memory_desc_t wl_any = md(5, wl_dims, low, dnnl_format_tag_any);
    dnnl_memory_desc_t wi_any = md(5, wi_dims, low, dnnl_format_tag_any);
    dnnl_memory_desc_t wl_user = md(5, wl_dims, dnnl_f32, dnnl_ldigo);
    dnnl_memory_desc_t wi_user = md(5, wi_dims, dnnl_f32, dnnl_ldigo);
    dnnl_memory_desc_t src_f = md(3, src_dims, dnnl_f32, dnnl_tnc);
    dnnl_memory_desc_t dst_f = md(3, dst_dims, dnnl_f32, dnnl_tnc);
    dnnl_memory_desc_t iter_f = md(4, iter_dims, dnnl_f32, dnnl_ldnc);
    dnnl_primitive_attr_t attr;
    TRY(dnnl_primitive_attr_create(&attr));
    TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    dnnl_rnn_desc_t fd, bd;
    TRY(dnnl_lstm_forward_desc_init(&fd, dnnl_forward_training, dnnl_unidirectional_left2right,
                                    &src, &iter, &iter_c, &wl_any, &wi_any, &bias, &dst, &iter,
                                    &iter_c, 0));
    dnnl_primitive_desc_t fwd, bwd;
    TRY(dnnl_primitive_desc_create(&fwd, &fd, attr, eng, NULL));
    TRY(dnnl_lstm_backward_desc_init(&bd, dnnl_backward, dnnl_unidirectional_left2right, &src,
                                     &iter, &iter_c, &wl_any, &wi_any, &bias, &dst, &iter, &iter_c,
                                     &src_f, &iter_f, &iter_f, &wl_user, &wi_user, &bias, &dst_f,
                                     &iter_f, &iter_f, 0));
    TRY(dnnl_primitive_desc_create(&bwd, &bd, attr, eng, fwd));
    *ws = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(fwd, dnnl_query_workspace_md, 0));
    *weights = 0;
    for (int i = 0; i < 2; i++) {
        *weights += dnnl_memory_desc_get_size(
            dnnl_primitive_desc_query_md(fwd, dnnl_query_weights_md, i));
        *weights += dnnl_memory_desc_get_size(
            dnnl_primitive_desc_query_md(bwd, dnnl_query_weights_md, i));
    }
    *scratch_fwd = dnnl_memory_desc_get_size(
        dnnl_primitive_desc_query_md(fwd, dnnl_query_scratchpad_md, 0));
    *scratch_bwd = dnnl_memory_desc_get_size(
        dnnl_primitive_desc_query_md(bwd, dnnl_query_scratchpad_md, 0));
    if (run)
        touched(eng, fwd, bwd);
    dnnl_primitive_desc_destroy(fwd);
    dnnl_primitive_desc_destroy(bwd);
    dnnl_primitive_attr_destroy(attr);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s LAYERS EMBED HIDDEN BATCH STEPS [bf16]\n", argv[0]);
        return 2;
    }
    int layers = atoi(argv[1]), embed = atoi(argv[2]), hidden = atoi(argv[3]);
    int batch = atoi(argv[4]), steps = atoi(argv[5]), bf16 = argc > 6 && !strcmp(argv[6], "bf16");
    dnnl_engine_t eng;
    TRY(dnnl_engine_create(&eng, dnnl_cpu, 0));
    size_t ws[2], w[2], sf[2], sb[2];
    width(eng, embed, hidden, batch, steps, bf16, &ws[0], &w[0], &sf[0], &sb[0], 0);
    width(eng, hidden, hidden, batch, steps, bf16, &ws[1], &w[1], &sf[1], &sb[1], 1);
    size_t row_steps = (size_t)batch * steps, all_ws = ws[0] + (size_t)(layers - 1) * ws[1];
    size_t scratch = sf[0];
    for (int i = 0; i < 2; i++) {
        scratch = sf[i] > scratch ? sf[i] : scratch;
        scratch = sb[i] > scratch ? sb[i] : scratch;
    }
    size_t weights = w[0] + (layers > 1 ? w[1] : 0);
    printf("%d x %d LSTM, embedding %d, batch %d x %d, %s\n", layers, hidden, embed, batch, steps,
           bf16 ? "bf16" : "f32");
    printf("workspace per layer: %.1f MB (first), %.1f MB (others): %.2f H floats per row-step\n",
           mb(ws[0]), mb(ws[1]), (double)ws[1] / 4.0 / (double)row_steps / hidden);
    printf("workspaces, all layers: %.1f MB\n", mb(all_ws));
    printf("scratchpad: forward %.1f / %.1f MB, backward %.1f / %.1f MB (first / others); "
           "shared: %.1f MB = %.2f H floats per row-step\n",
           mb(sf[0]), mb(sf[1]), mb(sb[0]), mb(sb[1]), mb(scratch),
           (double)scratch / 4.0 / (double)row_steps / hidden);
    printf("reordered weights (forward and backward copies): %.1f MB\n", mb(weights));
    printf("total: %.1f MB; the engine's own estimate (src/lstm_dnnl.c): %.1f MB\n",
           mb(all_ws + scratch + weights),
           mb(crnn_dnnl_lstm_estimate(layers, embed, hidden, batch, steps, bf16, 1)));
    dnnl_engine_destroy(eng);
    return 0;
}
