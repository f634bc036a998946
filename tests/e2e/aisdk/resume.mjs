// Drops an AI SDK chat request halfway and resumes it with the AI SDK's own resume flow: the
// `DefaultChatTransport` that `useChat({resume: true})` uses, `reconnectToStream` being what its
// `resumeStream()` calls (GET <api>/<chat id>/stream). Prints the rebuilt assistant message.
// Usage: node resume.mjs <api url> <chat id> <question> <chunks to read before dropping>
import { DefaultChatTransport, readUIMessageStream } from "ai";

const [api, chatId, question, before] = process.argv.slice(2);
const transport = new DefaultChatTransport({ api });
const messages = [{ id: "user-1", role: "user", parts: [{ type: "text", text: question }] }];
const abort = new AbortController();
const first = await transport.sendMessages({
  chatId,
  messages,
  abortSignal: abort.signal,
  trigger: "submit-message",
  messageId: undefined,
});
const reader = first.getReader();
const seen = [];
while (seen.length < Number(before)) {
  const { value, done } = await reader.read();
  if (done) break;
  seen.push(value.type);
}
abort.abort(); // the connection drops
await reader.cancel().catch(() => {});

const resumed = await transport.reconnectToStream({ chatId });
if (resumed == null) {
  console.log(JSON.stringify({ resumed: false, seen }));
  process.exit(0);
}
let last;
for await (const message of readUIMessageStream({ stream: resumed, onError: (e) => { throw e; } })) {
  last = message;
}
// Once the answer has ended there is nothing left to resume.
const after = await transport.reconnectToStream({ chatId });
console.log(JSON.stringify({ resumed: true, seen, message: last, afterEnd: after == null ? null : "stream" }));
