#!/bin/bash
# Boots the kmem kernel in QEMU with the serial console on this terminal and returns the kernel's status:
# 0 when it reported success, 1 when it panicked, 2 when QEMU stopped without a report (a hang, a triple
# fault) or failed to start.
#
#   bazel run //boot:qemu [-- [--gdb] [QEMU ARGS...]]
# QEMU ARGS pass through (-m 4G, -smp 2, -append 'words'); the default memory is 1G. --gdb starts QEMU's
# gdb stub on :1234 with the CPU stopped and prints the gdb command (tools/gdb/kmem.py's commands loaded).
# KMEM_KERNEL=FILE boots another flat image (the boot tests pick a backend so).
# KMEM_ACCEL=tcg|kvm forces an accelerator; by default KVM is used when it works and TCG otherwise.
# -cpu max gives NX and 1 GiB pages under both; arch-capabilities is dropped because nested KVM refuses
# to set that MSR and QEMU aborts.
# KMEM_SERIAL=CHARDEV puts the serial line elsewhere than this terminal (default stdio; e.g. pipe:DIR/serial);
# KMEM_MONITOR=CHARDEV adds QEMU's monitor there (e.g. pipe:DIR/monitor); the MMU boot test uses both.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kernel=""
for candidate in ${KMEM_KERNEL:-} "${RUNFILES_DIR:-/nonexistent}/kmem/boot/kernel.bin" "$0.runfiles/kmem/boot/kernel.bin" \
    "$here/kernel.bin" "boot/kernel.bin"; do
  if [ -f "$candidate" ]; then kernel=$candidate; break; fi
done
if [ -z "$kernel" ]; then
  echo "qemu.sh: cannot find boot/kernel.bin (run it with: bazel run //boot:qemu)" >&2
  exit 2
fi

extra=()
for arg in "$@"; do
  case "$arg" in
    --gdb)
      extra+=(-s -S)
      echo "qemu.sh: gdb stub on :1234, CPU stopped; from the repository root:" >&2
      echo "  gdb bazel-bin/boot/kernel.elf -x tools/gdb/kmem.py -ex 'target remote :1234'" >&2
      ;;
    *) extra+=("$arg") ;;
  esac
done

# KVM needs /dev/kvm and hardware virtualization (vmx/svm in /proc/cpuinfo); a /dev/kvm without them
# (some sandboxes emulate it) runs the kernel's page-table-heavy boot far slower than TCG does.
kvm_works() { [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; }
case "${KMEM_ACCEL:-auto}" in
  tcg) accel=(-accel tcg) ;;
  kvm) accel=(-accel kvm) ;;
  *) if kvm_works; then accel=(-accel kvm -accel tcg); else accel=(-accel tcg); fi ;;
esac

monitor=()
if [ -n "${KMEM_MONITOR:-}" ]; then monitor=(-monitor "$KMEM_MONITOR"); fi

qemu-system-x86_64 "${accel[@]}" -cpu max,-arch-capabilities -m 1G -kernel "$kernel" \
  -nodefaults -display none -serial "${KMEM_SERIAL:-stdio}" "${monitor[@]}" -no-reboot \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${extra[@]}"
status=$?
case $status in
  33) exit 0 ;;
  35) exit 1 ;;
  *) echo "qemu.sh: QEMU exited with status $status and no report from the kernel" >&2; exit 2 ;;
esac
