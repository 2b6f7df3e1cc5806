// parser.cpp: recursive descent over lexer.h's tokens with Python's precedence (see parser.h).
#include "parser.h"

#include "lexer.h"

namespace nnscope::script {

namespace {

// Each operator's token and the aten:: operator it calls, in BinOp's order (the one place
// both are written). `and`/`or` short-circuit in the evaluator and call none; `in` and
// `not in` call __contains__ with the operands swapped.
struct BinOpInfo {
    const char* token;
    const char* aten;
};
constexpr BinOpInfo k_binops[k_binop_count] = {{"+", "aten::add"},
                                               {"-", "aten::sub"},
                                               {"*", "aten::mul"},
                                               {"/", "aten::div"},
                                               {"//", "aten::floordiv"},
                                               {"%", "aten::remainder"},
                                               {"**", "aten::pow"},
                                               {"@", "aten::matmul"},
                                               {"&", "aten::__and__"},
                                               {"|", "aten::__or__"},
                                               {"^", "aten::__xor__"},
                                               {"<<", "aten::__lshift__"},
                                               {">>", "aten::__rshift__"},
                                               {"==", "aten::eq"},
                                               {"!=", "aten::ne"},
                                               {"<", "aten::lt"},
                                               {">", "aten::gt"},
                                               {"<=", "aten::le"},
                                               {">=", "aten::ge"},
                                               {"is", "aten::__is__"},
                                               {"is not", "aten::__isnot__"},
                                               {"in", "aten::__contains__"},
                                               {"not in", "aten::__contains__"},
                                               {"and", nullptr},
                                               {"or", nullptr}};
constexpr const char* k_unop_tokens[] = {"-", "+", "~", "not"};

// The operator a token names; false for none.
bool binop_of(std::string_view token, BinOp& out) {
    for (int k = 0; k < k_binop_count; ++k)
        if (token == k_binops[k].token) {
            out = BinOp(k);
            return true;
        }
    return false;
}

} // namespace

const char* operator_token(BinOp op) {
    return k_binops[int(op)].token;
}
const char* operator_aten(BinOp op) {
    return k_binops[int(op)].aten;
}
const char* operator_token(UnOp op) {
    return k_unop_tokens[int(op)];
}

namespace {

constexpr int k_max_nesting = 200; // expressions and blocks inside each other

class Parser {
  public:
    Parser(std::vector<Token> tokens, std::string file)
        : m_t(std::move(tokens)), m_file(std::move(file)) {}

    CodeFile file(const std::string& module) {
        CodeFile out;
        out.path = m_file;
        out.module = module;
        while (!at(Tok::End)) {
            if (accept(Tok::Newline)) continue;
            if (at_name("class")) {
                out.classes.push_back(class_def(module));
            } else if (at_name("def")) {
                out.functions.push_back(function(module));
            } else if (at_name("import") || at_name("from")) {
                while (!at(Tok::Newline) && !at(Tok::End)) ++m_p; // import lines: names only
            } else {
                fail("expected a class or a function at the top level of a code file");
            }
        }
        return out;
    }

    ExprPtr single_expression() {
        ExprPtr e = expression();
        accept(Tok::Newline);
        if (!at(Tok::End)) fail("unexpected " + describe(peek()));
        return e;
    }

  private:
    // --- tokens
    const Token& peek(size_t k = 0) const { return m_t[std::min(m_p + k, m_t.size() - 1)]; }
    bool at(Tok k) const { return peek().kind == k; }
    bool at_op(const char* op) const { return peek().kind == Tok::Op && peek().text == op; }
    bool at_name(const char* n) const { return peek().kind == Tok::Name && peek().text == n; }
    bool accept(Tok k) {
        if (!at(k)) return false;
        ++m_p;
        return true;
    }
    bool accept_op(const char* op) {
        if (!at_op(op)) return false;
        ++m_p;
        return true;
    }
    bool accept_name(const char* n) {
        if (!at_name(n)) return false;
        ++m_p;
        return true;
    }
    static std::string describe(const Token& t) {
        switch (t.kind) {
        case Tok::Name:
            return "'" + t.text + "'";
        case Tok::Int:
        case Tok::Float:
            return "number " + t.text;
        case Tok::String:
            return "a string";
        case Tok::Op:
            return "'" + t.text + "'";
        case Tok::Newline:
            return "end of line";
        case Tok::Indent:
            return "indentation";
        case Tok::Dedent:
            return "end of block";
        case Tok::End:
            return "end of file";
        }
        return "token";
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw ScriptError(m_file, peek().line, what, "SyntaxError");
    }
    void expect_op(const char* op) {
        if (!accept_op(op)) fail(std::string("expected '") + op + "', got " + describe(peek()));
    }
    std::string expect_name() {
        if (!at(Tok::Name)) fail("expected a name, got " + describe(peek()));
        return m_t[m_p++].text;
    }
    void expect_newline() {
        if (!accept(Tok::Newline) && !at(Tok::End))
            fail("expected end of line, got " + describe(peek()));
    }

