import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";

import { type Api, ApiError, type ConversationSummary, type Session } from "./api";
import { Composer } from "./Composer";
import {
  type Cache,
  appendPage,
  loadCache,
  mergeFirstPage,
  remove,
  replace,
  saveCache,
  titleFor,
  upsert,
  withOpened,
  withoutConversation,
} from "./conversations";
import { MenuIcon, PlusIcon } from "./icons";
import { plainText } from "./markdown";
import { Messages } from "./Messages";
import { useModelChoice } from "./modelChoice";
import { ModelPicker } from "./ModelPicker";
import { formatRoute } from "./router";
import { type SigningOut, storedSession } from "./session";
import { Sidebar } from "./Sidebar";
import { MAX_FRAME_BYTES, tooLargeToSend } from "./size";
import { type Ask, type ConnectionState, StreamSocket, type WebSocketLike } from "./socket";
import {
  EMPTY_THREAD,
  type Thread,
  type ThreadAction,
  threadsReducer,
} from "./thread";

interface Props {
  api: Api;
  session: Session;
  storage: Storage;
  /** `socketUrl` from config.json (null: this deployment streams nothing). */
  socketUrl: string | null;
  /** `models` from config.json, the first being the default (empty: no picker). */
  models: readonly string[];
  /** Opens the WebSocket (tests give a fake). */
  connectSocket?: (url: string) => WebSocketLike;
  /** The conversation in the address, or null for a new chat. */
  conversationId: string | null;
  navigate: (hash: string, replace?: boolean) => void;
  onSessionEnded: (message: string) => void;
  /** Which sign-out is waiting for the server, if any. */
  signingOut: SigningOut | null;
  onSignOut: (everywhere: boolean) => void;
}

/** Where the conversation list becomes a drawer (the same width as in styles.css). */
const NARROW_SCREEN = "(max-width: 799px)";
/** Closer to the bottom than this (px), the view follows a growing answer. */
const FOLLOW_SLACK_PX = 48;

/** The list as the sidebar shows it: loading, read, or failed (with a retry). */
type ListState = "loading" | "ready" | ApiError;

/** Deltas are applied at most once per frame: the answer's Markdown is rendered again at
 * most that often, however fast frames come. */
function nextFrame(callback: () => void): () => void {
  if (typeof requestAnimationFrame === "function") {
    const id = requestAnimationFrame(callback);
    return () => cancelAnimationFrame(id);
  }
  const id = setTimeout(callback, 16);
  return () => clearTimeout(id);
}

/** Where a request's frames go: its thread's key changes when `started` names a new chat. */
interface Target {
  key: string;
  text: string;
}

let drafts = 0;

