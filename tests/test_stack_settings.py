"""The stack's settings: what a flag changes, what is refused (before any AWS call), how they
are stored with the stack (SSM, moto), and the CLI's usage errors."""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import botocore.client
import botocore.session
import pytest
import typer
from moto import mock_aws
from typer.testing import CliRunner

from chatbot_deploy import app_spec, stack_settings
from chatbot_deploy.commands import options
from chatbot_deploy.deploy.calls import CallLog
from chatbot_deploy.errors import UserError
from chatbot_deploy.names import TAG_KEY, StackNames
from chatbot_deploy.stack_settings import (
    BASE_URL_MAX,
    LOG_RETENTION_DAYS,
    MODEL_MAX,
    MODELS_CHARS_MAX,
    MODELS_MAX,
    PARAMETER_VALUE_MAX,
    SETTINGS,
    SYSTEM_PROMPT_MAX_BYTES,
    Change,
    InvalidSetting,
    Settings,
    apply,
    changes,
    from_json,
    load,
    save,
    to_json,
    validate_arch,
    validate_base_url,
    validate_cdn,
    validate_domain,
    validate_log_retention,
    validate_model,
    validate_system_prompt,
)
from chatbot_lambda.settings import DEFAULT_MODEL
from tests.cli_run import run

NAMES = StackNames("chatbot")
PIRATE = Settings(models=("gpt-4.1",), system_prompt="You are a pirate")


# ---------------------------------------------------------------- apply


def test_a_given_flag_changes_only_its_setting():
    new = apply(PIRATE, {"log-retention": 90})
    assert new == replace(PIRATE, log_retention_days=90)
    assert new.model == "gpt-4.1" and new.system_prompt == "You are a pirate"


def test_nothing_given_changes_nothing():
    # A bare `up`: every flag not given (None), no reset.
    given = {setting.name: None for setting in SETTINGS}
    assert apply(PIRATE, given) == PIRATE
    assert apply(PIRATE, {}) == PIRATE


def test_given_values_are_normalised():
    new = apply(Settings(), {"model": "  llama3.1:8b ", "openai-base-url": " http://h:11434/v1 "})
    assert new.model == "llama3.1:8b"
    assert new.openai_base_url == "http://h:11434/v1"


def test_reset_puts_one_setting_back_and_leaves_the_others():
    current = replace(PIRATE, log_retention_days=7, arch="x86_64")
    new = apply(current, {}, reset=["model"])
    assert new == replace(current, models=(DEFAULT_MODEL,))
    new = apply(current, {}, reset=["system-prompt", "log-retention"])
    assert new.system_prompt is None and new.log_retention_days == 30
    assert new.model == "gpt-4.1" and new.arch == "x86_64"


def test_a_flag_and_a_reset_of_another_setting_go_together():
    new = apply(PIRATE, {"model": "gpt-4o"}, reset=["system-prompt"])
    assert new == Settings(models=("gpt-4o",))


def test_given_and_reset_of_the_same_setting_is_refused():
    with pytest.raises(InvalidSetting, match="--model and --reset model contradict"):
        apply(PIRATE, {"model": "gpt-4o"}, reset=["model"])


def test_unknown_reset_name_is_refused_with_the_valid_names():
    with pytest.raises(InvalidSetting) as raised:
        apply(PIRATE, {}, reset=["temperature"])
    message = str(raised.value)
    assert "'temperature'" in message
    assert "model, openai-base-url, system-prompt, log-retention, arch" in message
    assert "\n" not in message


def test_a_bad_given_value_is_refused():
    with pytest.raises(InvalidSetting, match="--log-retention: 2"):
        apply(PIRATE, {"log-retention": 2})


