// pickle_writer.h: writes pickles of protocol 2 with the opcodes torch's weights_only
// unpickler accepts (what torch.save writes for a state dict). The reader is pickle.h's.
#pragma once

#include <cstdint>
#include <string>

#include "pickle_opcodes.h"
#include "tensor.h"

namespace nnscope::pickle {

// Appends opcodes and their arguments to `out`; the caller composes the value.
class PickleWriter {
  public:
    std::string out;
    void op(uint8_t c) { out.push_back(char(c)); }
    void proto() {
        op(PROTO);
        op(2);
    }
    void global(const std::string& module, const std::string& name) {
        op(GLOBAL);
        out += module + "\n" + name + "\n";
    }
    void str(const std::string& s) {
        op(BINUNICODE);
        uint32_t n = uint32_t(s.size());
        for (int i = 0; i < 4; ++i) out.push_back(char((n >> (8 * i)) & 0xff));
        out += s;
    }
    void integer(int64_t v) {
        if (v >= 0 && v < 256) {
            op(BININT1);
            out.push_back(char(v));
        } else if (v >= 0 && v < 65536) {
            op(BININT2);
            out.push_back(char(v & 0xff));
            out.push_back(char(v >> 8));
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
            op(BININT);
            uint32_t u = uint32_t(int32_t(v));
            for (int i = 0; i < 4; ++i) out.push_back(char((u >> (8 * i)) & 0xff));
        } else { // LONG1: 8 bytes two's complement
            op(LONG1);
            op(8);
            uint64_t u = uint64_t(v);
            for (int i = 0; i < 8; ++i) out.push_back(char((u >> (8 * i)) & 0xff));
        }
    }
    void int_tuple(const Shape& s) {
        if (s.empty()) {
            op(EMPTY_TUPLE);
            return;
        }
        op(MARK);
        for (int64_t x : s) integer(x);
        op(TUPLE);
    }
    void ordered_dict() {
        global("collections", "OrderedDict");
        op(EMPTY_TUPLE);
        op(REDUCE);
    }
};

} // namespace nnscope::pickle
