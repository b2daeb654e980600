// ComfyUI front-end extension for the Segmind LTX-2 nodes (tested with front end 1.27.10).
//
//  * a badge on each SegmindLTX2* node with the size and frame count Segmind will really
//    return (LTX-2's 32-pixel and 8k+1 grid; with fit = "match the picture's aspect" the
//    size from the upstream picture when the front end knows it), the clip's duration and
//    the estimated cost, and after a run what Segmind reported (cost, credits left); the
//    Collect Job node gets the result line only;
//  * a "Running · 0:42" line until the Python side's first progress text arrives (the
//    front end shows ComfyUI progress text on the node by itself), and the failure
//    message on the node when the run fails;
//  * the returned clip after a workflow reload: the front end's own video preview lives
//    only in memory, so the file info is kept in node.properties and drawn as a
//    <video controls> until a new run replaces it;
//  * the "Segmind API key" entry in the settings dialog, which sends the key to the
//    pack's route and never stores it in the browser's settings (see key_settings.js);
//  * the spend limits (per day, per queued run) in the settings dialog, kept by the pack's
//    route, not by the browser (jobs.js, panel.js);
//  * the team setting (Segmind > Team): the team's Redis address and what to do when it is
//    down, sent to the pack's route, its password never kept or shown here (team_settings.js);
//  * a "Segmind" sidebar tab: live jobs, past jobs and spend (panel.js), through the front
//    end's extensionManager.registerSidebarTab (front end 1.3.9 and later; skipped, with a
//    console note, on a front end without it);
//  * one preview per clip when a batch run returns several clips;
//  * old workflows: the values of the pack's former, wider node face are moved onto the
//    lean face's widgets when a workflow loads (migrate.js).
//
// The logic lives in small pure modules (cost.js, format.js, key_settings.js, team_settings.js,
// jobs.js, migrate.js) and a DOM module (panel.js) that the tests in tests/js/ import; this file
// only wires them to ComfyUI.

import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { estimateForNode, isSegmindVideoNodeDef, COST_NOTE, costNote, modelForNode } from "./cost.js";
import { EXTEND_CLASS, EXTEND_INPUTS, clipSizeOf, extendEstimate, formatExtendEstimate } from "./extend_cost.js";
import { formatEstimate, formatEstimateDetail, formatResults, formatError, formatStatus } from "./format.js";
import { LIMITS_ROUTE, LIMIT_FIELDS, LIMIT_LABELS, createLimitsController, loadVideoValue } from "./jobs.js";
import { migrateWidgetValues, pruneDroppedInputs, describeDropped, OLD_LAYOUTS } from "./migrate.js";
import { createJobsPanel, renderLimitField } from "./panel.js";
import {
  SETTING_ID,
  SETTING_PLACEHOLDER,
  KEY_ROUTE,
  createKeyController,
  sanitizeStoredValue,
} from "./key_settings.js";
import { TEAM_SETTING_ID, TEAM_PLACEHOLDER, TEAM_ROUTE, WHEN_DOWN_CHOICES, createTeamController } from "./team_settings.js";

const EXT_NAME = "Segmind.LTX2";
const PROP = "segmind_ltx2_last"; // node.properties key: last clip's file info and result
const BADGE_WIDGET = "segmind_ltx2_badge";
const VIDEO_WIDGET = "segmind_ltx2_video";
const COST_INPUTS = ["width", "height", "num_frames", "fps", "fit", "batch_mode", "duration", "resolution"];
const SIDEBAR_TAB_ID = "segmind-ltx2-jobs";
const COLLECT_CLASS = "SegmindLTX2CollectJob";
const LOAD_VIDEO_CLASS = "LoadVideo";
const MAX_PREVIEWS = 64; // clips kept in node.properties for the preview after a reload
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

// The node whose output feeds `node`'s input `name`, or null (not linked, or not found).
function upstreamNode(node, name) {
  const input = node.inputs?.find((i) => i?.name === name);
  if (input?.link == null) return null;
  const graph = node.graph ?? app.graph;
  const link = graph?.links?.get?.(input.link) ?? graph?.links?.[input.link];
  return (link ? graph.getNodeById?.(link.origin_id) : null) ?? null;
}

