import { test } from "node:test";
import assert from "node:assert/strict";
import {
  estimateCost, readCostWidgets, isSegmindVideoNodeDef, DEFAULTS, DEFAULT_PRICE_USD, COST_NOTE,
} from "../../web/js/cost.js";

const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test("estimate at the product page defaults is $0.455", () => {
  const est = estimateCost(DEFAULTS);
  assert.equal(est.usd, 0.455);
  assert.equal(est.ratio, 1);
  assert.deepEqual(est.problems, []);
  close(est.clipSeconds, 181 / 24);
  close(est.runtimeS, 113.31);
  assert.equal(DEFAULT_PRICE_USD, 0.455);
});

test("cost scales with width*height*num_frames", () => {
  close(estimateCost({ width: 360, height: 1280, num_frames: 181, fps: 24 }).usd, 0.2275);
  close(estimateCost({ width: 720, height: 640, num_frames: 181, fps: 24 }).usd, 0.2275);
  close(estimateCost({ width: 1280, height: 1280, num_frames: 181, fps: 24 }).usd, 0.455 * 1280 / 720);
  close(estimateCost({ width: 720, height: 1280, num_frames: 362, fps: 24 }).usd, 0.91);
  const small = estimateCost({ width: 256, height: 256, num_frames: 1, fps: 24 });
  close(small.usd, 0.455 * (256 * 256) / (720 * 1280 * 181));
});

test("fps changes clip length, not cost", () => {
  const a = estimateCost({ width: 720, height: 1280, num_frames: 181, fps: 24 });
  const b = estimateCost({ width: 720, height: 1280, num_frames: 181, fps: 12 });
  assert.equal(a.usd, b.usd);
  close(b.clipSeconds, 181 / 12);
});

test("string widget values are accepted; missing or linked values give null", () => {
  close(estimateCost({ width: "720", height: "1280", num_frames: "181", fps: "24" }).usd, 0.455);
  assert.equal(estimateCost({ width: null, height: 1280, num_frames: 181, fps: 24 }), null);
  assert.equal(estimateCost({ width: 720, height: 0, num_frames: 181, fps: 24 }), null);
  assert.equal(estimateCost({ width: 720, height: 1280, num_frames: "abc", fps: 24 }), null);
  assert.equal(estimateCost(undefined), null);
  const noFps = estimateCost({ width: 720, height: 1280, num_frames: 181, fps: null });
  assert.equal(noFps.clipSeconds, null);
  assert.equal(noFps.fps, null);
  close(noFps.usd, 0.455);
});

test("values outside Segmind's ranges are reported", () => {
  const est = estimateCost({ width: 2048, height: 1280, num_frames: 500, fps: 60 });
  assert.equal(est.problems.length, 3);
  assert.match(est.problems.join(";"), /width 2048 is outside 256-1280/);
  assert.match(est.problems.join(";"), /num_frames 500 is outside 1-400/);
  assert.match(est.problems.join(";"), /fps 60 is outside 1-30/);
  assert.match(estimateCost({ width: 720.5, height: 1280, num_frames: 181, fps: 24 }).problems[0], /not a whole number/);
});

test("readCostWidgets picks the four widgets by name", () => {
  const widgets = [
    { name: "prompt", value: "x" }, { name: "width", value: 512 }, { name: "height", value: 768 },
    { name: "num_frames", value: 97 }, { name: "fps", value: 25 }, { name: "seed", value: 1 },
  ];
  assert.deepEqual(readCostWidgets(widgets), { width: 512, height: 768, num_frames: 97, fps: 25 });
  assert.deepEqual(readCostWidgets(undefined), { width: null, height: null, num_frames: null, fps: null });
});

test("the extension attaches to SegmindLTX2* classes with size inputs only", () => {
  const input = { required: { image: ["IMAGE"], prompt: ["STRING"], width: ["INT"], height: ["INT"], num_frames: ["INT"], fps: ["INT"] } };
  assert.ok(isSegmindVideoNodeDef({ name: "SegmindLTX2ImageToVideo", input }));
  assert.ok(isSegmindVideoNodeDef({ name: "SegmindLTX2TextToVideo", input: { required: { prompt: [] }, optional: { width: [], height: [], num_frames: [] } } }));
  assert.ok(!isSegmindVideoNodeDef({ name: "SegmindLTX2KeyCheck", input: { required: { prompt: [] } } }));
  assert.ok(!isSegmindVideoNodeDef({ name: "KSampler", input }));
  assert.ok(!isSegmindVideoNodeDef(undefined));
});

test("the cost note says it is an estimate", () => {
  assert.match(COST_NOTE, /Estimate/);
  assert.match(COST_NOTE, /0\.455/);
});
