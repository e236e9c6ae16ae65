// Past conversations, kept in this browser (localStorage), one list per user, newest first.
// Pure functions over plain data plus a small load/save pair, so the logic is testable.
import type { ChatMessage } from "./api";

export interface StoredMessage {
  role: "user" | "assistant";
  content: string;
  /** Unix milliseconds. */
  at: number;
  /** The model that wrote an assistant message. */
  model?: string;
}

export interface Conversation {
  id: string;
  title: string;
  messages: StoredMessage[];
  createdAt: number;
  updatedAt: number;
}

// The API's limits (docs/api.md, lambda_src/chatbot_lambda/validation.py).
export const MAX_MESSAGES = 100;
export const MAX_MESSAGE_CHARS = 32_000;
export const MAX_TOTAL_CHARS = 100_000;
export const MAX_BODY_BYTES = 256 * 1024;
export const TITLE_CHARS = 60;

const KEY_PREFIX = "chatbot-deploy:conversations:";

export function storageKey(username: string): string {
  return KEY_PREFIX + username;
}

/** A random id; crypto.randomUUID needs a secure context and S3 websites are plain HTTP. */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function titleFor(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  if (line === "") return "New chat";
  if (line.length <= TITLE_CHARS) return line;
  return line.slice(0, TITLE_CHARS - 1).trimEnd() + "…";
}

export function newConversation(firstMessage: string, now: number = Date.now()): Conversation {
  return {
    id: newId(),
    title: titleFor(firstMessage),
    messages: [{ role: "user", content: firstMessage, at: now }],
    createdAt: now,
    updatedAt: now,
  };
}

export function appendMessage(conversation: Conversation, message: StoredMessage): Conversation {
  return {
    ...conversation,
    messages: [...conversation.messages, message],
    updatedAt: message.at,
  };
}

/** The conversation waits for an answer to its last (user) message. */
export function awaitsAnswer(conversation: Conversation): boolean {
  return conversation.messages.at(-1)?.role === "user";
}

const utf8 = new TextEncoder();
const EMPTY_BODY_BYTES = '{"messages":[]}'.length;

/** Bytes a message adds to the JSON request body (with its comma). */
function encodedBytes(message: ChatMessage): number {
  return utf8.encode(JSON.stringify(message)).length + 1;
}

/**
 * The context sent with a request: the whole conversation, or, when it has outgrown the
 * API's limits (message count, characters, body bytes), its most recent messages that fit
 * (a message never gets cut in half).
 */
export function contextFor(messages: readonly StoredMessage[]): ChatMessage[] {
  const picked: ChatMessage[] = [];
  let chars = 0;
  let bytes = EMPTY_BODY_BYTES;
  for (let i = messages.length - 1; i >= 0 && picked.length < MAX_MESSAGES; i--) {
    const { role, content } = messages[i]!;
    const message: ChatMessage = { role, content };
    if (content.length > MAX_MESSAGE_CHARS) break;
    if (chars + content.length > MAX_TOTAL_CHARS) break;
    const size = encodedBytes(message);
    if (bytes + size > MAX_BODY_BYTES) break;
    chars += content.length;
    bytes += size;
    picked.push(message);
  }
  picked.reverse();
  // The API refuses a context that does not end with the user's message.
  return picked.length > 0 && picked.at(-1)!.role === "user" ? picked : [];
}

/** Put a conversation first (it was just used), replacing its older copy. */
export function upsert(list: readonly Conversation[], conversation: Conversation): Conversation[] {
  return [conversation, ...list.filter((c) => c.id !== conversation.id)];
}

export function remove(list: readonly Conversation[], id: string): Conversation[] {
  return list.filter((c) => c.id !== id);
}

function isMessage(value: unknown): value is StoredMessage {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    (v.role === "user" || v.role === "assistant") &&
    typeof v.content === "string" &&
    typeof v.at === "number"
  );
}

function isConversation(value: unknown): value is Conversation {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === "string" &&
    typeof v.title === "string" &&
    typeof v.createdAt === "number" &&
    typeof v.updatedAt === "number" &&
    Array.isArray(v.messages) &&
    v.messages.every(isMessage)
  );
}

export function loadConversations(storage: Storage, username: string): Conversation[] {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(storageKey(username)) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter(isConversation) : [];
  } catch {
    return [];
  }
}

/** Forget a user's conversations in this browser (on sign-out); other users' stay. */
export function forgetConversations(storage: Storage, username: string): void {
  storage.removeItem(storageKey(username));
}

/**
 * Save the list; when the browser's storage is full, drop the oldest conversations (never
 * the first, the one in use) until it fits. Returns what was actually kept.
 */
export function saveConversations(
  storage: Storage,
  username: string,
  list: readonly Conversation[],
): Conversation[] {
  let kept = [...list];
  for (;;) {
    try {
      storage.setItem(storageKey(username), JSON.stringify(kept));
      return kept;
    } catch {
      if (kept.length <= 1) return kept;
      kept = kept.slice(0, -1);
    }
  }
}
