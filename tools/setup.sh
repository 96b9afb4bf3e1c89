#!/bin/bash
# Installs everything kmem builds, boots and tests with, from Debian's packages only. Idempotent: when every
# package is already installed it returns at once without touching apt.
set -euo pipefail

packages=(
  bazel-bootstrap bazel-rules-cc bazel-rules-java bazel-platforms bazel-skylib  # Bazel 4.2.3 and its rules
  clang lld llvm           # kernel toolchain (clang, ld.lld, llvm-objcopy/-nm/-ar) and host clang
  libclang-rt-14-dev       # sanitizer and libFuzzer runtimes for host tests and fuzz targets
  qemu-system-x86          # boots the kernel
  googletest libabsl-dev libbenchmark-dev  # host test, tool and benchmark libraries
  libgoogle-perftools-dev libmimalloc-dev   # tcmalloc and mimalloc, which //bench:pool_bench compares against
  binutils python3         # readelf for the kernel checks; python3 for tools/compile_commands.sh
  gdb                      # README's debugging line and tools/gdb: gdb on kernel.elf against QEMU's stub
  python3-matplotlib       # //tools:memviz draws the memory picture
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages ${missing[*]}; run as root (apt-get install)" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
