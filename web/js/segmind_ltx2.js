// ComfyUI front-end extension for the Segmind LTX-2 nodes (tested with front end 1.27.10).
//
//  * a badge on each SegmindLTX2* node with a cost estimate for its current width, height,
//    num_frames and fps, and after a run what Segmind reported (cost, credits left);
//  * a "Running · 0:42" line until the Python side's first progress text arrives (the
//    front end shows ComfyUI progress text on the node by itself), and the failure
//    message on the node when the run fails;
//  * the returned clip after a workflow reload: the front end's own video preview lives
//    only in memory, so the file info is kept in node.properties and drawn as a
//    <video controls> until a new run replaces it;
//  * the "Segmind API key" entry in the settings dialog, which sends the key to the
//    pack's route and never stores it in the browser's settings (see key_settings.js).
//
// The logic lives in small pure modules (cost.js, format.js, key_settings.js) that the
// tests in tests/js/ import; this file only wires them to ComfyUI.

import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { estimateCost, isSegmindVideoNodeDef, COST_NOTE } from "./cost.js";
import { formatEstimate, formatEstimateDetail, formatResult, formatError, formatStatus } from "./format.js";
import {
  SETTING_ID,
  SETTING_PLACEHOLDER,
  KEY_ROUTE,
  createKeyController,
  sanitizeStoredValue,
} from "./key_settings.js";

const EXT_NAME = "Segmind.LTX2";
const PROP = "segmind_ltx2_last"; // node.properties key: last clip's file info and result
const BADGE_WIDGET = "segmind_ltx2_badge";
const VIDEO_WIDGET = "segmind_ltx2_video";
const COST_INPUTS = ["width", "height", "num_frames", "fps"];
const LINE_PX = 17;
// Front end 1.27.10 gives a DOM widget's element its allotted height minus twice
// options.margin (default 10), so the margin is part of the height we ask for.
const BADGE_MARGIN = 4;

const ourNodes = new Set(); // live node objects of our classes

// ----------------------------------------------------------------------------- helpers

function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") Object.assign(e.style, v);
    else if (k === "className") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function isLinked(node, name) {
  return !!node.inputs?.some((i) => i?.name === name && i.link != null);
}

function costValues(node) {
  const out = {};
  for (const name of COST_INPUTS) {
    const w = node.widgets?.find((x) => x.name === name);
    out[name] = w && !isLinked(node, name) ? w.value : null;
  }
  return out;
}

function removeWidget(node, name) {
  const i = node.widgets?.findIndex((w) => w.name === name) ?? -1;
  if (i < 0) return;
  const w = node.widgets[i];
  w.onRemove?.();
  w.element?.remove?.();
  node.widgets.splice(i, 1);
  node.setDirtyCanvas?.(true, true);
}

function findNode(nodeId) {
  if (nodeId == null) return null;
  const id = String(nodeId);
  for (const n of ourNodes) if (String(n.id) === id) return n;
  // Inside a subgraph the execution id is "outer:inner"; match the last part.
  const last = id.split(":").pop();
  for (const n of ourNodes) if (String(n.id) === last && n.graph !== app.graph) return n;
  return null;
}

// ----------------------------------------------------------------------------- the badge

function ensureBadge(node) {
  if (node.__segmindBadge) return node.__segmindBadge;
  const estimate = el("div", { className: "segmind-ltx2-estimate", title: COST_NOTE });
  const detail = el("div", { className: "segmind-ltx2-estimate-detail" });
  const result = el("div", { className: "segmind-ltx2-result" });
  const status = el("div", { className: "segmind-ltx2-status" });
  const root = el(
    "div",
    {
      className: "segmind-ltx2-badge",
      "data-testid": "segmind-ltx2-badge",
      style: {
        boxSizing: "border-box",
        width: "100%",
        padding: "3px 6px",
        borderRadius: "6px",
        font: "12px/17px system-ui, sans-serif",
        color: "var(--input-text, #ddd)",
        background: "var(--comfy-input-bg, #222)",
        overflow: "hidden",
        whiteSpace: "nowrap",
        textOverflow: "ellipsis",
        pointerEvents: "auto",
      },
    },
    [estimate, detail, result, status],
  );
  detail.style.opacity = "0.7";
  result.style.color = "#8fd18f";
  for (const d of [result, status]) Object.assign(d.style, { whiteSpace: "normal", overflowWrap: "anywhere" });
  // Empty lines take no room (relayout counts the visible ones).
  result.style.display = "none";
  status.style.display = "none";
  const badge = { root, estimate, detail, result, status, key: null, lines: 2, runStart: null, timer: null, gotText: false };
  const height = () => badge.lines * LINE_PX + 8 + 2 * BADGE_MARGIN;
  const widget = node.addDOMWidget(BADGE_WIDGET, "segmind-badge", root, {
    serialize: false,
    hideOnZoom: false,
    margin: BADGE_MARGIN,
    getMinHeight: height,
    getMaxHeight: height,
  });
  widget.serialize = false;
  node.__segmindBadge = badge;
  return badge;
}

