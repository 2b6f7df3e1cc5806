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
  libtorch-dev                                            # nnscope-bench-libtorch (optional)
  "${NNSCOPE_LLVM_PACKAGES[@]}"                           # libFuzzer targets (scripts/fuzz)
)

nnscope_install_deps() {
  local missing=()
  for p in "${NNSCOPE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "nnscope: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

nnscope_build() {
  local dir="$1"; shift
  cmake -S "$NNSCOPE_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j2
}
