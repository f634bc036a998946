// Reads one POST /api/chat?protocol=text the way the AI SDK's `useObject` does (@ai-sdk/react's
// experimental_useObject): the body as text, the accumulated JSON parsed after each chunk with the
// AI SDK's own `parsePartialJson`, a new object kept only when `isDeepEqualData` says it changed.
// Prints the objects it would render and the final parse, as JSON.
// Usage: node object.mjs <url> <request body as JSON>
import { isDeepEqualData, parsePartialJson } from "ai";

const [url, body] = process.argv.slice(2);
const response = await fetch(url, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body,
});
if (!response.ok) {
  console.log(JSON.stringify({ status: response.status, error: await response.text() }));
  process.exit(0);
}
let text = "";
let latest;
const objects = [];
for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
  text += chunk;
  const { value } = await parsePartialJson(text);
  if (value !== undefined && !isDeepEqualData(latest, value)) {
    latest = value;
    objects.push(value);
  }
}
const final = await parsePartialJson(text);
console.log(
  JSON.stringify({
    status: response.status,
    contentType: response.headers.get("content-type"),
    objects,
    final: final.value,
    state: final.state,
  }),
);