function setLine(div, text, { color } = {}) {
  div.textContent = text || "";
  div.title = text || "";
  div.style.display = text ? "block" : "none";
  if (color !== undefined) div.style.color = color;
}

// The result and status lines wrap (the charge and an error message must be readable on
// the node); their height is estimated from the text length and the node's width (about
// 6.6 px per 12 px character), since the element may not be laid out yet.
const WRAP_MAX_LINES = 5;
function wrappedLines(node, div) {
  const text = div.textContent ?? "";
  if (div.style.display === "none" || !text) return 0;
  const perLine = Math.max(20, Math.floor(((node.size?.[0] ?? 400) - 40) / 6.6));
  return Math.min(WRAP_MAX_LINES, Math.max(1, Math.ceil(text.length / perLine)));
}

function relayout(node, badge) {
  const lines =
    [badge.estimate, badge.detail].filter((d) => d.style.display !== "none").length +
    wrappedLines(node, badge.result) +
    wrappedLines(node, badge.status);
  badge.width = node.size?.[0];
  if (lines !== badge.lines) {
    badge.lines = lines;
    const min = node.computeSize?.();
    if (min && node.size && node.size[1] < min[1]) node.setSize?.([node.size[0], min[1]]);
  }
  node.setDirtyCanvas?.(true, true);
}

function updateEstimate(node, force = false) {
  const badge = ensureBadge(node);
  const values = costValues(node);
  const key = JSON.stringify(values);
  if (!force && key === badge.key) return;
  badge.key = key;
  const est = estimateCost(values);
  setLine(badge.estimate, formatEstimate(est));
  setLine(badge.detail, formatEstimateDetail(est));
  badge.estimate.title = COST_NOTE;
  relayout(node, badge);
}

function showResult(node) {
  const badge = ensureBadge(node);
  const last = node.properties?.[PROP];
  setLine(badge.result, last?.result ? formatResult(last.result) : "");
  relayout(node, badge);
}

function stopTimer(badge) {
  if (badge.timer) clearInterval(badge.timer);
  badge.timer = null;
  badge.runStart = null;
}

function startRunning(node) {
  const badge = ensureBadge(node);
  stopTimer(badge);
  badge.runStart = Date.now();
  badge.gotText = false;
  const tick = () => {
    if (badge.gotText || badge.runStart == null) return;
    const elapsedS = (Date.now() - badge.runStart) / 1000;
    setLine(badge.status, formatStatus({ phase: "starting", elapsedS }), { color: "" });
    relayout(node, badge);
  };
  tick();
  badge.timer = setInterval(tick, 1000);
}

// The front end's own progress-text widget: it keeps the last text ("Uploading the image
// to Segmind...") after a failure, which reads as if the node were still working.
const FRONTEND_TEXT_WIDGET = "$$node-text-preview";

function finishRunning(node, errorMessage) {
  const badge = ensureBadge(node);
  stopTimer(badge);
  if (errorMessage) removeWidget(node, FRONTEND_TEXT_WIDGET);
  if (errorMessage) setLine(badge.status, formatError(errorMessage), { color: "#ff7b7b" });
  else setLine(badge.status, "");
  relayout(node, badge);
}

// ----------------------------------------------------------------------------- saved clip

