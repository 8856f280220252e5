/*
 * dist.h: the few collective operations data-parallel training needs, over MPI
 * when charrnn is built with it, and as one-process no-ops otherwise (so the
 * trainer has one code path). Knows nothing of models or files.
 */
#ifndef CRNN_DIST_H
#define CRNN_DIST_H

#include <stddef.h>
#include <stdint.h>

int crnn_dist_rank_internal(void);
int crnn_dist_size_internal(void);

/* In-place sums across all ranks. */
void crnn_dist_sum_floats(float *x, size_t n);
void crnn_dist_sum_doubles(double *x, size_t n);

/* Gathers n floats (or u64) from every rank into all (rank order) on rank 0;
 * all may be NULL elsewhere. */
void crnn_dist_gather_floats(const float *mine, size_t n, float *all);
void crnn_dist_gather_u64(const uint64_t *mine, size_t n, uint64_t *all);

/* 1 on every rank if any rank passes a non-zero flag. */
int crnn_dist_any_internal(int flag);

/* 1 if every rank holds the same value. */
int crnn_dist_all_equal_u32(uint32_t value);

#endif
