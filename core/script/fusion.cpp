// fusion.cpp: finding Conv2d -> BatchNorm2d [-> ReLU] call spans in a method body (fusion.h).
#include "fusion.h"

namespace nnscope::script {

namespace {

// `target = (module).forward(arg, )`: one positional argument, no keywords.
bool forward_call(const Stmt& s, std::string& target, const Expr*& module, const Expr*& arg) {
    if (s.kind != Stmt::Kind::Assign || s.targets.size() != 1 ||
        s.targets[0]->kind != Expr::Kind::Name)
        return false;
    const Expr& v = *s.value;
    if (v.kind != Expr::Kind::Call || !v.a || v.a->kind != Expr::Kind::Attribute ||
        v.a->name != "forward" || v.items.size() != 1 || !v.kwargs.empty())
        return false;
    target = s.targets[0]->name;
    module = v.a->a.get();
    arg = v.items[0].get();
    return true;
}

// `name = self.attr` or `name = getattr(self, "attr")`: reads a submodule, nothing else.
bool fetch(const Stmt& s) {
    if (s.kind != Stmt::Kind::Assign || s.targets.size() != 1 ||
        s.targets[0]->kind != Expr::Kind::Name)
        return false;
    const Expr& v = *s.value;
    if (v.kind == Expr::Kind::Attribute)
        return v.a && v.a->kind == Expr::Kind::Name && v.a->name == "self";
    return v.kind == Expr::Kind::Call && v.a && v.a->kind == Expr::Kind::Name &&
           v.a->name == "getattr" && v.items.size() == 2 && v.items[0]->kind == Expr::Kind::Name &&
           v.items[0]->name == "self";
}

bool is_name(const Expr* e, const std::string& name) {
    return e && e->kind == Expr::Kind::Name && e->name == name;
}

bool mentions(const Expr* e, const std::string& name) {
    if (!e) return false;
    if (e->kind == Expr::Kind::Name && e->name == name) return true;
    if (mentions(e->a.get(), name) || mentions(e->b.get(), name) || mentions(e->c.get(), name))
        return true;
    for (const auto& x : e->items)
        if (mentions(x.get(), name)) return true;
    for (const auto& [k, x] : e->kwargs)
        if (mentions(x.get(), name)) return true;
    return false;
}

bool mentions(const Block& block, size_t from, const std::string& name);

bool mentions(const Stmt& s, const std::string& name) {
    if (mentions(s.value.get(), name)) return true;
    for (const auto& t : s.targets)
        if (mentions(t.get(), name)) return true;
    return mentions(s.body, 0, name) || mentions(s.orelse, 0, name);
}

bool mentions(const Block& block, size_t from, const std::string& name) {
    for (size_t i = from; i < block.size(); ++i)
        if (mentions(*block[i], name)) return true;
    return false;
}

// The next statement at or after `i` that is not a fetch; fetches passed are collected.
size_t skip_fetches(const Block& body, size_t i, std::vector<size_t>& fetches) {
    while (i < body.size() && fetch(*body[i])) fetches.push_back(i++);
    return i;
}

} // namespace

std::unordered_map<size_t, ConvBnPlan> plan_conv_bn(const Block& body) {
    std::unordered_map<size_t, ConvBnPlan> plans;
    for (size_t i = 0; i < body.size(); ++i) {
        ConvBnPlan p;
        std::string conv_out;
        if (!forward_call(*body[i], conv_out, p.conv, p.input)) continue;
        p.conv_call = i;
        size_t j = skip_fetches(body, i + 1, p.fetches);
        const Expr* arg = nullptr;
        if (j >= body.size() || !forward_call(*body[j], p.bn_result, p.bn, arg) ||
            !is_name(arg, conv_out))
            continue;
        p.bn_call = j;
        if (mentions(body, j + 1, conv_out) || is_name(p.input, conv_out)) continue;
        std::vector<size_t> more = p.fetches;
        size_t k = skip_fetches(body, j + 1, more);
        std::string relu_out;
        const Expr* relu = nullptr;
        if (k < body.size() && forward_call(*body[k], relu_out, relu, arg) &&
            is_name(arg, p.bn_result) && !mentions(body, k + 1, p.bn_result)) {
            p.relu_call = k;
            p.relu = relu;
            p.relu_result = relu_out;
            p.fetches = more;
        }
        plans.emplace(i, std::move(p));
    }
    return plans;
}

} // namespace nnscope::script
