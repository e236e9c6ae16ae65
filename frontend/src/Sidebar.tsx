import { useEffect, useRef, useState } from "preact/hooks";

import type { ApiError, ConversationSummary } from "./api";
import { PencilIcon, PlusIcon, TrashIcon } from "./icons";
import { formatRoute } from "./router";
import type { SigningOut } from "./session";

/** The server's limit on a title (docs/api.md, `PATCH /conversations/{id}`). */
export const MAX_TITLE_CHARS = 200;

interface Props {
  conversations: ConversationSummary[];
  /** The list: being read from the server, read, or failed. */
  listState: "loading" | "ready" | ApiError;
  /** The server has more (older) conversations. */
  hasMore: boolean;
  onLoadMore: () => void;
  onRetryList: () => void;
  /** What went wrong with the last delete, if it did. */
  error: string | null;
  currentId: string | null;
  /** Conversations with an answer streaming in. */
  answering: Record<string, unknown>;
  username: string;
  /** Shown as a drawer (narrow screens only; always visible on wide ones). */
  open: boolean;
  onNewChat: () => void;
  onSelect: (id: string) => void;
  onDelete: (conversation: ConversationSummary) => void;
  /** Resolves to what went wrong, or null once renamed. */
  onRename: (conversation: ConversationSummary, title: string) => Promise<string | null>;
  /** Which sign-out is waiting for the server, if any. */
  signingOut: SigningOut | null;
  onSignOut: (everywhere: boolean) => void;
  onClose: () => void;
}

function RenameForm(props: {
  conversation: ConversationSummary;
  onRename: Props["onRename"];
  onDone: () => void;
}) {
  const [title, setTitle] = useState(props.conversation.title);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const ref = useRef<HTMLInputElement>(null);
  const trimmed = title.trim();

  useEffect(() => {
    ref.current?.select();
  }, []);

  async function submit(event: Event) {
    event.preventDefault();
    if (saving) return;
    if (trimmed === "" || trimmed.length > MAX_TITLE_CHARS) {
      setError(`A title has 1 to ${MAX_TITLE_CHARS} characters.`);
      return;
    }
    if (trimmed === props.conversation.title) {
      props.onDone();
      return;
    }
    setSaving(true);
    const failure = await props.onRename(props.conversation, trimmed);
    setSaving(false);
    if (failure) setError(failure);
    else props.onDone();
  }

  return (
    <form class="rename" onSubmit={submit} aria-busy={saving}>
      <label class="sr-only" for="rename-title">
        New title for “{props.conversation.title}”
      </label>
      <input
        ref={ref}
        id="rename-title"
        value={title}
        maxLength={MAX_TITLE_CHARS}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? "rename-error" : undefined}
        onInput={(e) => setTitle(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.stopPropagation();
            props.onDone();
          }
        }}
      />
      <div class="rename-actions">
        <button type="submit" class="secondary" disabled={saving}>
          Save
        </button>
        <button type="button" class="secondary" onClick={props.onDone}>
          Cancel
        </button>
      </div>
      {error && (
        <p id="rename-error" class="rename-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

export function Sidebar(props: Props) {
  const { conversations, currentId, open, signingOut, listState } = props;
  const newChatRef = useRef<HTMLButtonElement>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  const navRef = useRef<HTMLElement>(null);
  /** The conversation whose link takes focus once its rename form has gone. */
  const focusAfterRename = useRef<string | null>(null);

  useEffect(() => {
    const id = focusAfterRename.current;
    if (renaming !== null || id === null) return;
    focusAfterRename.current = null;
    navRef.current
      ?.querySelector<HTMLAnchorElement>(`a[href="${formatRoute({ page: "chat", id })}"]`)
      ?.focus();
  }, [renaming]);

  useEffect(() => {
    if (!open) return;
    newChatRef.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") props.onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);

  function signOutEverywhere() {
    const sure = window.confirm(
      `Sign out “${props.username}” everywhere? Every session ends, on this device and all ` +
        "others, and this browser forgets your conversations.",
    );
    if (sure) props.onSignOut(true);
  }

  return (
    <aside id="sidebar" class="sidebar" aria-label="Conversations">
      <button ref={newChatRef} type="button" class="new-chat" onClick={props.onNewChat}>
        <PlusIcon />
        New chat
      </button>
      <nav class="history" aria-label="Past conversations" ref={navRef}>
        {props.error && (
          <p class="history-error" role="alert">
            {props.error}
          </p>
        )}
        {conversations.length === 0 && listState === "ready" && (
          <p class="history-empty">Your conversations will appear here.</p>
        )}
        {conversations.length > 0 && (
          <ul>
            {conversations.map((conversation) => (
              <li key={conversation.id} class={conversation.id === currentId ? "current" : ""}>
                {renaming === conversation.id ? (
                  <RenameForm
                    conversation={conversation}
                    onRename={props.onRename}
                    onDone={() => {
                      focusAfterRename.current = conversation.id;
                      setRenaming(null);
                    }}
                  />
                ) : (
                  <>
                    <a
                      href={formatRoute({ page: "chat", id: conversation.id })}
                      aria-current={conversation.id === currentId ? "page" : undefined}
                      onClick={() => props.onSelect(conversation.id)}
                    >
                      {conversation.title}
                      {conversation.id in props.answering && (
                        <span class="sr-only"> (answering)</span>
                      )}
                    </a>
                    <button
                      type="button"
                      class="icon-button rename-button"
                      aria-label={`Rename “${conversation.title}”`}
                      title="Rename"
                      onClick={() => setRenaming(conversation.id)}
                    >
                      <PencilIcon />
                    </button>
                    <button
                      type="button"
                      class="icon-button delete"
                      aria-label={`Delete “${conversation.title}”`}
                      title="Delete"
                      onClick={() => props.onDelete(conversation)}
                    >
                      <TrashIcon />
                    </button>
                  </>
                )}
              </li>
            ))}
          </ul>
        )}
        {listState === "loading" && (
          <p class="history-empty" role="status">
            Loading your conversations…
          </p>
        )}
        {typeof listState === "object" && (
          <div class="history-error" role="alert">
            <p>Could not load your conversations. {listState.message}</p>
            {listState.retryable && (
              <button type="button" class="secondary" onClick={props.onRetryList}>
                Retry
              </button>
            )}
          </div>
        )}
        {props.hasMore && listState === "ready" && (
          <button type="button" class="secondary load-more" onClick={props.onLoadMore}>
            Load more
          </button>
        )}
      </nav>
      <div class="account">
        <span class="account-name" title={props.username}>
          {props.username}
        </span>
        <div class="account-actions">
          <button
            type="button"
            class="secondary"
            disabled={signingOut !== null}
            aria-describedby="sign-out-note"
            onClick={() => props.onSignOut(false)}
          >
            {signingOut === "this session" && <span class="spinner" aria-hidden="true" />}
            {signingOut === "this session" ? "Signing out…" : "Sign out"}
          </button>
          <button
            type="button"
            class="secondary"
            disabled={signingOut !== null}
            aria-describedby="sign-out-note"
            onClick={signOutEverywhere}
          >
            {signingOut === "everywhere" && <span class="spinner" aria-hidden="true" />}
            {signingOut === "everywhere" ? "Signing out everywhere…" : "Sign out everywhere"}
          </button>
        </div>
        <p id="sign-out-note" class="account-note">
          Signing out removes your conversations from this browser; they stay on your account.
        </p>
      </div>
    </aside>
  );
}
