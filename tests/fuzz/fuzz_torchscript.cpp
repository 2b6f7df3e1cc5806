// fuzz_torchscript.cpp: libFuzzer target for the TorchScript parser and interpreter. The
// input is the top-level code file (code/__torch__.py) of a scripted model: it replaces
// that file in a copy of fixtures/expected/torchscript/net_scripted.pt, which is opened and
// stepped once in train mode under tight limits (0.5 s, 200,000 statements, 64 MiB of
// tensors). Every outcome must be a result or a one-line nnscope error.
#include "autograd.h"
#include "document.h"
#include "fuzz_common.h"
#include "program.h"
#include "torch_zip.h"

namespace {

struct Base {
    std::vector<std::pair<std::string, std::string>> entries;
    std::string code_entry;
};

const Base& base() {
    static const Base b = [] {
        Base out;
        nnscope::torchzip::ZipReader zip(std::string(NNSCOPE_FIXTURES_DIR) +
                                         "/torchscript/net_scripted.pt");
        for (const auto& n : zip.names()) {
            if (n.ends_with("/code/__torch__.py")) out.code_entry = n;
            out.entries.emplace_back(n, zip.read(n, 1 << 24));
        }
        return out;
    }();
    return b;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nnscope;
    const Base& b = base();
    const std::string code(reinterpret_cast<const char*>(data), size);
    std::vector<torchzip::WriteEntry> entries;
    for (const auto& [name, body] : b.entries) {
        const std::string& bytes = name == b.code_entry ? code : body;
        entries.push_back({name, bytes.data(), bytes.size()});
    }
    const std::string path = (fuzz::work_dir() / "model.pt").string();
    torchzip::write_archive(path, entries);
    fuzz::expect_clean_refusal([&] {
        Document doc = open_document(path);
        if (auto* m = dynamic_cast<script::ScriptModule*>(doc.root.get())) {
            m->program()->limits.timeout_s = 0.5;
            m->program()->limits.max_statements = 200'000;
            m->program()->limits.max_bytes = uint64_t(64) << 20;
            m->program()->limits.max_call_depth = 50;
        }
        NoGradGuard no_grad;
        doc.root->forward(ones({2, 3, 6, 6}));
    });
    return 0;
}
