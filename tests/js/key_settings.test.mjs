import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SETTING_ID, SETTING_PLACEHOLDER, KEY_ROUTE, validateKeyInput, keyWarning, sanitizeStoredValue,
  describeKeyStatus, createKeyController, pickStatus,
} from "../../web/js/key_settings.js";

const KEY = "SG_0123456789abcdefWXYZ";

/** A fake of the pack's route: keeps the key server-side, answers status like routes.py. */
function fakeServer({ envKey = null } = {}) {
  let fileKey = null;
  const calls = [];
  const status = () => {
    const key = envKey ?? fileKey;
    return {
      set: !!key, source: envKey ? "env" : fileKey ? "file" : null,
      last4: key ? key.slice(-4) : null, key_file: "/comfy/user/segmind/api_key",
      env_var: "SEGMIND_API_KEY", env_overrides_file: !!(envKey && fileKey),
    };
  };
  async function request(method, body) {
    calls.push({ method, body: body === undefined ? undefined : JSON.parse(JSON.stringify(body)) });
    if (method === "GET") return { status: 200, data: status() };
    if (method === "POST") { fileKey = body.key; return { status: 200, data: status() }; }
    if (method === "DELETE") { fileKey = null; return { status: 200, data: status() }; }
    return { status: 405, data: { error: "no" } };
  }
  return { request, calls, get fileKey() { return fileKey; } };
}

test("constants", () => {
  assert.equal(SETTING_ID, "SegmindLTX2.ApiKey");
  assert.equal(KEY_ROUTE, "/segmind_ltx2/key");
  assert.equal(SETTING_PLACEHOLDER, "");
});

test("validation mirrors the server's rules", () => {
  assert.deepEqual(validateKeyInput(`  ${KEY}\n`), { ok: true, key: KEY });
  assert.match(validateKeyInput("").error, /empty/);
  assert.match(validateKeyInput("   ").error, /empty/);
  assert.match(validateKeyInput(undefined).error, /empty/);
  assert.match(validateKeyInput("SG_abc def12345").error, /spaces/);
  assert.match(validateKeyInput("SG_abc\tdef12345").error, /spaces/);
  assert.match(validateKeyInput("SG_abc\u0007def12345").error, /control/);
  assert.match(validateKeyInput("SG_smart\u2026quote123456").error, /non-ASCII/);  // cannot go in an HTTP header
  assert.match(validateKeyInput("SG_1").error, /does not look like/);
  assert.match(validateKeyInput("SG_" + "x".repeat(300)).error, /does not look like/);
  assert.equal(keyWarning(KEY), "");
  assert.match(keyWarning("abcdefghijkl"), /SG_/);
});

test("a stored setting value other than the placeholder is wiped", () => {
  assert.equal(sanitizeStoredValue(""), null); // nothing to do
  assert.equal(sanitizeStoredValue(undefined), null);
  assert.equal(sanitizeStoredValue(null), null);
  assert.equal(sanitizeStoredValue(KEY), "");
  assert.equal(sanitizeStoredValue({ key: KEY }), "");
});

test("status text: unset, file, env wins", () => {
  const unset = describeKeyStatus({ set: false, source: null, last4: null, key_file: "/u/segmind/api_key" });
  assert.equal(unset.level, "warn");
  assert.match(unset.text, /No key set/);
  assert.match(unset.text, /\/u\/segmind\/api_key/);
  assert.match(unset.text, /SEGMIND_API_KEY/);
  const file = describeKeyStatus({ set: true, source: "file", last4: "WXYZ", key_file: "/u/segmind/api_key" });
  assert.equal(file.level, "ok");
  assert.equal(file.text, "Key saved (ends in …WXYZ) in /u/segmind/api_key.");
  const env = describeKeyStatus({ set: true, source: "env", last4: "9876", key_file: "/u/k" });
  assert.match(env.text, /SEGMIND_API_KEY environment variable \(ends in …9876\); it wins/);
  const both = describeKeyStatus({ set: true, source: "env", last4: "9876", key_file: "/u/k", env_overrides_file: true });
  assert.match(both.text, /saved key in \/u\/k is ignored/);
  assert.equal(describeKeyStatus(null).level, "warn");
  const broken = describeKeyStatus({ set: false, key_file: "/u/k", error: "The Segmind API key file /u/k cannot be read (is a directory)." });
  assert.equal(broken.level, "error");
  assert.match(broken.text, /\/u\/k cannot be read/);
});

