import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatUSD, formatCredits, formatClock, formatClipLength, formatEta, remainingSeconds,
  formatStatus, formatEstimate, formatEstimateDetail, formatResult, formatResults, formatError,
} from "../../web/js/format.js";
import { estimateCost, estimateForNode, DEFAULTS, FIT_MATCH, BATCH_EVERY } from "../../web/js/cost.js";

test("money", () => {
  assert.equal(formatUSD(0.455), "$0.455");
  assert.equal(formatUSD(0.2275), "$0.228"); // rounds half up at the third decimal
  assert.equal(formatUSD(0.0004), "< $0.001");
  assert.equal(formatUSD(0), "$0.00");
  assert.equal(formatUSD(9.9994), "$9.999");
  assert.equal(formatUSD(12.345), "$12.35");
  assert.equal(formatUSD(0.455, { approx: true }), "≈ $0.455");
  assert.equal(formatUSD(null), "—");
  assert.equal(formatUSD(NaN), "—");
  assert.equal(formatUSD(-1), "—");
});

test("credits", () => {
  assert.equal(formatCredits(12.3456), "12.35");
  assert.equal(formatCredits(0), "0.00");
  assert.equal(formatCredits(undefined), "—");
});

test("clock", () => {
  assert.equal(formatClock(0), "0:00");
  assert.equal(formatClock(7.4), "0:07");
  assert.equal(formatClock(59.6), "1:00");
  assert.equal(formatClock(113.31), "1:53");
  assert.equal(formatClock(3723), "1:02:03");
  assert.equal(formatClock(-5), "0:00");
  assert.equal(formatClock(undefined), "—");
});

test("clip length", () => {
  assert.equal(formatClipLength(181 / 24), "7.5 s");
  assert.equal(formatClipLength(400 / 1), "6:40");
  assert.equal(formatClipLength(1 / 30), "0.0 s");
  assert.equal(formatClipLength(null), "—");
});

test("ETA text", () => {
  assert.equal(formatEta(71), "~1:11 left");
  assert.equal(formatEta(0), "finishing");
  assert.equal(formatEta(-3), "finishing");
  assert.equal(formatEta(undefined), "");
  assert.equal(remainingSeconds(42, 113.31), 113.31 - 42);
  assert.equal(remainingSeconds(200, 113.31), 0);
  assert.equal(remainingSeconds(null, 113), null);
});

test("status lines", () => {
  assert.equal(formatStatus({ phase: "processing", elapsedS: 42, etaS: 71 }), "Generating at Segmind · 0:42 elapsed · ~1:11 left");
  assert.equal(formatStatus({ phase: "queued", elapsedS: 3 }), "Queued at Segmind · 0:03 elapsed");
  assert.equal(formatStatus({ phase: "downloading", detail: "3.1 of 9.8 MB" }), "Downloading · 3.1 of 9.8 MB");
  assert.equal(formatStatus({ phase: "decoding" }), "Decoding");
  assert.equal(formatStatus({ phase: "done", elapsedS: 120, etaS: 5 }), "Done · 2:00 elapsed");
  assert.equal(formatStatus({ phase: "something-new" }), "something-new");
  assert.equal(formatStatus(), "Working");
});

test("estimate lines show the size and frames Segmind really returns", () => {
  const est = estimateCost(DEFAULTS);
  assert.equal(formatEstimate(est), "Est. ≈ $0.455 · 736×1280 · 185 frames @ 24 fps = 7.7 s");
  assert.equal(formatEstimateDetail(est),
    "asked 720×1280, 181 frames (LTX-2 grid: 32 px, 8k+1) · ~1:53 on Segmind");
  const onGrid = estimateCost({ width: 704, height: 384, num_frames: 121, fps: 24 });
  assert.equal(formatEstimate(onGrid), "Est. ≈ $0.085 · 704×384 · 121 frames @ 24 fps = 5.0 s");
  assert.equal(formatEstimateDetail(onGrid), "~0:21 on Segmind");
  assert.match(formatEstimate(null), /unknown/);
  assert.equal(formatEstimateDetail(null), "");
  const bad = estimateCost({ width: 720, height: 1280, num_frames: 500, fps: 24 });
  assert.match(formatEstimateDetail(bad), /⚠ num_frames 500 is outside 1-400/);
  const noFps = estimateCost({ width: 720, height: 1280, num_frames: 181, fps: null });
  assert.equal(formatEstimate(noFps), "Est. ≈ $0.455 · 736×1280 · 185 frames");
});

