/*
 * plan.c: training planned for a time budget (crnn_trainer_plan). People
 * give a text and an amount of time, not a step count: the plan measures
 * this machine's speed on the candidate models' first steps (on throwaway
 * trainers), picks the largest model the time can train and the corpus can
 * hold, and fixes the schedule's length once, so that the run and its
 * resume are reproducible. The rules are in plan.h's functions; the numbers
 * behind them are measurements (bench/RESULTS.md, "Issue 14").
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "dist.h"
#include "gpu.h"
#include "plan.h"

/* Bigger models learn more per character, once they get enough characters:
 * the ladder's sizes, with the batch and chunk length each trains best at. */
const plan_shape plan_ladder[] = {
    {2, 64, 32, 16, 50},   {2, 128, 64, 50, 50},   {2, 256, 64, 50, 100},
    {2, 512, 64, 50, 100}, {3, 512, 64, 50, 100},  {3, 768, 64, 50, 100},
    {3, 1024, 128, 64, 100},
};
const int plan_ladder_size = (int)(sizeof plan_ladder / sizeof plan_ladder[0]);

/* Evaluations in a planned run: enough to pick the best snapshot and to
 * save now and then, few enough to cost little. */
#define PLAN_EVALUATIONS 20
/* Periodic validation may take at most this share of the time. */
#define PLAN_EVAL_SHARE 0.04
/* The final figures may take at most this share of the time. */
#define PLAN_FINAL_SHARE 0.04
/* Candidates are measured with this dropout unless one is given (the plan
 * mostly chooses some, and it costs time). */
#define PLAN_PROBE_DROPOUT 0.25f
/* Measuring: each candidate's steps are timed for this share of the budget
 * (within the bounds below, at least PLAN_TIMED_STEPS steps) after a first
 * untimed one. At most PLAN_PROBES candidates are measured. */
#define PLAN_PROBE_SHARE 0.005
#define PLAN_PROBE_MIN 0.3
#define PLAN_PROBE_MAX 8.0
#define PLAN_TIMED_STEPS 2
#define PLAN_PROBES 3

static int gates_of(crnn_cell_type cell)
{
    return cell == CRNN_CELL_LSTM ? 4 : cell == CRNN_CELL_GRU ? 3 : 1;
}

double plan_weights(const crnn_train_config *c, int vocab)
{
    double g = gates_of(c->cell), w = (double)vocab * c->embed + (double)c->hidden * vocab;
    for (int l = 0; l < c->layers; l++)
        w += g * c->hidden * ((l ? c->hidden : c->embed) + (double)c->hidden);
    return w;
}

double plan_work(const crnn_train_config *c, int vocab)
{
    /* Every weight but the embedding table's is read in three products per
     * character (forward, and two backward); the table is only gathered. */
    return plan_weights(c, vocab) - (double)vocab * c->embed;
}

double plan_dropout(double epochs)
{
    /* None within the first pass; then 0.1 more for every doubling of the
     * passes (0.1 at 2, 0.3 at 8, 0.4 at 16), at most 0.5. */
    if (!(epochs > 1))
        return 0;
    double d = 0.1 * log2(epochs);
    return d < 0.5 ? d : 0.5;
}

double plan_weight_decay(double epochs)
{
    /* Where dropout alone no longer holds off overfitting (bench/RESULTS.md,
     * "Issue 14"): 3 x 512 on tiny-shakespeare gained 0.009 in validation
     * loss from 0.1 over 16.5 passes (all of it after the 10th pass; at 5
     * it was 0.003 behind), and over 21-26 passes 0.3 reached 1.3318 where
     * 0.1 peaked at 1.3386 at the 22nd and rose after. So none below 12
     * passes, 0.1 at 12, rising with the doublings of the passes to 0.3 at
     * 20 and staying there (more was not measured). */
    if (!(epochs >= 12))
        return 0;
    double w = 0.1 + 0.2 * log2(epochs / 12) / log2(20.0 / 12);
    return w < 0.3 ? w : 0.3;
}

