// Cost estimate for one Segmind LTX-2 clip from the node's widget values.
// Pure module: no DOM, no ComfyUI imports; loaded by the browser and by `node --test`.
//
// Basis: Segmind's product page quotes ~$0.455 and ~113 s for its defaults
// (720 x 1280, 181 frames, 24 fps). Segmind bills serverless models by GPU time, and the
// work of a diffusion transformer grows with the number of latent "pixels x frames" it
// denoises, so the estimate scales the quoted price linearly with width*height*num_frames.
// How close that is: unverified against the live service. Attention cost grows faster than
// linearly with clip size, and the service rounds sizes up to multiples of 32 and frame
// counts up to 8k+1, so small clips are probably dearer and large clips probably cheaper
// than estimated; there may also be a per-run minimum. fps changes the clip's duration,
// not the number of frames generated, so it does not change the estimate.
// After a run the node shows what Segmind actually reported, where it reports it.

export const DEFAULTS = Object.freeze({ width: 720, height: 1280, num_frames: 181, fps: 24 });
export const DEFAULT_PRICE_USD = 0.455;
export const DEFAULT_RUNTIME_S = 113.31;
export const RANGES = Object.freeze({
  width: [256, 1280],
  height: [256, 1280],
  num_frames: [1, 400],
  fps: [1, 30],
});
export const COST_NOTE =
  "Estimate: Segmind's quoted $0.455 for 720x1280, 181 frames, scaled by " +
  "width x height x frames. Not confirmed by Segmind; the real charge is shown after a run.";

const DEFAULT_PIXEL_FRAMES = DEFAULTS.width * DEFAULTS.height * DEFAULTS.num_frames;

function toNumber(v) {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "") return Number(v);
  return NaN;
}

/**
 * Estimate one clip's cost and size.
 * @param {{width:any, height:any, num_frames:any, fps:any}} values widget values
 * @returns {null | {usd:number, ratio:number, runtimeS:number, clipSeconds:number|null,
 *                   width:number, height:number, numFrames:number, fps:number|null,
 *                   problems:string[]}}
 *   null when width, height or num_frames is missing or not a positive number
 *   (e.g. the widget is driven by a link); `problems` lists values outside Segmind's ranges.
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
  const ratio = (width * height * numFrames) / DEFAULT_PIXEL_FRAMES;
  return {
    usd: DEFAULT_PRICE_USD * ratio,
    ratio,
    runtimeS: DEFAULT_RUNTIME_S * ratio,
    clipSeconds: fps ? numFrames / fps : null,
    width,
    height,
    numFrames,
    fps,
    problems,
  };
}

/** Read the four cost-driving values from a LiteGraph node's widgets (null when absent). */
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
