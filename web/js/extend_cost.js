// The Extend node's estimate before a run: one segment per line of its prompts, each priced
// by the model picked on the node (its numbers from models_data.js, the rules of cost.js).
// Pure module: no DOM, no ComfyUI imports; loaded by the browser and by `node --test`.
//
// LTX-2 Pro's segment is priced per second by resolution, so the whole Extend is known
// here. An LTX-2 19B segment takes the input clip's size, which the page does not know
// before the run: the badge says so, and the node's status line gives the exact estimate of
// every segment as the run starts, before the spend limits and the credits are checked
// (core/extend_jobs.py plan_extend, with what is already cached counted free).

import { estimateCost, MODELS } from "./cost.js";
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

/**
 * {segments, model, perSegment, usd, sizeFromClip, tooMany, priceUnconfirmed} for the
 * node's widget values; usd and perSegment null when a segment's price needs the clip's size.
 */
export function extendEstimate(values) {
  const segments = segmentCount(values?.prompts);
  const model = MODELS[values?.model] ? values.model : "ltx-2-19b-i2v";
  const m = MODELS[model];
  const out = { segments, model, perSegment: null, usd: null, sizeFromClip: !!m.grid,
                tooMany: segments > MAX_SEGMENTS, priceUnconfirmed: !m.price.confirmed };
  if (m.grid) return out;
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
  const each = `${e.segments} × ${formatUSD(e.perSegment)}`;
  return `Est. ${formatUSD(e.usd, { approx: true })} for ${n} (${each}${e.priceUnconfirmed ? ", unconfirmed" : ""})`;
}
