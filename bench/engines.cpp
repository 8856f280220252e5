// engines.cpp: issue 5's engine comparison. One training chunk of the stacked
// LSTM (forward over T steps, then backward through all layers) with charrnn's
// cells (OpenBLAS products + fused gate loops) and with oneDNN's LSTM forward-
// training and backward primitives, on the configurations. oneDNN
// wants its weights in its own layouts: as in a training loop, where the
// weights change every step, the reorders into them are timed too.
// usage: build/bench/bench_engines [REPEATS]      (medians of REPEATS, default 7)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

extern "C" {
#include "cell.h"
#include "charrnn.h"
}

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

struct config {
    const char *name;
    int L, H, E, B, T;
};

static double seconds()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static void fill(std::vector<float> &v, float scale)
{
    unsigned x = 12345;
    for (auto &f : v) {
        x = x * 1664525u + 1013904223u;
        f = scale * ((float)(x >> 8) / 16777216.0f - 0.5f);
    }
}

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// charrnn: each layer's forward, then each layer's backward, as model.c runs them.
static double charrnn_chunk(const config &c, int repeats)
{
    int G = 4 * c.H;
    std::vector<std::vector<float>> wx(c.L), wh(c.L), b(c.L), gwx(c.L), gwh(c.L), gb(c.L);
    std::vector<std::vector<float>> gates(c.L), h(c.L), cs(c.L), aux(c.L);
    for (int l = 0; l < c.L; l++) {
        int in = l ? c.H : c.E;
        wx[l].resize((size_t)in * G), wh[l].resize((size_t)c.H * G), b[l].resize(G);
        gwx[l].resize(wx[l].size()), gwh[l].resize(wh[l].size()), gb[l].resize(G);
        fill(wx[l], 0.1f), fill(wh[l], 0.1f), fill(b[l], 0.1f);
        gates[l].resize((size_t)c.T * c.B * G);
        h[l].resize((size_t)(c.T + 1) * c.B * c.H), cs[l].resize(h[l].size());
        aux[l].resize((size_t)c.T * c.B * c.H);
    }
    std::vector<float> x((size_t)c.T * c.B * c.E), scratch((size_t)c.B * G);
    std::vector<float> dh((size_t)c.T * c.B * c.H), dtop(dh.size()), dgates(gates[0].size()),
        dgates2(gates[0].size()), dx((size_t)c.T * c.B * std::max(c.E, c.H)), dh0((size_t)c.B * c.H),
        dc0(dh0.size());
    fill(x, 1.0f), fill(dtop, 0.01f);
    std::vector<double> times;
    for (int r = 0; r < repeats + 1; r++) {
        double t0 = seconds();
        std::vector<crnn_layer_acts> acts(c.L);
        for (int l = 0; l < c.L; l++) {
            acts[l] = {c.B, c.T, l ? c.H : c.E, c.H, scratch.data(),
                       l ? h[l - 1].data() + (size_t)c.B * c.H : x.data(), gates[l].data(),
                       h[l].data(), cs[l].data(), aux[l].data()};
            crnn_layer_weights w = {wx[l].data(), wh[l].data(), b[l].data()};
            crnn_cell_lstm.forward(&w, &acts[l]);
        }
        std::copy(dtop.begin(), dtop.end(), dh.begin());
        for (int l = c.L - 1; l >= 0; l--) {
            crnn_layer_weights w = {wx[l].data(), wh[l].data(), b[l].data()};
            crnn_layer_grads g = {gwx[l].data(), gwh[l].data(), gb[l].data()};
            crnn_layer_backward bw = {dh.data(), dgates.data(), dgates2.data(),
                                      l ? dx.data() : nullptr, dh0.data(), dc0.data()};
            crnn_cell_lstm.backward(&w, &g, &acts[l], &bw);
            if (l)
                std::copy(dx.begin(), dx.begin() + (long)c.T * c.B * c.H, dh.begin());
        }
        if (r) // the first run warms up
            times.push_back(seconds() - t0);
    }
    return median(times);
}

// oneDNN: layer 0 (E -> H) and layers 1..L-1 (H -> H) as two primitives (its
// multi-layer primitive needs the same width in and out).
struct dnnl_stack {
    engine eng;
    stream s;
    struct part {
        int layers, in;
        lstm_forward::primitive_desc fwd;
        lstm_backward::primitive_desc bwd;
        memory src, src_iter, src_iter_c, wl_user, wi_user, bias, dst, dst_iter, dst_iter_c;
        memory wl_fwd, wi_fwd, wl_bwd, wi_bwd, ws;
        memory d_src, d_src_iter, d_src_iter_c, d_wl, d_wi, d_bias, d_dst, d_dst_iter, d_dst_iter_c;
    };
    std::vector<part> parts;
};

