import { test } from "node:test";
import assert from "node:assert/strict";
import { callRoute, PACK_NOT_LOADED_HINT } from "../../web/js/route_call.js";

test("a 2xx answer gives its data", async () => {
  const answer = await callRoute(async () => ({ status: 200, data: { set: true } }), "GET");
  assert.deepEqual(answer, { ok: true, data: { set: true } });
});

test("an error answer gives the route's text, a 404 the hint after it", async () => {
  const bad = await callRoute(async () => ({ status: 400, data: { error: "Too long." } }), "POST", {});
  assert.deepEqual(bad, { ok: false, message: "Too long." });
  const gone = await callRoute(async () => ({ status: 404, data: null }), "GET");
  assert.deepEqual(gone, { ok: false, message: "HTTP 404" + PACK_NOT_LOADED_HINT });
  const own = await callRoute(async () => ({ status: 404, data: null }), "GET", undefined, " (update)");
  assert.equal(own.message, "HTTP 404 (update)");
});

test("a failed request says the server could not be reached", async () => {
  const answer = await callRoute(async () => { throw new Error("refused"); }, "GET");
  assert.deepEqual(answer, { ok: false, message: "Could not reach the ComfyUI server: refused" });
});