int plan_prefers_bf16(double fp32_step_seconds, double bf16_step_seconds)
{
    /* bf16 products trained as well as fp32 step for step (bench/RESULTS.md,
     * "bf16 against fp32 over whole runs"), so any speed they gain is more
     * steps in the time. No margin: short probes understate bf16 (on a Zen 5
     * they measured 1.085x and 1.26x where whole runs ran at 1.5x), and
     * where bf16 is slower it is far slower (a Xeon ran it at 0.6x). */
    return bf16_step_seconds > 0 && bf16_step_seconds * PLAN_BF16_GAIN <= fp32_step_seconds;
}

uint64_t plan_cooldown(uint64_t steps, uint64_t warmup)
{
    uint64_t c = (uint64_t)llround(PLAN_COOLDOWN_SHARE * (double)steps);
    return steps > c + 2 * warmup && c > 0 ? c : 0;
}

int plan_fits(double weights, double chars, double train_chars)
{
    return chars >= PLAN_CHARS_PER_WEIGHT * weights && weights <= PLAN_WEIGHTS_PER_CHAR * train_chars;
}

/* Seconds of one periodic evaluation reading chars, with its snapshots
 * (the latest, and the best when it is). */
static double eval_cost(const plan_costs *k, double chars)
{
    return chars / k->eval_chars_per_second + 2 * k->save_seconds;
}

/* The validation part periodic evaluations read, and how many there are:
 * what was given, else up to PLAN_EVALUATIONS of up to CRNN_EVAL_CHARS_MIN
 * characters within PLAN_EVAL_SHARE of the time (fewer, then shorter, when
 * they would take more; at least one of PLAN_EVAL_CHARS_LEAST). */
#define PLAN_EVAL_CHARS_LEAST 4096
static void periodic(const plan_costs *k, double seconds, uint64_t steps, uint64_t *every,
                     uint64_t *chars)
{
    double part = (double)k->val_chars;
    if (k->eval_chars)
        part = fmin(part, (double)k->eval_chars);
    else if (part > CRNN_EVAL_CHARS_MIN)
        part = CRNN_EVAL_CHARS_MIN;
    double afford = PLAN_EVAL_SHARE * seconds;
    if (!k->eval_chars && eval_cost(k, part) > afford) {
        double fit = (afford - 2 * k->save_seconds) * k->eval_chars_per_second;
        part = fmin(part, fmax(fit, PLAN_EVAL_CHARS_LEAST));
    }
    *chars = (uint64_t)part;
    if (k->eval_every) {
        *every = k->eval_every;
        return;
    }
    double n = floor(afford / eval_cost(k, part));
    n = n < 1 ? 1 : n > PLAN_EVALUATIONS ? PLAN_EVALUATIONS : n;
    *every = steps > 0 ? (steps + (uint64_t)n - 1) / (uint64_t)n : 1;
}

uint64_t plan_final_chars(const plan_costs *k, uint64_t steps, uint64_t eval_chars)
{
    double part = (double)(eval_chars < k->val_chars ? eval_chars : k->val_chars);
    double bound = fmax(2 * part, (double)steps * (double)k->chars_per_step / 10);
    bound = fmin(bound, PLAN_FINAL_SHARE * k->seconds * k->eval_chars_per_second / 2);
    return (uint64_t)fmax(bound, part);
}

double plan_seconds(const plan_costs *k, uint64_t steps, uint64_t every, uint64_t eval_chars)
{
    double evals = every ? ceil((double)steps / (double)every) : 0;
    double part = (double)(eval_chars < k->val_chars ? eval_chars : k->val_chars);
    double bound = (double)plan_final_chars(k, steps, eval_chars);
    double final = fmin(bound, (double)k->val_chars) + fmin(bound, (double)k->test_chars);
    return (double)steps * k->step_seconds + evals * eval_cost(k, part) +
           final / k->eval_chars_per_second + k->save_seconds;
}

/* Whether steps steps fit in seconds, with the cadence they would have. */
static int steps_fit(const plan_costs *k, double seconds, uint64_t steps, uint64_t *every,
                     uint64_t *chars)
{
    periodic(k, seconds, steps, every, chars);
    return plan_seconds(k, steps, *every, *chars) <= seconds;
}