static memory::desc md(memory::dims d, tag t)
{
    return memory::desc(d, dt::f32, t);
}

static dnnl_stack::part make_part(engine &eng, const config &c, int layers, int in,
                                  const memory *src_in)
{
    dnnl_stack::part p;
    p.layers = layers, p.in = in;
    memory::dim T = c.T, B = c.B, H = c.H, Ls = layers;
    auto src_md = md({T, B, in}, tag::tnc), iter_md = md({Ls, 1, B, H}, tag::ldnc);
    auto wl_any = md({Ls, 1, in, 4, H}, tag::any), wi_any = md({Ls, 1, H, 4, H}, tag::any);
    auto bias_md = md({Ls, 1, 4, H}, tag::ldgo), dst_md = md({T, B, H}, tag::tnc);
    lstm_forward::desc fd(prop_kind::forward_training, rnn_direction::unidirectional_left2right,
                          src_md, iter_md, iter_md, wl_any, wi_any, bias_md, dst_md, iter_md,
                          iter_md);
    p.fwd = lstm_forward::primitive_desc(fd, eng);
    lstm_backward::desc bd(prop_kind::backward, rnn_direction::unidirectional_left2right, src_md,
                           iter_md, iter_md, wl_any, wi_any, bias_md, dst_md, iter_md, iter_md,
                           src_md, iter_md, iter_md, wl_any, wi_any, bias_md, dst_md, iter_md,
                           iter_md);
    p.bwd = lstm_backward::primitive_desc(bd, eng, p.fwd);
    p.src = src_in ? *src_in : memory(src_md, eng);
    p.src_iter = memory(iter_md, eng), p.src_iter_c = memory(iter_md, eng);
    p.wl_user = memory(md({Ls, 1, in, 4, H}, tag::ldigo), eng);
    p.wi_user = memory(md({Ls, 1, H, 4, H}, tag::ldigo), eng);
    p.bias = memory(bias_md, eng);
    p.dst = memory(dst_md, eng), p.dst_iter = memory(iter_md, eng);
    p.dst_iter_c = memory(iter_md, eng);
    p.wl_fwd = memory(p.fwd.weights_layer_desc(), eng);
    p.wi_fwd = memory(p.fwd.weights_iter_desc(), eng);
    p.wl_bwd = memory(p.bwd.weights_layer_desc(), eng);
    p.wi_bwd = memory(p.bwd.weights_iter_desc(), eng);
    p.ws = memory(p.fwd.workspace_desc(), eng);
    p.d_src = memory(src_md, eng), p.d_src_iter = memory(iter_md, eng);
    p.d_src_iter_c = memory(iter_md, eng);
    p.d_wl = memory(p.bwd.diff_weights_layer_desc(), eng);
    p.d_wi = memory(p.bwd.diff_weights_iter_desc(), eng);
    p.d_bias = memory(bias_md, eng);
    p.d_dst = memory(dst_md, eng), p.d_dst_iter = memory(iter_md, eng);
    p.d_dst_iter_c = memory(iter_md, eng);
    for (memory *m : {&p.src_iter, &p.src_iter_c, &p.wl_user, &p.wi_user, &p.bias, &p.d_dst,
                      &p.d_dst_iter, &p.d_dst_iter_c}) {
        float *f = (float *)m->get_data_handle();
        size_t n = m->get_desc().get_size() / sizeof(float);
        std::vector<float> v(n);
        fill(v, 0.1f);
        std::copy(v.begin(), v.end(), f);
    }
    if (!src_in) {
        float *f = (float *)p.src.get_data_handle();
        std::vector<float> v(p.src.get_desc().get_size() / sizeof(float));
        fill(v, 1.0f);
        std::copy(v.begin(), v.end(), f);
    }
    return p;
}

static void zero(memory &m)
{
    std::fill_n((float *)m.get_data_handle(), m.get_desc().get_size() / sizeof(float), 0.0f);
}

