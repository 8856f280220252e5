/*
 * snapshot.h: the snapshot file format (docs/snapshot-format.md), the only code
 * that turns parameters into bytes and back. A snapshot is a 48-byte header and
 * a zlib-compressed payload of tagged sections; every length is checked against
 * the bytes that remain before anything is allocated.
 */
#ifndef CRNN_SNAPSHOT_H
#define CRNN_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

#define CRNN_FORMAT_MAJOR 1
#define CRNN_FORMAT_MINOR 5 /* 1.1: CONF ends with the forget-gate bias; 1.2: PROG with
                               eval_chars, VOCX and ORIG for fine-tuned models; 1.3: PLAN
                               for runs planned for their time; 1.4: PLAN ends with flags
                               (bf16 products); 1.5: CONF ends with the cooldown */
#define CRNN_HEADER_BYTES 48

/* Everything a snapshot holds, in memory. Arrays are owned by the struct after
 * crnn_snapshot_load (freed by crnn_snapshot_free); for crnn_snapshot_save they
 * are borrowed from the caller. Optional parts may be NULL / 0. */
typedef struct crnn_snapshot {
    unsigned version_major, version_minor; /* filled by load */
    uint64_t file_bytes, payload_bytes;    /* filled by load */

    crnn_train_config config;   /* including the cell type */
    uint32_t *vocab;             /* (vocab_size) code points in token order: increasing
                                    (VOCB), or distinct after fine-tuning extended it (VOCX) */
    int vocab_size;

    char *origin_path;           /* fine-tuned from this snapshot (ORIG), else NULL */
    uint64_t origin_step;        /* ... at its step */
    int origin_vocab;            /* ... whose vocabulary is this one's first origin_vocab */

    char *corpus_path;           /* NUL-terminated */
    uint64_t corpus_bytes;
    uint32_t corpus_crc;
    /* SRCS, for a corpus of several files or directories (else 0 / NULL): */
    char **corpus_args;          /* (n_corpus_args) the paths given to train */
    uint32_t n_corpus_args;
    struct crnn_snapshot_file {
        char *path;
        uint64_t bytes;
        uint32_t crc;
    } *corpus_files;             /* (n_corpus_files) the files read, in order */
    uint32_t n_corpus_files;

    crnn_plan plan;              /* PLAN: how the run was planned (seconds 0: not planned) */

    int has_progress;            /* the PROG section was present */
    uint64_t step, adam_step, best_step;
    double last_val_loss, best_val_loss;
    uint64_t rng[4];
    crnn_run_settings run;

    int weights_dtype;           /* CRNN_WEIGHTS_F32 / F16 / BF16: how PARM is stored */
    float *params;               /* (n_params) fp32 in memory (NULL with params_half) */
    uint16_t *params_half;       /* (n_params) PF16/PB16 bits as stored, with
                                    CRNN_SNAPSHOT_HALF_AS_IS only */
    size_t n_params;
    float *adam_m, *adam_v;      /* (n_params) each, or NULL */
    uint64_t *cursors;           /* (n_cursors) one per stream */
    int n_cursors;
    float *state;                /* (n_state) carried hidden state (L,S,B,H) */
    size_t n_state;
} crnn_snapshot;

/* Writes path atomically (temporary file, fsync, rename). */
int crnn_snapshot_save(const char *path, const crnn_snapshot *snap, crnn_error *err);

/* Reads and validates path into *snap (zeroed first). */
int crnn_snapshot_load(const char *path, crnn_snapshot *snap, crnn_error *err);

/* crnn_snapshot_load_flags flags. */
enum {
    CRNN_SNAPSHOT_HALF_AS_IS = 1, /* weights exported in 16 bits stay so (params_half) */
};
int crnn_snapshot_load_flags(const char *path, unsigned flags, crnn_snapshot *snap,
                             crnn_error *err);

/* The same from bytes in memory (name is used in messages). */
int crnn_snapshot_parse(const unsigned char *bytes, size_t len, const char *name,
                        crnn_snapshot *snap, crnn_error *err);

void crnn_snapshot_free(crnn_snapshot *snap);

#endif
