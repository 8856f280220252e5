/*
 * cell.c: the registry of recurrent cells: which table (cell.h) runs each
 * CRNN_CELL_* code, and the cells' names for people and command lines. The
 * cells themselves live in lstm.c, gru.c and rnn.c; a new one is listed here.
 */
#include <string.h>

#include "cell.h"
#include "charrnn.h"

/* Every cell type: its code, its table (which holds its name) and its title. */
static const struct {
    crnn_cell_type type;
    const crnn_cell_ops *ops;
    const char *title;
} cells[] = {
    {CRNN_CELL_LSTM, &crnn_cell_lstm, "LSTM"},
    {CRNN_CELL_GRU, &crnn_cell_gru, "GRU"},
    {CRNN_CELL_RNN_TANH, &crnn_cell_rnn_tanh, "RNN (tanh)"},
    {CRNN_CELL_RNN_RELU, &crnn_cell_rnn_relu, "RNN (ReLU)"},
};

enum { CELL_TYPES = sizeof cells / sizeof cells[0] };

const crnn_cell_ops *crnn_cell_for(int code)
{
    for (int i = 0; i < CELL_TYPES; i++)
        if ((int)cells[i].type == code)
            return cells[i].ops;
    return NULL;
}

const char *crnn_cell_name(crnn_cell_type cell)
{
    const crnn_cell_ops *ops = crnn_cell_for((int)cell);
    return ops ? ops->name : NULL;
}

const char *crnn_cell_title(crnn_cell_type cell)
{
    for (int i = 0; i < CELL_TYPES; i++)
        if (cells[i].type == cell)
            return cells[i].title;
    return "?";
}

int crnn_cell_parse(const char *name, crnn_cell_type *cell)
{
    for (int i = 0; name && i < CELL_TYPES; i++) {
        if (!strcmp(name, cells[i].ops->name)) {
            *cell = cells[i].type;
            return CRNN_OK;
        }
    }
    return CRNN_ERR_ARG;
}
