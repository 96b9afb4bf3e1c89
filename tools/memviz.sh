#!/bin/bash
# bazel run //tools:memviz -- LOG -o memory.png: runs tools/memviz.py with Debian's python3, which has
# python3-matplotlib (tools/setup.sh), whatever python3 comes first on the user's PATH.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for candidate in "${RUNFILES_DIR:-/nonexistent}/kmem/tools/memviz.py" "$0.runfiles/kmem/tools/memviz.py" \
    "$here/memviz.py"; do
  [ -f "$candidate" ] && exec /usr/bin/python3 "$candidate" "$@"
done
echo "memviz: cannot find memviz.py (run it with: bazel run //tools:memviz)" >&2
exit 2
