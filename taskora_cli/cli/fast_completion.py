"""Shell completion of a command word (``taskora <TAB>``, ``taskora jobs <TAB>``) without typer:
a second reader of what the completion scripts (completions/) send, answering from the table
tools/completion_table.py writes from the typer tree. Typer, with the pydantic it loads and
every command module, costs each TAB about 18 times Python's own start.

It answers only when it can tell, word by word, what typer would: plain words (letters,
digits, ``-``, ``_``, ``.``), the word being completed a command of ``taskora`` or of one of its
groups (not an option, not a value). Anything else (options, a command's arguments, quoting)
goes to typer. tests/cli/test_fast_completion.py checks both answer alike, in every shell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

COMPLETION_VARIABLE = "_TASKORA_COMPLETE"
"""Set by the shell completion scripts (completions/): its value names the shell."""

_PLAIN = r"[A-Za-z0-9._\- \t\r\n]*"
"""Words that shlex (typer's splitter) splits as _words does: on space, tab, CR and LF only
(str.split would also split on a no-break space, which shlex keeps inside a word)."""


def _words(line: str) -> list[str]:
    return [word for word in re.split(r"[ \t\r\n]+", line) if word]


def complete_command_word(environ: Mapping[str, str]) -> tuple[str | None, int] | None:
    """What typer would print for this completion request, and its exit code; None when the
    request is not a command word's (typer answers it).

    The text is printed with a final newline, as typer's echo does; None prints nothing (fish
    asking whether there are candidates at all: the exit code says)."""
    shell = {
        "complete_bash": "bash",
        "complete_zsh": "zsh",
        "complete_fish": "fish",
    }.get(environ.get(COMPLETION_VARIABLE, ""))
    if shell is None:
        return None
    read = _bash_words(environ) if shell == "bash" else _typed_words(environ)
    if read is None:
        return None
    args, incomplete = read
    if incomplete and not incomplete[0].isalnum():
        return None  # an option: typer lists them
    if any(arg.startswith("-") for arg in args):
        return None
    from .completion_table import WORDS

    entries = WORDS.get(" ".join(args))
    if entries is None:
        return None  # a command's arguments, or no such group
    found = [entry for entry in entries if entry[0].startswith(incomplete)]
    if shell == "bash":
        return "\n".join(name for name, _, _ in found), 0
    if shell == "zsh":
        if not found:
            return "_files", 0
        return "_arguments '*: :((" + "\n".join(zsh for _, zsh, _ in found) + "))'", 0
    action = environ.get("_TYPER_COMPLETE_FISH_ACTION", "")
    if action == "is-args":
        return None, 0 if found else 1
    return ("\n".join(fish for _, _, fish in found) if action == "get-args" else ""), 0


def _bash_words(environ: Mapping[str, str]) -> tuple[list[str], str] | None:
    line, cword = environ.get("COMP_WORDS", ""), environ.get("COMP_CWORD", "")
    if not re.fullmatch(_PLAIN, line) or not cword.isdigit() or int(cword) < 1:
        return None
    words = _words(line)
    at = int(cword)
    return words[1:at], words[at] if at < len(words) else ""


def _typed_words(environ: Mapping[str, str]) -> tuple[list[str], str] | None:
    line = environ.get("_TYPER_COMPLETE_ARGS", "")
    if not re.fullmatch(_PLAIN, line):
        return None
    args = _words(line)[1:]
    if args and not line.endswith(" "):
        return args[:-1], args[-1]
    return args, ""