def test_settings_as_dict_and_app_config():
    assert PIRATE.as_dict() == {
        "model": ["gpt-4.1"],
        "openai-base-url": None,
        "system-prompt": "You are a pirate",
        "log-retention": 30,
        "arch": "arm64",
        "cdn": True,
        "domain": None,
    }
    config = PIRATE.app_config()
    assert (config.models, config.openai_base_url, config.system_prompt) == (
        ("gpt-4.1",),
        None,
        "You are a pirate",
    )
    assert [s.default for s in SETTINGS] == [
        ("gpt-4o-mini",),
        None,
        None,
        30,
        "arm64",
        True,
        None,
    ]


# ---------------------------------------------------------------- validators


@pytest.mark.parametrize(
    "value",
    [
        "gpt-4o-mini",
        "gpt-4.1",
        "llama3.1:8b",
        "meta-llama/llama-3.1-8b-instruct",
        "my_azure_deployment",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "model@2024+fp8",
        "m" * MODEL_MAX,
    ],
)
def test_good_models(value):
    assert validate_model(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "bad model",
        "tab\tmodel",
        "nul\x00",
        "ünicode",
        "semi;colon",
        "m" * (MODEL_MAX + 1),
    ],
)
def test_bad_models(value):
    with pytest.raises(InvalidSetting) as raised:
        validate_model(value)
    assert "letters, digits and . _ - : / @ +" in str(raised.value)
    assert str(raised.value).startswith("--model: ")


@pytest.mark.parametrize(
    "value",
    [
        "https://api.openai.com/v1",
        "http://localhost:11434/v1",
        "http://127.0.0.1:8000",
        "https://my-resource.openai.azure.com/openai/v1/",
        "http://[::1]:8080/v1",
        "https://example.com/" + "a" * (BASE_URL_MAX - len("https://example.com/")),
    ],
)
def test_good_base_urls(value):
    assert validate_base_url(f"  {value} ") == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://x", "expected http(s)://HOST"),
        ("api.openai.com/v1", "expected http(s)://HOST"),
        ("https://", "no host"),
        ("http://:8080/v1", "no host"),
        ("https://user:secret@example.com/v1", "the key belongs in OPENAI_API_KEY"),
        ("https://example.com/v1?api-version=1", "no query (?) or fragment (#)"),
        ("https://example.com/v1#x", "no query (?) or fragment (#)"),
        ("https://exa mple.com/v1", "without spaces"),
        ("https://example.com:99999/v1", "bad port"),
        ("", "empty"),
        ("https://example.com/" + "a" * BASE_URL_MAX, f"at most {BASE_URL_MAX}"),
    ],
)
def test_bad_base_urls(value, message):
    with pytest.raises(InvalidSetting) as raised:
        validate_base_url(value)
    assert message in str(raised.value)
    assert str(raised.value).startswith("--openai-base-url: ")
    assert "secret" not in str(raised.value)  # a password is not echoed (CI logs)


@pytest.mark.parametrize(
    "value",
    ["You are a pirate", "Line one\nLine two\r\n\tindented", "Émojis 🏴‍☠️ welcome", " x "],
)
def test_good_system_prompts(value):
    assert validate_system_prompt(value) == value  # kept exactly as given


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty or only whitespace"),
        ("   \n\t ", "empty or only whitespace"),
        ("nul\x00byte", "control character '\\x00'"),
        ("bell\x07", "only newlines, carriage returns and tabs are allowed"),
        ("Hello {{name}}", "'{{...}}' is not allowed"),
        ("x" * (SYSTEM_PROMPT_MAX_BYTES + 1), f"at most {SYSTEM_PROMPT_MAX_BYTES}"),
    ],
)
def test_bad_system_prompts(value, message):
    with pytest.raises(InvalidSetting) as raised:
        validate_system_prompt(value)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_empty_prompt_message_says_how_to_have_none():
    with pytest.raises(InvalidSetting, match=r"--reset system-prompt"):
        validate_system_prompt("  ")


def test_system_prompt_at_the_byte_limit_is_accepted_one_byte_over_refused():
    assert validate_system_prompt("x" * SYSTEM_PROMPT_MAX_BYTES)
    with pytest.raises(InvalidSetting, match=f"{SYSTEM_PROMPT_MAX_BYTES + 1} bytes"):
        validate_system_prompt("x" * (SYSTEM_PROMPT_MAX_BYTES + 1))