// The clip on the "video" input, when a Segmind node upstream says its size (its size
// widgets, or its resolution): what an Extend's 19B segments are priced at.
function upstreamClipSize(node) {
  const origin = upstreamNode(node, "video");
  if (!origin) return null;
  const values = Object.fromEntries((origin.widgets ?? []).map((w) => [w.name, w.value]));
  return clipSizeOf(origin.comfyClass ?? origin.type, values);
}

// The picture on the "image" input, when the front end knows its size: a LoadImage (or any
// node with an image preview) upstream has node.imgs[0], an <img> with its natural size.
function upstreamPictureSize(node) {
  const origin = upstreamNode(node, "image");
  const img = origin?.imgs?.[origin.imageIndex ?? 0] ?? origin?.imgs?.[0];
  const width = img?.naturalWidth;
  const height = img?.naturalHeight;
  return width > 0 && height > 0 ? { width, height } : null;
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
  // Every line wraps rather than being cut at the node's edge.
  for (const d of [estimate, detail, result, status]) Object.assign(d.style, { whiteSpace: "normal", overflowWrap: "anywhere" });
  // Empty lines take no room (relayout counts the visible ones).
  result.style.display = "none";
  status.style.display = "none";
  const badge = { root, estimate, detail, result, status, key: null, lines: 2, runStart: null, timer: null, gotText: false };
  // No visible line (a Collect node before its first run): no room taken.
  const height = () => (badge.lines ? (badge.px ?? badge.lines * LINE_PX) + 8 + 2 * BADGE_MARGIN : 0);
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

// The lines wrap (the size, the charge and an error message must be readable on the node).
// Once the badge is laid out its lines' real heights are used; before that the height is
// estimated from the text length and the node's width (about 6.6 px per 12 px character).
const WRAP_MAX_LINES = 5;
function wrappedLines(node, div) {
  const text = div.textContent ?? "";
  if (div.style.display === "none" || !text) return 0;
  const perLine = Math.max(20, Math.floor(((node.size?.[0] ?? 400) - 40) / 6.6));
  return Math.min(WRAP_MAX_LINES, Math.max(1, Math.ceil(text.length / perLine)));
}

function measuredHeight(node, badge) {
  // Only once the element has (about) the node's width: while the front end is still
  // placing it, a few pixels' width would wrap every character onto a line of its own.
  const width = badge.root.offsetWidth;
  if (!(width > 0) || width < 0.6 * ((node.size?.[0] ?? 0) - 2 * BADGE_MARGIN)) return null;
  let px = 0;
  for (const d of [badge.estimate, badge.detail, badge.result, badge.status]) {
    if (d.style.display !== "none") px += d.offsetHeight || 0;
  }
  return px > 0 ? Math.min(px, 4 * WRAP_MAX_LINES * LINE_PX) : null;
}

function relayout(node, badge) {
  const lines = [badge.estimate, badge.detail, badge.result, badge.status].reduce((n, d) => n + wrappedLines(node, d), 0);
  badge.width = node.size?.[0];
  badge.root.style.display = lines ? "" : "none";
  const px = lines ? measuredHeight(node, badge) : null;
  if (lines !== badge.lines || px !== badge.px) {
    badge.lines = lines;
    badge.px = px;
    const min = node.computeSize?.();
    if (min && node.size && node.size[1] < min[1]) node.setSize?.([node.size[0], min[1]]);
  }
  node.setDirtyCanvas?.(true, true);
}

function updateEstimate(node, force = false) {
  const badge = ensureBadge(node);
  if (node.__segmindCollect) {
    // The Collect node never pays: no estimate, only the result and status lines.
    if (badge.key !== "collect") {
      badge.key = "collect";
      setLine(badge.estimate, "");
      setLine(badge.detail, "");
      relayout(node, badge);
    }
    return;
  }
  if (node.__segmindExtend) {
    // Extend: every segment's estimate (one a line of its prompts) by the model it picks.
    const values = Object.fromEntries(EXTEND_INPUTS.map((n) => [n, node.widgets?.find((w) => w.name === n)?.value ?? null]));
    const clip = upstreamClipSize(node);
    const key = JSON.stringify(["extend", values, clip]);
    if (!force && key === badge.key) return;
    badge.key = key;
    setLine(badge.estimate, formatExtendEstimate(extendEstimate(values, clip)));
    setLine(badge.detail, "");
    badge.estimate.title = costNote(values.model);
    relayout(node, badge);
    return;
  }
  const values = costValues(node);
  const picture = values.fit != null ? upstreamPictureSize(node) : null;
  const key = JSON.stringify([values, picture]);
  if (!force && key === badge.key) return;
  badge.key = key;
  const model = modelForNode(node.comfyClass ?? node.type);
  const est = estimateForNode(values, picture, model);
  setLine(badge.estimate, formatEstimate(est));
  setLine(badge.detail, formatEstimateDetail(est));
  badge.estimate.title = costNote(model);
  relayout(node, badge);
}

function showResult(node) {
  const badge = ensureBadge(node);
  const last = node.properties?.[PROP];
  const results = Array.isArray(last?.results) && last.results.length ? last.results : last?.result ? [last.result] : [];
  setLine(badge.result, formatResults(results));
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

function savedFiles(node) {
  const last = node.properties?.[PROP];
  if (Array.isArray(last?.files) && last.files.length) return last.files.filter((f) => f?.filename);
  return last?.file?.filename ? [last.file] : [];
}

function missingClipNote(file) {
  return el("div", {
    text: `The saved clip ${file.subfolder ? file.subfolder + "/" : ""}${file.filename} is no longer in ComfyUI's output folder; run the node again.`,
    style: { font: "12px system-ui, sans-serif", color: "var(--input-text, #ddd)", padding: "4px", whiteSpace: "normal" },
  });
}

function clipVideo(file, testid) {
  const video = el("video", {
    controls: "",
    loop: "",
    playsinline: "",
    preload: "metadata",
    "data-testid": testid,
    style: { width: "100%", height: "100%", objectFit: "contain", background: "#000", display: "block" },
  });
  // Not muted: the clip's audio plays when the user presses play.
  video.src = clipUrl(file);
  return video;
}

// Several clips (a batch): a near-square grid of players, so the grid is never taller than
// one clip at the node's width (the front end sizes its preview widget for one clip).
function clipGrid(files) {
  const cols = Math.ceil(Math.sqrt(files.length));
  const grid = el("div", {
    className: "segmind-ltx2-clips",
    "data-testid": "segmind-ltx2-clips",
    style: { display: "grid", gridTemplateColumns: `repeat(${cols}, 1fr)`, gap: "2px", width: "100%", height: "100%",
      alignContent: "center", background: "#000" },
  });
  files.forEach((file, i) => {
    const video = clipVideo(file, "segmind-ltx2-clip");
    Object.assign(video.style, { height: "auto", maxHeight: "100%" }); // each cell keeps its clip's shape
    video.title = `Clip ${i + 1} of ${files.length}: ${file.filename}`;
    const cell = el("div", { style: { position: "relative", minWidth: "0", minHeight: "0" } }, [
      video,
      el("span", {
        text: String(i + 1),
        style: { position: "absolute", top: "2px", left: "4px", font: "11px system-ui, sans-serif", color: "#fff",
          textShadow: "0 0 3px #000", pointerEvents: "none" },
      }),
    ]);
    video.addEventListener("error", () => cell.replaceChildren(missingClipNote(file)));
    grid.append(cell);
  });
  return grid;
}

function filesKey(files) {
  return files.map((f) => `${f.subfolder}/${f.filename}`).join("|");
}

// After a batch run the front end's own preview shows only the first clip (front end
// 1.27.10 puts videoElements[0] into node.videoContainer): swap in the grid of all clips.
function showAllClipsInFrontendPreview(node) {
  const files = savedFiles(node);
  const container = node.videoContainer;
  if (files.length < 2 || !container || typeof container.replaceChildren !== "function") return;
  const key = filesKey(files);
  if (container.__segmindKey === key && container.firstChild?.classList?.contains?.("segmind-ltx2-clips")) return;
  // Wait until the front end has put its own element in (it loads every clip first).
  if (!container.firstChild) return;
  container.__segmindKey = key;
  container.replaceChildren(clipGrid(files));
}

function showSavedVideo(node) {
  const files = savedFiles(node);
  if (!files.length || hasStandardVideo(node)) return;
  if (node.widgets?.some((w) => w.name === VIDEO_WIDGET)) return;
  const first = files[0];
  let box;
  if (files.length === 1) {
    const video = clipVideo(first, "segmind-ltx2-video");
    box = el("div", { className: "segmind-ltx2-video", style: { width: "100%", height: "100%" } }, [video]);
    video.addEventListener("error", () => box.replaceChildren(missingClipNote(first)));
  } else {
    box = el("div", { className: "segmind-ltx2-video", style: { width: "100%", height: "100%" } }, [clipGrid(files)]);
  }
  const aspect = first.width > 0 && first.height > 0 ? first.height / first.width : 16 / 9;
  const widget = node.addDOMWidget(VIDEO_WIDGET, "video", box, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: () => Math.max(64, Math.min(900, (node.size?.[0] ?? 300) * aspect)),
  });
  widget.serialize = false;
  node.setDirtyCanvas?.(true, true);
}

function pickSummary(info) {
  // Only these fields: nothing else from the output lands in the workflow.
  const num = (x) => (typeof x === "number" && Number.isFinite(x) ? x : null);
  return {
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

function rememberOutput(node, output) {
  const images = (Array.isArray(output?.images) ? output.images : []).filter((i) => i?.filename).slice(0, MAX_PREVIEWS);
  const infos = (Array.isArray(output?.segmind) ? output.segmind : []).filter((i) => i && typeof i === "object");
  if (!images.length && !infos.length) return;
  node.properties = node.properties ?? {};
  const prev = node.properties[PROP] ?? {};
  const entry = { ...prev };
  if (images.length) {
    entry.files = images.map((image, i) => ({
      filename: String(image.filename),
      subfolder: String(image.subfolder ?? ""),
      type: String(image.type ?? "output"),
      format: image.format ? String(image.format) : "video/mp4",
      width: Number(infos[i]?.width) || null,
      height: Number(infos[i]?.height) || null,
    }));
    entry.file = entry.files[0]; // what older versions of this extension read
  }
  if (infos.length) {
    entry.results = infos.slice(0, MAX_PREVIEWS).map(pickSummary);
    entry.result = entry.results[0];
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

// ----------------------------------------------------------------------------- old workflows

const migrationNotices = [];
let migrationTimer = null;

function reportMigration(text) {
  console.warn(`[${EXT_NAME}] ${text}`);
  migrationNotices.push(text);
  // One toast for a whole workflow, not one per node.
  if (migrationTimer) return;
  migrationTimer = setTimeout(() => {
    migrationTimer = null;
    const lines = migrationNotices.splice(0);
    toast({
      severity: "warn",
      summary: "Segmind LTX-2: options moved off the node",
      detail: lines.join("\n"),
      life: 15000,
    });
  }, 300);
}

// Runs before the front end's own configure (which merges the saved inputs and applies
// widgets_values by position), so an old list lands on the right widgets by name.
function patchConfigure(nodeType, className) {
  if (!OLD_LAYOUTS[className]) return;
  const proto = nodeType.prototype;
  const orig = proto.configure;
  if (typeof orig !== "function" || orig.__segmindMigrate) return;
  const wrapped = function (data, ...rest) {
    try {
      const widgets = (this.widgets ?? []).filter((w) => w && w.serialize !== false).map((w) => ({ name: w.name, value: w.value }));
      const r = migrateWidgetValues(className, data?.widgets_values, widgets);
      if (r) {
        const pruned = pruneDroppedInputs(data.inputs, widgets.map((w) => w.name));
        data = { ...data, widgets_values: r.values, inputs: pruned.inputs };
        const title = `#${data.id ?? this.id ?? "?"} ${data.title ?? this.title ?? className}`;
        const text = describeDropped(title, r.dropped, pruned.linked);
        if (text) reportMigration(text);
        else console.info(`[${EXT_NAME}] ${title}: loaded a workflow saved with the former node face; values kept.`);
      }
    } catch (err) {
      console.error(`[${EXT_NAME}] could not migrate an old node's values:`, err);
    }
    return orig.call(this, data, ...rest);
  };
  wrapped.__segmindMigrate = true;
  proto.configure = wrapped;
}

function patchNodeType(nodeType, { collect = false, extend = false } = {}) {
  const proto = nodeType.prototype;
  if (collect) proto.__segmindCollect = true;
  if (extend) proto.__segmindExtend = true;
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
    showAllClipsInFrontendPreview(this);
  });
}

// ----------------------------------------------------------------------------- settings

// One JSON request to a pack route; answers {status, data} (data null when not JSON).
async function jsonRequest(method, route, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await api.fetchApi(route, init);
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  return { status: res.status, data };
}

// The pieces the key and team entries share: a status line coloured by level, a password
// field password managers leave alone, the note under them, and a Save that empties the field.
const LEVEL_COLORS = { ok: "var(--p-green-400, #6c6)", warn: "var(--p-amber-400, #db4)", error: "var(--p-red-400, #e66)" };

function settingStatus(attrs) {
  return el("div", {
    ...attrs,
    style: { fontSize: "0.9em", marginBottom: "6px", whiteSpace: "normal", maxWidth: "34em" },
    text: "Checking…",
  });
}

function secretInput(name, placeholder, label, minWidth) {
  return el("input", {
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    name,
    "data-lpignore": "true",
    "data-1p-ignore": "true",
    placeholder,
    "aria-label": label,
    style: { flex: "1", minWidth, padding: "4px 6px" },
  });
}

function settingNote(text) {
  return el("div", { style: { fontSize: "0.8em", opacity: "0.75", marginTop: "6px", whiteSpace: "normal", maxWidth: "34em" }, text });
}

// Save, or Enter in the field, sends what was typed and empties the field first: the secret
// (the key, a Redis address with its password) leaves the page as soon as it is sent.
function sendOnSave(input, save, send) {
  const doSave = () => {
    const text = input.value;
    input.value = "";
    void send(text);
  };
  save.addEventListener("click", doSave);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      doSave();
    }
  });
}

