"""The stack's settings (model, base URL, system prompt, log retention, architecture, CDN,
domain), kept
with the stack in one SSM parameter ("/chatbot-deploy/<stack>/settings", JSON).

A flag given to `up` changes that setting and nothing else; a bare `up` changes nothing;
`up --reset NAME` puts one setting back to its default. Every value is checked here, before
any AWS call, and a bad one is refused with one line saying what is allowed.

`SETTINGS` is the one source of truth for each setting's name, flag, default, help and
validation: the CLI options (commands/options.py), `apply` and the stored JSON derive from it.
"""

from __future__ import annotations

import json
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import botocore.exceptions

from chatbot_deploy.app_spec import AppConfig
from chatbot_deploy.aws import error_code
from chatbot_deploy.deploy.context import ARCHITECTURES, DEFAULT_ARCH, DEFAULT_LOG_RETENTION_DAYS
from chatbot_deploy.errors import UserError
from chatbot_deploy.names import StackNames
from chatbot_lambda.settings import DEFAULT_MODEL

# The values CloudWatch Logs' PutRetentionPolicy accepts (botocore's service model for
# "logs", PutRetentionPolicy.retentionInDays: "Possible values are: 1, 3, ... and 3653";
# the model has no machine-readable enum, the test compares with that text).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

# Size limits. The settings are stored as one JSON value in a Standard-tier SSM parameter
# (at most 4096 bytes, and free), and the model, base URL and prompt go into the chat
# function's environment, which Lambda limits to 4 KB for all its variables together. With
# these limits the largest possible settings stay well inside both (a test checks it):
#   models 512 (+ 3 per name in JSON) + base URL 1024 + prompt 2048 + JSON keys and the rest
#   ~130 < 4096.
# - Model names are short ("gpt-4o-mini", "meta-llama/llama-3.1-8b-instruct"): 128 is ample.
MODEL_MAX = 128
# - Several models may be offered (`--model` repeated, the first the default): a picker's
#   worth, and their names together within a share of the budget.
MODELS_MAX = 10
MODELS_CHARS_MAX = 512
# - Endpoints are short too ("https://NAME.openai.azure.com/openai/v1"); 1024 leaves room.
BASE_URL_MAX = 1024
# - The prompt is the only long value: it gets the largest share. It is measured as stored:
#   UTF-8 bytes, where a newline, carriage return, tab, quote or backslash takes 2 (JSON
#   escapes them, in the parameter and in Lambda's API), so no prompt can push the
#   parameter or the function's environment over its limit half-way through a deploy.
SYSTEM_PROMPT_MAX_BYTES = 2048
PARAMETER_VALUE_MAX = 4096  # SSM Standard tier: the stored JSON must fit

SETTINGS_VERSION = 1

_MODEL_RE = re.compile(r"[A-Za-z0-9._\-:/@+]+")
# RFC 3986 characters (unreserved, reserved and "%"); anything else must be percent-encoded.
_URL_CHARS_RE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
# SSM refuses parameter values with "{{...}}" in them (a reference to another parameter).
_SSM_REFERENCE_RE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_JSON_ESCAPED = frozenset('\n\r\t"\\')  # the only characters JSON escapes in a valid prompt


