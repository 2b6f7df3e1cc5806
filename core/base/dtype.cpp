// dtype.cpp: names, sizes, promotion and half-precision conversions of nnscope's dtypes.
#include "dtype.h"

#include <string>

#include "half.h"

#include <cmath>

namespace nnscope {

namespace {
struct DTypeInfo {
    DType dtype;
    std::string_view name;
    std::string_view st_code;
    std::string_view legacy; // torch.typename() stem
    size_t size;
};
constexpr DTypeInfo k_dtypes[] = {
    {DType::Float32, "float32", "F32", "FloatTensor", 4},
    {DType::Float64, "float64", "F64", "DoubleTensor", 8},
    {DType::Float16, "float16", "F16", "HalfTensor", 2},
    {DType::BFloat16, "bfloat16", "BF16", "BFloat16Tensor", 2},
    {DType::Int64, "int64", "I64", "LongTensor", 8},
    {DType::Int32, "int32", "I32", "IntTensor", 4},
    {DType::Int16, "int16", "I16", "ShortTensor", 2},
    {DType::Int8, "int8", "I8", "CharTensor", 1},
    {DType::UInt8, "uint8", "U8", "ByteTensor", 1},
    {DType::Bool, "bool", "BOOL", "BoolTensor", 1},
    {DType::Float8E4M3FN, "float8_e4m3fn", "F8_E4M3", "Float8_e4m3fnTensor", 1},
    {DType::Float8E5M2, "float8_e5m2", "F8_E5M2", "Float8_e5m2Tensor", 1},
    {DType::UInt16, "uint16", "U16", "UInt16Tensor", 2},
    {DType::UInt32, "uint32", "U32", "UInt32Tensor", 4},
    {DType::UInt64, "uint64", "U64", "UInt64Tensor", 8},
    {DType::Complex64, "complex64", "C64", "ComplexFloatTensor", 8},
    {DType::Complex128, "complex128", "", "ComplexDoubleTensor", 16}, // no safetensors code
};
const DTypeInfo& info(DType d) {
    return k_dtypes[static_cast<int>(d)];
}
} // namespace

std::string_view dtype_name(DType d) {
    return info(d).name;
}
std::string_view dtype_safetensors_code(DType d) {
    return info(d).st_code;
}
size_t dtype_size(DType d) {
    return info(d).size;
}

std::string dtype_legacy_type_name(DType d, bool cuda) {
    return std::string(cuda ? "torch.cuda." : "torch.") + std::string(info(d).legacy);
}

std::optional<DType> dtype_from_name(std::string_view name) {
    if (name.starts_with("torch.")) name.remove_prefix(6);
    for (const auto& i : k_dtypes)
        if (i.name == name) return i.dtype;
    struct Alias {
        std::string_view name;
        DType dtype;
    };
    static constexpr Alias aliases[] = {
        {"float", DType::Float32}, {"double", DType::Float64}, {"half", DType::Float16},
        {"long", DType::Int64},    {"int", DType::Int32},      {"short", DType::Int16},
    };
    for (const auto& a : aliases)
        if (a.name == name) return a.dtype;
    return std::nullopt;
}

std::optional<DType> dtype_from_safetensors_code(std::string_view code) {
    for (const auto& i : k_dtypes)
        if (!code.empty() && i.st_code == code) return i.dtype;
    return std::nullopt;
}

bool dtype_is_floating(DType d) {
    return d == DType::Float32 || d == DType::Float64 || d == DType::Float16 ||
           d == DType::BFloat16 || d == DType::Float8E4M3FN || d == DType::Float8E5M2;
}
bool dtype_is_storage_only(DType d) {
    return d >= DType::Float8E4M3FN;
}
bool dtype_is_integral(DType d) {
    return !dtype_is_floating(d) && d != DType::Bool && !dtype_is_complex(d);
}
bool dtype_is_complex(DType d) {
    return d == DType::Complex64 || d == DType::Complex128;
}

DType promote_types(DType a, DType b) {
    if (a == b) return a;
    if (a == DType::Bool) return b;
    if (b == DType::Bool) return a;
    bool fa = dtype_is_floating(a), fb = dtype_is_floating(b);
    if (fa && !fb) return a;
    if (fb && !fa) return b;
    if (fa && fb) {
        // float16 with bfloat16 has no common 16-bit type: PyTorch gives float32.
        if ((a == DType::Float16 && b == DType::BFloat16) ||
            (a == DType::BFloat16 && b == DType::Float16))
            return DType::Float32;
        return dtype_size(a) >= dtype_size(b) ? a : b;
    }
    // Both integral. uint8 with a signed type needs the next wider signed type.
    if (a == DType::UInt8 || b == DType::UInt8) {
        DType other = a == DType::UInt8 ? b : a;
        return other == DType::Int8 ? DType::Int16 : other;
    }
    return dtype_size(a) >= dtype_size(b) ? a : b;
}

// --- half precision (core/base/half.h holds the code the GPU kernels share) -------------------

float half_to_float(uint16_t h) {
    return half::to_float(h);
}
uint16_t float_to_half(float f) {
    return half::from_float(f);
}
uint16_t float_to_bfloat16(float f) {
    return half::bf16_from_float(f);
}

std::string scalar_type_name(DType d) {
    // c10::ScalarType names, as PyTorch's casting errors print them.
    switch (d) {
    case DType::Float32:
        return "Float";
    case DType::Float64:
        return "Double";
    case DType::Float16:
        return "Half";
    case DType::BFloat16:
        return "BFloat16";
    case DType::Int64:
        return "Long";
    case DType::Int32:
        return "Int";
    case DType::Int16:
        return "Short";
    case DType::Int8:
        return "Char";
    case DType::UInt8:
        return "Byte";
    case DType::Bool:
        return "Bool";
    case DType::Float8E4M3FN:
        return "Float8_e4m3fn";
    case DType::Float8E5M2:
        return "Float8_e5m2";
    case DType::UInt16:
        return "UInt16";
    case DType::UInt32:
        return "UInt32";
    case DType::UInt64:
        return "UInt64";
    case DType::Complex64:
        return "ComplexFloat";
    case DType::Complex128:
        return "ComplexDouble";
    }
    return "?";
}

} // namespace nnscope