uint64_t plan_steps(const plan_costs *k, double seconds, uint64_t *every_out,
                    uint64_t *eval_chars_out)
{
    /* The cost grows with the steps: the most that fit, by bisection. */
    uint64_t lo = 0, hi = seconds > 0 ? (uint64_t)(seconds / k->step_seconds) + 1 : 0;
    uint64_t every = 1, chars = 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (steps_fit(k, seconds, mid, &every, &chars))
            lo = mid;
        else
            hi = mid - 1;
    }
    steps_fit(k, seconds, lo, &every, &chars);
    if (every_out)
        *every_out = every ? every : 1;
    if (eval_chars_out)
        *eval_chars_out = chars;
    return lo;
}

double plan_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Process 0's value on every process (its clock decides for all). */
static double from_first(double v)
{
    double x = crnn_dist_rank_internal() == 0 ? v : 0;
    crnn_dist_sum_doubles(&x, 1);
    return x;
}

/* The sizes of ladder step i with what the caller gave kept, the batch and
 * chunk length fitted to the training split (as crnn_train_config_fit). */
static crnn_train_config candidate(const crnn_train_config *given_cfg, unsigned given, int i,
                                   double train_chars)
{
    crnn_train_config c = *given_cfg;
    const plan_shape *s = &plan_ladder[i];
    if (!(given & CRNN_GIVEN_LAYERS))
        c.layers = s->layers;
    if (!(given & CRNN_GIVEN_HIDDEN))
        c.hidden = s->hidden;
    if (!(given & CRNN_GIVEN_EMBED))
        c.embed = s->embed;
    if (!(given & CRNN_GIVEN_SEQ)) {
        c.seq = s->seq;
        while (c.seq > 8 && train_chars < 4.0 * (c.seq + 1))
            c.seq /= 2;
    }
    if (!(given & CRNN_GIVEN_DROPOUT))
        c.dropout = PLAN_PROBE_DROPOUT;
    if (!(given & CRNN_GIVEN_BATCH)) {
        c.batch = s->batch;
        int fit = (int)(train_chars / (c.seq + 1));
        if (fit < c.batch && fit >= 1)
            c.batch = fit;
        int ranks = crnn_dist_size_internal();
        if (ranks > 1) /* every process runs as many streams */
            c.batch = c.batch < ranks ? ranks : c.batch / ranks * ranks;
    }
    return c;
}

static int same_sizes(const crnn_train_config *a, const crnn_train_config *b)
{
    return a->layers == b->layers && a->hidden == b->hidden && a->embed == b->embed &&
           a->batch == b->batch && a->seq == b->seq;
}

/* What one candidate measured on its throwaway trainer. */
typedef struct probe {
    int done;
    double step_seconds, create_seconds;
    double eval_cps, save_seconds; /* measured with full, else scaled from one that was */
    uint64_t steps_per_epoch;
} probe;

/* Builds a throwaway trainer for config, times its steps (the first one,
 * which sets up the engine, untimed), and with full also an evaluation and
 * a snapshot written to scratch and removed. */
static int measure(const char *const *paths, size_t n, const char *init_path,
                   const crnn_train_config *config, const crnn_compute_options *compute,
                   double probe_seconds, int full, const char *scratch, probe *p,
                   crnn_trainer_status *status, crnn_error *err)
{
    double t0 = plan_now();
    crnn_trainer *t = crnn_trainer_create_from(paths, n, init_path, config, compute, err);
    if (!t)
        return err ? err->status : CRNN_ERR_ARG;
    p->create_seconds = from_first(plan_now() - t0);
    crnn_trainer_get_status(t, status);
    p->steps_per_epoch = status->steps_per_epoch;
    crnn_run_settings rs = {0};
    rs.max_iters = 1000000; /* a cosine schedule needs a length */
    crnn_trainer_set_run_settings(t, &rs);
    double loss;
    int rc = crnn_trainer_step(t, &loss, err);
    int timed = 0;
    double start = plan_now();
    while (rc == CRNN_OK) {
        if ((rc = crnn_trainer_step(t, &loss, err)) != CRNN_OK)
            break;
        timed++;
        if (crnn_dist_any_internal(timed >= PLAN_TIMED_STEPS && plan_now() - start >= probe_seconds))
            break;
    }
    if (rc == CRNN_ERR_NUMERIC && timed > 0) /* a throwaway run diverged: the time holds */
        rc = CRNN_OK;
    p->step_seconds = from_first(timed ? (plan_now() - start) / timed : 0);
    if (rc == CRNN_OK && full) {
        uint64_t read = 0;
        double e0 = plan_now();
        if (status->val_chars >= 2)
            rc = crnn_trainer_measure(t, CRNN_SPLIT_VALIDATION, 16384, &loss, &read, err);
        double e = plan_now() - e0;
        p->eval_cps = from_first(read > 0 && e > 0 ? (double)read / e : 1e9);
        if (rc == CRNN_OK && scratch) {
            double s0 = plan_now();
            rc = crnn_trainer_save(t, scratch, err);
            p->save_seconds = from_first(plan_now() - s0);
            if (crnn_dist_rank_internal() == 0)
                unlink(scratch);
        }
    }
    crnn_trainer_free(t);
    p->done = rc == CRNN_OK && timed > 0;
    if (rc == CRNN_OK && !timed)
        rc = crnn_fail(err, CRNN_ERR_ARG, "the plan could not time a step");
    return rc;
}

