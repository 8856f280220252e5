/*
 * plan.h: the rules crnn_trainer_plan (plan.c) follows, apart from the
 * measuring, so that tests can check them with made-up speeds.
 */
#ifndef CRNN_PLAN_H
#define CRNN_PLAN_H

#include <stdint.h>

#include "charrnn.h"

/* A planned run needs at least this many characters trained per weight of
 * its model, and a model has at most this many weights per character of the
 * training split (bench/RESULTS.md, "Issue 14", has the runs behind them). */
#define PLAN_CHARS_PER_WEIGHT 2.0
#define PLAN_WEIGHTS_PER_CHAR 8.0

/* The sizes the planner chooses among, smallest first. */
typedef struct plan_shape {
    int layers, hidden, embed, batch, seq;
} plan_shape;

extern const plan_shape plan_ladder[];
extern const int plan_ladder_size;

/* Weights of a model of config's cell and shape with vocab characters
 * (biases left out: a measure of size, not a layout). */
double plan_weights(const crnn_train_config *config, int vocab);

/* Floating-point work per character trained, relative: what speeds scale by. */
double plan_work(const crnn_train_config *config, int vocab);

/* Dropout for a run of this many passes over its training split. */
double plan_dropout(double epochs);

/* The decoupled weight decay for a run of that many passes: none below 12,
 * 0.1 at 12 rising to 0.3 at 20 and beyond. */
double plan_weight_decay(double epochs);

/* bf16 products train as well as fp32 step for step: the plan takes them
 * where one step measures at least this much faster (1: as fast). */
#define PLAN_BF16_GAIN 1.0
/* 1 if a step measured in bf16 is fast enough against fp32's to take it. */
int plan_prefers_bf16(double fp32_step_seconds, double bf16_step_seconds);

/* The share of a planned cosine schedule spent decaying: until its last
 * PLAN_COOLDOWN_SHARE the learning rate holds, so the length needs fixing
 * only when the decay starts, from the speed of the steps before it. */
#define PLAN_COOLDOWN_SHARE 0.3
/* The cooldown of a planned schedule of steps with a warm-up of warmup: 0
 * (decay from the warm-up's end) where the hold before it would be shorter
 * than the warm-up. */
uint64_t plan_cooldown(uint64_t steps, uint64_t warmup);

/* 1 if a model of weights can be trained on chars characters (the budget)
 * of a training split of train_chars. */
int plan_fits(double weights, double chars, double train_chars);

/* What one run costs besides its steps, as measured. */
typedef struct plan_costs {
    double step_seconds;     /* one training step */
    double eval_chars_per_second;
    double save_seconds;     /* one snapshot */
    uint64_t chars_per_step; /* B x T */
    uint64_t val_chars, test_chars;
    uint64_t eval_every;     /* 0: the plan's (20 evaluations) */
    uint64_t eval_chars;     /* 0: the default rule (crnn_run_settings) */
    double seconds;          /* the whole budget */
} plan_costs;

/* The most steps that fit in seconds with the evaluations, snapshots and
 * final figures the run makes; *eval_every and *eval_chars receive the
 * cadence and validation part they assume. */
uint64_t plan_steps(const plan_costs *costs, double seconds, uint64_t *eval_every,
                    uint64_t *eval_chars);

/* The whole-run seconds plan_steps counts for steps steps. */
double plan_seconds(const plan_costs *costs, uint64_t steps, uint64_t eval_every,
                    uint64_t eval_chars);

/* What the final figures read of each held-out split in a planned run:
 * the unplanned run's bound (twice the periodic part, or a tenth of the
 * characters trained), within a share of the time, at least the periodic
 * part. */
uint64_t plan_final_chars(const plan_costs *costs, uint64_t steps, uint64_t eval_chars);

/* For crnn_trainer_plan: fix the run's length from the speed of its own
 * steps, to end by deadline (CLOCK_MONOTONIC seconds, process 0's), within
 * bound steps (0: none). k: the plan's costs. When the warm-up ends (its
 * learning rate does not depend on the length) the length is estimated
 * again; with cooldown (the plan chooses it) the schedule then holds the rate
 * until its last plan_cooldown steps, and where that decay starts the length
 * is fixed for good from the steps since the warm-up and the evaluations'
 * measured speed; else it is fixed at the warm-up's end. Implemented in
 * train.c. */
void crnn_trainer_fix_after_warmup(crnn_trainer *t, const plan_costs *k, double deadline,
                                   uint64_t bound, int cooldown);

/* Seconds of CLOCK_MONOTONIC. */
double plan_now(void);

/* Each estimate of the length keeps this share of the time it plans for
 * in hand: speeds wander (runs here went 2-4% slower than their first
 * steps). Where the length is fixed at the decay's start that is a share of
 * the time left then, not of the whole (30-minute runs ended a minute early). */
#define PLAN_MARGIN 0.03

#endif