export function ChatPage(props: Props) {
  const { api, session, storage, conversationId, navigate } = props;
  const [initialCache] = useState<Cache>(() => loadCache(storage, session.username));
  const cache = useRef(initialCache);
  const [list, setList] = useState<ConversationSummary[]>(initialCache.list);
  const [next, setNext] = useState<string | null>(null);
  const [listState, setListState] = useState<ListState>("loading");
  const [sidebarError, setSidebarError] = useState<string | null>(null);
  const [threads, dispatchAll] = useReducer(threadsReducer, {});
  const latestThreads = useRef(threads);
  latestThreads.current = threads;
  /** The key of the new chat on screen (it has no id until `started`), if any. */
  const [draft, setDraft] = useState<string | null>(null);
  const latestDraft = useRef(draft);
  latestDraft.current = draft;
  const [connection, setConnection] = useState<ConnectionState>({ state: "idle" });
  const [announcement, setAnnouncement] = useState("");
  const [drawerOpen, setDrawerOpen] = useState(false);
  const currentId = useRef(conversationId);
  currentId.current = conversationId;
  const socketRef = useRef<StreamSocket | null>(null);
  /** Deltas not yet applied, per request: where they go and their text. */
  const buffered = useRef(new Map<string, { target: Target; pending: string }>());
  const cancelFrame = useRef<(() => void) | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const scrollerRef = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  /** Where the reader was (px from the scroller's bottom) when older messages were asked to
   * be added above, in the thread under `key`: kept there once they are. */
  const place = useRef<{ key: string; fromBottom: number } | null>(null);
  const focusHeadingNext = useRef(false);
  const menuButtonRef = useRef<HTMLButtonElement>(null);
  const focusAfterDrawer = useRef<(() => void) | null>(null);
  const gone = useRef(false);

  const key = conversationId ?? draft;
  const thread: Thread = (key ? threads[key] : undefined) ?? EMPTY_THREAD;
  const listed = conversationId ? list.find((c) => c.id === conversationId) : undefined;
  const missing = thread.load === "missing";
  const streaming = thread.streaming;
  const firstMessage = thread.messages[0];
  /** The model the picker shows: what the next answer here is asked of. */
  const model = useModelChoice(props.models, conversationId, thread.conversation ?? listed);
  const { withModel } = model;
  const title =
    thread.conversation?.title ??
    listed?.title ??
    (missing ? "Conversation not found" : firstMessage ? titleFor(firstMessage.content) : "New chat");

  function dispatch(where: string, action: ThreadAction) {
    dispatchAll({ key: where, action });
  }

  /** Still this user's page? (Signed out meanwhile, here or in another tab: nothing of
   * theirs may be written back, and no request of theirs made.) */
  function ours(): boolean {
    return !gone.current && storedSession(storage)?.username === session.username;
  }

  function failed(error: unknown): ApiError {
    const failure =
      error instanceof ApiError ? error : new ApiError("server", "Something went wrong. Try again.");
    if (failure.kind === "session" && !gone.current) props.onSessionEnded(failure.message);
    return failure;
  }

  function socket(): StreamSocket {
    socketRef.current ??= new StreamSocket({
      url: props.socketUrl,
      token: session.token,
      ...(props.connectSocket ? { connect: props.connectSocket } : {}),
      onState: (state) => {
        if (!gone.current) setConnection(state);
      },
      // A refused handshake shows no status to the page: the HTTP API tells.
      checkSession: () =>
        api.listConversations(session.token).then(
          () => null,
          (error: unknown) => (error instanceof ApiError ? error : null),
        ),
      onSessionEnded: (error) => failed(error),
    });
    return socketRef.current;
  }

  // Save the cache when nothing is streaming (not on every delta).
  useEffect(() => {
    if (Object.values(threads).some((t) => t.streaming)) return;
    if (!ours()) return;
    let next: Cache = { ...cache.current, list };
    for (const t of Object.values(threads)) {
      if (!t.conversation || t.load !== "ready") continue;
      const messages = t.messages.flatMap((m) =>
        m.seq === null ? [] : [{ seq: m.seq, role: m.role, content: m.content }],
      );
      const before = next.opened.find((o) => o.conversation.id === t.conversation!.id);
      if (
        before &&
        before.earlier === t.earlier &&
        JSON.stringify(before.messages) === JSON.stringify(messages)
      ) {
        continue;
      }
      next = withOpened(next, { conversation: t.conversation, messages, earlier: t.earlier });
    }
    cache.current = saveCache(storage, session.username, next);
  }, [threads, list]);

  async function loadList(cursor: string | null) {
    setListState("loading");
    try {
      const page = await api.listConversations(session.token, cursor);
      if (gone.current) return;
      setList((shown) => (cursor ? appendPage(shown, page.conversations) : page.conversations));
      setNext(page.next);
      setListState("ready");
    } catch (error) {
      if (gone.current) return;
      const failure = failed(error);
      // A cursor the server no longer takes: start again from the first page.
      if (cursor && failure.kind === "invalid") {
        void loadList(null);
        return;
      }
      setListState(failure);
    }
  }

  /** The first page again, merged into what is shown (pages loaded after it stay). */
  async function refreshList() {
    try {
      const page = await api.listConversations(session.token);
      if (gone.current) return;
      setList((shown) => mergeFirstPage(shown, page.conversations));
    } catch (error) {
      if (!gone.current) failed(error); // a refused token ends the session; else keep the list
    }
  }

  /** Read a conversation's newest messages. They replace all shown when `fresh`, and when
   * this page has not read it yet (what shows is the cache's copy, never the truth); else the
   * older messages read since stay if nothing changed them (threadReducer). */
  async function open(id: string, fresh = false) {
    const known = latestThreads.current[id];
    if (!known) {
      const cached = cache.current.opened.find((o) => o.conversation.id === id);
      if (cached) dispatch(id, { type: "loaded", ...cached });
    }
    dispatch(id, { type: "loading" });
    const asks = latestThreads.current[id]?.asks ?? 0;
    try {
      const opened = await api.getConversation(session.token, id);
      if (gone.current) return;
      dispatch(id, { type: "loaded", ...opened, asks, fresh: fresh || !known });
      setList((shown) => replace(shown, opened.conversation));
    } catch (error) {
      if (gone.current) return;
      const failure = failed(error);
      dispatch(id, { type: "load-failed", error: failure });
      if (failure.kind === "not-found") notFound(id);
    }
  }

  /** The conversation is not there (deleted elsewhere): it leaves the list and the cache. */
  function notFound(id: string) {
    setList((shown) => remove(shown, id));
    cache.current = withoutConversation(cache.current, id);
  }

  /** Show the messages before those shown (Show earlier messages), the reader's place kept. */
  async function showEarlier(id: string) {
    const before = latestThreads.current[id]?.earlier;
    if (!before || latestThreads.current[id]?.earlierLoad === "loading") return;
    dispatch(id, { type: "earlier-loading", before });
    try {
      const page = await api.getConversation(session.token, id, { before });
      if (gone.current) return;
      const scroller = scrollerRef.current;
      // Only when they will join what is on screen (the reducer's own test).
      if (scroller && currentId.current === id && latestThreads.current[id]?.earlier === before) {
        place.current = { key: id, fromBottom: scroller.scrollHeight - scroller.scrollTop };
      }
      const { messages, earlier } = page;
      dispatch(id, { type: "earlier-loaded", before, messages, earlier });
      if (currentId.current === id) setAnnouncement("Earlier messages shown.");
    } catch (error) {
      if (gone.current) return;
      const failure = failed(error);
      dispatch(id, { type: "earlier-failed", before, error: failure });
      if (failure.kind === "not-found") {
        dispatch(id, { type: "load-failed", error: failure });
        notFound(id);
      }
      // A cursor the server no longer takes: start again from the newest messages.
      if (failure.kind === "invalid") void open(id, true);
    }
  }

  // Back to this tab (or online again): what other devices did since shows here, and a
  // connection waiting to retry tries now.
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState !== "visible") return;
      void refreshList();
      const id = currentId.current;
      if (id && !latestThreads.current[id]?.streaming) void open(id);
    };
    const onOnline = () => socketRef.current?.retryNow();
    document.addEventListener("visibilitychange", onVisible);
    window.addEventListener("online", onOnline);
    return () => {
      document.removeEventListener("visibilitychange", onVisible);
      window.removeEventListener("online", onOnline);
    };
  }, []);

  useEffect(() => {
    void loadList(null);
    return () => {
      gone.current = true;
      cancelFrame.current?.();
      socketRef.current?.close();
    };
  }, []);

  useEffect(() => {
    follow.current = true;
    if (conversationId && !latestThreads.current[conversationId]?.streaming) {
      void open(conversationId);
    }
  }, [conversationId]);

  // The drawer only exists on narrow screens: widening the window closes it (else the chat,
  // inert while the drawer is open, would stay unusable beside an always-visible sidebar).
  useEffect(() => {
    const narrow = window.matchMedia(NARROW_SCREEN);
    const onChange = () => {
      if (!narrow.matches) setDrawerOpen(false);
    };
    narrow.addEventListener("change", onChange);
    return () => narrow.removeEventListener("change", onChange);
  }, []);

  useEffect(() => {
    const focus = focusAfterDrawer.current;
    if (!drawerOpen && focus) {
      focusAfterDrawer.current = null;
      focus();
    }
  }, [drawerOpen]);

  useEffect(() => {
    document.title = `${title} · Chatbot`;
  }, [title]);

  useEffect(() => {
    if (focusHeadingNext.current) {
      focusHeadingNext.current = false;
      headingRef.current?.focus();
    }
  }, [conversationId]);

  // Keep the newest text in view, unless the person scrolled up to read.
  useLayoutEffect(() => {
    const scroller = scrollerRef.current;
    if (scroller && follow.current) scroller.scrollTop = scroller.scrollHeight;
  }, [key, thread.messages.length, streaming?.text, streaming?.phase, thread.error, thread.load]);

  // Older messages added above: what the reader was looking at stays where it was (after the
  // effect above, which would follow the bottom: the place is as far from it as before).
  useLayoutEffect(() => {
    const kept = place.current;
    const scroller = scrollerRef.current;
    if (!kept) return;
    place.current = null;
    if (scroller && kept.key === key) scroller.scrollTop = scroller.scrollHeight - kept.fromBottom;
  }, [key, thread.messages]);

  function onScroll() {
    const scroller = scrollerRef.current;
    if (!scroller) return;
    follow.current =
      scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= FOLLOW_SLACK_PX;
  }

  function flushDeltas() {
    cancelFrame.current?.();
    cancelFrame.current = null;
    for (const [request, { target, pending }] of buffered.current) {
      dispatch(target.key, { type: "delta", request, text: pending });
    }
    buffered.current.clear();
  }

  /** Why `ask` cannot be sent (its message is over API Gateway's frame limit), or null. */
  function refusal(ask: Ask): string | null {
    const bytes = socket().measure(ask);
    return bytes > MAX_FRAME_BYTES ? tooLargeToSend(bytes) : null;
  }

  /** Ask the server (send, edit, regenerate) for the thread under `where`. */
  function start(where: string, ask: Ask) {
    const target: Target = { key: where, text: "" };
    follow.current = true;
    const request = socket().ask(ask, {
      started(frame) {
        flushDeltas();
        dispatch(target.key, { type: "started", request, frame });
        const id = frame.conversation.id;
        const wasDraft = target.key !== id && latestDraft.current === target.key;
        target.key = id;
        // Its model is now what `started` says (maybe the default instead of the one asked).
        model.started(id, ask.model);
        setList((shown) => upsert(shown, frame.conversation));
        if (wasDraft) {
          setDraft(null);
          navigate(formatRoute({ page: "chat", id }));
        }
      },
      delta(text) {
        target.text += text;
        const entry = buffered.current.get(request);
        if (entry) entry.pending += text;
        else buffered.current.set(request, { target, pending: text });
        cancelFrame.current ??= nextFrame(flushDeltas);
      },
      done(frame) {
        flushDeltas();
        dispatch(target.key, { type: "done", request, stopped: frame.stopped });
        const titleNow = latestThreads.current[target.key]?.conversation?.title ?? "a conversation";
        setAnnouncement(
          currentId.current === target.key
            ? `${frame.stopped ? "Stopped" : "Answer"}: ${plainText(target.text)}`
            : `New answer in “${titleNow}”.`,
        );
      },
      failed(error) {
        flushDeltas();
        if (error.kind === "session" && !gone.current) props.onSessionEnded(error.message);
        dispatch(target.key, { type: "failed", request, error });
      },
    });
    dispatch(where, { type: "ask", request, ask });
  }

  /** Send the composer's text: true when sent, false when not now, or why it cannot be. */
  function send(text: string): boolean | string {
    if (thread.streaming || missing) return false;
    if (conversationId) {
      if (!thread.conversation && thread.load !== "ready") return false; // not read yet
      const ask = withModel({ action: "send", conversation: conversationId, content: text });
      const refused = refusal(ask);
      if (refused !== null) return refused;
      start(conversationId, ask);
      return true;
    }
    const ask = withModel({ action: "send", conversation: null, content: text });
    const refused = refusal(ask);
    if (refused !== null) return refused;
    const where = draft ?? `draft-${++drafts}`;
    setDraft(where);
    start(where, ask);
    return true;
  }

  function stop() {
    if (!key || !streaming) return;
    dispatch(key, { type: "stopping", request: streaming.request });
    socket().stop(streaming.request);
  }

  // Retry, Regenerate and Edit go away while the answer streams: focus moves to the
  // composer (where Stop is) instead of being lost.
  function retry() {
    if (key && thread.retry) start(key, withModel(thread.retry));
    inputRef.current?.focus();
  }

  function regenerate() {
    if (key && thread.conversation) {
      start(key, withModel({ action: "regenerate", conversation: thread.conversation.id }));
    }
    inputRef.current?.focus();
  }

  /** Send an edited message; returns why it cannot be sent (the edit stays open), or null. */
  function edit(seq: number, content: string): string | null {
    if (key && thread.conversation) {
      const ask = withModel({
        action: "send",
        conversation: thread.conversation.id,
        edit: seq,
        content,
      });
      const refused = refusal(ask);
      if (refused !== null) return refused;
      start(key, ask);
    }
    inputRef.current?.focus();
    return null;
  }

  /** Close the drawer if open, then `focus` (the chat can only take focus once it is no
   * longer inert, i.e. after the render that closed the drawer). */
  function closeDrawerThen(focus: () => void) {
    if (drawerOpen) {
      focusAfterDrawer.current = focus;
      setDrawerOpen(false);
    } else {
      focus();
    }
  }

  function newChat() {
    setDraft(null);
    navigate(formatRoute({ page: "chat", id: null }));
    closeDrawerThen(() => inputRef.current?.focus());
  }

  function select(id: string) {
    setDrawerOpen(false);
    if (id !== conversationId) focusHeadingNext.current = true;
  }

  async function deleteConversation(conversation: ConversationSummary) {
    if (!window.confirm(`Delete the conversation “${conversation.title}”?`)) return;
    setSidebarError(null);
    const running = latestThreads.current[conversation.id]?.streaming;
    if (running) socket().stop(running.request);
    try {
      await api.deleteConversation(session.token, conversation.id);
    } catch (error) {
      const failure = failed(error);
      // Already gone (deleted elsewhere): the same outcome.
      if (failure.kind !== "not-found") {
        if (failure.kind !== "session") {
          setSidebarError(`Could not delete “${conversation.title}”: ${failure.message}`);
        }
        return;
      }
    }
    if (gone.current) return;
    setList((shown) => remove(shown, conversation.id));
    cache.current = withoutConversation(cache.current, conversation.id);
    dispatch(conversation.id, { type: "forget" });
    setAnnouncement(`Deleted “${conversation.title}”.`);
    if (conversation.id === currentId.current) newChat();
  }

  /** Rename; returns what went wrong, or null. */
  async function rename(conversation: ConversationSummary, title: string): Promise<string | null> {
    setSidebarError(null);
    try {
      const renamed = await api.renameConversation(session.token, conversation.id, title);
      if (gone.current) return null;
      setList((shown) => replace(shown, renamed));
      dispatch(conversation.id, { type: "renamed", conversation: renamed });
      setAnnouncement(`Renamed to “${renamed.title}”.`);
      return null;
    } catch (error) {
      const failure = failed(error);
      if (failure.kind === "not-found") {
        setList((shown) => remove(shown, conversation.id));
        return "This conversation no longer exists.";
      }
      return failure.message;
    }
  }

  function closeDrawer() {
    closeDrawerThen(() => menuButtonRef.current?.focus());
  }

  const answering = Object.fromEntries(
    Object.entries(threads).flatMap(([id, t]) => (t.streaming ? [[id, true]] : [])),
  );

  return (
    <div class={`app${drawerOpen ? " drawer-open" : ""}`}>
      <Sidebar
        conversations={list}
        listState={listState}
        hasMore={next !== null}
        onLoadMore={() => void loadList(next)}
        onRetryList={() => void loadList(null)}
        error={sidebarError}
        currentId={conversationId}
        answering={answering}
        username={session.username}
        open={drawerOpen}
        onNewChat={newChat}
        onSelect={select}
        onDelete={(c) => void deleteConversation(c)}
        onRename={rename}
        signingOut={props.signingOut}
        onSignOut={props.onSignOut}
        onClose={closeDrawer}
      />
      <div class="backdrop" hidden={!drawerOpen} onClick={closeDrawer} />
      {/* While the drawer is open, the chat behind it takes no focus and no clicks. */}
      <main class="chat" aria-labelledby="chat-title" inert={drawerOpen}>
        <header class="topbar">
          <button
            ref={menuButtonRef}
            type="button"
            class="icon-button menu-button"
            aria-label="Conversations"
            aria-controls="sidebar"
            aria-expanded={drawerOpen}
            onClick={() => setDrawerOpen(true)}
          >
            <MenuIcon />
          </button>
          <h1 id="chat-title" ref={headingRef} tabIndex={-1}>
            {title}
          </h1>
          <button
            type="button"
            class="icon-button topbar-new"
            aria-label="New chat"
            onClick={newChat}
          >
            <PlusIcon />
          </button>
        </header>

        <div class="scroller" ref={scrollerRef} onScroll={onScroll}>
          <Messages
            key={key ?? "new"}
            thread={thread}
            onRetry={retry}
            onRetryLoad={() => conversationId && void open(conversationId)}
            onShowEarlier={() => conversationId && void showEarlier(conversationId)}
            onRegenerate={regenerate}
            onEdit={edit}
          />
        </div>

        {connection.state === "retrying" && (
          <div class="connection" role="status">
            <span>
              Connection lost — retrying in {Math.round(connection.delayMs / 1000)} s…
            </span>
            <button type="button" class="secondary" onClick={() => socket().retryNow()}>
              Retry now
            </button>
          </div>
        )}
        <Composer
          inputRef={inputRef}
          streaming={streaming !== null}
          stopping={streaming?.phase === "stopping"}
          disabled={missing}
          onSend={send}
          onStop={stop}
        >
          {model.value !== null && (
            <ModelPicker
              models={props.models}
              value={model.value}
              disabled={missing}
              onChange={model.pick}
            />
          )}
        </Composer>
        <div class="sr-only" aria-live="polite" aria-atomic="true">
          {announcement}
        </div>
      </main>
    </div>
  );
}
