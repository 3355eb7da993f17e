"""Blocking twins of async methods: one implementation per behaviour, the sync API derived.

Every public ``async def aname(self, ...)`` that has a plain twin gets it from
:func:`blocking_twin` in the class body (``name = blocking_twin(aname)``), so the twin's
parameters, result type and errors are the async method's own: mypy checks callers against
them (ParamSpec), and ``inspect.signature``, ``help()`` and the docs show them (``__wrapped__``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

if TYPE_CHECKING:
    from .engine.steps import Operation
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

    Raises:
        TypeError: ``async_method`` is not an ``async def`` named ``a...``.
    """
    async_name = async_method.__name__
    if not inspect.iscoroutinefunction(async_method) or not async_name.startswith("a"):
        raise TypeError(f"blocking_twin needs an async def named a<name>, got {async_name!r}")

    def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.runtime.call(async_method(self, *args, **kwargs))

    functools.update_wrapper(twin, async_method)  # __wrapped__: the real signature
    twin.__name__ = async_name[1:]
    twin.__qualname__ = f"{async_method.__qualname__.rpartition('.')[0]}.{twin.__name__}".lstrip(
        "."
    )
    doc = inspect.cleandoc(async_method.__doc__ or "")
    twin.__doc__ = f"Blocking twin of :meth:`{async_name}`.\n\n{doc}".rstrip()
    return twin


def driven_twins(
    plan: Callable[Concatenate[S, P], Operation[R]], name: str
) -> tuple[Callable[Concatenate[S, P], Coroutine[Any, Any, R]], Callable[Concatenate[S, P], R]]:
    """The async method ``a`` + ``name`` and its blocking twin ``name``, both from ``plan``:
    a method that checks its arguments and returns the engine operation (engine/steps.py)
    that does the rest. The async one drives it on the running loop's engine; the blocking
    one on a lean connection of the calling thread (``runtime.drive``), with no hand-off to
    the background loop: a hot path (``dispatch``) runs as fast blocking as awaited. Both
    take ``plan``'s parameters and documentation.
    """

    async def async_method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        operation = plan(self, *args, **kwargs)
        runner = (await self.runtime.engine()).runner  # runtime.adrive, one frame less
        return await runner.drive(operation(runner))

    def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.runtime.drive(plan(self, *args, **kwargs))

    owner = plan.__qualname__.rpartition(".")[0]
    doc = inspect.cleandoc(plan.__doc__ or "")
    for method, method_name, method_doc in (
        (async_method, f"a{name}", doc),
        (twin, name, f"Blocking twin of :meth:`a{name}`.\n\n{doc}".rstrip()),
    ):
        functools.update_wrapper(method, plan)  # __wrapped__: the real signature
        method.__name__ = method_name
        method.__qualname__ = f"{owner}.{method_name}".lstrip(".")
        method.__doc__ = method_doc
    return async_method, twin
