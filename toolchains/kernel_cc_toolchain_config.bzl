"""A clang + lld C++ toolchain for freestanding x86_64 kernel code.

Kernel code runs with interrupts on the current stack and without saving SIMD state, so it is built with no
red zone, no SSE/MMX/x87 code, the kernel code model (text and data in the top 2 GiB), no exceptions, no
RTTI, no stack protector and no libc: only clang's own freestanding headers are on the include path.
"""

load("@rules_cc//cc:cc_toolchain_config_lib.bzl", "feature", "flag_group", "flag_set")
load(
    ":llvm.bzl",
    "CLANG_RESOURCE_INCLUDE",
    "COMPILE_ACTIONS",
    "CXX_ACTIONS",
    "LINK_ACTIONS",
    "LLVM_BIN",
    "llvm_tool_paths",
)

def _impl(ctx):
    tool_paths = llvm_tool_paths(ctx.attr.llvm_bin)
    freestanding = feature(
        name = "kernel_freestanding",
        enabled = True,
        flag_sets = [
            flag_set(
                actions = COMPILE_ACTIONS,
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
                actions = CXX_ACTIONS,
                flag_groups = [flag_group(flags = [
                    "-fno-exceptions",
                    "-fno-rtti",
                    "-fno-threadsafe-statics",
                    "-fno-use-cxa-atexit",
                ])],
            ),
            flag_set(
                actions = LINK_ACTIONS,
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
        "llvm_bin": attr.string(default = LLVM_BIN),
        "clang_resource_include": attr.string(default = CLANG_RESOURCE_INCLUDE),
    },
    provides = [CcToolchainConfigInfo],
)
