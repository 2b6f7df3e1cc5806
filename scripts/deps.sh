# deps.sh: sourced by scripts/run and scripts/test. Installs the Debian packages nnscope
# needs, only those missing, so a second run costs a dpkg query and nothing else.
# Debian 12 and 13 differ only in the LLVM that builds the libFuzzer targets: clang-14 on
# 12 (libFuzzer inside libclang-rt-14-dev), clang-19 on 13 (libFuzzer in its own package).
case "$( (. /etc/os-release 2>/dev/null && echo "${VERSION_ID:-12}") || echo 12)" in
  12) NNSCOPE_LLVM=14; NNSCOPE_LLVM_PACKAGES=(clang-14 libclang-rt-14-dev) ;;
  *)  NNSCOPE_LLVM=19; NNSCOPE_LLVM_PACKAGES=(clang-19 libclang-rt-19-dev libfuzzer-19-dev) ;;
esac
NNSCOPE_PACKAGES=(
  cmake g++ make ccache pkg-config
  qt6-base-dev libqcustomplot-dev libqcustomplot2.1-qt6   # the window and Qt Test
  nlohmann-json3-dev                                      # all JSON
  libopenblas-openmp-dev                                  # CPU matrix products (OpenMP build: cmake/openblas.cmake)
  libzip-dev                                              # PyTorch .pt archives
  python3 python3-torch python3-torchvision               # the reference, tests only
  python3-pip                                             # pinned clang-format (scripts/format)
  libtorch-dev                                            # nnscope-bench-libtorch (optional)
  "${NNSCOPE_LLVM_PACKAGES[@]}"                           # libFuzzer targets (scripts/fuzz)
)

# Installed where the distribution has them, skipped (with a line saying so) where not:
# the build uses them when CMake finds them and does without otherwise.
NNSCOPE_OPTIONAL_PACKAGES=(
  libdnnl-dev                                             # oneDNN: CPU convolutions (core/backend/cpu/conv_dnnl.cpp)
)
# What an optional package needs beside it: Debian's dnnl-config.cmake calls
# find_package(OpenCL REQUIRED), so without OpenCL's headers CMake stops the build.
declare -A NNSCOPE_OPTIONAL_WITH=([libdnnl-dev]="ocl-icd-opencl-dev")

nnscope_install_deps() {
  local missing=() optional=()
  for p in "${NNSCOPE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  for p in "${NNSCOPE_OPTIONAL_PACKAGES[@]}"; do
    for q in "$p" ${NNSCOPE_OPTIONAL_WITH[$p]:-}; do
      dpkg-query -W -f='${Status}' "$q" 2>/dev/null | grep -q "install ok installed" || { optional+=("$p"); break; }
    done
  done
  [ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ ${#missing[@]} -gt 0 ]; then
    echo "nnscope: installing ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  for p in "${optional[@]}"; do
    # The whole answer first, then the test: `apt-cache ... | grep -q` under pipefail failed
    # with SIGPIPE (grep exits at the first match), so oneDNN was never installed.
    local policy
    policy="$(apt-cache policy "$p" 2>/dev/null || true)"
    if [[ "$policy" =~ Candidate:\ [0-9] ]]; then
      local with=(${NNSCOPE_OPTIONAL_WITH[$p]:-})
      echo "nnscope: installing $p ${with[*]}"
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" "${with[@]}" ||
        echo "nnscope: $p could not be installed: building without it"
    else
      echo "nnscope: $p is not in this system's package lists: building without it"
    fi
  done
}

# The CUDA toolkit (optional, /usr/local/cuda) sometimes comes without cuBLAS (the compiler
# and runtime only). Then NVIDIA's redistributable cuBLAS for the toolkit's major version is
# installed from the Python package index into .deps/cublas (once; about 600 MB), so the CUDA
# backend still compiles and links and CI checks it. Prints the CMake flag, or nothing.
nnscope_cublas_flag() {
  local nvcc=/usr/local/cuda/bin/nvcc
  [ -x "$nvcc" ] || return 0
  ls /usr/local/cuda/lib64/libcublas.so* /usr/local/cuda/targets/*/lib/libcublas.so* \
    >/dev/null 2>&1 && return 0
  local major wheel sub dir="$NNSCOPE_ROOT/.deps/cublas"
  major="$("$nvcc" --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')"
  case "$major" in
    12) wheel="nvidia-cublas-cu12>=12,<13"; sub=cublas ;;
    13) wheel="nvidia-cublas>=13,<14"; sub=cu13 ;;
    *) return 0 ;;
  esac
  if [ ! -f "$dir/nvidia/$sub/include/cublas_v2.h" ]; then
    echo "nnscope: the CUDA toolkit has no cuBLAS: installing $wheel into .deps/cublas" >&2
    python3 -m pip install -q --disable-pip-version-check --no-deps --target "$dir" "$wheel" \
      >/dev/null 2>&1 || { echo "nnscope: could not install $wheel: the CUDA backend is not built" >&2; return 0; }
  fi
  echo "-DNNSCOPE_CUBLAS_ROOT=$dir/nvidia/$sub"
}

# clang-format, pinned: its output differs between releases, so scripts/format and the
# format_check test must run one version on every machine (Debian 12 ships 14, Debian 13 19).
# From the Python package index into .deps/clang-format (once; 2 MB). Prints the program's
# path, or nothing (with a line on stderr saying why) where it cannot be installed.
NNSCOPE_CLANG_FORMAT_VERSION=19.1.7
nnscope_clang_format() {
  local dir="$NNSCOPE_ROOT/.deps/clang-format"
  local bin="$dir/clang_format/data/bin/clang-format"
  if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "version $NNSCOPE_CLANG_FORMAT_VERSION"; then
    echo "nnscope: installing clang-format $NNSCOPE_CLANG_FORMAT_VERSION into .deps/clang-format" >&2
    rm -rf "$dir"
    local log
    log="$(python3 -m pip install -q --disable-pip-version-check --no-deps --target "$dir" \
      "clang-format==$NNSCOPE_CLANG_FORMAT_VERSION" 2>&1)" ||
      { echo "nnscope: could not install clang-format $NNSCOPE_CLANG_FORMAT_VERSION: formatting is not checked" >&2
        echo "$log" | tail -3 >&2; return 0; }
  fi
  echo "$bin"
}

nnscope_build() {
  local dir="$1"; shift
  local cublas; cublas="$(nnscope_cublas_flag)"
  cmake -S "$NNSCOPE_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${cublas:+"$cublas"} "$@" >/dev/null
  cmake --build "$dir" -j2
}