class InvalidSetting(UserError):
    """A value a setting does not allow: one line naming the flag and saying what is
    allowed. A usage error (exit 2), like Typer's own."""

    exit_code = 2

    def __init__(self, name: str, reason: str) -> None:
        self.name = name  # the setting's CLI name (or "reset")
        self.reason = reason  # without the flag: Typer's message names the flag itself
        super().__init__(f"--{name}: {reason}")


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _utf8(name: str, value: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: argv bytes that are not UTF-8
        raise InvalidSetting(name, "the value is not valid UTF-8 text") from exc


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidSetting(name, f"expected text, got {_shown(value)}")
    return value


def validate_model(value: str) -> str:
    """A model name: letters, digits and . _ - : / @ + (Ollama "llama3.1:8b", OpenRouter
    "meta-llama/llama-3.1-8b-instruct", Azure deployment names); surrounding spaces dropped."""
    model = _text("model", value).strip()
    allowed = f"a model name is 1-{MODEL_MAX} letters, digits and . _ - : / @ + (no spaces)"
    if not model:
        raise InvalidSetting("model", f"empty: {allowed}")
    if len(model) > MODEL_MAX or not _MODEL_RE.fullmatch(model):
        raise InvalidSetting("model", f"{_shown(model)} is not allowed: {allowed}")
    return model


def validate_models(value: Any) -> tuple[str, ...]:
    """The models offered, the first the default: each a valid model name (validate_model),
    each once, at most MODELS_MAX, their names together at most MODELS_CHARS_MAX characters.
    One name (text) is a one-item list: stacks stored before several models were offered."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise InvalidSetting("model", f"expected model names, got {_shown(value)}")
    if not value:
        raise InvalidSetting("model", "no model: give at least one")
    models: list[str] = []
    for item in value:
        model = validate_model(item)
        if model in models:
            raise InvalidSetting("model", f"{model!r} is given twice: name each model once")
        models.append(model)
    if len(models) > MODELS_MAX:
        raise InvalidSetting("model", f"{len(models)} models; at most {MODELS_MAX}")
    together = sum(len(model) for model in models)
    if together > MODELS_CHARS_MAX:
        raise InvalidSetting(
            "model",
            f"the model names are {together} characters together; at most {MODELS_CHARS_MAX}",
        )
    return tuple(models)


def validate_base_url(value: str) -> str:
    """An OpenAI-compatible endpoint: http:// or https:// with a host, no credentials,
    query or fragment. Kept as given, without surrounding spaces."""
    url = _text("openai-base-url", value).strip()
    shown = _shown(url)
    form = "expected http(s)://HOST[:PORT][/PATH]"

    def refuse(reason: str) -> InvalidSetting:
        return InvalidSetting("openai-base-url", f"{shown}: {reason}")

    if not url:
        raise refuse(f"empty: {form}")
    if len(url) > BASE_URL_MAX:
        raise refuse(f"{len(url)} characters; at most {BASE_URL_MAX}")
    if not _URL_CHARS_RE.fullmatch(url):
        raise refuse(f"{form}, without spaces (percent-encode other characters)")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise refuse(form)
    if parts.username is not None or parts.password is not None:
        raise InvalidSetting(  # without the URL: it would show the password
            "openai-base-url",
            "no user or password in the URL (it would be stored in plain text): the key "
            "belongs in OPENAI_API_KEY",
        )
    if "?" in url or "#" in url:
        raise refuse(f"no query (?) or fragment (#): {form}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise refuse(f"bad port: {form}") from None
    if not parts.hostname:
        raise refuse(f"no host: {form}")
    return url


def prompt_size(value: str) -> int:
    """The prompt's size as stored: UTF-8 bytes, a character JSON escapes counting 2."""
    return len(_utf8("system-prompt", value)) + sum(char in _JSON_ESCAPED for char in value)


def validate_system_prompt(value: str) -> str:
    """A system message: some text, at most SYSTEM_PROMPT_MAX_BYTES as stored, no control
    characters but newlines, carriage returns and tabs. Kept exactly as given."""
    prompt = _text("system-prompt", value)
    if not prompt.strip():
        raise InvalidSetting(
            "system-prompt",
            "empty or only whitespace: give some text (to have no system prompt, leave the "
            "option out, or run `up --reset system-prompt`)",
        )
    size = prompt_size(prompt)
    if size > SYSTEM_PROMPT_MAX_BYTES:
        raise InvalidSetting(
            "system-prompt",
            f"{size} bytes; at most {SYSTEM_PROMPT_MAX_BYTES} (UTF-8; a newline, tab, quote or "
            "backslash counts 2)",
        )
    for char in prompt:
        if unicodedata.category(char) == "Cc" and char not in "\n\r\t":
            raise InvalidSetting(
                "system-prompt",
                f"control character {char!r} at position {prompt.index(char)}: only "
                "newlines, carriage returns and tabs are allowed",
            )
    if _SSM_REFERENCE_RE.search(prompt):
        raise InvalidSetting(
            "system-prompt",
            "'{{...}}' is not allowed: SSM Parameter Store, where the settings are kept, "
            "refuses values that contain it",
        )
    return prompt


# A host name as DNS and ACM take it: labels of letters, digits and inner hyphens, a
# top-level label of letters (or an IDN's "xn--" form), 253 characters at most.
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TLD_RE = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
DOMAIN_MAX = 253


def validate_domain(value: str) -> str:
    """A host name for the website ("chat.example.com"): lowercased, no scheme, port, path,
    trailing dot or wildcard; at least two labels."""
    domain = _text("domain", value).strip().lower()
    form = "expected a host name such as chat.example.com (no https://, port or path)"
    if not domain:
        raise InvalidSetting("domain", f"empty: {form}")
    shown = _shown(domain)
    if len(domain) > DOMAIN_MAX:
        raise InvalidSetting("domain", f"{len(domain)} characters; at most {DOMAIN_MAX}")
    labels = domain.split(".")
    if (
        len(labels) < 2
        or not all(_LABEL_RE.fullmatch(label) for label in labels)
        or not _TLD_RE.fullmatch(labels[-1])
    ):
        raise InvalidSetting("domain", f"{shown}: {form}")
    return domain


def validate_cdn(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidSetting("cdn", f"{_shown(value)}: on (true) or off (false)")


def _or_list(values: Iterable[Any]) -> str:
    items = [str(value) for value in values]
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)


def validate_log_retention(value: int) -> int:
    """One of the retentions CloudWatch Logs offers (LOG_RETENTION_DAYS)."""
    if isinstance(value, int) and not isinstance(value, bool) and value in LOG_RETENTION_DAYS:
        return value
    raise InvalidSetting(
        "log-retention",
        f"{_shown(value)}: CloudWatch Logs keeps logs {_or_list(LOG_RETENTION_DAYS)} days",
    )


def validate_arch(value: str) -> str:
    """A CPU architecture Lambda offers (ARCHITECTURES)."""
    for arch in ARCHITECTURES:
        if value == arch:
            return arch
    raise InvalidSetting("arch", f"{_shown(value)}: the functions run on {_or_list(ARCHITECTURES)}")


@dataclass(frozen=True)
class Settings:
    models: tuple[str, ...] = (DEFAULT_MODEL,)  # offered; the first is the default
    openai_base_url: str | None = None
    system_prompt: str | None = None
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    arch: str = DEFAULT_ARCH
    cdn: bool = True  # CloudFront in front (HTTPS, one origin); False: the S3 website (HTTP)
    domain: str | None = None  # the website's own name (needs the CDN)

    def __post_init__(self) -> None:
        if self.domain is not None and not self.cdn:
            raise InvalidSetting(
                "domain",
                f"{self.domain} needs the CDN (HTTPS through CloudFront); give --cdn, or "
                "--reset domain to keep the plain S3 website",
            )

    @property
    def model(self) -> str:
        """The default model: the first offered."""
        return self.models[0]

    def app_config(self) -> AppConfig:
        return AppConfig(
            models=self.models,
            openai_base_url=self.openai_base_url,
            system_prompt=self.system_prompt,
        )

    def as_dict(self) -> dict[str, Any]:
        """Keyed by each setting's CLI name (as stored, and as `status --json` shows)."""
        return {setting.name: _stored_value(getattr(self, setting.field)) for setting in SETTINGS}


def _stored_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_DEFAULTS = {item.name: item.default for item in fields(Settings)}
_ABSENT: dict[str, Any] = {"cdn": False}


@dataclass(frozen=True)
class Setting:
    """One setting: its Settings attribute, CLI name (the flag is --NAME, and --reset takes
    NAME), help, and validation (returns the normalised value or raises InvalidSetting)."""

    field: str
    name: str
    help: str
    validate: Callable[[Any], Any]

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def default(self) -> Any:
        return _DEFAULTS[self.field]

    @property
    def absent(self) -> Any:
        """The value when stored settings lack it: stacks stored before the setting
        existed keep what they had then (the CDN came later: they were S3 websites)."""
        return _ABSENT.get(self.field, self.default)

    @property
    def optional(self) -> bool:
        """None (unset) is a valid value: the default is None."""
        return self.default is None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "models",
        "model",
        "A model the chatbot offers (repeatable; the first is the default, the web app lets "
        f"people choose among them; default: {DEFAULT_MODEL}).",
        validate_models,
    ),
    Setting(
        "openai_base_url",
        "openai-base-url",
        "Any OpenAI-compatible endpoint (Azure OpenAI, vLLM, Ollama ...); default: OpenAI's.",
        validate_base_url,
    ),
    Setting(
        "system_prompt",
        "system-prompt",
        f"A system message put before every conversation (at most {SYSTEM_PROMPT_MAX_BYTES} "
        "bytes; default: none).",
        validate_system_prompt,
    ),
    Setting(
        "log_retention_days",
        "log-retention",
        f"Days CloudWatch keeps the functions' logs: {_or_list(LOG_RETENTION_DAYS)} "
        f"(default: {DEFAULT_LOG_RETENTION_DAYS}).",
        validate_log_retention,
    ),
    Setting(
        "arch",
        "arch",
        f"CPU architecture of the functions: {_or_list(ARCHITECTURES)} (default: {DEFAULT_ARCH}).",
        validate_arch,
    ),
    Setting(
        "cdn",
        "cdn",
        "Serve the website through CloudFront: HTTPS, security headers, and the API and "
        "WebSocket on the same origin (default). --no-cdn serves the tutorial's S3 website "
        "over plain HTTP instead.",
        validate_cdn,
    ),
    Setting(
        "domain",
        "domain",
        "The website's own domain (chat.example.com): a certificate for it in ACM (us-east-1, "
        "validated by DNS) and its records in Route 53 when the account hosts the zone, "
        "else printed to create (default: CloudFront's *.cloudfront.net name).",
        validate_domain,
    ),
)
NAMES: tuple[str, ...] = tuple(setting.name for setting in SETTINGS)
_BY_KEY: dict[str, Setting] = {key: s for s in SETTINGS for key in (s.name, s.field)}


