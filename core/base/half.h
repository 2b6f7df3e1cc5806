// half.h: float16 and bfloat16 conversions (round to nearest even, as PyTorch's c10::Half
// and c10::BFloat16), written once for the host and for CUDA device code: the CPU backend,
// the simulated device and the CUDA kernels all round the same way.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define NNSCOPE_HD __host__ __device__
#else
#define NNSCOPE_HD
#endif

namespace nnscope::half {

NNSCOPE_HD inline float to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0)
            bits = sign;
        else { // subnormal: renormalise
            int e = -1;
            do {
                ++e;
                mant <<= 1;
            } while ((mant & 0x400) == 0);
            bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
        }
    } else if (exp == 0x1f)
        bits = sign | 0x7f800000u | mant << 13;
    else
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

NNSCOPE_HD inline uint16_t from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, absx = x & 0x7fffffff;
    if (absx >= 0x7f800000)
        return uint16_t(sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0)); // inf, nan
    if (absx >= 0x477ff000) return uint16_t(sign | 0x7c00); // rounds to >= 65520: overflow to inf
    if (absx < 0x38800000) { // subnormal or zero: scale the mantissa into the integer part
        float a;
        memcpy(&a, &absx, 4);
        return uint16_t(sign | uint32_t(rintf(a * 16777216.0f)));
    }
    uint32_t mant_odd = (absx >> 13) & 1;
    absx += 0xc8000fffu + mant_odd; // rebias the exponent and round to nearest even
    return uint16_t(sign | (absx >> 13));
}

NNSCOPE_HD inline float bf16_to_float(uint16_t b) {
    uint32_t bits = uint32_t(b) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

NNSCOPE_HD inline uint16_t bf16_from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return uint16_t((x >> 16) | 0x40); // quiet nan
    return uint16_t((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

} // namespace nnscope::half
