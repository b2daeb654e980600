// Text shown on the Segmind LTX-2 nodes: money, time, status and result lines.
// Pure module: no DOM, no ComfyUI imports; loaded by the browser and by `node --test`.
//
// Rules (the Python status lines in core/status_text.py follow the same clock format):
//   money    "$0.455" (3 decimals under $10, 2 from $10), "< $0.001" for tiny amounts,
//            "≈ " prefix for estimates;
//   credits  plain number, 2 decimals ("12.35"); Segmind does not state a unit;
//   clock    m:ss under an hour ("0:07", "1:53"), h:mm:ss from an hour ("1:02:03");
//   ETA      "~1:11 left", "finishing" once the estimate has run out;
//   status   "<Phase> · 0:42 elapsed · ~1:11 left", parts joined by " · ".

const SEP = " · ";

function finite(x) {
  return typeof x === "number" && Number.isFinite(x);
}

/** "$0.455", "$12.35", "< $0.001"; "—" for a missing amount. */
export function formatUSD(usd, { approx = false } = {}) {
  if (!finite(usd) || usd < 0) return "—";
  let text;
  if (usd === 0) text = "$0.00";
  else if (usd < 0.001) text = "< $0.001";
  else if (usd < 10) text = `$${usd.toFixed(3)}`;
  else text = `$${usd.toFixed(2)}`;
  return approx ? `≈ ${text}` : text;
}

/** Segmind credits left, e.g. "12.35"; "—" when not reported. */
export function formatCredits(credits) {
  if (!finite(credits)) return "—";
  return credits.toFixed(2);
}

