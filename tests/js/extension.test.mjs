// Smoke test of the extension entry (web/js/segmind_ltx2.js) against small fakes of
// ComfyUI's app/api and of the few DOM calls it makes. The entry's imports of
// "../../../scripts/app.js" and "../../../scripts/api.js" are redirected to the fakes by a
// module resolve hook registered below, so no browser and no npm package is needed.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { FakeElement, installFakeDocument } from "./fake_dom.mjs";

const hooks = `
export async function resolve(specifier, context, next) {
  if (/\\/scripts\\/(app|api)\\.js$/.test(specifier) && context.parentURL?.includes("/web/js/")) {
    const which = specifier.endsWith("app.js") ? "app" : "api";
    const src = "export const " + which + " = globalThis.__fakeComfy." + which + ";";
    return { url: "data:text/javascript," + encodeURIComponent(src), shortCircuit: true };
  }
  return next(specifier, context);
}`;
register("data:text/javascript," + encodeURIComponent(hooks), import.meta.url);

const KEY = "SG_0123456789abcdefWXYZ";

// ------------------------------------------------------------------ fake DOM
installFakeDocument();
globalThis.navigator ??= {};

// ------------------------------------------------------------------ fake ComfyUI
const extensions = [];
const settingValues = { "SegmindLTX2.ApiKey": KEY, "SegmindLTX2.Team": "redis://:oldpw@h:6379/0" }; // as if stored by hand
let serverTeam = { redis_url: "", when_redis_down: "refuse" };
const settingSets = [];
const listeners = {};
const fetches = [];
let serverKey = null;
let serverLimits = { per_day: 3, per_run: null };
const sidebarTabs = [];
const toasts = [];
const graphNodes = new Map();
const graphLinks = new Map();
const app = {
  graph: {
    links: graphLinks,
    getNodeById: (id) => graphNodes.get(Number(id)) ?? graphNodes.get(id) ?? null,
    add: (n) => { n.id ??= 1000 + graphNodes.size; graphNodes.set(n.id, n); },
    remove: (n) => graphNodes.delete(n.id),
  },
  canvas: { ds: { scale: 1, offset: [0, 0] }, canvas: { clientWidth: 800, clientHeight: 600 }, selectNode() {}, setDirty() {} },
  registerExtension: (ext) => extensions.push(ext),
  extensionManager: {
    setting: {
      get: (id) => settingValues[id],
      set: async (id, v) => { settingSets.push([id, v]); settingValues[id] = v; },
    },
    registerSidebarTab: (tab) => sidebarTabs.push(tab),
    getSidebarTabs: () => sidebarTabs,
    toast: { add: (t) => toasts.push(t) },
  },
};
// LiteGraph's node registry, for the tab's "add to graph" actions.
const created = [];
globalThis.LiteGraph = {
  registered_node_types: { LoadVideo: {}, SegmindLTX2CollectJob: {} },
  createNode(type) {
    const widgets = type === "LoadVideo" ? [{ name: "file", value: "" }] : [{ name: "request_id", value: "" }];
    const n = { type, size: [300, 100], widgets };
    created.push(n);
    return n;
  },
};
const api = {
  addEventListener: (t, fn) => (listeners[t] ??= []).push(fn),
  apiURL: (p) => "/api" + p,
  async fetchApi(route, init = {}) {
    fetches.push({ route, ...init });
    if (route === "/segmind/limits") {
      if (init.method === "POST") serverLimits = JSON.parse(init.body);
      return { status: 200, json: async () => serverLimits };
    }
    if (route === "/segmind_ltx2/team") {
      if (init.method === "POST") {
        const body = JSON.parse(init.body);
        serverTeam = { redis_url: body.redis_url ?? serverTeam.redis_url, when_redis_down: body.when_redis_down };
      }
      const shown = serverTeam.redis_url.replace(/\/\/[^@/]*@/, "//***@");
      return { status: 200, json: async () => ({ store: serverTeam.redis_url ? "redis" : "files",
        text: serverTeam.redis_url ? `Shared through the team's Redis at ${shown}, reachable.` : "Shared through this machine's user folder.",
        redis_url: shown, when_redis_down: serverTeam.when_redis_down, from_env: false, team_file: "/u/segmind/team.json" }) };
    }
    if (route === "/segmind/jobs") {
      return { status: 200, json: async () => ({ live: [], past: [], spend: { today: 0.91, session: 0.91, credits: 9, limits: serverLimits } }) };
    }
    if (init.method === "POST") serverKey = JSON.parse(init.body).key;
    if (init.method === "DELETE") serverKey = null;
    const data = { set: !!serverKey, source: serverKey ? "file" : null, last4: serverKey?.slice(-4) ?? null,
      key_file: "/comfy/user/segmind/api_key", env_var: "SEGMIND_API_KEY", env_overrides_file: false };
    return { status: 200, json: async () => data };
  },
};
globalThis.__fakeComfy = { app, api };
const emit = (t, detail) => { for (const fn of listeners[t] ?? []) fn({ detail }); };

