// What the chat shows of each conversation, as pure state and a reducer: the messages the
// server stored, the answer streaming in (its text grows with each delta), and what went
// wrong with what Retry would do. ChatPage keeps one Thread per conversation it has open,
// keyed by the conversation's id, or by a draft key for a new chat until `started` names it.
import type { ApiError, ConversationSummary, StoredMessage } from "./api";
import type { Ask, StartedFrame } from "./socket";

export interface ThreadMessage {
  /** The server's `seq`; null while sent but not yet stored (no `started` yet). */
  seq: number | null;
  role: "user" | "assistant";
  content: string;
  /** An answer ended by Stop (the text so far is kept). */
  stopped?: boolean;
  /** An answer that broke off (connection lost, provider failed): incomplete. */
  interrupted?: boolean;
}

export interface Streaming {
  request: string;
  /** What was asked (to retry it the same way while nothing is stored yet). */
  ask: Ask;
  /** The user's message is stored: the server sent `started`. */
  started: boolean;
  answerSeq: number | null;
  text: string;
  phase: "waiting" | "streaming" | "stopping";
}

/** How the conversation's stored messages were read: from the server, being read, not there
 * (404), or failed (a retry is offered). A new chat is "ready" with nothing in it. */
export type Load = "ready" | "loading" | "missing" | ApiError;

/** Reading the messages before those shown (Show earlier messages): not now, being read, or
 * failed (the button is offered again, with why). */
export type EarlierLoad = "idle" | "loading" | ApiError;

export interface Thread {
  conversation: ConversationSummary | null;
  messages: ThreadMessage[];
  streaming: Streaming | null;
  error: ApiError | null;
  /** What Retry asks after `error`. */
  retry: Ask | null;
  load: Load;
  /** The cursor of the stored messages before those shown (`GET /conversations/{id}`'s
   * `earlier`), null when the first is shown (and in a new chat). */
  earlier: string | null;
  earlierLoad: EarlierLoad;
  /** How many requests this page made in it: an answer read from the server before the
   * latest of them cannot replace what the page shows since. */
  asks: number;
}

export const EMPTY_THREAD: Thread = {
  conversation: null,
  messages: [],
  streaming: null,
  error: null,
  retry: null,
  load: "ready",
  earlier: null,
  earlierLoad: "idle",
  asks: 0,
};

export type ThreadAction =
  | { type: "loading" }
  /** The newest messages. `asks`: the thread's `asks` when the request was made (undefined:
   * a cache's copy). `fresh`: they replace all shown, older messages read before too. */
  | {
      type: "loaded";
      conversation: ConversationSummary;
      messages: StoredMessage[];
      earlier: string | null;
      asks?: number;
      fresh?: boolean;
    }
  | { type: "load-failed"; error: ApiError }
  /** Older messages, read with `before` (the thread's `earlier` when asked). */
  | { type: "earlier-loading"; before: string }
  | { type: "earlier-loaded"; before: string; messages: StoredMessage[]; earlier: string | null }
  | { type: "earlier-failed"; before: string; error: ApiError }
  | { type: "ask"; request: string; ask: Ask }
  | { type: "started"; request: string; frame: StartedFrame }
  | { type: "delta"; request: string; text: string }
  | { type: "stopping"; request: string }
  | { type: "done"; request: string; stopped: boolean }
  | { type: "failed"; request: string; error: ApiError }
  | { type: "renamed"; conversation: ConversationSummary }
  /** The conversation was deleted: its thread goes (threadsReducer). */
  | { type: "forget" };

function shown(messages: readonly StoredMessage[]): ThreadMessage[] {
  return messages.flatMap((m) =>
    m.role === "system" ? [] : [{ seq: m.seq, role: m.role, content: m.content }],
  );
}

/** The newest messages read again, after the older ones shown that can stay: those shown
 * from the page's first message on must be the start of the page (at most newer messages came
 * since). Else the page replaces them all: an edit or a regenerate elsewhere changed what is
 * shown, and older messages than the page may have changed with it. */
