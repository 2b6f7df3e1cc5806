// fuzz_pt.cpp: libFuzzer target for PyTorch .pt files as a whole: the zip container
// (libzip plus nnscope's size and ratio checks), data.pkl, storages and the tree built.
#include "document.h"
#include "fuzz_common.h"
#include "tensor_stats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nnscope;
    std::string path = fuzz::write_input(data, size, "model.pt");
    fuzz::expect_clean_refusal([&] {
        Document doc = open_document(path);
        for (auto& e : doc.root->tensor_entries()) (void)tensor_stats(e.tensor);
    });
    return 0;
}