class FakeNode {
  constructor(id) {
    this.id = id;
    this.graph = app.graph;
    this.size = [400, 600];
    this.properties = {};
    this.inputs = [{ name: "image", link: 3 }];
    this.widgets = [
      { name: "prompt", value: "a cat" },
      { name: "width", value: 720 }, { name: "height", value: 1280 },
      { name: "num_frames", value: 181 }, { name: "fps", value: 24 },
      { name: "seed", value: 42 },
    ];
    // As front end 1.27.10 builds a seed with control_after_generate: always "randomize".
    const control = { name: "control_after_generate", type: "combo", value: "randomize",
      options: { values: ["fixed", "increment", "decrement", "randomize"] } };
    this.widgets[5].linkedWidgets = [control];
    this.widgets.push(control);
  }
  addDOMWidget(name, type, element, options) {
    const w = { name, type, element, options, onRemove() { this.removed = true; } };
    this.widgets.push(w);
    return w;
  }
  setDirtyCanvas() {}
  computeSize() { return [400, 300]; }
  setSize(s) { this.size = s; }
  // As LiteGraph 1.27.10: saved inputs replace the node's, widgets_values land by position
  // on the serialisable widgets, then onConfigure.
  configure(data) {
    if (data.inputs) this.inputs = data.inputs.map((i) => ({ ...i }));
    const ws = this.widgets.filter((w) => w.serialize !== false);
    (data.widgets_values ?? []).forEach((v, i) => { if (ws[i]) ws[i].value = v; });
    this.onConfigure?.(data);
  }
}

let ext;
const nodeDef = {
  name: "SegmindLTX2ImageToVideo",
  input: { required: { image: ["IMAGE"], prompt: ["STRING"], width: ["INT"], height: ["INT"], num_frames: ["INT"], fps: ["INT"] } },
};

before(async () => {
  await import("../../web/js/segmind_ltx2.js");
  ext = extensions[0];
  await ext.setup();
  class NodeType extends FakeNode {}
  await ext.beforeRegisterNodeDef(NodeType, nodeDef, app);
  globalThis.__NodeType = NodeType;
});

function makeNode(id) {
  const n = new globalThis.__NodeType(id);
  n.onNodeCreated?.();
  return n;
}
const badgeOf = (n) => n.widgets.find((w) => w.name === "segmind_ltx2_badge");

test("registers one extension with the key setting, never API_NODE", () => {
  assert.equal(extensions.length, 1);
  assert.equal(ext.name, "Segmind.LTX2");
  const [s] = ext.settings;
  assert.equal(s.id, "SegmindLTX2.ApiKey");
  assert.equal(s.name, "Segmind API key");
  assert.equal(typeof s.type, "function");
  assert.equal(s.defaultValue, "");
  assert.ok(!("api_node" in nodeDef));
});

test("a key left in the saved settings is wiped at setup", () => {
  assert.deepEqual(settingSets, [["SegmindLTX2.ApiKey", ""], ["SegmindLTX2.Team", ""]]);
  assert.equal(settingValues["SegmindLTX2.ApiKey"], "");
});

