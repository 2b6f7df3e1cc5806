// ops_tensor.cpp: ATen's tensor operators (arithmetic, views, reductions, creation,
// conversion) on nnscope's Tensor, and the prim:: operators that ask a tensor what it is.
// Each one calls the core's own function for the operation (tensor.h, functional.h).
#include <array>
#include <climits>
#include <cmath>
#include <utility>

#include "autograd.h"
#include "errors.h"
#include "functional.h"
#include "op_table.h"
#include "ops.h"

namespace nnscope::script {

namespace {

using K = Value::Kind;

Value T(Tensor t) {
    return Value::tensor(std::move(t));
}
const Tensor& tensor(const Value& v, const char* what = "self") {
    return to_tensor(v, what);
}

int64_t wrap(int64_t d, int64_t n) {
    const int64_t m = std::max<int64_t>(n, 1);
    if (d < -m || d >= m)
        throw IndexError("Dimension out of range (expected to be in range of [" +
                         std::to_string(-m) + ", " + std::to_string(m - 1) + "], but got " +
                         std::to_string(d) + ")");
    return d < 0 ? d + m : d;
}

// A tensor for a number operand, with the wrapped-number promotion of PyTorch: the tensor's
// dtype wins unless the number is a float and the tensor is not.
Tensor number_tensor(const Value& v, const Tensor& like) {
    const Scalar s = to_scalar(v, "other");
    DType d = like.dtype();
    if (s.kind == Scalar::Kind::Float && !dtype_is_floating(d)) d = default_float_dtype;
    if (s.kind != Scalar::Kind::Bool && d == DType::Bool)
        d = s.kind == Scalar::Kind::Float ? default_float_dtype : DType::Int64;
    return full({}, s, TensorOptions(d).with_device(like.device()));
}

Tensor compare_tensors(Arith op, const Tensor& a, const Tensor& b) {
    NoGradGuard no_grad;
    Tensor d = a.sub(b).sign();
    Tensor one = full({}, Scalar(1.0), TensorOptions(d.dtype()).with_device(d.device()));
    Tensor r;
    if (op == Arith::Eq)
        r = one.sub(d.abs());
    else if (op == Arith::Ne)
        r = d.abs();
    else if (op == Arith::Gt)
        r = d.relu();
    else if (op == Arith::Lt)
        r = d.neg().relu();
    else if (op == Arith::Ge)
        r = one.sub(d.neg().relu());
    else
        r = one.sub(d.relu()); // le
    return r.to(DType::Bool);
}

// torch.masked_fill: value where mask, self elsewhere (elementwise on the host: masks are
// small and the value may be an infinity, which no product with 0 can place).
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Value& value) {
    if (mask.dtype() != DType::Bool)
        throw Error("masked_fill_ only supports boolean masks, but got mask with dtype " +
                    std::string(dtype_name(mask.dtype())));
    const double fill = value.kind == K::Tensor ? value.t.item() : to_double(value, "value");
    std::vector<double> v = self.to_doubles();
    std::vector<double> m = mask.expand(self.shape()).contiguous().to_doubles();
    for (size_t i = 0; i < v.size(); ++i)
        if (m[i] != 0) v[i] = fill;
    return from_doubles(v, self.shape(), TensorOptions(self.dtype()).with_device(self.device()));
}

} // namespace

// The tensor overloads of add, sub, mul, div, pow, comparisons and bitwise operators.
Value tensor_binary(Arith op, const Value& a, const Value& b, const Value& alpha) {
    const char* name = arith_name(op);
    if (a.kind != K::Tensor) { // number op tensor
        const Tensor& t = b.t;
        Tensor n = number_tensor(a, t);
        if (op == Arith::Add) return T(n.add(t.mul(to_scalar(alpha, "alpha"))));
        if (op == Arith::Sub) return T(n.sub(t.mul(to_scalar(alpha, "alpha"))));
        if (op == Arith::Mul) return T(n.mul(t));
        if (op == Arith::Div) return T(n.div(t));
        if (op == Arith::Pow) return T(n.pow(t));
        if (op >= Arith::Eq && op <= Arith::Ge) // comparisons
            return T(compare_tensors(op, n, t));
        throw NotImplementedError(std::string("aten::") + name +
                                  " of a number and a tensor is not supported");
    }
    const Tensor& t = a.t;
    Tensor o = b.kind == K::Tensor ? b.t : number_tensor(b, t);
    const bool unit_alpha = alpha.kind == K::Int && alpha.i == 1;
    if (op == Arith::Add) return T(unit_alpha ? t.add(o) : t.add(o.mul(to_scalar(alpha, "alpha"))));
    if (op == Arith::Sub) return T(unit_alpha ? t.sub(o) : t.sub(o.mul(to_scalar(alpha, "alpha"))));
    if (op == Arith::Mul) return T(t.mul(o));
    if (op == Arith::Div) return T(t.div(o));
    if (op == Arith::Pow)
        return T(b.kind == K::Tensor ? t.pow(o) : t.pow(to_scalar(b, "exponent")));
    if (op >= Arith::Eq && op <= Arith::Ge) // comparisons
        return T(compare_tensors(op, t, o));
    if (op == Arith::And || op == Arith::Or) {
        if (t.dtype() != DType::Bool || o.dtype() != DType::Bool)
            throw NotImplementedError(std::string("aten::") + name +
                                      " is supported on bool tensors only");
        NoGradGuard no_grad;
        Tensor x = t.to(DType::Float32), y = o.to(DType::Float32);
        Tensor r = op == Arith::And ? x.mul(y) : x.add(y).sign();
        return T(r.to(DType::Bool));
    }
    throw NotImplementedError(std::string("aten::") + name + " on tensors is not supported");
}