test("saving sends the key once and never keeps it in state", async () => {
  const server = fakeServer();
  const states = [];
  const c = createKeyController({ request: server.request, onChange: (s) => states.push(s) });
  await c.refresh();
  assert.equal(c.getState().status.set, false);
  const final = await c.save(`  ${KEY} `);
  assert.equal(final.phase, "ready");
  assert.equal(final.status.source, "file");
  assert.equal(final.status.last4, "WXYZ");
  assert.match(final.message, /ends in …WXYZ/);
  assert.equal(server.fileKey, KEY);
  // The key went out exactly once, in the POST body, trimmed.
  const posts = server.calls.filter((c2) => c2.method === "POST");
  assert.deepEqual(posts, [{ method: "POST", body: { key: KEY } }]);
  // ... and appears in no state the UI ever saw.
  for (const s of [...states, c.getState()]) assert.ok(!JSON.stringify(s).includes(KEY.slice(0, -4)), JSON.stringify(s));
  assert.deepEqual(states.map((s) => s.phase), ["loading", "ready", "saving", "ready"]);
});

test("an invalid key is not sent", async () => {
  const server = fakeServer();
  const c = createKeyController({ request: server.request });
  const s = await c.save("SG_ bad key");
  assert.equal(s.phase, "error");
  assert.equal(s.level, "error");
  assert.match(s.message, /spaces/);
  assert.equal(server.calls.length, 0);
});

test("a key without SG_ is saved with a remark", async () => {
  const server = fakeServer();
  const c = createKeyController({ request: server.request });
  const s = await c.save("abcdefghijklmnop");
  assert.equal(s.phase, "ready");
  assert.match(s.message, /usually start with SG_/);
});

test("the environment key wins and the message says so", async () => {
  const server = fakeServer({ envKey: "SG_fromtheenvironment9876" });
  const c = createKeyController({ request: server.request });
  let s = await c.refresh();
  assert.equal(s.status.source, "env");
  assert.match(s.message, /environment variable/);
  s = await c.save(KEY);
  assert.equal(s.status.env_overrides_file, true);
  assert.match(s.message, /ignored while SEGMIND_API_KEY is set/);
});

test("remove, server errors and network errors", async () => {
  const server = fakeServer();
  const c = createKeyController({ request: server.request });
  await c.save(KEY);
  let s = await c.remove();
  assert.equal(s.status.set, false);
  assert.equal(server.fileKey, null);

  const refused = createKeyController({ request: async () => ({ status: 403, data: { error: "Forbidden: request from another site refused" } }) });
  s = await refused.save(KEY);
  assert.equal(s.phase, "error");
  assert.match(s.message, /Forbidden/);
  assert.ok(!s.message.includes(KEY));

  const missing = createKeyController({ request: async () => ({ status: 404, data: null }) });
  s = await missing.refresh();
  assert.match(s.message, /HTTP 404 .*restart ComfyUI/);

  const offline = createKeyController({ request: async () => { throw new Error("Failed to fetch"); } });
  s = await offline.refresh();
  assert.match(s.message, /Could not reach the ComfyUI server: Failed to fetch/);
});

test("pickStatus keeps only documented fields", () => {
  assert.deepEqual(
    pickStatus({ set: true, source: "file", last4: "WXYZ", key_file: "/k", key: KEY, extra: 1 }),
    { set: true, source: "file", last4: "WXYZ", key_file: "/k", env_overrides_file: false },
  );
  assert.equal(pickStatus({ set: true, source: "weird", last4: KEY }).last4, "WXYZ");
  assert.equal(pickStatus({ set: true, source: "weird" }).source, null);
  assert.equal(pickStatus(null), null);
});