test("other node classes are left alone", async () => {
  class Other extends FakeNode {}
  await ext.beforeRegisterNodeDef(Other, { name: "KSampler", input: { required: { width: [], height: [], num_frames: [] } } }, app);
  assert.equal(Other.prototype.onNodeCreated, undefined);
  assert.equal(Other.prototype.onExecuted, undefined);
});

test("the badge shows the estimate and follows widget edits", () => {
  const n = makeNode(7);
  const badge = badgeOf(n);
  assert.ok(badge, "badge widget added");
  assert.equal(badge.options.serialize, false);
  assert.equal(badge.serialize, false);
  assert.equal(badge.element.getAttribute("data-testid"), "segmind-ltx2-badge");
  // the size and frames Segmind really returns: 720 -> 736, 181 -> 185
  assert.match(badge.element.text(), /Est\. ≈ \$0\.455 · 736×1280 · 185 frames @ 24 fps = 7\.7 s/);
  assert.match(badge.element.text(), /asked 720×1280, 181 frames \(LTX-2 grid: 32 px, 8k\+1\) · ~1:53 on Segmind/);
  const width = n.widgets.find((w) => w.name === "width");
  width.value = 360;
  width.callback(360);
  assert.match(badge.element.text(), /Est\. ≈ \$0\.237 · 384×1280/);
  // fps changes the clip length, not the price
  const fps = n.widgets.find((w) => w.name === "fps");
  fps.value = 12;
  n.onDrawForeground(); // values changed without a callback are picked up on the next draw
  assert.match(badge.element.text(), /\$0\.237 · 384×1280 · 185 frames @ 12 fps = 15\.4 s/);
  // a linked size input makes the estimate unknown
  n.inputs.push({ name: "num_frames", link: 9 });
  n.onDrawForeground();
  assert.match(badge.element.text(), /Est\. cost: unknown/);
});

test("after a run: the result line, and the file info kept for reload", () => {
  const n = makeNode(8);
  emit("executing", "8");
  assert.match(badgeOf(n).element.text(), /Starting · 0:00 elapsed/);
  emit("progress_text", { nodeId: "8", text: "Queued - 0:03 elapsed" });
  assert.doesNotMatch(badgeOf(n).element.text(), /Starting/); // the front end shows that text itself
  n.onExecuted({
    images: [{ filename: "segmind_ltx2_00001.mp4", subfolder: "segmind", type: "output", format: "video/mp4" }],
    animated: [true],
    segmind: [{ cost: 0.455, remaining_credits: 9.5, request_id: "req-1", from_cache: false,
      width: 704, height: 1280, frame_count: 185, fps: 24, api_mode: "v2_async", extra: "dropped" }],
  });
  emit("executing", null);
  assert.match(badgeOf(n).element.text(), /Charged \$0\.455 · credits left 9\.50 · 704×1280, 185 frames @ 24 fps = 7\.7 s/);
  const saved = n.properties.segmind_ltx2_last;
  assert.deepEqual(saved.file, { filename: "segmind_ltx2_00001.mp4", subfolder: "segmind", type: "output",
    format: "video/mp4", width: 704, height: 1280 });
  assert.equal(saved.result.request_id, "req-1");
  assert.ok(!("extra" in saved.result));
});

