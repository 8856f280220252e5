/*
 * half.c: fp32 to and from the two 16-bit float formats snapshots can store
 * weights in (half.h). Bit manipulation only; no rounding mode or FPU state
 * is consulted, so the results are the same on every machine.
 */
#include <string.h>

#include "half.h"

/* fp32 -> fp16 bits, round to nearest even; overflow gives infinity. */
uint16_t crnn_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, absx = x & 0x7FFFFFFFu;
    if (absx >= 0x7F800000u) /* inf or NaN */
        return (uint16_t)(sign | 0x7C00u | (absx > 0x7F800000u ? 0x200u : 0));
    if (absx >= 0x477FF000u) /* rounds to beyond 65504 */
        return (uint16_t)(sign | 0x7C00u);
    if (absx < 0x38800000u) { /* subnormal or zero in fp16 */
        if (absx < 0x33000000u)
            return (uint16_t)sign;
        uint32_t mant = (absx & 0x7FFFFFu) | 0x800000u;
        int shift = 126 - (int)(absx >> 23); /* value = half * 2^-24 */
        uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((absx - 0x38000000u) >> 13);
    uint32_t rem = absx & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
        half++;
    return (uint16_t)(sign | half);
}

float crnn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, x;
    if (exp == 0) {
        float v = (float)mant * (1.0f / 16777216.0f); /* mant * 2^-24 */
        return sign ? -v : v;
    }
    if (exp == 31)
        x = sign | 0x7F800000u | (mant << 13);
    else
        x = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* fp32 -> bfloat16 bits, round to nearest even (NaN kept NaN). */
uint16_t crnn_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7FFFu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float crnn_bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}