def setting(name: str) -> Setting:
    """The setting called `name` ("openai-base-url"; "--openai-base-url" and the attribute
    name "openai_base_url" are accepted too), else InvalidSetting listing the names."""
    found = _BY_KEY.get(name.strip().removeprefix("--"))
    if found is None:
        raise InvalidSetting("reset", f"unknown setting {_shown(name)}: one of {', '.join(NAMES)}")
    return found


def validate_reset(names: Iterable[str]) -> list[str]:
    """The CLI names of the settings to reset, each once, in the order given."""
    result: list[str] = []
    for name in names:
        found = setting(name).name
        if found not in result:
            result.append(found)
    return result


def apply(current: Settings, given: Mapping[str, Any], reset: Iterable[str] = ()) -> Settings:
    """`current` changed by the flags the user gave: `given` maps a CLI name to its raw value
    (None = not given, ignored); `reset` names settings to put back to their default.
    Every given value is validated (InvalidSetting); naming a setting both ways is refused."""
    to_reset = validate_reset(reset)
    updates: dict[str, Any] = {}
    for key, raw in given.items():
        if raw is None:
            continue
        found = _BY_KEY.get(key.removeprefix("--"))
        if found is None:  # a caller's mistake, not the user's
            raise ValueError(f"unknown setting {key!r}: one of {', '.join(NAMES)}")
        if found.name in to_reset:
            raise InvalidSetting(
                "reset",
                f"{found.flag} and --reset {found.name} contradict each other: give one of them",
            )
        updates[found.field] = found.validate(raw)
    for name in to_reset:
        updates[setting(name).field] = setting(name).default
    return replace(current, **updates)