/* Whether the plan may measure bf16 products for config: the engine is left
 * to choose, the layers are LSTM (the oneDNN engine's only cell), this CPU
 * runs oneDNN's bf16 kernels, and the run stays on the CPU (bf16 training
 * exists there only; auto would otherwise pick a GPU). */
static int bf16_possible(const crnn_train_config *config, const crnn_compute_options *compute)
{
    if (compute->engine != CRNN_ENGINE_AUTO || config->cell != CRNN_CELL_LSTM ||
        crnn_engine_check(CRNN_ENGINE_ONEDNN_BF16, NULL) != CRNN_OK)
        return 0;
    return compute->device == CRNN_DEVICE_CPU ||
           (compute->device == CRNN_DEVICE_AUTO &&
            (crnn_dist_size_internal() > 1 || crnn_gpu_count() < 1));
}

/* Characters per second of candidate i: measured, or predicted from the
 * work rate of measured candidate m. */
static double speed_of(const crnn_train_config *cand, const probe *probes, int i, int m, int vocab)
{
    const crnn_train_config *c = &cand[i];
    if (probes[i].done)
        return (double)c->batch * c->seq / probes[i].step_seconds;
    double rate = plan_work(&cand[m], vocab) * cand[m].batch * cand[m].seq / probes[m].step_seconds;
    return rate / plan_work(c, vocab);
}

/* The settings the plan chooses for a run of steps steps on config's sizes. */
static void settle(crnn_train_config *c, unsigned given, uint64_t steps, double epochs)
{
    if (!(given & CRNN_GIVEN_SCHEDULE))
        c->schedule = CRNN_SCHEDULE_COSINE;
    if (!(given & CRNN_GIVEN_LR))
        c->learning_rate = 2e-3f;
    if (!(given & CRNN_GIVEN_WARMUP)) {
        uint64_t w = steps / 20;
        c->warmup_steps = w < 1 ? 1 : w > 100 ? 100 : w;
    }
    if (!(given & CRNN_GIVEN_DROPOUT))
        c->dropout = (float)(round(plan_dropout(epochs) * 100) / 100);
    if (!(given & CRNN_GIVEN_WEIGHT_DECAY))
        c->weight_decay = (float)(round(plan_weight_decay(epochs) * 100) / 100);
    /* Measured better than 1 (bench/RESULTS.md, "Quality in 30 minutes"). */
    if (!(given & CRNN_GIVEN_FORGET_BIAS))
        c->forget_bias = 0;
    c->schedule_steps = c->schedule == CRNN_SCHEDULE_COSINE ? steps : 0;
    if (!(given & CRNN_GIVEN_COOLDOWN))
        c->cooldown_steps = c->schedule == CRNN_SCHEDULE_COSINE
                                ? plan_cooldown(steps, c->warmup_steps) : 0;
}

