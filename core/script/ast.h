// ast.h: the syntax tree of a TorchScript code file: classes (typed attributes, Final
// constants, methods) and functions whose bodies are statements over expressions.
//
// Nodes are plain structs owned by their parent through unique_ptr. An expression keeps a
// resolved-callee cache that the interpreter fills on first use (the operator a dotted name
// like torch.add refers to), so a loop body resolves each name once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nnscope::script {

struct Op; // ops.h

// Python's operators, decided by the parser from the token (Lua's getbinopr): the evaluator
// switches on these and never looks at the operator's text. operator_token() (parser.cpp)
// gives the text back for messages.
enum class BinOp : uint8_t {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    MatMul, // + - * / // % ** @
    BitAnd,
    BitOr,
    BitXor,
    LShift,
    RShift, // & | ^ << >>
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Is,
    IsNot,
    In,
    NotIn, // comparisons
    And,
    Or, // short-circuit
};
inline constexpr int k_binop_count = int(BinOp::Or) + 1;
enum class UnOp : uint8_t { Neg, Pos, Invert, Not }; // - + ~ not
const char* operator_token(BinOp op);
// The aten:: operator a BinOp calls ("aten::add"); null for `and` and `or`.
const char* operator_aten(BinOp op);
const char* operator_token(UnOp op);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        Name,  // name
        Int,   // i
        Float, // f
        Str,   // s
        None,
        True,
        False,
        Attribute, // a.name
        Call,      // a(items..., kwargs...)
        Subscript, // a[b]
        Slice,     // items[0]:items[1]:items[2], each may be null
        Tuple,     // items
        List,      // items
        Dict,      // items: key, value, key, value, ...
        Unary,     // unop a
        Binary,    // a binop b (arithmetic, comparisons, is, in, and, or)
        IfExp,     // a if b else c
    };
    Kind kind;
    int line = 0;
    std::string name;
    int64_t i = 0;
    double f = 0;
    std::string s;
    ExprPtr a, b, c;
    std::vector<ExprPtr> items;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    BinOp binop = BinOp::Add; // Binary
    UnOp unop = UnOp::Neg;    // Unary
    // Interpreter's cache for Call and Attribute chains: the operator a dotted callee names.
    mutable const Op* op = nullptr;
    mutable std::string dotted; // "torch.add", "ops.prim.dtype", "__torch__.f", or empty
    mutable bool dotted_known = false;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

struct Stmt {
    enum class Kind {
        Expr,      // value
        Assign,    // targets[0] = value (a target may be a Tuple to unpack)
        AugAssign, // targets[0] binop= value
        If,        // if value: body else: orelse
        For,       // for targets[0] in value: body
        While,     // while value: body
        Return,    // return value (may be null)
        Break,
        Continue,
        Pass,
        Raise,  // raise value
        Assert, // assert value, message(targets[0], may be absent)
        Del,    // del targets...
    };
    Kind kind;
    int line = 0;
    std::vector<ExprPtr> targets;
    ExprPtr value;
    BinOp binop = BinOp::Add; // AugAssign
    Block body, orelse;
};

struct Param {
    std::string name;
    ExprPtr type;          // may be null
    ExprPtr default_value; // may be null
};

struct Function {
    std::string name;
    std::string qualified; // "__torch__.torch.nn.functional.relu", "...Class.forward"
    std::vector<Param> params;
    ExprPtr returns;
    Block body;
    std::string file;
    int line = 0;
    // The interpreter's analysis of the body (script/fusion.h), made on the first call.
    mutable std::shared_ptr<const void> analysis;
};

// `name : type` or `name : Final[type] = value` in a class body.
struct AttributeDecl {
    std::string name;
    ExprPtr type;
    ExprPtr value; // Final constants only
    bool final = false;
};

struct ClassDef {
    std::string name;
    std::string qualified; // "__torch__.torchvision.models.resnet.BasicBlock"
    std::vector<std::string> bases;
    std::vector<std::string> parameters, buffers; // __parameters__, __buffers__
    std::vector<AttributeDecl> attributes;
    std::vector<std::unique_ptr<Function>> methods;
    std::string file;
    int line = 0;

    const Function* method(const std::string& n) const {
        for (const auto& m : methods)
            if (m->name == n) return m.get();
        return nullptr;
    }
    const AttributeDecl* attribute(const std::string& n) const {
        for (const auto& a : attributes)
            if (a.name == n) return &a;
        return nullptr;
    }
};

// One code/*.py file: `module` is its dotted name ("__torch__.torch.nn.modules.conv").
struct CodeFile {
    std::string path; // "code/__torch__/torch/nn/modules/conv.py"
    std::string module;
    std::vector<std::unique_ptr<ClassDef>> classes;
    std::vector<std::unique_ptr<Function>> functions;
};

} // namespace nnscope::script
