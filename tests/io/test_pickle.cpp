// test_pickle.cpp: the inert pickle machine (core/io/pickle.cpp): Python's pickles of
// every protocol and torch.save's data.pkl read into the expected values (compared as
// describe() text with pickle_cases.py's expectations), shared references kept shared,
// hostile files refused with the right message, limits enforced, and no crash on any
// truncation or corruption of a real pickle.
#include "../test_support.h"

#include <fstream>

#include "pickle.h"

using namespace nnscope;
using namespace nnscope::test;
using namespace nnscope::pickle;
using namespace std::string_literals;

namespace {

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) qFatal("missing fixture %s (run tests/fixtures/generate.py)", path.c_str());
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string pickle_path(const std::string& file) {
    return fixtures_dir() + "/pickles/" + file;
}

ValuePtr load_bytes(const std::string& bytes, const Limits& limits = {}) {
    return load(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.pkl", limits);
}

ValuePtr load_fixture_pickle(const std::string& file) {
    std::string path = pickle_path(file);
    std::string bytes = file_bytes(path);
    return load(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

// The message of the FormatError that loading `bytes` throws, or "(no error)".
std::string load_error(const std::string& bytes, const Limits& limits = {}) {
    try {
        ValuePtr v = load_bytes(bytes, limits);
        release(v);
    } catch (const FormatError& e) {
        return e.what();
    }
    return "(no error)";
}

// Loads `bytes`; true when it gave a value or threw a FormatError (anything else fails).
bool loads_or_refuses(const std::string& bytes) {
    try {
        ValuePtr v = load_bytes(bytes);
        describe(v, 6);
        release(v);
    } catch (const FormatError&) {
    }
    return true;
}

ValuePtr value_of(Kind k) {
    auto v = std::make_shared<Value>();
    v->kind = k;
    return v;
}

ValuePtr int_value(int64_t i) {
    auto v = value_of(Kind::Int);
    v->i = i;
    return v;
}

ValuePtr text_value(Kind k, const std::string& s) {
    auto v = value_of(k);
    v->s = s;
    return v;
}

const ValuePtr& dict_get(const Value& d, const std::string& key) {
    for (const auto& [k, v] : d.dict)
        if (k->is(Kind::String) && k->s == key) return v;
    qFatal("key %s not found", key.c_str());
}

QString q(const std::string& s) {
    return QString::fromStdString(s);
}

} // namespace

class TestPickle : public QObject {
    Q_OBJECT

  private slots:
    // Every case of pickle_cases.py: the expected describe() text, or the error.
    void fixture_cases() {
        json cases = load_fixture("pickles.json");
        QVERIFY(cases.size() >= 20);
        for (const auto& c : cases) {
            const std::string file = c["file"].get<std::string>();
            const int depth = c.contains("depth") ? c["depth"].get<int>() : 3;
            std::string got, error;
            try {
                ValuePtr v = load_fixture_pickle(file);
                got = describe(v, depth);
                release(v);
            } catch (const FormatError& e) {
                error = e.what();
            }
            const std::string where = file + ": " + (error.empty() ? got : error);
            if (c.contains("error")) {
                const std::string want = c["error"].get<std::string>();
                QVERIFY2(!error.empty(), (file + ": no error, want " + want).c_str());
                QVERIFY2(error.find(want) != std::string::npos,
                         (where + "\n   want: " + want).c_str());
                QVERIFY2(error.starts_with(pickle_path(file) + ": pickle: "), where.c_str());
            } else if (c.contains("contains")) {
                QVERIFY2(error.empty(), where.c_str());
                for (const auto& part : c["contains"]) {
                    const std::string want = part.get<std::string>();
                    QVERIFY2(got.find(want) != std::string::npos,
                             (where + "\n   want: " + want).c_str());
                }
            } else {
                QVERIFY2(error.empty(), where.c_str());
                QCOMPARE(q(got), q(c["expect"].get<std::string>()));
            }
        }
    }

    // Memo entries are the same value, not copies: tensors share storages this way.
    void shared_references_stay_shared() {
        ValuePtr v = load_fixture_pickle("shared.pkl");
        QVERIFY(v->is(Kind::Dict));
        const ValuePtr& x = dict_get(*v, "x");
        QVERIFY(x->is(Kind::List));
        QCOMPARE(dict_get(*v, "y").get(), x.get());
        const ValuePtr& t = dict_get(*v, "t");
        QCOMPARE(t->items.size(), size_t(2));
        QCOMPARE(t->items[0].get(), x.get());
        QCOMPARE(t->items[1].get(), x.get());

        ValuePtr n = load_fixture_pickle("nested_proto0.pkl");
        const ValuePtr& shared = dict_get(*n, "shared");
        QCOMPARE(shared->items[0].get(), shared->items[1].get());
        QCOMPARE(dict_get(*shared->items[2], "k").get(), shared->items[0].get());
    }

    void recursive_list_contains_itself() {
        ValuePtr v = load_fixture_pickle("recursive.pkl");
        QVERIFY(v->is(Kind::List));
        QCOMPARE(v->items.size(), size_t(2));
        QCOMPARE(v->items[1].get(), v.get());
        // describe() stops at its depth, however deep it is asked to go, and stays short.
        QCOMPARE(q(describe(v, 1)), QString("[1, [...]]"));
        std::string deep = describe(v, 1'000'000);
        QVERIFY(deep.size() < 20'000);
        release(v); // frees the cycle
        QVERIFY(!v);
    }

    // A torch state dict's data.pkl, as torch_pt.cpp will walk it.
    void torch_state_dict_structure() {
        ValuePtr v = load_fixture_pickle("torch_state_dict.pkl");
        QVERIFY(v->is(Kind::Object));
        QCOMPARE(q(v->qualified_name()), QString("collections.OrderedDict"));
        QVERIFY(v->args && v->args->is(Kind::Tuple) && v->args->items.empty());
        QVERIFY(v->state && v->state->is(Kind::Dict));
        QCOMPARE(v->dict.size(), size_t(7));
        QCOMPARE(q(v->dict[0].first->s), QString("0.weight"));
        const Value& t = *v->dict[0].second;
        QVERIFY(t.is(Kind::Object));
        QCOMPARE(q(t.qualified_name()), QString("torch._utils._rebuild_tensor_v2"));
        QCOMPARE(t.args->items.size(), size_t(6));
        const Value& pid = *t.args->items[0];
        QVERIFY(pid.is(Kind::PersistentId));
        QVERIFY(pid.pid->is(Kind::Tuple));
        const auto& key = pid.pid->items;
        QCOMPARE(key.size(), size_t(5));
        QCOMPARE(q(key[0]->s), QString("storage"));
        QVERIFY(key[1]->is(Kind::Global));
        QCOMPARE(q(key[1]->qualified_name()), QString("torch.FloatStorage"));
        QCOMPARE(q(key[2]->s), QString("0"));
        QCOMPARE(q(key[3]->s), QString("cpu"));
        QCOMPARE(key[4]->i, int64_t(6));
        // size (3, 2), stride (2, 1)
        QCOMPARE(q(describe(t.args->items[2])), QString("(3, 2)"));
        QCOMPARE(q(describe(t.args->items[3])), QString("(2, 1)"));
    }

    void opcodes_by_hand() {
        // Protocol 0 objects: INST and OBJ record the class and the arguments.
        QCOMPARE(q(describe(load_bytes("(I1\nI2\nimymod\nMyCls\n."))),
                 QString("mymod.MyCls(1, 2)"));
        QCOMPARE(q(describe(load_bytes("(cmymod\nMyCls\nI1\no."))), QString("mymod.MyCls(1)"));
        // NEWOBJ_EX keeps the keyword arguments.
        QCOMPARE(q(describe(load_bytes("\x80\x04\x8c\x01m\x8c\x01"
                                       "C\x93)}\x8c\x01k\x8c\x01vs\x92."))),
                 QString("m.C(k='v')"));
        // APPENDS and SETITEMS on an object, then BUILD.
        QCOMPARE(q(describe(load_bytes("\x80\x02"
                                       "cm\nC\n)R(K\x01K\x02"
                                       "e}(K\x01K\x02"
                                       "ub."))),
                 QString("m.C(state={1: 2}, list=[1, 2])"));
        // PERSID reads a text line; BINPERSID takes the stack's top.
        QCOMPARE(q(describe(load_bytes("Pabc\n."))), QString("persistent_id('abc')"));
        QCOMPARE(q(describe(load_bytes("\x80\x02X\x03\x00\x00\x00keyQ."s))),
                 QString("persistent_id('key')"));
        // Text opcodes: booleans as INT 00/01, LONG's L, quoted STRING, raw-unicode-escape.
        QCOMPARE(q(describe(load_bytes("I01\nI00\nL-123456789012345678L\n\x87."))),
                 QString("(True, False, -123456789012345678)"));
        QCOMPARE(q(describe(load_bytes("S'a\\x41\\'b\\n'\np0\n."))), QString("'aA\\'b\\n'"));
        QCOMPARE(q(describe(load_bytes("V\\u00e9\\U0001f600\xe9\n."))),
                 QString::fromUtf8("'\xc3\xa9\xf0\x9f\x98\x80\xc3\xa9'"));
        QCOMPARE(q(describe(load_bytes("F1e500\nF-1e-500\nF0.5\n\x87."))),
                 QString("(inf, -0.0, 0.5)"));
        // LONG1 sign extension; DUP shares; POP at a MARK drops the mark.
        QCOMPARE(q(describe(load_bytes("\x80\x02\x8a\x09" + std::string(9, '\xff') + "."))),
                 QString("-1"));
        ValuePtr dup = load_bytes("\x80\x02]\x32\x86.");
        QCOMPARE(dup->items[0].get(), dup->items[1].get());
        QCOMPARE(q(describe(load_bytes("\x80\x02K\x01(K\x02K\x03"
                                       "1(0."))),
                 QString("1"));
        // Data after STOP is ignored.
        QCOMPARE(q(describe(load_bytes("\x80\x02K\x07.garbage\xff"))), QString("7"));
    }

    void hostile_by_hand() {
        auto err = [](const std::string& bytes) { return q(load_error(bytes)); };
        QCOMPARE(err(""), QString("t.pkl: pickle: truncated: no STOP opcode at byte 0"));
        QCOMPARE(err("."), QString("t.pkl: pickle: stack underflow in STOP at byte 0"));
        QCOMPARE(err("\x80\x06N."), QString("t.pkl: pickle: unsupported protocol 6 at byte 0"));
        QCOMPARE(err("\x80\x02X\xff\xff\xff\xff"
                     "abc."),
                 QString("t.pkl: pickle: truncated BINUNICODE: length 4294967295 exceeds the 4 "
                         "bytes left at byte 2"));
        QCOMPARE(
            err("\x80\x04\x95\xe8\x03\0\0\0\0\0\0N."s),
            QString(
                "t.pkl: pickle: truncated FRAME: length 1000 exceeds the 2 bytes left at byte 2"));
        QCOMPARE(err("\x80\x02J\x01"), QString("t.pkl: pickle: truncated BININT at byte 2"));
        QCOMPARE(err("I12"), QString("t.pkl: pickle: truncated INT (no end of line) at byte 0"));
        QCOMPARE(err("I12x\n."), QString("t.pkl: pickle: invalid INT argument '12x' at byte 0"));
        QCOMPARE(err("I99999999999999999999\n."),
                 QString("t.pkl: pickle: integer does not fit in 64 bits at byte 0"));
        QCOMPARE(err("\x80\x02\x8b\xff\xff\xff\xff."),
                 QString("t.pkl: pickle: negative LONG4 byte count at byte 2"));
        QCOMPARE(
            err("\x80\x02\x83\x01\x02."),
            QString("t.pkl: pickle: extension registry unsupported (EXT2 code 513) at byte 2"));
        QCOMPARE(
            err("\x80\x05\x98."),
            QString("t.pkl: pickle: out-of-band buffers unsupported (READONLY_BUFFER) at byte 2"));
        QCOMPARE(err("\x80\x04K\x01K\x02\x93."),
                 QString("t.pkl: pickle: STACK_GLOBAL requires str at byte 6"));
        QCOMPARE(err("\x80\x02]}b."), QString("t.pkl: pickle: BUILD on a list at byte 4"));
        QCOMPARE(err("\x80\x02K\x01K\x02"
                     "a."),
                 QString("t.pkl: pickle: APPEND to a int at byte 6"));
        QCOMPARE(err("\x80\x02"
                     "cm\nC\n]\x81."),
                 QString("t.pkl: pickle: NEWOBJ arguments are not a tuple (got list) at byte 8"));
        QCOMPARE(err("(K\x01"
                     "d."),
                 QString("t.pkl: pickle: odd number of items for DICT at byte 3"));
        QCOMPARE(err("\x80\x02]((e."),
                 QString("t.pkl: pickle: stack underflow in APPENDS at byte 5"));
        QCOMPARE(err("\x80\x04\x8c\x02\xff\xfe."),
                 QString("t.pkl: pickle: invalid UTF-8 in SHORT_BINUNICODE at byte 2"));
        QCOMPARE(err("p1\n."), QString("t.pkl: pickle: stack underflow in PUT at byte 0"));
        QCOMPARE(err("Np-1\n."), QString("t.pkl: pickle: negative PUT argument at byte 1"));
        QCOMPARE(err("g7\n."), QString("t.pkl: pickle: memo key 7 not found at byte 0"));
        // Exactly max_depth deep is fine, one more is not.
        QCOMPARE(q(describe(load_bytes("\x80\x02)" + std::string(999, '\x85') + "."))),
                 QString("((((...),),),)"));
        QCOMPARE(err("\x80\x02)" + std::string(1000, '\x85') + "."),
                 QString("t.pkl: pickle: nesting deeper than 1000 at byte 1002"));
    }

    void limits() {
        Limits l;
        l.max_stack = 4;
        QCOMPARE(q(load_error("(K\x01K\x02K\x03t.", l)), QString("(no error)"));
        QCOMPARE(q(load_error("(K\x01K\x02K\x03K\x04t.", l)),
                 QString("t.pkl: pickle: stack exceeds 4 entries at byte 7"));
        QCOMPARE(q(load_error("((((N.", l)),
                 QString("t.pkl: pickle: stack exceeds 4 entries at byte 4"));
        l = {};
        l.max_memo = 2;
        QCOMPARE(q(load_error("\x80\x04N\x94\x94q\x01N.", l)),
                 QString("(no error)")); // same keys again
        QCOMPARE(q(load_error("\x80\x04N\x94\x94\x94.", l)),
                 QString("t.pkl: pickle: memo exceeds 2 entries at byte 5"));
        l = {};
        l.max_values = 3;
        QCOMPARE(q(load_error("NNN\x87.", l)),
                 QString("t.pkl: pickle: more than 3 values at byte 3"));
        l = {};
        l.max_depth = 2;
        QCOMPARE(q(load_error("\x80\x02)\x85.", l)), QString("(no error)"));
        QCOMPARE(q(load_error("\x80\x02)\x85\x85.", l)),
                 QString("t.pkl: pickle: nesting deeper than 2 at byte 4"));
        // Deepened afterwards through the memo: [[]] then the inner list gets a list.
        QCOMPARE(q(load_error("\x80\x02]q\x00]q\x01"
                              "ah\x01]a0."s,
                              l)),
                 QString("t.pkl: pickle: nesting deeper than 2 at byte 14"));
    }

    // Every proper prefix of a real pickle is refused; random corruptions never crash.
    void truncations_and_corruptions() {
        for (const char* file : {"nested_proto0.pkl", "nested_proto2.pkl", "nested_proto5.pkl",
                                 "torch_checkpoint.pkl", "objects.pkl"}) {
            const std::string bytes = file_bytes(pickle_path(file));
            for (size_t n = 0; n < bytes.size(); ++n) {
                std::string e = load_error(bytes.substr(0, n));
                QVERIFY2(e.starts_with("t.pkl: pickle: "),
                         (std::string(file) + " prefix " + std::to_string(n) + ": " + e).c_str());
            }
            uint32_t seed = 12345;
            auto next = [&] { return seed = seed * 1103515245u + 12345u; };
            for (int round = 0; round < 2000; ++round) {
                std::string t = bytes;
                for (int k = 0; k <= round % 4; ++k) t[next() % t.size()] = char(next() >> 16);
                QVERIFY(loads_or_refuses(t));
            }
        }
    }

    void describe_text() {
        auto f = [](double d) {
            auto v = value_of(Kind::Float);
            v->f = d;
            return q(describe(v));
        };
        QCOMPARE(f(1.5), QString("1.5"));
        QCOMPARE(f(1.0), QString("1.0"));
        QCOMPARE(f(-0.0), QString("-0.0"));
        QCOMPARE(f(0.1), QString("0.1"));
        QCOMPARE(f(1e16), QString("1e+16"));
        QCOMPARE(f(123456789012345.0), QString("123456789012345.0"));
        QCOMPARE(f(0.0001), QString("0.0001"));
        QCOMPARE(f(0.00001), QString("1e-05"));
        QCOMPARE(f(-1.5e-300), QString("-1.5e-300"));
        QCOMPARE(f(NAN), QString("nan"));
        QCOMPARE(f(-INFINITY), QString("-inf"));
        QCOMPARE(q(describe(nullptr)), QString("<null>"));
        QCOMPARE(q(describe(value_of(Kind::None))), QString("None"));
        QCOMPARE(q(describe(text_value(Kind::String, "a'\\\n\t\x01"))),
                 QString("'a\\'\\\\\\n\\t\\x01'"));
        QCOMPARE(q(describe(text_value(Kind::Bytes, std::string("\x00\x01\x7f\x80 A", 6)))),
                 QString("b'\\x00\\x01\\x7f\\x80 A'"));
        // Long text is cut (not inside a UTF-8 sequence) and marked.
        std::string s = std::string(63, 'x') + "\xc3\xa9" + "tail";
        QCOMPARE(q(describe(text_value(Kind::String, s))), q("'" + std::string(63, 'x') + "...'"));
        auto tuple = value_of(Kind::Tuple);
        tuple->items.push_back(int_value(1));
        QCOMPARE(q(describe(tuple)), QString("(1,)"));
        auto list = value_of(Kind::List);
        for (int i = 0; i < 10; ++i) list->items.push_back(int_value(i));
        QCOMPARE(q(describe(list)), QString("[0, 1, 2, 3, 4, 5, 6, 7, ...]"));
        QCOMPARE(q(describe(list, 0)), QString("[...]"));
        QCOMPARE(q(describe(value_of(Kind::Set))), QString("set()"));
        auto g = value_of(Kind::Global);
        g->module = "torch";
        g->name = "FloatStorage";
        QCOMPARE(q(describe(g)), QString("torch.FloatStorage"));
        auto obj = value_of(Kind::Object);
        obj->module = "collections";
        obj->name = "OrderedDict";
        obj->args = value_of(Kind::Tuple);
        QCOMPARE(q(describe(obj)), QString("collections.OrderedDict()"));
        obj->dict.emplace_back(text_value(Kind::String, "a"), int_value(1));
        QCOMPARE(q(describe(obj)), QString("collections.OrderedDict(items={'a': 1})"));
        QCOMPARE(q(describe(obj, 0)), QString("collections.OrderedDict(...)"));
    }
};

QTEST_APPLESS_MAIN(TestPickle)
#include "test_pickle.moc"
