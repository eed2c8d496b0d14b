// Small DOM helpers shared by the page's modules. Text always goes in as
// text (never as HTML), so event data cannot inject markup.

/** The element with this id; throws if the page lacks it. */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/** `h("p", { class: "x" }, "text", child)`: an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

/** Formats a whole number of currency units: 1234 → "1,234", -40 → "−40". */
export function money(n) {
  const s = Math.abs(n).toLocaleString("en-US");
  return n < 0 ? `\u2212${s}` : s;
}

/**
 * Shows an outcome in an `<output>` (an aria-live region): `tone` is "ok",
 * "refused" or "info"; `lines` are extra paragraphs; `json: { label, value }` is shown as code.
 */
export function showResult(output, { tone, title, lines = [], json }) {
  const parts = [h("p", { class: `headline ${tone}` }, title), ...lines.map((l) => h("p", {}, l))];
  if (json !== undefined) {
    parts.push(h("p", { class: "json-label" }, json.label), h("pre", { class: "code" }, compactJson(json.value)));
  }
  output.replaceChildren(...parts);
  output.dataset.tone = tone;
}

/**
 * JSON laid out for reading: objects one key per line, two levels deep;
 * deeper values on one line (`"selector": {"stream":"acc-1"}`).
 */
export function compactJson(value, indent = "", depth = 0) {
  const nested = (v) => compactJson(v, `${indent}  `, depth + 1);
  if (depth > 2 || value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (depth > 0) return JSON.stringify(value);
    return `[\n${value.map((v) => `${indent}  ${nested(v)}`).join(",\n")}\n${indent}]`;
  }
  const lines = Object.entries(value).map(([k, v]) => `${indent}  ${JSON.stringify(k)}: ${nested(v)}`);
  return `{\n${lines.join(",\n")}\n${indent}}`;
}

/** Reads a form field as a whole number ≥ `min`, or throws a message for the person. */
export function wholeNumber(form, name, label, min = 0) {
  const raw = form.elements[name].value.trim();
  const n = Number(raw);
  if (raw === "" || !Number.isSafeInteger(n) || n < min) {
    throw new UserMistake(`${label} must be a whole number${min > 0 ? ` of at least ${min}` : " (0 or more)"}.`);
  }
  return n;
}

/** A mistake in what the person typed: shown in the section, not as a fault. */
export class UserMistake extends Error {}

/** Fills a `<select>` with these values, keeping the selection if it is still there. */
export function fillSelect(select, values, empty = "no accounts yet") {
  const keep = select.value;
  const options = values.length > 0 ? values.map((v) => h("option", { value: v }, v)) : [h("option", { value: "" }, empty)];
  select.replaceChildren(...options);
  if (values.includes(keep)) select.value = keep;
}

/** Sorts "acc-2" before "acc-10". */
export const naturally = (a, b) => a.localeCompare(b, "en", { numeric: true });
