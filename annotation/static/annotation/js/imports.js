/* The import page: a drop zone on the file input, a preview of the file's first lines, and
 * the upload through the import API without leaving the page, so that after an error the
 * file is still chosen and a fixed file can be imported at once. Without JavaScript the
 * form posts to the page itself. */

import { ApiError, createApi, describeError } from "./api.js";
import { make } from "./dom.js";
import { PREVIEW_BYTES, isGzip, previewLines } from "./import_preview.js";

const config = JSON.parse(document.getElementById("import-config").textContent);
const $ = (id) => document.getElementById(id);
const form = $("import-form");
const input = $("id_file");
const zone = $("dropzone");
const format = $("id_format");
const labels = $("id_labels");
const outcome = $("import-outcome");
const preview = { box: $("preview"), note: $("preview-note"), body: document.querySelector("#preview-table tbody"), table: $("preview-table") };
const button = $("import");

const api = createApi({ csrfFallback: () => form.querySelector("input[name=csrfmiddlewaretoken]").value });

const short = (text, n = 160) => (text.length > n ? `${text.slice(0, n)}…` : text);

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function showPreview() {
  const file = input.files && input.files[0];
  $("chosen-file").textContent = file ? `Chosen: ${file.name} (${sizeText(file.size)})` : "";
  preview.box.hidden = !file;
  if (!file) return;
  const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  preview.body.replaceChildren();
  if (isGzip(file.name, head)) {
    preview.table.hidden = true;
    preview.note.textContent = "Preview unavailable for gzip files: the import still checks every line.";
    return;
  }
  const text = await file.slice(0, PREVIEW_BYTES).text();
  const rows = previewLines(text, format.value, { truncated: file.size > PREVIEW_BYTES });
  preview.table.hidden = rows.length === 0;
  const bad = rows.filter((r) => r.error).length;
  preview.note.textContent = rows.length === 0 ? "The file has no lines."
    : `The first ${rows.length} line${rows.length === 1 ? "" : "s"} as ${format.value}` +
      (bad ? `: ${bad} of them ${bad === 1 ? "is" : "are"} not valid JSON.` : ".");
  preview.body.replaceChildren(...rows.map((row) => make("tr", { class: row.error ? "bad-line" : null },
    make("td", null, String(row.line)),
    row.error
      ? make("td", { colspan: "2", class: "error" }, `Line ${row.line}: ${row.error}`)
      : make("td", null, short(row.prompt)),
    row.error ? null : make("td", null, row.responses.length
      ? make("ol", { class: "preview-responses" }, ...row.responses.map((r) => make("li", null, r ? short(r) : "(empty)")))
      : make("span", { class: "muted" }, "none: a prompt alone")),
  )));
}

function showResult(result) {
  const rows = [
    ["Created", "created", result.created], ["Prompts waiting for responses", "prompts", result.prompts],
    ["Duplicates skipped", "duplicates", result.duplicates], ["Imported labels", "imported-labels", result.imported_labels],
    ["Gold items", "gold", result.gold], ["Empty responses", "empty-responses", result.empty_responses],
  ];
  outcome.replaceChildren(make("section", { class: "card", id: "import-result" },
    make("p", { class: "ok" }, `Imported ${result.created} item${result.created === 1 ? "" : "s"}.`),
    make("table", null, make("tbody", null, ...rows.map(([label, id, value]) =>
      make("tr", null, make("th", null, label), make("td", { id }, String(value ?? 0)))))),
    make("p", { class: "actions" }, make("a", { class: "button", id: "items-link", href: config.items }, "See the items")),
  ));
}

function showError(err) {
  const { message, problems } = describeError(err.status, err.body, { network: err.network });
  const lines = err.body && Array.isArray(err.body.errors) ? err.body.errors.filter((e) => e && e.line != null) : [];
  outcome.replaceChildren(make("section", { class: "card", id: "import-errors", role: "alert" },
    make("p", { class: "error" }, message),
    lines.length
      ? make("table", null, make("thead", null, make("tr", null, make("th", null, "Line"), make("th", null, "Problem"))),
        make("tbody", null, ...lines.map((e) => make("tr", null, make("td", null, String(e.line)), make("td", null, String(e.message))))))
      : problems.length ? make("ul", null, ...problems.map((p) => make("li", null, p))) : null,
    make("p", { class: "muted" }, `${input.files[0].name} is still chosen: fix it and import again, or choose another file.`),
  ));
}

async function submit(event) {
  event.preventDefault();
  if (!input.files || !input.files[0]) { input.focus(); return; }
  const body = new FormData();
  body.append("file", input.files[0]);
  const query = new URLSearchParams({ format: format.value });
  if (labels.value) query.set("labels", labels.value);
  button.disabled = true;
  button.textContent = "Importing…";
  try {
    const res = await api.request("POST", `${config.api}?${query}`, { body });
    showResult(res.data);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    showError(err);
  } finally {
    button.disabled = false;
    button.textContent = "Import";
    outcome.scrollIntoView({ block: "nearest" });
  }
}

zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("over");
});
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  if (!event.dataTransfer || !event.dataTransfer.files.length) return;
  input.files = event.dataTransfer.files;
  showPreview();
});
input.addEventListener("change", showPreview);
format.addEventListener("change", showPreview);
form.addEventListener("submit", submit);
if (input.files && input.files.length) showPreview();
