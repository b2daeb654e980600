// Cost estimate and real output size for one Segmind LTX-2 clip, from the node's widget values.
// Pure module: no DOM, no ComfyUI imports; loaded by the browser and by `node --test`.
//
// The same rule as core/params.py (snap_to_grid, estimate_cost, expected_runtime); the
// tests in tests/js/cost.test.mjs use the numbers the Python functions give.
//
//  * Size really rendered: LTX-2's VAE works on sides that are multiples of 32 and on
//    8k+1 frames, so the service renders (and returns) the request rounded UP to that grid:
//    720 -> 736, 181 frames -> 185 (API.md: it rounds or pads on its side; rounding up is
//    the assumption because it never under-estimates).
//  * Price: Segmind's product page quotes ~$0.455 and ~113 s for its defaults (720 x 1280,
//    181 frames). Segmind bills serverless models by GPU time, and a diffusion
//    transformer's work grows with the latent "pixels x frames" it denoises, so the
//    estimate scales the quoted price with the rendered volume, relative to the defaults'
//    rendered volume (736 x 1280 x 185), so the defaults still cost $0.455.
//    Unverified against the live service: attention grows faster than linearly, and there
//    may be a per-run minimum. fps changes the clip's duration, not the work.
// After a run the node shows what Segmind actually reported, where it reports it.

export const DEFAULTS = Object.freeze({ width: 720, height: 1280, num_frames: 181, fps: 24 });
export const DEFAULT_PRICE_USD = 0.455;
export const DEFAULT_RUNTIME_S = 113.31;
export const MIN_RUNTIME_S = 10;
export const SIDE_STEP = 32;
export const FRAME_STEP = 8;
export const RANGES = Object.freeze({
  width: [256, 1280],
  height: [256, 1280],
  num_frames: [1, 400],
  fps: [1, 30],
});
export const COST_NOTE =
  "Estimate: Segmind's quoted $0.455 for its defaults (720x1280, 181 frames, rendered as " +
  "736x1280, 185 frames), scaled by the width x height x frames LTX-2 really renders " +
  "(sides up to a multiple of 32, frames up to 8k+1). Not confirmed by Segmind; the real " +
  "charge is shown after a run.";

// The two fit modes of the Image to Video node (contract: "fit" combo).
export const FIT_CROP = "crop to width x height";
export const FIT_MATCH = "match the picture's aspect";
export const BATCH_EVERY = "every picture";

function roundUp(value, step, offset = 0) {
  // Same as params.snap_to_grid's up(): offset + ceil((max(v, 1) - offset) / step) * step.
  const v = Math.max(Math.trunc(value), 1);
  return offset + Math.ceil((v - offset) / step) * step;
}

/** The size and frame count LTX-2 renders for a request: [width, height, numFrames]. */
export function snapToGrid(width, height, numFrames) {
  return [roundUp(width, SIDE_STEP), roundUp(height, SIDE_STEP), roundUp(numFrames, FRAME_STEP, 1)];
}

function renderedVolume(width, height, numFrames) {
  const [w, h, n] = snapToGrid(width, height, numFrames);
  return w * h * n;
}

const DEFAULT_VOLUME = renderedVolume(DEFAULTS.width, DEFAULTS.height, DEFAULTS.num_frames);

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

/**
 * Estimate one clip's cost and the size Segmind returns.
 * @param {{width:any, height:any, num_frames:any, fps:any}} values widget values
 * @returns {null | {usd:number, ratio:number, runtimeS:number, clipSeconds:number|null,
 *                   width:number, height:number, numFrames:number, fps:number|null,
 *                   renderWidth:number, renderHeight:number, renderFrames:number,
 *                   snapped:boolean, problems:string[]}}
 *   null when width, height or num_frames is missing or not a positive number
 *   (e.g. the widget is driven by a link); `problems` lists values outside Segmind's ranges.
 *   width/height/numFrames are what is asked; render* what LTX-2 renders and returns.
 */
export function estimateCost(values) {
  const width = toNumber(values?.width);
  const height = toNumber(values?.height);
  const numFrames = toNumber(values?.num_frames);
  let fps = toNumber(values?.fps);
  for (const v of [width, height, numFrames]) {
    if (!Number.isFinite(v) || v <= 0) return null;
  }
  if (!Number.isFinite(fps) || fps <= 0) fps = null;
  const problems = [];
  for (const [name, v] of [["width", width], ["height", height], ["num_frames", numFrames], ["fps", fps]]) {
    if (v === null) continue;
    const [lo, hi] = RANGES[name];
    if (v < lo || v > hi) problems.push(`${name} ${v} is outside ${lo}-${hi}`);
    else if (!Number.isInteger(v)) problems.push(`${name} ${v} is not a whole number`);
  }
  const [renderWidth, renderHeight, renderFrames] = snapToGrid(width, height, numFrames);
  const ratio = (renderWidth * renderHeight * renderFrames) / DEFAULT_VOLUME;
  return {
    usd: DEFAULT_PRICE_USD * ratio,
    ratio,
    runtimeS: Math.max(MIN_RUNTIME_S, DEFAULT_RUNTIME_S * ratio),
    clipSeconds: fps ? renderFrames / fps : null,
    width,
    height,
    numFrames,
    fps,
    renderWidth,
    renderHeight,
    renderFrames,
    snapped: renderWidth !== width || renderHeight !== height || renderFrames !== numFrames,
    problems,
  };
}

/**
 * The estimate for a node's values, following its fit mode: with "match the picture's
 * aspect" and a known picture size the size asked is fitWithin(picture, box); with an
 * unknown picture the box's estimate is an upper bound (`followsPicture`).
 * @param {object} values widget values (width, height, num_frames, fps, fit, batch_mode)
 * @param {{width:number, height:number} | null} picture the upstream picture's size, if known
 */
export function estimateForNode(values, picture = null) {
  const fitMatch = values?.fit === FIT_MATCH;
  let asked = values;
  let fitted = null;
  if (fitMatch && picture) {
    fitted = fitWithin(picture.width, picture.height, values?.width, values?.height);
    if (fitted) asked = { ...values, width: fitted[0], height: fitted[1] };
  }
  const est = estimateCost(asked);
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

/** True for the pack's nodes: class name starting with SegmindLTX2 and the size inputs. */
export function isSegmindVideoNodeDef(nodeData) {
  const name = nodeData?.name ?? "";
  if (!String(name).startsWith("SegmindLTX2")) return false;
  const inputs = { ...(nodeData?.input?.required ?? {}), ...(nodeData?.input?.optional ?? {}) };
  return ["width", "height", "num_frames"].every((k) => k in inputs);
}
