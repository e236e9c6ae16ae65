import { useEffect, useRef } from "preact/hooks";

import type { Conversation } from "./conversations";
import { PlusIcon, TrashIcon } from "./icons";
import { formatRoute } from "./router";
import type { SigningOut } from "./session";

interface Props {
  conversations: Conversation[];
  currentId: string | null;
  pending: Record<string, unknown>;
  username: string;
  /** Shown as a drawer (narrow screens only; always visible on wide ones). */
  open: boolean;
  onNewChat: () => void;
  onSelect: (id: string) => void;
  onDelete: (conversation: Conversation) => void;
  /** Which sign-out is waiting for the server, if any. */
  signingOut: SigningOut | null;
  onSignOut: (everywhere: boolean) => void;
  onClose: () => void;
}

export function Sidebar(props: Props) {
  const { conversations, currentId, open, signingOut } = props;
  const newChatRef = useRef<HTMLButtonElement>(null);

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
      <nav class="history" aria-label="Past conversations">
        {conversations.length === 0 ? (
          <p class="history-empty">Your conversations will appear here.</p>
        ) : (
          <ul>
            {conversations.map((conversation) => (
              <li key={conversation.id} class={conversation.id === currentId ? "current" : ""}>
                <a
                  href={formatRoute({ page: "chat", id: conversation.id })}
                  aria-current={conversation.id === currentId ? "page" : undefined}
                  onClick={() => props.onSelect(conversation.id)}
                >
                  {conversation.title}
                  {conversation.id in props.pending && <span class="sr-only"> (waiting)</span>}
                </a>
                <button
                  type="button"
                  class="icon-button delete"
                  aria-label={`Delete “${conversation.title}”`}
                  title="Delete"
                  onClick={() => props.onDelete(conversation)}
                >
                  <TrashIcon />
                </button>
              </li>
            ))}
          </ul>
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
          Signing out removes your conversations from this browser.
        </p>
      </div>
    </aside>
  );
}