@dataclass(frozen=True)
class Change:
    name: str  # CLI name
    old: Any
    new: Any

    def describe(self) -> str:
        """One short line: "model: gpt-4o-mini → gpt-4.1"."""
        return f"{self.name}: {_describe(self.name, self.old)} → {_describe(self.name, self.new)}"


PROMPT_SHOWN = 40


def _describe(name: str, value: Any) -> str:
    if value is None:
        return "(default: none)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if name == "system-prompt":  # free text: quoted, on one line, long ones shortened
        flat = " ".join(str(value).split())
        if len(flat) <= PROMPT_SHOWN:
            return json.dumps(flat, ensure_ascii=False)
        return json.dumps(flat[:PROMPT_SHOWN] + "…", ensure_ascii=False) + (
            f" ({len(value)} characters)"
        )
    if name == "log-retention":
        return f"{value} days"
    if isinstance(value, (list, tuple)):  # the models: "gpt-4o-mini, gpt-4.1"
        return ", ".join(_describe(name, item) for item in value)
    return _shown(value, 80) if len(str(value)) > 80 else str(value)


def shown(name: str, value: Any) -> str:
    """A setting's value as `status` shows it (the models as "gpt-4o-mini, gpt-4.1")."""
    if value is None:
        return "(default: none)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def changes(old: Settings, new: Settings) -> list[Change]:
    """The settings that differ, in SETTINGS order."""
    return [
        Change(item.name, getattr(old, item.field), getattr(new, item.field))
        for item in SETTINGS
        if getattr(old, item.field) != getattr(new, item.field)
    ]


