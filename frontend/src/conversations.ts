// Conversations are kept on the server (docs/api.md, "Conversations"). This browser keeps at
// most a cache of them per user, so the list and the last few conversations show at once
// while the server is asked again: bounded (CACHE_LIST entries of the list, CACHE_OPENED
// conversations, CACHE_CHARS in all), dropped first when storage is full, forgotten on
// sign-out. It is never the source of truth: what the server answers replaces it.
import { type ConversationSummary, type OpenedConversation, isObject, isSummary } from "./api";

// The API's limit on a message's content (docs/api.md, "Client messages").
export const MAX_MESSAGE_CHARS = 32_000;
export const TITLE_CHARS = 80;

export const CACHE_LIST = 50;
export const CACHE_OPENED = 10;
export const CACHE_CHARS = 1_000_000;

const CACHE_PREFIX = "chatbot-deploy:cache:";
/** Where the app kept conversations before they moved to the server (removed on sign-out
 * like the cache; never read). */
const LEGACY_PREFIX = "chatbot-deploy:conversations:";

export interface Cache {
  list: ConversationSummary[];
  /** The most recently opened conversations, most recent first. */
  opened: OpenedConversation[];
}

export const EMPTY_CACHE: Cache = { list: [], opened: [] };

export function cacheKey(username: string): string {
  return CACHE_PREFIX + username;
}

/** What a new chat is called until the server names it (the server: its first 80
 * characters). */
export function titleFor(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  if (line === "") return "New chat";
  if (line.length <= TITLE_CHARS) return line;
  return line.slice(0, TITLE_CHARS - 1).trimEnd() + "…";
}

/** Put a conversation first (it was just active), replacing its older copy. */
export function upsert(
  list: readonly ConversationSummary[],
  conversation: ConversationSummary,
): ConversationSummary[] {
  return [conversation, ...list.filter((c) => c.id !== conversation.id)];
}

/** Replace a conversation where it is (renamed: not activity, its place stays). */
export function replace(
  list: readonly ConversationSummary[],
  conversation: ConversationSummary,
): ConversationSummary[] {
  return list.map((c) => (c.id === conversation.id ? conversation : c));
}

export function remove<T extends { id: string }>(list: readonly T[], id: string): T[] {
  return list.filter((c) => c.id !== id);
}

/** Add a further page of the list (entries already shown stay once). */
export function appendPage(
  list: readonly ConversationSummary[],
  page: readonly ConversationSummary[],
): ConversationSummary[] {
  const seen = new Set(list.map((c) => c.id));
  return [...list, ...page.filter((c) => !seen.has(c.id))];
}

/** The first page read again: its conversations first, in its order, then those shown that
 * are older than all of it (from further pages). One shown that the page lacks though it is
 * newer than the page's oldest was deleted elsewhere: it goes. */
export function mergeFirstPage(
  list: readonly ConversationSummary[],
  page: readonly ConversationSummary[],
): ConversationSummary[] {
  const oldest = page.at(-1);
  if (!oldest) return []; // none at all
  const fresh = new Set(page.map((c) => c.id));
  return [...page, ...list.filter((c) => !fresh.has(c.id) && c.updated_at < oldest.updated_at)];
}

/** A cached conversation, or null. One cached by an app from before `earlier` (it read every
 * message then) has none older than those kept. */
function toOpened(value: unknown): OpenedConversation | null {
  if (
    !isObject(value) ||
    !isSummary(value.conversation) ||
    !Array.isArray(value.messages) ||
    !value.messages.every(
      (m) =>
        isObject(m) &&
        typeof m.seq === "number" &&
        (m.role === "user" || m.role === "assistant") &&
        typeof m.content === "string",
    )
  ) {
    return null;
  }
  const earlier = typeof value.earlier === "string" && value.earlier !== "" ? value.earlier : null;
  return { conversation: value.conversation, messages: value.messages, earlier };
}

export function loadCache(storage: Storage, username: string): Cache {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(cacheKey(username)) ?? "null");
    if (!isObject(parsed)) return EMPTY_CACHE;
    return {
      list: Array.isArray(parsed.list) ? parsed.list.filter(isSummary) : [],
      opened: Array.isArray(parsed.opened)
        ? parsed.opened.flatMap((o) => toOpened(o) ?? [])
        : [],
    };
  } catch {
    return EMPTY_CACHE;
  }
}

/** The cache with `opened` as the most recent conversation. */
export function withOpened(cache: Cache, opened: OpenedConversation): Cache {
  return {
    ...cache,
    opened: [opened, ...cache.opened.filter((o) => o.conversation.id !== opened.conversation.id)],
  };
}

export function withoutConversation(cache: Cache, id: string): Cache {
  return {
    list: remove(cache.list, id),
    opened: cache.opened.filter((o) => o.conversation.id !== id),
  };
}

/**
 * Save the cache within its bounds; when the browser's storage refuses it (full), drop the
 * least recently opened conversations, then the list, until it fits or nothing is left.
 * Returns what was kept.
 */
export function saveCache(storage: Storage, username: string, cache: Cache): Cache {
  let kept: Cache = {
    list: cache.list.slice(0, CACHE_LIST),
    opened: cache.opened.slice(0, CACHE_OPENED),
  };
  for (;;) {
    const text = JSON.stringify(kept);
    if (text.length <= CACHE_CHARS) {
      try {
        storage.setItem(cacheKey(username), text);
        return kept;
      } catch {
        // full: drop more below
      }
    }
    if (kept.opened.length > 0) {
      kept = { ...kept, opened: kept.opened.slice(0, -1) };
    } else if (kept.list.length > 0) {
      kept = { ...kept, list: kept.list.slice(0, Math.floor(kept.list.length / 2)) };
    } else {
      storage.removeItem(cacheKey(username));
      return kept;
    }
  }
}

/** Forget a user's conversations in this browser (on sign-out); other users' stay. */
export function forgetConversations(storage: Storage, username: string): void {
  storage.removeItem(cacheKey(username));
  storage.removeItem(LEGACY_PREFIX + username);
}
