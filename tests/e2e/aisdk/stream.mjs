// Rebuilds the assistant message from a UI message stream read on stdin, with the client code of
// one installed AI SDK major (`ai` is 5, `ai6`, `ai7`), and prints it as JSON; a part that client
// refuses ends it with {"error": ...}; `data` lists the data parts the client parsed, the transient
// ones (which useChat hands to onData, not to the message) included.
// Usage: node stream.mjs <package> [<message to continue>] < body
const [pkg, continued] = process.argv.slice(2);
const { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema } = await import(pkg);

const body = new Response(process.stdin).body;
const data = [];
const chunks = parseJsonEventStream({ stream: body, schema: uiMessageChunkSchema }).pipeThrough(
  new TransformStream({
    transform(part, controller) {
      if (!part.success) throw part.error;
      if (part.value.type.startsWith("data-")) data.push(part.value);
      controller.enqueue(part.value);
    },
  }),
);
let last;
let snapshots = 0;
try {
  const message = continued ? JSON.parse(continued) : undefined;
  for await (const snapshot of readUIMessageStream({ message, stream: chunks, onError: (e) => { throw e; } })) {
    last = snapshot;
    snapshots += 1;
  }
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message ?? error), message: last, data }));
  process.exit(0);
}
console.log(JSON.stringify({ snapshots, message: last, data }));