def test_system_prompt_counts_utf8_bytes_not_characters():
    two_bytes = "é" * (SYSTEM_PROMPT_MAX_BYTES // 2)  # 1024 characters, 2048 bytes
    assert validate_system_prompt(two_bytes) == two_bytes
    with pytest.raises(InvalidSetting, match=f"{SYSTEM_PROMPT_MAX_BYTES + 1} bytes"):
        validate_system_prompt(two_bytes + "a")
    four_bytes = "🏴" * (SYSTEM_PROMPT_MAX_BYTES // 4)
    assert validate_system_prompt(four_bytes) == four_bytes
    with pytest.raises(InvalidSetting):
        validate_system_prompt(four_bytes + "é")


def test_system_prompt_characters_json_escapes_count_twice():
    # Newlines, tabs, quotes and backslashes take two bytes once stored (JSON).
    assert validate_system_prompt("x" * (SYSTEM_PROMPT_MAX_BYTES - 2) + "\n")
    with pytest.raises(InvalidSetting):
        validate_system_prompt("x" * (SYSTEM_PROMPT_MAX_BYTES - 1) + '"')


def test_undecodable_argv_bytes_are_refused_not_a_crash():
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")  # as Python hands such argv over
    with pytest.raises(InvalidSetting, match="not valid UTF-8"):
        validate_system_prompt(bad)
    with pytest.raises(InvalidSetting):
        validate_model(bad)


@pytest.mark.parametrize("days", LOG_RETENTION_DAYS)
def test_every_cloudwatch_retention_is_accepted(days):
    assert validate_log_retention(days) == days


@pytest.mark.parametrize("value", [2, 0, -1, 4000, 31, True, "30", None, 30.0])
def test_other_retentions_are_refused_saying_which_are_allowed(value):
    with pytest.raises(InvalidSetting) as raised:
        validate_log_retention(value)
    assert str(raised.value).startswith(f"--log-retention: {value!r}: ")
    assert "1, 3, 5, 7, 14, 30, 60, 90" in str(raised.value)
    assert str(raised.value).endswith("3288 or 3653 days")


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("chat.example.com", "chat.example.com"),
        (" Chat.Example.COM ", "chat.example.com"),
        ("a.b.c.example.co.uk", "a.b.c.example.co.uk"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("chat.xn--p1ai", "chat.xn--p1ai"),
    ],
)
def test_domains_are_host_names_lowercased(value, kept):
    assert validate_domain(value) == kept


@pytest.mark.parametrize(
    "value",
    [
        "",
        "localhost",
        "https://chat.example.com",
        "chat.example.com/",
        "chat.example.com:443",
        "*.example.com",
        "chat..example.com",
        "-chat.example.com",
        "chat-.example.com",
        "chat.example.c0m",
        "chat.example.com.",
        "ch at.example.com",
        "a" * 64 + ".example.com",
        ".".join(["a" * 60] * 5) + ".com",
        42,
    ],
)
def test_other_domains_are_refused_in_one_line(value):
    with pytest.raises(InvalidSetting) as raised:
        validate_domain(value)
    message = str(raised.value)
    assert message.startswith("--domain: ") and "\n" not in message


def test_cdn_is_on_or_off_and_a_domain_needs_it():
    assert validate_cdn(True) is True and validate_cdn(False) is False
    with pytest.raises(InvalidSetting, match="--cdn: 'yes'"):
        validate_cdn("yes")
    with pytest.raises(InvalidSetting, match=r"--domain: chat\.example\.com needs the CDN"):
        apply(Settings(), {"cdn": False, "domain": "chat.example.com"})
    # switching the CDN off and the domain back to none together is fine
    with_domain = Settings(domain="chat.example.com")
    assert apply(with_domain, {"cdn": False}, reset=["domain"]) == Settings(cdn=False)
    [change] = changes(Settings(), Settings(cdn=False))
    assert change.describe() == "cdn: on → off"


def test_log_retention_days_are_exactly_those_cloudwatch_logs_accepts():
    """Derived from botocore's own service model, not copied: its enum if it has one, else
    the numbers its documentation of retentionInDays lists."""
    model = botocore.session.get_session().get_service_model("logs")
    request = model.operation_model("PutRetentionPolicy").input_shape
    assert request is not None
    shape = request.members["retentionInDays"]
    enum = getattr(shape, "enum", None) or shape.metadata.get("enum")
    if enum:
        documented = sorted(int(value) for value in enum)
    else:
        text = html.unescape(re.sub(r"<[^>]+>", " ", shape.documentation))
        match = re.search(r"Possible values are:?((?:[\s,]*(?:and\s+)?\d+)+)", text)
        assert match, text
        documented = [int(number) for number in re.findall(r"\d+", match.group(1))]
    assert len(documented) > 10
    assert tuple(documented) == LOG_RETENTION_DAYS


@pytest.mark.parametrize("value", ["arm64", "x86_64"])
def test_good_arch(value):
    assert validate_arch(value) == value


@pytest.mark.parametrize("value", ["amd64", "ARM64", "", "x86"])
def test_bad_arch(value):
    with pytest.raises(InvalidSetting, match="arm64 or x86_64"):
        validate_arch(value)


# ---------------------------------------------------------------- several models


def test_models_keep_their_order_the_first_is_the_default():
    new = apply(PIRATE, {"model": [" gpt-4.1 ", "gpt-4o-mini", "llama3.1:8b"]})
    assert new.models == ("gpt-4.1", "gpt-4o-mini", "llama3.1:8b")
    assert new.model == "gpt-4.1"
    assert new == replace(PIRATE, models=new.models)  # nothing else changed
    assert new.app_config().models == new.models
    assert apply(PIRATE, {"model": "gpt-4o"}).models == ("gpt-4o",)  # one name: one model


def test_reset_model_puts_back_the_default_list():
    several = apply(PIRATE, {"model": ["gpt-4.1", "gpt-4o"]})
    assert apply(several, {}, reset=["model"]).models == (DEFAULT_MODEL,)
    assert apply(several, {}, reset=["models"]).models == (DEFAULT_MODEL,)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            ["gpt-4.1", "gpt-4o", " gpt-4.1"],
            "--model: 'gpt-4.1' is given twice: name each model once",
        ),
        ([], "--model: no model: give at least one"),
        (["gpt-4.1", ""], "--model: empty: a model name is 1-128"),
        (["gpt-4.1", "bad model"], "--model: 'bad model' is not allowed"),
        ([f"m{index}" for index in range(MODELS_MAX + 1)], f"11 models; at most {MODELS_MAX}"),
        (
            ["a" * MODEL_MAX] * 0 + [c * MODEL_MAX for c in "abcde"],
            "640 characters together; at most 512",
        ),
        ({"gpt-4.1": 1}, "expected model names, got"),
        (["gpt-4.1", 7], "expected text, got 7"),
    ],
)
def test_bad_model_lists_are_refused_in_one_line(value, message):
    with pytest.raises(InvalidSetting) as raised:
        apply(PIRATE, {"model": value})
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_models_are_stored_as_a_list_and_printed_readably():
    several = apply(Settings(), {"model": ["gpt-4.1", "gpt-4o-mini"]})
    assert json.loads(to_json(several))["model"] == ["gpt-4.1", "gpt-4o-mini"]
    assert from_json(to_json(several)) == several
    assert [c.describe() for c in changes(Settings(), several)] == [
        "model: gpt-4o-mini → gpt-4.1, gpt-4o-mini"
    ]
    assert stack_settings.shown("model", several.as_dict()["model"]) == "gpt-4.1, gpt-4o-mini"
    assert stack_settings.shown("system-prompt", None) == "(default: none)"