// A custom setting type: the setting store is never given the key (the setter passed in
// is deliberately unused), so comfy.settings.json only ever holds the placeholder.
function renderKeySetting(_name, _setValueUnused, _value, _attrs) {
  const status = settingStatus({ className: "segmind-ltx2-key-status", "data-testid": "segmind-ltx2-key-status" });
  const input = secretInput("segmind-ltx2-key-entry", "SG_… paste, then Save", "Segmind API key", "12em");
  const save = el("button", { type: "button", text: "Save", className: "p-button p-component p-button-sm" });
  const remove = el("button", {
    type: "button",
    text: "Remove saved key",
    className: "p-button p-component p-button-sm p-button-secondary",
  });
  const row = el("div", { style: { display: "flex", gap: "6px", alignItems: "center", flexWrap: "wrap" } }, [input, save, remove]);
  const note = settingNote(
    "The key goes to this ComfyUI server and is stored in its user folder, readable by your account only. " +
      "It is never kept in workflows, in the browser's settings or on this page.",
  );
  const root = el("div", { className: "segmind-ltx2-key", "data-testid": "segmind-ltx2-key" }, [status, row, note]);

  const controller = createKeyController({
    request: (method, body) => jsonRequest(method, KEY_ROUTE, body),
    onChange: (s) => {
      const busy = s.phase === "loading" || s.phase === "saving" || s.phase === "removing";
      save.disabled = busy;
      remove.disabled = busy || !(s.status?.set && s.status?.source === "file") && !s.status?.env_overrides_file;
      if (busy) status.textContent = s.phase === "saving" ? "Saving…" : s.phase === "removing" ? "Removing…" : "Checking…";
      else status.textContent = s.message;
      status.style.color = busy ? "" : LEVEL_COLORS[s.level] ?? "";
    },
  });
  sendOnSave(input, save, (text) => controller.save(text));
  remove.addEventListener("click", () => {
    if (confirm("Remove the Segmind API key saved on this ComfyUI server?")) void controller.remove();
  });
  void controller.refresh();
  return root;
}