function refreshed(shownNow: readonly ThreadMessage[], page: ThreadMessage[]): ThreadMessage[] {
  const first = page[0];
  const at = first ? shownNow.findIndex((m) => m.seq === first.seq) : -1;
  if (at <= 0) return page;
  const since = shownNow.slice(at);
  const same =
    since.length <= page.length &&
    since.every((m, i) => {
      const now = page[i]!;
      return m.seq === now.seq && m.role === now.role && m.content === now.content;
    });
  return same ? [...shownNow.slice(0, at), ...page] : page;
}

/** An older page before what is shown: only its messages older than all shown (a page read
 * again after newer ones came may overlap them), none twice. */
function prepended(
  shownNow: readonly ThreadMessage[],
  older: readonly StoredMessage[],
): ThreadMessage[] {
  const seqs = shownNow.flatMap((m) => (m.seq === null ? [] : [m.seq]));
  const lowest = seqs.reduce((low, seq) => Math.min(low, seq), Infinity);
  return [...shown(older).filter((m) => m.seq !== null && m.seq < lowest), ...shownNow];
}

/** The messages after `ask` is sent: a new user message (an unsent one before it is
 * replaced: a retry), an edited one with everything after it gone (edits truncate), or for
 * regenerate the last answer gone. */
function asked(messages: readonly ThreadMessage[], ask: Ask): ThreadMessage[] {
  if (ask.action === "regenerate") {
    return messages.at(-1)?.role === "assistant" ? messages.slice(0, -1) : [...messages];
  }
  const user: ThreadMessage = { seq: null, role: "user", content: ask.content };
  if (ask.edit !== undefined) {
    const at = messages.findIndex((m) => m.seq === ask.edit);
    return [...(at < 0 ? messages : messages.slice(0, at)), user];
  }
  const last = messages.at(-1);
  const kept = last?.role === "user" && last.seq === null ? messages.slice(0, -1) : messages;
  return [...kept, user];
}

/** The thread with the newest messages read (`kept`: what it shows that may stay before them). */
function loaded(
  thread: Thread,
  kept: readonly ThreadMessage[],
  action: { conversation: ConversationSummary; messages: StoredMessage[]; earlier: string | null },
): Thread {
  const page = shown(action.messages);
  const messages = refreshed(kept, page);
  // Older messages kept: the cursor before them stays, and a read of them goes on.
  const older = messages !== page;
  return {
    ...thread,
    conversation: action.conversation,
    messages,
    load: "ready",
    earlier: older ? thread.earlier : action.earlier,
    earlierLoad: older ? thread.earlierLoad : "idle",
  };
}

