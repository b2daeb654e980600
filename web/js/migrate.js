// Loading workflows saved with the pack's older, wider node face.
// Pure module: no DOM, no ComfyUI imports; loaded by the browser and by `node --test`.
//
// The generation nodes used to carry the rarely used options on their face (API mode,
// timeout, upload format and the five decode options). They moved: the first three to the
// "Segmind LTX-2 Options" node (an optional link input), the decode options to the
// "Decode Video (lean, Segmind LTX-2)" node. A saved workflow keeps its values as a plain
// positional list (widgets_values), so loaded as is, an old list would put e.g. the API
// mode into batch_mode. migrateWidgetValues() recognises the old list and rebuilds it for
// the node's current widgets by name; values of widgets that are gone are returned so the
// user can be told about the ones that differ from their defaults.

export const I2V_CLASS = "SegmindLTX2ImageToVideo";
export const T2V_CLASS = "SegmindLTX2TextToVideo";
const CONTROL = "control_after_generate";

const OLD_HEAD = ["prompt", "negative_prompt", "width", "height", "num_frames", "fps", "seed", CONTROL,
  "guidance_scale", "force_rerun", "backend", "api_mode", "timeout_seconds"];
const DECODE = ["frame_load_cap", "skip_first_frames", "select_every_nth", "custom_width", "custom_height"];

/** The old layouts, as saved by the pack before the lean face (20 and 18 values). */
export const OLD_LAYOUTS = Object.freeze({
  [I2V_CLASS]: Object.freeze([...OLD_HEAD, "batch_index", "upload_format", ...DECODE]),
  [T2V_CLASS]: Object.freeze([...OLD_HEAD, ...DECODE]),
});

/** The lean layouts (contract), used when the node's own widgets are not at hand. */
export const NEW_LAYOUTS = Object.freeze({
  [I2V_CLASS]: Object.freeze(["prompt", "negative_prompt", "width", "height", "num_frames", "fps", "seed", CONTROL,
    "guidance_scale", "force_rerun", "backend", "batch_mode", "batch_index", "fit"]),
  [T2V_CLASS]: Object.freeze(["prompt", "negative_prompt", "width", "height", "num_frames", "fps", "seed", CONTROL,
    "guidance_scale", "force_rerun", "backend"]),
});

/** Defaults of the widgets that left the face, and of the new ones (as the Python side defines them). */
export const DROPPED_DEFAULTS = Object.freeze({
  api_mode: "async (v2)",
  timeout_seconds: 900,
  upload_format: "png",
  frame_load_cap: 0,
  skip_first_frames: 0,
  select_every_nth: 1,
  custom_width: 0,
  custom_height: 0,
});
export const NEW_DEFAULTS = Object.freeze({
  batch_mode: "one picture",
  batch_index: 0,
  fit: "crop to width x height",
});

// Where each dropped option lives now, for the message.
const MOVED_TO = Object.freeze({
  api_mode: "Segmind LTX-2 Options",
  timeout_seconds: "Segmind LTX-2 Options",
  upload_format: "Segmind LTX-2 Options",
  frame_load_cap: "Decode Video (lean, Segmind LTX-2)",
  skip_first_frames: "Decode Video (lean, Segmind LTX-2)",
  select_every_nth: "Decode Video (lean, Segmind LTX-2)",
  custom_width: "Decode Video (lean, Segmind LTX-2)",
  custom_height: "Decode Video (lean, Segmind LTX-2)",
});

const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const isStr = (v) => typeof v === "string";
const isBool = (v) => typeof v === "boolean";

const KIND = {
  prompt: isStr, negative_prompt: isStr, width: isNum, height: isNum, num_frames: isNum, fps: isNum,
  seed: isNum, [CONTROL]: isStr, guidance_scale: isNum, force_rerun: isBool, backend: isStr,
  api_mode: isStr, timeout_seconds: isNum, batch_index: isNum, upload_format: isStr,
  frame_load_cap: isNum, skip_first_frames: isNum, select_every_nth: isNum, custom_width: isNum, custom_height: isNum,
};