    struct Nest {
        explicit Nest(Parser& p) : p(p) {
            if (++p.m_nesting > k_max_nesting)
                p.fail("nested deeper than " + std::to_string(k_max_nesting) + " levels");
        }
        ~Nest() { --p.m_nesting; }
        Parser& p;
    };

    ExprPtr node(Expr::Kind k, int line) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = line;
        return e;
    }

    // --- definitions
    std::unique_ptr<ClassDef> class_def(const std::string& module) {
        auto c = std::make_unique<ClassDef>();
        c->line = peek().line;
        c->file = m_file;
        ++m_p; // class
        c->name = expect_name();
        c->qualified = module + "." + c->name;
        if (accept_op("(")) {
            while (!accept_op(")")) {
                ExprPtr base = expression();
                c->bases.push_back(base->kind == Expr::Kind::Name ? base->name : "");
                if (!accept_op(",") && !at_op(")"))
                    fail("expected ',' or ')' in the class's bases");
            }
        }
        expect_op(":");
        expect_newline();
        if (!accept(Tok::Indent)) fail("expected the class's indented body");
        while (!accept(Tok::Dedent)) {
            if (at(Tok::End)) fail("unexpected end of file in class " + c->name);
            if (accept(Tok::Newline)) continue;
            if (at_name("def")) {
                c->methods.push_back(function(c->qualified));
                continue;
            }
            if (accept_name("pass")) {
                expect_newline();
                continue;
            }
            const int line = peek().line;
            if (at_name("__annotations__")) { // __annotations__["0"] = Type: a child named "0"
                ++m_p;
                expect_op("[");
                if (!at(Tok::String)) fail("expected a string key in __annotations__");
                AttributeDecl d;
                d.name = m_t[m_p++].text;
                expect_op("]");
                expect_op("=");
                d.type = expression();
                c->attributes.push_back(std::move(d));
                expect_newline();
                continue;
            }
            std::string name = expect_name();
            if (accept_op("=")) { // __parameters__ = [...], __buffers__ = [...], __constants__
                ExprPtr value = expression();
                auto strings = [&](std::vector<std::string>& out) {
                    if (value->kind != Expr::Kind::List) fail(name + " must be a list of strings");
                    for (const auto& item : value->items) {
                        if (item->kind != Expr::Kind::Str)
                            fail(name + " must be a list of strings");
                        out.push_back(item->s);
                    }
                };
                if (name == "__parameters__")
                    strings(c->parameters);
                else if (name == "__buffers__")
                    strings(c->buffers);
                expect_newline();
                continue;
            }
            expect_op(":");
            AttributeDecl d;
            d.name = std::move(name);
            d.type = expression();
            if (d.type->kind == Expr::Kind::Subscript && d.type->a->kind == Expr::Kind::Name &&
                d.type->a->name == "Final")
                d.final = true;
            if (accept_op("=")) d.value = expression();
            if (d.final && !d.value)
                throw ScriptError(m_file, line, "Final attribute " + d.name + " has no value",
                                  "SyntaxError");
            c->attributes.push_back(std::move(d));
            expect_newline();
        }
        return c;
    }

    std::unique_ptr<Function> function(const std::string& scope) {
        auto f = std::make_unique<Function>();
        f->line = peek().line;
        f->file = m_file;
        ++m_p; // def
        f->name = expect_name();
        f->qualified = scope + "." + f->name;
        expect_op("(");
        while (!accept_op(")")) {
            if (accept_op("*")) { // keyword-only marker
                if (!accept_op(",") && !at_op(")")) fail("expected ',' after '*'");
                continue;
            }
            Param p;
            p.name = expect_name();
            if (accept_op(":")) p.type = expression();
            if (accept_op("=")) p.default_value = expression();
            f->params.push_back(std::move(p));
            if (!accept_op(",") && !at_op(")"))
                fail("expected ',' or ')' in the parameters of " + f->name);
        }
        if (accept_op("->")) f->returns = expression();
        expect_op(":");
        f->body = block();
        return f;
    }

