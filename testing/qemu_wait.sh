# Sourced by the boot tests that talk to a running QEMU. wait_for FILE PATTERN SECONDS: waits until FILE
# (a log its reader fills) has a line matching PATTERN, carriage returns dropped; fails once SECONDS have
# passed or the QEMU whose pid is in $qemu has exited, so a hang fails a test instead of blocking it.
wait_for() {
  local deadline=$((SECONDS + $3))
  until tr -d '\r' <"$1" | grep -q "$2"; do
    (( SECONDS < deadline )) || return 1
    kill -0 "$qemu" 2>/dev/null || return 1
    sleep 0.2
  done
}
