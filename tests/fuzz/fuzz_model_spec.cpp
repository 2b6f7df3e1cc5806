// fuzz_model_spec.cpp: libFuzzer target for JSON model specs (structure, types,
// hyper-parameters, declared tensors and their initialisers, nesting depth).
#include "fuzz_common.h"
#include "model_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    // A spec may ask for 16 GiB by default; the fuzzer's memory budget is 2 GiB.
    nnscope::fuzz::expect_clean_refusal(
        [&] { nnscope::parse_model_spec(text, "fuzz.json", std::nullopt, uint64_t(64) << 20); });
    return 0;
}
