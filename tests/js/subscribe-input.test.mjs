// Bad input to subscribe throws an InvalidInputError synchronously, naming
// the path, and the refused subscription never delivers.
//
// Nothing here sleeps to synchronise: tests wait with waitFor, done or
// promises they control. `turns()` only gives the store room to do something
// it must not do (deliver after cancel, or while a handler is pending).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { InvalidInputError } from "hindcast";
import { revs, collect, turns, throwsInvalid } from "./helpers.mjs";
import { storeOf } from "./subscribe-helpers.mjs";

describe("bad input to subscribe", () => {
  const h = () => {};
  const CASES = [
    ["handler not a function", () => [42], "handler"],
    ["handler missing", () => [], "handler"],
    ["handler null", () => [null], "handler"],
    ["handler a string", () => ["account_opened"], "handler"],
    ["handler an array", () => [[h]], "handler"],
    ["matcher object with no types", () => [{}], "handler"],
    ["a matcher that is not a function", () => [{ account_opened: h, money_deposited: 1 }], ["handler.money_deposited", 'handler["money_deposited"]']],
    ["a matcher key that is not an identifier", () => [{ "acc-opened": "x" }], 'handler["acc-opened"]'],
    ["a misspelt selector key", () => [h, { selector: { steam: "x" } }], "options.selector.steam"],
    ["a selector with an empty stream", () => [h, { selector: { stream: "" } }], "options.selector.stream"],
    ["a selector of the wrong type", () => [h, { selector: "acc-1" }], "options.selector"],
    ["a bad selector inside an array", () => [h, { selector: [{ stream: "a" }, { typ: "x" }] }], "options.selector[1].typ"],
    ["a selector field undefined", () => [h, { selector: { stream: undefined } }], "options.selector.stream"],
    ["an unknown option", () => [h, { foo: 1 }], "options.foo"],
    ["a misspelt option", () => [h, { afer: 1 }], "options.afer"],
    ["options not an object", () => [h, 5], "options"],
    ["after negative", () => [h, { after: -1 }], "options.after"],
    ["after fractional", () => [h, { after: 1.5 }], "options.after"],
    ["after a word other than end", () => [h, { after: "start" }], "options.after"],
    ["after a numeric string", () => [h, { after: "3" }], "options.after"],
    ["after null", () => [h, { after: null }], "options.after"],
    ["after NaN", () => [h, { after: NaN }], "options.after"],
    ["after unsafe", () => [h, { after: 2 ** 53 }], "options.after"],
    ["matchers with a bad selector", () => [{ a: h }, { selector: { tags: "x" } }], "options.selector.tags"],
  ];
  for (const [name, args, path] of CASES) {
    test(`${name} → InvalidInputError at ${JSON.stringify(path)}`, async () => {
      const store = await storeOf(2);
      const called = [];
      const spy = (e) => { called.push(e.revision); };
      const a = args().map((x) => (x === h ? spy : x));
      throwsInvalid(() => store.subscribe(...a), path);
      await turns();
      assert.deepEqual(called, [], "a refused subscription never delivers");
    });
  }

  test("options.after: undefined counts as absent", async () => {
    const store = await storeOf(2);
    const { sub, received } = collect(store, { after: undefined, selector: undefined });
    await sub.waitFor(2);
    assert.deepEqual(revs(received), [1, 2]);
  });

  test("InvalidInputError is the exported class", () => {
    assert.equal(typeof InvalidInputError, "function");
  });
});
