// Which model the next answer is asked of (docs/api.md: config.json's `models`, `model` on
// `send` and `regenerate`): the one picked for new chats (the default at first), and for a
// conversation its own model, or another picked there and not yet sent. Once sent, the
// `started` frame's conversation says which model it has now (the server answers with the
// default instead of a model no longer offered).
import { useState } from "preact/hooks";

import type { ConversationSummary } from "./api";
import type { Ask } from "./socket";

export interface ModelChoice {
  /** The model shown (null: config.json lists none, no picker). */
  value: string | null;
  /** The person picked `model` here (the open conversation, or new chats). */
  pick(model: string): void;
  /** `ask` with the model shown when this chatbot offers it (else without: the server
   * answers with the conversation's model, or the default). */
  withModel(ask: Ask): Ask;
  /** `started` for a request that asked `asked`: the conversation's model is now its own. */
  started(conversationId: string, asked: string | undefined): void;
}

export function useModelChoice(
  models: readonly string[],
  conversationId: string | null,
  /** The open conversation as last read (or listed), if known. */
  conversation: ConversationSummary | undefined,
): ModelChoice {
  const [forNewChats, setForNewChats] = useState<string | null>(models[0] ?? null);
  /** Models picked in conversations and not yet sent. */
  const [picked, setPicked] = useState<Readonly<Record<string, string>>>({});

  const value = conversationId
    ? (picked[conversationId] ?? conversation?.model ?? forNewChats)
    : forNewChats;

  return {
    value,
    pick(model) {
      if (conversationId) setPicked((before) => ({ ...before, [conversationId]: model }));
      else setForNewChats(model);
    },
    withModel(ask) {
      const { model: _before, ...rest } = ask;
      return value !== null && models.includes(value) ? { ...rest, model: value } : rest;
    },
    started(id, asked) {
      // A pick made there since the request was sent stays.
      setPicked((before) => {
        if (before[id] === undefined || before[id] !== asked) return before;
        const { [id]: _sent, ...rest } = before;
        return rest;
      });
    },
  };
}
