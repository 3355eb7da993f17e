"""A small static check that every key a script touches comes from its KEYS (see lua/README.md).

Each script is read as the server runs it (its ``--@include`` files spliced in), cut into
tokens, and every ``redis.call``/``redis.pcall`` is checked: each key argument must be
*derived from KEYS*, which means one of

- ``KEYS[...]``;
- ``a .. b .. c`` whose first operand is derived (a name built on a declared prefix);
- a local variable or table field (``keys.wait``) whose every assignment is derived, or a
  table (``doomed[#doomed + 1] = job``) whose every element assignment is, passed on with
  ``unpack(t)``;
- a function parameter that every call of the function passes derived;
- a call of a local function whose every ``return`` is ``nil`` or derived (``job_key(tag, id)``,
  ``stored_key(tag, name)``): a function nobody calls has nothing to judge;
- ``x and y`` where ``y`` is derived, ``x or y`` where both are.

Anything else (ARGV, a string literal, a value read from the server, a loop variable) is not.

Limits, by design (the scripts are small and written to be read): names are resolved per
function, then at the top level, with no block scoping or shadowing (a name assigned anywhere
in a function counts everywhere in it); a table field is found by the table's name, so a
parameter ``keys`` reads the top level's ``keys = {...}``; a function's parameters are judged
over all its calls, not per call; named functions are not nested; commands are told apart by
name only (keys are the first argument, every argument of DEL/EXISTS/UNLINK/TOUCH, none of
PUBLISH/TIME); a command name that is not a literal is refused. Only the expression syntax
the scripts use is understood: what it cannot read is reported as undeclared, so it errs on the
side of failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<skip>\s+|--\[(?P<eq>=*)\[.*?\](?P=eq)\]|--[^\n]*)
    | (?P<str>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|\[(?P<eq2>=*)\[.*?\](?P=eq2)\])
    | (?P<num>0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
    | (?P<name>[A-Za-z_]\w*)
    | (?P<op>\.\.\.|\.\.|==|~=|<=|>=|[-+*/%^#<>=(){}\[\];:,.])
    """,
    re.VERBOSE | re.DOTALL,
)
_OPENERS = {"function", "if", "do", "repeat"}
_CLOSERS = {"end", "until"}
_BINARY = {"..", "+", "-", "*", "/", "%", "^", "==", "~=", "<", ">", "<=", ">=", "and", "or"}
_UNARY = {"not", "-", "#"}
_ALL_KEYS = {"DEL", "EXISTS", "UNLINK", "TOUCH"}
_NO_KEYS = {"PUBLISH", "TIME"}


def tokens(source: str) -> list[str]:
    """The script's tokens; strings keep their quotes, comments and spaces are dropped."""
    out, pos = [], 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise ValueError(f"cannot read the script at {source[pos : pos + 30]!r}")
        if match.lastgroup != "skip":
            out.append(match.group())
        pos = match.end()
    return out