test("after a reload the saved clip plays in a <video controls> with sound", async () => {
  const n = makeNode(9);
  n.properties.segmind_ltx2_last = {
    file: { filename: "a b.mp4", subfolder: "segmind", type: "output", format: "video/mp4", width: 720, height: 1280 },
    result: { cost: 0.455, remaining_credits: null, from_cache: false },
  };
  n.onConfigure?.({});
  ext.loadedGraphNode(n);
  await new Promise((r) => setTimeout(r, 300));
  const w = n.widgets.find((x) => x.name === "segmind_ltx2_video");
  assert.ok(w, "video widget drawn");
  assert.equal(w.options.serialize, false);
  const video = w.element.find((e) => e.tagName === "VIDEO");
  assert.equal(video.src, "/api/view?filename=a+b.mp4&subfolder=segmind&type=output");
  assert.ok(video.hasAttribute("controls"));
  assert.ok(!video.hasAttribute("muted"));
  assert.ok(!video.muted);
  assert.match(badgeOf(n).element.text(), /Charged \$0\.455/);
  // a missing file turns into a message, not a broken player
  video.dispatch("error");
  assert.match(w.element.text(), /no longer in ComfyUI's output folder/);
  // a new run hands the preview back to the front end's own video widget
  n.onExecuted({ images: [{ filename: "b.mp4", subfolder: "", type: "output" }], animated: [true], segmind: [{ cost: null }] });
  assert.ok(!n.widgets.some((x) => x.name === "segmind_ltx2_video"));
  assert.match(badgeOf(n).element.text(), /Cost not reported by Segmind/);
});

test("no fallback video when the front end already shows its own", async () => {
  const n = makeNode(10);
  n.properties.segmind_ltx2_last = { file: { filename: "x.mp4", subfolder: "", type: "output" } };
  n.videoContainer = {};
  ext.loadedGraphNode(n);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!n.widgets.some((x) => x.name === "segmind_ltx2_video"));
});

test("a failure shows the user message on the node", () => {
  const n = makeNode(11);
  // The badge asks for room for its visible lines plus the DOM widget margin (the front
  // end sizes the element to the allotted height minus 2 * margin).
  const opts = badgeOf(n).options;
  // At 400 px the estimate takes one line and its detail two (the lines wrap, not cut).
  assert.equal(opts.getMinHeight(), 3 * 17 + 8 + 2 * opts.margin);
  emit("executing", "11");
  assert.equal(opts.getMinHeight(), 4 * 17 + 8 + 2 * opts.margin);
  // the front end's progress-text widget, left at the last text the server sent
  const stale = { name: "$$node-text-preview", value: "Uploading the image to Segmind...", onRemove() { this.removed = true; } };
  n.widgets.push(stale);
  emit("execution_error", { node_id: "11", exception_message: "Not enough Segmind credits: top up on segmind.com.",
    exception_type: "SegmindError", traceback: ["..."] });
  assert.match(badgeOf(n).element.text(), /Failed: Not enough Segmind credits: top up on segmind\.com\./);
  assert.doesNotMatch(badgeOf(n).element.text(), /Traceback|\.\.\./);
  assert.ok(!n.widgets.includes(stale) && stale.removed, "stale progress text removed");
  // A long message wraps: the badge asks for more lines, and fewer once the node is wider.
  const shortH = opts.getMinHeight();
  emit("executing", "11");
  emit("execution_error", { node_id: "11", exception_message: "Segmind refused the request: " + "width must be a multiple of 32; ".repeat(5) });
  const longH = opts.getMinHeight();
  assert.ok(longH > shortH, `${longH} > ${shortH}`);
  n.size = [1400, n.size[1]];
  n.onDrawForeground();
  assert.ok(opts.getMinHeight() < longH);
});

test("the key entry sends the key to the route, clears the field and never stores it", async () => {
  const setterCalls = [];
  const root = ext.settings[0].type("Segmind API key", (v) => setterCalls.push(v), "", {});
  await new Promise((r) => setTimeout(r, 10));
  const status = root.find((e) => e.getAttribute("data-testid") === "segmind-ltx2-key-status");
  assert.match(status.textContent, /No key set/);
  const input = root.find((e) => e.tagName === "INPUT");
  assert.equal(input.getAttribute("type"), "password");
  assert.equal(input.getAttribute("autocomplete"), "off");
  const save = root.find((e) => e.tagName === "BUTTON" && e.textContent === "Save");
  input.value = ` ${KEY} `;
  save.dispatch("click");
  assert.equal(input.value, "", "field emptied at once");
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(serverKey, KEY);
  const post = fetches.find((f) => f.method === "POST");
  assert.equal(post.route, "/segmind_ltx2/key");
  assert.equal(post.headers["Content-Type"], "application/json");
  assert.match(status.textContent, /Key saved \(ends in …WXYZ\)/);
  assert.deepEqual(setterCalls, []); // the settings store never sees the key
  assert.ok(!settingSets.some(([, v]) => JSON.stringify(v).includes(KEY.slice(0, 10)) && v !== ""));
  assert.ok(!root.text().includes(KEY.slice(0, -4)));
  // remove
  const remove = root.find((e) => e.tagName === "BUTTON" && e.textContent.startsWith("Remove"));
  assert.equal(remove.disabled, false);
  remove.dispatch("click");
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(serverKey, null);
  assert.match(status.textContent, /No key set/);
});