function clipUrl(file) {
  const params = new URLSearchParams({
    filename: file.filename,
    subfolder: file.subfolder ?? "",
    type: file.type ?? "output",
  });
  return api.apiURL(`/view?${params}`);
}

function hasStandardVideo(node) {
  return !!node.videoContainer || !!node.widgets?.some((w) => w.name === "video-preview");
}

function showSavedVideo(node) {
  const file = node.properties?.[PROP]?.file;
  if (!file?.filename || hasStandardVideo(node)) return;
  if (node.widgets?.some((w) => w.name === VIDEO_WIDGET)) return;
  const video = el("video", {
    controls: "",
    loop: "",
    playsinline: "",
    preload: "metadata",
    "data-testid": "segmind-ltx2-video",
    style: { width: "100%", height: "100%", objectFit: "contain", background: "#000" },
  });
  // Not muted: the clip's audio plays when the user presses play.
  const box = el("div", { className: "segmind-ltx2-video", style: { width: "100%", height: "100%" } }, [video]);
  video.addEventListener("error", () => {
    box.replaceChildren(
      el("div", {
        text: `The saved clip ${file.subfolder ? file.subfolder + "/" : ""}${file.filename} is no longer in ComfyUI's output folder; run the node again.`,
        style: { font: "12px system-ui, sans-serif", color: "var(--input-text, #ddd)", padding: "4px", whiteSpace: "normal" },
      }),
    );
  });
  video.src = clipUrl(file);
  const aspect = file.width > 0 && file.height > 0 ? file.height / file.width : 16 / 9;
  const widget = node.addDOMWidget(VIDEO_WIDGET, "video", box, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: () => Math.max(64, Math.min(900, (node.size?.[0] ?? 300) * aspect)),
  });
  widget.serialize = false;
  node.setDirtyCanvas?.(true, true);
}

function rememberOutput(node, output) {
  const image = output?.images?.[0];
  const info = output?.segmind?.[0];
  if (!image?.filename && !info) return;
  node.properties = node.properties ?? {};
  const prev = node.properties[PROP] ?? {};
  const entry = { ...prev };
  if (image?.filename) {
    entry.file = {
      filename: String(image.filename),
      subfolder: String(image.subfolder ?? ""),
      type: String(image.type ?? "output"),
      format: image.format ? String(image.format) : "video/mp4",
      width: Number(info?.width) || null,
      height: Number(info?.height) || null,
    };
  }
  if (info && typeof info === "object") {
    // Only these fields: nothing else from the output lands in the workflow.
    const num = (x) => (typeof x === "number" && Number.isFinite(x) ? x : null);
    entry.result = {
      cost: num(info.cost),
      remaining_credits: num(info.remaining_credits),
      request_id: typeof info.request_id === "string" ? info.request_id : null,
      from_cache: Boolean(info.from_cache),
      width: num(info.width),
      height: num(info.height),
      frame_count: num(info.frame_count),
      fps: num(info.fps),
      api_mode: typeof info.api_mode === "string" ? info.api_mode : null,
    };
  }
  node.properties[PROP] = entry;
}

// ----------------------------------------------------------------------------- node hooks

function chain(proto, name, after) {
  const orig = proto[name];
  proto[name] = function (...args) {
    const r = orig?.apply(this, args);
    try {
      after.apply(this, args);
    } catch (err) {
      console.error(`[${EXT_NAME}] ${name}:`, err);
    }
    return r;
  };
}

function watchCostWidgets(node) {
  for (const name of COST_INPUTS) {
    const w = node.widgets?.find((x) => x.name === name);
    if (!w || w.__segmindWatched) continue;
    w.__segmindWatched = true;
    const orig = w.callback;
    w.callback = function (...args) {
      const r = orig?.apply(this, args);
      updateEstimate(node);
      return r;
    };
  }
}

// The seed's "control after generate" widget: the front end (1.27.10) creates it as
// "randomize" whatever the node definition says. A new node starts at "fixed" instead, so
// queueing the same graph again reuses the cached clip rather than paying for a new one.
// onNodeCreated also runs for nodes of a loaded workflow or a paste, but the front end
// applies the saved widget values after it, so a saved "randomize" still wins.
const SEED_WIDGET = "seed";
const SEED_CONTROL_DEFAULT = "fixed";

