/* The first lines of an import file as the import page previews them: pure functions, no
 * DOM, so node --test can call them. The server checks every line again; this preview only
 * shows what the file looks like and where a line is not JSON. */

export const PREVIEW_LINES = 5;
export const PREVIEW_BYTES = 256 * 1024;

const HH_ASSISTANT = "\n\nAssistant:";

/* gzip files start with the bytes 1f 8b. */
export function isGzip(name, firstBytes) {
  if (firstBytes && firstBytes.length >= 2 && firstBytes[0] === 0x1f && firstBytes[1] === 0x8b) return true;
  return /\.gz$/i.test(String(name || ""));
}

function lastText(messages) {
  if (!Array.isArray(messages) || !messages.length) return "";
  const last = messages[messages.length - 1];
  return last && typeof last.content === "string" ? last.content : "";
}

function promptOf(value) {
  if (typeof value.prompt === "string") return value.prompt;
  if (Array.isArray(value.prompt)) return lastText(value.prompt);
  if (Array.isArray(value.messages)) return lastText(value.messages);
  return "";
}

function answer(value) {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return lastText(value);
  if (value && typeof value === "object" && typeof value.text === "string") return value.text;
  return "";
}

function hhSplit(chosen, rejected) {
  const a = String(chosen || "");
  const b = String(rejected || "");
  let shared = 0;
  while (shared < a.length && shared < b.length && a[shared] === b[shared]) shared += 1;
  const cut = a.slice(0, shared).lastIndexOf(HH_ASSISTANT);
  if (cut < 0) return { prompt: "", responses: [a, b] };
  const start = cut + HH_ASSISTANT.length;
  const prompt = a.slice(0, cut).split("\n\nHuman:").pop().trim();
  return { prompt, responses: [a.slice(start).trimStart(), b.slice(start).trimStart()] };
}

/* {prompt, responses} of one parsed line in the given format. */
export function describeLine(value, format) {
  if (format === "hh-rlhf") return hhSplit(value.chosen, value.rejected);
  if (format === "trl") {
    const prompt = value.prompt === undefined ? lastText(value.chosen && value.chosen.slice(0, -1)) : promptOf(value);
    return { prompt, responses: [answer(value.chosen), answer(value.rejected)] };
  }
  if (format === "prompts") return { prompt: promptOf(value), responses: [] };
  const responses = Array.isArray(value.responses) ? value.responses.map(answer) : [];
  return { prompt: promptOf(value), responses };
}

/* Rows for the first `max` non-blank lines of `text`: {line, prompt, responses} or
 * {line, error}. Line numbers count blank lines, as the importer's do. `truncated` says
 * `text` is only the start of the file, so its last, maybe cut, line is left out. */
export function previewLines(text, format, { max = PREVIEW_LINES, truncated = false } = {}) {
  const lines = String(text).replace(/^\uFEFF/, "").split("\n");
  if (truncated && lines.length > 1) lines.pop();
  const rows = [];
  for (let i = 0; i < lines.length && rows.length < max; i += 1) {
    const raw = lines[i].replace(/\r$/, "");
    if (!raw.trim()) continue;
    const line = i + 1;
    let value;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      rows.push({ line, error: `Not valid JSON: ${err.message}` });
      continue;
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      rows.push({ line, error: "A line must be a JSON object." });
      continue;
    }
    rows.push({ line, ...describeLine(value, format) });
  }
  return rows;
}