# ---------------------------------------------------------------- changes


def test_changes_list_what_differs_in_order():
    new = apply(PIRATE, {"model": "gpt-4o", "log-retention": 7}, reset=["system-prompt"])
    assert [c.describe() for c in changes(PIRATE, new)] == [
        "model: gpt-4.1 → gpt-4o",
        'system-prompt: "You are a pirate" → (default: none)',
        "log-retention: 30 days → 7 days",
    ]
    assert changes(PIRATE, PIRATE) == []


def test_change_describe_shortens_a_long_prompt_to_one_line():
    prompt = "You are a helpful assistant.\nAlways answer in French, " + "x" * 500
    line = Change("system-prompt", None, prompt).describe()
    assert line.startswith('system-prompt: (default: none) → "You are a helpful assistant. Always')
    assert "…" in line and f"({len(prompt)} characters)" in line
    assert "\n" not in line and len(line) < 120
    assert Change("model", "gpt-4o-mini", "gpt-4.1").describe() == "model: gpt-4o-mini → gpt-4.1"
    assert (
        Change("model", ("gpt-4o-mini",), ("gpt-4.1", "gpt-4o-mini")).describe()
        == "model: gpt-4o-mini → gpt-4.1, gpt-4o-mini"
    )
    assert (
        Change("openai-base-url", None, "http://h/v1").describe()
        == "openai-base-url: (default: none) → http://h/v1"
    )


