"""Blocking twins of async methods: one implementation per behaviour, the sync API derived.

Every public ``async def aname(self, ...)`` that has a plain twin gets it from
:func:`blocking_twin` in the class body (``name = blocking_twin(aname)``), so the twin's
parameters, result type and errors are the async method's own: mypy checks callers against
them (ParamSpec), and ``inspect.signature``, ``help()`` and the docs show them (``__wrapped__``).
A twin is compiled with that parameter list, so a call costs what a hand-written forwarder did.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

if TYPE_CHECKING:
    from .runtime import Runtime

P = ParamSpec("P")
R = TypeVar("R")


class HasRuntime(Protocol):
    """An object whose blocking methods run on its runtime's background loop (views, tasks,
    handles, the app)."""

    @property
    def runtime(self) -> Runtime: ...


S = TypeVar("S", bound=HasRuntime)


def blocking_twin(
    async_method: Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, P], R]:
    """The blocking twin of ``async_method`` (named ``a`` + the twin's name): it takes the
    same arguments, runs the coroutine through ``self.runtime.call`` and returns its result or
    raises its error.

    The twin is compiled with the async method's own parameter list (as dataclasses writes
    ``__init__``), not as ``*args, **kwargs``: it costs a call what a hand-written forwarder
    costs, with no packing and unpacking of arguments on the way.

    Raises:
        TypeError: ``async_method`` is not an ``async def`` named ``a...``.
    """
    async_name = async_method.__name__
    if not inspect.iscoroutinefunction(async_method) or not async_name.startswith("a"):
        raise TypeError(f"blocking_twin needs an async def named a<name>, got {async_name!r}")
    name = async_name[1:]
    owner = async_method.__qualname__.rpartition(".")[0]
    twin: Callable[Concatenate[S, P], R] = _forwarder(async_method, name, f"{owner}.{name}")
    functools.update_wrapper(twin, async_method)  # __wrapped__: help() shows the annotations
    twin.__name__ = name
    twin.__qualname__ = f"{owner}.{name}".lstrip(".")
    doc = inspect.cleandoc(async_method.__doc__ or "")
    twin.__doc__ = f"Blocking twin of :meth:`{async_name}`.\n\n{doc}".rstrip()
    return twin


class _Named:
    """A default value rendered by its variable's name in a generated parameter list."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _forwarder(async_method: Callable[..., Any], name: str, where: str) -> Any:
    """``def name(<async_method's parameters>): return self.runtime.call(async_method(...))``,
    compiled; the defaults are the async method's own objects, bound by name."""
    signature = inspect.signature(async_method)
    scope: dict[str, Any] = {"_taskora_async_method": async_method}
    params, args = [], []
    for index, param in enumerate(signature.parameters.values()):
        if param.default is not param.empty:
            scope[f"_taskora_default_{index}"] = param.default
            param = param.replace(default=_Named(f"_taskora_default_{index}"))
        params.append(param.replace(annotation=param.empty))
        args.append(
            f"*{param.name}" if param.kind is param.VAR_POSITIONAL
            else f"**{param.name}" if param.kind is param.VAR_KEYWORD
            else f"{param.name}={param.name}" if param.kind is param.KEYWORD_ONLY
            else param.name
        )  # fmt: skip
    plain = signature.replace(parameters=params, return_annotation=signature.empty)
    source = (
        f"def {name}{plain}:\n"
        f"    return {params[0].name}.runtime.call(_taskora_async_method({', '.join(args)}))\n"
    )
    exec(compile(source, f"<blocking twin {where}>", "exec"), scope)
    return scope[name]