/** True when `values` is a widgets_values list in the old layout of `nodeType`. */
export function isOldLayout(nodeType, values) {
  const layout = OLD_LAYOUTS[nodeType];
  if (!layout || !Array.isArray(values) || values.length !== layout.length) return false;
  // Every value has its widget's kind: a list of the new layout never has this length,
  // but a hand-edited or foreign list must not be reshuffled on a guess.
  return layout.every((name, i) => KIND[name](values[i]));
}

/**
 * Rebuild an old widgets_values list for the node's current widgets.
 * @param {string} nodeType the node's class (comfyClass / type)
 * @param {any[]} values the saved widgets_values
 * @param {{name:string, value:any}[]} [widgets] the node's serialisable widgets in order, with
 *   their default values (a freshly created node's); defaults to the contract's lean layout.
 * @returns {null | {values:any[], dropped:{name:string, value:any, movedTo:string}[]}}
 *   null when `values` is not an old list (nothing to do); `dropped` lists only the removed
 *   options whose saved value differs from its default.
 */
export function migrateWidgetValues(nodeType, values, widgets) {
  if (!isOldLayout(nodeType, values)) return null;
  const old = Object.fromEntries(OLD_LAYOUTS[nodeType].map((name, i) => [name, values[i]]));
  const target = Array.isArray(widgets) && widgets.length
    ? widgets
    : NEW_LAYOUTS[nodeType].map((name) => ({ name, value: NEW_DEFAULTS[name] }));
  // A node already in the old shape (the pack's Python side not yet updated) keeps its list.
  if (target.length === values.length && target.every((w, i) => w.name === OLD_LAYOUTS[nodeType][i])) return null;
  const names = new Set(target.map((w) => w.name));
  const migrated = target.map((w) => (Object.prototype.hasOwnProperty.call(old, w.name) ? old[w.name] : w.value));
  const dropped = Object.keys(old)
    .filter((name) => !names.has(name) && name in DROPPED_DEFAULTS && old[name] !== DROPPED_DEFAULTS[name])
    .map((name) => ({ name, value: old[name], movedTo: MOVED_TO[name] }));
  return { values: migrated, dropped };
}

/**
 * Drop the saved input slots of widgets that left the face (the front end would keep them as
 * orphan sockets). Slots with a link stay (removing a link needs the whole graph) and are
 * returned so the user can be told.
 * @returns {{inputs:any[], linked:string[]}}
 */
export function pruneDroppedInputs(inputs, keepNames) {
  const keep = new Set(keepNames);
  const linked = [];
  const out = (Array.isArray(inputs) ? inputs : []).filter((input) => {
    const name = input?.widget?.name ?? null;
    if (!name || keep.has(name) || !(name in DROPPED_DEFAULTS)) return true;
    if (input.link != null) {
      linked.push(name);
      return true;
    }
    return false;
  });
  return { inputs: out, linked };
}

/** The one-line notice for options an old workflow set that are no longer on the node. */
export function describeDropped(nodeTitle, dropped, linked = []) {
  if (!dropped?.length && !linked?.length) return "";
  const parts = [];
  const byTarget = new Map();
  for (const d of dropped ?? []) {
    if (!byTarget.has(d.movedTo)) byTarget.set(d.movedTo, []);
    byTarget.get(d.movedTo).push(`${d.name} = ${JSON.stringify(d.value)}`);
  }
  for (const [target, items] of byTarget) parts.push(`${items.join(", ")} (now on a "${target}" node)`);
  let text = `${nodeTitle}: this workflow set options that moved off the node and are not applied: ${parts.join("; ")}.`;
  if (!parts.length) text = `${nodeTitle}:`;
  if (linked?.length) text += ` ${linked.join(", ")} ${linked.length > 1 ? "are" : "is"} driven by a link that no longer does anything; remove it.`;
  return text;
}
