"""What kmem's clang + lld toolchain configurations share: the action groups their flags apply to, the
LLVM tools they run, and the freestanding x86_64 flags both kinds of code are built with. Each configuration
(kernel_cc_toolchain_config.bzl, user_cc_toolchain_config.bzl) adds its own flags."""

load("@rules_cc//cc:action_names.bzl", "ACTION_NAMES")
load("@rules_cc//cc:cc_toolchain_config_lib.bzl", "feature", "flag_group", "flag_set", "tool_path")

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

# Freestanding x86_64 code without SSE/MMX/x87 (neither the kernel nor, yet, a context switch saves SIMD
# state), a stack protector or libc; frame pointers for gdb and the panic's backtrace.
_COMPILE_FLAGS = [
    "--target=x86_64-unknown-none-elf",
    "-ffreestanding",
    "-nostdlibinc",
    "-fno-pic",
    "-mno-mmx",
    "-mno-sse",
    "-mno-sse2",
    "-mno-80387",
    "-fno-stack-protector",
    "-fno-omit-frame-pointer",
]

_TAIL_COMPILE_FLAGS = [
    "-ffunction-sections",
    "-fdata-sections",
    "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-no-canonical-prefixes",
]

_CXX_FLAGS = ["-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics", "-fno-use-cxa-atexit"]

_LINK_FLAGS = [
    "--target=x86_64-unknown-none-elf",
    "-fuse-ld=lld",
    "-nostdlib",
    "-static",
    "-Wl,--gc-sections",
    "-Wl,--no-undefined",
    "-Wl,-z,max-page-size=4096",
]

def freestanding_toolchain_config(ctx, name, compile_flags, link_flags):
    """The CcToolchainConfigInfo of a freestanding x86_64 clang + lld toolchain called `name`: the shared
    flags above with `compile_flags` after the shared ones and `link_flags` after the linker's."""
    features = [feature(
        name = name + "_freestanding",
        enabled = True,
        flag_sets = [
            flag_set(
                actions = COMPILE_ACTIONS,
                flag_groups = [flag_group(flags = _COMPILE_FLAGS + compile_flags + _TAIL_COMPILE_FLAGS)],
            ),
            flag_set(actions = CXX_ACTIONS, flag_groups = [flag_group(flags = _CXX_FLAGS)]),
            flag_set(actions = LINK_ACTIONS, flag_groups = [flag_group(flags = _LINK_FLAGS + link_flags)]),
        ],
    )]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = features,
        toolchain_identifier = "x86_64-%s-clang" % name,
        host_system_name = "x86_64-unknown-linux-gnu",
        target_system_name = "x86_64-unknown-none-elf",
        target_cpu = "x86_64",
        target_libc = "none",
        compiler = "clang",
        abi_version = "none",
        abi_libc_version = "none",
        tool_paths = llvm_tool_paths(ctx.attr.llvm_bin),
        cxx_builtin_include_directories = [ctx.attr.clang_resource_include],
    )

# The attributes every configuration rule takes.
TOOLCHAIN_CONFIG_ATTRS = {
    "llvm_bin": attr.string(default = LLVM_BIN),
    "clang_resource_include": attr.string(default = CLANG_RESOURCE_INCLUDE),
}