def to_json(settings: Settings) -> str:
    """Compact, sorted keys, every setting written (a default too: a later version of this
    tool with another default leaves an existing stack as it is)."""
    document = {"version": SETTINGS_VERSION, **settings.as_dict()}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def from_json(
    text: str, *, source: str = "the stored settings", replacing: Iterable[str] = ()
) -> Settings:
    """Parse stored settings, tolerantly: unknown keys are ignored (a newer version's
    additions), missing keys take their default. A stored value that is not valid any more
    is a UserError naming it and saying how to fix it, unless its setting is in `replacing`
    (given or reset in this run: the stored value is about to be replaced anyway)."""
    skipped = set(validate_reset(replacing))
    damaged = (
        f"{source} are damaged: delete the parameter (the settings go back to their "
        "defaults) and run `chatbot-deploy up` with the settings you want"
    )
    try:
        document = json.loads(text)
    except ValueError:
        raise UserError(f"{damaged} (not JSON)") from None
    if not isinstance(document, dict):
        raise UserError(f"{damaged} (not a JSON object)")
    version = document.get("version", SETTINGS_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserError(f"{damaged} (version {_shown(version)})")
    if version > SETTINGS_VERSION:
        raise UserError(
            f"{source} were written by a newer chatbot-deploy (settings version {version}, "
            f"this one knows {SETTINGS_VERSION}): upgrade chatbot-deploy"
        )
    values: dict[str, Any] = {}
    for item in SETTINGS:
        if item.name not in document:
            if item.absent != item.default:
                values[item.field] = item.absent
            continue
        value = document[item.name]
        if value is None and item.optional:
            values[item.field] = None
            continue
        try:
            values[item.field] = item.validate(value)
        except InvalidSetting as exc:
            if item.name in skipped:  # about to be replaced: the old value is not needed
                continue
            raise UserError(
                f"{source} hold an invalid {item.name} ({exc.reason}): set it with "
                f"`chatbot-deploy up {item.flag} VALUE`, or put back the default with "
                f"`chatbot-deploy up --reset {item.name}`"
            ) from exc
    try:
        return Settings(**values)
    except InvalidSetting as exc:  # settings that contradict each other
        raise UserError(f"{damaged} ({exc})") from None


def _description(names: StackNames) -> str:
    return (
        f"chatbot-deploy settings of stack {names.stack} (model, base URL, system prompt ...): "
        "change them with `chatbot-deploy up`"
    )


def _source(names: StackNames) -> str:
    return f"the settings of stack {names.stack!r} (SSM parameter {names.settings_param})"


def _stored(ssm: Any, names: StackNames) -> str | None:
    try:
        response = ssm.get_parameter(Name=names.settings_param)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            return None
        raise
    return str(response["Parameter"]["Value"])


def load(ssm: Any, names: StackNames, *, replacing: Iterable[str] = ()) -> Settings | None:
    """The stack's stored settings; None when it has none yet (a new stack, or one deployed
    before settings were stored). `replacing`: see from_json (pass the names given or reset
    in this run, so `up --reset NAME` repairs a damaged stored value)."""
    text = _stored(ssm, names)
    if text is None:
        return None
    return from_json(text, source=_source(names), replacing=replacing)


def save(ssm: Any, names: StackNames, settings: Settings) -> bool:
    """Store `settings` unless they are what is stored already (read first: a no-op `up`
    makes no write). Created as a tagged Standard String parameter (not a secret);
    overwritten without tags (SSM refuses Tags with Overwrite). True if written."""
    text = to_json(settings)
    stored = _stored(ssm, names)
    if stored is not None:
        if stored == text:
            return False
        try:
            if from_json(stored) == settings:  # same settings, written differently
                return False
        except UserError:
            pass  # damaged: the new, valid settings replace it
    common = {
        "Name": names.settings_param,
        "Value": text,
        "Type": "String",
        "Tier": "Standard",
        "Description": _description(names),
    }
    if stored is None:
        try:
            ssm.put_parameter(
                **common, Tags=[{"Key": key, "Value": val} for key, val in names.tags.items()]
            )
            return True
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "ParameterAlreadyExists":  # made since we looked
                raise
    ssm.put_parameter(**common, Overwrite=True)
    return True
