import { test } from "node:test";
import assert from "node:assert/strict";
import {
  TEAM_SETTING_ID, TEAM_ROUTE, validateRedisInput, pickTeamStatus, describeTeamStatus, createTeamController,
} from "../../web/js/team_settings.js";

/** A fake of the pack's route: keeps the address server-side and answers it without its password. */
function fakeServer() {
  let saved = { redis_url: "", when_redis_down: "refuse" };
  const calls = [];
  const shown = (url) => url.replace(/\/\/[^@/]*@/, "//***@");
  const status = () => ({
    store: saved.redis_url ? "redis" : "files",
    text: saved.redis_url ? `Shared through the team's Redis at ${shown(saved.redis_url)}, reachable.` : "Shared through this machine's user folder.",
    redis_url: shown(saved.redis_url), when_redis_down: saved.when_redis_down, from_env: false, team_file: "/u/segmind/team.json",
  });
  async function request(method, body) {
    calls.push({ method, body });
    if (method === "GET") return { status: 200, data: status() };
    if (body.redis_url !== null) saved.redis_url = body.redis_url;
    saved.when_redis_down = body.when_redis_down;
    return { status: 200, data: status() };
  }
  return { request, calls, get saved() { return saved; } };
}

test("constants", () => {
  assert.equal(TEAM_SETTING_ID, "SegmindLTX2.Team");
  assert.equal(TEAM_ROUTE, "/segmind_ltx2/team");
});

test("an address is redis://, rediss:// or unix://; empty keeps the saved one", () => {
  assert.deepEqual(validateRedisInput(" redis://h:6379/0 "), { ok: true, url: "redis://h:6379/0" });
  assert.deepEqual(validateRedisInput("rediss://:pw@h:6380/1"), { ok: true, url: "rediss://:pw@h:6380/1" });
  assert.deepEqual(validateRedisInput(""), { ok: true, url: null });
  assert.match(validateRedisInput("http://h:6379").error, /redis:\/\/host:6379\/0/);
  assert.match(validateRedisInput("h:6379").error, /redis:\/\/host/);
  assert.match(validateRedisInput("redis://h /0").error, /spaces/);
});

test("status text: the store in use, the environment's address winning, errors", () => {
  assert.equal(describeTeamStatus({ store: "redis", text: "Shared through the team's Redis" }).level, "ok");
  assert.equal(describeTeamStatus({ store: "files (redis down)", text: "down" }).level, "warn");
  assert.equal(describeTeamStatus({ store: "refused (redis down)", text: "down" }).level, "error");
  assert.match(describeTeamStatus({ store: "redis", text: "x", from_env: true }).text, /SEGMIND_LTX2_REDIS_URL is set/);
  assert.deepEqual(describeTeamStatus({ error: "team.json cannot be read" }), { level: "error", text: "team.json cannot be read" });
  assert.equal(pickTeamStatus({ store: "redis", password: "pw" }).password, undefined);
});

test("the controller saves the address, keeps it when only the choice changes, and never holds a password", async () => {
  const server = fakeServer();
  const states = [];
  const c = createTeamController({ request: server.request, onChange: (s) => states.push(s) });
  await c.refresh();
  assert.equal(c.getState().status.store, "files");
  await c.save("redis://:hunter2@h:6379/0", "refuse");
  assert.equal(server.saved.redis_url, "redis://:hunter2@h:6379/0");
  assert.equal(c.getState().status.redis_url, "redis://***@h:6379/0");
  await c.save("", "local");
  assert.deepEqual(server.calls.at(-1).body, { redis_url: null, when_redis_down: "local" });
  assert.equal(server.saved.redis_url, "redis://:hunter2@h:6379/0");
  await c.clear("local");
  assert.equal(server.saved.redis_url, "");
  const r = await c.save("http://nope", "refuse");
  assert.equal(r.phase, "error");
  assert.ok(!JSON.stringify(states).includes("hunter2"));
});