# ---------------------------------------------------------------- JSON


def test_json_round_trip_is_compact_sorted_and_versioned():
    settings = Settings(
        models=("llama3.1:8b",),
        openai_base_url="http://h:11434/v1",
        system_prompt='Say "ahoy"\nÉtrange 🏴‍☠️',
        log_retention_days=7,
        arch="x86_64",
    )
    text = to_json(settings)
    assert from_json(text) == settings
    document = json.loads(text)
    assert document["version"] == 1
    assert list(document) == sorted(document)
    assert "Étrange 🏴‍☠️" in text  # UTF-8 as is: \uXXXX escapes would take 6 bytes each
    assert to_json(Settings()) == (
        '{"arch":"arm64","cdn":true,"domain":null,"log-retention":30,"model":["gpt-4o-mini"],'
        '"openai-base-url":null,"system-prompt":null,"version":1}'
    )
    assert from_json(to_json(Settings())) == Settings()
    with_domain = Settings(domain="chat.example.com")
    assert from_json(to_json(with_domain)) == with_domain
    assert from_json(to_json(Settings(cdn=False))) == Settings(cdn=False)


def test_json_unknown_keys_are_ignored_and_missing_keys_default():
    """A missing key takes its default, but for `cdn`: settings stored before the CDN
    existed are those of an S3 website, which stays one until `up --cdn`."""
    assert from_json('{"version":1,"model":"gpt-4.1","temperature":0.2,"x":{}}') == Settings(
        models=("gpt-4.1",), cdn=False
    )
    assert from_json("{}") == Settings(cdn=False)
    assert from_json('{"openai-base-url":null,"system-prompt":null}') == Settings(cdn=False)
    assert from_json('{"cdn":true}') == Settings()


def test_json_settings_that_contradict_each_other_are_damaged():
    with pytest.raises(UserError, match=r"damaged.*needs the CDN"):
        from_json('{"cdn":false,"domain":"chat.example.com"}')


def test_json_a_damaged_value_names_it_and_how_to_fix_it():
    with pytest.raises(UserError) as raised:
        from_json('{"version":1,"log-retention":2}', source="the settings of stack 'x'")
    message = str(raised.value)
    assert "the settings of stack 'x' hold an invalid log-retention" in message
    assert "`chatbot-deploy up --reset log-retention`" in message
    # ... and the fix works: a setting being replaced is not read.
    assert from_json('{"log-retention":2}', replacing=["log-retention"]) == Settings(cdn=False)
    with pytest.raises(UserError, match="invalid model"):
        from_json('{"model":null}')


@pytest.mark.parametrize("text", ["not json", "[1]", '{"version":"one"}'])
def test_json_that_is_not_settings_is_reported_as_damaged(text):
    with pytest.raises(UserError, match="are damaged: delete the parameter"):
        from_json(text)


