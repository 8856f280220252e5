/*
 * cell.c: the registry of recurrent cells: which table (cell.h) runs each
 * CRNN_CELL_* code. The cells themselves live in lstm.c, gru.c and rnn.c.
 */
#include "cell.h"
#include "charrnn.h"

const crnn_cell_ops *crnn_cell_for(int code)
{
    switch (code) {
    case CRNN_CELL_LSTM: return &crnn_cell_lstm;
    case CRNN_CELL_GRU: return &crnn_cell_gru;
    case CRNN_CELL_RNN_TANH: return &crnn_cell_rnn_tanh;
    case CRNN_CELL_RNN_RELU: return &crnn_cell_rnn_relu;
    }
    return NULL;
}
