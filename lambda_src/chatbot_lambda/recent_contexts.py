"""The contexts of the conversations a container answered last.

A conversation's next turn often reaches the container that answered the one before. Its
header is read anyway (GetItem); when its revision is the one this container saw after
storing its last answer, nobody changed its messages since, and the context is taken from
here instead of a Query of its newest messages. Any other revision (another device wrote,
an edit truncated) reads the table as usual. Bounded: the last MAX_CONVERSATIONS used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from chatbot_lambda.conversations import Message

MAX_CONVERSATIONS = 32

_contexts: OrderedDict[tuple[str, str], tuple[int, tuple[Message, ...]]] = OrderedDict()
_lock = threading.Lock()


def get(user: str, conversation_id: str, revision: int) -> list[Message] | None:
    """The context kept for that conversation at exactly ``revision``, else None."""
    with _lock:
        kept = _contexts.get((user, conversation_id))
        if kept is None or kept[0] != revision:
            return None
        _contexts.move_to_end((user, conversation_id))
        return list(kept[1])


def put(user: str, conversation_id: str, revision: int, messages: list[Message]) -> None:
    with _lock:
        _contexts[(user, conversation_id)] = (revision, tuple(messages))
        _contexts.move_to_end((user, conversation_id))
        while len(_contexts) > MAX_CONVERSATIONS:
            _contexts.popitem(last=False)


def forget(user: str, conversation_id: str) -> None:
    with _lock:
        _contexts.pop((user, conversation_id), None)


def reset() -> None:
    """Forget everything (a new container; for `local` and tests)."""
    with _lock:
        _contexts.clear()
