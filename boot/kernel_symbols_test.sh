#!/bin/bash
# The kernel ELF is a static x86_64 executable with no undefined symbols and nothing from a C library.
set -eu
elf=boot/kernel.elf
file_header=$(readelf -h "$elf")
grep -q 'Class:.*ELF64' <<<"$file_header" || { echo "not ELF64"; exit 1; }
grep -q 'Machine:.*X86-64' <<<"$file_header" || { echo "not x86-64"; exit 1; }
undefined=$(llvm-nm -u "$elf")
if [ -n "$undefined" ]; then echo "undefined symbols:"; echo "$undefined"; exit 1; fi
if readelf -d "$elf" 2>/dev/null | grep -q NEEDED; then echo "kernel is dynamically linked"; exit 1; fi
# Symbols that would only be there if a host C library or C++ runtime had been linked in.
if llvm-nm "$elf" | grep -E ' (printf|malloc|__libc_start_main|_Unwind_Resume|__cxa_throw|__gxx_personality_v0)$'; then
  echo "libc or C++ runtime symbols in the kernel"; exit 1
fi
# The flat image must start with the Multiboot header (magic 0x1BADB002, little-endian).
magic=$(od -An -tx4 -N4 boot/kernel.bin | tr -d ' ')
[ "$magic" = 1badb002 ] || { echo "kernel.bin does not start with the Multiboot header: $magic"; exit 1; }
echo "kernel.elf: static ELF64 x86-64, no undefined symbols, no libc"
