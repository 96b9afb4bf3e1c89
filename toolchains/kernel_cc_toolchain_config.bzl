"""A clang + lld C++ toolchain for freestanding x86_64 kernel code.

Kernel code runs with interrupts on the current stack and without saving SIMD state, so it is built with no
red zone, no SSE/MMX/x87 code, the kernel code model (text and data in the top 2 GiB), no exceptions, no
RTTI, no stack protector and no libc: only clang's own freestanding headers are on the include path.
"""

load("@rules_cc//cc:action_names.bzl", "ACTION_NAMES")
load(
    "@rules_cc//cc:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
)

_COMPILE_ACTIONS = [
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
]

_CXX_ACTIONS = [ACTION_NAMES.cpp_compile, ACTION_NAMES.cpp_header_parsing]

_LINK_ACTIONS = [ACTION_NAMES.cpp_link_executable]

def _impl(ctx):
    llvm = ctx.attr.llvm_bin
    tool_paths = [
        tool_path(name = "gcc", path = llvm + "/clang"),
        tool_path(name = "ld", path = llvm + "/ld.lld"),
        tool_path(name = "ar", path = llvm + "/llvm-ar"),
        tool_path(name = "cpp", path = llvm + "/clang-cpp"),
        tool_path(name = "nm", path = llvm + "/llvm-nm"),
        tool_path(name = "objcopy", path = llvm + "/llvm-objcopy"),
        tool_path(name = "objdump", path = llvm + "/llvm-objdump"),
        tool_path(name = "strip", path = llvm + "/llvm-strip"),
        tool_path(name = "gcov", path = "/bin/false"),
    ]
    freestanding = feature(
        name = "kernel_freestanding",
        enabled = True,
        flag_sets = [
            flag_set(
                actions = _COMPILE_ACTIONS,
                flag_groups = [flag_group(flags = [
                    "--target=x86_64-unknown-none-elf",
                    "-ffreestanding",
                    "-nostdlibinc",
                    "-fno-pic",
                    "-mcmodel=kernel",
                    "-mno-red-zone",
                    "-mno-mmx",
                    "-mno-sse",
                    "-mno-sse2",
                    "-mno-80387",
                    "-fno-stack-protector",
                    "-fno-omit-frame-pointer",
                    "-ffunction-sections",
                    "-fdata-sections",
                    "-O2",
                    "-g",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-no-canonical-prefixes",
                ])],
            ),
            flag_set(
                actions = _CXX_ACTIONS,
                flag_groups = [flag_group(flags = [
                    "-fno-exceptions",
                    "-fno-rtti",
                    "-fno-threadsafe-statics",
                    "-fno-use-cxa-atexit",
                ])],
            ),
            flag_set(
                actions = _LINK_ACTIONS,
                flag_groups = [flag_group(flags = [
                    "--target=x86_64-unknown-none-elf",
                    "-fuse-ld=lld",
                    "-nostdlib",
                    "-static",
                    "-Wl,--gc-sections",
                    "-Wl,--no-undefined",
                    "-Wl,-z,max-page-size=4096",
                ])],
            ),
        ],
    )
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = [freestanding],
        toolchain_identifier = "x86_64-kernel-clang",
        host_system_name = "x86_64-unknown-linux-gnu",
        target_system_name = "x86_64-unknown-none-elf",
        target_cpu = "x86_64",
        target_libc = "none",
        compiler = "clang",
        abi_version = "none",
        abi_libc_version = "none",
        tool_paths = tool_paths,
        cxx_builtin_include_directories = [ctx.attr.clang_resource_include],
    )

kernel_cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {
        "llvm_bin": attr.string(default = "/usr/lib/llvm-14/bin"),
        "clang_resource_include": attr.string(default = "/usr/lib/llvm-14/lib/clang/14.0.6/include"),
    },
    provides = [CcToolchainConfigInfo],
)
