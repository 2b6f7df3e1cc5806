// tensor_format.cpp: PyTorch's tensor repr, ported from torch/_tensor_str.py (1.13).
//
// Default print options only (precision 4, threshold 1000, edgeitems 3, linewidth 80,
// sci_mode chosen automatically). Numbers go through snprintf, which like Python's
// float formatting rounds exactly (half to even); non-finite values are spelled as
// Python does ("nan" never carries a sign).
#include "tensor_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace nnscope {

namespace {

constexpr int k_precision = 4;
constexpr int64_t k_threshold = 1000;
constexpr int64_t k_edgeitems = 3;
constexpr int64_t k_linewidth = 80;

// Python's '{:.<precision>f}' / '{:.<precision>e}' for a float.
std::string format_float(double v, int precision, char conv) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    const char* fmt = conv == 'e' ? "%.*e" : "%.*f";
    int n = std::snprintf(nullptr, 0, fmt, precision, v);
    std::string s(static_cast<size_t>(n) + 1, '\0');
    std::snprintf(s.data(), s.size(), fmt, precision, v);
    s.resize(static_cast<size_t>(n));
    return s;
}

std::string pad_left(std::string s, size_t width) {
    if (s.size() < width) s.insert(0, width - s.size(), ' ');
    return s;
}

// torch._tensor_str._Formatter: decides int/sci mode and the common element width from
// the elements that will be shown.
class Formatter {
  public:
    Formatter(const ReprInput& in, const std::vector<int64_t>& shown) : in_(in) {
        floating_ = dtype_is_floating(in.dtype);
        if (!floating_) {
            for (int64_t i : shown) max_width_ = std::max(max_width_, plain_str(i).size());
            return;
        }
        std::vector<double> vals; // nonzero finite
        for (int64_t i : shown) {
            double v = value(i);
            if (std::isfinite(v) && v != 0) vals.push_back(v);
        }
        if (vals.empty()) return;
        double lo = std::fabs(vals[0]), hi = lo;
        for (double v : vals) {
            lo = std::min(lo, std::fabs(v));
            hi = std::max(hi, std::fabs(v));
            if (v != std::ceil(v)) int_mode_ = false;
        }
        bool wide_range = hi / lo > 1000.0 || hi > 1.0e8;
        if (int_mode_) {
            sci_mode_ = wide_range;
            for (double v : vals)
                max_width_ =
                    std::max(max_width_, sci_mode_ ? format_float(v, k_precision, 'e').size()
                                                   : format_float(v, 0, 'f').size() + 1);
        } else {
            sci_mode_ = wide_range || lo < 1.0e-4;
            for (double v : vals)
                max_width_ = std::max(max_width_,
                                      format_float(v, k_precision, sci_mode_ ? 'e' : 'f').size());
        }
    }

    size_t width() const { return max_width_; }

    std::string format(int64_t i) const {
        if (!floating_) return pad_left(plain_str(i), max_width_);
        double v = value(i);
        std::string s;
        if (sci_mode_) {
            s = format_float(v, k_precision, 'e');
        } else if (int_mode_) {
            s = format_float(v, 0, 'f');
            if (std::isfinite(v)) s += '.';
        } else {
            s = format_float(v, k_precision, 'f');
        }
        return pad_left(std::move(s), max_width_);
    }

  private:
    // Float16/BFloat16 are printed as float32, so every non-float64 value is a float32.
    double value(int64_t i) const {
        double v = in_.values[static_cast<size_t>(i)];
        return in_.dtype == DType::Float64 ? v : static_cast<double>(static_cast<float>(v));
    }
    // Python's str() of an int or bool element.
    std::string plain_str(int64_t i) const {
        if (in_.dtype == DType::Bool)
            return in_.values[static_cast<size_t>(i)] != 0 ? "True" : "False";
        if (!in_.uint64_values.empty())
            return std::to_string(in_.uint64_values[static_cast<size_t>(i)]);
        return std::to_string(in_.int_values[static_cast<size_t>(i)]);
    }

    const ReprInput& in_;
    bool floating_ = false;
    bool int_mode_ = true;
    bool sci_mode_ = false;
    size_t max_width_ = 1;
};

// How one element prints and how wide it is, as _vector_str sees it: one Formatter, or a
// complex element's two (real and imaginary, each with its own width, as PyTorch does).
struct ElementFormat {
    const Formatter* real;
    const Formatter* imag = nullptr;
    int64_t length() const { // _vector_str's element_length
        return int64_t(real->width()) + 2 + (imag ? int64_t(imag->width()) + 1 : 0);
    }
    std::string format(int64_t i) const {
        std::string re = real->format(i);
        if (!imag) return re;
        std::string im = imag->format(i) + "j";
        im.erase(0, im.find_first_not_of(' '));
        return re + (im[0] == '+' || im[0] == '-' ? "" : "+") + im;
    }
};

struct Layout {
    std::vector<int64_t> strides;
    bool summarize = false;

