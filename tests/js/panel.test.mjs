// The "Segmind" sidebar tab and the spend-limit fields, driven through a fake DOM and fake
// routes shaped like the contract (routes.py).
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { FakeElement, installFakeDocument, settle } from "./fake_dom.mjs";
import { createJobsPanel, renderLimitField } from "../../web/js/panel.js";
import { createLimitsController } from "../../web/js/jobs.js";

installFakeDocument();

const JOBS = () => ({
  live: [
    { key: "k1", node_id: "12", prompt_id: "p", label: "A cat walks along a wall", state: "processing",
      started: 1, elapsed: 42, eta: 71, estimate_usd: 0.455, request_id: "req-1", width: 736, height: 1280, num_frames: 185 },
  ],
  past: [
    { request_id: "req-second-000000000002", prompt: "Rain on a window", width: 736, height: 1280, num_frames: 185,
      cost: 0.455, estimate: 0.455, time: 1700000100, thumb: "/segmind/thumb?fingerprint=bb",
      clip: { filename: "segmind_ltx2_00002.mp4", subfolder: "segmind", type: "output" }, collectable: true },
    { request_id: "req-first-0000000000001", prompt: "A cat walks along a wall", width: 736, height: 1280, num_frames: 185,
      cost: 0.455, estimate: 0.455, time: 1700000000, thumb: "/api/segmind/thumb?fingerprint=aa",
      clip: null, clip_url: "/segmind/clip?fingerprint=aa", collectable: false },
    { request_id: "req-zeroth-000000000000", prompt: "Gone", cost: 0.455, time: 1600000000, thumb: null,
      clip: null, clip_url: null, collectable: false },
  ],
  spend: { today: 0.91, session: 0.91, credits: 9.05, limits: { per_day: 2, per_run: null } },
});

let calls, toasts, copied, added, answer, credits;
function makePanel(extra = {}) {
  return createJobsPanel({
    request: async (method, route, body) => {
      calls.push([method, route, body]);
      if (route === "/segmind/credits/refresh") {
        credits = 8.5; // the server keeps the fresh value for GET /segmind/jobs too
        return { status: 200, data: { credits } };
      }
      if (typeof answer === "object" && answer.data?.spend && credits != null) answer.data.spend.credits = credits;
      return typeof answer === "function" ? answer() : answer;
    },
    apiURL: (p) => "/api" + p,
    toast: (t) => toasts.push(t),
    copyText: async (text) => { copied.push(text); },
    putClipInGraph: (row) => { added.push(["video", row.clip]); return "Added a Load Video node"; },
    collectJob: (row) => { added.push(["collect", row.request_id]); return "Added a Collect Job node"; },
    locateNode: (id) => added.push(["locate", id]),
    nodeLabel: (id) => (id === "12" ? "#12 Image to Video" : null),
    intervalMs: 20,
    ...extra,
  });
}

beforeEach(() => {
  calls = [];
  toasts = [];
  copied = [];
  added = [];
  credits = null;
  answer = { status: 200, data: JOBS() };
});

