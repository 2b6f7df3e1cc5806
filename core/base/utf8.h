// utf8.h: the one strict UTF-8 check and encoder that every text reader uses (pickle
// strings, safetensors headers, TorchScript code files).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nnscope {

// Offset of the first byte that does not start a valid UTF-8 sequence, or npos. Strict
// like Python's and Rust's decoders: no overlong forms, no surrogates, nothing above U+10FFFF.
size_t find_invalid_utf8(std::string_view s);
inline bool valid_utf8(std::string_view s) {
    return find_invalid_utf8(s) == std::string_view::npos;
}
// Appends code point `cp` as UTF-8; a lone surrogate becomes U+FFFD.
void append_utf8(std::string& out, uint32_t cp);

} // namespace nnscope