static double dnnl_chunk(const config &c, int repeats)
{
    dnnl_stack st{engine(engine::kind::cpu, 0), stream(), {}};
    st.s = stream(st.eng);
    st.parts.push_back(make_part(st.eng, c, 1, c.E, nullptr));
    if (c.L > 1)
        st.parts.push_back(make_part(st.eng, c, c.L - 1, c.H, &st.parts[0].dst));
    std::vector<double> times;
    for (int r = 0; r < repeats + 1; r++) {
        double t0 = seconds();
        for (auto &p : st.parts) {
            reorder(p.wl_user, p.wl_fwd).execute(st.s, p.wl_user, p.wl_fwd);
            reorder(p.wi_user, p.wi_fwd).execute(st.s, p.wi_user, p.wi_fwd);
            lstm_forward(p.fwd).execute(
                st.s, {{DNNL_ARG_SRC_LAYER, p.src},       {DNNL_ARG_SRC_ITER, p.src_iter},
                       {DNNL_ARG_SRC_ITER_C, p.src_iter_c}, {DNNL_ARG_WEIGHTS_LAYER, p.wl_fwd},
                       {DNNL_ARG_WEIGHTS_ITER, p.wi_fwd},   {DNNL_ARG_BIAS, p.bias},
                       {DNNL_ARG_DST_LAYER, p.dst},         {DNNL_ARG_DST_ITER, p.dst_iter},
                       {DNNL_ARG_DST_ITER_C, p.dst_iter_c}, {DNNL_ARG_WORKSPACE, p.ws}});
        }
        for (int i = (int)st.parts.size() - 1; i >= 0; i--) {
            auto &p = st.parts[(size_t)i];
            if (i + 1 < (int)st.parts.size()) // the layer above's input gradient
                std::copy_n((float *)st.parts[(size_t)i + 1].d_src.get_data_handle(),
                            (size_t)c.T * c.B * c.H, (float *)p.d_dst.get_data_handle());
            reorder(p.wl_user, p.wl_bwd).execute(st.s, p.wl_user, p.wl_bwd);
            reorder(p.wi_user, p.wi_bwd).execute(st.s, p.wi_user, p.wi_bwd);
            zero(p.d_wl), zero(p.d_wi), zero(p.d_bias);
            lstm_backward(p.bwd).execute(
                st.s, {{DNNL_ARG_SRC_LAYER, p.src},
                       {DNNL_ARG_SRC_ITER, p.src_iter},
                       {DNNL_ARG_SRC_ITER_C, p.src_iter_c},
                       {DNNL_ARG_WEIGHTS_LAYER, p.wl_bwd},
                       {DNNL_ARG_WEIGHTS_ITER, p.wi_bwd},
                       {DNNL_ARG_BIAS, p.bias},
                       {DNNL_ARG_DST_LAYER, p.dst},
                       {DNNL_ARG_DST_ITER, p.dst_iter},
                       {DNNL_ARG_DST_ITER_C, p.dst_iter_c},
                       {DNNL_ARG_WORKSPACE, p.ws},
                       {DNNL_ARG_DIFF_SRC_LAYER, p.d_src},
                       {DNNL_ARG_DIFF_SRC_ITER, p.d_src_iter},
                       {DNNL_ARG_DIFF_SRC_ITER_C, p.d_src_iter_c},
                       {DNNL_ARG_DIFF_WEIGHTS_LAYER, p.d_wl},
                       {DNNL_ARG_DIFF_WEIGHTS_ITER, p.d_wi},
                       {DNNL_ARG_DIFF_BIAS, p.d_bias},
                       {DNNL_ARG_DIFF_DST_LAYER, p.d_dst},
                       {DNNL_ARG_DIFF_DST_ITER, p.d_dst_iter},
                       {DNNL_ARG_DIFF_DST_ITER_C, p.d_dst_iter_c}});
        }
        st.s.wait();
        if (r)
            times.push_back(seconds() - t0);
    }
    return median(times);
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 7;
    const config configs[] = {{"(a) 2x128 B50 T50", 2, 128, 64, 50, 50},
                              {"(b) 2x512 B50 T50", 2, 512, 64, 50, 50},
                              {"(c) 3x512 B64 T100", 3, 512, 64, 64, 100}};
    std::printf("LSTM layers only, forward + backward of one chunk, median of %d; %s; oneDNN %d.%d.%d\n",
                repeats, crnn_backend_description(), dnnl_version()->major,
                dnnl_version()->minor, dnnl_version()->patch);
    std::printf("%-20s %12s %12s %8s\n", "config", "charrnn ms", "oneDNN ms", "ratio");
    for (const config &c : configs) {
        double mine = charrnn_chunk(c, repeats), theirs = dnnl_chunk(c, repeats);
        std::printf("%-20s %12.2f %12.2f %7.2fx\n", c.name, mine * 1e3, theirs * 1e3,
                    theirs / mine);
    }
    return 0;
}
