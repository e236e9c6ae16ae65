"""The functions' settings from their environment: the models offered (OPENAI_MODELS)."""

from __future__ import annotations

import pytest

from chatbot_deploy import app_spec
from chatbot_deploy.names import StackNames
from chatbot_lambda import settings, stream
from chatbot_lambda.conversations import Conversation


@pytest.mark.parametrize(
    ("text", "models"),
    [
        ("gpt-4o-mini", ("gpt-4o-mini",)),
        ("gpt-4.1,gpt-4o-mini", ("gpt-4.1", "gpt-4o-mini")),
        (" gpt-4.1 , llama3.1:8b ,, gpt-4.1", ("gpt-4.1", "llama3.1:8b")),
        ("", ()),
        (None, ()),
    ],
)
def test_parse_models(text, models):
    assert settings.parse_models(text) == models


def test_the_environment_written_by_up_is_read_back_default_first(monkeypatch):
    config = app_spec.AppConfig(models=("gpt-4.1", "meta-llama/llama-3.1-8b-instruct", "o3"))
    env = app_spec.function_environment("stream", StackNames("chatbot"), config)
    assert env[settings.ENV_OPENAI_MODELS] == "gpt-4.1,meta-llama/llama-3.1-8b-instruct,o3"
    assert settings.ENV_OPENAI_MODEL not in env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    read = settings.ChatSettings.from_env()
    assert read.models == config.models
    assert read.model == "gpt-4.1"
    assert read.offers("o3") and not read.offers("gpt-4o-mini")


def test_without_models_in_the_environment_the_default_is_offered(monkeypatch):
    monkeypatch.setenv(settings.ENV_OPENAI_KEY_PARAM, "/p")
    monkeypatch.delenv(settings.ENV_OPENAI_MODELS, raising=False)
    assert settings.ChatSettings.from_env().models == (settings.DEFAULT_MODEL,)


def test_the_answering_model():
    config = settings.ChatSettings("/p", ("a", "b"), None, None)
    of = Conversation(id="x", title="t", model="b", created_at=0, updated_at=0, next_seq=0)
    assert stream.answering_model(of, None, config) == "b"  # its own, still offered
    assert stream.answering_model(of, "a", config) == "a"  # asked for another
    retired = Conversation(id="x", title="t", model="z", created_at=0, updated_at=0, next_seq=0)
    assert stream.answering_model(retired, None, config) == "a"  # the default
    assert stream.answering_model(retired, "b", config) == "b"
