// gemm_layout.h: the column-major BLAS call that computes a row-major matrix product.
//
// Row-major C(m, n) = A(m, k) @ B(k, n) is column-major C^T = B^T @ A^T, so BLAS's first
// operand is B and its second is A, each passed as is (no copy) when it is a row-major or a
// column-major matrix. The CPU backend (OpenBLAS, CblasColMajor) and the CUDA backend
// (cublasSgemm / cublasDgemm) both call exactly these arguments, so every CPU matmul test
// also checks what cuBLAS will be given.
#pragma once

#include "backend.h"

namespace nnscope {

struct ColumnMajorGemm {
    bool trans_first = false, trans_second = false; // op(B), op(A)
    int m = 0, n = 0, k = 0;                        // of C^T: m = C's columns, n = C's rows
    int ld_first = 1, ld_second = 1, ldc = 1;       // leading dimensions of B, A and C
    const void* first = nullptr;                    // B
    const void* second = nullptr;                   // A
    void* c = nullptr;
};

// Arguments for C = A @ B (2-D views). Throws DeviceError when a size or leading dimension
// does not fit BLAS's 32-bit int, and Error when an operand is not a BLAS matrix (the front
// end, Tensor::matmul, copies those first) or C is not row-major.
ColumnMajorGemm column_major_gemm(const TensorView& c, const TensorView& a, const TensorView& b);

} // namespace nnscope
