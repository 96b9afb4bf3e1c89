# Sourced by the boot tests that check one boot's serial log. Set `label` (what a failure names) first.
#   boot_log NAME SECONDS KERNEL QEMU_ARGS...: boots KERNEL (boot/kernel_BACKEND.bin) under TCG with QEMU_ARGS,
#     for at most SECONDS, into NAME.log among the test's outputs; prints the log and leaves it in $clean,
#     carriage returns dropped; fails unless qemu.sh exited 0 (the kernel's own checks passed).
#   fail MESSAGE: "FAIL (label): MESSAGE", and the test fails.
#   expect PATTERN: fails unless a line of $clean matches PATTERN (grep's basic regular expressions).
#   refute PATTERN [MESSAGE]: fails if a line of $clean matches PATTERN, saying MESSAGE or else that line.
fail() { echo "FAIL ($label): $*"; exit 1; }
expect() { grep -q -- "$1" <<<"$clean" || fail "no line matching '$1'"; }
refute() {
  local hit
  hit=$(grep -m1 -- "$1" <<<"$clean") || return 0
  fail "${2:-$hit}"
}
boot_log() {
  local name=$1 seconds=$2 kernel=$3
  shift 3
  local log=${TEST_UNDECLARED_OUTPUTS_DIR:-${TMPDIR:-/tmp}}/$name.log
  KMEM_ACCEL=tcg KMEM_KERNEL=$kernel timeout "$seconds" boot/qemu "$@" >"$log" 2>&1
  local status=$?
  cat "$log"
  clean=$(tr -d '\r' <"$log")
  [ $status -eq 0 ] || fail "qemu.sh exited with $status"
}
