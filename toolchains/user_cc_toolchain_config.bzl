"""A clang + lld C++ toolchain for kmem's user programs (user/): freestanding, static, non-PIE x86_64 ELF.

User code differs from kernel code in three ways: it runs in the lower half (the small code model, linked at
0x400000 by user/lib/user.ld through user_program in user/user.bzl), it may use the red zone (a trap from
ring 3 switches to the thread's kernel stack, so nothing is pushed below a user rsp), and it links our own
runtime (//user/lib: crt0, the system calls, print) rather than none. Like the kernel it has no exceptions,
RTTI, stack protector or libc.

No SSE, MMX or x87 code: the kernel does not save a thread's FPU/SIMD state across context switches yet, so
a program that used those registers would see another's values. Lift -mno-sse & co. when it does (XSAVE).
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
    freestanding = feature(
        name = "user_freestanding",
        enabled = True,
        flag_sets = [
            flag_set(
                actions = COMPILE_ACTIONS,
                flag_groups = [flag_group(flags = [
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
                    # No unwinding without exceptions: no .eh_frame to load.
                    "-fno-asynchronous-unwind-tables",
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
                    # clang links a none-elf target through the gcc driver, for which -static means a
                    # non-PIE ET_EXEC (-no-pie would go unused); user/elf_check.sh holds every program to it.
                    "-static",
                    "-Wl,--gc-sections",
                    "-Wl,--no-undefined",
                    "-Wl,-z,max-page-size=4096",
                    "-Wl,-z,noexecstack",
                ])],
            ),
        ],
    )
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = [freestanding],
        toolchain_identifier = "x86_64-user-clang",
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

user_cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {
        "llvm_bin": attr.string(default = LLVM_BIN),
        "clang_resource_include": attr.string(default = CLANG_RESOURCE_INCLUDE),
    },
    provides = [CcToolchainConfigInfo],
)
