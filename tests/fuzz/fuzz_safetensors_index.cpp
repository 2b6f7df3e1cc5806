// fuzz_safetensors_index.cpp: libFuzzer target for sharded safetensors index files
// (model.safetensors.index.json): the input is the index; two valid shards sit beside it.
#include "document.h"
#include "fuzz_common.h"
#include "safetensors.h"

namespace {
void write_shards() {
    using namespace nnscope::safetensors;
    static bool done = false;
    if (done) return;
    done = true;
    float w[6] = {1, 2, 3, 4, 5, 6};
    float b[2] = {0.5f, -0.5f};
    long long n = 7;
    auto dir = nnscope::fuzz::work_dir();
    write_file((dir / "shard-1.safetensors").string(), {},
               {{"0.weight", nnscope::DType::Float32, {2, 3}, w, sizeof w}});
    write_file((dir / "shard-2.safetensors").string(), {},
               {{"0.bias", nnscope::DType::Float32, {2}, b, sizeof b},
                {"1.num_batches_tracked", nnscope::DType::Int64, {}, &n, sizeof n}});
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    write_shards();
    std::string path = nnscope::fuzz::write_input(data, size, "model.safetensors.index.json");
    nnscope::fuzz::expect_clean_refusal([&] { nnscope::open_document(path); });
    return 0;
}
