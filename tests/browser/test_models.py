"""The model picker in the browser (docs/api.md: config.json's `models`, `model` on `send` and
`regenerate`): `local` offering two models, the fake model server recording which one each
answer was asked of."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from chatbot_deploy import app_spec
from chatbot_lambda import conversations
from tests.browser.conftest import answered, answers, send, sign_in, web_dist
from tests.support.fake_openai import FakeOpenAI
from tests.support.local_app import USERNAME, LocalApp, running_local

pytestmark = pytest.mark.browser

MODELS = ("model-a", "model-b")


@pytest.fixture
def web_app(fake_openai: FakeOpenAI) -> Iterator[LocalApp]:
    """`local --model model-a --model model-b` (this module's pages open it)."""
    config = app_spec.AppConfig(models=MODELS, openai_base_url=fake_openai.base_url)
    with running_local(fake_openai.base_url, web_dir=web_dist(), config=config) as app:
        yield app


def asked_model(fake_openai: FakeOpenAI) -> str:
    model: str = fake_openai.requests[-1].body["model"]
    return model


def nav(page: Any) -> Any:
    return page.get_by_role("navigation", name="Past conversations")


def test_the_picked_model_answers_and_the_conversation_keeps_it(
    page: Any, fake_openai: FakeOpenAI
) -> None:
    sign_in(page)
    picker = page.get_by_label("Model", exact=True)
    expect(picker.locator("option")).to_have_text(list(MODELS))
    expect(picker).to_have_value("model-a")  # the first is the default

    # A new chat asks the default.
    send(page, "first chat")
    answered(page, "echo: first chat")
    assert asked_model(fake_openai) == "model-a"

    # Another model picked: that conversation's next answer comes from it.
    picker.select_option("model-b")
    send(page, "now from b")
    answered(page, "echo: first chat", "echo: now from b")
    assert asked_model(fake_openai) == "model-b"
    expect(picker).to_have_value("model-b")

    # The conversation remembers it (read back from the server).
    page.reload()
    expect(answers(page)).to_have_count(2)
    expect(picker).to_have_value("model-b")

    # Regenerate asks the model picked.
    picker.select_option("model-a")
    before = len(fake_openai.requests)
    page.get_by_role("button", name="Regenerate the answer").click()
    answered(page, "echo: first chat", "echo: now from b")
    expect(page.get_by_role("button", name="Regenerate the answer")).to_be_visible()
    assert len(fake_openai.requests) == before + 1
    assert asked_model(fake_openai) == "model-a"

    # A new chat starts from the default; the first conversation shows its own again.
    page.get_by_role("button", name="New chat").first.click()
    expect(picker).to_have_value("model-a")
    picker.select_option("model-b")
    send(page, "second chat")
    answered(page, "echo: second chat")
    assert asked_model(fake_openai) == "model-b"
    nav(page).get_by_role("link", name="first chat").click()
    answered(page, "echo: first chat", "echo: now from b")
    expect(picker).to_have_value("model-a")
    nav(page).get_by_role("link", name="second chat").click()
    answered(page, "echo: second chat")
    expect(picker).to_have_value("model-b")


def test_one_model_offers_no_picker(context: Any, fake_openai: FakeOpenAI) -> None:
    with running_local(fake_openai.base_url, web_dir=web_dist()) as app:
        page = context.new_page()
        page.goto(app.url + "/")
        sign_in(page)
        send(page, "just one")
        answered(page, "echo: just one")
        expect(page.get_by_label("Model", exact=True)).to_have_count(0)
        assert asked_model(fake_openai) == "test-model"


def test_a_model_no_longer_offered_is_answered_by_the_default(
    page: Any, fake_openai: FakeOpenAI, web_app: LocalApp
) -> None:
    sign_in(page)
    picker = page.get_by_label("Model", exact=True)
    picker.select_option("model-b")
    send(page, "an old conversation")
    answered(page, "echo: an old conversation")
    assert asked_model(fake_openai) == "model-b"
    # Its model is one this chatbot offered once (as after `up` with other --model values).
    conversation_id = page.url.rsplit("/", 1)[-1]
    db, table = web_app.aws.dynamodb, web_app.aws.names.table("conversations")
    conversation = conversations.get(db, table, USERNAME, conversation_id)
    conversations.set_model(db, table, USERNAME, conversation, "model-retired")
    page.reload()
    expect(picker).to_have_value("model-retired")
    expect(picker.locator("option:checked")).to_have_text("model-retired (no longer offered)")

    # Sent as it is, the server answers with the default, and the picker says so.
    send(page, "and now")
    answered(page, "echo: an old conversation", "echo: and now")
    assert asked_model(fake_openai) == "model-a"
    expect(picker).to_have_value("model-a")
    expect(picker.locator("option")).to_have_text(list(MODELS))