test("a new node's seed control starts at fixed; a loaded workflow keeps its saved value", async () => {
  const control = (n) => n.widgets.find((w) => w.name === "control_after_generate");
  const fresh = makeNode(20);
  assert.equal(control(fresh).value, "fixed");
  // Loading: the front end creates the node (onNodeCreated), then applies the saved values.
  const loaded = makeNode(21);
  control(loaded).value = "randomize";
  loaded.onConfigure?.({ widgets_values: ["a cat", 720, 1280, 181, 24, 42, "randomize"] });
  ext.loadedGraphNode(loaded);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(control(loaded).value, "randomize");
  // A front end without a "fixed" choice is left alone.
  class Odd extends FakeNode {}
  await ext.beforeRegisterNodeDef(Odd, nodeDef, app);
  const odd = new Odd(22);
  control(odd).options.values = ["randomize"];
  odd.onNodeCreated();
  assert.equal(control(odd).value, "randomize");
});

// ------------------------------------------------------------------ issue 14: tab, limits, batch, fit, old workflows

test("the Segmind sidebar tab is registered through the front end's API and shows the jobs", async () => {
  assert.equal(sidebarTabs.length, 1);
  const tab = sidebarTabs[0];
  assert.equal(tab.id, "segmind-ltx2-jobs");
  assert.equal(tab.type, "custom");
  assert.equal(tab.title, "Segmind");
  const container = new FakeElement("div");
  tab.render(container);
  await new Promise((r) => setTimeout(r, 20));
  const panel = container.children[0];
  assert.equal(panel.byTestId("segmind-spend-today").textContent, "$0.910");
  assert.ok(fetches.some((f) => f.route === "/segmind/jobs"));
  tab.destroy();
});

test("spend limits are two settings entries that read and write the route, never the settings store", async () => {
  const limits = ext.settings.filter((s) => s.id.startsWith("SegmindLTX2.SpendLimit."));
  assert.deepEqual(limits.map((s) => s.id), ["SegmindLTX2.SpendLimit.PerDay", "SegmindLTX2.SpendLimit.PerRun"]);
  assert.deepEqual(limits.map((s) => s.category.slice(0, 2)), [["Segmind", "Spend limits"], ["Segmind", "Spend limits"]]);
  const setter = [];
  const day = limits[0].type("x", (v) => setter.push(v), "", {});
  const run = limits[1].type("x", (v) => setter.push(v), "", {});
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(day.byTestId("segmind-limit-per_day").value, "3.00");
  const input = run.byTestId("segmind-limit-per_run");
  input.value = "0.5";
  input.dispatch("change");
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(serverLimits, { per_day: 3, per_run: 0.5 });
  const post = fetches.findLast((f) => f.route === "/segmind/limits" && f.method === "POST");
  assert.equal(post.headers["Content-Type"], "application/json");
  assert.deepEqual(setter, []);
});

