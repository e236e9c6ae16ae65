"""A log event, the `--since` syntax, and the folding of Lambda's platform lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

SINCE_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SINCE_RE = re.compile(r"(\d+)\s*([smhdw])")
# CloudWatch Logs keeps events at most 3,653 days (its longest retention): further back there
# is nothing to read, and a window past 1970 is refused by the API itself.
MAX_SINCE_DAYS = 3653


@dataclass(frozen=True)
class LogEvent:
    """One CloudWatch Logs event of one function."""

    timestamp: int  # milliseconds since the epoch
    kind: str  # function kind: login, chat, authorizer
    message: str
    stream: str = ""
    event_id: str | None = None


def parse_since(text: str) -> int:
    """``10m``, ``2h``, ``1d`` (also ``s`` and ``w``) as a number of milliseconds."""
    match = _SINCE_RE.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit, like 30s, 10m, 2h, 1d or 1w"
        )
    seconds = int(match.group(1)) * SINCE_UNITS_S[match.group(2)]
    if seconds > MAX_SINCE_DAYS * 86400:
        raise ValueError(
            f"{text!r} is too far back: CloudWatch Logs keeps events at most "
            f"{MAX_SINCE_DAYS} days ({MAX_SINCE_DAYS}d)"
        )
    return seconds * 1000


# Lambda's platform lines (text log format).
_HIDDEN_PREFIXES = ("START RequestId: ", "END RequestId: ", "INIT_START ")
_REPORT_RE = re.compile(
    r"REPORT RequestId: \S+\s+Duration: (?P<duration>[\d.]+) ms\s+"
    r"Billed Duration: [\d.]+ ms\s+Memory Size: (?P<size>\d+) MB\s+"
    r"Max Memory Used: (?P<used>\d+) MB"
    r"(?:\s+Init Duration: (?P<init>[\d.]+) ms)?"
    r"(?:.*?Status: (?P<status>\w+))?"
)
# The Python runtime's logging format: "[LEVEL]\t<ISO time>\t<request id>\t<message>".
_PYTHON_LOG_RE = re.compile(r"\[(?P<level>[A-Z]+)\]\t\S+Z\t[0-9a-f-]{36}\t(?P<text>.*)", re.DOTALL)


def fold(message: str) -> str | None:
    """What to show of a message when not --verbose: None hides it (START, END,
    INIT_START), a REPORT line becomes a short summary, runtime prefixes are trimmed."""
    text = message.rstrip("\n").replace("\r", "\n")
    if text.startswith(_HIDDEN_PREFIXES):
        return None
    report = _REPORT_RE.match(text)
    if report:
        parts = [
            f"done in {report['duration']} ms",
            f"{report['used']}/{report['size']} MB",
        ]
        if report["init"]:
            parts.append(f"cold start {report['init']} ms")
        if report["status"] and report["status"] != "success":
            parts.append(report["status"])
        return " · ".join(parts)
    runtime = _PYTHON_LOG_RE.fullmatch(text)
    if runtime:
        return f"{runtime['level']} {runtime['text']}"
    return text


def is_report(message: str) -> bool:
    return _REPORT_RE.match(message) is not None