def _close(toks: list[str], i: int) -> int:
    """The index just past the bracket that closes the one at ``i``."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    depth = 0
    for j in range(i, len(toks)):
        if toks[j] in pairs:
            depth += 1
        elif toks[j] in pairs.values():
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError("unbalanced brackets")


def _expr_end(toks: list[str], i: int) -> int:
    """The index just past the expression starting at ``i``."""
    operand_done = False
    while i < len(toks):
        tok = toks[i]
        if not operand_done:
            if tok in _UNARY:
                i += 1
            elif tok in ("(", "{"):
                i, operand_done = _close(toks, i), True
            else:
                i, operand_done = i + 1, True
        elif tok in ("(", "["):
            i = _close(toks, i)
        elif tok in (".", ":"):
            i += 2
        elif tok == "{" or tok[0] in "\"'":
            i = _close(toks, i) if tok == "{" else i + 1
        elif tok in _BINARY:
            i, operand_done = i + 1, False
        else:
            return i
    return i


def _split(toks: list[str], sep: str) -> list[list[str]]:
    """``toks`` cut at every top-level ``sep``."""
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in toks:
        depth += tok in ("(", "[", "{")
        depth -= tok in (")", "]", "}")
        if tok == sep and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


@dataclass
class Scope:
    """A function (or the script's top level): where its names get their values."""

    name: str
    params: list[str] = field(default_factory=list)
    values: dict[str, list[list[str]]] = field(default_factory=dict)  # name or "t.f" or "t[]"
    returns: list[list[str]] = field(default_factory=list)
    span: range = range(0)


class Script:
    """One expanded script, read into scopes and ready to judge its key arguments."""

    def __init__(self, source: str) -> None:
        self.toks = tokens(source)
        self.top = Scope("<top>", span=range(len(self.toks)))
        self.functions: dict[str, Scope] = {}
        self.calls: dict[str, list[tuple[list[list[str]], Scope]]] = {}
        self._read_functions()
        braces = 0
        for i, tok in enumerate(self.toks):
            braces += (tok == "{") - (tok == "}")
            if tok != "=" or not braces:  # a constructor's fields are read with its table
                self._read_statement(i)
        self._busy: set[object] = set()

    def scope_at(self, i: int) -> Scope:
        inner = [f for f in self.functions.values() if i in f.span]
        return inner[0] if inner else self.top

    def _read_functions(self) -> None:
        toks = self.toks
        for i, tok in enumerate(toks):
            if tok != "function" or toks[i + 1] == "(":
                continue
            name, params_end = toks[i + 1], _close(toks, i + 2)
            params = [t for t in toks[i + 3 : params_end - 1] if t != ","]
            depth, j = 1, params_end
            while depth:
                depth += (toks[j] in _OPENERS) - (toks[j] in _CLOSERS)
                j += 1
            self.functions[name] = Scope(name, params, span=range(params_end, j))

    def _read_statement(self, i: int) -> None:
        toks, scope = self.toks, self.scope_at(i)
        tok = toks[i]
        if tok == "return" and scope is not self.top:
            bare = toks[i + 1] in ("end", "else", "elseif", "until")
            scope.returns.append([] if bare else toks[i + 1 : _expr_end(toks, i + 1)])
        elif tok in self.functions and i + 1 < len(toks) and toks[i + 1] == "(":
            if toks[i - 1] != "function":
                args = _split(toks[i + 2 : _close(toks, i + 1) - 1], ",")
                self.calls.setdefault(tok, []).append((args, scope))
        elif tok == "=":
            targets = self._targets_before(i)
            exprs, k = [], i + 1
            while True:
                end = _expr_end(toks, k)
                exprs.append(toks[k:end])
                if end >= len(toks) or toks[end] != ",":
                    break
                k = end + 1
            for n, target in enumerate(targets):
                value = exprs[n] if n < len(exprs) else ["<more results>"]
                scope.values.setdefault(target, []).append(value)
                if value[:1] == ["{"]:  # a table constructor: its fields and elements
                    for item in filter(None, _split(value[1:-1], ",")):
                        named = len(item) > 2 and item[1] == "="
                        key = f"{target}.{item[0]}" if named else f"{target}[]"
                        scope.values.setdefault(key, []).append(item[2:] if named else item)

    def _targets_before(self, i: int) -> list[str]:
        """The assigned names left of the ``=`` at ``i``: ``a``, ``t.f`` or ``t[]``."""
        toks, targets, j = self.toks, [], i - 1
        while j >= 0:
            if toks[j] == "]":
                depth = 0
                while True:
                    depth += (toks[j] == "]") - (toks[j] == "[")
                    if depth == 0:
                        break
                    j -= 1
                targets.append(f"{toks[j - 1]}[]")
                j -= 2
            elif j >= 2 and toks[j - 1] == ".":
                targets.append(f"{toks[j - 2]}.{toks[j]}")
                j -= 3
            else:
                targets.append(toks[j])
                j -= 1
            if j < 0 or toks[j] != ",":
                break
            j -= 1
        return targets[::-1]

    # -- judging ---------------------------------------------------------------------------

    def derived(self, expr: list[str], scope: Scope) -> bool:
        """Whether ``expr`` (evaluated in ``scope``) is a key derived from KEYS."""
        either = _split(expr, "or")
        if len(either) > 1:
            return all(self.derived(part, scope) for part in either)
        both = _split(expr, "and")
        if len(both) > 1:
            return self.derived(both[-1], scope)
        return self._primary(_split(expr, "..")[0], scope)

    def _primary(self, expr: list[str], scope: Scope) -> bool:
        if not expr:
            return False
        if expr[0] == "(" and _close(expr, 0) == len(expr):
            return self.derived(expr[1:-1], scope)
        head = expr[0]
        if head == "KEYS" and len(expr) > 1 and expr[1] == "[" and _close(expr, 1) == len(expr):
            return True
        if len(expr) == 1:
            return self._name(head, scope)
        if len(expr) == 3 and expr[1] == ".":
            return self._values(f"{head}.{expr[2]}", scope)
        if expr[1] == "[" and _close(expr, 1) == len(expr):
            return self._values(f"{head}[]", scope)
        if head in self.functions and expr[1] == "(" and _close(expr, 1) == len(expr):
            return self._returns(self.functions[head])
        return False

    def _guarded(self, what: object, check: Iterator[bool]) -> bool:
        if what in self._busy:  # a cycle: assume it holds, the other paths decide
            return True
        self._busy.add(what)
        try:
            return all(check)
        finally:
            self._busy.discard(what)

    def _name(self, name: str, scope: Scope) -> bool:
        if name in scope.params:
            return self._guarded(
                (scope.name, name),
                (
                    len(args) > scope.params.index(name)
                    and self.derived(args[scope.params.index(name)], caller)
                    for args, caller in self.calls.get(scope.name, [])
                ),
            )
        return self._values(name, scope)

    def _values(self, name: str, scope: Scope) -> bool:
        owner = scope if name in scope.values or scope is self.top else self.top
        values = owner.values.get(name)
        if not values:
            return False
        return self._guarded((owner.name, name), (self.derived(value, owner) for value in values))

    def _returns(self, function: Scope) -> bool:
        return bool(function.returns) and self._guarded(
            ("return", function.name),
            (value in (["nil"], []) or self.derived(value, function) for value in function.returns),
        )

    def undeclared(self) -> Iterator[str]:
        """Each redis.call/pcall with a key argument not derived from KEYS, as a message."""
        toks = self.toks
        for i in range(len(toks) - 3):
            if toks[i : i + 3] not in (["redis", ".", "call"], ["redis", ".", "pcall"]):
                continue
            args = _split(toks[i + 4 : _close(toks, i + 3) - 1], ",")
            call = " ".join(toks[i : _close(toks, i + 3)])
            command = args[0][0].strip("\"'").upper() if len(args[0]) == 1 else ""
            scope = self.scope_at(i)
            if not command or args[0][0][0] not in "\"'":
                yield f"{call}: the command is not a literal"
                continue
            if command in _NO_KEYS:
                continue
            for arg in args[1:] if command in _ALL_KEYS else args[1:2]:
                if arg[:2] == ["unpack", "("]:
                    inner = _split(arg[2:-1], ",")[0]
                    ok = len(inner) == 1 and self._values(f"{inner[0]}[]", scope)
                else:
                    ok = self.derived(arg, scope)
                if not ok:
                    yield f"in {scope.name}: {call}: key {' '.join(arg)!r} is not from KEYS"