// The team setting: the team's Redis address and what to do when it is down, kept by the
// pack's route in user/segmind/team.json. Like the key, it never reaches the settings store
// (its value stays the placeholder), and the page never holds the address's password.
function renderTeamSetting(_name, _setValueUnused, _value, _attrs) {
  const status = settingStatus({ "data-testid": "segmind-ltx2-team-status" });
  const input = secretInput("segmind-ltx2-redis-entry", "redis://host:6379/0 (empty: keep the saved address)",
    "The team's Redis address", "14em");
  const choice = el("select", { "aria-label": "When the team's Redis is down", style: { padding: "4px 6px" } });
  for (const [value, label] of WHEN_DOWN_CHOICES) choice.append(el("option", { value, text: `When Redis is down: ${label}` }));
  const save = el("button", { type: "button", text: "Save", className: "p-button p-component p-button-sm" });
  const clear = el("button", { type: "button", text: "Use no Redis", className: "p-button p-component p-button-sm p-button-secondary" });
  const row = el("div", { style: { display: "flex", gap: "6px", alignItems: "center", flexWrap: "wrap" } }, [input, save, clear]);
  const note = settingNote(
    "One Redis for every machine on this Segmind key: the request budget, 429 pauses and the team's records are shared " +
      "there. Without it, the processes of this machine share them through its user folder. Saved on this ComfyUI server " +
      "(user/segmind/team.json); the address's password is never sent back to this page.",
  );
  const root = el("div", { "data-testid": "segmind-ltx2-team" }, [status, row, el("div", { style: { marginTop: "6px" } }, [choice]), note]);
  const controller = createTeamController({
    request: (method, body) => jsonRequest(method, TEAM_ROUTE, body),
    onChange: (s) => {
      const busy = s.phase === "loading" || s.phase === "saving";
      save.disabled = busy;
      clear.disabled = busy || !s.status?.redis_url;
      status.textContent = busy ? (s.phase === "saving" ? "Saving…" : "Checking…") : s.message;
      status.style.color = busy ? "" : LEVEL_COLORS[s.level] ?? "";
      if (s.status) {
        choice.value = s.status.when_redis_down;
        input.placeholder = s.status.redis_url ? `${s.status.redis_url} (empty: keep it)` : "redis://host:6379/0";
      }
    },
  });
  sendOnSave(input, save, (text) => controller.save(text, choice.value));
  clear.addEventListener("click", () => {
    if (confirm("Stop using the team's Redis on this ComfyUI server (this machine's records only)?")) void controller.clear(choice.value);
  });
  void controller.refresh();
  return root;
}

