// op_table.cpp: the rows of op_table.h, one per UnaryOp, BinaryOp and ReduceOp, with the
// checks and backward functions they name. Error texts and grad_fn names are PyTorch's.
#include "op_table.h"

#include <string>

#include "autograd.h"
#include "element_io.h"
#include "errors.h"
#include "tensor_internal.h"

namespace nnscope {

// element_io.h numbers the ops as plain ints (CUDA compiles it without the core headers):
// every value must equal its mirror there.
static_assert(int(UnaryOp::Neg) == elem::U_NEG && int(UnaryOp::Abs) == elem::U_ABS &&
                  int(UnaryOp::Sqrt) == elem::U_SQRT && int(UnaryOp::Exp) == elem::U_EXP &&
                  int(UnaryOp::Log) == elem::U_LOG && int(UnaryOp::Relu) == elem::U_RELU &&
                  int(UnaryOp::Sigmoid) == elem::U_SIGMOID && int(UnaryOp::Tanh) == elem::U_TANH &&
                  int(UnaryOp::Erf) == elem::U_ERF && int(UnaryOp::Step) == elem::U_STEP &&
                  int(UnaryOp::Sign) == elem::U_SIGN && k_unary_op_count == elem::U_SIGN + 1,
              "UnaryOp and element_io.h's U_* codes out of step");
static_assert(int(BinaryOp::Add) == elem::B_ADD && int(BinaryOp::Sub) == elem::B_SUB &&
                  int(BinaryOp::Mul) == elem::B_MUL && int(BinaryOp::Div) == elem::B_DIV &&
                  int(BinaryOp::Maximum) == elem::B_MAX && int(BinaryOp::Minimum) == elem::B_MIN &&
                  int(BinaryOp::Pow) == elem::B_POW && k_binary_op_count == elem::B_POW + 1,
              "BinaryOp and element_io.h's B_* codes out of step");
static_assert(int(ReduceOp::Sum) == elem::R_SUM && int(ReduceOp::Mean) == elem::R_MEAN &&
                  int(ReduceOp::Var) == elem::R_VAR && int(ReduceOp::Min) == elem::R_MIN &&
                  int(ReduceOp::Max) == elem::R_MAX && int(ReduceOp::Norm2) == elem::R_NORM2 &&
                  int(ReduceOp::CountNaN) == elem::R_COUNT_NAN &&
                  int(ReduceOp::CountInf) == elem::R_COUNT_INF &&
                  k_reduce_op_count == elem::R_COUNT_INF + 1,
              "ReduceOp and element_io.h's R_* codes out of step");

namespace {

using autograd::sum_to;
constexpr auto KeepsInt = UnaryDType::KeepsInt;
constexpr auto IntToFloat = UnaryDType::IntToFloat;
constexpr auto Promoted = BinaryDType::Promoted;
constexpr auto TrueDiv = BinaryDType::IntToFloat;
constexpr unsigned SavesAll = SavesInputs | SavesResult;
constexpr auto Same = ReduceDType::Same;
constexpr auto SumPromotes = ReduceDType::SumPromotes;
constexpr auto Int64 = ReduceDType::Int64;

// --- unary: checks and backward (g: the result's gradient) -------------------------------

void refuse_bool_neg(const Tensor& a) {
    if (a.dtype() == DType::Bool)
        throw Error("Negation, the `-` operator, on a bool tensor is not supported. If you are "
                    "trying to invert a mask, use the `~` or `logical_not()` operator instead.");
}

Tensor neg_backward(const Tensor& g, const Tensor&, const Tensor&) {
    return g.neg();
}
Tensor abs_backward(const Tensor& g, const Tensor& a, const Tensor&) {
    return g.mul(apply(UnaryOp::Sign, a));
}
Tensor sqrt_backward(const Tensor& g, const Tensor&, const Tensor& r) {
    return g.div(r.mul(Scalar(2)));
}
Tensor exp_backward(const Tensor& g, const Tensor&, const Tensor& r) {
    return g.mul(r);
}
Tensor log_backward(const Tensor& g, const Tensor& a, const Tensor&) {
    return g.div(a);
}
Tensor relu_backward(const Tensor& g, const Tensor&, const Tensor& r) {
    return threshold_backward(g, r);
}
Tensor sigmoid_backward(const Tensor& g, const Tensor&, const Tensor& r) {
    return g.mul(r.mul(r.neg().add(Scalar(1))));
}
Tensor tanh_backward(const Tensor& g, const Tensor&, const Tensor& r) {
    return g.mul(r.mul(r).neg().add(Scalar(1)));
}
Tensor erf_backward(const Tensor& g, const Tensor& a, const Tensor&) { // 2/sqrt(pi) e^(-x^2)
    return g.mul(a.mul(a).neg().exp().mul(Scalar(1.1283791670955126)));
}

// --- binary: checks and backward; gradients are summed back over broadcast dims ----------

void refuse_negative_int_power(DType compute, const Tensor& b, bool b_wrapped) {
    if (dtype_is_integral(compute) && b_wrapped && b.item_int() < 0)
        throw Error("Integers to negative integer powers are not allowed.");
}

std::vector<Tensor> add_backward(const Tensor& g, const BinarySaved& s) {
    return {sum_to(g, s.self_shape), sum_to(g, s.other_shape)};
}
std::vector<Tensor> sub_backward(const Tensor& g, const BinarySaved& s) {
    return {sum_to(g, s.self_shape), sum_to(g.neg(), s.other_shape)};
}
std::vector<Tensor> mul_backward(const Tensor& g, const BinarySaved& s) {
    return {sum_to(g.mul(s.other), s.self_shape), sum_to(g.mul(s.self), s.other_shape)};
}
std::vector<Tensor> div_backward(const Tensor& g, const BinarySaved& s) {
    const Tensor &a = s.self, &b = s.other;
    return {sum_to(g.div(b), s.self_shape), sum_to(g.neg().mul(a).div(b.mul(b)), s.other_shape)};
}
// ATen's maximum/minimum: the gradient goes to the larger (smaller) operand, half to each
// on a tie.
std::vector<Tensor> extremum_backward(const Tensor& g, const BinarySaved& s, bool max) {
    Tensor d = max ? s.self.sub(s.other) : s.other.sub(s.self);
    Tensor self_wins = apply(UnaryOp::Step, d), other_wins = apply(UnaryOp::Step, d.neg());
    Tensor half_tie = self_wins.add(other_wins).neg().add(Scalar(1)).mul(Scalar(0.5));
    return {sum_to(g.mul(self_wins.add(half_tie)), s.self_shape),
            sum_to(g.mul(other_wins.add(half_tie)), s.other_shape)};
}
std::vector<Tensor> maximum_backward(const Tensor& g, const BinarySaved& s) {
    return extremum_backward(g, s, true);
}
std::vector<Tensor> minimum_backward(const Tensor& g, const BinarySaved& s) {
    return extremum_backward(g, s, false);
}
std::vector<Tensor> pow_backward(const Tensor& g, const BinarySaved& s) {
    const Tensor &a = s.self, &b = s.other;
    Tensor ga = sum_to(g.mul(b).mul(a.pow(b.sub(Scalar(1)))), s.self_shape);
    Tensor gb =
        s.other_requires_grad ? sum_to(g.mul(s.result).mul(a.log()), s.other_shape) : Tensor();
    return {ga, gb};
}

// --- reductions: dtype checks and backward (ge: the gradient expanded to the input) ------

void refuse_int_mean(const Tensor& a) {
    if (!a.is_floating_point())
        throw Error("mean(): could not infer output dtype. Input dtype must be either a floating "
                    "point or complex dtype. Got: " +
                    scalar_type_name(a.dtype()));
}
void refuse_int_var(const Tensor& a) {
    if (!a.is_floating_point())
        throw Error("std and var only support floating point and complex dtypes");
}
void refuse_int_norm(const Tensor& a) {
    if (!a.is_floating_point())
        throw Error(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got " +
            scalar_type_name(a.dtype()));
}

Tensor sum_backward(const Tensor& ge, const ReduceSaved&) {
    return ge.contiguous();
}
Tensor mean_backward(const Tensor& ge, const ReduceSaved& s) {
    return ge.div(Scalar(double(s.count)));
}
Tensor var_backward(const Tensor& ge, const ReduceSaved& s) {
    Tensor m = s.dims.empty() ? s.self : s.self.mean(s.dims, true);
    return ge.mul(s.self.sub(m)).mul(Scalar(2.0 / double(s.count - s.correction)));
}

// --- the tables ----------------------------------------------------------------------------

// clang-format off
constexpr UnaryOpInfo k_unary[] = {
//   op                name       ATen             dtype       check            grad_fn             saves         backward
    {UnaryOp::Neg,     "neg",     "aten::neg",     KeepsInt,   refuse_bool_neg, "NegBackward0",     SavesNothing, neg_backward},
    {UnaryOp::Abs,     "abs",     "aten::abs",     KeepsInt,   nullptr,         "AbsBackward0",     SavesInputs,  abs_backward},
    {UnaryOp::Sqrt,    "sqrt",    "aten::sqrt",    IntToFloat, nullptr,         "SqrtBackward0",    SavesResult,  sqrt_backward},
    {UnaryOp::Exp,     "exp",     "aten::exp",     IntToFloat, nullptr,         "ExpBackward0",     SavesResult,  exp_backward},
    {UnaryOp::Log,     "log",     "aten::log",     IntToFloat, nullptr,         "LogBackward0",     SavesInputs,  log_backward},
    {UnaryOp::Relu,    "relu",    "aten::relu",    KeepsInt,   nullptr,         "ReluBackward0",    SavesResult,  relu_backward},
    {UnaryOp::Sigmoid, "sigmoid", "aten::sigmoid", IntToFloat, nullptr,         "SigmoidBackward0", SavesResult,  sigmoid_backward},
    {UnaryOp::Tanh,    "tanh",    "aten::tanh",    IntToFloat, nullptr,         "TanhBackward0",    SavesResult,  tanh_backward},
    {UnaryOp::Erf,     "erf",     "aten::erf",     IntToFloat, nullptr,         "ErfBackward0",     SavesInputs,  erf_backward},
    {UnaryOp::Step,    "step",    "",              IntToFloat, nullptr,         nullptr,            SavesNothing, nullptr}, // x > 0: ReLU's derivative
    {UnaryOp::Sign,    "sign",    "aten::sign",    IntToFloat, nullptr,         nullptr,            SavesNothing, nullptr},
};

constexpr BinaryOpInfo k_binary[] = {
//   op                 name       ATen             dtype     check                      grad_fn             saves         backward
    {BinaryOp::Add,     "add",     "aten::add",     Promoted, nullptr,                   "AddBackward0",     SavesNothing, add_backward},
    {BinaryOp::Sub,     "sub",     "aten::sub",     Promoted, nullptr,                   "SubBackward0",     SavesNothing, sub_backward},
    {BinaryOp::Mul,     "mul",     "aten::mul",     Promoted, nullptr,                   "MulBackward0",     SavesInputs,  mul_backward},
    {BinaryOp::Div,     "div",     "aten::div",     TrueDiv,  nullptr,                   "DivBackward0",     SavesInputs,  div_backward},
    {BinaryOp::Maximum, "maximum", "aten::maximum", Promoted, nullptr,                   "MaximumBackward0", SavesInputs,  maximum_backward},
    {BinaryOp::Minimum, "minimum", "aten::minimum", Promoted, nullptr,                   "MinimumBackward0", SavesInputs,  minimum_backward},
    {BinaryOp::Pow,     "pow",     "aten::pow",     Promoted, refuse_negative_int_power, "PowBackward1",     SavesAll,     pow_backward},
};

constexpr ReduceOpInfo k_reduce[] = {
//   op                   name         ATen                         dtype        check            grad_fn          saves         backward
    {ReduceOp::Sum,       "sum",       "aten::sum",                 SumPromotes, nullptr,         "SumBackward1",  SavesNothing, sum_backward},
    {ReduceOp::Mean,      "mean",      "aten::mean",                Same,        refuse_int_mean, "MeanBackward1", SavesNothing, mean_backward},
    {ReduceOp::Var,       "var",       "aten::var",                 Same,        refuse_int_var,  "VarBackward0",  SavesInputs,  var_backward},
    {ReduceOp::Min,       "min",       "aten::min",                 Same,        nullptr,         nullptr,         SavesNothing, nullptr},
    {ReduceOp::Max,       "max",       "aten::max",                 Same,        nullptr,         nullptr,         SavesNothing, nullptr},
    {ReduceOp::Norm2,     "norm",      "aten::linalg_vector_norm",  Same,        refuse_int_norm, nullptr,         SavesNothing, nullptr},
    {ReduceOp::CountNaN,  "count_nan", "",                          Int64,       nullptr,         nullptr,         SavesNothing, nullptr},
    {ReduceOp::CountInf,  "count_inf", "",                          Int64,       nullptr,         nullptr,         SavesNothing, nullptr},
};
// clang-format on

// Row i describes op value i, and every value has a row.
template <class Row, size_t N> constexpr bool in_enum_order(const Row (&rows)[N], int count) {
    if (int(N) != count) return false;
    for (size_t i = 0; i < N; ++i)
        if (int(rows[i].op) != int(i)) return false;
    return true;
}
static_assert(in_enum_order(k_unary, k_unary_op_count), "one row per UnaryOp, in enum order");
static_assert(in_enum_order(k_binary, k_binary_op_count), "one row per BinaryOp, in enum order");
static_assert(in_enum_order(k_reduce, k_reduce_op_count), "one row per ReduceOp, in enum order");

} // namespace

std::span<const UnaryOpInfo> unary_ops() {
    return k_unary;
}
std::span<const BinaryOpInfo> binary_ops() {
    return k_binary;
}
std::span<const ReduceOpInfo> reduce_ops() {
    return k_reduce;
}
const UnaryOpInfo& op_info(UnaryOp op) {
    return k_unary[size_t(op)];
}
const BinaryOpInfo& op_info(BinaryOp op) {
    return k_binary[size_t(op)];
}
const ReduceOpInfo& op_info(ReduceOp op) {
    return k_reduce[size_t(op)];
}

Tensor threshold_backward(const Tensor& g, const Tensor& y) {
    if (g.shape() == y.shape() && g.dtype() == y.dtype() && g.device() == y.device()) {
        Tensor gx = empty(y.shape(), TensorOptions(y.dtype()).with_device(y.device()));
        if (backend_for(y.device())
                .threshold_backward(gx.view_desc(), g.view_desc(), y.view_desc()))
            return gx;
    }
    return g.mul(apply(UnaryOp::Step, y)); // the backend declined
}

} // namespace nnscope
