// gemm_layout.cpp: column_major_gemm(), the one derivation of BLAS arguments for matmul.
#include "gemm_layout.h"

#include <algorithm>
#include <climits>

#include "errors.h"

namespace nnscope {

namespace {

// A row-major matrix (unit column stride) is, read column-major, its own transpose with the
// row stride as leading dimension: no transpose needed in C^T = B^T A^T. A column-major
// matrix (unit row stride) needs one. A single row or column takes either reading.
void operand_layout(const TensorView& v, const char* name, bool& trans, int64_t& ld) {
    const int64_t rows = v.shape[0], cols = v.shape[1], s0 = v.strides[0], s1 = v.strides[1];
    if ((s1 == 1 || cols == 1) && (s0 >= cols || rows == 1)) {
        trans = false;
        ld = std::max<int64_t>({s0, cols, 1});
    } else if ((s0 == 1 || rows == 1) && (s1 >= rows || cols == 1)) {
        trans = true;
        ld = std::max<int64_t>({s1, rows, 1});
    } else {
        throw Error(std::string("matmul: operand ") + name + " with strides (" +
                    std::to_string(s0) + ", " + std::to_string(s1) +
                    ") is not a BLAS matrix; the front end copies such operands first");
    }
}

int blas_int(int64_t v, const char* what) {
    if (v > INT_MAX)
        throw DeviceError(std::string("matmul: ") + what + " of " + std::to_string(v) +
                          " exceeds BLAS's 32-bit limit of " + std::to_string(INT_MAX));
    return int(v);
}

} // namespace

ColumnMajorGemm column_major_gemm(const TensorView& c, const TensorView& a, const TensorView& b) {
    if (a.shape.size() != 2 || b.shape.size() != 2 || c.shape.size() != 2)
        throw Error("matmul: the BLAS call takes 2-D operands");
    ColumnMajorGemm g;
    int64_t lda = 1, ldb = 1;
    operand_layout(a, "A", g.trans_second, lda);
    operand_layout(b, "B", g.trans_first, ldb);
    if (c.strides[1] != 1 && c.shape[1] != 1) throw Error("matmul: the result must be row-major");
    g.m = blas_int(b.shape[1], "a dimension");
    g.n = blas_int(a.shape[0], "a dimension");
    g.k = blas_int(a.shape[1], "a dimension");
    g.ld_first = blas_int(ldb, "a leading dimension");
    g.ld_second = blas_int(lda, "a leading dimension");
    g.ldc = blas_int(std::max<int64_t>({c.strides[0], c.shape[1], 1}), "a leading dimension");
    g.first = b.data;
    g.second = a.data;
    g.c = c.data;
    return g;
}

} // namespace nnscope