namespace {

// add_, sub_, mul_, div_: written into self's storage and recorded onto self (autograd
// rebases self's history), as ATen does; a scaled number falls back to copy_.
Value inplace(Arith op, ValueList& a) {
    Tensor self = tensor(a[0]);
    const Value alpha = a.size() > 2 ? a[2] : Value::integer(1);
    const bool unit_alpha = alpha.kind == K::Int && alpha.i == 1;
    if (a[1].kind == K::Tensor || unit_alpha) {
        if (a[1].kind == K::Tensor) {
            const Tensor other = unit_alpha ? a[1].t : a[1].t.mul(to_scalar(alpha, "alpha"));
            if (op == Arith::Add)
                self.add_(other);
            else if (op == Arith::Sub)
                self.sub_(other);
            else if (op == Arith::Mul)
                self.mul_(other);
            else
                self.div_(other);
        } else {
            const Scalar s = to_scalar(a[1], "other");
            if (op == Arith::Add)
                self.add_(s);
            else if (op == Arith::Sub)
                self.sub_(s);
            else if (op == Arith::Mul)
                self.mul_(s);
            else
                self.div_(s);
        }
        return a[0];
    }
    Value r = tensor_binary(op, a[0], a[1], a.size() > 2 ? a[2] : Value::integer(1));
    if (r.t.shape() != self.shape())
        throw Error("output with shape " + shape_str(self.shape()) +
                    " doesn't match the broadcast shape " + shape_str(r.t.shape()));
    self.copy_(r.t);
    return a[0];
}

Value unary(ValueList& a, Tensor (Tensor::*fn)() const) {
    return T((tensor(a[0]).*fn)());
}

Value inplace_result(const Value& self, const Tensor& result) {
    Tensor t = self.t;
    t.copy_(result);
    return self;
}

Shape shape_arg(const Value& v) {
    return to_ints(v, "size");
}

Value make_tensor(const Shape& shape, Scalar fill, const Value& dtype, const Value& device,
                  DType dflt) {
    TensorOptions o(dtype.is_none() ? dflt : to_dtype(dtype, "dtype"));
    if (!device.is_none()) {
        if (device.kind == K::Device)
            o.device = device.device;
        else if (device.kind == K::Str)
            o.device = Device::parse(device.s);
        else
            throw TypeError("device: expected a device, got " + type_name(device));
    }
    return T(full(shape, fill, o));
}

std::optional<int64_t> optional_int(const Value& v, const char* what) {
    if (v.is_none()) return std::nullopt;
    return to_int(v, what);
}

Value reduce(ValueList& a, bool mean) {
    const Tensor& x = tensor(a[0]);
    Tensor src = a[3].is_none() ? x : x.to(to_dtype(a[3], "dtype"));
    if (a[1].is_none()) return T(mean ? src.mean() : src.sum());
    std::vector<int64_t> dims =
        a[1].kind == K::Int ? std::vector<int64_t>{a[1].i} : to_ints(a[1], "dim");
    if (dims.empty()) return T(mean ? src.mean() : src.sum());
    const bool keep = to_bool(a[2], "keepdim");
    return T(mean ? src.mean(dims, keep) : src.sum(dims, keep));
}

// var/std's overloads: (self, unbiased), (self, dim, unbiased, keepdim), and the
// correction= keyword.
Tensor variance(ValueList& a) {
    const Tensor& x = tensor(a[0]);
    std::vector<int64_t> dims;
    bool unbiased = true;
    if (a[1].kind == K::Bool)
        unbiased = a[1].b;
    else if (a[1].kind == K::Int)
        dims = {a[1].i};
    else if (!a[1].is_none())
        dims = to_ints(a[1], "dim");
    if (a[1].kind != K::Bool) unbiased = to_bool(a[2], "unbiased");
    const int64_t correction = a[4].is_none() ? (unbiased ? 1 : 0) : to_int(a[4], "correction");
    if (dims.empty()) {
        for (int64_t d = 0; d < x.dim(); ++d) dims.push_back(d);
        if (dims.empty()) return x.var(correction);
    }
    return x.var(dims, correction, to_bool(a[3], "keepdim"));
}

Value to(ValueList& a, OpContext&) {
    // to(self, dtype, ...), to(self, device, dtype, ...), to(self, other, ...), or keywords.
    Tensor x = tensor(a[0]);
    std::optional<DType> dtype;
    std::optional<Device> device;
    for (size_t k = 1; k <= 2; ++k) {
        const Value& v = a[k];
        if (v.kind == K::Device)
            device = v.device;
        else if (v.kind == K::Str)
            device = Device::parse(v.s);
        else if (v.kind == K::Int && !dtype)
            dtype = to_dtype(v, "dtype");
        else if (v.kind == K::Tensor)
            dtype = v.t.dtype(), device = v.t.device();
    }
    if (!a[6].is_none()) dtype = to_dtype(a[6], "dtype");
    if (!a[7].is_none()) device = a[7].kind == K::Device ? a[7].device : Device::parse(str(a[7]));
    const bool copy = to_bool(a[9], "copy");
    Tensor y = x;
    if (device) y = y.to(*device);
    if (dtype) y = y.to(*dtype);
    if (copy && y.is_same(x)) y = x.clone();
    return T(y);
}

Value slice(ValueList& a, OpContext&) {
    if (a[0].is_sequence() || a[0].kind == K::Str) { // aten::slice.t(l, start, end, step)
        const Value& l = a[0];
        const int64_t n = l.kind == K::Str ? int64_t(l.s.size()) : int64_t(l.list->size());
        std::optional<int64_t> start =
            a[1].kind == K::Int ? std::optional<int64_t>(a[1].i) : std::nullopt;
        std::optional<int64_t> end = optional_int(a[2], "end");
        const int64_t step = a[3].is_none() ? 1 : to_int(a[3], "step");
        if (step <= 0) throw ValueError("slice step must be positive");
        auto clip = [&](std::optional<int64_t> v, int64_t dflt) {
            if (!v) return dflt;
            int64_t x = *v < 0 ? *v + n : *v;
            return std::clamp<int64_t>(x, 0, n);
        };
        const int64_t lo = clip(start, 0), hi = clip(end, n);
        if (l.kind == K::Str) {
            std::string out;
            for (int64_t i = lo; i < hi; i += step) out += l.s[size_t(i)];
            return Value::str(out);
        }
        ValueList items;
        for (int64_t i = lo; i < hi; i += step) items.push_back((*l.list)[size_t(i)]);
        return Value::make_list(std::move(items));
    }
    const Tensor& x = tensor(a[0]);
    if (x.dim() == 0) throw IndexError("slice() cannot be applied to a 0-dim tensor.");
    const int64_t d = wrap(to_int(a[1], "dim"), x.dim());
    const int64_t n = x.size(d);
    const int64_t step = to_int(a[4], "step");
    if (step <= 0) throw Error("slice step must be positive");
    auto clip = [&](const Value& v, int64_t dflt) {
        if (v.is_none()) return dflt;
        int64_t i = to_int(v, "index");
        if (i < 0) i += n;
        return std::clamp<int64_t>(i, 0, n);
    };
    const int64_t lo = clip(a[2], 0), hi = std::max(clip(a[3], n), lo);
    return T(x.slice(d, lo, (hi - lo + step - 1) / step, step));
}

Value size(ValueList& a, OpContext&) {
    const Tensor& x = tensor(a[0]);
    if (a[1].is_none()) {
        ValueList items;
        for (int64_t s : x.shape()) items.push_back(Value::integer(s));
        return Value::make_list(std::move(items));
    }
    return Value::integer(x.size(wrap(to_int(a[1], "dim"), x.dim())));
}

Value chunk(ValueList& a, OpContext&) {
    const Tensor& x = tensor(a[0]);
    const int64_t chunks = to_int(a[1], "chunks");
    if (chunks <= 0)
        throw Error("chunk expects `chunks` to be greater than 0, got: " + std::to_string(chunks));
    const int64_t d = wrap(to_int(a[2], "dim"), x.dim());
    const int64_t each = (x.size(d) + chunks - 1) / chunks;
    ValueList out;
    for (int64_t s = 0; s < x.size(d) || (s == 0 && x.size(d) == 0);
         s += std::max<int64_t>(each, 1)) {
        out.push_back(T(x.narrow(d, s, std::min(each, x.size(d) - s))));
        if (x.size(d) == 0) break;
    }
    return Value::make_list(std::move(out));
}

Value split(ValueList& a, OpContext&) {
    const Tensor& x = tensor(a[0]);
    const int64_t d = wrap(to_int(a[2], "dim"), x.dim());
    ValueList out;
    if (a[1].kind == K::Int) {
        const int64_t each = a[1].i;
        if (each <= 0)
            throw Error("split expects split_size be non-negative, but got split_size=" +
                        std::to_string(each));
        for (int64_t s = 0; s < x.size(d); s += each)
            out.push_back(T(x.narrow(d, s, std::min(each, x.size(d) - s))));
    } else {
        std::vector<int64_t> sizes = to_ints(a[1], "split_size");
        int64_t s = 0, total = 0;
        for (int64_t n : sizes) total += n;
        if (total != x.size(d))
            throw Error("split_with_sizes expects split_sizes to sum exactly to " +
                        std::to_string(x.size(d)) + " (input tensor's size at dimension " +
                        std::to_string(d) + "), but got split_sizes=" + shape_str(sizes));
        for (int64_t n : sizes) {
            out.push_back(T(x.narrow(d, s, n)));
            s += n;
        }
    }
    return Value::make_list(std::move(out));
}

std::vector<Tensor> tensors(const Value& v, const char* what) {
    if (!v.is_sequence())
        throw TypeError(std::string(what) + ": expected a list of tensors, got " + type_name(v));
    std::vector<Tensor> out;
    for (const auto& x : *v.list) out.push_back(to_tensor(x, what));
    return out;
}

Value squeeze(ValueList& a, OpContext&) {
    Tensor x = tensor(a[0]);
    if (a[1].is_none()) {
        for (int64_t d = x.dim() - 1; d >= 0; --d)
            if (x.size(d) == 1) x = x.squeeze(d);
        return T(x);
    }
    const int64_t d = wrap(to_int(a[1], "dim"), x.dim());
    return T(x.dim() == 0 || x.size(d) != 1 ? x : x.squeeze(d));
}

Value tensor_from_data(ValueList& a, OpContext&) {
    // torch.tensor(data): a number or a nested list of numbers.
    std::vector<double> values;
    Shape shape;
    bool floating = false, boolean = true;
    std::function<void(const Value&, size_t)> walk = [&](const Value& v, size_t depth) {
        if (v.is_sequence()) {
            if (shape.size() == depth)
                shape.push_back(int64_t(v.list->size()));
            else if (shape[depth] != int64_t(v.list->size()))
                throw ValueError("expected sequence of equal lengths");
            for (const auto& x : *v.list) walk(x, depth + 1);
            return;
        }
        if (depth != shape.size()) throw ValueError("expected sequence of equal lengths");
        floating = floating || v.kind == K::Float;
        boolean = boolean && v.kind == K::Bool;
        values.push_back(to_double(v, "torch.tensor"));
    };
    walk(a[0], 0);
    DType d = a[1].is_none() ? (floating                     ? default_float_dtype
                                : boolean && !values.empty() ? DType::Bool
                                                             : DType::Int64)
                             : to_dtype(a[1], "dtype");
    TensorOptions o(d);
    if (!a[2].is_none()) o.device = a[2].kind == K::Device ? a[2].device : Device::parse(str(a[2]));
    return T(from_doubles(values, shape, o));
}

} // namespace

