// Cost estimate and real output size for one Segmind clip, from the node's widget values.
// Pure module: no DOM, no ComfyUI imports; loaded by the browser and by `node --test`.
//
// Every number comes from the model descriptors (core/models.py), copied into
// models_data.js by tools/models_data.py; the rules are the same as core/models.py's
// (Model.rendered, estimate_cost, expected_runtime), and tests/test_models.py checks this
// module against the Python for every model.
//
//  * Size really rendered (a model with a grid, LTX-2 19B): its VAE works on sides that are
//    multiples of 32 and on 8k+1 frames, so the service renders (and returns) the request
//    rounded UP to that grid: 720 -> 736, 181 frames -> 185 (API.md: it rounds or pads on its
//    side; rounding up is the assumption because it never under-estimates).
//  * Price, by the model's rule: "volume" scales the quoted price (~$0.455 and ~113 s for
//    720 x 1280, 181 frames) with the rendered width x height x frames, relative to the
//    quote's rendered volume (736 x 1280 x 185): Segmind bills serverless models by GPU
//    time, and a diffusion transformer's work grows with the latent it denoises. fps changes
//    the clip's duration, not the work. "per_second": a rate per second of video picked by a
//    field (resolution). "flat": one price per clip. Unverified against the live service.
// After a run the node shows what Segmind actually reported, where it reports it.

import { MODELS, NODE_MODELS, DEFAULT_MODEL } from "./models_data.js";

export { MODELS, NODE_MODELS, DEFAULT_MODEL };

const SEED = MODELS[DEFAULT_MODEL];
const fieldOf = (model, name) => model.fields.find((f) => f.name === name);
const defaultsOf = (model) =>
  Object.fromEntries(model.fields.filter((f) => !f.required && !f.optional).map((f) => [f.name, f.default]));

export const DEFAULTS = Object.freeze(
  Object.fromEntries(["width", "height", "num_frames", "fps"].map((k) => [k, fieldOf(SEED, k).default])));
export const DEFAULT_PRICE_USD = SEED.price.usd;
export const DEFAULT_RUNTIME_S = SEED.price.seconds;
export const MIN_RUNTIME_S = SEED.price.minSeconds;
export const SIDE_STEP = SEED.grid.sideStep;
export const FRAME_STEP = SEED.grid.frameStep;

/** [min, max] of every numeric field of a model, by name. */
export function rangesOf(model) {
  const out = {};
  for (const f of model.fields) if (f.kind === "int" || f.kind === "float") out[f.name] = [f.min, f.max];
  return Object.freeze(out);
}
export const RANGES = rangesOf(SEED);

/** The estimate's note (its title on the badge) for a model. */
export function costNote(model = SEED) {
  const m = modelOf(model);
  const after = m.price.confirmed ? "The real charge" : "Not confirmed by Segmind; the real charge";
  return `Estimate: ${m.price.note} ${after} is shown after a run.`;
}
export const COST_NOTE = costNote(SEED);

/** The model a node class makes (its descriptor), the seed's I2V when unknown. */
export function modelForNode(className) {
  return MODELS[NODE_MODELS[className]] ?? SEED;
}

function modelOf(model) {
  if (model && typeof model === "object") return model;
  return MODELS[model] ?? SEED;
}

// The two fit modes of the Image to Video node (contract: "fit" combo).
export const FIT_CROP = "crop to width x height";
export const FIT_MATCH = "match the picture's aspect";
export const BATCH_EVERY = "every picture";

function roundUp(value, step, offset = 0) {
  // Same as models.Grid.snap's up(): offset + ceil((max(v, 1) - offset) / step) * step.
  const v = Math.max(Math.trunc(value), 1);
  return offset + Math.ceil((v - offset) / step) * step;
}

/** The size and frame count LTX-2 renders for a request: [width, height, numFrames]. */
export function snapToGrid(width, height, numFrames, grid = SEED.grid) {
  return [roundUp(width, grid.sideStep), roundUp(height, grid.sideStep), roundUp(numFrames, grid.frameStep, 1)];
}

function toNumber(v) {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "") return Number(v);
  return NaN;
}