test("the tab lists live and past jobs with cost, thumbnail and spend", async () => {
  const panel = makePanel();
  const container = new FakeElement("div");
  panel.render(container);
  await settle();
  const root = container.children[0];
  assert.equal(root.getAttribute("data-testid"), "segmind-jobs-panel");
  assert.equal(root.byTestId("segmind-spend-today").textContent, "$0.910");
  assert.equal(root.byTestId("segmind-spend-session").textContent, "$0.910");
  assert.equal(root.byTestId("segmind-credits").textContent, "9.05");
  assert.equal(root.byTestId("segmind-limits").textContent, "Limits: $2.00 a day · no limit per queued run");
  const live = root.allByTestId("segmind-live-row");
  assert.equal(live.length, 1);
  assert.equal(live[0].byTestId("segmind-live-node").textContent, "#12");
  assert.match(live[0].byTestId("segmind-live-node").title, /#12 Image to Video/);
  assert.match(live[0].text(), /A cat walks along a wall/);
  assert.match(live[0].byTestId("segmind-live-status").textContent, /^Generating at Segmind · 0:4\d elapsed · ~1:\d\d left$/);
  assert.match(live[0].text(), /736×1280 · 185 frames · ≈ \$0\.455/);
  const past = root.allByTestId("segmind-past-row");
  assert.equal(past.length, 3);
  assert.equal(past[0].byTestId("segmind-past-prompt").textContent, "Rain on a window");
  assert.match(past[0].byTestId("segmind-past-meta").textContent, /^736×1280 · 185 frames · \$0\.455 · /);
  assert.equal(past[0].byTestId("segmind-past-id").textContent, "req-se…0002");
  assert.equal(past[0].byTestId("segmind-past-id").title, "req-second-000000000002");
  // thumbnails through the API base, whether the route gave /segmind/... or /api/segmind/...
  assert.equal(past[0].byTestId("segmind-past-thumb").getAttribute("src"), "/api/segmind/thumb?fingerprint=bb");
  assert.equal(past[1].byTestId("segmind-past-thumb").getAttribute("src"), "/api/segmind/thumb?fingerprint=aa");
  // a clip only in the pack's cache plays from its route; no collect once Segmind dropped it
  assert.equal(past[1].byTestId("segmind-play").disabled, false);
  past[1].byTestId("segmind-play").click();
  assert.equal(past[1].byTestId("segmind-past-video").src, "/api/segmind/clip?fingerprint=aa");
  assert.equal(past[1].byTestId("segmind-collect").disabled, true);
  // neither on disk nor collectable: nothing to play, add or collect
  assert.equal(past[2].byTestId("segmind-play").disabled, true);
  assert.equal(past[2].byTestId("segmind-to-graph").disabled, true);
  assert.equal(past[2].byTestId("segmind-collect").disabled, true);
  assert.equal(past[0].byTestId("segmind-collect").disabled, false);
  panel.destroy();
});

test("actions: play, copy the request id, add to graph, collect, locate the node", async () => {
  const panel = makePanel();
  const container = new FakeElement("div");
  panel.render(container);
  await settle();
  const root = container.children[0];
  const row = root.allByTestId("segmind-past-row")[0];
  row.byTestId("segmind-play").click();
  const video = row.byTestId("segmind-past-video");
  assert.equal(video.src, "/api/view?filename=segmind_ltx2_00002.mp4&subfolder=segmind&type=output");
  assert.ok(video.hasAttribute("controls"));
  assert.ok(!video.hasAttribute("muted"));
  // a refresh keeps the same row element, so the playing video is not torn down
  await panel.refresh();
  assert.equal(root.allByTestId("segmind-past-row")[0], row);
  assert.equal(row.byTestId("segmind-past-video"), video);
  video.dispatch("error");
  assert.match(row.byTestId("segmind-past-player").text(), /no longer in ComfyUI's output folder/);
  row.byTestId("segmind-play").click(); // closes
  assert.equal(row.byTestId("segmind-past-player").style.display, "none");

  row.byTestId("segmind-copy").click();
  await settle();
  assert.deepEqual(copied, ["req-second-000000000002"]);
  assert.equal(toasts.at(-1).summary, "Request id copied");

  row.byTestId("segmind-to-graph").click();
  row.byTestId("segmind-collect").click();
  root.byTestId("segmind-live-node").click();
  await settle();
  assert.deepEqual(added, [
    ["video", { filename: "segmind_ltx2_00002.mp4", subfolder: "segmind", type: "output" }],
    ["collect", "req-second-000000000002"],
    ["locate", "12"],
  ]);
  assert.ok(toasts.some((t) => t.detail === "Added a Collect Job node"));
  panel.destroy();
});

test("credits refresh goes through POST /segmind/credits/refresh", async () => {
  const panel = makePanel();
  const container = new FakeElement("div");
  panel.render(container);
  await settle();
  const root = container.children[0];
  root.byTestId("segmind-credits-refresh").click();
  await settle();
  assert.ok(calls.some(([m, r]) => m === "POST" && r === "/segmind/credits/refresh"));
  assert.equal(root.byTestId("segmind-credits").textContent, "8.50");
  panel.destroy();
});

test("it polls while open and stops when the tab closes", async () => {
  const panel = makePanel();
  const container = new FakeElement("div");
  panel.render(container);
  await settle(90);
  const n = calls.filter(([, r]) => r === "/segmind/jobs").length;
  assert.ok(n >= 3, `polled ${n} times`);
  panel.destroy();
  assert.equal(panel.isOpen(), false);
  await settle(60);
  assert.equal(calls.filter(([, r]) => r === "/segmind/jobs").length, n);
  panel.refreshSoon(); // a websocket event while closed does nothing
  await settle(20);
  assert.equal(calls.filter(([, r]) => r === "/segmind/jobs").length, n);
});

test("a job still running is not listed under Past jobs too", async () => {
  const data = JOBS();
  data.past.unshift({ request_id: "req-1", prompt: "", cost: null, time: 1700000300, clip: null, collectable: true });
  answer = { status: 200, data };
  const panel = makePanel({ intervalMs: 100000 });
  const container = new FakeElement("div");
  panel.render(container);
  await settle();
  const ids = container.children[0].allByTestId("segmind-past-id").map((e) => e.title);
  assert.ok(!ids.includes("req-1"), ids.join(","));
  assert.equal(ids.length, 3);
  panel.destroy();
});

test("running jobs come first; only the last few finished ones are listed", async () => {
  const data = JOBS();
  const job = data.live[0];
  data.live = [
    ...[1, 2, 3, 4, 5].map((i) => ({ ...job, key: `f${i}`, state: "done", started: i, label: `finished ${i}` })),
    { ...job, key: "r1", started: 0, label: "running" },
  ];
  answer = { status: 200, data };
  const panel = makePanel({ intervalMs: 100000 });
  const container = new FakeElement("div");
  panel.render(container);
  await settle();
  const rows = container.children[0].allByTestId("segmind-live-row");
  assert.deepEqual(rows.map((r) => r.getAttribute("data-key")), ["r1", "f5", "f4", "f3"]);
  assert.match(container.children[0].byTestId("segmind-live").text(), /2 more finished recently/);
  panel.destroy();
});

test("a new job appears, a finished one moves to the past list", async () => {
  const panel = makePanel({ intervalMs: 100000 });
  const container = new FakeElement("div");
  panel.render(container);
  await settle();
  const data = JOBS();
  data.live[0].state = "done";
  data.past.unshift({ request_id: "req-third", prompt: "Third", cost: 0.2, time: 1700000200, clip: null, collectable: true });
  answer = { status: 200, data };
  panel.refreshSoon(1);
  await settle(30);
  const root = container.children[0];
  assert.equal(root.allByTestId("segmind-past-row").length, 4);
  assert.equal(root.allByTestId("segmind-past-row")[0].byTestId("segmind-past-prompt").textContent, "Third");
  assert.match(root.byTestId("segmind-live-status").textContent, /^Done · 0:42 elapsed$/);
  panel.destroy();
});

test("a missing route or a server error says what to do, without breaking the tab", async () => {
  answer = { status: 404, data: null };
  const panel = makePanel({ intervalMs: 100000 });
  const container = new FakeElement("div");
  panel.render(container);
  await settle();
  const root = container.children[0];
  assert.match(root.byTestId("segmind-panel-error").textContent, /jobs route is missing.*restart ComfyUI/);
  assert.match(root.byTestId("segmind-past").text(), /No paid job recorded yet/);
  answer = () => { throw new Error("Failed to fetch"); };
  await panel.refresh();
  assert.match(root.byTestId("segmind-panel-error").textContent, /Could not reach the ComfyUI server/);
  answer = { status: 200, data: JOBS() };
  await panel.refresh();
  assert.equal(root.byTestId("segmind-panel-error").style.display, "none");
  panel.destroy();
});

test("limit fields load the server's limits, save on Enter, and show errors", async () => {
  let server = { per_day: 2, per_run: null };
  const posts = [];
  const controller = createLimitsController({
    request: async (method, body) => {
      if (method === "POST") { posts.push(body); server = { ...body }; }
      return { status: 200, data: server };
    },
  });
  const day = renderLimitField("per_day", controller);
  const run = renderLimitField("per_run", controller);
  await settle();
  const dayInput = day.byTestId("segmind-limit-per_day");
  const runInput = run.byTestId("segmind-limit-per_run");
  assert.equal(dayInput.value, "2.00");
  assert.equal(runInput.value, "");
  assert.equal(dayInput.getAttribute("placeholder"), "no limit");
  runInput.value = "$0.40";
  runInput.dispatch("input");
  runInput.dispatch("keydown", { key: "Enter" });
  await settle();
  runInput.dispatch("change"); // the blur after Enter saves nothing twice
  await settle();
  assert.deepEqual(posts, [{ per_day: 2, per_run: 0.4 }]);
  assert.equal(runInput.value, "0.40");
  assert.match(run.byTestId("segmind-limit-per_run-status").textContent, /Saved\. Limits: \$2\.00 a day · \$0\.40 per queued run/);
  dayInput.value = "lots";
  dayInput.dispatch("change");
  await settle();
  assert.match(day.byTestId("segmind-limit-per_day-status").textContent, /not an amount/);
  assert.equal(posts.length, 1);
  dayInput.value = "";
  dayInput.dispatch("change");
  await settle();
  assert.deepEqual(posts.at(-1), { per_day: null, per_run: 0.4 });
});

test("the tab says where the records are shared, in amber when the team's Redis is down", async () => {
  answer = { status: 200, data: { ...JOBS(), team: { store: "redis", text: "Shared through the team's Redis at redis://***@h:6379/0, reachable." } } };
  const panel = makePanel();
  const container = new FakeElement("div");
  panel.render(container);
  await settle();
  const line = container.children[0].byTestId("segmind-team");
  assert.match(line.textContent, /team's Redis at redis:\/\/\*\*\*@h:6379\/0/);
  assert.equal(line.style.color, "");
  answer = { status: 200, data: { ...JOBS(), team: { store: "files (redis down)", text: "The team's Redis cannot be reached." } } };
  await panel.refresh();
  assert.match(line.textContent, /cannot be reached/);
  assert.match(line.style.color, /amber/);
  panel.destroy();
});
