"""The security headers the website is served with: by CloudFront's response headers policy
(deploy/headers_policy.py) and by `local`, from this one definition.

The Content-Security-Policy starts from the one the web app's build puts in index.html (a
`<meta>`, frontend/vite.config.ts: the app's single source for it) and tightens it for a site
whose API and WebSocket are on its own origin: `connect-src 'self'` (which covers ws: and
wss: on the page's host), and `frame-ancestors 'none'`, which only a header can say.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from chatbot_deploy.errors import UserError

HSTS_MAX_AGE_S = 31_536_000  # one year; no includeSubDomains: a --domain's siblings are not ours
REFERRER_POLICY = "no-referrer"
FRAME_OPTIONS = "DENY"
SAME_ORIGIN_DIRECTIVES = {"connect-src": "'self'", "frame-ancestors": "'none'"}


class _MetaCsp(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.policy: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta" and (values.get("http-equiv") or "").lower() == (
            "content-security-policy"
        ):
            self.policy = self.policy or values.get("content")


def build_csp(dist: Path) -> str:
    """The Content-Security-Policy of the built web app in `dist` (its index.html's meta)."""
    parser = _MetaCsp()
    try:
        parser.feed((dist / "index.html").read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read the web app's index.html in {dist}: {exc}") from exc
    if not parser.policy:
        raise UserError(f"the web app in {dist} has no Content-Security-Policy (rebuild it)")
    return parser.policy


def same_origin_csp(build_policy: str) -> str:
    """`build_policy` with the same-origin directives replacing or adding theirs."""
    directives: dict[str, str] = {}
    for part in build_policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name.lower()] = value.strip()
    directives.update(SAME_ORIGIN_DIRECTIVES)
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


def security_headers(build_policy: str, *, https: bool) -> dict[str, str]:
    """Header name (lowercase) → value. HSTS only over HTTPS (browsers ignore it otherwise)."""
    headers = {
        "content-security-policy": same_origin_csp(build_policy),
        "x-frame-options": FRAME_OPTIONS,
        "x-content-type-options": "nosniff",
        "referrer-policy": REFERRER_POLICY,
    }
    if https:
        headers["strict-transport-security"] = f"max-age={HSTS_MAX_AGE_S}"
    return headers
