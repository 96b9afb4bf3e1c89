"""kernel_image: builds a kernel ELF for //platforms:x86_64_kernel, whatever platform the build is for.

The transition switches the platform (so the clang/lld kernel toolchain is chosen) and drops host-only
command-line copts/linkopts such as the sanitizers of --config=asan. `backend` pins the page allocator
backend, so that one `bazel test //...` boots a kernel of each; `pool_tags` builds it with --//mm/pool:tags
(allocation-site tags, mm/pool/tags.h). The rule gives the 64-bit ELF (for
gdb and symbol checks) and a flat binary that QEMU's Multiboot loader boots through the header's address
fields (QEMU refuses 64-bit ELF files).
"""

load("//mm/palloc:backends.bzl", "PALLOC_BACKEND_NAMES")

_BACKEND = "//mm/palloc:backend"
_TAGS = "//mm/pool:tags"

def _kernel_transition_impl(settings, attr):
    return {
        "//command_line_option:platforms": "//platforms:x86_64_kernel",
        "//command_line_option:copt": [],
        "//command_line_option:linkopt": [],
        # fastbuild's --strip=sometimes links with -Wl,-S; gdb (tools/gdb) reads the kernel's DWARF.
        "//command_line_option:strip": "never",
        _BACKEND: attr.backend or settings[_BACKEND],
        _TAGS: attr.pool_tags or settings[_TAGS],
    }

_kernel_transition = transition(
    implementation = _kernel_transition_impl,
    inputs = [_BACKEND, _TAGS],
    outputs = [
        "//command_line_option:platforms",
        "//command_line_option:copt",
        "//command_line_option:linkopt",
        "//command_line_option:strip",
        _BACKEND,
        _TAGS,
    ],
)

def _kernel_image_impl(ctx):
    elf_in = ctx.attr.elf[0][DefaultInfo].files.to_list()[0]
    elf = ctx.actions.declare_file(ctx.label.name + ".elf")
    ctx.actions.symlink(output = elf, target_file = elf_in)
    flat = ctx.actions.declare_file(ctx.label.name + ".bin")
    ctx.actions.run(
        executable = ctx.attr.objcopy,
        arguments = ["-O", "binary", elf_in.path, flat.path],
        inputs = [elf_in],
        outputs = [flat],
        mnemonic = "KernelFlatImage",
    )
    files = depset([elf, flat])
    return [DefaultInfo(files = files, runfiles = ctx.runfiles(transitive_files = files))]

kernel_image = rule(
    implementation = _kernel_image_impl,
    attrs = {
        "elf": attr.label(cfg = _kernel_transition, mandatory = True),
        # Pins the page allocator backend; empty follows --//mm/palloc:backend.
        "backend": attr.string(values = [""] + PALLOC_BACKEND_NAMES),
        # Builds the kernel with allocation-site tags; False follows --//mm/pool:tags.
        "pool_tags": attr.bool(default = False),
        "objcopy": attr.string(default = "/usr/bin/llvm-objcopy"),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