def test_json_from_a_newer_version_is_refused():
    with pytest.raises(UserError, match="newer chatbot-deploy"):
        from_json('{"version":2,"model":"gpt-5"}')


# As many models as allowed, their names as long as allowed together.
LARGEST_MODELS = tuple(
    f"{index}" + "m" * (MODELS_CHARS_MAX // MODELS_MAX - 1) for index in range(MODELS_MAX)
)


def test_the_largest_settings_fit_ssm_and_the_lambda_environment():
    """No valid combination can exceed a Standard SSM parameter (4096 bytes) or Lambda's
    4 KB environment, even with a prompt full of characters JSON escapes."""
    largest = Settings(
        models=LARGEST_MODELS,
        openai_base_url="https://" + "h" * (BASE_URL_MAX - len("https://")),
        system_prompt='"' * (SYSTEM_PROMPT_MAX_BYTES // 2),  # each stored as 2 bytes
        log_retention_days=max(LOG_RETENTION_DAYS),
        arch="x86_64",
    )
    for field, value in (
        ("model", largest.models),
        ("openai_base_url", largest.openai_base_url),
        ("system_prompt", largest.system_prompt),
    ):
        assert stack_settings.setting(field).validate(value) == value
    assert len(to_json(largest).encode()) <= PARAMETER_VALUE_MAX
    names = StackNames("a" * 24)
    for kind in app_spec.FUNCTIONS:
        env = app_spec.function_environment(kind, names, largest.app_config())
        assert len(json.dumps(env).encode()) < 4096, kind


# ---------------------------------------------------------------- stored in SSM (moto)

REGION = "eu-central-1"


@pytest.fixture
def aws(monkeypatch, tmp_path) -> Iterator[tuple[Any, CallLog]]:
    """Fake credentials, moto, and an SSM client whose calls are counted."""
    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        log = CallLog().attach(session)
        yield session.client("ssm"), log


def test_load_of_a_stack_without_settings_is_none(aws):
    ssm, log = aws
    assert load(ssm, NAMES) is None
    assert log.writes == []


def test_save_creates_a_tagged_string_parameter(aws):
    ssm, log = aws
    assert save(ssm, NAMES, PIRATE) is True
    assert log.writes == [("ssm", "PutParameter")]
    parameter = ssm.get_parameter(Name=NAMES.settings_param)["Parameter"]
    assert parameter["Type"] == "String"
    assert json.loads(parameter["Value"])["model"] == ["gpt-4.1"]
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=NAMES.settings_param)
    assert {t["Key"]: t["Value"] for t in tags["TagList"]} == {TAG_KEY: "chatbot"}
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [NAMES.settings_param]}]
    )["Parameters"][0]
    assert described["Tier"] == "Standard"
    assert "chatbot-deploy up" in described["Description"]
    assert load(ssm, NAMES) == PIRATE


def test_saving_the_same_settings_again_writes_nothing(aws):
    ssm, log = aws
    save(ssm, NAMES, PIRATE)
    log.clear()
    assert save(ssm, NAMES, PIRATE) is False
    assert save(ssm, NAMES, apply(load(ssm, NAMES) or Settings(), {})) is False
    assert log.writes == []
    assert ("ssm", "PutParameter") not in log.calls


def test_saving_changed_settings_overwrites(aws):
    ssm, log = aws
    save(ssm, NAMES, PIRATE)
    log.clear()
    changed = apply(PIRATE, {"log-retention": 90})
    assert save(ssm, NAMES, changed) is True
    assert log.writes == [("ssm", "PutParameter")]
    assert load(ssm, NAMES) == changed
    parameter = ssm.get_parameter(Name=NAMES.settings_param)["Parameter"]
    assert parameter["Version"] == 2
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=NAMES.settings_param)
    assert {t["Key"] for t in tags["TagList"]} == {TAG_KEY}  # kept from the creation


