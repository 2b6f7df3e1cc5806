// common.cpp: argument parsing and JSON helpers shared by the nnscope-cli commands.
#include "common.h"

#include <cmath>
#include <cstdio>

namespace nnscope::cli {

Args Args::parse(const std::vector<std::string>& argv, bool allow_json) {
    Args a;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& s = argv[i];
        if (s == "--json" && allow_json)
            a.json = true;
        else if (s == "--example") {
            if (i + 1 >= argv.size())
                throw UsageError("--example needs a NAME (see: nnscope-cli examples)");
            a.examples.push_back(argv[++i]);
        } else if (s == "--entry") {
            if (i + 1 >= argv.size())
                throw UsageError("--entry needs a NAME (a checkpoint dict's key)");
            a.entry = argv[++i];
        } else if (s.size() > 1 && s[0] == '-' && s != "-")
            throw UsageError("unknown option '" + s + "'");
        else
            a.positional.push_back(s);
    }
    return a;
}

Document open_source(Args& args, size_t& next, const char* what) {
    if (!args.examples.empty()) {
        std::string name = args.examples.front();
        args.examples.erase(args.examples.begin());
        return open_example(name);
    }
    if (next >= args.positional.size()) throw UsageError(std::string("missing ") + what);
    return open_document(args.positional[next++], args.entry);
}

json shape_json(const Shape& shape) {
    json j = json::array();
    for (int64_t s : shape) j.push_back(s);
    return j;
}

json tensor_values_json(const Tensor& t) {
    json values = json::array();
    if (dtype_is_integral(t.dtype())) {
        for (int64_t v : t.to_int64s()) values.push_back(v);
    } else if (t.dtype() == DType::Bool) {
        for (double v : t.to_doubles()) values.push_back(v != 0);
    } else {
        // JSON has no NaN or infinity: they are written as the strings Python's json
        // module would read back with float(): "nan", "inf", "-inf".
        for (double v : t.to_doubles()) {
            if (std::isnan(v))
                values.push_back("nan");
            else if (std::isinf(v))
                values.push_back(v > 0 ? "inf" : "-inf");
            else
                values.push_back(v);
        }
    }
    return values;
}

std::string human_bytes(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string group_digits(int64_t n) {
    std::string s = std::to_string(n < 0 ? -n : n), out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (i && (s.size() - i) % 3 == 0) out += ',';
        out += s[i];
    }
    return n < 0 ? "-" + out : out;
}

} // namespace nnscope::cli
