"""User programs: user_program builds one for //platforms:x86_64_user; user_programs builds a set of them for
that platform from any build and gives their ELF files, stripped, with the C++ source that embeds them in
the kernel (//user:images).

The transition switches the platform, so the user toolchain (toolchains/user_cc_toolchain_config.bzl) is
chosen, and drops command-line copts/linkopts such as --config=asan's sanitizers, as the kernel's does
(boot/kernel.bzl).
"""

_LINKER_SCRIPT = "//user/lib:user.ld"

def user_program(name, srcs, deps = [], linkopts = [], linker_script = _LINKER_SCRIPT, **kwargs):
    """A user program: a static ELF at 0x400000 with the runtime of //user/lib (crt0 calls main).

    linker_script is there for the rejection tests' bad layouts (user/testdata); programs keep the default.
    """
    native.cc_binary(
        name = name,
        srcs = srcs,
        additional_linker_inputs = [linker_script],
        linkopts = ["-Wl,-T,$(location %s)" % linker_script] + linkopts,
        target_compatible_with = ["//platforms:user_space"],
        deps = ["//user/lib"] + deps,
        **kwargs
    )

def _user_transition_impl(settings, attr):
    return {
        "//command_line_option:platforms": "//platforms:x86_64_user",
        "//command_line_option:copt": [],
        "//command_line_option:linkopt": [],
        # Keep the programs' DWARF for gdb; the embedded copies are stripped below.
        "//command_line_option:strip": "never",
    }

_user_transition = transition(
    implementation = _user_transition_impl,
    inputs = [],
    outputs = [
        "//command_line_option:platforms",
        "//command_line_option:copt",
        "//command_line_option:linkopt",
        "//command_line_option:strip",
    ],
)

def _user_programs_impl(ctx):
    elves = []
    names = []
    for program in ctx.attr.programs:
        elf_in = program[DefaultInfo].files_to_run.executable
        name = program.label.name
        if name in names:
            fail("two user programs named %s: the kernel finds them by name" % name)
        names.append(name)
        elf = ctx.actions.declare_file("%s/%s.elf" % (ctx.label.name, name))
        ctx.actions.run(
            executable = ctx.attr.objcopy,
            arguments = ["--strip-all", elf_in.path, elf.path],
            inputs = [elf_in],
            outputs = [elf],
            mnemonic = "UserStrip",
        )
        elves.append(elf)
    source = ctx.actions.declare_file(ctx.label.name + "_images.cc")
    args = ctx.actions.args()
    args.add(ctx.file._embed)
    args.add(source)
    for name, elf in zip(names, elves):
        args.add(name + "=" + elf.path)
    ctx.actions.run(
        executable = ctx.attr.python,
        arguments = [args],
        inputs = elves + [ctx.file._embed],
        outputs = [source],
        mnemonic = "UserEmbed",
    )
    files = depset(elves)
    return [
        DefaultInfo(files = files, runfiles = ctx.runfiles(transitive_files = files)),
        OutputGroupInfo(images_cc = depset([source])),
    ]

user_programs = rule(
    implementation = _user_programs_impl,
    doc = "The programs built for //platforms:x86_64_user, stripped (DefaultInfo), and in output group " +
          "images_cc a C++ file defining user/image_table.h's table of them, by target name.",
    attrs = {
        "programs": attr.label_list(cfg = _user_transition, mandatory = True, allow_empty = False),
        "objcopy": attr.string(default = "/usr/bin/llvm-objcopy"),
        "python": attr.string(default = "/usr/bin/python3"),
        "_embed": attr.label(default = "//user:embed.py", allow_single_file = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