def test_the_largest_settings_can_be_stored(aws):
    ssm, _ = aws
    largest = Settings(
        models=LARGEST_MODELS,
        openai_base_url="https://" + "h" * (BASE_URL_MAX - len("https://")),
        system_prompt="🏴" * (SYSTEM_PROMPT_MAX_BYTES // 4),
    )
    assert save(ssm, NAMES, largest)
    assert load(ssm, NAMES) == largest


def test_a_damaged_stored_value_is_reported_and_repaired_by_reset(aws):
    ssm, _ = aws
    ssm.put_parameter(
        Name=NAMES.settings_param, Value='{"version":1,"model":"bad model"}', Type="String"
    )
    with pytest.raises(UserError) as raised:
        load(ssm, NAMES)
    assert NAMES.settings_param in str(raised.value)
    assert "--reset model" in str(raised.value)
    # `up --reset model`: the damaged value is not read, and the repaired settings are saved.
    current = load(ssm, NAMES, replacing=["model"])
    assert current == Settings(cdn=False)  # stored without `cdn`: before the CDN existed
    assert save(ssm, NAMES, apply(current, {}, reset=["model"])) is True
    assert load(ssm, NAMES) == Settings(cdn=False)


def test_stored_single_model_of_an_older_version_is_read_as_a_one_item_list(aws):
    """A stack whose settings were stored before several models were offered: its `model`
    is one string. It keeps working: read as a one-item list, a bare `up` writes nothing,
    and a new list replaces it."""
    ssm, log = aws
    old = (
        '{"arch":"arm64","log-retention":30,"model":"gpt-4.1","openai-base-url":null,'
        '"system-prompt":"You are a pirate","version":1}'
    )
    ssm.put_parameter(Name=NAMES.settings_param, Value=old, Type="String")
    stored = load(ssm, NAMES)
    assert stored == replace(PIRATE, cdn=False) and stored is not None  # an S3 website then
    assert stored.models == ("gpt-4.1",) and stored.model == "gpt-4.1"
    log.clear()
    assert save(ssm, NAMES, apply(stored, {})) is False  # a bare `up`
    assert log.writes == []
    assert ssm.get_parameter(Name=NAMES.settings_param)["Parameter"]["Value"] == old
    several = apply(stored, {"model": ["gpt-4.1", "gpt-4o"]})
    assert [c.describe() for c in changes(stored, several)] == ["model: gpt-4.1 → gpt-4.1, gpt-4o"]
    assert save(ssm, NAMES, several) is True
    value = json.loads(ssm.get_parameter(Name=NAMES.settings_param)["Parameter"]["Value"])
    assert value["model"] == ["gpt-4.1", "gpt-4o"]
    assert value["system-prompt"] == "You are a pirate"
    assert load(ssm, NAMES) == several


# ---------------------------------------------------------------- CLI


class NoAwsCall(Exception):
    pass


@pytest.fixture
def no_aws(monkeypatch, tmp_path) -> list[str]:
    """No credentials, no region, no config, and any AWS call fails the test."""
    for var in list(os.environ):
        if var.startswith("AWS_") or var in ("OPENAI_MODEL", "OPENAI_BASE_URL", "CHATBOT_STACK"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    calls: list[str] = []

    def refuse(self: Any, operation: str, params: Any) -> Any:
        calls.append(operation)
        raise NoAwsCall(operation)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)
    return calls


def usage_error(result: Any) -> str:
    return " ".join(result.stderr.replace("│", " ").split())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("up", "--log-retention", "2"),
            "Invalid value for '--log-retention': 2: CloudWatch Logs keeps logs 1, 3, 5, 7, 14, "
            "30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 "
            "or 3653 days",
        ),
        (
            ("up", "--openai-base-url", "ftp://x"),
            "(env var: 'OPENAI_BASE_URL'): 'ftp://x': expected http(s)://HOST[:PORT][/PATH]",
        ),
        (
            ("up", "--system-prompt", "   "),
            "Invalid value for '--system-prompt': empty or only whitespace",
        ),
        (
            ("local", "--model", "bad model"),
            "'bad model' is not allowed: a model name is 1-128 letters, digits and . _ - : / @ +",
        ),
        (
            ("up", "--model", "gpt-4.1", "--model", "gpt-4o", "--model", "gpt-4.1"),
            "(env var: 'OPENAI_MODEL'): 'gpt-4.1' is given twice: name each model once",
        ),
        (("up", "--model", "gpt-4.1", "--model", "a b"), "'a b' is not allowed"),
        (("up", "--model", "gpt-4.1", "--reset", "model"), "contradict each other"),
        (("local", "--model", "gpt-4.1", "--model", ""), "empty: a model name is 1-128"),
        (("local", "--openai-base-url", "http://u:p@h/v1"), "the key belongs in OPENAI_API_KEY"),
        (("local", "--system-prompt", "\x07"), "control character"),
    ],
)
def test_bad_values_are_usage_errors_before_any_aws_call(no_aws, argv, message):
    result = run(*argv)
    text = usage_error(result)
    assert result.code == 2, f"{result} (does the command use the options.py option types?)"
    assert message in text
    assert "credentials" not in text and "region" not in text
    assert "Traceback" not in result.all_output
    assert no_aws == []


