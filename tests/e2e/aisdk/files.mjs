// Sends a user message with a file part the way useChat does (the AI SDK's DefaultChatTransport,
// the part built as its convertFileListToFileUIParts builds one: a data: URL), rebuilds the
// answer with readUIMessageStream, and prints it as JSON; a refusal prints its status and error.
// Usage: node files.mjs <url> <file path> <media type> <question>
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { DefaultChatTransport, readUIMessageStream } from "ai";

const [url, path, mediaType, question] = process.argv.slice(2);
const bytes = await readFile(path);
const file = {
  type: "file",
  mediaType,
  filename: basename(path),
  url: `data:${mediaType};base64,${bytes.toString("base64")}`,
};
const messages = [{ id: "u1", role: "user", parts: [file, { type: "text", text: question }] }];
const transport = new DefaultChatTransport({ api: url });
let stream;
try {
  stream = await transport.sendMessages({
    chatId: "chat-files",
    messages,
    trigger: "submit-message",
    messageId: undefined,
    abortSignal: undefined,
  });
} catch (error) {
  // The transport throws the response's text for a status other than 2xx.
  console.log(JSON.stringify({ status: "refused", error: String(error.message) }));
  process.exit(0);
}
let last;
for await (const message of readUIMessageStream({ stream, onError: (e) => { throw e; } })) {
  last = message;
}
console.log(JSON.stringify({ status: 200, message: last }));
