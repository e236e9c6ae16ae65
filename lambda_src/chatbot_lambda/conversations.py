"""Each user's conversations, kept on the server in one DynamoDB table.

The table (`app_spec.TABLES["conversations"]`) is keyed by the user (hash key ``user``, the
token's username) and a string sort key ``id``; every read is a GetItem or a Query on the
signed-in user's own partition, so no request can reach another user's items. Items:

- a conversation: ``id = "c#<conversation id>"``, with ``title``, ``model``,
  ``created_at`` and ``updated_at`` (epoch ms) and ``next_seq`` (the number its next message
  gets). Only these items have ``updated_at``, so the sparse local index ``by-activity``
  lists a user's conversations most recently active first, without their messages.
- a message: ``id = "m#<conversation id>#<seq, 6 digits>#<part, 3 digits>"`` with ``role``
  and ``content``. A message is one item unless its text is over ``PART_BYTES`` in UTF-8: it
  is then cut into parts, read back in order and joined. That is how DynamoDB's 400 KB item
  limit is kept whatever the length of an answer.
- a running answer: ``id = "s#<connection id>#<request id>"`` with ``stop`` (set by the
  ``stop`` action) and ``expires_at`` (DynamoDB's TTL removes what a crashed function left).

Conversation ids sort by creation time (12 hex digits of epoch ms, then 16 random hex).
"""

from __future__ import annotations

KEY = "user"
RANGE_KEY = "id"
ACTIVITY_INDEX = "by-activity"
ACTIVITY_ATTRIBUTE = "updated_at"
EXPIRES_ATTRIBUTE = "expires_at"

CONVERSATION_PREFIX = "c#"
MESSAGE_PREFIX = "m#"
STREAM_PREFIX = "s#"
# A message's text per item; with the other attributes an item stays far below 400 KB.
PART_BYTES = 300_000
