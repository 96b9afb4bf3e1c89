#!/bin/bash
# Writes compile_commands.json at the workspace root for editors (clangd), from Bazel's own compile
# actions: host targets and the kernel (through //boot:kernel's transition) alike.
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build //... >/dev/null 2>&1 || true
bazel aquery 'mnemonic("CppCompile", deps(//...))' --output=jsonproto 2>/dev/null | python3 -c '
import json, os, sys
root = os.getcwd()
execroot = os.path.realpath("bazel-" + os.path.basename(root))
out = []
for a in json.load(sys.stdin).get("actions", []):
    args = a["arguments"]
    src = next((args[i + 1] for i, x in enumerate(args) if x == "-c"), None)
    if src:
        out.append({"directory": execroot, "arguments": args, "file": src})
json.dump(out, open("compile_commands.json", "w"), indent=1)
print("compile_commands.json: %d entries" % len(out))
'