crnn_trainer *crnn_trainer_plan(const char *const *paths, size_t n, const char *init_path,
                                const crnn_train_config *config, unsigned given,
                                crnn_run_settings *run, const crnn_compute_options *compute,
                                double seconds, double spent, const char *scratch,
                                crnn_plan *plan, crnn_error *err)
{
    double t0 = plan_now();
    memset(plan, 0, sizeof *plan);
    if (!config || !run || !(seconds > 0) || !(spent >= 0)) {
        crnn_fail(err, CRNN_ERR_ARG, "a plan needs a configuration, run settings and a time");
        return NULL;
    }
    uint64_t bytes = 0;
    if (crnn_corpus_bytes(paths, n, &bytes, err) != CRNN_OK)
        return NULL;
    double train_chars = (double)bytes * (1.0 - config->val_fraction - config->test_fraction);
    double probe_seconds = fmin(fmax(PLAN_PROBE_SHARE * seconds, PLAN_PROBE_MIN), PLAN_PROBE_MAX);

    /* The candidates: the ladder with what was given kept, duplicates out. */
    crnn_train_config cand[16];
    int nc = 0, first = 0, only = -1;
    if (given & CRNN_GIVEN_HIDDEN) { /* the ladder step of the nearest width, alone */
        for (int i = 0; i < plan_ladder_size; i++)
            if (only < 0 || abs(plan_ladder[i].hidden - config->hidden) <
                                abs(plan_ladder[only].hidden - config->hidden))
                only = i;
    }
    for (int i = 0; i < plan_ladder_size; i++) {
        if (only >= 0 && i != only)
            continue;
        crnn_train_config c = candidate(config, given, i, train_chars);
        if (nc > 0 && same_sizes(&c, &cand[nc - 1]))
            continue;
        if (plan_ladder[i].hidden <= 256)
            first = nc; /* measured first: quick to time, in the middle */
        cand[nc++] = c;
    }
    probe probes[16] = {{0}};
    crnn_trainer_status st;
    int vocab = 0, pick = first, probes_made = 0;
    /* Measure one (its steps, an evaluation and a snapshot), predict the
     * others by their work, measure the largest that fits; step down while a
     * measured speed says it does not fit. */
    for (;;) {
        if (!probes[pick].done) {
            int rc = measure(paths, n, init_path, &cand[pick], compute, probe_seconds, 1, scratch,
                             &probes[pick], &st, err);
            if (rc == CRNN_ERR_NOMEM && pick > 0 && !(given & CRNN_GIVEN_HIDDEN)) {
                nc = pick--; /* too large for this machine: so are those above it */
                continue;
            }
            if (rc != CRNN_OK)
                return NULL;
            probes_made++;
            vocab = st.vocab_size;
            if (getenv("CHARRNN_PLAN_DEBUG"))
                fprintf(stderr, "plan: probe %d x %d: create %.2f s, step %.4f s, eval %.0f c/s, "
                        "save %.2f s; at %.2f s\n", cand[pick].layers, cand[pick].hidden,
                        probes[pick].create_seconds, probes[pick].step_seconds,
                        probes[pick].eval_cps, probes[pick].save_seconds, plan_now() - t0);
        }
        double left = seconds * (1 - PLAN_MARGIN) - spent - (plan_now() - t0) -
                      probes[pick].create_seconds;
        int best = 0, best_measured = -1;
        for (int i = 0; i < nc; i++) {
            int fits = plan_fits(plan_weights(&cand[i], vocab),
                                 speed_of(cand, probes, i, pick, vocab) * left, train_chars);
            if (fits)
                best = i;
            if (probes[i].done && (fits || best_measured < 0))
                best_measured = i;
        }
        if (probes[best].done || probes_made >= PLAN_PROBES) {
            pick = probes[best].done ? best : best_measured;
            break;
        }
        pick = best;
    }
    probe *p = &probes[pick];

    /* bf16 products, measured on the chosen model, where the engine is left
     * to choose: taken where they run faster (and then larger models are not
     * reconsidered: the corpus bounds the size that matters most). A probe
     * that fails (memory, say) leaves fp32. */
    crnn_compute_options run_compute;
    if (compute)
        run_compute = *compute;
    else
        crnn_compute_options_default(&run_compute);
    int bf16 = 0, precision_open = bf16_possible(&cand[pick], &run_compute);
    if (precision_open) {
        crnn_compute_options bc = run_compute;
        bc.engine = CRNN_ENGINE_ONEDNN_BF16;
        probe pb = {0};
        crnn_trainer_status bst;
        double fp32_step = p->step_seconds;
        if (measure(paths, n, init_path, &cand[pick], &bc, probe_seconds, 0, NULL, &pb, &bst,
                    NULL) == CRNN_OK &&
            plan_prefers_bf16(p->step_seconds, pb.step_seconds)) {
            bf16 = 1;
            run_compute = bc;
            p->step_seconds = pb.step_seconds;
            p->create_seconds = pb.create_seconds;
        }
        if (getenv("CHARRNN_PLAN_DEBUG"))
            fprintf(stderr, "plan: bf16 step %.4f s against fp32 %.4f s: %s; at %.2f s\n",
                    pb.step_seconds, fp32_step, bf16 ? "bf16" : "fp32",
                    plan_now() - t0);
    }

    /* The steps that fit, then the rest of the plan for them. */
    crnn_train_config c = cand[pick];
    plan_costs k = {p->step_seconds, p->eval_cps, p->save_seconds,
                    (uint64_t)c.batch * (uint64_t)c.seq, st.val_chars, st.test_chars,
                    run->eval_every, run->eval_chars, seconds};
    double left = seconds * (1 - PLAN_MARGIN) - spent - (plan_now() - t0) - p->create_seconds;
    uint64_t every = 1, eval_chars = 0;
    uint64_t steps = plan_steps(&k, left, &every, &eval_chars);
    uint64_t per_epoch = p->steps_per_epoch ? p->steps_per_epoch : 1;
    uint64_t given_bound = run->max_iters;
    if (run->max_epochs > 0 && (!given_bound || ceil(run->max_epochs * (double)per_epoch) <
                                                    (double)given_bound))
        given_bound = (uint64_t)ceil(run->max_epochs * (double)per_epoch);
    if (run->max_iters && run->max_iters < steps)
        steps = run->max_iters;
    if (run->max_epochs > 0 && ceil(run->max_epochs * (double)per_epoch) < (double)steps)
        steps = (uint64_t)ceil(run->max_epochs * (double)per_epoch);
    if (steps < 1)
        steps = 1;
    double epochs = (double)steps * c.batch * c.seq / fmax(train_chars, 1);
    settle(&c, given, steps, epochs);

    crnn_trainer *t = crnn_trainer_create_from(paths, n, init_path, &c, &run_compute, err);
    if (!t)
        return NULL;
    crnn_trainer_status real;
    crnn_trainer_get_status(t, &real);
    if (!run->eval_every)
        run->eval_every = every;
    if (!run->eval_chars && eval_chars && eval_chars < real.val_chars)
        run->eval_chars = eval_chars;
    run->max_iters = steps;
    crnn_trainer_set_run_settings(t, run);
    crnn_trainer_get_run_settings(t, run);

    plan->seconds = seconds;
    plan->setup_seconds = spent + from_first(plan_now() - t0);
    plan->train_chars_per_second = (double)c.batch * c.seq / p->step_seconds;
    plan->eval_chars_per_second = p->eval_cps;
    plan->save_seconds = p->save_seconds;
    plan->steps = steps;
    plan->final_chars = plan_final_chars(&k, steps, run->eval_chars ? run->eval_chars : eval_chars);
    plan->epochs = real.steps_per_epoch ? (double)steps / (double)real.steps_per_epoch : epochs;
    unsigned all = CRNN_GIVEN_LAYERS | CRNN_GIVEN_HIDDEN | CRNN_GIVEN_EMBED | CRNN_GIVEN_BATCH |
                   CRNN_GIVEN_SEQ | CRNN_GIVEN_LR | CRNN_GIVEN_SCHEDULE | CRNN_GIVEN_WARMUP |
                   CRNN_GIVEN_DROPOUT | CRNN_GIVEN_FORGET_BIAS | CRNN_GIVEN_EVAL_EVERY |
                   CRNN_GIVEN_WEIGHT_DECAY | CRNN_GIVEN_COOLDOWN;
    plan->chosen = all & ~given;
    if (precision_open)
        plan->chosen |= CRNN_GIVEN_PRECISION;
    plan->bf16 = bf16;
    if (c.cell != CRNN_CELL_LSTM)
        plan->chosen &= ~(unsigned)CRNN_GIVEN_FORGET_BIAS;
    if (c.schedule != CRNN_SCHEDULE_COSINE)
        plan->chosen &= ~(unsigned)CRNN_GIVEN_COOLDOWN;
    crnn_trainer_set_plan(t, plan);
    crnn_trainer_fix_after_warmup(t, &k, t0 - spent + seconds, given_bound,
                                  !(given & CRNN_GIVEN_COOLDOWN) &&
                                      c.schedule == CRNN_SCHEDULE_COSINE);
    return t;
}
