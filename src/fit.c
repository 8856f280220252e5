/*
 * fit.c: model and batch sizes suited to a corpus's size, for runs that name
 * none (the command line, the Python package and any other client share
 * this one rule). It decides sizes only: it reads no file (the caller
 * measures the corpus, crnn_corpus_bytes) and checks nothing that
 * crnn_trainer_create checks.
 */
#include "charrnn.h"

int crnn_train_config_fit(crnn_train_config *c, uint64_t corpus_bytes)
{
    double mb = (double)corpus_bytes / 1e6;
    /* Bigger text, bigger model; dropout once the model could overfit. */
    if (mb < 0.2) {
        c->layers = 2, c->hidden = 64, c->embed = 32, c->batch = 16, c->seq = 50;
    } else if (mb < 3) {
        c->layers = 2, c->hidden = 128, c->embed = 64, c->batch = 50, c->seq = 50;
    } else if (mb < 30) {
        c->layers = 2, c->hidden = 256, c->embed = 64, c->batch = 64, c->seq = 100;
        c->dropout = 0.1f;
    } else {
        c->layers = 3, c->hidden = 512, c->embed = 64, c->batch = 64, c->seq = 100;
        c->dropout = 0.2f;
    }
    int wanted = c->batch;
    /* Characters are at most bytes: the training split needs B x (T+1) of them. */
    double train = (double)corpus_bytes * (1.0 - c->val_fraction - c->test_fraction);
    while (c->seq > 8 && train < 4.0 * (c->seq + 1))
        c->seq /= 2;
    int fit = (int)(train / (c->seq + 1));
    if (fit < c->batch && fit >= 1)
        c->batch = fit;
    return wanted;
}