// Every row of the core's op table with an ATen name becomes an operator here (op_table.h):
// aten::relu runs Tensor's relu and records its backward, whatever adds rows later. The
// hand-written entries below replace the rows' where TorchScript also passes numbers.
template <UnaryOp U> Value unary_row(ValueList& a, OpContext&) {
    return T(apply(U, tensor(a[0])));
}
template <BinaryOp B> Value binary_row(ValueList& a, OpContext&) {
    const Tensor& x = tensor(a[0]);
    return T(a[1].kind == K::Tensor ? apply(B, x, a[1].t) : apply(B, x, to_scalar(a[1], "other")));
}
template <size_t... I>
constexpr std::array<OpFn, sizeof...(I)> unary_rows(std::index_sequence<I...>) {
    return {&unary_row<UnaryOp(I)>...};
}
template <size_t... I>
constexpr std::array<OpFn, sizeof...(I)> binary_rows(std::index_sequence<I...>) {
    return {&binary_row<BinaryOp(I)>...};
}

void register_table_rows() {
    static const auto unary = unary_rows(std::make_index_sequence<k_unary_op_count>());
    static const auto binary = binary_rows(std::make_index_sequence<k_binary_op_count>());
    for (const auto& row : unary_ops()) {
        if (!*row.aten) continue;
        register_op("aten", (std::string(row.aten).substr(6) + "(self)").c_str(),
                    unary[size_t(row.op)],
                    ("the core's op table: " + std::string(row.name)).c_str());
    }
    for (const auto& row : binary_ops()) {
        if (!*row.aten) continue;
        register_op("aten", (std::string(row.aten).substr(6) + "(self, other)").c_str(),
                    binary[size_t(row.op)],
                    ("the core's op table: " + std::string(row.name)).c_str());
    }
}

