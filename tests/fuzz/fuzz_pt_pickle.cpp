// fuzz_pt_pickle.cpp: libFuzzer target for the pickle VM and the interpretation of what it
// builds (_rebuild_tensor_v2, _rebuild_parameter, OrderedDict, whole modules). Mutating a
// whole .pt rarely gets past the zip's CRCs, so here the input is data.pkl, wrapped in a
// valid archive with four storages of 64 bytes ("0" to "3") and a version entry.
#include <cstring>

#include "document.h"
#include "fuzz_common.h"
#include "pickle.h"
#include "tensor_stats.h"
#include "torch_zip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nnscope;
    fuzz::expect_clean_refusal([&] {
        pickle::ValuePtr v = pickle::load(data, size, "fuzz.pkl");
        (void)pickle::describe(v);
        pickle::release(v);
    });
    static uint8_t storage[64];
    for (int i = 0; i < 64; ++i) storage[i] = uint8_t(i * 37);
    std::string path = (fuzz::work_dir() / "model.pt").string();
    fuzz::expect_clean_refusal([&] {
        torchzip::write_archive(path, {{"archive/data.pkl", data, size},
                                       {"archive/data/0", storage, sizeof storage},
                                       {"archive/data/1", storage, sizeof storage},
                                       {"archive/data/2", storage, sizeof storage},
                                       {"archive/data/3", storage, sizeof storage},
                                       {"archive/version", "3\n", 2}});
        Document doc = open_document(path);
        for (auto& e : doc.root->tensor_entries()) (void)tensor_stats(e.tensor);
    });
    return 0;
}
