import { useEffect, useRef, useState } from "preact/hooks";

import { MAX_MESSAGE_CHARS } from "./conversations";
import { Markdown } from "./Markdown";
import { formatRoute } from "./router";
import {
  type EarlierLoad,
  type Thread,
  type ThreadMessage,
  canEdit,
  canRegenerate,
} from "./thread";

interface Props {
  thread: Thread;
  onRetry: () => void;
  onRetryLoad: () => void;
  /** Read the messages before those shown. */
  onShowEarlier: () => void;
  onRegenerate: () => void;
  /** Returns why the edit cannot be sent (it stays open), or null. */
  onEdit: (seq: number, content: string) => string | null;
}

export const EDIT_NOTE = "Sending replaces this message; later messages will be replaced.";
export const SHOW_EARLIER = "Show earlier messages";
export const LOADING_EARLIER = "Loading earlier messages…";

/** Above the messages shown when older ones are stored: a button that shows them. */
function Earlier({ state, onShow }: { state: EarlierLoad; onShow: () => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  const loading = state === "loading";
  const clicked = useRef(false);

  // Disabled while they are read, the button may lose focus (to the page): it gets it back,
  // without scrolling to it (the reader stays where they were).
  useEffect(() => {
    if (loading || !clicked.current) return;
    clicked.current = false;
    if (document.activeElement === null || document.activeElement === document.body) {
      ref.current?.focus({ preventScroll: true });
    }
  }, [loading]);

  return (
    <div class="earlier">
      <button
        ref={ref}
        type="button"
        class="secondary"
        disabled={loading}
        onClick={() => {
          clicked.current = true;
          onShow();
        }}
      >
        {loading ? LOADING_EARLIER : SHOW_EARLIER}
      </button>
      {typeof state === "object" && (
        <p class="earlier-error" role="alert">
          Could not show earlier messages. {state.message}
        </p>
      )}
    </div>
  );
}

/** A user's message being edited: the new text, sent in its place (edits truncate). */
function EditForm(props: {
  message: ThreadMessage;
  /** Returns why it cannot be sent (the text stays), or null. */
  onSend: (content: string) => string | null;
  onCancel: () => void;
}) {
  const [text, setText] = useState(props.message.content);
  const [refused, setRefused] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const tooLong = text.length > MAX_MESSAGE_CHARS;
  const canSend = !tooLong && text.trim() !== "";

  useEffect(() => {
    const area = ref.current;
    area?.focus();
    area?.setSelectionRange(area.value.length, area.value.length);
  }, []);

  function submit(event: Event) {
    event.preventDefault();
    if (canSend) setRefused(props.onSend(text.trim()));
  }

  return (
    <form class="edit-form" onSubmit={submit}>
      <label for="edit-message" class="sr-only">
        Edit your message
      </label>
      <textarea
        ref={ref}
        id="edit-message"
        rows={3}
        value={text}
        aria-describedby="edit-note"
        aria-invalid={tooLong || refused !== null ? true : undefined}
        onInput={(e) => {
          setText(e.currentTarget.value);
          setRefused(null);
        }}
        onKeyDown={(e) => {
          if (e.key === "Escape") props.onCancel();
        }}
      />
      {refused !== null ? (
        <p id="edit-note" class="hint too-long" role="alert">
          {refused}
        </p>
      ) : (
        <p id="edit-note" class="hint">
          {tooLong
            ? `${text.length.toLocaleString("en")} / ${MAX_MESSAGE_CHARS.toLocaleString("en")} characters: shorten the message to send it.`
            : EDIT_NOTE}
        </p>
      )}
      <div class="edit-actions">
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={!canSend}>
          Send
        </button>
      </div>
    </form>
  );
}

/** The conversation's messages, the answer streaming in, and what went wrong. */
export function Messages(props: Props) {
  const { thread, onRetry, onRetryLoad, onRegenerate, onEdit } = props;
  const [editing, setEditing] = useState<number | null>(null);
  const { messages, streaming, error, load } = thread;
  const lastIndex = messages.length - 1;
  const unanswered =
    !streaming && !error && thread.conversation !== null && messages.at(-1)?.role === "user";

  return (
    <div class="thread">
      {thread.earlier !== null && load !== "missing" && (
        <Earlier state={thread.earlierLoad} onShow={props.onShowEarlier} />
      )}
      {messages.length === 0 && !streaming && load === "ready" && (
        <div class="empty">
          <p class="empty-title">How can I help you today?</p>
          <p class="empty-hint">Ask anything. Answers can be wrong: check what matters.</p>
        </div>
      )}
      {load === "missing" && (
        <div class="empty">
          <p class="empty-title">This conversation was not found.</p>
          <p class="empty-hint">
            It may have been deleted, or belong to another account.{" "}
            <a href={formatRoute({ page: "chat", id: null })}>Start a new chat</a>.
          </p>
        </div>
      )}
      {load === "loading" && messages.length === 0 && (
        <p class="loading" role="status">
          Loading the conversation…
        </p>
      )}
      {typeof load === "object" && (
        <div class="msg-error" role="alert">
          <p>Could not open this conversation. {load.message}</p>
          {load.retryable && (
            <button type="button" class="secondary" onClick={onRetryLoad}>
              Retry
            </button>
          )}
        </div>
      )}
      {messages.map((message, index) =>
        message.role === "user" ? (
          <div key={`u${message.seq ?? "new"}-${index}`} class="turn turn-user">
            {editing !== null && editing === message.seq ? (
              <EditForm
                message={message}
                onCancel={() => setEditing(null)}
                onSend={(content) => {
                  const refused = onEdit(message.seq!, content);
                  if (refused === null) setEditing(null);
                  return refused;
                }}
              />
            ) : (
              <>
                <article class="msg msg-user" aria-label="You said">
                  <div class="bubble">{message.content}</div>
                </article>
                {canEdit(thread, message) && (
                  <div class="msg-actions">
                    <button
                      type="button"
                      class="link-button"
                      aria-label="Edit message"
                      title="Edit and send again (later messages will be replaced)"
                      onClick={() => setEditing(message.seq)}
                    >
                      Edit
                    </button>
                  </div>
                )}
              </>
            )}
          </div>
        ) : (
          <div key={`a${message.seq ?? "new"}-${index}`} class="turn turn-assistant">
            <article class="msg msg-assistant" aria-label="Assistant answered">
              <Markdown text={message.content} />
            </article>
            {(message.stopped || message.interrupted) && (
              <p class="msg-note">
                {message.stopped ? "Stopped: the answer so far is kept." : "The answer is incomplete."}
              </p>
            )}
            {index === lastIndex && canRegenerate(thread) && (
              <div class="msg-actions">
                <button
                  type="button"
                  class="link-button"
                  aria-label="Regenerate the answer"
                  onClick={onRegenerate}
                >
                  Regenerate
                </button>
              </div>
            )}
          </div>
        ),
      )}
      {streaming && streaming.text === "" && (
        <div class="msg msg-assistant waiting" role="status">
          <span class="dots" aria-hidden="true">
            <span />
            <span />
            <span />
          </span>
          <span class="waiting-text">
            {streaming.phase === "stopping" ? "Stopping…" : "Waiting for the answer…"}
          </span>
        </div>
      )}
      {streaming && streaming.text !== "" && (
        <div class="turn turn-assistant">
          <article
            class="msg msg-assistant streaming"
            aria-label="Assistant is answering"
            aria-busy="true"
          >
            <Markdown text={streaming.text} />
          </article>
        </div>
      )}
      {error && (
        <div class="msg-error" role="alert">
          <p>{error.message}</p>
          {error.retryable && thread.retry && (
            <button type="button" class="secondary" onClick={onRetry}>
              Retry
            </button>
          )}
        </div>
      )}
      {unanswered && (
        <div class="msg-error msg-unanswered">
          <p>This message has no answer yet.</p>
          <button type="button" class="secondary" onClick={onRegenerate}>
            Retry
          </button>
        </div>
      )}
    </div>
  );
}
