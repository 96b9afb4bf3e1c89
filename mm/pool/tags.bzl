"""pool_tags_test: a test that runs a binary built with --//mm/pool:tags, whatever the command line says.

The transition sets the flag for the binary and everything it links, so one `bazel test //...` tests the
allocation sites next to the default build (the other flags, sanitizers included, are the command line's).
"""

_TAGS = "//mm/pool:tags"

def _tags_on_impl(settings, attr):
    return {_TAGS: True}

_tags_on = transition(implementation = _tags_on_impl, inputs = [], outputs = [_TAGS])

def _pool_tags_test_impl(ctx):
    binary = ctx.attr.binary[0][DefaultInfo]
    exe = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(output = exe, target_file = binary.files_to_run.executable, is_executable = True)
    return [DefaultInfo(executable = exe, runfiles = ctx.runfiles(files = [exe]).merge(binary.default_runfiles))]

pool_tags_test = rule(
    implementation = _pool_tags_test_impl,
    test = True,
    attrs = {
        "binary": attr.label(cfg = _tags_on, executable = True, mandatory = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
