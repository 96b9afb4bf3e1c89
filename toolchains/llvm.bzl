"""What kmem's clang + lld toolchain configurations share: the action groups their flags apply to and the
LLVM tools they run. Each configuration (kernel_cc_toolchain_config.bzl, user_cc_toolchain_config.bzl) adds
its own flags."""

load("@rules_cc//cc:action_names.bzl", "ACTION_NAMES")
load("@rules_cc//cc:cc_toolchain_config_lib.bzl", "tool_path")

COMPILE_ACTIONS = [
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
]

CXX_ACTIONS = [ACTION_NAMES.cpp_compile, ACTION_NAMES.cpp_header_parsing]

LINK_ACTIONS = [ACTION_NAMES.cpp_link_executable]

# Debian's LLVM 14: the binaries and clang's own freestanding headers (the only include path).
LLVM_BIN = "/usr/lib/llvm-14/bin"
CLANG_RESOURCE_INCLUDE = "/usr/lib/llvm-14/lib/clang/14.0.6/include"

def llvm_tool_paths(llvm_bin):
    return [
        tool_path(name = "gcc", path = llvm_bin + "/clang"),
        tool_path(name = "ld", path = llvm_bin + "/ld.lld"),
        tool_path(name = "ar", path = llvm_bin + "/llvm-ar"),
        tool_path(name = "cpp", path = llvm_bin + "/clang-cpp"),
        tool_path(name = "nm", path = llvm_bin + "/llvm-nm"),
        tool_path(name = "objcopy", path = llvm_bin + "/llvm-objcopy"),
        tool_path(name = "objdump", path = llvm_bin + "/llvm-objdump"),
        tool_path(name = "strip", path = llvm_bin + "/llvm-strip"),
        tool_path(name = "gcov", path = "/bin/false"),
    ]
