// Section 3: the constraint playground. The person builds one batch
// constraint (min, max, range, or the DCB condition) over a selector; "Check"
// writes a `constraint_checked` event guarded by it, so the store itself
// decides, atomically, and reports every violation with its detail.
import { ConstraintViolationError } from "hindcast";
import { explain } from "./bank.js";
import { byId, wholeNumber } from "./ui.js";

export function setupPlayground(app) {
  const form = byId("play-form");
  const preview = byId("play-preview");
  const now = byId("play-now");
  const result = byId("play-result");
  const streams = byId("known-streams");

  /** The selector the form describes; `{}` (every event) when both fields are empty. */
  function selector() {
    const s = {};
    const stream = form.elements.stream.value.trim();
    const type = form.elements.type.value;
    if (stream) s.stream = stream;
    if (type) s.type = type;
    return s;
  }

  /** The constraint the form describes, exactly as it will be sent. */
  function constraint() {
    const kind = form.elements.kind.value;
    const sel = selector();
    const narrowed = Object.keys(sel).length > 0 ? { selector: sel } : {};
    switch (kind) {
      case "maxRevision":
        return { maxRevision: wholeNumber(form, "r", "r"), ...narrowed };
      case "minRevision":
        return { minRevision: wholeNumber(form, "r", "r"), ...narrowed };
      case "revisionRange":
        return { revisionRange: [wholeNumber(form, "a", "a"), wholeNumber(form, "b", "b")], ...narrowed };
      default:
        return { failIfEventsMatch: sel, after: wholeNumber(form, "after", "after p") };
    }
  }

  const MEANING = {
    maxRevision: (c) =>
      `Holds if no matching event is newer than revision ${c.maxRevision}` +
      (c.maxRevision === 0 ? ": nothing matching exists yet (create once)." : "."),
    minRevision: (c) =>
      `Holds if the newest matching event is at revision ${c.minRevision} or later` +
      (c.minRevision === 1 ? ": something matching exists." : "."),
    revisionRange: (c) =>
      `Holds if the newest matching event is between revisions ${c.revisionRange[0]} and ${c.revisionRange[1]} (0: none).`,
    failIfEventsMatch: (c) =>
      `Holds if no matching event arrived after revision ${c.after}: the Dynamic Consistency Boundary append condition.`,
  };

  /** Updates the preview, the visible inputs and what the store holds now. */
  function render() {
    const kind = form.elements.kind.value;
    for (const field of form.querySelectorAll(".field[data-for]")) {
      field.hidden = !field.dataset.for.split(" ").includes(kind);
    }
    const store = app.session().store;
    streams.replaceChildren(...Object.keys(app.bank().look().state).map((s) => new Option(s)));
    let c;
    try {
      c = constraint();
    } catch (e) {
      preview.textContent = "…";
      now.textContent = e.message;
      return;
    }
    preview.textContent = JSON.stringify(c);
    const newest = store.lastRevision(selector());
    now.textContent =
      `${MEANING[kind](c)} Now: the newest matching event is ` +
      (newest === 0 ? "none (revision 0)" : `at revision ${newest}`) +
      `; the head is revision ${store.revision}.`;
  }

  form.addEventListener("input", render);
  form.addEventListener("change", render);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    app.act(result, async () => {
      const c = constraint();
      try {
        const commit = await app.bank().write({
          events: [{ stream: "playground", type: "constraint_checked", data: { constraint: c } }],
          constraints: [c],
        });
        return {
          tone: "ok",
          title: `Holds: the batch committed, at revision ${commit.revision}.`,
          lines: ["The check itself is an event: the head has moved on to it."],
        };
      } catch (e) {
        if (!(e instanceof ConstraintViolationError)) throw e;
        return {
          tone: "refused",
          title: "Fails: the batch was refused and nothing was written.",
          lines: e.violations.map(explain),
          json: { label: "e.violations, as the ConstraintViolationError reports them:", value: e.violations },
        };
      }
    });
  });

  return render;
}
