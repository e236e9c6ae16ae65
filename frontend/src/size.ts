// API Gateway's WebSocket size limits (docs/api.md, "WebSocket: streamed answers" → "Sizes"):
// a browser sends each message as one frame, and a frame over 32 KB closes the connection
// with 1009 before any function sees it. The app measures each message before sending it.

/** The largest frame API Gateway takes, in bytes of UTF-8. */
export const MAX_FRAME_BYTES = 32 * 1024;
/** The close code of a frame or message over the limits ("message too big", RFC 6455). */
export const MESSAGE_TOO_BIG = 1009;

const encoder = new TextEncoder();

/** The size of `text` as the WebSocket sends it (UTF-8). */
export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** kB with one decimal, rounded up: a message just over the limit never reads "32.0". */
function kilobytes(bytes: number): string {
  return (Math.ceil(bytes / 102.4) / 10).toFixed(1);
}

/** What the person is told when a message is too large to send (their text stays). */
export function tooLargeToSend(bytes: number): string {
  return (
    `This message is too long to send (${kilobytes(bytes)} kB of ` +
    `${MAX_FRAME_BYTES / 1024} kB); shorten it.`
  );
}

/** What a request is told when the server closed the connection with 1009 after it. */
export const CLOSED_TOO_LARGE =
  "The last message was too large to send (over 32 kB), so the server closed the connection. " +
  "Shorten it and try again.";