// Spend limits: one controller for both fields, talking to the pack's route; the settings
// store only ever holds the placeholder (the server's limits.json is the one truth, and
// the Python side enforces it).
const limitsController = createLimitsController({ request: (method, body) => jsonRequest(method, LIMITS_ROUTE, body) });

const LIMIT_SETTINGS = LIMIT_FIELDS.map((field) => ({
  id: `SegmindLTX2.SpendLimit.${field === "per_day" ? "PerDay" : "PerRun"}`,
  category: ["Segmind", "Spend limits", field === "per_day" ? "1 per day" : "2 per run"],
  name: `Spend limit ${LIMIT_LABELS[field]} (USD)`,
  tooltip: field === "per_day"
    ? "A run that would take today's Segmind spend (paid and reserved) past this is refused before any upload. Empty: no limit."
    : "A queued run (all its clips together, a whole batch) whose estimate passes this is refused before any upload. Empty: no limit.",
  type: () => renderLimitField(field, limitsController),
  defaultValue: "",
  sortOrder: field === "per_day" ? 2 : 1, // the dialog lists higher first: per day, then per run
}));

// ----------------------------------------------------------------------------- toasts, nodes

function toast(message) {
  try {
    const store = app.extensionManager?.toast;
    if (store?.add) return store.add(message);
  } catch (err) {
    console.warn(`[${EXT_NAME}] toast failed:`, err);
  }
  console.log(`[${EXT_NAME}] ${message.summary}: ${message.detail}`);
}