    // --- statements
    Block block() {
        Nest nest(*this);
        Block out;
        if (!accept(Tok::Newline)) { // `if x: return y` on one line
            out.push_back(simple_statement());
            return out;
        }
        if (!accept(Tok::Indent)) fail("expected an indented block");
        while (!accept(Tok::Dedent)) {
            if (at(Tok::End)) fail("unexpected end of file in a block");
            if (accept(Tok::Newline)) continue;
            out.push_back(statement());
        }
        return out;
    }

    StmtPtr stmt(Stmt::Kind k, int line) {
        auto s = std::make_unique<Stmt>();
        s->kind = k;
        s->line = line;
        return s;
    }

    StmtPtr statement() {
        const int line = peek().line;
        if (accept_name("if")) return if_rest(line);
        if (accept_name("while")) {
            auto s = stmt(Stmt::Kind::While, line);
            s->value = expression();
            expect_op(":");
            s->body = block();
            return s;
        }
        if (accept_name("for")) {
            auto s = stmt(Stmt::Kind::For, line);
            s->targets.push_back(target_list());
            if (!accept_name("in")) fail("expected 'in' in a for loop");
            s->value = expression_list();
            expect_op(":");
            s->body = block();
            return s;
        }
        if (at_name("def") || at_name("class")) fail("nested definitions are not supported");
        return simple_statement();
    }

    StmtPtr if_rest(int line) {
        auto s = stmt(Stmt::Kind::If, line);
        s->value = expression();
        expect_op(":");
        s->body = block();
        const int else_line = peek().line;
        if (accept_name("elif")) {
            s->orelse.push_back(if_rest(else_line));
        } else if (accept_name("else")) {
            expect_op(":");
            s->orelse = block();
        }
        return s;
    }

    StmtPtr simple_statement() {
        const int line = peek().line;
        StmtPtr s;
        if (accept_name("pass")) {
            s = stmt(Stmt::Kind::Pass, line);
        } else if (accept_name("break")) {
            s = stmt(Stmt::Kind::Break, line);
        } else if (accept_name("continue")) {
            s = stmt(Stmt::Kind::Continue, line);
        } else if (accept_name("return")) {
            s = stmt(Stmt::Kind::Return, line);
            if (!at(Tok::Newline) && !at(Tok::End)) s->value = expression_list();
        } else if (accept_name("raise")) {
            s = stmt(Stmt::Kind::Raise, line);
            if (!at(Tok::Newline)) s->value = expression();
        } else if (accept_name("assert")) {
            s = stmt(Stmt::Kind::Assert, line);
            s->value = expression();
            if (accept_op(",")) s->targets.push_back(expression());
        } else if (accept_name("del")) {
            s = stmt(Stmt::Kind::Del, line);
            do s->targets.push_back(expression());
            while (accept_op(","));
        } else {
            ExprPtr first = expression_list();
            if (at(Tok::Op) && peek().text.size() >= 2 && peek().text.back() == '=' &&
                peek().text != "==" && peek().text != "!=" && peek().text != "<=" &&
                peek().text != ">=") {
                s = stmt(Stmt::Kind::AugAssign, line);
                const std::string op = peek().text.substr(0, peek().text.size() - 1);
                if (!binop_of(op, s->binop) || s->binop >= BinOp::Eq)
                    fail("unsupported operator " + peek().text);
                ++m_p;
                s->targets.push_back(std::move(first));
                s->value = expression_list();
            } else if (accept_op(":")) { // x : T = value
                (void)expression();
                s = stmt(Stmt::Kind::Assign, line);
                s->targets.push_back(std::move(first));
                expect_op("=");
                s->value = expression_list();
            } else if (accept_op("=")) {
                s = stmt(Stmt::Kind::Assign, line);
                s->targets.push_back(std::move(first));
                s->value = expression_list();
                while (accept_op("=")) { // a = b = value
                    s->targets.push_back(std::move(s->value));
                    s->value = expression_list();
                }
            } else {
                s = stmt(Stmt::Kind::Expr, line);
                s->value = std::move(first);
            }
        }
        if (accept_op(";") && !at(Tok::Newline))
            fail("several statements on one line are not supported");
        expect_newline();
        return s;
    }

    // a, b  (targets of for and assignment), a tuple when there is a comma
    ExprPtr target_list() {
        const int line = peek().line;
        ExprPtr first = postfix();
        if (!at_op(",")) return first;
        auto t = node(Expr::Kind::Tuple, line);
        t->items.push_back(std::move(first));
        while (accept_op(",")) {
            if (at_name("in")) break;
            t->items.push_back(postfix());
        }
        return t;
    }

    ExprPtr expression_list() {
        const int line = peek().line;
        ExprPtr first = expression();
        if (!at_op(",")) return first;
        auto t = node(Expr::Kind::Tuple, line);
        t->items.push_back(std::move(first));
        while (accept_op(",")) {
            if (at(Tok::Newline) || at_op("=") || at_op(":")) break;
            t->items.push_back(expression());
        }
        return t;
    }

