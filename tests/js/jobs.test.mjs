import { test } from "node:test";
import assert from "node:assert/strict";
import {
  normalizeJobs, liveRow, pastRow, spendLines, formatLimits, formatWhen, shortId, viewQuery,
  loadVideoValue, sameOriginPath, parseLimitInput, limitToText, createLimitsController,
} from "../../web/js/jobs.js";

const NOW = new Date(2025, 2, 14, 15, 0, 0).getTime(); // local time
const t = (y, mo, d, h, mi) => new Date(y, mo, d, h, mi).getTime() / 1000;

// An answer of GET /segmind/jobs shaped like the contract, with a few hostile extras.
const ANSWER = {
  live: [
    { key: "k1", node_id: "12", prompt_id: "p1", label: "A cat walks along a wall", state: "processing",
      started: 1000, elapsed: 42, eta: 71, estimate_usd: 0.455, request_id: "req-aaaaaaaaaaaa-1111",
      width: 736, height: 1280, num_frames: 185, secret: "SG_should_not_pass" },
    { key: "k2", node_id: null, label: "", state: "done", started: 900, elapsed: 120, eta: 5, estimate_usd: 0.2,
      request_id: null, width: 704, height: 384, num_frames: 121 },
    "junk",
  ],
  past: [
    { request_id: "req-bbbbbbbbbbbb-2222", prompt: "Rain on a window", width: 720, height: 1280, num_frames: 181,
      grid: { width: 736, height: 1280, num_frames: 185 },
      cost: 0.455, estimate: 0.455, time: t(2025, 2, 14, 14, 3), thumb: "/segmind/thumb?fingerprint=ab12",
      clip: { filename: "segmind_ltx2_00002.mp4", subfolder: "segmind", type: "output" }, collectable: true },
    { request_id: null, prompt: "", cost: null, estimate: 0.2, time: t(2025, 2, 3, 9, 5),
      thumb: "https://evil.example/x.jpg", clip: { filename: "../../etc/passwd", subfolder: "" }, collectable: true },
    { request_id: "req-c", prompt: "old", cost: null, estimate: null, time: t(2024, 11, 31, 23, 59),
      thumb: null, clip: { filename: "a.mp4", subfolder: "../x" }, collectable: false },
  ],
  spend: { today: 0.91, session: 0.455, credits: 9.05, limits: { per_day: 2, per_run: null } },
};

test("the jobs answer keeps only documented fields, same-origin thumbnails and plain clip names", () => {
  const d = normalizeJobs(ANSWER);
  assert.equal(d.live.length, 2);
  assert.ok(!("secret" in d.live[0]));
  assert.equal(d.live[0].node_id, "12");
  assert.equal(d.past[0].thumb, "/segmind/thumb?fingerprint=ab12");
  assert.deepEqual(d.past[0].clip, { filename: "segmind_ltx2_00002.mp4", subfolder: "segmind", type: "output" });
  assert.equal(d.past[1].thumb, null); // another site's URL is dropped
  assert.equal(d.past[1].clip, null); // a path in the file name is dropped
  assert.equal(d.past[2].clip, null); // ".." in the subfolder is dropped
  assert.deepEqual(d.spend, { today: 0.91, session: 0.455, credits: 9.05, limits: { per_day: 2, per_run: null }, limits_error: null });
  assert.deepEqual(normalizeJobs(null), { live: [], past: [],
    spend: { today: null, session: null, credits: null, limits: { per_day: null, per_run: null }, limits_error: null },
    team: { store: null, text: "", warn: false } });
  const withError = normalizeJobs({ spend: { limits_error: "limits.json is not valid JSON: fix or delete it" } });
  assert.equal(spendLines(withError.spend).limits, "Limits: limits.json is not valid JSON: fix or delete it");
  assert.equal(sameOriginPath("//evil.example/x"), null);
});

