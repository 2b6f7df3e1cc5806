// dtype.h: the element types nnscope knows, named as PyTorch prints them.
//
// Half-precision types are stored as raw 16-bit patterns; arithmetic widens them to float.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace nnscope {

enum class DType : uint8_t {
    Float32,
    Float64,
    Float16,
    BFloat16,
    Int64,
    Int32,
    Int16,
    Int8,
    UInt8,
    Bool,
    // Storage-only (PyTorch 2.x): listed, shown widened, saved and converted without loss;
    // arithmetic on them is refused (dtype_is_storage_only).
    Float8E4M3FN,
    Float8E5M2,
    UInt16,
    UInt32,
    UInt64,
    Complex64,
    Complex128,
};

inline constexpr DType default_float_dtype = DType::Float32;

// "float32", "int64", ... as in PyTorch's `str(tensor.dtype)` without the "torch." prefix.
std::string_view dtype_name(DType dtype);
// Accepts PyTorch's names and their aliases ("float", "long", "half", ...).
std::optional<DType> dtype_from_name(std::string_view name);
// "F32", "I64", ... as in the safetensors header.
std::string_view dtype_safetensors_code(DType dtype);
std::optional<DType> dtype_from_safetensors_code(std::string_view code);
// "torch.FloatTensor", ... as torch.typename() says for a CPU tensor.
std::string dtype_legacy_type_name(DType dtype, bool cuda);

size_t dtype_size(DType dtype);
bool dtype_is_floating(DType dtype);
bool dtype_is_integral(DType dtype); // bool excluded
// The dtypes nnscope keeps and shows but does not compute with (float8, uint16/32/64).
bool dtype_is_storage_only(DType dtype);
bool dtype_is_complex(DType dtype);
// The dtype of `a op b` for two tensors, PyTorch's torch.promote_types.
DType promote_types(DType a, DType b);

// --- 16-bit float conversions (round to nearest even, as PyTorch's c10::Half/BFloat16).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bfloat16_to_float(uint16_t b) {
    uint32_t bits = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}
uint16_t float_to_bfloat16(float f);

// c10::ScalarType's name ("Float", "Long"), as PyTorch's errors print a dtype.
std::string scalar_type_name(DType d);

} // namespace nnscope
