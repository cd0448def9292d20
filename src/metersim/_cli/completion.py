"""Shell completion for `metersim` (argcomplete): `eval "$(metersim completion bash)"`."""

from __future__ import annotations


def autocomplete(parser) -> None:
    """Answer a completion request from the shell (then exit); a no-op on a normal run."""
    import os
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete
    argcomplete.autocomplete(parser)


def completion_script(shell: str = "bash") -> str:
    """The script that registers `metersim`'s completion in `shell`."""
    import argcomplete
    return argcomplete.shellcode(["metersim"], shell=shell)
