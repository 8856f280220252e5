/*
 * test_plan.c: the rules a run planned for its time follows (plan.h), with
 * made-up speeds: the steps fit the time with their evaluations, snapshots
 * and final figures and are nearly the most that do, evaluations stay a
 * small share, dropout grows with the passes, and a model is chosen only
 * when the time can train it and the corpus can hold it.
 */
#include <math.h>
#include <string.h>

#include "../src/plan.h"
#include "check.h"

static plan_costs costs(double step_seconds, double eval_cps, double save_seconds,
                        uint64_t chars_per_step, uint64_t split, double seconds)
{
    plan_costs k;
    memset(&k, 0, sizeof k);
    k.step_seconds = step_seconds;
    k.eval_chars_per_second = eval_cps;
    k.save_seconds = save_seconds;
    k.chars_per_step = chars_per_step;
    k.val_chars = split;
    k.test_chars = split;
    k.seconds = seconds;
    return k;
}

/* The steps fit, one step in a hundred more would not, and the periodic
 * evaluations take at most their share. */
static void check_steps(const char *what, const plan_costs *k, double seconds)
{
    uint64_t every = 0, chars = 0;
    uint64_t steps = plan_steps(k, seconds, &every, &chars);
    double used = plan_seconds(k, steps, every, chars);
    CHECK(steps > 0, "%s: no steps", what);
    CHECK(used <= seconds, "%s: %llu steps take %.2f s of %.2f", what, (unsigned long long)steps,
          used, seconds);
    uint64_t more = steps + steps / 100 + 1;
    CHECK(plan_seconds(k, more, every, chars) > seconds * 0.985,
          "%s: %llu steps would fit too (%.2f s of %.2f): the plan wastes time", what,
          (unsigned long long)more, plan_seconds(k, more, every, chars), seconds);
    CHECK(every >= 1 && steps / every <= 20, "%s: %llu evaluations", what,
          (unsigned long long)(steps / every));
    double evals = ceil((double)steps / (double)every);
    double eval_time = evals * ((double)chars / k->eval_chars_per_second + 2 * k->save_seconds);
    CHECK(eval_time <= 0.04 * seconds + 1e-9 || evals <= 1, "%s: evaluations take %.2f s of %.2f",
          what, eval_time, seconds);
    CHECK(chars >= 4096 || chars == k->val_chars, "%s: evaluations read only %llu characters",
          what, (unsigned long long)chars);
    uint64_t final = plan_final_chars(k, steps, chars);
    CHECK(final >= chars, "%s: the final figures read less (%llu) than an evaluation (%llu)",
          what, (unsigned long long)final, (unsigned long long)chars);
}

