"""A clang + lld C++ toolchain for freestanding x86_64 kernel code.

Kernel code runs with interrupts on the current stack and without saving SIMD state, so it is built with no
red zone, no SSE/MMX/x87 code, the kernel code model (text and data in the top 2 GiB), no exceptions, no
RTTI, no stack protector and no libc: only clang's own freestanding headers are on the include path. A kernel
stack is 16 KiB (the boot stack, a thread's), so a stack frame over 4 KiB fails the build: a 24 KiB
temporary in KmemInit overflowed the boot stack into its guard page, found only by the boot tests.
"""

load(":llvm.bzl", "TOOLCHAIN_CONFIG_ATTRS", "freestanding_toolchain_config")

def _impl(ctx):
    return freestanding_toolchain_config(
        ctx,
        name = "kernel",
        compile_flags = ["-mcmodel=kernel", "-mno-red-zone", "-Wframe-larger-than=4096"],
        link_flags = [],
    )

kernel_cc_toolchain_config = rule(
    implementation = _impl,
    attrs = TOOLCHAIN_CONFIG_ATTRS,
    provides = [CcToolchainConfigInfo],
)