def test_a_bad_model_from_the_environment_is_refused_too(no_aws, monkeypatch):
    monkeypatch.setenv("OPENAI_MODEL", "bad!model")
    result = run("local")
    assert result.code == 2
    assert "(env var: 'OPENAI_MODEL'): 'bad!model' is not allowed" in usage_error(result)


def option_probe() -> typer.Typer:
    """A command with the shared setting options, as `up` uses them."""
    app = typer.Typer()
    seen: dict[str, Any] = {}

    @app.command()
    def probe(
        model: options.Model = None,
        openai_base_url: options.OpenAIBaseUrl = None,
        system_prompt: options.SystemPrompt = None,
        log_retention: options.LogRetention = None,
        arch: options.ArchOption = None,
        reset: options.Reset = None,
    ) -> None:
        seen.update(
            {
                "model": model,
                "openai-base-url": openai_base_url,
                "system-prompt": system_prompt,
                "log-retention": log_retention,
                "arch": arch,
            }
        )
        print(json.dumps({"given": seen, "reset": reset}))

    return app


def test_options_pass_none_when_not_given_and_validated_values_when_given(no_aws):
    runner = CliRunner()
    result = runner.invoke(option_probe(), [])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert set(parsed["given"].values()) == {None}
    assert apply(PIRATE, parsed["given"], parsed["reset"] or []) == PIRATE

    argv = ["--model", " gpt-4.1 ", "--log-retention", "90", "--arch", "x86_64"]
    result = runner.invoke(option_probe(), [*argv, "--reset", "system-prompt"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert parsed["reset"] == ["system-prompt"]
    new = apply(PIRATE, parsed["given"], parsed["reset"])
    assert new == Settings(models=("gpt-4.1",), log_retention_days=90, arch="x86_64")

    result = runner.invoke(option_probe(), ["--model", "b-model", "--model", " a-model"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["given"]["model"] == ["b-model", "a-model"]  # in order


def test_models_from_the_environment_are_separated_by_spaces(no_aws, monkeypatch):
    monkeypatch.setenv("OPENAI_MODEL", "gpt-4.1 gpt-4o-mini")
    result = CliRunner().invoke(option_probe(), [])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["given"]["model"] == ["gpt-4.1", "gpt-4o-mini"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--reset", "temperature"], "one of model, openai-base-url, system-prompt"),
        (["--arch", "amd64"], "arm64 or x86_64"),
        (["--log-retention", "0"], "CloudWatch Logs keeps logs"),
        (["--log-retention", "many"], "unable to parse string as an integer"),
    ],
)
def test_options_refuse_bad_values(no_aws, argv, message):
    result = CliRunner().invoke(option_probe(), argv)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
    assert no_aws == []
