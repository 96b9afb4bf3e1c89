#!/bin/bash
# //user:images built and linked for the kernel platform (images_link_check): every program's image is
# there, in read-only data, page-aligned, and is an ELF file.
set -eu
elf=user/images_link_check_image.elf
fail() { echo "FAIL: $*" >&2; exit 1; }
symbols=$(llvm-nm -C --defined-only "$elf")
# The file offset of a .rodata address, from the section's address and offset.
read -r rodata_addr rodata_off < <(llvm-readelf -S -W "$elf" | sed 's/^ *\[ *[0-9]*\]//' | awk '$1 == ".rodata" {print $3, $4}')
[ -n "${rodata_addr:-}" ] || fail "no .rodata in $elf"
for program in hello memhog memstat mmapchurn segv stack; do
  line=$(grep -E " kmem::user::\(anonymous namespace\)::k_$program$" <<<"$symbols") ||
    fail "no image of $program in $elf"
  read -r addr kind _ <<<"$line"
  [ "$kind" = r ] || [ "$kind" = R ] || fail "image of $program is in a '$kind' section, not read-only data"
  (((16#$addr) % 4096 == 0)) || fail "image of $program at 0x$addr, not page-aligned"
  magic=$(od -An -tx1 -j $((16#$addr - 16#$rodata_addr + 16#$rodata_off)) -N4 "$elf" | tr -d ' ')
  [ "$magic" = 7f454c46 ] || fail "image of $program starts with $magic, not \\x7fELF"
done
echo "images_kernel_test: the 6 images in read-only data of a kernel-platform link, page-aligned ELF files"
