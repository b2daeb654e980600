import { test } from "node:test";
import assert from "node:assert/strict";
import { segmentCount, extendEstimate, formatExtendEstimate, EXTEND_INPUTS, MAX_SEGMENTS } from "../../web/js/extend_cost.js";

const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test("one segment per line that is not blank", () => {
  assert.equal(segmentCount("a\n\n  \nb\r\nc"), 3);
  assert.equal(segmentCount(""), 0);
  assert.equal(segmentCount(null), 0);
});

test("a Pro Extend is priced whole: segments x duration x the resolution's rate", () => {
  const e = extendEstimate({ prompts: "a\nb", model: "ltx-2-pro", duration: 8, resolution: "1440p", fps: "not sent" });
  close(e.perSegment, 0.96);
  close(e.usd, 1.92);
  assert.equal(e.segments, 2);
  assert.equal(formatExtendEstimate(e), "Est. ≈ $1.920 for 2 segments (2 × $0.960, unconfirmed)");
});

test("a 19B Extend waits for the clip's size, and says so", () => {
  const e = extendEstimate({ prompts: "a\nb\nc", model: "ltx-2-19b-i2v", num_frames: 121 });
  assert.equal(e.usd, null);
  assert.ok(e.sizeFromClip);
  assert.match(formatExtendEstimate(e), /^Est\.: 3 segments × the LTX-2 19B price at the input clip's size/);
});

test("no prompt yet, or too many", () => {
  assert.match(formatExtendEstimate(extendEstimate({ prompts: "", model: "ltx-2-pro" })), /no segment yet/);
  const many = Array.from({ length: MAX_SEGMENTS + 1 }, (_, i) => `p${i}`).join("\n");
  assert.match(formatExtendEstimate(extendEstimate({ prompts: many, model: "ltx-2-pro" })), /at most 20/);
  assert.deepEqual([...EXTEND_INPUTS], ["prompts", "model", "num_frames", "duration", "resolution", "fps"]);
});

test("a 19B Extend is priced whole when the clip comes from a Segmind node upstream", async () => {
  const { clipSizeOf, segmentSize } = await import("../../web/js/extend_cost.js");
  const { estimateCost } = await import("../../web/js/cost.js");
  // Image to Video at 720x1280 returns 736x1280 (the grid): the segments are asked at that.
  const clip = clipSizeOf("SegmindLTX2ImageToVideo", { width: 720, height: 1280 });
  assert.deepEqual(clip, { width: 736, height: 1280 });
  const e = extendEstimate({ prompts: "a\nb", model: "ltx-2-19b-i2v", num_frames: 121 }, clip);
  const one = estimateCost({ width: 736, height: 1280, num_frames: 121 }, "ltx-2-19b-i2v").usd;
  close(e.usd, 2 * one);
  assert.match(formatExtendEstimate(e), /for 2 segments \(2 × \$0\.\d{3} at 736×1280/);
  // A Pro clip (1920x1080) is brought into 19B's 256..1280; an unknown node says nothing.
  assert.deepEqual(clipSizeOf("SegmindLTX2ProImageToVideo", { resolution: "1080p" }), { width: 1920, height: 1080 });
  assert.deepEqual(segmentSize(1920, 1080), [1280, 720]);
  assert.deepEqual(segmentSize(64, 48), [341, 256]);  // as core/extend_jobs.py clip_fields
  assert.equal(clipSizeOf("LoadVideo", { width: 720, height: 1280 }), null);
});
