import { test } from "node:test";
import assert from "node:assert/strict";
import {
  estimateCost, estimateForNode, snapToGrid, fitWithin, readCostWidgets, isSegmindVideoNodeDef,
  DEFAULTS, DEFAULT_PRICE_USD, COST_NOTE, FIT_MATCH, FIT_CROP, BATCH_EVERY,
} from "../../web/js/cost.js";

const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

// What core/params.py answers (snap_to_grid, estimate_cost, expected_runtime), printed with
// .ci-venv/bin/python for these requests: the JS must give the same numbers.
const PYTHON = [
  // [width, height, num_frames] -> [snapped], estimate_cost, expected_runtime
  [[720, 1280, 181], [736, 1280, 185], 0.455, 113.31],
  [[256, 256, 9], [256, 256, 9], 0.0015398354876615748, 10.0],
  [[257, 300, 10], [288, 320, 17], 0.004090188014101058, 10.0],
  [[1280, 720, 97], [1280, 736, 97], 0.23856756756756756, 59.41118918918919],
  [[360, 1280, 181], [384, 1280, 185], 0.2373913043478261, 59.11826086956522],
  [[1280, 1280, 400], [1280, 1280, 401], 1.7152056404230318, 427.14274970622796],
  [[256, 256, 1], [256, 256, 1], 0.0001710928319623972, 10.0],
  [[704, 384, 121], [704, 384, 121], 0.0853967097532315, 21.266596004700354],
];

test("size, frames, price and run time equal core/params.py's", () => {
  for (const [[w, h, n], snapped, usd, runtime] of PYTHON) {
    assert.deepEqual(snapToGrid(w, h, n), snapped, `${w}x${h}x${n}`);
    const est = estimateCost({ width: w, height: h, num_frames: n, fps: 24 });
    close(est.usd, usd, 1e-12);
    close(est.runtimeS, runtime, 1e-9);
    assert.deepEqual([est.renderWidth, est.renderHeight, est.renderFrames], snapped);
    assert.deepEqual([est.width, est.height, est.numFrames], [w, h, n]);
    assert.equal(est.snapped, snapped.join() !== [w, h, n].join());
  }
});

test("the grid: sides up to 32s, frames up to 8k+1", () => {
  assert.deepEqual(snapToGrid(720, 1280, 181), [736, 1280, 185]);
  assert.deepEqual(snapToGrid(736, 1280, 185), [736, 1280, 185]); // already on the grid
  assert.deepEqual(snapToGrid(1, 1, 1), [32, 32, 1]);
  assert.deepEqual(snapToGrid(33, 64, 2), [64, 64, 9]);
  assert.deepEqual(snapToGrid(0, -5, 0), [32, 32, 1]); // as Python's max(v, 1)
});

test("estimate at the product page defaults is $0.455, rendered 736x1280, 185 frames", () => {
  const est = estimateCost(DEFAULTS);
  assert.equal(est.usd, 0.455);
  assert.equal(est.ratio, 1);
  assert.deepEqual(est.problems, []);
  close(est.clipSeconds, 185 / 24);
  close(est.runtimeS, 113.31);
  assert.equal(DEFAULT_PRICE_USD, 0.455);
});

test("fps changes clip length, not cost", () => {
  const a = estimateCost({ width: 720, height: 1280, num_frames: 181, fps: 24 });
  const b = estimateCost({ width: 720, height: 1280, num_frames: 181, fps: 12 });
  assert.equal(a.usd, b.usd);
  close(b.clipSeconds, 185 / 12);
});

