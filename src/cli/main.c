/*
 * main.c: the charrnn program: dispatches to the subcommands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char MAIN_HELP[] =
    "usage: charrnn COMMAND [options]\n"
    "\n"
    "A character-level recurrent language model: train on UTF-8 text, sample from it.\n"
    "\n"
    "Commands:\n"
    "  train CORPUS -o SNAP   train a model (charrnn train --resume SNAP continues one)\n"
    "  sample SNAP            generate text\n"
    "  info SNAP              describe and verify a snapshot\n"
    "  export SNAP -o MODEL   write a sample-only model (fp32, fp16 or bf16)\n"
    "  plot LOG.csv           draw the loss curves of a training log as SVG\n"
    "  eval SNAP FILE...      the model's loss (nats and bits per character) on files\n"
    "                         and directories\n"
    "  serve MODEL...         an OpenAI-compatible HTTP server with a web page\n"
    "  inspect MODEL FILE -o REPORT.html\n"
    "                         a page of what the model predicts on a text and what its\n"
    "                         cells track\n"
    "\n"
    "charrnn COMMAND --help describes each command. charrnn --version prints the version.\n";

/* OpenBLAS chooses its kernels when it loads, from OPENBLAS_CORETYPE or the
 * CPU model; when that choice is weaker than the CPU (an OpenBLAS older than
 * the CPU, or a preset variable), run again once with the variable set. */
static void use_fast_blas_kernels(char **argv)
{
    char core[32];
    if (getenv("CHARRNN_BLAS_RESTART") || getenv("CHARRNN_KEEP_CORETYPE") ||
        !crnn_blas_better_core(core, sizeof core))
        return;
    char why[200];
    const char *preset = getenv("OPENBLAS_CORETYPE");
    snprintf(why, sizeof why, "OpenBLAS chose kernels weaker than this CPU runs%s%.40s%s; "
             "restarted with OPENBLAS_CORETYPE=%s (CHARRNN_KEEP_CORETYPE=1 keeps them)",
             preset ? " (OPENBLAS_CORETYPE was " : "", preset ? preset : "", preset ? ")" : "",
             core);
    setenv("CHARRNN_BLAS_RESTART", why, 1);
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv("/proc/self/exe", argv);
    unsetenv("CHARRNN_BLAS_RESTART"); /* could not: go on with the slower kernels */
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(MAIN_HELP, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train") || !strcmp(cmd, "sample") || !strcmp(cmd, "eval") ||
        !strcmp(cmd, "serve") || !strcmp(cmd, "inspect"))
        use_fast_blas_kernels(argv);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(MAIN_HELP, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        char core[32], engine[160];
        crnn_engine_describe(CRNN_ENGINE_AUTO, engine, sizeof engine);
        printf("charrnn %s\n%s; LSTM training on %s\n", CRNN_VERSION_STRING,
               crnn_backend_description(), engine);
        if (crnn_blas_better_core(core, sizeof core))
            printf("faster kernels for this CPU: OPENBLAS_CORETYPE=%s\n", core);
        return 0;
    }
    if (!strcmp(cmd, "train")) {
        /* Under mpirun (Open MPI, MPICH or any PMI launcher) join the job; a plain
         * run never touches MPI. */
        int launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
        if (launched && crnn_dist_init(&argc, &argv) != CRNN_OK) {
            fprintf(stderr, "charrnn: error: MPI could not start\n");
            return 1;
        }
        if (launched && !crnn_dist_have_mpi())
            fprintf(stderr, "charrnn: warning: started by mpirun but built without MPI: each "
                            "process trains alone (rebuild with libopenmpi-dev installed)\n");
        int rc = cmd_train(argc - 1, argv + 1);
        crnn_dist_finalize();
        return rc;
    }
    if (!strcmp(cmd, "sample"))
        return cmd_sample(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "export"))
        return cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot"))
        return cmd_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(argc - 1, argv + 1);
    fprintf(stderr, "charrnn: unknown command '%s' (see: charrnn --help)\n", cmd);
    return EXIT_USAGE;
}
