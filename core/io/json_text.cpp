// json_text.cpp: JSON parsing with a nesting limit and one-line errors (json_text.h).
#include "json_text.h"

#include "errors.h"

namespace nnscope {

using json = nlohmann::ordered_json;

// `s` cut to at most `max` bytes on a UTF-8 boundary, with "..." when cut.
std::string cut_utf8(std::string_view s, size_t max) {
    if (s.size() <= max) return std::string(s);
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
    return std::string(s.substr(0, cut)) + "...";
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix (the position
// stays), and with the "last read: '...'" token cut short: it can be a whole long string.
std::string shorten_json_error(std::string_view what) {
    constexpr size_t k_max_message = 300;
    if (what.starts_with("[json.exception.")) {
        size_t close = what.find("] ");
        if (close != std::string_view::npos) what.remove_prefix(close + 2);
    }
    constexpr std::string_view k_last_read = "last read: '";
    constexpr size_t k_max_token = 60;
    size_t start = what.find(k_last_read);
    if (start == std::string_view::npos) return cut_utf8(what, k_max_message);
    start += k_last_read.size();
    size_t end = what.find("'; expected", start);
    if (end == std::string_view::npos) end = what.size() - (what.ends_with("'") ? 1 : 0);
    if (end < start || end - start <= k_max_token) return cut_utf8(what, k_max_message);
    return cut_utf8(std::string(what.substr(0, start)) +
                        cut_utf8(what.substr(start, end - start), k_max_token) +
                        std::string(what.substr(end)),
                    k_max_message);
}

json parse_json(std::string_view text, const std::string& path, const std::string& what,
                size_t max_depth) {
    // nlohmann's parser keeps its own stack; the callback sees each container's depth
    // when it starts and stops the parse by throwing (a callback cannot abort otherwise).
    auto limit = [&](int depth, json::parse_event_t event, json&) {
        if ((event == json::parse_event_t::object_start ||
             event == json::parse_event_t::array_start) &&
            size_t(depth) >= max_depth) {
            throw FormatError(path, what + ": nesting deeper than " + std::to_string(max_depth) +
                                        " levels");
        }
        return true;
    };
    try {
        return json::parse(text.begin(), text.end(), limit);
    } catch (const json::exception& e) {
        throw FormatError(path, what + ": " + shorten_json_error(e.what()));
    }
}

} // namespace nnscope
