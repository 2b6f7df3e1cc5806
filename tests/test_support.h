// test_support.h: helpers shared by nnscope's Qt Test suites: reading the PyTorch
// fixtures (tests/fixtures/expected, written by generate.py) and comparing with them.
#pragma once

#include <QtTest/QtTest>

#include <cmath>
#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "errors.h"
#include "tensor.h"

namespace nnscope::test {

using json = nlohmann::ordered_json;

inline std::string fixtures_dir() {
    return NNSCOPE_FIXTURES_DIR;
}

inline json load_fixture(const std::string& name) {
    std::ifstream in(fixtures_dir() + "/" + name);
    if (!in) qFatal("missing fixture %s (run tests/fixtures/generate.py)", name.c_str());
    return json::parse(in);
}

// Fixture numbers: JSON numbers, or "nan" / "inf" / "-inf", or booleans.
inline double fixture_number(const json& v) {
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        if (s == "nan") return NAN;
        return s == "inf" ? INFINITY : -INFINITY;
    }
    if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
    return v.get<double>();
}

inline std::vector<double> fixture_values(const json& arr) {
    std::vector<double> out;
    for (const auto& v : arr) out.push_back(fixture_number(v));
    return out;
}

inline Shape fixture_shape(const json& arr) {
    Shape s;
    for (const auto& v : arr) s.push_back(v.get<int64_t>());
    return s;
}

// A tensor from a fixture {"dtype", "shape", "values"}.
inline Tensor tensor_from_fixture(const json& t) {
    DType d = *dtype_from_name(t["dtype"].get<std::string>());
    Shape shape = fixture_shape(t["shape"]);
    if (dtype_is_integral(d)) {
        std::vector<int64_t> v;
        for (const auto& x : t["values"]) v.push_back(x.get<int64_t>());
        return from_int64s(v, shape, TensorOptions(d));
    }
    return from_doubles(fixture_values(t["values"]), shape, TensorOptions(d));
}

// Element-wise comparison with a relative tolerance; NaN equals NaN, an infinity itself.
inline bool close(const std::vector<double>& got, const std::vector<double>& want,
                  double rtol = 1e-6, double atol = 1e-7, std::string* why = nullptr) {
    if (got.size() != want.size()) {
        if (why) *why = "size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
        return false;
    }
    for (size_t i = 0; i < got.size(); ++i) {
        if (std::isnan(want[i]) && std::isnan(got[i])) continue;
        if (got[i] == want[i]) continue;
        // An infinity matches only itself (inf <= inf would let any finite value pass).
        if (!std::isinf(want[i]) && std::fabs(got[i] - want[i]) <= atol + rtol * std::fabs(want[i]))
            continue;
        if (why)
            *why = "element " + std::to_string(i) + ": " + std::to_string(got[i]) + " vs " +
                   std::to_string(want[i]);
        return false;
    }
    return true;
}

#define NNSCOPE_COMPARE_VALUES(got, want)                                                          \
    do {                                                                                           \
        std::string why_;                                                                          \
        QVERIFY2(::nnscope::test::close((got), (want), 1e-6, 1e-7, &why_), why_.c_str());          \
    } while (0)

// Runs `f` and returns {kind, message} of the nnscope::Error it throws, or {"", ""}.
inline std::pair<std::string, std::string> catch_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return {e.kind(), e.what()};
    }
    return {"", ""};
}

// Compares an outcome with a fixture case {"ok": false, "error_type", "message"}.
#define NNSCOPE_EXPECT_ERROR(fixture_case, body)                                                   \
    do {                                                                                           \
        auto got_ = ::nnscope::test::catch_error([&] { body; });                                   \
        QCOMPARE(QString::fromStdString(got_.first),                                               \
                 QString::fromStdString((fixture_case)["error_type"].get<std::string>()));         \
        QCOMPARE(QString::fromStdString(got_.second),                                              \
                 QString::fromStdString((fixture_case)["message"].get<std::string>()));            \
    } while (0)

inline QStringList qlist(const std::vector<std::string>& v) {
    QStringList l;
    for (const auto& s : v) l << QString::fromStdString(s);
    return l;
}

inline QStringList qlist(const json& arr) {
    QStringList l;
    for (const auto& s : arr) l << QString::fromStdString(s.get<std::string>());
    return l;
}

} // namespace nnscope::test
