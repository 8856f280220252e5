/*
 * test_mpi.c: data-parallel training against one process. Modes:
 *   test_mpi reference DIR   one process: 50 steps on DIR/corpus.txt, losses to
 *                            DIR/reference.bin
 *   test_mpi check DIR       under mpirun: the same 50 steps, losses equal to the
 *                            reference to 1e-5 relative; the weights checksum agrees
 *   test_mpi save DIR        under mpirun: 25 steps, snapshot DIR/half.crnn
 *   test_mpi resume DIR      under any rank count: resume DIR/half.crnn to step 50,
 *                            losses equal to the reference's
 *   test_mpi drift DIR       under mpirun -np 2: rank 1 resumes from a snapshot with
 *                            one weight changed; the replica check must catch it
 * Exit status 0 on success (on every rank).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charrnn.h"
#include "check.h"
#include "snapshot.h"

enum { STEPS = 50, HALF = 25 };

static crnn_train_config config(void)
{
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.layers = 2;
    c.hidden = 32;
    c.embed = 8;
    c.batch = 12; /* divides among 1, 2, 3, 4 and 6 processes */
    c.seq = 16;
    return c;
}

static void path_in(char *out, const char *dir, const char *name)
{
    snprintf(out, 1024, "%s/%s", dir, name);
}

static int run_steps(crnn_trainer *t, int from, int to, double *losses)
{
    crnn_error err = {0};
    for (int i = from; i < to; i++) {
        if (crnn_trainer_step(t, &losses[i], &err) != CRNN_OK) {
            fprintf(stderr, "step %d: %s\n", i, err.message);
            return 1;
        }
    }
    return 0;
}

static void compare(const double *got, const char *ref_path, int from)
{
    double ref[STEPS];
    FILE *f = fopen(ref_path, "rb");
    CHECK(f && fread(ref, sizeof ref, 1, f) == 1, "cannot read %s", ref_path);
    if (f)
        fclose(f);
    double worst = 0;
    for (int i = from; i < STEPS; i++)
        worst = fmax(worst, fabs(got[i] - ref[i]) / fabs(ref[i]));
    CHECK(worst <= 1e-5, "losses differ from one process by %.3g relative", worst);
    if (crnn_dist_rank() == 0)
        fprintf(stderr, "mpi: %d processes: steps %d..%d match one process to %.2g relative "
                        "(final loss %.6f)\n",
                crnn_dist_size(), from + 1, STEPS, worst, got[STEPS - 1]);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_mpi reference|check|save|resume|drift DIR\n");
        return 2;
    }
    crnn_dist_init(&argc, &argv);
    crnn_set_threads(1);
    const char *mode = argv[1], *dir = argv[2];
    char corpus[1024], ref[1024], half[1024], bad[1024];
    path_in(corpus, dir, "corpus.txt");
    path_in(ref, dir, "reference.bin");
    path_in(half, dir, "half.crnn");
    path_in(bad, dir, "drifted.crnn");
    crnn_train_config c = config();
    crnn_error err = {0};
    double losses[STEPS] = {0};
    crnn_trainer *t = NULL;
    if (!strcmp(mode, "reference") || !strcmp(mode, "check") || !strcmp(mode, "save")) {
        t = crnn_trainer_create(corpus, &c, NULL, &err);
        CHECK(t, "%s", err.message);
        if (t && !strcmp(mode, "save")) {
            check_failures += run_steps(t, 0, HALF, losses);
            CHECK_OK(crnn_trainer_save(t, half, &err), err);
        } else if (t) {
            check_failures += run_steps(t, 0, STEPS, losses);
            CHECK_OK(crnn_trainer_check_replicas(t, &err), err);
            if (!strcmp(mode, "reference")) {
                FILE *f = fopen(ref, "wb");
                CHECK(f && fwrite(losses, sizeof losses, 1, f) == 1, "cannot write %s", ref);
                if (f)
                    fclose(f);
            } else {
                compare(losses, ref, 0);
            }
        }
    } else if (!strcmp(mode, "resume")) {
        t = crnn_trainer_resume(half, NULL, NULL, &err);
        CHECK(t, "%s", err.message);
        if (t) {
            check_failures += run_steps(t, HALF, STEPS, losses);
            compare(losses, ref, HALF);
        }
    } else if (!strcmp(mode, "drift")) {
        if (crnn_dist_rank() == 0) {
            crnn_snapshot s;
            CHECK_OK(crnn_snapshot_load(half, &s, &err), err);
            s.params[7] += 1e-3f;
            CHECK_OK(crnn_snapshot_save(bad, &s, &err), err);
            crnn_snapshot_free(&s);
        }
        crnn_dist_any(0); /* the file exists before rank 1 reads it */
        t = crnn_trainer_resume(crnn_dist_rank() == 1 ? bad : half, NULL, NULL, &err);
        CHECK(t, "%s", err.message);
        if (t) {
            int rc = crnn_trainer_check_replicas(t, &err);
            CHECK(rc == CRNN_ERR_NUMERIC && strstr(err.message, "differ"),
                  "drifted weights went unnoticed (%d)", rc);
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        check_failures++;
    }
    crnn_trainer_free(t);
    int failed = crnn_dist_any(check_failures != 0);
    crnn_dist_finalize();
    if (failed && !check_failures)
        fprintf(stderr, "test_mpi: another rank failed\n");
    return failed ? 1 : check_result("test_mpi");
}