function seedControlWidget(node) {
  const seed = node.widgets?.find((w) => w.name === SEED_WIDGET);
  if (!seed) return null;
  const linked = seed.linkedWidgets?.find((w) => w?.name === "control_after_generate");
  if (linked) return linked;
  // Older front ends: the control widget follows the seed widget in node.widgets.
  const i = node.widgets.indexOf(seed);
  const next = node.widgets[i + 1];
  return next?.name === "control_after_generate" ? next : null;
}

function defaultSeedControlToFixed(node) {
  const control = seedControlWidget(node);
  if (!control) return;
  const values = control.options?.values;
  if (Array.isArray(values) && !values.includes(SEED_CONTROL_DEFAULT)) return;
  control.value = SEED_CONTROL_DEFAULT;
}

function patchNodeType(nodeType) {
  const proto = nodeType.prototype;
  chain(proto, "onNodeCreated", function () {
    ourNodes.add(this);
    defaultSeedControlToFixed(this);
    ensureBadge(this);
    watchCostWidgets(this);
    updateEstimate(this, true);
    showResult(this);
  });
  chain(proto, "onConfigure", function () {
    ourNodes.add(this);
    watchCostWidgets(this);
    updateEstimate(this, true);
    showResult(this);
  });
  chain(proto, "onExecuted", function (output) {
    rememberOutput(this, output);
    removeWidget(this, VIDEO_WIDGET); // the front end's own preview shows the new clip
    finishRunning(this);
    showResult(this);
  });
  chain(proto, "onRemoved", function () {
    const badge = this.__segmindBadge;
    if (badge) stopTimer(badge);
    ourNodes.delete(this);
  });
  // Catch every other way a value can change (paste, undo, links): cheap comparison per frame.
  chain(proto, "onDrawForeground", function () {
    updateEstimate(this);
    const badge = this.__segmindBadge;
    if (badge && badge.width !== this.size?.[0]) relayout(this, badge);
    if (hasStandardVideo(this) && this.widgets?.some((w) => w.name === VIDEO_WIDGET)) {
      removeWidget(this, VIDEO_WIDGET);
    }
  });
}

// ----------------------------------------------------------------------------- settings

async function keyRequest(method, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await api.fetchApi(KEY_ROUTE, init);
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  return { status: res.status, data };
}

// A custom setting type: the setting store is never given the key (the setter passed in
// is deliberately unused), so comfy.settings.json only ever holds the placeholder.
function renderKeySetting(_name, _setValueUnused, _value, _attrs) {
  const status = el("div", {
    className: "segmind-ltx2-key-status",
    "data-testid": "segmind-ltx2-key-status",
    style: { fontSize: "0.9em", marginBottom: "6px", whiteSpace: "normal", maxWidth: "34em" },
    text: "Checking…",
  });
  const input = el("input", {
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    name: "segmind-ltx2-key-entry",
    "data-lpignore": "true",
    "data-1p-ignore": "true",
    placeholder: "SG_… paste, then Save",
    "aria-label": "Segmind API key",
    style: { flex: "1", minWidth: "12em", padding: "4px 6px" },
  });
  const save = el("button", { type: "button", text: "Save", className: "p-button p-component p-button-sm" });
  const remove = el("button", {
    type: "button",
    text: "Remove saved key",
    className: "p-button p-component p-button-sm p-button-secondary",
  });
  const row = el("div", { style: { display: "flex", gap: "6px", alignItems: "center", flexWrap: "wrap" } }, [input, save, remove]);
  const note = el("div", {
    style: { fontSize: "0.8em", opacity: "0.75", marginTop: "6px", whiteSpace: "normal", maxWidth: "34em" },
    text:
      "The key goes to this ComfyUI server and is stored in its user folder, readable by your account only. " +
      "It is never kept in workflows, in the browser's settings or on this page.",
  });
  const root = el("div", { className: "segmind-ltx2-key", "data-testid": "segmind-ltx2-key" }, [status, row, note]);

  const colors = { ok: "var(--p-green-400, #6c6)", warn: "var(--p-amber-400, #db4)", error: "var(--p-red-400, #e66)" };
  const controller = createKeyController({
    request: keyRequest,
    onChange: (s) => {
      const busy = s.phase === "loading" || s.phase === "saving" || s.phase === "removing";
      save.disabled = busy;
      remove.disabled = busy || !(s.status?.set && s.status?.source === "file") && !s.status?.env_overrides_file;
      if (busy) status.textContent = s.phase === "saving" ? "Saving…" : s.phase === "removing" ? "Removing…" : "Checking…";
      else status.textContent = s.message;
      status.style.color = busy ? "" : colors[s.level] ?? "";
    },
  });
  const doSave = () => {
    const text = input.value;
    input.value = ""; // the key leaves the page as soon as it is sent
    void controller.save(text);
  };
  save.addEventListener("click", doSave);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      doSave();
    }
  });
  remove.addEventListener("click", () => {
    if (confirm("Remove the Segmind API key saved on this ComfyUI server?")) void controller.remove();
  });
  void controller.refresh();
  return root;
}

