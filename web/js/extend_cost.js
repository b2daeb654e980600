// The Extend node's estimate before a run: one segment per line of its prompts, each priced
// by the model picked on the node (its numbers from models_data.js, the rules of cost.js).
// Pure module: no DOM, no ComfyUI imports; loaded by the browser and by `node --test`.
//
// LTX-2 Pro's segment is priced per second by resolution, so the whole Extend is known
// here. An LTX-2 19B segment takes the input clip's size: known when the clip comes from a
// Segmind node upstream (its size widgets or resolution), else the badge says it is not,
// and the node's status line gives the exact estimate of every segment as the run starts,
// before the spend limits and the credits are checked (core/extend_jobs.py plan_extend,
// with what is already cached counted free).

import { estimateCost, snapToGrid, MODELS, NODE_MODELS } from "./cost.js";
import { formatUSD } from "./format.js";

export const EXTEND_CLASS = "SegmindLTX2Extend";
export const EXTEND_INPUTS = Object.freeze(["prompts", "model", "num_frames", "duration", "resolution", "fps"]);
export const MAX_SEGMENTS = 20; // core/extend_chain.py MAX_SEGMENTS
const NOT_SENT = "not sent";    // nodes/common.py NOT_SENT: an optional field left out of the body

/** How many segments the prompts make: one per line that is not blank. */
export function segmentCount(text) {
  if (typeof text !== "string") return 0;
  return text.split(/\r\n|\r|\n/).filter((line) => line.trim()).length;
}

const MIN_SIDE = 256, MAX_SIDE = 1280; // the 19B fields' range (core/picture_fit.py)

/** The size a 19B segment is asked at for a clip of width x height: core/extend_jobs.py
 * clip_fields (the clip's size, scaled into 256..1280 with its aspect kept). */
export function segmentSize(width, height) {
  let scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  if (Math.min(width, height) * scale < MIN_SIDE) scale = Math.max(scale, MIN_SIDE / Math.min(width, height));
  const side = (v) => Math.max(MIN_SIDE, Math.min(MAX_SIDE, Math.round(v * scale)));
  return [side(width), side(height)];
}

/**
 * The size of the clip a node makes, from its class and widget values, when the page can
 * tell: a 19B node's width x height on the grid, a Pro or Fast node's resolution; else null.
 */
export function clipSizeOf(className, values) {
  const m = MODELS[NODE_MODELS[className]];  // only the pack's own generation nodes
  if (!m) return null;
  const w = Number(values?.width), h = Number(values?.height);
  if (m.grid && w > 0 && h > 0) {
    const [sw, sh] = snapToGrid(w, h, 1, m.grid);
    return { width: sw, height: sh };
  }
  const size = m.output?.sizes?.[values?.resolution];
  return size ? { width: size[0], height: size[1] } : null;
}

/**
 * {segments, model, perSegment, usd, sizeFromClip, clip, tooMany, priceUnconfirmed} for the
 * node's widget values and, when the page knows it, the input clip's size; usd and
 * perSegment null when a 19B segment's price needs a clip size not known here.
 */
export function extendEstimate(values, clip = null) {
  const segments = segmentCount(values?.prompts);
  const model = MODELS[values?.model] ? values.model : "ltx-2-19b-i2v";
  const m = MODELS[model];
  const out = { segments, model, perSegment: null, usd: null, sizeFromClip: !!m.grid, clip: null,
                tooMany: segments > MAX_SEGMENTS,
                // as cost.js: the seed's volume rule scales Segmind's own quote; Pro's rates are another host's
                priceUnconfirmed: !m.price.confirmed && m.price.rule !== "volume" };
  if (m.grid) {
    if (!(clip?.width > 0 && clip?.height > 0)) return out;
    const [width, height] = segmentSize(clip.width, clip.height);
    const est = estimateCost({ width, height, num_frames: values?.num_frames }, m);
    if (est && Number.isFinite(est.usd)) {
      out.perSegment = est.usd;
      out.usd = est.usd * segments;
      out.clip = { width, height };
    }
    return out;
  }
  const asked = { duration: values?.duration, resolution: values?.resolution };
  if (values?.fps != null && values.fps !== NOT_SENT) asked.fps = values.fps;
  const est = estimateCost(asked, m);
  if (est && Number.isFinite(est.usd)) {
    out.perSegment = est.usd;
    out.usd = est.usd * segments;
  }
  return out;
}

/** The badge's estimate line. */
export function formatExtendEstimate(e) {
  if (!e || !e.segments) return "Est. cost: no segment yet (one prompt a line in 'prompts')";
  const n = `${e.segments} segment${e.segments === 1 ? "" : "s"}`;
  if (e.tooMany) return `${n}: at most ${MAX_SEGMENTS} in one run`;
  if (e.usd == null) return `Est.: ${n} × the LTX-2 19B price at the input clip's size (given as the run starts)`;
  const each = `${e.segments} × ${formatUSD(e.perSegment)}${e.clip ? ` at ${e.clip.width}×${e.clip.height}` : ""}`;
  return `Est. ${formatUSD(e.usd, { approx: true })} for ${n} (${each}${e.priceUnconfirmed ? ", unconfirmed" : ""})`;
}
