// A threaded chat with the AI SDK's own client: `DefaultChatTransport` with the "send only the
// last message" `prepareSendMessagesRequest` of the AI SDK's message-persistence guide (the body
// is `{id, message}`: the server holds the rest). The last question's answer is dropped after a
// few parts and resumed by the chat's id (`reconnectToStream`, what `useChat({resume: true})`
// calls). Prints the bodies sent and the messages the AI SDK rebuilt.
// Usage: node threaded.mjs <api url> <chat id> <question>...
import { DefaultChatTransport, readUIMessageStream } from "ai";

const [api, chatId, ...questions] = process.argv.slice(2);
const sent = [];
const transport = new DefaultChatTransport({
  api,
  prepareSendMessagesRequest({ id, messages }) {
    const body = { id, message: messages[messages.length - 1] };
    sent.push(body);
    return { body };
  },
});

async function rebuild(stream) {
  let last = null;
  for await (const message of readUIMessageStream({ stream, onError: (e) => { throw e; } })) {
    last = message;
  }
  return last;
}

const messages = [];
let resumed = false;
for (const [i, question] of questions.entries()) {
  messages.push({ id: `user-${i}`, role: "user", parts: [{ type: "text", text: question }] });
  const abort = new AbortController();
  const stream = await transport.sendMessages({
    chatId,
    messages,
    abortSignal: abort.signal,
    trigger: "submit-message",
    messageId: undefined,
  });
  let answer;
  if (i < questions.length - 1) {
    answer = await rebuild(stream);
  } else {
    const reader = stream.getReader();
    for (let n = 0; n < 4; n++) {
      if ((await reader.read()).done) break;
    }
    abort.abort(); // the connection drops
    await reader.cancel().catch(() => {});
    const again = await transport.reconnectToStream({ chatId });
    resumed = again != null;
    answer = again == null ? null : await rebuild(again);
  }
  messages.push(answer);
}
console.log(JSON.stringify({ sent, resumed, messages }));