export function threadReducer(thread: Thread, action: ThreadAction): Thread {
  switch (action.type) {
    case "loading":
      return thread.load === "ready" && thread.conversation ? thread : { ...thread, load: "loading" };
    case "loaded":
      // An answer streaming here, or asked for since the server was asked, is newer than
      // what the server had when it was read.
      if (thread.streaming || (action.asks !== undefined && action.asks !== thread.asks)) {
        return { ...thread, conversation: action.conversation, load: "ready" };
      }
      return loaded(thread, action.fresh ? [] : thread.messages, action);
    case "load-failed":
      return {
        ...thread,
        load: action.error.kind === "not-found" ? "missing" : thread.conversation ? "ready" : action.error,
      };
    case "ask":
      return {
        ...thread,
        messages: asked(thread.messages, action.ask),
        streaming: {
          request: action.request,
          ask: action.ask,
          started: false,
          answerSeq: null,
          text: "",
          phase: "waiting",
        },
        error: null,
        retry: null,
        asks: thread.asks + 1,
      };
    case "earlier-loading":
      return action.before === thread.earlier ? { ...thread, earlierLoad: "loading" } : thread;
    case "earlier-loaded":
      // Read with a cursor the thread no longer has (the newest messages replaced what was
      // shown meanwhile): they may not join what is shown now.
      if (action.before !== thread.earlier) return thread;
      return {
        ...thread,
        messages: prepended(thread.messages, action.messages),
        earlier: action.earlier,
        earlierLoad: "idle",
      };
    case "earlier-failed":
      if (action.before !== thread.earlier) return thread;
      // A cursor refused (400): ChatPage reads the newest messages again, which replace it.
      return { ...thread, earlierLoad: action.error.kind === "invalid" ? "idle" : action.error };
    case "renamed":
      return { ...thread, conversation: action.conversation };
    case "forget":
      return EMPTY_THREAD;
  }
  const streaming = thread.streaming;
  if (!streaming || streaming.request !== action.request) return thread; // not ours, or over
  switch (action.type) {
    case "started": {
      const { frame } = action;
      const messages = [...thread.messages];
      for (let at = messages.length - 1; at >= 0; at--) {
        const message = messages[at]!;
        if (message.role === "user" && message.seq === null) {
          messages[at] = { ...message, seq: frame.user_seq };
          break;
        }
      }
      return {
        ...thread,
        conversation: frame.conversation,
        messages,
        streaming: { ...streaming, started: true, answerSeq: frame.answer_seq },
      };
    }
    case "delta":
      return {
        ...thread,
        streaming: {
          ...streaming,
          text: streaming.text + action.text,
          phase: streaming.phase === "stopping" ? "stopping" : "streaming",
        },
      };
    case "stopping":
      return { ...thread, streaming: { ...streaming, phase: "stopping" } };
    case "done":
      return {
        ...thread,
        messages: [
          ...thread.messages,
          {
            seq: streaming.answerSeq,
            role: "assistant",
            content: streaming.text,
            ...(action.stopped ? { stopped: true } : {}),
          },
        ],
        streaming: null,
      };
    case "failed": {
      const partial: ThreadMessage[] =
        streaming.text === ""
          ? []
          : [{ seq: streaming.answerSeq, role: "assistant", content: streaming.text, interrupted: true }];
      // Once the user's message is stored, Retry asks for a new answer to it; before, it
      // sends the same again.
      const conversation = thread.conversation?.id;
      const { model } = streaming.ask;
      const retry: Ask =
        streaming.started && conversation
          ? { action: "regenerate", conversation, ...(model !== undefined ? { model } : {}) }
          : streaming.ask;
      return {
        ...thread,
        messages: [...thread.messages, ...partial],
        streaming: null,
        error: action.error,
        retry,
      };
    }
  }
}

/** The last answer can be asked for again (Regenerate): the conversation is stored, ends
 * with an answer, and nothing is streaming in it. */
export function canRegenerate(thread: Thread): boolean {
  return (
    thread.conversation !== null &&
    thread.streaming === null &&
    thread.messages.at(-1)?.role === "assistant"
  );
}

/** A stored user message that can be edited (nothing streaming in the conversation). */
export function canEdit(thread: Thread, message: ThreadMessage): boolean {
  return (
    thread.conversation !== null &&
    thread.streaming === null &&
    message.role === "user" &&
    message.seq !== null
  );
}

export type Threads = Readonly<Record<string, Thread>>;

/** Apply `action` to the thread under `key`; a `started` frame moves a new chat from its
 * draft key to its conversation's id. */
export function threadsReducer(
  threads: Threads,
  { key, action }: { key: string; action: ThreadAction },
): Threads {
  if (action.type === "forget") return key in threads ? withoutThread(threads, key) : threads;
  const before = threads[key] ?? EMPTY_THREAD;
  const after = threadReducer(before, action);
  if (after === before) return threads; // nothing changed (also: frames of a forgotten one)
  if (action.type === "started" && after !== before && action.frame.conversation.id !== key) {
    const { [key]: _draft, ...rest } = threads;
    return { ...rest, [action.frame.conversation.id]: after };
  }
  return { ...threads, [key]: after };
}

/** Forget a thread (its conversation was deleted). */
export function withoutThread(threads: Threads, key: string): Threads {
  const { [key]: _gone, ...rest } = threads;
  return rest;
}
