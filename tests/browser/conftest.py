"""Fixtures for the browser end-to-end tests: Debian's headless Chromium driven by Playwright
against `chatbot-deploy local` serving the built web app, with the fake OpenAI server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from chatbot_deploy import paths
from tests.support.fake_openai import FakeOpenAI
from tests.support.local_app import PASSWORD, USERNAME, LocalApp, running_local

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SESSION_KEY = "chatbot-deploy:session"


def web_dist() -> Path:
    dist = paths.CHECKOUT_FRONTEND_DIR / "dist"
    if not (dist / "index.html").exists():
        pytest.skip(
            f"the web app is not built ({dist} has no index.html): "
            "run `npm ci && npm run build` in frontend/ (.ci/run does)"
        )
    return dist


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    dist = web_dist()
    assert dist.exists()
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def web_app(fake_openai: FakeOpenAI) -> Iterator[LocalApp]:
    with running_local(fake_openai.base_url, web_dir=web_dist()) as app:
        yield app


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: Any, web_app: LocalApp) -> Any:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(web_app.url + "/")
    yield page
    assert errors == [], f"uncaught errors in the page: {errors}"


def sign_in(page: Any, username: str = USERNAME, password: str = PASSWORD) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Message", exact=True).wait_for()


def send(page: Any, text: str, *, when_idle: bool = True) -> None:
    """Type ``text`` and press Enter. First, unless ``when_idle`` is false, wait until no
    answer streams (Send is back): Enter while one streams keeps the text unsent, and a test
    that sends right after seeing an answer's text could otherwise race its ``done``."""
    if when_idle:
        expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def answers(page: Any) -> Any:
    return page.locator("article.msg-assistant")


def answered(page: Any, *texts: str) -> None:
    """The answers are ``texts``, none still streaming (Send is back: the next can be sent)."""
    expect(answers(page)).to_have_text(list(texts))
    expect(page.locator("article.msg-assistant.streaming")).to_have_count(0)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
