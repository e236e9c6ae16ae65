import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

import { type Api, ApiError, type Session } from "./api";
import { Composer } from "./Composer";
import {
  type Conversation,
  MAX_MESSAGE_CHARS,
  appendMessage,
  awaitsAnswer,
  contextFor,
  loadConversations,
  newConversation,
  remove,
  saveConversations,
  storageKey,
  upsert,
} from "./conversations";
import { MenuIcon, PlusIcon } from "./icons";
import { Markdown } from "./Markdown";
import { plainText } from "./markdown";
import { formatRoute } from "./router";
import { type SigningOut, storedSession } from "./session";
import { Sidebar } from "./Sidebar";

interface Props {
  api: Api;
  session: Session;
  storage: Storage;
  /** The conversation in the address, or null for a new chat. */
  conversationId: string | null;
  navigate: (hash: string, replace?: boolean) => void;
  onSessionEnded: (message: string) => void;
  /** Which sign-out is waiting for the server, if any. */
  signingOut: SigningOut | null;
  onSignOut: (everywhere: boolean) => void;
}

type ById<T> = Record<string, T>;

/** Where the conversation list becomes a drawer (the same width as in styles.css). */
const NARROW_SCREEN = "(max-width: 799px)";

function without<T>(map: ById<T>, id: string): ById<T> {
  const { [id]: _dropped, ...rest } = map;
  return rest;
}