test("fit within the box: the same sizes as nodes/common.py match_aspect", () => {
  // [picture w, h, box w, h] -> what match_aspect() answers (printed with .ci-venv/bin/python)
  const PY = [
    [[1920, 1080, 720, 1280], [720, 405]], // landscape picture in a portrait box
    [[1080, 1920, 720, 1280], [720, 1280]],
    [[1280, 720, 1280, 720], [1280, 720]],
    [[512, 512, 720, 1280], [720, 720]],
    [[4000, 500, 1280, 1280], [1280, 256]], // 160 raised to Segmind's 256
    [[1000, 333, 1280, 720], [1280, 426]],
    [[640, 480, 720, 1280], [720, 540]],
    [[3, 2, 1281, 1000], [1280, 854]], // 1281 kept to Segmind's 1280
    [[16, 5, 1000, 1280], [1000, 312]], // 312.5: Python rounds halves to even
    [[6, 5, 999, 1280], [999, 832]], // 832.5 -> 832
  ];
  for (const [args, want] of PY) assert.deepEqual(fitWithin(...args), want, args.join(","));
  assert.equal(fitWithin(0, 500, 720, 1280), null);
  assert.equal(fitWithin(500, 500, null, 1280), null);
});

test("estimateForNode follows fit and batch mode", () => {
  const values = { width: 720, height: 1280, num_frames: 181, fps: 24 };
  const crop = estimateForNode({ ...values, fit: FIT_CROP }, { width: 1920, height: 1080 });
  assert.equal(crop.usd, 0.455); // cropping ignores the picture's shape
  assert.equal(crop.picture, null);
  assert.equal(crop.followsPicture, false);
  const match = estimateForNode({ ...values, fit: FIT_MATCH }, { width: 1920, height: 1080 });
  // asked 720x405, rendered on the grid as 736x416
  assert.deepEqual([match.width, match.height, match.renderWidth, match.renderHeight], [720, 405, 736, 416]);
  assert.deepEqual([match.boxWidth, match.boxHeight], [720, 1280]);
  assert.deepEqual(match.picture, { width: 1920, height: 1080 });
  close(match.usd, 0.455 * (736 * 416) / (736 * 1280));
  const unknown = estimateForNode({ ...values, fit: FIT_MATCH }, null);
  assert.equal(unknown.followsPicture, true);
  assert.equal(unknown.usd, 0.455); // the box: an upper bound
  assert.equal(estimateForNode({ ...values, batch_mode: BATCH_EVERY }).perPicture, true);
  assert.equal(estimateForNode({ ...values, width: null }), null);
});

test("string widget values are accepted; missing or linked values give null", () => {
  close(estimateCost({ width: "720", height: "1280", num_frames: "181", fps: "24" }).usd, 0.455);
  assert.equal(estimateCost({ width: null, height: 1280, num_frames: 181, fps: 24 }), null);
  assert.equal(estimateCost({ width: 720, height: 0, num_frames: 181, fps: 24 }), null);
  assert.equal(estimateCost({ width: 720, height: 1280, num_frames: "abc", fps: 24 }), null);
  assert.equal(estimateCost(undefined), null);
  const noFps = estimateCost({ width: 720, height: 1280, num_frames: 181, fps: null });
  assert.equal(noFps.renderFrames, 185);
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

test("every number comes from the generated descriptors; each node class has its model", async () => {
  const { MODELS, NODE_MODELS, DEFAULT_MODEL, modelForNode, costNote, RANGES } = await import("../../web/js/cost.js");
  assert.equal(DEFAULT_MODEL, "ltx-2-19b-i2v");
  assert.equal(DEFAULT_PRICE_USD, MODELS[DEFAULT_MODEL].price.usd);
  assert.deepEqual(RANGES.num_frames, [1, 400]);
  assert.equal(NODE_MODELS.SegmindLTX2TextToVideo, "ltx-2-19b-t2v");
  assert.equal(modelForNode("SegmindLTX2TextToVideo").path, "ltx-2-19b-t2v");
  assert.equal(modelForNode("SomethingElse").path, DEFAULT_MODEL);
  assert.equal(costNote(), COST_NOTE);
  // Text to video at its own defaults (1280x768, 161 frames): the shared volume rule, $0.413.
  const t2v = estimateCost({ width: 1280, height: 768, num_frames: 161, fps: 24 }, "ltx-2-19b-t2v");
  close(t2v.usd, 0.455 * (1280 * 768 * 161) / (736 * 1280 * 185), 1e-12);
  assert.equal(estimateForNode({ width: 1280, height: 768, num_frames: 161 }, null, "ltx-2-19b-t2v").usd, t2v.usd);
});
