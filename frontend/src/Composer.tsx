import type { ComponentChildren, RefObject } from "preact";
import { useLayoutEffect, useState } from "preact/hooks";

import { MAX_MESSAGE_CHARS } from "./conversations";
import { SendIcon, StopIcon } from "./icons";

interface Props {
  inputRef: RefObject<HTMLTextAreaElement | null>;
  /** An answer is streaming in this conversation: Stop instead of Send. */
  streaming: boolean;
  /** Stop was pressed; the server is ending the answer. */
  stopping: boolean;
  disabled: boolean;
  /** Returns true when the message was taken; false when not (keep the text); or why it
   * cannot be sent (keep the text, and say so). */
  onSend: (text: string) => boolean | string;
  onStop: () => void;
  /** Shown below the message box (the model picker). */
  children?: ComponentChildren;
}

/** Enter sends, Shift+Enter starts a new line (and Enter while composing with an IME
 * finishes the composition instead of sending). */
export function Composer({ inputRef, streaming, stopping, disabled, onSend, onStop, children }: Props) {
  const [text, setText] = useState("");
  /** Why the text as it is could not be sent (cleared when it changes). */
  const [refused, setRefused] = useState<string | null>(null);
  const tooLong = text.length > MAX_MESSAGE_CHARS;
  const canSend = !streaming && !disabled && !tooLong && text.trim() !== "";

  // Grow with the text, up to the max-height set in CSS.
  useLayoutEffect(() => {
    const area = inputRef.current;
    if (!area) return;
    area.style.height = "auto";
    area.style.height = `${area.scrollHeight}px`;
  }, [text]);

  function submit(event?: Event) {
    event?.preventDefault();
    if (!canSend) return;
    const outcome = onSend(text.trim());
    if (typeof outcome === "string") setRefused(outcome);
    else if (outcome) setText("");
  }

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  }

  return (
    <form class="composer" onSubmit={submit}>
      <div class="composer-box">
        <label for="prompt" class="sr-only">
          Message
        </label>
        <textarea
          ref={inputRef}
          id="prompt"
          name="prompt"
          rows={1}
          placeholder="Message the assistant"
          value={text}
          disabled={disabled}
          aria-describedby="composer-hint"
          aria-invalid={tooLong || refused !== null ? true : undefined}
          onInput={(e) => {
            setText(e.currentTarget.value);
            setRefused(null);
          }}
          onKeyDown={onKeyDown}
        />
        {streaming ? (
          <button
            type="button"
            class="send-button"
            aria-label={stopping ? "Stopping" : "Stop"}
            title="Stop the answer (the text so far is kept)"
            disabled={stopping}
            onClick={onStop}
          >
            <StopIcon />
          </button>
        ) : (
          <button type="submit" class="send-button" aria-label="Send" disabled={!canSend}>
            <SendIcon />
          </button>
        )}
      </div>
      <div class="composer-foot">
        {children}
        {refused !== null ? (
          <p id="composer-hint" class="hint too-long" role="alert">
            {refused}
          </p>
        ) : (
          <p id="composer-hint" class={tooLong ? "hint too-long" : "hint"}>
            {tooLong
              ? `${text.length.toLocaleString("en")} / ${MAX_MESSAGE_CHARS.toLocaleString("en")} characters: shorten the message to send it.`
              : "Enter to send, Shift+Enter for a new line."}
          </p>
        )}
      </div>
    </form>
  );
}