test("a live job: state, elapsed and ETA tick between refreshes, estimated cost", () => {
  const [running, done] = normalizeJobs(ANSWER).live;
  const r = liveRow(running, 3);
  assert.equal(r.title, "A cat walks along a wall");
  assert.equal(r.status, "Generating at Segmind · 0:45 elapsed · ~1:08 left");
  assert.equal(r.cost, "≈ $0.455");
  assert.equal(r.size, "736×1280 · 185 frames");
  assert.equal(r.finished, false);
  const d = liveRow(done, 3);
  assert.equal(d.status, "Done · 2:00 elapsed"); // a finished job's clock stops, no ETA
  assert.equal(d.title, "(no prompt)");
  assert.equal(d.finished, true);
  assert.equal(r.machine, "");
  assert.equal(liveRow(normalizeJobs({ live: [{ ...ANSWER.live[1], machine: "gpu-2" }] }).live[0]).machine, "on gpu-2");
  assert.equal(liveRow({ ...running, state: "waiting_budget", eta: null }).status, "Waiting for the request budget · 0:42 elapsed");
  // once paid, the reported cost replaces the estimate
  assert.equal(liveRow(normalizeJobs({ live: [{ ...ANSWER.live[1], cost: 0.455 }] }).live[0]).cost, "$0.455");
});

test("a past job: size, cost or estimate, local time, request id", () => {
  const [a, b, c] = normalizeJobs(ANSWER).past;
  const ra = pastRow(a, NOW);
  assert.deepEqual([ra.prompt, ra.size, ra.cost, ra.when, ra.shortId], ["Rain on a window", "736×1280 · 185 frames", "$0.455", "14:03", "req-bb…2222"]);
  assert.equal(ra.collectable, true);
  const rb = pastRow(b, NOW);
  assert.deepEqual([rb.prompt, rb.cost, rb.when, rb.collectable], ["(no prompt)", "≈ $0.200 (estimate)", "3 Mar 09:05", false]);
  const rc = pastRow(c, NOW);
  assert.deepEqual([rc.cost, rc.when, rc.collectable], ["cost unknown", "31 Dec 2024 23:59", false]);
  assert.equal(formatWhen(null), "");
  assert.equal(shortId("short"), "short");
  // A team's job names the machine that paid it; a machine's own records name none.
  assert.equal(ra.machine, "");
  assert.equal(pastRow(normalizeJobs({ past: [{ ...ANSWER.past[0], machine: "gpu-2" }] }).past[0], NOW).machine, "on gpu-2");
});

test("spend lines", () => {
  const s = spendLines(normalizeJobs(ANSWER).spend);
  assert.equal(s.spend, "Today $0.910 · this session $0.455");
  assert.equal(s.credits, "Credits left 9.05");
  assert.equal(s.limits, "Limits: $2.00 a day · no limit per queued run");
  assert.equal(s.today, "$0.910");
  assert.equal(s.session, "$0.455");
  assert.equal(s.creditsLeft, "9.05");
  assert.deepEqual(spendLines(undefined), { spend: "Today — · this session —", today: "—", session: "—", creditsLeft: "—",
    credits: "Credits left —", limits: "Limits: no daily limit · no limit per queued run" });
  assert.equal(formatLimits({ per_day: 0.125, per_run: null }), "Limits: $0.125 a day · no limit per queued run");
  assert.equal(formatLimits({ per_day: null, per_run: 0.5 }), "Limits: no daily limit · $0.50 per queued run");
});

test("a clip's /view query and the LoadVideo value pointing at the output folder", () => {
  const clip = { filename: "segmind_ltx2 00002.mp4", subfolder: "segmind", type: "output" };
  assert.equal(viewQuery(clip), "filename=segmind_ltx2+00002.mp4&subfolder=segmind&type=output");
  assert.equal(loadVideoValue(clip), "segmind/segmind_ltx2 00002.mp4 [output]");
  assert.equal(loadVideoValue({ filename: "x.mp4", subfolder: "" }), "x.mp4 [output]");
  assert.equal(loadVideoValue({ filename: "x.mp4", subfolder: "a\\b\\" }), "a/b/x.mp4 [output]");
  assert.equal(loadVideoValue({ filename: "../x.mp4" }), null);
  assert.equal(loadVideoValue(null), null);
});