test("Add to graph puts a Load Video node on the clip; Collect adds the Collect node with the request id", async () => {
  const tab = sidebarTabs[0];
  const saved = api.fetchApi;
  api.fetchApi = async (route, init = {}) => {
    if (route !== "/segmind/jobs") return saved(route, init);
    return { status: 200, json: async () => ({ live: [], spend: {}, past: [
      { request_id: "req-42", prompt: "p", cost: 0.455, time: 1, collectable: true,
        clip: { filename: "segmind_ltx2_00001.mp4", subfolder: "segmind", type: "output" } },
      { request_id: "req-43", prompt: "gone", cost: 0.455, time: 0, collectable: true, clip: null },
    ] }) };
  };
  try {
    const container = new FakeElement("div");
    tab.render(container);
    await new Promise((r) => setTimeout(r, 20));
    const rows = container.children[0].allByTestId("segmind-past-row");
    created.length = 0;
    rows[0].byTestId("segmind-to-graph").click();
    rows[0].byTestId("segmind-collect").click();
    rows[1].byTestId("segmind-to-graph").click(); // no clip on disk: the Collect node instead
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(created.map((n) => [n.type, n.widgets[0].value]), [
      ["LoadVideo", "segmind/segmind_ltx2_00001.mp4 [output]"],
      ["SegmindLTX2CollectJob", "req-42"],
      ["SegmindLTX2CollectJob", "req-43"],
    ]);
    assert.ok(created.every((n) => graphNodes.has(n.id)), "added to the graph");
    assert.match(toasts.map((t) => t.detail).join("\n"), /Load Video/);
    tab.destroy();
  } finally {
    api.fetchApi = saved;
  }
});