/** Clock text for a number of seconds: "0:07", "1:53", "1:02:03"; "—" when unknown. */
export function formatClock(seconds) {
  if (!finite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  if (h > 0) return `${h}:${String(m).padStart(2, "0")}:${sec}`;
  return `${m}:${sec}`;
}

/** Clip length: "7.5 s" (one decimal under a minute), "1:05" from a minute. */
export function formatClipLength(seconds) {
  if (!finite(seconds) || seconds < 0) return "—";
  if (seconds < 60) return `${(Math.round(seconds * 10) / 10).toFixed(1)} s`;
  return formatClock(seconds);
}

/** "~1:11 left"; "finishing" when the estimate is used up; "" when unknown. */
export function formatEta(remainingSeconds) {
  if (!finite(remainingSeconds)) return "";
  if (remainingSeconds <= 0.5) return "finishing";
  return `~${formatClock(remainingSeconds)} left`;
}

/** Remaining time from elapsed time and an expected total (both seconds); null if unknown. */
export function remainingSeconds(elapsedS, expectedTotalS) {
  if (!finite(elapsedS) || !finite(expectedTotalS)) return null;
  return Math.max(0, expectedTotalS - elapsedS);
}

export const PHASE_LABELS = Object.freeze({
  starting: "Starting",
  uploading: "Uploading image",
  submitting: "Submitting",
  queued: "Queued at Segmind",
  processing: "Generating at Segmind",
  downloading: "Downloading",
  decoding: "Decoding",
  waiting_budget: "Waiting for the request budget",
  waiting_other_run: "Waiting for an identical run",
  done: "Done",
  cached: "Reused earlier result",
  failed: "Failed",
  cancelled: "Cancelled",
});

/**
 * One status line: "Generating at Segmind · 0:42 elapsed · ~1:11 left".
 * @param {{phase:string, elapsedS?:number, etaS?:number, detail?:string}} s
 */
export function formatStatus({ phase, elapsedS, etaS, detail } = {}) {
  const parts = [PHASE_LABELS[phase] ?? (phase ? String(phase) : "Working")];
  if (detail) parts.push(String(detail));
  if (finite(elapsedS)) parts.push(`${formatClock(elapsedS)} elapsed`);
  const eta = formatEta(etaS);
  if (eta && phase !== "done" && phase !== "failed") parts.push(eta);
  return parts.join(SEP);
}

/**
 * The badge's estimate line, with the size and frame count Segmind really returns:
 * "Est. ≈ $0.455 · 736×1280 · 185 frames @ 24 fps = 7.7 s". `est` comes from
 * cost.estimateForNode (or estimateCost).
 */
export function formatEstimate(est) {
  if (!est) return "Est. cost: unknown (width, height or num_frames comes from a link)";
  let money = "Est. " + (est.followsPicture ? `≤ ${formatUSD(est.usd)}` : formatUSD(est.usd, { approx: true }));
  if (est.perPicture) money += " per picture";
  if (est.priceUnconfirmed) money += " (unconfirmed)";
  if (est.sizeFromInput && est.renderWidth == null) return [money, "the input clip's size and length"].join(SEP);
  const w = est.renderWidth ?? est.width;
  const h = est.renderHeight ?? est.height;
  const n = est.renderFrames ?? est.numFrames;
  let size = `${w}×${h}`;
  if (est.followsPicture) size = `size follows the picture, within ${size}`;
  else if (est.picture) size += " (picture's aspect)";
  let frames = `${n} frames`;
  if (est.fps) frames += ` @ ${est.fps} fps = ${formatClipLength(est.clipSeconds)}`;
  return [money, size, frames].join(SEP);
}

/** Secondary estimate line: why the size differs from the widgets, the expected run time, problems. */
export function formatEstimateDetail(est) {
  if (!est) return "";
  const parts = [];
  if (est.picture) {
    parts.push(`picture ${est.picture.width}×${est.picture.height} fitted within ${est.boxWidth}×${est.boxHeight}`);
  }
  if (est.snapped) {
    parts.push(`asked ${est.width}×${est.height}, ${est.numFrames} frames (LTX-2 grid: 32 px, 8k+1)`);
  }
  parts.push(`~${formatClock(est.runtimeS)} on Segmind`);
  if (est.problems?.length) parts.push("⚠ " + est.problems.join("; "));
  return parts.join(SEP);
}

/**
 * The result line after a run that made several clips (a batch): totals, then the first
 * clip's size. One clip: formatResult.
 */
export function formatResults(infos) {
  const list = (Array.isArray(infos) ? infos : []).filter((i) => i && typeof i === "object");
  if (list.length <= 1) return formatResult(list[0]);
  const parts = [`${list.length} clips`];
  const billed = list.filter((i) => !i.from_cache);
  const reused = list.length - billed.length;
  const known = billed.filter((i) => finite(i.cost));
  if (billed.length) {
    const sum = known.reduce((a, i) => a + i.cost, 0);
    if (known.length === billed.length) parts.push(`charged ${formatUSD(sum)}`);
    else if (known.length) parts.push(`charged ${formatUSD(sum)} + ${billed.length - known.length} not reported`);
    else parts.push("cost not reported by Segmind");
  }
  if (reused) parts.push(`${reused} reused from the cache (not billed again)`);
  const credits = list.map((i) => i.remaining_credits).filter(finite);
  if (credits.length) parts.push(`credits left ${formatCredits(Math.min(...credits))}`);
  const first = list[0];
  if (finite(first.width) && finite(first.height)) {
    let clip = `${first.width}×${first.height}`;
    if (finite(first.frame_count)) clip += `, ${first.frame_count} frames`;
    parts.push(clip);
  }
  return parts.join(SEP);
}

/**
 * The result line after a run, from the node's UI output "segmind" entry:
 * "Charged $0.455 · credits left 12.35", "Reused cached clip (not billed again)", ...
 */
export function formatResult(info) {
  if (!info || typeof info !== "object") return "";
  const parts = [];
  if (info.from_cache) {
    parts.push("Reused cached clip (not billed again)");
  } else if (finite(info.cost)) {
    parts.push(`Charged ${formatUSD(info.cost)}`);
  } else {
    parts.push("Cost not reported by Segmind");
  }
  if (finite(info.remaining_credits)) parts.push(`credits left ${formatCredits(info.remaining_credits)}`);
  if (finite(info.width) && finite(info.height)) {
    let clip = `${info.width}×${info.height}`;
    if (finite(info.frame_count)) clip += `, ${info.frame_count} frames`;
    if (finite(info.fps) && info.fps > 0) {
      clip += ` @ ${Math.round(info.fps * 100) / 100} fps`;
      if (finite(info.frame_count)) clip += ` = ${formatClipLength(info.frame_count / info.fps)}`;
    }
    parts.push(clip);
  }
  return parts.join(SEP);
}

/**
 * The error line for the node from the exception message (the Python side raises
 * exceptions whose message is meant for the user): whitespace collapsed, anything shaped
 * like a Segmind key masked, trimmed to `max` characters.
 */
export function formatError(message, max = 300) {
  let text = String(message ?? "").trim();
  if (!text) return "Failed (no message)";
  text = text.replace(/\s+/g, " ").replace(/SG_[A-Za-z0-9_\-]{6,}/g, "SG_***");
  if (text.length > max) text = text.slice(0, max - 1) + "…";
  return `Failed: ${text}`;
}