    bool cut(const std::vector<int64_t>& shape, size_t d) const {
        return summarize && shape[d] > 2 * k_edgeitems;
    }
    // Indices shown along dimension d: all, or the first and last edgeitems.
    std::vector<int64_t> shown(const std::vector<int64_t>& shape, size_t d) const {
        std::vector<int64_t> idx;
        for (int64_t i = 0; i < shape[d]; ++i)
            if (!cut(shape, d) || i < k_edgeitems || i >= shape[d] - k_edgeitems) idx.push_back(i);
        return idx;
    }
};

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Flat indices of every element that will be printed (get_summarized_data).
void collect_shown(const std::vector<int64_t>& shape, const Layout& lay, size_t d, int64_t offset,
                   std::vector<int64_t>& out) {
    if (d == shape.size()) {
        out.push_back(offset);
        return;
    }
    for (int64_t i : lay.shown(shape, d))
        collect_shown(shape, lay, d + 1, offset + i * lay.strides[d], out);
}

// _tensor_str_with_formatter / _vector_str for the sub-tensor starting at dimension d.
std::string tensor_str(const std::vector<int64_t>& shape, const Layout& lay, const ElementFormat& f,
                       size_t d, int64_t offset, int64_t indent) {
    const size_t rank = shape.size();
    std::vector<int64_t> idx = lay.shown(shape, d);
    const bool cut = lay.cut(shape, d);
    std::string out = "[";
    if (d + 1 == rank) {
        int64_t element_length = f.length();
        int64_t per_line = std::max<int64_t>(1, floor_div(k_linewidth - indent, element_length));
        std::vector<std::string> data;
        for (size_t k = 0; k < idx.size(); ++k) {
            if (cut && k == static_cast<size_t>(k_edgeitems)) data.push_back(" ...");
            data.push_back(f.format(offset + idx[k] * lay.strides[d]));
        }
        for (size_t k = 0; k < data.size(); ++k) {
            if (k > 0) {
                if (k % static_cast<size_t>(per_line) == 0)
                    out += ",\n" + std::string(static_cast<size_t>(indent) + 1, ' ');
                else
                    out += ", ";
            }
            out += data[k];
        }
    } else {
        std::string sep = "," + std::string(rank - d - 1, '\n') +
                          std::string(static_cast<size_t>(indent) + 1, ' ');
        for (size_t k = 0; k < idx.size(); ++k) {
            if (k > 0) out += sep;
            if (cut && k == static_cast<size_t>(k_edgeitems)) out += "..." + sep;
            out += tensor_str(shape, lay, f, d + 1, offset + idx[k] * lay.strides[d], indent + 1);
        }
    }
    return out + "]";
}

std::string shape_tuple(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) s += ", ";
        s += std::to_string(shape[i]);
    }
    if (shape.size() == 1) s += ",";
    return s + ")";
}

// _add_suffixes, including its count of the last line's length.
std::string add_suffixes(const std::string& text, const std::vector<std::string>& suffixes,
                         int64_t indent) {
    std::string out = text;
    size_t nl = text.rfind('\n');
    int64_t last_line_len = static_cast<int64_t>(text.size()) -
                            (nl == std::string::npos ? -1 : static_cast<int64_t>(nl)) + 1;
    for (const auto& suffix : suffixes) {
        int64_t len = static_cast<int64_t>(suffix.size());
        if (last_line_len + len + 2 > k_linewidth) {
            out += ",\n" + std::string(static_cast<size_t>(indent), ' ') + suffix;
            last_line_len = indent + len;
        } else {
            out += ", " + suffix;
            last_line_len += len + 2;
        }
    }
    return out + ")";
}

} // namespace

std::string format_repr(const ReprInput& in) {
    const std::string prefix = "tensor(";
    const int64_t indent = static_cast<int64_t>(prefix.size());
    const std::string dtype_suffix = "dtype=torch." + std::string(dtype_name(in.dtype));

    int64_t numel = 1;
    for (int64_t s : in.shape) numel *= s;

    std::vector<std::string> suffixes;
    if (in.device != "cpu") suffixes.push_back("device='" + in.device + "'");

    std::string body;
    if (numel == 0) {
        if (in.shape.size() != 1) suffixes.push_back("size=" + shape_tuple(in.shape));
        if (in.dtype != default_float_dtype) suffixes.push_back(dtype_suffix);
        body = "[]";
    } else {
        bool default_dtype = in.dtype == default_float_dtype || in.dtype == DType::Complex64 ||
                             in.dtype == DType::Int64 || in.dtype == DType::Bool;
        if (!default_dtype) suffixes.push_back(dtype_suffix);

        Layout lay;
        lay.summarize = numel > k_threshold;
        lay.strides.assign(in.shape.size(), 1);
        for (size_t d = in.shape.size(); d-- > 1;)
            lay.strides[d - 1] = lay.strides[d] * in.shape[d];

        std::vector<int64_t> shown;
        collect_shown(in.shape, lay, 0, 0, shown);
        // A complex tensor's parts print as float32 (complex64) or float64 (complex128) would.
        ReprInput re = in, im = in;
        if (dtype_is_complex(in.dtype)) {
            re.dtype = im.dtype = in.dtype == DType::Complex64 ? DType::Float32 : DType::Float64;
            im.values = in.imag_values;
        }
        Formatter fr(re, shown), fi(im, shown);
        const ElementFormat f{&fr, dtype_is_complex(in.dtype) ? &fi : nullptr};
        body = in.shape.empty() ? f.format(0) : tensor_str(in.shape, lay, f, 0, 0, indent);
    }
    if (in.requires_grad) suffixes.push_back("requires_grad=True");

    std::string text = add_suffixes(prefix + body, suffixes, indent);
    return in.is_parameter ? "Parameter containing:\n" + text : text;
}

} // namespace nnscope