export function ChatPage(props: Props) {
  const { api, session, storage, conversationId, navigate } = props;
  const [conversations, setConversations] = useState<Conversation[]>(() =>
    loadConversations(storage, session.username),
  );
  const latest = useRef(conversations);
  const [pending, setPending] = useState<ById<AbortController>>({});
  const [errors, setErrors] = useState<ById<ApiError>>({});
  const [announcement, setAnnouncement] = useState("");
  const [drawerOpen, setDrawerOpen] = useState(false);
  const currentId = useRef(conversationId);
  currentId.current = conversationId;
  const controllers = useRef(new Set<AbortController>());
  const headingRef = useRef<HTMLHeadingElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const scrollerRef = useRef<HTMLDivElement>(null);
  const focusHeadingNext = useRef(false);
  const menuButtonRef = useRef<HTMLButtonElement>(null);
  const focusAfterDrawer = useRef<(() => void) | null>(null);

  const current = conversationId
    ? (conversations.find((c) => c.id === conversationId) ?? null)
    : null;
  const missing = conversationId !== null && current === null;
  const waiting = current ? current.id in pending : false;
  const error = current ? errors[current.id] : undefined;

  function commit(next: Conversation[]) {
    // Signed out meanwhile (an answer that came in as the page was leaving, or a sign-out in
    // another tab): the user's conversations were forgotten and must stay so.
    if (storedSession(storage)?.username !== session.username) return;
    const kept = saveConversations(storage, session.username, next);
    latest.current = kept;
    setConversations(kept);
  }

  // Another tab changed this user's conversations: show its changes here too.
  useEffect(() => {
    const key = storageKey(session.username);
    const onStorage = (event: StorageEvent) => {
      if (event.key !== key) return;
      latest.current = loadConversations(storage, session.username);
      setConversations(latest.current);
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [storage, session.username]);

  // Leaving the page (sign-out, expiry) cancels what is still waiting.
  useEffect(() => () => controllers.current.forEach((c) => c.abort()), []);

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
    document.title = `${current?.title ?? "New chat"} · Chatbot`;
  }, [current?.title]);

  useEffect(() => {
    if (focusHeadingNext.current) {
      focusHeadingNext.current = false;
      headingRef.current?.focus();
    }
  }, [conversationId]);

  // Keep the newest message (or the waiting indicator, or the error) in view.
  const messageCount = current?.messages.length ?? 0;
  useLayoutEffect(() => {
    const scroller = scrollerRef.current;
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  }, [conversationId, messageCount, waiting, error]);

  async function ask(conversation: Conversation) {
    const id = conversation.id;
    const context = contextFor(conversation.messages);
    if (context.length === 0) {
      setErrors((e) => ({
        ...e,
        [id]: new ApiError(
          "invalid",
          `This message is too long to send (the limit is ${MAX_MESSAGE_CHARS.toLocaleString("en")} characters).`,
        ),
      }));
      return;
    }
    const controller = new AbortController();
    controllers.current.add(controller);
    setPending((p) => ({ ...p, [id]: controller }));
    setErrors((e) => without(e, id));
    try {
      const answer = await api.chat(session.token, context, { signal: controller.signal });
      const now = latest.current.find((c) => c.id === id);
      if (!now) return; // deleted while waiting
      commit(
        upsert(
          latest.current,
          appendMessage(now, {
            role: "assistant",
            content: answer.message.content,
            at: Date.now(),
            model: answer.model,
          }),
        ),
      );
      const text = plainText(answer.message.content);
      setAnnouncement(
        currentId.current === id ? `Answer: ${text}` : `New answer in “${now.title}”.`,
      );
    } catch (err) {
      const failure =
        err instanceof ApiError ? err : new ApiError("server", "Something went wrong. Try again.");
      if (failure.kind === "session") {
        props.onSessionEnded(failure.message);
      } else if (failure.kind !== "aborted") {
        setErrors((e) => ({ ...e, [id]: failure }));
      }
    } finally {
      controllers.current.delete(controller);
      setPending((p) => without(p, id));
    }
  }

  function send(text: string): boolean {
    const open = conversationId
      ? latest.current.find((c) => c.id === conversationId)
      : undefined;
    if (open && open.id in pending) return false;
    const now = Date.now();
    const conversation = open
      ? appendMessage(open, { role: "user", content: text, at: now })
      : newConversation(text, now);
    commit(upsert(latest.current, conversation));
    if (!open) navigate(formatRoute({ page: "chat", id: conversation.id }));
    void ask(conversation);
    return true;
  }

  function stop() {
    if (current) pending[current.id]?.abort();
  }

  function retry() {
    if (current) void ask(current);
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
    navigate(formatRoute({ page: "chat", id: null }));
    closeDrawerThen(() => inputRef.current?.focus());
  }

  function select(id: string) {
    setDrawerOpen(false);
    if (id !== conversationId) focusHeadingNext.current = true;
  }

  function deleteConversation(conversation: Conversation) {
    if (!window.confirm(`Delete the conversation “${conversation.title}”?`)) return;
    pending[conversation.id]?.abort();
    setErrors((e) => without(e, conversation.id));
    commit(remove(latest.current, conversation.id));
    setAnnouncement(`Deleted “${conversation.title}”.`);
    if (conversation.id === conversationId) newChat();
  }

  function closeDrawer() {
    closeDrawerThen(() => menuButtonRef.current?.focus());
  }

  const title = current?.title ?? (missing ? "Conversation not found" : "New chat");

  return (
    <div class={`app${drawerOpen ? " drawer-open" : ""}`}>
      <Sidebar
        conversations={conversations}
        currentId={conversationId}
        pending={pending}
        username={session.username}
        open={drawerOpen}
        onNewChat={newChat}
        onSelect={select}
        onDelete={deleteConversation}
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

        <div class="scroller" ref={scrollerRef}>
          <div class="thread">
            {!current && !missing && (
              <div class="empty">
                <p class="empty-title">How can I help you today?</p>
                <p class="empty-hint">
                  Ask anything. Answers can be wrong: check what matters.
                </p>
              </div>
            )}
            {missing && (
              <div class="empty">
                <p class="empty-title">This conversation is not saved in this browser.</p>
                <p class="empty-hint">
                  Conversations are kept only in the browser they were held in.{" "}
                  <a href={formatRoute({ page: "chat", id: null })}>Start a new chat</a>.
                </p>
              </div>
            )}
            {current?.messages.map((message, index) =>
              message.role === "user" ? (
                <article key={index} class="msg msg-user" aria-label="You said">
                  <div class="bubble">{message.content}</div>
                </article>
              ) : (
                <article key={index} class="msg msg-assistant" aria-label="Assistant answered">
                  <Markdown text={message.content} />
                </article>
              ),
            )}
            {waiting && (
              <div class="msg msg-assistant waiting" role="status">
                <span class="dots" aria-hidden="true">
                  <span />
                  <span />
                  <span />
                </span>
                <span class="waiting-text">Waiting for the answer…</span>
              </div>
            )}
            {current && !waiting && error && (
              <div class="msg-error" role="alert">
                <p>{error.message}</p>
                {error.retryable && (
                  <button type="button" class="secondary" onClick={retry}>
                    Retry
                  </button>
                )}
              </div>
            )}
            {current && !waiting && !error && awaitsAnswer(current) && (
              <div class="msg-error msg-unanswered">
                <p>This message has no answer yet.</p>
                <button type="button" class="secondary" onClick={retry}>
                  Retry
                </button>
              </div>
            )}
          </div>
        </div>

        <Composer
          inputRef={inputRef}
          waiting={waiting}
          disabled={missing}
          onSend={send}
          onStop={stop}
        />
        <div class="sr-only" aria-live="polite" aria-atomic="true">
          {announcement}
        </div>
      </main>
    </div>
  );
}