    // --- expressions, lowest precedence first
    ExprPtr expression() {
        Nest nest(*this);
        const int line = peek().line;
        ExprPtr value = or_test();
        if (accept_name("if")) {
            auto e = node(Expr::Kind::IfExp, line);
            e->b = or_test();
            if (!accept_name("else")) fail("expected 'else' in a conditional expression");
            e->c = expression();
            e->a = std::move(value);
            return e;
        }
        return value;
    }

    ExprPtr binary(ExprPtr a, BinOp op, ExprPtr b, int line) {
        auto e = node(Expr::Kind::Binary, line);
        e->binop = op;
        e->a = std::move(a);
        e->b = std::move(b);
        return e;
    }

    ExprPtr or_test() {
        ExprPtr a = and_test();
        while (at_name("or")) {
            const int line = peek().line;
            ++m_p;
            a = binary(std::move(a), BinOp::Or, and_test(), line);
        }
        return a;
    }
    ExprPtr and_test() {
        ExprPtr a = not_test();
        while (at_name("and")) {
            const int line = peek().line;
            ++m_p;
            a = binary(std::move(a), BinOp::And, not_test(), line);
        }
        return a;
    }
    ExprPtr not_test() {
        if (at_name("not")) {
            Nest nest(*this);
            auto e = node(Expr::Kind::Unary, peek().line);
            ++m_p;
            e->unop = UnOp::Not;
            e->a = not_test();
            return e;
        }
        return comparison();
    }
    ExprPtr comparison() {
        ExprPtr a = bitor_expr();
        for (;;) {
            const int line = peek().line;
            BinOp op;
            if (at(Tok::Op) && binop_of(peek().text, op) && op >= BinOp::Eq && op <= BinOp::Ge) {
                ++m_p;
            } else if (accept_name("is")) {
                op = accept_name("not") ? BinOp::IsNot : BinOp::Is;
            } else if (accept_name("in")) {
                op = BinOp::In;
            } else if (at_name("not") && peek(1).kind == Tok::Name && peek(1).text == "in") {
                m_p += 2;
                op = BinOp::NotIn;
            } else {
                return a;
            }
            a = binary(std::move(a), op, bitor_expr(), line); // chains are not emitted
        }
    }
    ExprPtr left_assoc(ExprPtr (Parser::*next)(), std::initializer_list<BinOp> ops) {
        ExprPtr a = (this->*next)();
        for (;;) {
            const BinOp* hit = nullptr;
            for (const BinOp& op : ops)
                if (at_op(operator_token(op))) hit = &op;
            if (!hit) return a;
            const int line = peek().line;
            ++m_p;
            a = binary(std::move(a), *hit, (this->*next)(), line);
        }
    }
    ExprPtr bitor_expr() { return left_assoc(&Parser::bitxor_expr, {BinOp::BitOr}); }
    ExprPtr bitxor_expr() { return left_assoc(&Parser::bitand_expr, {BinOp::BitXor}); }
    ExprPtr bitand_expr() { return left_assoc(&Parser::shift_expr, {BinOp::BitAnd}); }
    ExprPtr shift_expr() { return left_assoc(&Parser::arith_expr, {BinOp::LShift, BinOp::RShift}); }
    ExprPtr arith_expr() { return left_assoc(&Parser::term, {BinOp::Add, BinOp::Sub}); }
    ExprPtr term() {
        return left_assoc(&Parser::factor,
                          {BinOp::Mul, BinOp::Div, BinOp::FloorDiv, BinOp::Mod, BinOp::MatMul});
    }
    ExprPtr factor() {
        if (at_op("-") || at_op("+") || at_op("~")) {
            Nest nest(*this);
            auto e = node(Expr::Kind::Unary, peek().line);
            const std::string& t = m_t[m_p++].text;
            e->unop = t == "-" ? UnOp::Neg : t == "+" ? UnOp::Pos : UnOp::Invert;
            e->a = factor();
            return e;
        }
        return power();
    }
    ExprPtr power() {
        ExprPtr a = postfix();
        if (at_op("**")) {
            const int line = peek().line;
            ++m_p;
            return binary(std::move(a), BinOp::Pow, factor(), line);
        }
        return a;
    }

