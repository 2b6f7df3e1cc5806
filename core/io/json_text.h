// json_text.h: JSON text from files, parsed with limits and one-line errors.
//
// Every JSON nnscope reads (model specs, sharded indexes, nnscope's safetensors metadata)
// goes through parse_json(): nesting deeper than the limit, syntax errors and numbers
// that overflow are FormatErrors naming the file, with nlohmann's message shortened
// (no "[json.exception...]" prefix, long tokens cut).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace nnscope {

// Containers inside containers; a spec 64 modules deep (its own limit) needs about 130.
inline constexpr size_t k_max_json_depth = 256;

// Throws FormatError(path, "<what>: <message>").
nlohmann::ordered_json parse_json(std::string_view text, const std::string& path,
                                  const std::string& what, size_t max_depth = k_max_json_depth);

// `s` cut to at most `max` bytes on a UTF-8 boundary, with "..." when cut.
std::string cut_utf8(std::string_view s, size_t max);
// nlohmann's exception text without its "[json.exception.parse_error.101] " prefix (the
// position stays), with the "last read: '...'" token cut short.
std::string shorten_json_error(std::string_view what);

} // namespace nnscope
