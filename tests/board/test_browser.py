"""The board's page in headless Chromium (Debian's ``chromium``, driven by Playwright's Python
package; no browser is ever downloaded): log in, retry a dead letter and watch it complete
live, pause a schedule, move around with the keyboard.

One browser and one served board (uvicorn and a worker on a loop of their own thread) for the
whole module; the login form is filled once, and each test opens a fresh browser context with
its cookie. Screenshots go to $TASKORA_SCREENSHOTS, else to a temporary folder; the path is
printed (pytest -s). The browser is `chromium` on the PATH, or $TASKORA_CHROMIUM.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn
from board_support import SECRET

from taskora_cli import Taskora, chain
from taskora_cli.board import SessionAuth, create_board
from taskora_cli.config import load_config
from taskora_cli.errors import JobFailedError

CHROMIUM = os.environ.get("TASKORA_CHROMIUM") or shutil.which("chromium")
try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip(
        "the browser tests need playwright (pip install -e '.[dev]')", allow_module_level=True
    )
if CHROMIUM is None:  # pragma: no cover - depends on the machine
    pytest.skip(
        "the browser tests need Debian's chromium (apt-get install chromium; .ci/run does)",
        allow_module_level=True,
    )

USER, PASSWORD = "ops", "correct horse"


@dataclass
class Stage:
    """What the tests drive: the board's URL, the app (dispatch from the test's thread), and
    the switches of the ``invoice`` task."""

    url: str
    app: Taskora
    tick: Any = None
    broken: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class _Served:
    """uvicorn (the board) and a worker, on an event loop of their own thread."""

    def __init__(self, stage: Stage, board: Any) -> None:
        self.stage = stage
        self.board = board
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: uvicorn.Server | None = None
        self.stopped: asyncio.Event | None = None

    def start(self) -> str:
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)

    async def _start(self) -> str:
        config = uvicorn.Config(
            self.board, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.serving = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.serving.done():
                self.serving.result()
            await asyncio.sleep(0.02)
        self.worker = await self.stage.app.start(["invoice", "tick"])
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/board"

    async def _stop(self) -> None:
        await self.worker.stop()
        assert self.server is not None
        self.server.should_exit = True
        await self.serving
        await self.stage.app.aclose()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def stage(valkey_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    client = redis.Redis.from_url(valkey_url)
    try:
        client.flushall()
    finally:
        client.close()
    app = Taskora(valkey_url, config=load_config(env={}, cwd=tmp_path_factory.mktemp("board")))
    stage = Stage("", app)

    @app.task("invoice")
    async def invoice(data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        ctx.log.info("billing", customer=data["customer"])
        if stage.broken.is_set():
            raise RuntimeError("the payment gateway is down")
        # Held until the test lets it go: the page must show the change when it happens.
        await asyncio.to_thread(stage.release.wait, 20)
        return {"paid": data["amount"]}

    @app.task("tick")
    async def tick(data: Any) -> Any:
        return data

    stage.tick = tick

    def authenticate(username: str, password: str) -> bool:
        return (username, password) == (USER, PASSWORD)

    board = create_board(
        app, base_path="/board", auth=SessionAuth(SECRET, authenticate), stats_interval_s=0.5
    )
    served = _Served(stage, board)
    stage.url = served.start()
    try:
        yield stage
    finally:
        stage.release.set()
        served.stop()
        app.close()  # the blocking calls' connections, made from the tests' thread


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("TASKORA_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nboard screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def signed_in(browser: Browser, stage: Stage) -> Any:
    """The cookies of one login through the form, for every test's fresh context."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{stage.url}/")
        _log_in(page)
        expect(page.locator("nav a.on")).to_have_text("Overview")
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def answers() -> list[str]:
    """What the page's next prompts are answered (in order); confirmations are accepted."""
    return []


@pytest.fixture
def page(browser: Browser, stage: Stage, signed_in: Any, answers: list[str]) -> Iterator[Page]:
    """A logged-in page on the board's Overview, in a fresh context."""
    yield from _opened(browser, stage, signed_in, answers, stream=True)


@pytest.fixture
def page_without_stream(browser: Browser, stage: Stage, signed_in: Any) -> Iterator[Page]:
    """A logged-in page whose event stream never connects (as behind a buffering proxy)."""
    yield from _opened(browser, stage, signed_in, [], stream=False)


def _opened(
    browser: Browser, stage: Stage, signed_in: Any, answers: list[str], *, stream: bool
) -> Iterator[Page]:
    context = browser.new_context(storage_state=signed_in)
    context.set_default_timeout(15_000)
    if not stream:
        context.route("**/api/events", lambda route: route.abort())
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # CSP violations (an inline script or style the policy refuses) are console errors; the
    # refused stream is one too where we refuse it
    opened.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and (stream or "ERR_FAILED" not in m.text)
            else None
        ),
    )
    opened.on(
        "dialog",
        lambda d: d.accept(answers.pop(0)) if d.type == "prompt" else d.accept(),
    )
    opened.goto(f"{stage.url}/")
    expect(opened.locator("nav a.on")).to_have_text("Overview")
    try:
        yield opened
        assert errors == [], f"the page threw: {errors}"
    finally:
        context.close()


