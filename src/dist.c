/*
 * dist.c: MPI collectives for data-parallel training, or their one-process
 * equivalents when built without MPI (or run without mpirun, where MPI reports
 * one rank: the same code path, bit-identical results).
 */
#include <string.h>

#include "charrnn.h"
#include "dist.h"

#ifdef CRNN_HAVE_MPI
#include <mpi.h>

static int mpi_on(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int crnn_dist_init(int *argc, char ***argv)
{
    if (mpi_on())
        return CRNN_OK;
    return MPI_Init(argc, argv) == MPI_SUCCESS ? CRNN_OK : CRNN_ERR_IO;
}

void crnn_dist_finalize(void)
{
    if (mpi_on())
        MPI_Finalize();
}

void crnn_dist_abort(int code)
{
    if (mpi_on())
        MPI_Abort(MPI_COMM_WORLD, code);
}

int crnn_dist_rank_internal(void)
{
    int r = 0;
    if (mpi_on())
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int crnn_dist_size_internal(void)
{
    int s = 1;
    if (mpi_on())
        MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

/* MPI counts are int: large buffers go in slices. */
#define SLICE ((size_t)1 << 30)

void crnn_dist_sum_floats(float *x, size_t n)
{
    if (crnn_dist_size_internal() == 1)
        return;
    for (size_t off = 0; off < n; off += SLICE) {
        size_t k = n - off < SLICE ? n - off : SLICE;
        MPI_Allreduce(MPI_IN_PLACE, x + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void crnn_dist_sum_doubles(double *x, size_t n)
{
    if (crnn_dist_size_internal() == 1)
        return;
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void crnn_dist_gather_floats(const float *mine, size_t n, float *all)
{
    if (crnn_dist_size_internal() == 1) {
        memcpy(all, mine, sizeof(float) * n);
        return;
    }
    MPI_Gather(mine, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
}

void crnn_dist_gather_u64(const uint64_t *mine, size_t n, uint64_t *all)
{
    if (crnn_dist_size_internal() == 1) {
        memcpy(all, mine, sizeof(uint64_t) * n);
        return;
    }
    MPI_Gather(mine, (int)n, MPI_UINT64_T, all, (int)n, MPI_UINT64_T, 0, MPI_COMM_WORLD);
}

int crnn_dist_any_internal(int flag)
{
    if (crnn_dist_size_internal() == 1)
        return flag != 0;
    int in = flag != 0, out = 0;
    MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
}

int crnn_dist_all_equal_u32(uint32_t value)
{
    if (crnn_dist_size_internal() == 1)
        return 1;
    unsigned long v[2] = {value, ~(unsigned long)value}, r[2];
    MPI_Allreduce(v, r, 2, MPI_UNSIGNED_LONG, MPI_MIN, MPI_COMM_WORLD);
    return r[0] == value && r[1] == ~(unsigned long)value;
}

int crnn_dist_have_mpi(void)
{
    return 1;
}

#else /* one process */

int crnn_dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return CRNN_OK;
}

void crnn_dist_finalize(void) {}
void crnn_dist_abort(int code) { (void)code; }
int crnn_dist_rank_internal(void) { return 0; }
int crnn_dist_size_internal(void) { return 1; }
void crnn_dist_sum_floats(float *x, size_t n) { (void)x; (void)n; }
void crnn_dist_sum_doubles(double *x, size_t n) { (void)x; (void)n; }

void crnn_dist_gather_floats(const float *mine, size_t n, float *all)
{
    memcpy(all, mine, sizeof(float) * n);
}

void crnn_dist_gather_u64(const uint64_t *mine, size_t n, uint64_t *all)
{
    memcpy(all, mine, sizeof(uint64_t) * n);
}

int crnn_dist_any_internal(int flag) { return flag != 0; }
int crnn_dist_all_equal_u32(uint32_t value) { (void)value; return 1; }
int crnn_dist_have_mpi(void) { return 0; }

#endif

int crnn_dist_rank(void) { return crnn_dist_rank_internal(); }
int crnn_dist_size(void) { return crnn_dist_size_internal(); }
int crnn_dist_any(int flag) { return crnn_dist_any_internal(flag); }
