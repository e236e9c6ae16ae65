import { useEffect, useRef } from "preact/hooks";

import type { Conversation } from "./conversations";
import { PlusIcon, TrashIcon } from "./icons";
import { formatRoute } from "./router";

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
  onLogout: () => void;
  onClose: () => void;
}

export function Sidebar(props: Props) {
  const { conversations, currentId, open } = props;
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
        <button type="button" class="secondary" onClick={props.onLogout}>
          Sign out
        </button>
      </div>
    </aside>
  );
}
