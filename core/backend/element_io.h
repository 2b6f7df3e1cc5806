// element_io.h: element access and scalar arithmetic for every dtype, written once for
// the host and for CUDA device code. The CPU backend (the reference), the simulated device
// and the CUDA kernels all load, convert, compute and store elements through these
// functions, so they round and saturate identically.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "half.h" // NNSCOPE_HD and the 16-bit float conversions

namespace nnscope::elem {

// Same numbering as nnscope::DType / UnaryOp / BinaryOp / ReduceOp (dtype.h, backend.h);
// op_table.cpp static_asserts that every op code equals its enum value. Plain ints, as
// CUDA compiles this file (C++17) without the core headers.
enum : int {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
    F8E4M3,
    F8E5M2,
    U16,
    U32,
    U64,
    C64,
    C128
};
enum : int { U_NEG, U_ABS, U_SQRT, U_EXP, U_LOG, U_RELU, U_SIGMOID, U_TANH, U_ERF, U_STEP, U_SIGN };
enum : int { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_POW };
enum : int { R_SUM, R_MEAN, R_VAR, R_MIN, R_MAX, R_NORM2, R_COUNT_NAN, R_COUNT_INF };

NNSCOPE_HD inline int dtype_bytes(int t) {
    switch (t) {
    case C128:
        return 16;
    case F64:
    case I64:
    case U64:
    case C64:
        return 8;
    case F32:
    case I32:
    case U32:
        return 4;
    case F16:
    case BF16:
    case I16:
    case U16:
        return 2;
    default:
        return 1;
    }
}

NNSCOPE_HD inline bool is_floating(int t) {
    return t == F32 || t == F64 || t == F16 || t == BF16 || t == F8E4M3 || t == F8E5M2;
}

// --- 16-bit floats: core/base/half.h, the same code the CPU backend uses ----------------------

NNSCOPE_HD inline float half_to_float(uint16_t h) {
    return half::to_float(h);
}
NNSCOPE_HD inline uint16_t float_to_half(float f) {
    return half::from_float(f);
}
NNSCOPE_HD inline float bf16_to_float(uint16_t b) {
    return half::bf16_to_float(b);
}
NNSCOPE_HD inline uint16_t float_to_bf16(float f) {
    return half::bf16_from_float(f);
}

// --- loads and stores
// ------------------------------------------------------------------------------

NNSCOPE_HD inline double load_f(const char* p, int t) {
    switch (t) {
    case F32: {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    case F64: {
        double v;
        memcpy(&v, p, 8);
        return v;
    }
    case F16: {
        uint16_t v;
        memcpy(&v, p, 2);
        return half_to_float(v);
    }
    case BF16: {
        uint16_t v;
        memcpy(&v, p, 2);
        return bf16_to_float(v);
    }
    case I64: {
        int64_t v;
        memcpy(&v, p, 8);
        return double(v);
    }
    case I32: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case I16: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case I8:
        return *reinterpret_cast<const int8_t*>(p);
    case U8:
        return *reinterpret_cast<const uint8_t*>(p);
    // The storage-only dtypes are only ever widened (to show them).
    case F8E4M3: { // 1 sign, 4 exponent (bias 7), 3 mantissa; no infinities, S.1111.111 is NaN
        const uint8_t b = *reinterpret_cast<const uint8_t*>(p);
        const int e = (b >> 3) & 15, m = b & 7;
        const double sign = (b & 0x80) ? -1.0 : 1.0;
        if (e == 15 && m == 7) return NAN;
        if (e == 0) return sign * ldexp(double(m) / 8.0, -6);
        return sign * ldexp(1.0 + double(m) / 8.0, e - 7);
    }
    case F8E5M2: // the top byte of a float16
        return half_to_float(uint16_t(uint16_t(*reinterpret_cast<const uint8_t*>(p)) << 8));
    case U16: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case U32: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case U64: {
        uint64_t v;
        memcpy(&v, p, 8);
        return double(v);
    }
    case C64: { // widened to its real part (view_as_real gives both)
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    case C128: {
        double v;
        memcpy(&v, p, 8);
        return v;
    }
    default:
        return *p != 0 ? 1.0 : 0.0;
    }
}

NNSCOPE_HD inline int64_t saturate(double v) {
    if (v != v) return INT64_MIN;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return int64_t(v);
}

NNSCOPE_HD inline int64_t load_i(const char* p, int t) {
    switch (t) {
    case I64: {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    case I32: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case I16: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case I8:
        return *reinterpret_cast<const int8_t*>(p);
    case U8:
        return *reinterpret_cast<const uint8_t*>(p);
    case BOOL:
        return *p != 0;
    default:
        return saturate(load_f(p, t));
    }
}

NNSCOPE_HD inline void store_i(char* p, int t, int64_t v) {
    switch (t) {
    case I64:
        memcpy(p, &v, 8);
        return;
    case I32: {
        int32_t x = int32_t(v);
        memcpy(p, &x, 4);
        return;
    }
    case I16: {
        int16_t x = int16_t(v);
        memcpy(p, &x, 2);
        return;
    }
    case I8:
        *reinterpret_cast<int8_t*>(p) = int8_t(v);
        return;
    case U8:
        *reinterpret_cast<uint8_t*>(p) = uint8_t(v);
        return;
    case BOOL:
        *p = v != 0;
        return;
    case F32: {
        float f = float(v);
        memcpy(p, &f, 4);
        return;
    }
    case F64: {
        double d = double(v);
        memcpy(p, &d, 8);
        return;
    }
    case F16: {
        uint16_t h = float_to_half(float(v));
        memcpy(p, &h, 2);
        return;
    }
    default: {
        uint16_t h = float_to_bf16(float(v));
        memcpy(p, &h, 2);
        return;
    }
    }
}

NNSCOPE_HD inline void store_f(char* p, int t, double v) {
    switch (t) {
    case F32: {
        float f = float(v);
        memcpy(p, &f, 4);
        return;
    }
    case F64:
        memcpy(p, &v, 8);
        return;
    case F16: {
        uint16_t h = float_to_half(float(v));
        memcpy(p, &h, 2);
        return;
    }
    case BF16: {
        uint16_t h = float_to_bf16(float(v));
        memcpy(p, &h, 2);
        return;
    }
    case BOOL:
        *p = v != 0;
        return;
    default:
        store_i(p, t, saturate(v));
        return;
    }
}

// Rounds a double to the precision of `compute`, so results equal the CPU backend's.
NNSCOPE_HD inline double round_to(int compute, double v) {
    switch (compute) {
    case F32:
        return double(float(v));
    case F16:
        return double(half_to_float(float_to_half(float(v))));
    case BF16:
        return double(bf16_to_float(float_to_bf16(float(v))));
    default:
        return v;
    }
}

// --- scalar math
// ------------------------------------------------------------------------------------

NNSCOPE_HD inline double unary_f(int op, double x) {
    switch (op) {
    case U_NEG:
        return -x;
    case U_ABS:
        return fabs(x);
    case U_SQRT:
        return sqrt(x);
    case U_EXP:
        return exp(x);
    case U_LOG:
        return log(x);
    case U_RELU:
        return x > 0 ? x : (x != x ? x : 0.0);
    case U_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case U_TANH:
        return tanh(x);
    case U_ERF:
        return erf(x);
    case U_STEP:
        return x > 0 ? 1.0 : 0.0;
    default:
        return x > 0 ? 1.0 : x < 0 ? -1.0 : (x != x ? x : 0.0);
    }
}

NNSCOPE_HD inline double binary_f(int op, double a, double b) {
    switch (op) {
    case B_ADD:
        return a + b;
    case B_SUB:
        return a - b;
    case B_MUL:
        return a * b;
    case B_DIV:
        return a / b;
    case B_MAX:
        return (a != a || b != b) ? NAN : (a > b ? a : b);
    case B_MIN:
        return (a != a || b != b) ? NAN : (a < b ? a : b);
    default:
        return pow(a, b);
    }
}

NNSCOPE_HD inline int64_t binary_i(int op, int64_t a, int64_t b) {
    switch (op) {
    case B_ADD:
        return int64_t(uint64_t(a) + uint64_t(b));
    case B_SUB:
        return int64_t(uint64_t(a) - uint64_t(b));
    case B_MUL:
        return int64_t(uint64_t(a) * uint64_t(b));
    case B_MAX:
        return a > b ? a : b;
    case B_MIN:
        return a < b ? a : b;
    case B_POW: {
        if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
        int64_t r = 1;
        while (b) {
            if (b & 1) r = int64_t(uint64_t(r) * uint64_t(a));
            a = int64_t(uint64_t(a) * uint64_t(a));
            b >>= 1;
        }
        return r;
    }
    default:
        return b == 0 ? 0 : a / b;
    }
}

} // namespace nnscope::elem
