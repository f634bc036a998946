// Rebuilds the assistant message of one POST /api/chat?protocol=ai-sdk with the AI SDK's own
// client code (the parser and readUIMessageStream that useChat runs), and prints it as JSON.
// Usage: node rebuild.mjs <url> <request body as JSON>
// AISDK_PACKAGE names the client's AI SDK major (`ai`, the default, is 5; `ai6`, `ai7`), and
// AISDK_MESSAGE the assistant message (JSON) the stream continues, as useChat passes its last one.
const { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema } = await import(
  process.env.AISDK_PACKAGE || "ai"
);

const [url, body] = process.argv.slice(2);
const continued = process.env.AISDK_MESSAGE ? JSON.parse(process.env.AISDK_MESSAGE) : undefined;
const response = await fetch(url, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body,
});
if (!response.ok) {
  console.log(JSON.stringify({ status: response.status, error: await response.text() }));
  process.exit(0);
}
const chunks = parseJsonEventStream({ stream: response.body, schema: uiMessageChunkSchema }).pipeThrough(
  new TransformStream({
    transform(part, controller) {
      if (!part.success) throw part.error;
      controller.enqueue(part.value);
    },
  }),
);
let last;
let snapshots = 0;
for await (const message of readUIMessageStream({ message: continued, stream: chunks, onError: (e) => { throw e; } })) {
  last = message;
  snapshots += 1;
}
console.log(JSON.stringify({ status: response.status, snapshots, message: last }));
