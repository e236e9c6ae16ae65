import type { RefObject } from "preact";
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
  /** Returns false when the message was not taken (keep the text). */
  onSend: (text: string) => boolean;
  onStop: () => void;
}

/** Enter sends, Shift+Enter starts a new line (and Enter while composing with an IME
 * finishes the composition instead of sending). */
export function Composer({ inputRef, streaming, stopping, disabled, onSend, onStop }: Props) {
  const [text, setText] = useState("");
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
    if (onSend(text.trim())) setText("");
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
          aria-invalid={tooLong ? true : undefined}
          onInput={(e) => setText(e.currentTarget.value)}
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
      <p id="composer-hint" class={tooLong ? "hint too-long" : "hint"}>
        {tooLong
          ? `${text.length.toLocaleString("en")} / ${MAX_MESSAGE_CHARS.toLocaleString("en")} characters: shorten the message to send it.`
          : "Enter to send, Shift+Enter for a new line."}
      </p>
    </form>
  );
}
