"""The blocking API is generated from the async one (taskora_cli.blocking): every sync method
with an async twin takes the same parameters, and fails the same way."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import taskora_cli
from taskora_cli import Taskora, UsageError, views
from taskora_cli.blocking import blocking_twin


def public_classes() -> Iterator[type]:
    """Every public class defined in the library's top-level modules and its views package
    (the public API: the app, tasks, handles and the views)."""
    packages = [(taskora_cli.__path__, "taskora_cli"), (views.__path__, "taskora_cli.views")]
    for path, package in packages:
        yield from _classes_in(path, package)


def _classes_in(path: Any, package: str) -> Iterator[type]:
    for info in pkgutil.iter_modules(path):
        if info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for name, value in vars(module).items():
            public = not name.startswith("_")
            if public and inspect.isclass(value) and value.__module__ == module.__name__:
                yield value


def twin_pairs() -> list[tuple[str, Callable[..., Any], Callable[..., Any]]]:
    """(Class.name, sync, async) for each public ``name`` whose ``a`` + name is an async def."""
    pairs = []
    for cls in public_classes():
        for name in dir(cls):
            if name.startswith("_"):
                continue
            sync, async_ = getattr(cls, name), getattr(cls, f"a{name}", None)
            if inspect.isfunction(sync) and inspect.iscoroutinefunction(async_):
                pairs.append((f"{cls.__qualname__}.{name}", sync, async_))
    return pairs


PAIRS = twin_pairs()


def test_the_public_api_has_its_twins() -> None:
    names = {name for name, _, _ in PAIRS}
    # a few known ones, so a broken collection cannot pass with nothing to check
    assert {"Task.dispatch", "DeadLetters.retry_all", "Taskora.cancel", "JobHandle.result"} <= names
    assert len(PAIRS) >= 40


@pytest.mark.parametrize(("name", "sync", "async_"), PAIRS, ids=[name for name, _, _ in PAIRS])
def test_a_blocking_twin_has_its_async_twins_signature(
    name: str, sync: Callable[..., Any], async_: Callable[..., Any]
) -> None:
    assert inspect.signature(sync) == inspect.signature(async_), name


def test_help_shows_the_real_parameters_and_names_the_async_twin() -> None:
    retry_all = taskora_cli.DeadLetters.retry_all
    assert retry_all.__name__ == "retry_all"
    assert retry_all.__qualname__ == "DeadLetters.retry_all"
    assert retry_all.__doc__ is not None and retry_all.__doc__.startswith(
        "Blocking twin of :meth:`aretry_all`."
    )
    assert "error_match" in str(inspect.signature(retry_all))


def test_the_module_level_task_takes_taskora_tasks_parameters() -> None:
    method = inspect.signature(Taskora.task)
    assert (
        list(inspect.signature(taskora_cli.task).parameters.values())
        == list(method.parameters.values())[1:]
    )
    assert taskora_cli.task.__name__ == "task"
    assert "retry" in (taskora_cli.task.__doc__ or "")


def test_a_blocking_twin_raises_what_its_async_twin_raises() -> None:
    app = Taskora("redis://127.0.0.1:1")  # never reached: the errors come first
    try:
        dead_letters, inspector = app.dead_letters(), app.inspect()
        with pytest.raises(UsageError) as blocking:
            dead_letters.list(offset=-1)
        with pytest.raises(UsageError) as awaited:
            asyncio.run(dead_letters.alist(offset=-1))
        assert str(blocking.value) == str(awaited.value)
        with pytest.raises(UsageError, match="minutes must be within"):
            inspector.throughput(minutes=0)
    finally:
        app.close()


def test_only_an_async_def_named_a_something_gets_a_twin() -> None:
    def plain(self: Any) -> None: ...

    async def list_(self: Any) -> None: ...

    for wrong in (plain, list_):
        with pytest.raises(TypeError, match="async def named a<name>"):
            blocking_twin(wrong)  # type: ignore[arg-type]
