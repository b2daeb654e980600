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