async function copyText(text) {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // not a secure context or no permission: the textarea way below
    }
  }
  const ta = el("textarea", { style: { position: "fixed", opacity: "0", left: "-1000px" } });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand?.("copy");
  ta.remove();
  if (!ok) throw new Error("the browser refused to copy");
}

function canvasGraph() {
  return app.canvas?.graph ?? app.graph;
}

// The first spot to the right of `start` where the new node covers no other node.
function freeSpotNear(node, start) {
  const title = globalThis.LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
  const [w, h] = [node.size?.[0] ?? 300, (node.size?.[1] ?? 100) + title];
  const others = (canvasGraph()?._nodes ?? canvasGraph()?.nodes ?? []).map((n) => [n.pos[0], n.pos[1] - title, n.size[0], n.size[1] + title]);
  const hits = (x, y) => others.some(([ox, oy, ow, oh]) => x < ox + ow + 20 && x + w + 20 > ox && y < oy + oh + 20 && y + h + 20 > oy);
  for (let i = 0; i < 40; i++) {
    const x = start[0] + i * 80;
    if (!hits(x, start[1] - title)) return [x, start[1]];
  }
  return start;
}

// A new node in the middle of what the canvas shows (or the nearest free spot), selected.
function addNodeAtCenter(type) {
  const LG = globalThis.LiteGraph;
  if (!LG?.registered_node_types?.[type]) return null;
  const node = LG.createNode(type);
  if (!node) return null;
  const canvas = app.canvas;
  const ds = canvas?.ds;
  const el_ = canvas?.canvas;
  if (ds && el_) {
    const w = el_.clientWidth || el_.width || 800;
    const h = el_.clientHeight || el_.height || 600;
    node.pos = freeSpotNear(node, [w / 2 / ds.scale - ds.offset[0] - (node.size?.[0] ?? 300) / 2, h / 2 / ds.scale - ds.offset[1] - 100]);
  }
  canvasGraph().add(node);
  try {
    canvas?.selectNode?.(node);
  } catch {
    // selection is a nicety
  }
  canvas?.setDirty?.(true, true);
  return node;
}