test("with fit = match the picture's aspect, the badge shows the size from the upstream picture", () => {
  const n = makeNode(30);
  n.widgets.push({ name: "fit", value: "match the picture's aspect" });
  n.inputs = [{ name: "image", link: 77 }];
  n.onDrawForeground();
  assert.match(badgeOf(n).element.text(), /Est\. ≤ \$0\.455 · size follows the picture, within 736×1280/);
  graphLinks.set(77, { origin_id: 500 });
  graphNodes.set(500, { id: 500, imgs: [{ naturalWidth: 1920, naturalHeight: 1080 }] });
  n.onDrawForeground();
  assert.match(badgeOf(n).element.text(), /Est\. ≈ \$0\.148 · 736×416 \(picture's aspect\) · 185 frames/);
  assert.match(badgeOf(n).element.text(), /picture 1920×1080 fitted within 720×1280/);
  n.widgets.find((w) => w.name === "fit").value = "crop to width x height";
  n.onDrawForeground();
  assert.match(badgeOf(n).element.text(), /Est\. ≈ \$0\.455 · 736×1280 · 185 frames/);
});

test("a batch run shows one preview per clip, in the front end's preview and after a reload", async () => {
  const n = makeNode(31);
  const clips = [1, 2, 3].map((i) => ({ filename: `segmind_ltx2_0000${i}.mp4`, subfolder: "segmind", type: "output", format: "video/mp4" }));
  const info = (i) => ({ cost: 0.455, remaining_credits: 10 - i, request_id: `req-${i}`, from_cache: false, width: 736, height: 1280, frame_count: 185, fps: 24 });
  n.onExecuted({ images: clips, animated: [true], segmind: [info(1), info(2), info(3)] });
  assert.equal(n.properties.segmind_ltx2_last.files.length, 3);
  assert.deepEqual(n.properties.segmind_ltx2_last.results.map((r) => r.request_id), ["req-1", "req-2", "req-3"]);
  assert.match(badgeOf(n).element.text(), /3 clips · charged \$1\.365 · credits left 7\.00/);
  // The front end (1.27.10) puts only the first clip in its container...
  const container = new FakeElement("div");
  container.append(new FakeElement("video"));
  n.videoContainer = container;
  n.onDrawForeground();
  // ...the extension swaps in a grid of all three, once.
  const grid = container.firstChild;
  assert.equal(grid.getAttribute("data-testid"), "segmind-ltx2-clips");
  const videos = grid.allByTestId("segmind-ltx2-clip");
  assert.deepEqual(videos.map((v) => v.src), clips.map((c) => `/api/view?filename=${c.filename}&subfolder=segmind&type=output`));
  assert.ok(videos.every((v) => v.hasAttribute("controls") && !v.hasAttribute("muted")));
  n.onDrawForeground();
  assert.equal(container.firstChild, grid);
  // The front end reloads its single video (a new output): the grid comes back.
  container.replaceChildren(new FakeElement("video"));
  n.onDrawForeground();
  assert.equal(container.firstChild.getAttribute("data-testid"), "segmind-ltx2-clips");
  // After a reload there is no front-end preview: the extension draws the grid itself.
  const m = makeNode(32);
  m.properties.segmind_ltx2_last = JSON.parse(JSON.stringify(n.properties.segmind_ltx2_last));
  ext.loadedGraphNode(m);
  await new Promise((r) => setTimeout(r, 300));
  const w = m.widgets.find((x) => x.name === "segmind_ltx2_video");
  assert.equal(w.element.allByTestId("segmind-ltx2-clip").length, 3);
  assert.match(badgeOf(m).element.text(), /3 clips/);
});

// The lean Image to Video face (contract), for the migration through configure().
class LeanI2V extends FakeNode {
  constructor(id) {
    super(id);
    const v = { prompt: "", negative_prompt: "neg", width: 720, height: 1280, num_frames: 181, fps: 24, seed: 42,
      control_after_generate: "randomize", guidance_scale: 4, force_rerun: false, backend: "segmind",
      batch_mode: "one picture", batch_index: 0, fit: "crop to width x height" };
    this.widgets = Object.entries(v).map(([name, value]) => ({ name, value }));
    this.inputs = [{ name: "image", link: null }, { name: "options", link: null }];
  }
}

test("an old workflow's 20 values land on the lean face's widgets, with one notice for moved options", async () => {
  await ext.beforeRegisterNodeDef(LeanI2V, {
    name: "SegmindLTX2ImageToVideo",
    input: { required: { image: ["IMAGE"], width: ["INT"], height: ["INT"], num_frames: ["INT"] } },
  }, app);
  const n = new LeanI2V(40);
  n.onNodeCreated();
  toasts.length = 0;
  n.configure({
    id: 40, title: "Segmind LTX-2 Image to Video",
    inputs: [{ name: "image", link: 5 }, { name: "api_mode", widget: { name: "api_mode" }, link: null }],
    widgets_values: ["a cat", "neg", 1280, 720, 97, 24, 7, "fixed", 5, true, "segmind", "sync (v1)", 900, 3, "png", 0, 0, 1, 0, 0],
  });
  const values = Object.fromEntries(n.widgets.filter((w) => w.serialize !== false).map((w) => [w.name, w.value]));
  assert.deepEqual(values, { prompt: "a cat", negative_prompt: "neg", width: 1280, height: 720, num_frames: 97, fps: 24,
    seed: 7, control_after_generate: "fixed", guidance_scale: 5, force_rerun: true, backend: "segmind",
    batch_mode: "one picture", batch_index: 3, fit: "crop to width x height" });
  assert.deepEqual(n.inputs.map((i) => i.name), ["image"]); // the orphan api_mode slot is gone
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(toasts.length, 1);
  assert.equal(toasts[0].severity, "warn");
  assert.match(toasts[0].detail, /#40 Segmind LTX-2 Image to Video: .*api_mode = "sync \(v1\)" \(now on a "Segmind LTX-2 Options" node\)/);
  // A workflow saved with the lean face is applied as is.
  const m = new LeanI2V(41);
  m.onNodeCreated();
  const lean = ["b", "neg", 720, 1280, 181, 24, 1, "fixed", 4, false, "offline preview", "every picture", 0, "match the picture's aspect"];
  m.configure({ id: 41, widgets_values: lean });
  assert.deepEqual(m.widgets.filter((w) => w.serialize !== false).map((w) => w.value), lean);
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(toasts.length, 1);
});

test("the Collect node gets the result line but no estimate", async () => {
  class Collect extends FakeNode {}
  await ext.beforeRegisterNodeDef(Collect, { name: "SegmindLTX2CollectJob", input: { required: { request_id: ["STRING"] } } }, app);
  const n = new Collect(50);
  n.widgets = [{ name: "request_id", value: "req-1" }];
  n.onNodeCreated();
  const badge = badgeOf(n);
  assert.equal(badge.options.getMinHeight(), 0);
  assert.equal(badge.element.style.display, "none");
  n.onDrawForeground();
  assert.doesNotMatch(badge.element.text(), /Est\./);
  n.onExecuted({ images: [{ filename: "c.mp4", subfolder: "segmind", type: "output" }], animated: [true],
    segmind: [{ cost: 0.455, from_cache: true, request_id: "req-1", width: 736, height: 1280, frame_count: 185, fps: 24 }] });
  assert.match(badge.element.text(), /^Reused cached clip \(not billed again\)/m);
  assert.equal(badge.element.style.display, "");
  assert.ok(badge.options.getMinHeight() > 0);
});

test("the Extend node's badge counts every segment by the model it picks", async () => {
  class Extend extends FakeNode {}
  await ext.beforeRegisterNodeDef(Extend, { name: "SegmindLTX2Extend", input: { required: { video: ["VIDEO"], prompts: ["STRING"] } } }, app);
  const n = new Extend(60);
  n.widgets = [{ name: "prompts", value: "the deer looks up\nit walks off" }, { name: "model", value: "ltx-2-pro" },
    { name: "num_frames", value: 121 }, { name: "duration", value: 6 }, { name: "resolution", value: "1080p" },
    { name: "fps", value: "not sent" }];
  n.onNodeCreated();
  const badge = badgeOf(n);
  assert.match(badge.element.text(), /Est\. ≈ \$0\.720 for 2 segments \(2 × \$0\.360, unconfirmed\)/);
  n.widgets[0].value = "one\ntwo\nthree";
  n.onDrawForeground();
  assert.match(badge.element.text(), /for 3 segments/);
  n.widgets[1].value = "ltx-2-19b-i2v";
  n.onDrawForeground();
  assert.match(badge.element.text(), /3 segments × the LTX-2 19B price at the input clip's size/);
  // The clip from an Image to Video node upstream: its size (on the grid) prices the segments.
  n.inputs = [{ name: "video", link: 88 }];
  graphLinks.set(88, { origin_id: 600 });
  graphNodes.set(600, { id: 600, type: "SegmindLTX2ImageToVideo",
    widgets: [{ name: "width", value: 720 }, { name: "height", value: 1280 }] });
  n.onDrawForeground();
  assert.match(badge.element.text(), /Est\. ≈ \$\d\.\d{3} for 3 segments \(3 × \$0\.\d{3} at 736×1280\)/);
});

test("the team setting sends the Redis address to the route, clears the field and never stores or shows its password", async () => {
  assert.equal(settingValues["SegmindLTX2.Team"], "", "an address stored in the settings is wiped at setup");
  const entry = ext.settings.find((s) => s.id === "SegmindLTX2.Team");
  assert.deepEqual(entry.category, ["Segmind", "Team", "Redis"]);
  const setterCalls = [];
  const root = entry.type(entry.name, (v) => setterCalls.push(v), "", {});
  await new Promise((r) => setTimeout(r, 10));
  const status = root.find((e) => e.getAttribute("data-testid") === "segmind-ltx2-team-status");
  assert.match(status.textContent, /this machine's user folder/);
  const input = root.find((e) => e.tagName === "INPUT");
  assert.equal(input.getAttribute("type"), "password");
  const choice = root.find((e) => e.tagName === "SELECT");
  choice.value = "local";
  input.value = "redis://:s3cret@team-host:6379/0";
  root.find((e) => e.tagName === "BUTTON" && e.textContent === "Save").dispatch("click");
  assert.equal(input.value, "", "field emptied at once");
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(serverTeam, { redis_url: "redis://:s3cret@team-host:6379/0", when_redis_down: "local" });
  assert.match(status.textContent, /team's Redis at redis:\/\/\*\*\*@team-host:6379\/0/);
  assert.deepEqual(setterCalls, []);
  assert.ok(!root.text().includes("s3cret"));
  assert.ok(!settingSets.some(([, v]) => String(v).includes("s3cret")));
});