test("limit input: empty is no limit, dollars otherwise, clear errors", () => {
  assert.deepEqual(parseLimitInput(""), { ok: true, value: null });
  assert.deepEqual(parseLimitInput("  none "), { ok: true, value: null });
  assert.deepEqual(parseLimitInput("2.5"), { ok: true, value: 2.5 });
  assert.deepEqual(parseLimitInput("$ 10"), { ok: true, value: 10 });
  assert.deepEqual(parseLimitInput("0,75"), { ok: true, value: 0.75 });
  assert.deepEqual(parseLimitInput(".5 USD"), { ok: true, value: 0.5 });
  assert.match(parseLimitInput("ten").error, /not an amount/);
  assert.match(parseLimitInput("-1").error, /not an amount/);
  assert.match(parseLimitInput("0").error, /above \$0/);
  assert.match(parseLimitInput("1e9").error, /not an amount/);
  assert.equal(limitToText(2.5), "2.50");
  assert.equal(limitToText(0.125), "0.125");
  assert.equal(limitToText(null), "");
});

test("the limits controller loads, saves both limits, and never clobbers the other one", async () => {
  let server = { per_day: 5, per_run: 1 };
  const calls = [];
  const request = async (method, body) => {
    calls.push([method, body]);
    if (method === "POST") server = { ...body };
    return { status: 200, data: server };
  };
  const states = [];
  const c = createLimitsController({ request, onChange: (s) => states.push(s.phase) });
  // A save before any load loads first, so per_day's 5 survives.
  const r = await c.save("per_run", "0.5");
  assert.equal(r.phase, "ready");
  assert.deepEqual(server, { per_day: 5, per_run: 0.5 });
  assert.match(r.message, /Saved\. Limits: \$5\.00 a day · \$0\.50 per queued run/);
  assert.deepEqual(calls.map((x) => x[0]), ["GET", "POST"]);
  await c.save("per_day", "");
  assert.deepEqual(server, { per_day: null, per_run: 0.5 });
  // Same value again: no request.
  const n = calls.length;
  await c.save("per_day", "none");
  assert.equal(calls.length, n);
  // Bad input: an error, no request.
  const bad = await c.save("per_day", "abc");
  assert.equal(bad.phase, "error");
  assert.equal(calls.length, n);
  assert.ok(states.includes("saving"));
});

test("the limits controller reports a missing route and an unreachable server", async () => {
  const missing = createLimitsController({ request: async () => ({ status: 404, data: null }) });
  const r = await missing.save("per_day", "3");
  assert.equal(r.phase, "error");
  assert.match(r.message, /HTTP 404.*restart ComfyUI/);
  const down = createLimitsController({ request: async () => { throw new Error("Failed to fetch"); } });
  assert.match((await down.load()).message, /Could not reach the ComfyUI server: Failed to fetch/);
  const refused = createLimitsController({ request: async () => ({ status: 400, data: { error: "per_day must be a number" } }) });
  assert.equal((await refused.load()).message, "per_day must be a number");
});

test("the team line says where records are shared, warning when the team's Redis is down", () => {
  const shared = normalizeJobs({ team: { store: "redis", text: "Shared through the team's Redis at redis://***@h:6379/0" } });
  assert.deepEqual(shared.team, { store: "redis", text: "Shared through the team's Redis at redis://***@h:6379/0", warn: false });
  assert.equal(normalizeJobs({ team: { store: "files (redis down)", text: "down" } }).team.warn, true);
  assert.deepEqual(normalizeJobs({ team: { store: 5, text: {} } }).team, { store: null, text: "", warn: false });
});
