"""Where the shipped parts live, in a checkout and in an installed package alike."""

from __future__ import annotations

from pathlib import Path

import chatbot_lambda

PACKAGE_DIR = Path(__file__).resolve().parent
LAMBDA_PACKAGE_DIR = Path(chatbot_lambda.__file__).resolve().parent
# In a checkout, the repository root holds frontend/; an installed wheel carries the built
# web app inside the package (see hatch_build.py).
_CHECKOUT_ROOT = PACKAGE_DIR.parent
PACKAGED_WEB_DIR = PACKAGE_DIR / "web"
CHECKOUT_FRONTEND_DIR = _CHECKOUT_ROOT / "frontend"


def lambda_requirements() -> Path:
    """The locked requirements of the Lambda dependency layer."""
    packaged = LAMBDA_PACKAGE_DIR / "requirements.txt"
    if packaged.exists():
        return packaged
    return LAMBDA_PACKAGE_DIR.parent / "requirements.txt"


def frontend_source() -> Path | None:
    """The web app's sources, when running from a checkout (None in an installed package)."""
    if (CHECKOUT_FRONTEND_DIR / "package.json").exists():
        return CHECKOUT_FRONTEND_DIR
    return None


def web_dist() -> Path | None:
    """The built web app: the checkout's frontend/dist, else the copy shipped in the package."""
    for candidate in (CHECKOUT_FRONTEND_DIR / "dist", PACKAGED_WEB_DIR):
        if (candidate / "index.html").exists():
            return candidate
    return None
