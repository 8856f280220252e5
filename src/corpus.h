/*
 * corpus.h: text files as token ids, ready to train on: the files named by a
 * list of files and directories (sources.h), joined in order, empty ones
 * skipped. The text is read in blocks, twice: the first pass checks the UTF-8, computes the CRC and counts
 * the characters (the vocabulary), the second writes each character's id. Ids
 * take 1, 2 or 4 bytes by vocabulary size and go to a cache file that is
 * memory-mapped, so resident memory does not grow with the corpus and a second
 * start skips tokenizing. The cache is reused while every file keeps its size,
 * modification time and inode and the tokenizer options are the same;
 * anything else (or a damaged cache) rebuilds it.
 */
#ifndef CRNN_CORPUS_H
#define CRNN_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"
#include "vocab.h"

typedef struct crnn_corpus_options {
    int lossy;                   /* replace invalid UTF-8 by U+FFFD */
    crnn_normalization normalize;
    int max_vocab;               /* as crnn_vocab_build's max_size */
    const char *cache_dir;       /* where id files go; NULL or "" = keep ids in memory */
    const crnn_vocab *base;      /* fine-tuning: extend this vocabulary (crnn_vocab_extend)
                                    instead of building one; NULL: build one */
} crnn_corpus_options;

/* One file of the corpus, as it was read. */
typedef struct crnn_corpus_file {
    char *path;
    uint64_t bytes;
    uint32_t crc;               /* CRC-32 of its bytes */
    uint64_t inode, device;
    int64_t mtime_sec, mtime_nsec;
} crnn_corpus_file;

typedef struct crnn_corpus {
    crnn_vocab vocab;
    const unsigned char *ids; /* (length * width) token ids, native byte order */
    size_t length;            /* tokens */
    int width;                /* bytes per id: 1, 2 or 4 */
    uint64_t file_bytes;      /* size of the text: every file's, summed */
    uint32_t file_crc;        /* CRC-32 of the files' bytes, joined in order */
    crnn_corpus_file *files;  /* (nfiles) the files with text, in order */
    size_t nfiles;
    size_t empty_files;       /* files skipped because they were empty */
    char *first_empty;        /* the first of them, or NULL */
    size_t distinct;          /* distinct characters before max_vocab */
    size_t unknown;           /* characters mapped to U+FFFD by max_vocab */
    size_t added;             /* symbols appended to options->base */
    char *cache_path;         /* the id file in use, NULL when the ids are in memory */
    int cache_reused;         /* 1: the id file was already there */
    char cache_warning[512];  /* why the cache could not be written ("" if it was) */
    double seconds;           /* spent opening: tokenizing, or mapping the cache */
    void *mapping;            /* mmap of the id file, or NULL */
    size_t mapping_length;
    unsigned char *owned;     /* the ids when they are in memory */
} crnn_corpus;

/* Opens the text of the files and directories paths[0 .. n-1] name
 * (crnn_sources_expand): from a valid cache file, or by tokenizing it (and
 * writing the cache when options->cache_dir allows; failing that, the ids stay
 * in memory and cache_warning says why). No text at all is CRNN_ERR_DATA,
 * invalid UTF-8 CRNN_ERR_UTF8 naming the file, byte offset, line and column. */
int crnn_corpus_open(crnn_corpus *corpus, const char *const *paths, size_t n,
                     const crnn_corpus_options *options, crnn_error *err);

void crnn_corpus_close(crnn_corpus *corpus);

/* Unmaps the pages of the id file from this process (they stay in the page
 * cache; the streams fault in the few they read next), so that resident memory
 * does not grow with the corpus as training walks through it. */
void crnn_corpus_trim(crnn_corpus *corpus);

/* The default cache directory: $CHARRNN_CACHE_DIR, else $XDG_CACHE_HOME/charrnn,
 * else $HOME/.cache/charrnn (NULL if none of them is set). */
const char *crnn_default_cache_dir(char *buf, size_t size);

#endif
