// Smoke test of the extension entry (web/js/segmind_ltx2.js) against small fakes of
// ComfyUI's app/api and of the few DOM calls it makes. The entry's imports of
// "../../../scripts/app.js" and "../../../scripts/api.js" are redirected to the fakes by a
// module resolve hook registered below, so no browser and no npm package is needed.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";

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
class FakeElement {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.style = {};
    this.children = [];
    this.attributes = {};
    this.listeners = {};
    this.textContent = "";
    this.title = "";
    this.className = "";
    this.value = "";
    this.disabled = false;
    this.src = "";
    this.parent = null;
  }
  setAttribute(k, v) { this.attributes[k] = String(v); }
  getAttribute(k) { return this.attributes[k] ?? null; }
  hasAttribute(k) { return k in this.attributes; }
  append(...cs) { for (const c of cs) { if (typeof c === "object") c.parent = this; this.children.push(c); } }
  replaceChildren(...cs) { this.children = []; this.append(...cs); }
  remove() { if (this.parent) this.parent.children = this.parent.children.filter((c) => c !== this); }
  addEventListener(t, fn) { (this.listeners[t] ??= []).push(fn); }
  dispatch(t, ev = {}) { for (const fn of this.listeners[t] ?? []) fn({ preventDefault() {}, ...ev }); }
  all() { return [this, ...this.children.flatMap((c) => (c instanceof FakeElement ? c.all() : []))]; }
  find(pred) { return this.all().find(pred); }
  text() { return this.all().map((e) => e.textContent).join("\n"); }
}
globalThis.document = { createElement: (t) => new FakeElement(t) };
globalThis.confirm = () => true;

// ------------------------------------------------------------------ fake ComfyUI
const extensions = [];
const settingValues = { "SegmindLTX2.ApiKey": KEY }; // as if an older version had stored it
const settingSets = [];
const listeners = {};
const fetches = [];
let serverKey = null;
const app = {
  graph: {},
  registerExtension: (ext) => extensions.push(ext),
  extensionManager: {
    setting: {
      get: (id) => settingValues[id],
      set: async (id, v) => { settingSets.push([id, v]); settingValues[id] = v; },
    },
  },
};
const api = {
  addEventListener: (t, fn) => (listeners[t] ??= []).push(fn),
  apiURL: (p) => "/api" + p,
  async fetchApi(route, init = {}) {
    fetches.push({ route, ...init });
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
  assert.deepEqual(settingSets, [["SegmindLTX2.ApiKey", ""]]);
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
  assert.match(badge.element.text(), /Est\. ≈ \$0\.455 · 720×1280 · 181 frames @ 24 fps = 7\.5 s/);
  const width = n.widgets.find((w) => w.name === "width");
  width.value = 360;
  width.callback(360);
  assert.match(badge.element.text(), /Est\. ≈ \$0\.228 · 360×1280/);
  // fps changes the clip length, not the price
  const fps = n.widgets.find((w) => w.name === "fps");
  fps.value = 12;
  n.onDrawForeground(); // values changed without a callback are picked up on the next draw
  assert.match(badge.element.text(), /\$0\.228 · 360×1280 · 181 frames @ 12 fps = 15\.1 s/);
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
  assert.equal(opts.getMinHeight(), 2 * 17 + 8 + 2 * opts.margin);
  emit("executing", "11");
  assert.equal(opts.getMinHeight(), 3 * 17 + 8 + 2 * opts.margin);
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