function setWidget(node, name, value) {
  const w = node.widgets?.find((x) => x.name === name);
  if (!w) return false;
  w.value = value;
  try {
    w.callback?.(value, app.canvas, node);
  } catch (err) {
    console.warn(`[${EXT_NAME}] ${node.type}.${name} callback:`, err);
  }
  return true;
}

function addCollectNode(requestId) {
  const node = addNodeAtCenter(COLLECT_CLASS);
  if (!node) {
    throw new Error("The \"Segmind LTX-2 Collect Job\" node is not available: update the Segmind LTX-2 pack and restart ComfyUI.");
  }
  if (!setWidget(node, "request_id", requestId)) throw new Error("The Collect Job node has no request_id field in this version of the pack.");
  return `Added "Segmind LTX-2 Collect Job" set to ${requestId}: queue it to get the clip (never billed again).`;
}

// "Put the clip into the graph": core's Load Video, pointed at the file in the output folder
// ("segmind/x.mp4 [output]": LoadVideo validates that the file exists, not that it is listed
// in the input folder). It only reads the saved file, so it never talks to Segmind. Without
// Load Video (or without the file), the Collect node by request id.
function putClipInGraph(row) {
  const value = row.clip ? loadVideoValue(row.clip) : null;
  if (value && globalThis.LiteGraph?.registered_node_types?.[LOAD_VIDEO_CLASS]) {
    const node = addNodeAtCenter(LOAD_VIDEO_CLASS);
    if (node && setWidget(node, "file", value)) return `Added "Load Video" with ${value}.`;
    if (node) canvasGraph().remove(node);
  }
  if (row.request_id) return addCollectNode(row.request_id);
  throw new Error("This job has neither a saved clip nor a request id.");
}

