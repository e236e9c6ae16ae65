import { useLayoutEffect, useMemo, useRef } from "preact/hooks";

import { codeOf, copyText, enhanceCodeBlocks, renderMarkdown } from "./markdown";

/** A sanitized Markdown answer; copy buttons on code blocks. */
export function Markdown({ text }: { text: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const html = useMemo(() => renderMarkdown(text), [text]);

  useLayoutEffect(() => {
    const root = ref.current;
    if (!root) return;
    root.innerHTML = html; // sanitized by renderMarkdown
    enhanceCodeBlocks(root);
  }, [html]);

  async function onClick(event: MouseEvent) {
    const button = (event.target as Element).closest("button.copy");
    if (!(button instanceof HTMLButtonElement)) return;
    const copied = await copyText(codeOf(button));
    button.textContent = copied ? "Copied" : "Copy failed";
    window.setTimeout(() => {
      button.textContent = "Copy";
    }, 2000);
  }

  return <div class="markdown" ref={ref} onClick={onClick} />;
}