int main(void)
{
    /* Half an hour of a 2 x 512 LSTM on tiny-shakespeare, as measured. */
    plan_costs k = costs(5000.0 / 12000, 40000, 0.8, 5000, 55769, 1800);
    check_steps("30 minutes, 2 x 512", &k, 1780);
    /* Five minutes, a small model, a large held-out split. */
    k = costs(2500.0 / 45000, 20000, 0.12, 2500, 1300000, 300);
    check_steps("5 minutes, 2 x 128, large split", &k, 295);
    /* A tiny budget: evaluations get shorter rather than eat the time. */
    k = costs(0.05, 15000, 0.1, 2500, 128000, 20);
    check_steps("20 seconds", &k, 17);
    /* A given cadence is kept. */
    k = costs(0.05, 15000, 0.1, 2500, 128000, 120);
    k.eval_every = 10;
    uint64_t every = 0, chars = 0;
    uint64_t steps = plan_steps(&k, 118, &every, &chars);
    CHECK(every == 10 && steps > 0 && plan_seconds(&k, steps, every, chars) <= 118,
          "eval_every 10 given: every %llu, %llu steps", (unsigned long long)every,
          (unsigned long long)steps);
    /* No time: no steps. */
    k = costs(1.0, 1000, 5, 5000, 100000, 1);
    CHECK(plan_steps(&k, 0.5, NULL, NULL) == 0, "half a second fits a step of one second");

    /* Dropout: none within a pass, then growing with the passes, at most 0.5. */
    CHECK(plan_dropout(0.5) == 0 && plan_dropout(1) == 0, "dropout within the first pass");
    double last = 0;
    for (double e = 1.5; e < 1000; e *= 1.5) {
        double d = plan_dropout(e);
        CHECK(d >= last && d <= 0.5, "dropout %g at %g passes after %g", d, e, last);
        last = d;
    }
    CHECK(fabs(plan_dropout(16) - 0.4) < 1e-9, "dropout at 16 passes: %g", plan_dropout(16));
    CHECK(plan_dropout(NAN) == 0, "dropout for NaN passes");
    CHECK(plan_cooldown(3000, 100) == 900 && plan_cooldown(200, 10) == 60,
          "cooldown: the last 30%%: %llu, %llu", (unsigned long long)plan_cooldown(3000, 100),
          (unsigned long long)plan_cooldown(200, 10));
    CHECK(plan_cooldown(100, 40) == 0 && plan_cooldown(3, 1) == 0 && plan_cooldown(0, 0) == 0,
          "cooldown where the hold would be shorter than the warm-up: %llu",
          (unsigned long long)plan_cooldown(100, 40));
    CHECK(plan_weight_decay(10) == 0 && plan_weight_decay(NAN) == 0, "weight decay below 12 passes");
    CHECK(fabs(plan_weight_decay(12) - 0.1) < 1e-9, "weight decay at 12 passes: %g",
          plan_weight_decay(12));
    CHECK(plan_weight_decay(16.5) > 0.2 && plan_weight_decay(16.5) < 0.25,
          "weight decay at 16.5 passes: %g", plan_weight_decay(16.5));
    CHECK(fabs(plan_weight_decay(20) - 0.3) < 1e-9 && plan_weight_decay(200) == 0.3,
          "weight decay from 20 passes: %g, %g", plan_weight_decay(20), plan_weight_decay(200));
    for (double e = 12; e < 40; e *= 1.1)
        CHECK(plan_weight_decay(e * 1.1) >= plan_weight_decay(e), "weight decay falls at %g", e);

    /* bf16 is taken where it measures at least as fast, not where slower. */
    CHECK(plan_prefers_bf16(0.10, 0.10 / 1.6), "bf16 at 1.6x fp32's speed");
    CHECK(plan_prefers_bf16(0.10, 0.10 / 1.085), "bf16 at 1.085x fp32's speed");
    CHECK(!plan_prefers_bf16(0.10, 0.10 / 0.95), "bf16 at 0.95x fp32's speed");
    CHECK(!plan_prefers_bf16(0.10, 0.10 / 0.6), "bf16 at 0.6x fp32's speed");
    CHECK(!plan_prefers_bf16(0.10, 0), "bf16 not measured");

    /* Weights: a 2 x 128 LSTM, embedding 64, 65 characters (biases left out). */
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.layers = 2, c.hidden = 128, c.embed = 64;
    double w = 65 * 64 + 4 * 128 * (64 + 128) + 4 * 128 * 256 + 128 * 65;
    CHECK(plan_weights(&c, 65) == w, "weights %g, expected %g", plan_weights(&c, 65), w);
    CHECK(plan_work(&c, 65) == w - 65 * 64, "work leaves the embedding table out");
    c.cell = CRNN_CELL_GRU;
    CHECK(plan_weights(&c, 65) < w, "a GRU has fewer weights than an LSTM of its size");

    /* A model fits the time when it trains enough characters per weight, and
     * the corpus when it has enough characters per weight. */
    CHECK(plan_fits(1e6, PLAN_CHARS_PER_WEIGHT * 1e6, 1e6), "enough characters");
    CHECK(!plan_fits(1e6, PLAN_CHARS_PER_WEIGHT * 1e6 * 0.99, 1e6), "too few characters");
    CHECK(!plan_fits(1e6, 1e12, 1e6 / PLAN_WEIGHTS_PER_CHAR * 0.99), "too small a corpus");

    /* The ladder grows. */
    for (int i = 1; i < plan_ladder_size; i++) {
        crnn_train_config a = c, b = c;
        a.layers = plan_ladder[i - 1].layers, a.hidden = plan_ladder[i - 1].hidden;
        a.embed = plan_ladder[i - 1].embed;
        b.layers = plan_ladder[i].layers, b.hidden = plan_ladder[i].hidden;
        b.embed = plan_ladder[i].embed;
        CHECK(plan_weights(&b, 65) > plan_weights(&a, 65), "ladder step %d is not larger", i);
    }
    return check_result("test_plan");
}