// ----------------------------------------------------------------------------- extension

// ComfyUI serves this folder twice when the pack's folder is not named like its project
// (once for WEB_DIRECTORY, once for pyproject's [tool.comfy] web): register only once.
const alreadyRegistered = (app.extensions ?? []).some((ext) => ext?.name === EXT_NAME);

if (!alreadyRegistered) app.registerExtension({
  name: EXT_NAME,

  settings: [
    {
      id: SETTING_ID,
      category: ["Segmind", "API key", "Key"],
      name: "Segmind API key",
      tooltip:
        "Stored on the ComfyUI server (user/segmind/api_key), never in the browser. " +
        "The SEGMIND_API_KEY environment variable, when set, wins.",
      type: renderKeySetting,
      defaultValue: SETTING_PLACEHOLDER,
    },
  ],

  async setup() {
    // Never let a key sit in the saved settings, whatever put it there.
    try {
      const settings = app.extensionManager?.setting;
      const fix = sanitizeStoredValue(settings?.get?.(SETTING_ID));
      if (fix !== null) await settings.set(SETTING_ID, fix);
    } catch (err) {
      console.warn(`[${EXT_NAME}] could not check the key setting:`, err);
    }

    api.addEventListener("executing", ({ detail }) => {
      const id = detail == null ? null : String(detail);
      for (const node of ourNodes) {
        const badge = node.__segmindBadge;
        if (!badge) continue;
        if (findNode(id) === node) {
          if (badge.runStart == null) startRunning(node);
        } else if (badge.runStart != null) {
          finishRunning(node);
        }
      }
    });
    api.addEventListener("progress_text", ({ detail }) => {
      // The front end shows this text on the node itself; our own line steps aside.
      const node = findNode(detail?.nodeId);
      const badge = node?.__segmindBadge;
      if (!badge || badge.gotText) return;
      badge.gotText = true;
      setLine(badge.status, "");
      relayout(node, badge);
    });
    api.addEventListener("execution_error", ({ detail }) => {
      const node = findNode(detail?.node_id);
      if (node) finishRunning(node, detail?.exception_message);
      for (const n of ourNodes) if (n !== node && n.__segmindBadge?.runStart != null) finishRunning(n);
    });
    api.addEventListener("execution_interrupted", ({ detail }) => {
      const node = findNode(detail?.node_id);
      for (const n of ourNodes) if (n.__segmindBadge?.runStart != null) finishRunning(n);
      if (node) {
        removeWidget(node, FRONTEND_TEXT_WIDGET);
        setLine(node.__segmindBadge.status, formatStatus({ phase: "cancelled" }), { color: "#ffb347" });
        relayout(node, node.__segmindBadge);
      }
    });
  },

  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!isSegmindVideoNodeDef(nodeData)) return;
    if (nodeData.api_node) {
      console.warn(`[${EXT_NAME}] ${nodeData.name} is flagged API_NODE; the front end will ask for a Comfy.org sign-in.`);
    }
    patchNodeType(nodeType);
  },

  loadedGraphNode(node) {
    if (!ourNodes.has(node)) return;
    updateEstimate(node, true);
    showResult(node);
    // Let the front end restore its own preview first (switching workflow tabs keeps it);
    // draw ours only if it did not.
    setTimeout(() => showSavedVideo(node), 250);
  },
});
