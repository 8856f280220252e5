/*
 * half.h: IEEE binary16 (fp16) and bfloat16 (bf16) conversions, as bits in a
 * uint16_t. Used by the snapshot format for weights exported at half size.
 */
#ifndef CRNN_HALF_H
#define CRNN_HALF_H

#include <stdint.h>

/* fp32 -> fp16 bits, round to nearest even; beyond 65504 gives infinity,
 * NaN stays NaN. */
uint16_t crnn_f32_to_f16(float f);
/* fp16 bits -> fp32, exact (subnormals included). */
float crnn_f16_to_f32(uint16_t h);
/* fp32 -> bf16 bits, round to nearest even; NaN stays NaN. */
uint16_t crnn_f32_to_bf16(float f);
/* bf16 bits -> fp32, exact. */
float crnn_bf16_to_f32(uint16_t h);

#endif
