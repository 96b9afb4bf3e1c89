"""A clang + lld C++ toolchain for kmem's user programs (user/): freestanding, static, non-PIE x86_64 ELF.

User code differs from kernel code in three ways: it runs in the lower half (the small code model, linked at
0x400000 by user/lib/user.ld through user_program in user/user.bzl), it may use the red zone (a trap from
ring 3 switches to the thread's kernel stack, so nothing is pushed below a user rsp), and it links our own
runtime (//user/lib: crt0, the system calls, print) rather than none. Like the kernel it has no exceptions,
RTTI, stack protector or libc.

No SSE, MMX or x87 code: the kernel does not save a thread's FPU/SIMD state across context switches yet, so
a program that used those registers would see another's values. Lift -mno-sse & co. when it does (XSAVE).
"""

load(":llvm.bzl", "TOOLCHAIN_CONFIG_ATTRS", "freestanding_toolchain_config")

def _impl(ctx):
    return freestanding_toolchain_config(
        ctx,
        name = "user",
        # No unwinding without exceptions: no .eh_frame to load.
        compile_flags = ["-fno-asynchronous-unwind-tables"],
        # clang links a none-elf target through the gcc driver, for which -static means a non-PIE ET_EXEC
        # (-no-pie would go unused); user/elf_check.sh holds every program to it.
        link_flags = ["-Wl,-z,noexecstack"],
    )

user_cc_toolchain_config = rule(
    implementation = _impl,
    attrs = TOOLCHAIN_CONFIG_ATTRS,
    provides = [CcToolchainConfigInfo],
)