test("estimate lines follow the fit mode and the batch mode", () => {
  const box = { width: 720, height: 1280, num_frames: 181, fps: 24, fit: FIT_MATCH };
  const unknown = estimateForNode(box, null);
  assert.equal(formatEstimate(unknown), "Est. ≤ $0.455 · size follows the picture, within 736×1280 · 185 frames @ 24 fps = 7.7 s");
  const known = estimateForNode(box, { width: 1920, height: 1080 });
  assert.equal(formatEstimate(known), "Est. ≈ $0.148 · 736×416 (picture's aspect) · 185 frames @ 24 fps = 7.7 s");
  assert.match(formatEstimateDetail(known), /^picture 1920×1080 fitted within 720×1280 · asked 720×405, 181 frames/);
  const every = estimateForNode({ ...DEFAULTS, batch_mode: BATCH_EVERY });
  assert.match(formatEstimate(every), /^Est\. ≈ \$0\.455 per picture · 736×1280/);
});

test("result line from the node's UI output", () => {
  assert.equal(
    formatResult({ cost: 0.455, remaining_credits: 12.3456, from_cache: false, width: 704, height: 1280, frame_count: 185, fps: 24 }),
    "Charged $0.455 · credits left 12.35 · 704×1280, 185 frames @ 24 fps = 7.7 s",
  );
  assert.equal(formatResult({ cost: null, remaining_credits: null, from_cache: false }), "Cost not reported by Segmind");
  assert.equal(formatResult({ cost: 0.455, from_cache: true }), "Reused cached clip (not billed again)");
  assert.equal(formatResult({ cost: 0.1, width: 512, height: 512, fps: 23.976 }), "Charged $0.100 · 512×512 @ 23.98 fps");
  assert.equal(formatResult(null), "");
});

test("result line of a batch: totals, reused clips, lowest credits", () => {
  const a = { cost: 0.455, remaining_credits: 9.5, from_cache: false, width: 736, height: 1280, frame_count: 185, fps: 24 };
  const b = { cost: 0.455, remaining_credits: 9.05, from_cache: false, width: 736, height: 1280, frame_count: 185, fps: 24 };
  const c = { cost: 0.455, remaining_credits: null, from_cache: true, width: 736, height: 1280, frame_count: 185, fps: 24 };
  assert.equal(formatResults([a, b, c]), "3 clips · charged $0.910 · 1 reused from the cache (not billed again) · credits left 9.05 · 736×1280, 185 frames");
  assert.equal(formatResults([a, { ...b, cost: null }]), "2 clips · charged $0.455 + 1 not reported · credits left 9.05 · 736×1280, 185 frames");
  assert.equal(formatResults([a]), formatResult(a));
  assert.equal(formatResults([]), "");
  assert.equal(formatResults(undefined), "");
});

test("error line is the user message, one line, key masked, bounded", () => {
  assert.equal(formatError("Not enough Segmind credits: top up."), "Failed: Not enough Segmind credits: top up.");
  assert.equal(formatError("line one\n  line two"), "Failed: line one line two");
  assert.equal(formatError("bad key SG_abcdef123456 rejected"), "Failed: bad key SG_*** rejected");
  assert.equal(formatError(""), "Failed (no message)");
  const long = formatError("x".repeat(1000), 50);
  assert.equal(long.length, "Failed: ".length + 50);
  assert.ok(long.endsWith("…"));
});

test("a retake's estimate: its flat price marked unconfirmed, the input clip's size", async () => {
  const { MODELS, modelForNode, isSegmindVideoNodeDef } = await import("../../web/js/cost.js");
  const retake = MODELS["ltx-retake-video"];
  assert.equal(modelForNode("SegmindLTX2Retake"), retake);
  assert.ok(isSegmindVideoNodeDef({ name: "SegmindLTX2Retake", input: { required: { video: ["VIDEO"] } } }));
  const est = estimateCost({ duration: 3, start_time: 2 }, retake);
  assert.equal(formatEstimate(est), "Est. ≈ $0.791 (unconfirmed) · the input clip's size and length");
  assert.equal(formatEstimateDetail(est), "~0:39 on Segmind"); // the page's ~38.5 s
  const pro = estimateCost({ duration: 6, resolution: "1080p" }, MODELS["ltx-2-pro"]);
  assert.match(formatEstimate(pro), /^Est\. ≈ \$0\.360 \(unconfirmed\) · 1920×1080 · 150 frames @ 25 fps/);
});