// Python's round(): halves go to the even neighbour (2.5 -> 2, 3.5 -> 4).
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The size asked of Segmind when the picture's aspect is kept within width x height: the
 * picture scaled to fit the box, each side rounded and kept within Segmind's 256..1280.
 * Same arithmetic as nodes/common.py match_aspect(); LTX-2 then renders it on its grid
 * (snapToGrid), which estimateCost applies.
 * @returns {[number, number] | null} null when a size is unknown or not positive
 */
export function fitWithin(pictureWidth, pictureHeight, boxWidth, boxHeight) {
  const pw = toNumber(pictureWidth), ph = toNumber(pictureHeight);
  const bw = toNumber(boxWidth), bh = toNumber(boxHeight);
  for (const v of [pw, ph, bw, bh]) if (!Number.isFinite(v) || v <= 0) return null;
  const scale = Math.min(bw / pw, bh / ph);
  const [lo, hi] = RANGES.width;
  const side = (v) => Math.max(lo, Math.min(hi, roundHalfEven(v * scale)));
  return [side(pw), side(ph)];
}

function positive(v) {
  const n = toNumber(v);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** Values outside a model's ranges or choices, in words ("width 2048 is outside 256-1280"). */
function problemsOf(values, model) {
  const problems = [];
  for (const f of model.fields) {
    const raw = values?.[f.name];
    if (raw === null || raw === undefined) continue;
    if (f.kind === "choice") {
      if (!f.choices.some((c) => c === raw || String(c) === String(raw))) {
        problems.push(`${f.name} ${raw} is not one of ${f.choices.join(", ")}`);
      }
      continue;
    }
    if (f.kind !== "int" && f.kind !== "float") continue;
    const v = toNumber(raw);
    if (!Number.isFinite(v) || v <= 0) continue;
    if (v < f.min || v > f.max) problems.push(`${f.name} ${v} is outside ${f.min}-${f.max}`);
    else if (f.kind === "int" && !Number.isInteger(v)) problems.push(`${f.name} ${v} is not a whole number`);
  }
  return problems;
}

/** [asked width, height, frames], [rendered width, height, frames] of a request, or null. */
function sizeOf(values, model) {
  const defaults = defaultsOf(model);
  const grid = model.grid;
  if (grid) {
    const asked = [values?.[grid.width], values?.[grid.height], values?.[grid.frames]].map(positive);
    if (asked.includes(null)) return null;
    return [asked, snapToGrid(...asked, grid)];
  }
  const out = model.output;
  const size = out.sizes?.[values?.[out.sizeBy] ?? defaults[out.sizeBy]];
  if (!size) return null;
  const seconds = positive(values?.[model.price.duration] ?? defaults[model.price.duration]);
  // An optional fps left unset ("not sent", or absent) is the model's own rate.
  const fps = positive(values?.fps) ?? positive(defaults.fps) ?? out.fps;
  const frames = seconds && fps ? Math.trunc(seconds * fps) : null;
  return [[size[0], size[1], frames], [size[0], size[1], frames]];
}

/** The request's work relative to the quoted reference's (models.Model._ratio), or null. */
function ratioOf(values, model, rendered) {
  const p = model.price;
  const defaults = defaultsOf(model);
  if (p.rule === "volume") {
    const ref = sizeOf({ ...defaults, ...p.reference }, model);
    if (!ref || rendered.includes(null) || ref[1].includes(null)) return null;
    const [w, h, n] = ref[1];
    return (rendered[0] * rendered[1] * rendered[2]) / (w * h * n);
  }
  if (p.rule === "per_second") {
    const seconds = positive(values?.[p.duration] ?? defaults[p.duration]);
    const reference = positive(p.reference[p.duration] ?? defaults[p.duration]);
    return seconds && reference ? seconds / reference : null;
  }
  return 1;
}

/**
 * Estimate one clip's cost and the size Segmind returns.
 * @param {object} values widget values (width, height, num_frames, fps for LTX-2 19B)
 * @param {string|object} model a model path or its descriptor (models_data.js); the seed's I2V by default
 * @returns {null | {usd:number, ratio:number|null, runtimeS:number, clipSeconds:number|null,
 *                   width:number, height:number, numFrames:number|null, fps:number|null,
 *                   renderWidth:number, renderHeight:number, renderFrames:number|null,
 *                   snapped:boolean, problems:string[]}}
 *   null when the size is unknown (width, height or num_frames missing or not a positive
 *   number, e.g. the widget is driven by a link; a resolution the model does not list);
 *   `problems` lists values outside the model's ranges or choices.
 *   width/height/numFrames are what is asked; render* what the model renders and returns.
 */
export function estimateCost(values, model = SEED) {
  const m = modelOf(model);
  const known = sizeOf(values, m);
  // A grid model's price follows its size: no size, no estimate. Another model's size may be
  // unknown before the run (a retake's is its input clip's) while its price is not.
  if (!known && (m.grid || m.price.rule === "volume")) return null;
  const size = known ?? [[null, null, null], [null, null, null]];
  const [[width, height, numFrames], [renderWidth, renderHeight, renderFrames]] = size;
  const fps = positive(values?.fps) ?? (m.grid ? null : positive(defaultsOf(m).fps ?? m.output.fps));
  const ratio = ratioOf(values, m, size[1]);
  const p = m.price;
  let usd = p.usd * (ratio ?? 1);
  if (p.rule === "per_second") {
    const rates = p.perSecond;
    const rate = rates[values?.[p.by] ?? defaultsOf(m)[p.by]] ?? Math.max(...Object.values(rates));
    const seconds = positive(values?.[p.duration] ?? defaultsOf(m)[p.duration]);
    usd = seconds ? rate * seconds : p.usd;
  }
  return {
    usd,
    ratio,
    runtimeS: ratio === null ? p.seconds : Math.max(p.minSeconds, p.seconds * ratio),
    clipSeconds: fps && renderFrames ? renderFrames / fps : null,
    width,
    height,
    numFrames,
    fps,
    renderWidth,
    renderHeight,
    renderFrames,
    snapped: renderWidth !== width || renderHeight !== height || renderFrames !== numFrames,
    problems: problemsOf(values, m),
    // The family's prices are read from another host or a range, or assumed one per clip
    // (Retake): the badge says "unconfirmed". The seed's volume rule scales Segmind's own quote.
    priceUnconfirmed: !p.confirmed && p.rule !== "volume",
    // A model that edits a clip returns it at the input's size and length (Retake).
    sizeFromInput: m.fields.some((f) => f.media === "video"),
  };
}

/**
 * The estimate for a node's values, following its fit mode: with "match the picture's
 * aspect" and a known picture size the size asked is fitWithin(picture, box); with an
 * unknown picture the box's estimate is an upper bound (`followsPicture`).
 * @param {object} values widget values (width, height, num_frames, fps, fit, batch_mode)
 * @param {{width:number, height:number} | null} picture the upstream picture's size, if known
 */
export function estimateForNode(values, picture = null, model = SEED) {
  const fitMatch = values?.fit === FIT_MATCH;
  let asked = values;
  let fitted = null;
  if (fitMatch && picture) {
    fitted = fitWithin(picture.width, picture.height, values?.width, values?.height);
    if (fitted) asked = { ...values, width: fitted[0], height: fitted[1] };
  }
  const est = estimateCost(asked, model);
  if (!est) return null;
  return {
    ...est,
    boxWidth: toNumber(values?.width),
    boxHeight: toNumber(values?.height),
    fitMatch,
    picture: fitted ? { width: picture.width, height: picture.height } : null,
    followsPicture: fitMatch && !fitted,
    perPicture: values?.batch_mode === BATCH_EVERY,
  };
}

/** Read the cost-driving values from a LiteGraph node's widgets (null when absent). */
export function readCostWidgets(widgets) {
  const out = { width: null, height: null, num_frames: null, fps: null };
  for (const w of widgets ?? []) {
    if (w && Object.prototype.hasOwnProperty.call(out, w.name)) out[w.name] = w.value;
  }
  return out;
}

/** True for the pack's generation nodes: a SegmindLTX2 class that makes a model (models_data.js), or
 * one with the size inputs. */
export function isSegmindVideoNodeDef(nodeData) {
  const name = nodeData?.name ?? "";
  if (!String(name).startsWith("SegmindLTX2")) return false;
  if (Object.prototype.hasOwnProperty.call(NODE_MODELS, name)) return true; // a node that makes a model
  const inputs = { ...(nodeData?.input?.required ?? {}), ...(nodeData?.input?.optional ?? {}) };
  return ["width", "height", "num_frames"].every((k) => k in inputs);
}