#define OP(...)                                                                                    \
    [](ValueList& a, OpContext& ctx) -> Value {                                                    \
        (void)ctx;                                                                                 \
        __VA_ARGS__                                                                                \
    }

void register_tensor_ops() {
    auto aten = [](const char* schema, OpFn fn, const char* maps_to) {
        register_op("aten", schema, fn, maps_to);
    };
    auto prim = [](const char* schema, OpFn fn, const char* maps_to) {
        register_op("prim", schema, fn, maps_to);
    };
    // Replace the op table's rows of the same name: these take numbers too.
    auto aten_override = [](const char* schema, OpFn fn, const char* maps_to) {
        register_op("aten", schema, fn, maps_to, OpRegistration::Override);
    };

    // --- in place
    aten("add_(self, other, alpha=1)", OP(return inplace(Arith::Add, a);), "Tensor::copy_ of add");
    aten("sub_(self, other, alpha=1)", OP(return inplace(Arith::Sub, a);), "Tensor::copy_ of sub");
    aten("mul_(self, other)", OP(return inplace(Arith::Mul, a);), "Tensor::copy_ of mul");
    aten("div_(self, other)", OP(return inplace(Arith::Div, a);), "Tensor::copy_ of div");
    aten("copy_(self, src, non_blocking=False)",
         OP(Tensor t = tensor(a[0]); t.copy_(tensor(a[1], "src")); return a[0];), "Tensor::copy_");
    aten("zero_(self)", OP(Tensor t = tensor(a[0]); t.zero_(); return a[0];), "Tensor::zero_");
    aten("fill_(self, value)",
         OP(Tensor t = tensor(a[0]); t.fill_(to_scalar(a[1], "value")); return a[0];),
         "Tensor::fill_");

    // --- pointwise
    aten_override("neg(self)",
                  OP(if (a[0].kind == K::Int) {
                      if (a[0].i == INT64_MIN) throw Error("integer overflow in aten::neg");
                      return Value::integer(-a[0].i);
                  } if (a[0].kind == K::Float) return Value::number(-a[0].f);
                     return unary(a, &Tensor::neg);),
                  "Tensor::neg");
    aten_override("sqrt(self)",
                  OP(if (a[0].is_number()) return Value::number(std::sqrt(to_double(a[0], "sqrt")));
                     return unary(a, &Tensor::sqrt);),
                  "Tensor::sqrt");
    aten("rsqrt(self)", OP(return T(tensor(a[0]).sqrt().pow(Scalar(-1.0)));),
         "Tensor::sqrt, pow(-1)");
    aten_override("exp(self)",
                  OP(if (a[0].is_number()) return Value::number(std::exp(to_double(a[0], "exp")));
                     return unary(a, &Tensor::exp);),
                  "Tensor::exp");
    aten_override("log(self)",
                  OP(if (a[0].is_number()) return Value::number(std::log(to_double(a[0], "log")));
                     return unary(a, &Tensor::log);),
                  "Tensor::log");
    aten("relu_(self)", OP(Tensor t = tensor(a[0]); apply_(UnaryOp::Relu, t); return a[0];),
         "apply_(Relu): in place");
    aten("sigmoid_(self)", OP(Tensor t = tensor(a[0]); apply_(UnaryOp::Sigmoid, t); return a[0];),
         "apply_(Sigmoid): in place");
    aten("tanh_(self)", OP(Tensor t = tensor(a[0]); apply_(UnaryOp::Tanh, t); return a[0];),
         "apply_(Tanh): in place");
    aten("clamp(self, min=None, max=None)",
         OP(return T(F::clamp(
             tensor(a[0]),
             a[1].is_none() ? std::nullopt : std::optional<double>(to_double(a[1], "min")),
             a[2].is_none() ? std::nullopt : std::optional<double>(to_double(a[2], "max"))));),
         "F::clamp");
    aten("clamp_(self, min=None, max=None)",
         OP(return inplace_result(
                       a[0],
                       F::clamp(tensor(a[0]),
                                a[1].is_none() ? std::nullopt
                                               : std::optional<double>(to_double(a[1], "min")),
                                a[2].is_none() ? std::nullopt
                                               : std::optional<double>(to_double(a[2], "max"))));),
         "F::clamp, in place");
    aten("clamp_min(self, min)",
         OP(return T(F::clamp(tensor(a[0]), to_double(a[1], "min"), std::nullopt));), "F::clamp");
    aten("clamp_min_(self, min)",
         OP(return inplace_result(a[0],
                                  F::clamp(tensor(a[0]), to_double(a[1], "min"), std::nullopt));),
         "F::clamp, in place");
    aten("clamp_max(self, max)",
         OP(return T(F::clamp(tensor(a[0]), std::nullopt, to_double(a[1], "max")));), "F::clamp");

    aten("floor_divide(self, other)",
         OP(
             // Integer tensors (traced shape arithmetic) divide exactly; floats as floor(a / b).
             const Tensor& x = tensor(a[0]);
             Tensor y = a[1].kind == K::Tensor ? a[1].t : number_tensor(a[1], x);
             if (x.is_floating_point() || y.is_floating_point()) {
                 std::vector<double> p = x.to_doubles(),
                                     q = y.expand(x.shape()).contiguous().to_doubles();
                 for (size_t k = 0; k < p.size(); ++k) p[k] = std::floor(p[k] / q[k]);
                 return T(from_doubles(
                     p, x.shape(),
                     TensorOptions(promote_types(x.dtype(), y.dtype())).with_device(x.device())));
             } std::vector<int64_t>
                 p = x.to_int64s(),
             q = y.expand(x.shape()).contiguous().to_int64s();
             for (size_t k = 0; k < p.size(); ++k) {
                 if (q[k] == 0) throw Error("ZeroDivisionError");
                 int64_t r = p[k] / q[k];
                 if ((p[k] % q[k] != 0) && ((p[k] < 0) != (q[k] < 0))) --r;
                 p[k] = r;
             } return T(from_int64s(p, x.shape(),
                                    TensorOptions(x.dtype()).with_device(x.device())));),
         "floor of the quotient, elementwise");
    aten("all(self, dim=None, keepdim=False)",
         OP(if (!a[1].is_none()) throw NotImplementedError(
                "aten::all over a dim is not supported yet");
            if (a[0].is_sequence()) {
                for (const auto& v : *a[0].list)
                    if (!to_bool(v, "all")) return Value::boolean(false);
                return Value::boolean(true);
            } const Tensor& x = tensor(a[0]);
            NoGradGuard g; return T(full(
                {}, Scalar(x.to(DType::Bool).to(DType::Float32).sum().item() == double(x.numel())),
                TensorOptions(DType::Bool).with_device(x.device())));),
         "every element true");
    aten("any(self, dim=None, keepdim=False)",
         OP(if (!a[1].is_none()) throw NotImplementedError(
                "aten::any over a dim is not supported yet");
            if (a[0].is_sequence()) {
                for (const auto& v : *a[0].list)
                    if (to_bool(v, "any")) return Value::boolean(true);
                return Value::boolean(false);
            } const Tensor& x = tensor(a[0]);
            NoGradGuard g;
            return T(full({}, Scalar(x.to(DType::Bool).to(DType::Float32).sum().item() > 0),
                          TensorOptions(DType::Bool).with_device(x.device())));),
         "some element true");

    // --- shape and views
    aten("size(self, dim=None)", size, "Tensor::shape");
    aten("dim(self)", OP(return Value::integer(tensor(a[0]).dim());), "Tensor::dim");
    aten("numel(self)", OP(return Value::integer(tensor(a[0]).numel());), "Tensor::numel");
    aten("is_floating_point(self)", OP(return Value::boolean(tensor(a[0]).is_floating_point());),
         "Tensor::is_floating_point");
    aten("contiguous(self, memory_format=0)", OP(return T(tensor(a[0]).contiguous());),
         "Tensor::contiguous");
    aten("clone(self, memory_format=None)", OP(return T(tensor(a[0]).clone());), "Tensor::clone");
    aten("detach(self)", OP(return T(tensor(a[0]).detach());), "Tensor::detach");
    aten("view(self, size)", OP(return T(tensor(a[0]).view(shape_arg(a[1])));), "Tensor::view");
    aten("reshape(self, shape)", OP(return T(tensor(a[0]).reshape(shape_arg(a[1])));),
         "Tensor::reshape");
    aten("flatten(self, start_dim=0, end_dim=-1)",
         OP(return T(tensor(a[0]).flatten(to_int(a[1], "start_dim"), to_int(a[2], "end_dim")));),
         "Tensor::flatten");
    aten("permute(self, dims)", OP(return T(tensor(a[0]).permute(to_ints(a[1], "dims")));),
         "Tensor::permute");
    aten("transpose(self, dim0, dim1)",
         OP(return T(tensor(a[0]).transpose(to_int(a[1], "dim0"), to_int(a[2], "dim1")));),
         "Tensor::transpose");
    aten("t(self)", OP(const Tensor& x = tensor(a[0]); return T(x.dim() < 2 ? x : x.t());),
         "Tensor::t");
    aten("unsqueeze(self, dim)", OP(return T(tensor(a[0]).unsqueeze(to_int(a[1], "dim")));),
         "Tensor::unsqueeze");
    aten("squeeze(self, dim=None)", squeeze, "Tensor::squeeze");
    aten("select(self, dim, index)",
         OP(const Tensor& x = tensor(a[0]); const int64_t d = wrap(to_int(a[1], "dim"), x.dim());
            int64_t i = to_int(a[2], "index");
            if (i < -x.size(d) || i >= x.size(d)) throw IndexError(
                "select(): index " + std::to_string(i) + " out of range for tensor of size " +
                torch_size_str(x.shape()) + " at dimension " + std::to_string(d));
            return T(x.select(d, i < 0 ? i + x.size(d) : i));),
         "Tensor::select");
    aten("slice(self, dim=0, start=None, end=None, step=1)", slice,
         "Tensor::narrow, or as_strided for a step");
    aten("expand(self, size, implicit=False)",
         OP(const Tensor& x = tensor(a[0]); Shape s = shape_arg(a[1]);
            for (size_t k = 0; k < s.size(); ++k) // -1 keeps the size
            if (s[k] == -1 && int64_t(k) >= int64_t(s.size()) - x.dim()) s[k] =
                x.size(int64_t(k) - int64_t(s.size()) + x.dim());
            return T(x.expand(s));),
         "Tensor::expand");
    aten("expand_as(self, other)",
         OP(return T(tensor(a[0]).expand(tensor(a[1], "other").shape()));), "Tensor::expand");
    aten("unflatten(self, dim, sizes)",
         OP(const Tensor& x = tensor(a[0]); const int64_t d = wrap(to_int(a[1], "dim"), x.dim());
            std::vector<int64_t> sizes = to_ints(a[2], "sizes");
            Shape s(x.shape().begin(), x.shape().begin() + d);
            s.insert(s.end(), sizes.begin(), sizes.end());
            s.insert(s.end(), x.shape().begin() + d + 1, x.shape().end()); return T(x.reshape(s));),
         "Tensor::reshape");
    aten("triu(self, diagonal=0)",
         OP(const Tensor& x = tensor(a[0]);
            if (x.dim() < 2) throw Error("triu: input tensor must have at least 2 dimensions");
            const int64_t diag = to_int(a[1], "diagonal"), r = x.size(-2), c = x.size(-1);
            std::vector<double> keep(size_t(r * c));
            for (int64_t i = 0; i < r; ++i) for (int64_t j = 0; j < c; ++j)
                keep[size_t(i * c + j)] = j - i >= diag ? 1.0 : 0.0;
            Tensor m =
                from_doubles(keep, {r, c}, TensorOptions(DType::Bool).with_device(x.device()));
            return T(masked_fill(x, m.to(DType::Float32).neg().add(Scalar(1.0)).to(DType::Bool),
                                 Value::integer(0)));),
         "elementwise select");
    aten("chunk(self, chunks, dim=0)", chunk, "Tensor::narrow per chunk");
    aten("split(self, split_size, dim=0)", split, "Tensor::narrow per piece");
    aten("cat(tensors, dim=0)", OP(return T(cat(tensors(a[0], "tensors"), to_int(a[1], "dim")));),
         "cat");
    aten("stack(tensors, dim=0)",
         OP(std::vector<Tensor> ts = tensors(a[0], "tensors");
            if (ts.empty()) throw Error("stack expects a non-empty TensorList");
            const int64_t d = wrap(to_int(a[1], "dim"), ts[0].dim() + 1);
            for (auto& t : ts) t = t.unsqueeze(d); return T(cat(ts, d));),
         "unsqueeze, cat");

    // --- reductions and products
    aten("mean(self, dim=None, keepdim=False, dtype=None)", OP(return reduce(a, true);),
         "Tensor::mean");
    aten("var(self, dim=None, unbiased=True, keepdim=False, correction=None)",
         OP(return T(variance(a));), "Tensor::var");
    aten("std(self, dim=None, unbiased=True, keepdim=False, correction=None)",
         OP(return T(variance(a).sqrt());), "Tensor::var, sqrt");
    aten("sum(self, dim=None, keepdim=False, dtype=None)",
         OP(if (a[0].is_sequence()) { // sum of a list of numbers
             ValueList pair{Value::integer(0), Value::integer(0)};
             Value acc = Value::integer(0);
             for (const auto& v : *a[0].list)
                 acc = find_op("aten::add")->fn(pair = ValueList{acc, v}, ctx);
             return acc;
         } return reduce(a, false);),
         "Tensor::sum");
    aten("matmul(self, other)",
         OP(const Tensor& x = tensor(a[0]); const Tensor& y = tensor(a[1], "other");
            if (x.dim() <= 2 && y.dim() <= 2) return T(x.matmul(y));
            if (y.dim() == 2) { // batched @ matrix: one GEMM over the flattened leading dims
                Shape out = x.shape();
                out.back() = y.size(1);
                return T(x.reshape({-1, x.size(-1)}).matmul(y).reshape(out));
            } if (x.dim() == 1) return T(F::batched_matmul(x.unsqueeze(0), y).squeeze(-2));
            if (y.dim() == 1) return T(F::batched_matmul(x, y.unsqueeze(-1)).squeeze(-1));
            return T(F::batched_matmul(x, y));),
         "Tensor::matmul, F::batched_matmul");
    aten("bmm(self, mat2)",
         OP(const Tensor& x = tensor(a[0]); const Tensor& y = tensor(a[1], "mat2");
            if (x.dim() != 3 || y.dim() != 3 || x.size(0) != y.size(0)) throw Error(
                "bmm: expected two 3-D tensors with the same batch size, got " +
                shape_str(x.shape()) + " and " + shape_str(y.shape()));
            return T(F::batched_matmul(x, y));),
         "F::batched_matmul");
    aten("baddbmm(self, batch1, batch2, beta=1, alpha=1)",
         OP(Tensor p = F::batched_matmul(tensor(a[1], "batch1"), tensor(a[2], "batch2"))
                           .mul(to_scalar(a[4], "alpha"));
            return T(tensor(a[0]).mul(to_scalar(a[3], "beta")).add(p));),
         "F::batched_matmul, mul, add");
    aten("index(self, indices)",
         OP(
             // Advanced indexing by one integer tensor on the first dim (x[idx]): a row gather.
             const Tensor& x = tensor(a[0]);
             if (!a[1].is_sequence() || a[1].list->size() != 1 ||
                 (*a[1].list)[0].kind !=
                     K::Tensor) throw NotImplementedError("aten::index: only one index tensor on "
                                                          "the first dim is supported yet");
             const Tensor& idx = (*a[1].list)[0].t;
             if (idx.dtype() == DType::Bool || idx.is_floating_point()) throw NotImplementedError(
                 "aten::index: boolean and float indices are not supported yet");
             if (x.dim() == 0) throw IndexError("too many indices for tensor of dimension 0");
             Shape out = idx.shape(); out.insert(out.end(), x.shape().begin() + 1, x.shape().end());
             const int64_t rows = x.size(0); std::vector<int64_t> iv = idx.to_int64s();
             for (int64_t& i : iv) {
                 if (i < -rows || i >= rows)
                     throw IndexError("index " + std::to_string(i) +
                                      " is out of bounds for dimension 0 with size " +
                                      std::to_string(rows));
                 if (i < 0) i += rows;
             } Tensor flat = from_int64s(iv, {int64_t(iv.size())},
                                         TensorOptions(DType::Int64).with_device(x.device()));
             return T(x.reshape({rows, -1}).index_select_rows(flat).reshape(out));),
         "Tensor::index_select_rows (a gather of rows)");
    aten("roll(self, shifts, dims=[])",
         OP(
             Tensor x = tensor(a[0]);
             std::vector<int64_t> shifts = to_ints(a[1], "shifts"), dims = to_ints(a[2], "dims");
             if (dims.empty()) { // over the flattened tensor
                 if (shifts.size() != 1)
                     throw Error("roll: shifts without dims must be one number");
                 const Shape shape = x.shape();
                 x = x.flatten();
                 dims = {0};
                 Tensor y = x;
                 const int64_t n = x.size(0);
                 if (n > 0) {
                     const int64_t k = ((shifts[0] % n) + n) % n;
                     if (k) y = cat({x.narrow(0, n - k, k), x.narrow(0, 0, n - k)}, 0);
                 }
                 return T(y.reshape(shape));
             } if (shifts.size() !=
                   dims.size()) throw Error("shifts and dimensions must align. shifts: " +
                                            std::to_string(shifts.size()) +
                                            ", dims:" + std::to_string(dims.size()));
             for (size_t i = 0; i < dims.size(); ++i) {
                 const int64_t d = wrap(dims[i], x.dim()), n = x.size(d);
                 if (n == 0) continue;
                 const int64_t k = ((shifts[i] % n) + n) % n;
                 if (k) x = cat({x.narrow(d, n - k, k), x.narrow(d, 0, n - k)}, d);
             } return T(x);),
         "narrow and cat per dim");
    aten("masked_fill(self, mask, value)",
         OP(return T(masked_fill(tensor(a[0]), tensor(a[1], "mask"), a[2]));),
         "elementwise select (not recorded)");
    aten("masked_fill_(self, mask, value)",
         OP(Tensor t = tensor(a[0]); t.copy_(masked_fill(t, tensor(a[1], "mask"), a[2]));
            return a[0];),
         "elementwise select, in place");
    aten("logical_not(self)",
         OP(NoGradGuard g; return T(tensor(a[0])
                                        .to(DType::Bool)
                                        .to(DType::Float32)
                                        .neg()
                                        .add(Scalar(1.0))
                                        .to(DType::Bool));),
         "1 - x, as bool");
    aten("logical_or(self, other)",
         OP(NoGradGuard g; return T(tensor(a[0])
                                        .to(DType::Float32)
                                        .abs()
                                        .add(tensor(a[1], "other").to(DType::Float32).abs())
                                        .sign()
                                        .to(DType::Bool));),
         "sign(|a| + |b|), as bool");
    aten("logical_and(self, other)",
         OP(NoGradGuard g;
            return T(tensor(a[0])
                         .to(DType::Bool)
                         .to(DType::Float32)
                         .mul(tensor(a[1], "other").to(DType::Bool).to(DType::Float32))
                         .to(DType::Bool));),
         "a * b, as bool");
    aten("repeat(self, repeats)",
         OP(const Tensor& x = tensor(a[0]); std::vector<int64_t> r = to_ints(a[1], "repeats");
            if (int64_t(r.size()) < x.dim()) throw Error(
                "Number of dimensions of repeat dims can not be smaller than "
                "number of dimensions of tensor");
            Shape s = x.shape();
            while (int64_t(s.size()) < int64_t(r.size())) s.insert(s.begin(), 1);
            Tensor y = x.reshape(s); for (size_t d = 0; d < r.size(); ++d) if (r[d] != 1) y =
                                         cat(std::vector<Tensor>(size_t(r[d]), y), int64_t(d));
            return T(y);),
         "cat of copies along each dim");
    aten("mm(self, mat2)", OP(return T(tensor(a[0]).matmul(tensor(a[1], "mat2")));),
         "Tensor::matmul");

    // --- creation and conversion
    aten("zeros(size, dtype=None, layout=None, device=None, pin_memory=None)",
         OP(return make_tensor(shape_arg(a[0]), Scalar(0), a[1], a[3], default_float_dtype);),
         "zeros");
    aten("ones(size, dtype=None, layout=None, device=None, pin_memory=None)",
         OP(return make_tensor(shape_arg(a[0]), Scalar(1), a[1], a[3], default_float_dtype);),
         "ones");
    aten("empty(size, dtype=None, layout=None, device=None, pin_memory=None, memory_format=None)",
         OP(return make_tensor(shape_arg(a[0]), Scalar(0), a[1], a[3], default_float_dtype);),
         "zeros (empty's values are unspecified)");
    aten("full(size, fill_value, dtype=None, layout=None, device=None, pin_memory=None)",
         OP(return make_tensor(shape_arg(a[0]), to_scalar(a[1], "fill_value"), a[2], a[4],
                               a[1].kind == K::Float  ? default_float_dtype
                               : a[1].kind == K::Bool ? DType::Bool
                                                      : DType::Int64);),
         "full");
    aten("zeros_like(self, dtype=None, layout=None, device=None, pin_memory=None, "
         "memory_format=None)",
         OP(const Tensor& x = tensor(a[0]);
            return make_tensor(x.shape(), Scalar(0), a[1],
                               a[3].is_none() ? Value::of_device(x.device()) : a[3], x.dtype());),
         "zeros");
    aten("ones_like(self, dtype=None, layout=None, device=None, pin_memory=None, "
         "memory_format=None)",
         OP(const Tensor& x = tensor(a[0]);
            return make_tensor(x.shape(), Scalar(1), a[1],
                               a[3].is_none() ? Value::of_device(x.device()) : a[3], x.dtype());),
         "ones");
    aten("new_zeros(self, size, dtype=None, layout=None, device=None, pin_memory=None)",
         OP(const Tensor& x = tensor(a[0]);
            return make_tensor(shape_arg(a[1]), Scalar(0), a[2],
                               a[4].is_none() ? Value::of_device(x.device()) : a[4], x.dtype());),
         "zeros");
    aten("tensor(data, dtype=None, device=None, requires_grad=False)", tensor_from_data,
         "from_doubles");
    aten("to(self, a=None, b=None, c=None, d=None, e=None, dtype=None, device=None, "
         "non_blocking=False, copy=False, memory_format=None)",
         to, "Tensor::to (device, dtype)");
    aten("item(self)",
         OP(const Tensor& t = tensor(a[0]);
            return t.is_floating_point() ? Value::number(t.item()) : Value::integer(t.item_int());),
         "Tensor::item");
    aten("device(a)",
         OP(if (a[0].kind == K::Str) return Value::of_device(Device::parse(a[0].s));
            throw TypeError("torch.device: expected a string, got " + type_name(a[0]));),
         "Device::parse");

    prim("dtype(a)", OP(return Value::integer(dtype_number(tensor(a[0], "a").dtype()));),
         "the ScalarType number of its dtype");
    prim("device(a)", OP(return Value::of_device(tensor(a[0], "a").device());), "Tensor::device");
    prim("is_cuda(a)",
         OP(return Value::boolean(tensor(a[0], "a").device().kind == DeviceKind::CUDA);),
         "on a CUDA device");
    prim("is_nested(a)", OP(tensor(a[0], "a"); return Value::boolean(false);),
         "False: no nested tensors");
    prim("is_quantized(a)", OP(tensor(a[0], "a"); return Value::boolean(false);),
         "False: no quantized tensors");
    prim("is_sparse(a)", OP(tensor(a[0], "a"); return Value::boolean(false);), "False");
    prim("is_mkldnn(a)", OP(tensor(a[0], "a"); return Value::boolean(false);), "False");
    prim("type(device)",
         OP(if (a[0].kind !=
                K::Device) throw TypeError("prim::type: expected a device, got " + type_name(a[0]));
            const Device& d = a[0].device;
            return Value::str(d.kind == DeviceKind::CPU    ? "cpu"
                              : d.kind == DeviceKind::CUDA ? "cuda"
                                                           : "sim");),
         "the device's type: cpu, cuda or sim");
    prim("requires_grad(a)", OP(return Value::boolean(tensor(a[0], "a").requires_grad());),
         "Tensor::requires_grad");
    prim("data(a)", OP(return T(tensor(a[0], "a").detach());), "Tensor::detach");
    prim(
        "NumToTensor(a)",
        OP(if (a[0].kind ==
               K::Float) return T(full({}, Scalar(a[0].f), TensorOptions(DType::Float64)));
           if (a[0].kind == K::Bool) return T(full({}, Scalar(a[0].b), TensorOptions(DType::Bool)));
           return T(full({}, Scalar(to_int(a[0], "a")), TensorOptions(DType::Int64)));),
        "a 0-dim tensor");
}

} // namespace nnscope::script
