import { render } from "preact";
import { createRef } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { Composer } from "../src/Composer";

let root: HTMLDivElement;

beforeEach(() => {
  root = document.createElement("div");
  document.body.append(root);
});

afterEach(() => {
  render(null, root);
  root.remove();
});

function mount(props: {
  streaming?: boolean;
  stopping?: boolean;
  onSend?: (text: string) => boolean | string;
  onStop?: () => void;
}) {
  const onSend = vi.fn(props.onSend ?? (() => true));
  const onStop = vi.fn(props.onStop ?? (() => {}));
  act(() => {
    render(
      <Composer
        inputRef={createRef()}
        streaming={props.streaming ?? false}
        stopping={props.stopping ?? false}
        disabled={false}
        onSend={onSend}
        onStop={onStop}
      />,
      root,
    );
  });
  const textarea = root.querySelector("textarea")!;
  return { onSend, onStop, textarea };
}

function type(textarea: HTMLTextAreaElement, value: string) {
  act(() => {
    textarea.value = value;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

function key(textarea: HTMLTextAreaElement, init: KeyboardEventInit) {
  const event = new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true, ...init });
  act(() => {
    textarea.dispatchEvent(event);
  });
  return event;
}

describe("composer", () => {
  it("has a label", () => {
    const { textarea } = mount({});
    expect(root.querySelector(`label[for="${textarea.id}"]`)?.textContent).toBe("Message");
  });

  it("sends on Enter and clears", () => {
    const { onSend, textarea } = mount({});
    type(textarea, "  hello  ");
    const event = key(textarea, {});
    expect(event.defaultPrevented).toBe(true);
    expect(onSend).toHaveBeenCalledWith("hello");
    expect(textarea.value).toBe("");
  });

  it("keeps Shift+Enter for a new line, and Enter while composing (IME)", () => {
    const { onSend, textarea } = mount({});
    type(textarea, "line one");
    expect(key(textarea, { shiftKey: true }).defaultPrevented).toBe(false);
    expect(key(textarea, { isComposing: true }).defaultPrevented).toBe(false);
    expect(onSend).not.toHaveBeenCalled();
  });

  it("does not send blank text, or while an answer streams; offers Stop instead", () => {
    const blank = mount({});
    type(blank.textarea, "   \n ");
    key(blank.textarea, {});
    expect(blank.onSend).not.toHaveBeenCalled();
    act(() => render(null, root));

    const busy = mount({ streaming: true });
    type(busy.textarea, "next question");
    key(busy.textarea, {});
    expect(busy.onSend).not.toHaveBeenCalled();
    const stop = root.querySelector<HTMLButtonElement>('button[aria-label="Stop"]')!;
    act(() => stop.click());
    expect(busy.onStop).toHaveBeenCalledOnce();
    expect(busy.textarea.value).toBe("next question");
    act(() => render(null, root));

    // Once pressed, it waits for the server to end the answer.
    mount({ streaming: true, stopping: true });
    const stopping = root.querySelector<HTMLButtonElement>('button[aria-label="Stopping"]')!;
    expect(stopping.disabled).toBe(true);
  });

  it("keeps the text when the message was not taken", () => {
    const { textarea } = mount({ onSend: () => false });
    type(textarea, "keep me");
    key(textarea, {});
    expect(textarea.value).toBe("keep me");
  });

  it("refuses a message over the API's limit and says why", () => {
    const { onSend, textarea } = mount({});
    type(textarea, "x".repeat(32_001));
    key(textarea, {});
    expect(onSend).not.toHaveBeenCalled();
    expect(root.querySelector(".hint")?.textContent).toMatch(/32,001 \/ 32,000/);
    expect(root.querySelector<HTMLButtonElement>('button[aria-label="Send"]')!.disabled).toBe(true);
  });

  it("says why a message could not be sent, keeps the text, and clears the reason on typing", () => {
    const reason = "This message is too long to send (33.0 kB of 32 kB); shorten it.";
    const { onSend, textarea } = mount({ onSend: () => reason });
    type(textarea, "€".repeat(11_000));
    key(textarea, {});
    expect(onSend).toHaveBeenCalledOnce();
    expect(textarea.value).toBe("€".repeat(11_000));
    const alert = root.querySelector("[role=alert]")!;
    expect(alert.textContent).toBe(reason);
    expect(textarea.getAttribute("aria-describedby")).toBe(alert.id);
    expect(textarea.getAttribute("aria-invalid")).toBe("true");
    type(textarea, "€".repeat(10_000));
    expect(root.querySelector("[role=alert]")).toBeNull();
    expect(textarea.getAttribute("aria-invalid")).toBeNull();
  });
});