function locateNode(nodeId) {
  const node = app.graph?.getNodeById?.(nodeId) ?? findNode(nodeId);
  if (!node) {
    toast({ severity: "info", summary: "Segmind", detail: `Node #${nodeId} is not in the open workflow.`, life: 4000 });
    return false;
  }
  const canvas = app.canvas;
  if (canvas?.centerOnNode) canvas.centerOnNode(node);
  canvas?.selectNode?.(node);
  canvas?.setDirty?.(true, true);
  return true;
}

function nodeLabel(nodeId) {
  const node = app.graph?.getNodeById?.(nodeId);
  if (!node) return `#${nodeId}`;
  const title = String(node.title ?? node.type ?? "").replace(/^Segmind LTX-2\s*/, "");
  return `#${nodeId} ${title}`.trim();
}

const jobsPanel = createJobsPanel({
  request: jsonRequest,
  apiURL: (path) => api.apiURL(path),
  toast,
  copyText,
  putClipInGraph,
  collectJob: (row) => addCollectNode(row.request_id),
  locateNode,
  nodeLabel,
  openSettings: () => app.extensionManager?.command?.execute?.("Comfy.ShowSettingsDialog"),
});

function registerSidebar() {
  const manager = app.extensionManager;
  if (typeof manager?.registerSidebarTab !== "function") {
    console.info(`[${EXT_NAME}] this ComfyUI front end has no sidebar-tab API (added in 1.3.9): no Segmind tab. ` +
      "Spend limits are still in Settings > Segmind.");
    return false;
  }
  if (manager.getSidebarTabs?.().some?.((t) => t.id === SIDEBAR_TAB_ID)) return true;
  manager.registerSidebarTab({
    id: SIDEBAR_TAB_ID,
    icon: "pi pi-video",
    title: "Segmind",
    tooltip: "Segmind LTX-2: jobs, clips and spend",
    label: "Segmind",
    type: "custom",
    render: (container) => jobsPanel.render(container),
    destroy: () => jobsPanel.destroy(),
  });
  return true;
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
    ...LIMIT_SETTINGS,
    {
      id: TEAM_SETTING_ID,
      category: ["Segmind", "Team", "Redis"],
      name: "The team's Redis (many machines, one account)",
      tooltip:
        "Where machines sharing this Segmind key share the request budget and records. Stored on the ComfyUI server " +
        "(user/segmind/team.json); SEGMIND_LTX2_REDIS_URL, when set, wins. See docs/team.md.",
      type: renderTeamSetting,
      defaultValue: TEAM_PLACEHOLDER,
    },
  ],

  async setup() {
    // Never let a key sit in the saved settings, whatever put it there.
    try {
      const settings = app.extensionManager?.setting;
      const fix = sanitizeStoredValue(settings?.get?.(SETTING_ID));
      if (fix !== null) await settings.set(SETTING_ID, fix);
      // Nor an address with its password (the team setting is kept by the server, not here).
      const team = settings?.get?.(TEAM_SETTING_ID);
      if (team !== undefined && team !== null && team !== TEAM_PLACEHOLDER) await settings.set(TEAM_SETTING_ID, TEAM_PLACEHOLDER);
    } catch (err) {
      console.warn(`[${EXT_NAME}] could not check the key setting:`, err);
    }

    try {
      registerSidebar();
    } catch (err) {
      console.warn(`[${EXT_NAME}] could not add the Segmind sidebar tab:`, err);
    }
    // The tab follows runs as they happen (it also polls every few seconds while open).
    for (const type of ["execution_start", "executed", "execution_success", "execution_error", "execution_interrupted", "progress_text"]) {
      api.addEventListener(type, () => jobsPanel.refreshSoon());
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
    if (nodeData?.name === COLLECT_CLASS) {
      patchNodeType(nodeType, { collect: true });
      return;
    }
    if (nodeData?.name === EXTEND_CLASS) {
      patchNodeType(nodeType, { extend: true });
      return;
    }
    if (!isSegmindVideoNodeDef(nodeData)) return;
    patchConfigure(nodeType, nodeData.name);
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
