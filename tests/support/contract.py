"""docs/api.md read as data: each route's documented statuses and bodies.

The contract tests check every answer they get from `local` against these rows, so a change
of behaviour that the page does not describe fails; the web app's tests read the same page
(frontend/test/contract.test.ts).

Rules for reading a status table's body cell (the text between its first pair of backticks):
- a cell may hold several bodies, each in backticks: any of them matches;
- a 200 row, or a cell that says "as above" (the example JSON block before the table), is an
  example: an answer matches when it has the same keys (nested objects: a subset of them,
  e.g. an empty ``usage``) and values of the same JSON types (a ``null`` stands for a
  value that may be missing: null or a string, e.g. the list's ``next`` cursor);
- any other row is a template: strings must be equal, except ``"..."`` (any string) and a
  string ending in ``...`` (that prefix, then anything).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROUTE_HEADING = re.compile(r"^## `(GET|POST|PATCH|DELETE) (/\S*)`")
ROW = re.compile(r"^\| (\d{3}) \| (.*?) \| (.*) \|$")
JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


@dataclass(frozen=True, eq=False)
class Row:
    status: int
    body: Any  # the documented JSON
    example: bool  # True: compare shapes; False: a template
    when: str


def routes(text: str | None = None) -> dict[str, list[Row]]:
    """{"POST /login": [Row, ...], ...} from the page's status tables."""
    text = API_MD.read_text() if text is None else text
    found: dict[str, list[Row]] = {}
    sections = re.split(r"(?m)^(?=## )", text)
    for section in sections:
        heading = ROUTE_HEADING.match(section)
        if not heading:
            continue
        route = f"{heading.group(1)} {heading.group(2)}"
        examples = [json.loads(block) for block in JSON_BLOCK.findall(section)]
        rows = []
        for line in section.splitlines():
            match = ROW.match(line)
            if not match:
                continue
            status, cell, when = int(match.group(1)), match.group(2), match.group(3)
            literals = re.findall(r"`([^`]*)`", cell)
            if "as above" in cell or not literals:
                rows.append(Row(status, examples[-1], True, when))
            # A cell may give alternatives: `{"error": ...}` or `{"message": ...}`.
            rows.extend(Row(status, json.loads(x), status == 200, when) for x in literals)
        found[route] = rows
    return found


def _same_shape(doc: Any, actual: Any, top: bool = True) -> bool:
    if isinstance(doc, dict):
        if not isinstance(actual, dict):
            return False
        if set(actual) != set(doc) if top else not set(actual) <= set(doc):
            return False
        return all(_same_shape(doc[key], actual[key], top=False) for key in actual)
    if doc is None:
        return actual is None or isinstance(actual, str)
    if isinstance(doc, bool) or isinstance(actual, bool):
        return type(doc) is type(actual)
    if isinstance(doc, int | float):
        return isinstance(actual, int | float)
    return type(doc) is type(actual)


def _fits(template: Any, actual: Any) -> bool:
    if isinstance(template, dict):
        return (
            isinstance(actual, dict)
            and set(actual) == set(template)
            and all(_fits(template[key], actual[key]) for key in template)
        )
    if isinstance(template, str) and template.endswith("..."):
        prefix = template.removesuffix("...").rstrip()
        return isinstance(actual, str) and actual.startswith(prefix)
    return bool(template == actual)


def route_of(method: str, target: str) -> str | None:
    """The documented route (``"GET /conversations/{id}"``) a request goes to, or None: a
    ``{name}`` of the page's paths matches one whole segment; the query is not compared."""
    given = target.split("?", 1)[0].split("/")
    for route in ROUTES:
        route_method, _, path = route.partition(" ")
        wanted = path.split("/")
        if route_method != method or len(wanted) != len(given):
            continue
        if all(
            part == value or (part.startswith("{") and part.endswith("}") and value != "")
            for part, value in zip(wanted, given, strict=True)
        ):
            return route
    return None


def documented(route: str, status: int, body: bytes) -> Row | None:
    """The row of docs/api.md that describes this answer, or None."""
    try:
        actual = json.loads(body)
    except ValueError:
        return None
    for row in ROUTES.get(route, []):
        if row.status != status:
            continue
        if (_same_shape if row.example else _fits)(row.body, actual):
            return row
    return None


ROUTES = routes()
