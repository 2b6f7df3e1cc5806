// fuzz_safetensors.cpp: libFuzzer target for the safetensors reader: header validation,
// the memory-mapped tensors, nnscope's kinds/modules metadata and the tree built from it.
#include "document.h"
#include "fuzz_common.h"
#include "safetensors.h"
#include "tensor_stats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nnscope;
    fuzz::expect_clean_refusal(
        [&] { safetensors::parse_header(data, size, size, "fuzz.safetensors"); });
    std::string path = fuzz::write_input(data, size, "model.safetensors");
    fuzz::expect_clean_refusal([&] {
        Document doc = open_document(path);
        // Touch every value: statistics read all elements (NaN, Inf, empty tensors).
        for (auto& e : doc.root->tensor_entries()) (void)tensor_stats(e.tensor);
    });
    return 0;
}