    ExprPtr postfix() {
        ExprPtr e = atom();
        for (;;) {
            const int line = peek().line;
            if (accept_op(".")) {
                auto a = node(Expr::Kind::Attribute, line);
                a->name = expect_name();
                a->a = std::move(e);
                e = std::move(a);
            } else if (accept_op("(")) {
                auto c = node(Expr::Kind::Call, line);
                c->a = std::move(e);
                while (!accept_op(")")) {
                    if (at(Tok::Name) && peek(1).kind == Tok::Op && peek(1).text == "=") {
                        std::string k = m_t[m_p].text;
                        m_p += 2;
                        c->kwargs.emplace_back(std::move(k), expression());
                    } else {
                        if (!c->kwargs.empty()) fail("positional argument after keyword argument");
                        c->items.push_back(expression());
                    }
                    if (!accept_op(",") && !at_op(")"))
                        fail("expected ',' or ')' in a call, got " + describe(peek()));
                }
                e = std::move(c);
            } else if (accept_op("[")) {
                auto s = node(Expr::Kind::Subscript, line);
                s->a = std::move(e);
                s->b = subscript_list();
                expect_op("]");
                e = std::move(s);
            } else {
                return e;
            }
        }
    }

    ExprPtr subscript_list() {
        const int line = peek().line;
        ExprPtr first = subscript();
        if (!at_op(",")) return first;
        auto t = node(Expr::Kind::Tuple, line);
        t->items.push_back(std::move(first));
        while (accept_op(",")) {
            if (at_op("]")) break;
            t->items.push_back(subscript());
        }
        return t;
    }

    ExprPtr subscript() {
        const int line = peek().line;
        ExprPtr lower;
        if (!at_op(":")) {
            lower = expression();
            if (!at_op(":")) return lower;
        }
        auto s = node(Expr::Kind::Slice, line);
        s->items.resize(3);
        s->items[0] = std::move(lower);
        expect_op(":");
        if (!at_op(":") && !at_op("]") && !at_op(",")) s->items[1] = expression();
        if (accept_op(":") && !at_op("]") && !at_op(",")) s->items[2] = expression();
        return s;
    }

    ExprPtr atom() {
        Nest nest(*this);
        const Token& t = peek();
        const int line = t.line;
        switch (t.kind) {
        case Tok::Int: {
            auto e = node(Expr::Kind::Int, line);
            e->i = t.i;
            ++m_p;
            return e;
        }
        case Tok::Float: {
            auto e = node(Expr::Kind::Float, line);
            e->f = t.f;
            ++m_p;
            return e;
        }
        case Tok::String: {
            auto e = node(Expr::Kind::Str, line);
            while (at(Tok::String)) e->s += m_t[m_p++].text; // adjacent literals join
            return e;
        }
        case Tok::Name: {
            ++m_p;
            if (t.text == "None") return node(Expr::Kind::None, line);
            if (t.text == "True") return node(Expr::Kind::True, line);
            if (t.text == "False") return node(Expr::Kind::False, line);
            auto e = node(Expr::Kind::Name, line);
            e->name = t.text;
            return e;
        }
        case Tok::Op:
            if (accept_op("(")) {
                if (accept_op(")")) return node(Expr::Kind::Tuple, line);
                ExprPtr first = expression();
                if (accept_op(")")) return first;
                auto tup = node(Expr::Kind::Tuple, line);
                tup->items.push_back(std::move(first));
                while (accept_op(",")) {
                    if (at_op(")")) break;
                    tup->items.push_back(expression());
                }
                expect_op(")");
                return tup;
            }
            if (accept_op("[")) {
                auto l = node(Expr::Kind::List, line);
                while (!accept_op("]")) {
                    l->items.push_back(expression());
                    if (!accept_op(",") && !at_op("]"))
                        fail("expected ',' or ']' in a list, got " + describe(peek()));
                }
                return l;
            }
            if (accept_op("{")) {
                auto d = node(Expr::Kind::Dict, line);
                while (!accept_op("}")) {
                    d->items.push_back(expression());
                    expect_op(":");
                    d->items.push_back(expression());
                    if (!accept_op(",") && !at_op("}"))
                        fail("expected ',' or '}' in a dict, got " + describe(peek()));
                }
                return d;
            }
            if (accept_op("...")) return node(Expr::Kind::None, line);
            break;
        default:
            break;
        }
        fail("unexpected " + describe(t));
    }

    std::vector<Token> m_t;
    size_t m_p = 0;
    std::string m_file;
    int m_nesting = 0;
};

} // namespace

CodeFile parse_code_file(std::string_view source, const std::string& path,
                         const std::string& module) {
    return Parser(tokenize(source, path), path).file(module);
}

ExprPtr parse_expression(std::string_view source, const std::string& what) {
    return Parser(tokenize(source, what), what).single_expression();
}

} // namespace nnscope::script