def _log_in(page: Page) -> None:
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_login_is_required_and_a_wrong_password_is_refused(
    browser: Browser, stage: Stage, shots: Path
) -> None:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(f"{stage.url}/#/dlq")
        assert "/login" in page.url
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
        expect(page.locator("input[name=password]")).to_be_visible()
        assert "/login" in page.url
        page.screenshot(path=shots / "login-refused.png")
        _log_in(page)
        expect(page.locator("nav a.on")).to_have_text("Overview")
        expect(page.locator("#live")).to_have_class("on")
        expect(page.locator(".cards")).to_be_visible()
        page.screenshot(path=shots / "overview.png", full_page=True)
    finally:
        context.close()


def test_a_dead_letter_is_retried_and_completes_live(page: Page, stage: Stage, shots: Path) -> None:
    stage.broken.set()
    stage.release.clear()
    failed = stage.app.dispatch("invoice", {"customer": "acme", "amount": 12})
    with pytest.raises(JobFailedError):
        failed.result(timeout=15)

    page.click("nav >> text=Dead letters")
    group = page.locator("#groups tr", has_text="the payment gateway is down")
    expect(group).to_contain_text("RuntimeError")
    letter = page.locator("#letters tr", has_text=failed.id)
    expect(letter).to_be_visible()
    page.screenshot(path=shots / "dead-letters.png", full_page=True)

    stage.broken.clear()  # the gateway is back: retry it
    page.evaluate("window.__not_reloaded = true")
    letter.get_by_role("button", name="retry").click()
    expect(page.locator("#letters tr", has_text=failed.id)).to_have_count(0)

    page.fill("#search", failed.id)
    page.press("#search", "Enter")
    state = page.locator("#state")
    expect(state).to_have_text("active")
    stage.release.set()  # it finishes now; the page shows it without being reloaded
    expect(state).to_have_text("completed")
    expect(page.locator("#result")).to_contain_text('"paid": 12')
    expect(page.locator("#logs")).to_contain_text("billing")
    assert page.evaluate("window.__not_reloaded") is True
    page.screenshot(path=shots / "job-completed.png", full_page=True)


def test_a_schedule_is_paused_resumed_changed_and_deleted(
    page: Page, stage: Stage, shots: Path, answers: list[str]
) -> None:
    stage.app.schedules().add("nightly-report", "tick", every="1h")
    page.keyboard.press("5")
    row = page.locator("#schedules tr", has_text="nightly-report")
    expect(row).to_contain_text("active")
    row.get_by_role("button", name="pause").click()
    expect(row).to_contain_text("paused")
    assert stage.app.schedules().get("nightly-report").paused
    page.screenshot(path=shots / "schedule-paused.png", full_page=True)
    row.get_by_role("button", name="resume").click()
    expect(row).to_contain_text("active")
    assert not stage.app.schedules().get("nightly-report").paused
    answers.append("5m")
    row.get_by_role("button", name="edit").click()
    expect(row).to_contain_text("every 5m")
    assert stage.app.schedules().get("nightly-report").spec.every_ms == 300_000
    row.get_by_role("button", name="delete").click()
    expect(page.locator("#schedules tr", has_text="nightly-report")).to_have_count(0)
    assert stage.app.schedules().list() == []


def test_keys_move_between_views_and_slash_opens_a_job(
    page: Page, stage: Stage, shots: Path
) -> None:
    stage.release.set()
    done = stage.app.dispatch("invoice", {"customer": "initech", "amount": 3})
    assert done.result(timeout=15) == {"paid": 3}
    expected = ["Overview", "Jobs", "Dead letters", "Workers", "Schedules", "Workflows"]
    for key, label in enumerate(expected, start=1):
        page.keyboard.press(str(key))
        expect(page.locator("nav a.on")).to_have_text(label)
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type(done.id)
    page.keyboard.press("Enter")
    expect(page.locator("#state")).to_have_text("completed")
    page.keyboard.press("t")  # the theme key cycles auto -> light -> dark
    page.keyboard.press("t")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.screenshot(path=shots / "job-dark.png", full_page=True)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_contain_text("open a job by id")
    page.keyboard.press("Escape")  # closes the help and goes back from the job
    expect(page.locator("#help")).to_be_hidden()
    expect(page.locator("nav a.on")).to_have_text("Workflows")
    page.keyboard.press("2")
    expect(page.locator("#jobs-filter")).to_be_visible()


def test_a_workflow_shows_its_nodes_and_its_jobs_link_back(page: Page, stage: Stage) -> None:
    flow = chain(stage.tick.s(1), stage.tick.s()).dispatch()
    assert flow.result(timeout=15) == 1
    page.keyboard.press("6")
    page.get_by_role("link", name=flow.id).click()
    expect(page.locator("#state")).to_have_text("completed")
    nodes = page.locator("#nodes tbody tr")
    expect(nodes).to_have_count(2)
    nodes.nth(1).get_by_role("link").click()
    expect(page.locator("#state")).to_have_text("completed")
    page.locator("#workflow").click()
    expect(page.locator("#nodes")).to_be_visible()


def test_without_the_event_stream_the_page_polls(page_without_stream: Page, stage: Stage) -> None:
    page = page_without_stream
    expect(page.locator("#live")).to_have_text("polling")
    stage.release.clear()
    held = stage.app.dispatch("invoice", {"customer": "hooli", "amount": 5})
    page.fill("#search", held.id)
    page.press("#search", "Enter")
    expect(page.locator("#state")).to_have_text("active")
    stage.release.set()
    expect(page.locator("#state")).to_have_text("completed")
