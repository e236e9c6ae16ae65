// Answers are Markdown from a model: rendered with marked, then sanitized with DOMPurify
// before they touch the page. Code blocks get a copy button; links open in a new tab without
// a referrer; images become links (an <img> would fetch a URL the model chose, which can
// carry data out of the conversation).
import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    image({ href, text }) {
      const label = text.trim() || href;
      return `<a href="${escapeAttribute(href)}">${escapeText(label)}</a>`;
    },
  },
});

const FORBID_TAGS = [
  "style",
  "img",
  "picture",
  "video",
  "audio",
  "source",
  "track",
  "iframe",
  "form",
  "input",
  "button",
  "textarea",
  "select",
  "option",
  "dialog",
  "template",
];

let hooked = false;
function purifier(): typeof DOMPurify {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node instanceof Element && node.tagName === "A" && node.hasAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, "&quot;");
}

/** Markdown to sanitized HTML (a string; safe to assign to innerHTML). */
export function renderMarkdown(markdown: string): string {
  const html = marked.parse(markdown) as string;
  return purifier().sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS,
    FORBID_ATTR: ["style", "id", "name"],
  });
}

/** Wrap each code block in a box with its language and a copy button. */
export function enhanceCodeBlocks(root: ParentNode): void {
  const doc = (root as Node).ownerDocument ?? document;
  for (const pre of Array.from(root.querySelectorAll("pre"))) {
    if (pre.parentElement?.classList.contains("codeblock")) continue;
    const code = pre.querySelector("code");
    const language = /(?:^|\s)language-([\w+#.-]+)/.exec(code?.className ?? "")?.[1] ?? "";
    const box = doc.createElement("div");
    box.className = "codeblock";
    const bar = doc.createElement("div");
    bar.className = "codeblock-bar";
    const label = doc.createElement("span");
    label.textContent = language || "code";
    const button = doc.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", language ? `Copy ${language} code` : "Copy code");
    bar.append(label, button);
    pre.replaceWith(box);
    pre.tabIndex = 0; // long lines scroll: let keyboard users scroll them
    box.append(bar, pre);
  }
}

/** The text a code block's copy button copies. */
export function codeOf(button: Element): string {
  return button.closest(".codeblock")?.querySelector("pre")?.textContent ?? "";
}

/** Plain text of a Markdown answer, for screen-reader announcements. */
export function plainText(markdown: string): string {
  const template = document.createElement("template");
  template.innerHTML = renderMarkdown(markdown);
  return (template.content.textContent ?? "").replace(/\s+/g, " ").trim();
}

/**
 * Copy text to the clipboard. The Clipboard API needs a secure context, and an S3 website
 * endpoint is plain HTTP, so fall back to a selected, off-screen textarea there.
 */
export async function copyText(text: string, doc: Document = document): Promise<boolean> {
  const win = doc.defaultView;
  if (win?.isSecureContext && win.navigator.clipboard) {
    try {
      await win.navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the legacy path (e.g. permission refused)
    }
  }
  const previous = doc.activeElement as HTMLElement | null;
  const area = doc.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.setAttribute("aria-hidden", "true");
  area.className = "offscreen";
  doc.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = doc.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  previous?.focus();
  return copied;
}
