import { test } from "node:test";
import assert from "node:assert/strict";
import {
  migrateWidgetValues, isOldLayout, pruneDroppedInputs, describeDropped,
  I2V_CLASS, T2V_CLASS, NEW_LAYOUTS, OLD_LAYOUTS,
} from "../../web/js/migrate.js";

// widgets_values exactly as today's pack saves them (front end 1.27.10, UI format).
const NEG = "blurry, low quality";
const OLD_I2V = ["a cat walks", NEG, 1280, 720, 97, 24, 1234, "fixed", 4.5, true, "segmind",
  "sync (v1)", 600, 2, "jpeg", 0, 0, 1, 0, 0];
const OLD_T2V = ["rain on a window", NEG, 1280, 768, 161, 24, 7, "randomize", 4, false, "offline preview",
  "async (v2)", 900, 10, 0, 2, 0, 0];

// The new nodes' serialisable widgets in order, with a fresh node's defaults.
const newWidgets = (cls) => NEW_LAYOUTS[cls].map((name) => ({
  name,
  value: { prompt: "", negative_prompt: "default neg", width: 720, height: 1280, num_frames: 181, fps: 24, seed: 42,
    control_after_generate: "fixed", guidance_scale: 4, force_rerun: false, backend: "segmind",
    batch_mode: "one picture", batch_index: 0, fit: "crop to width x height" }[name],
}));

test("old layouts are the 20 and 18 values of the contract", () => {
  assert.equal(OLD_LAYOUTS[I2V_CLASS].length, 20);
  assert.equal(OLD_LAYOUTS[T2V_CLASS].length, 18);
  assert.ok(isOldLayout(I2V_CLASS, OLD_I2V));
  assert.ok(isOldLayout(T2V_CLASS, OLD_T2V));
  assert.ok(!isOldLayout(T2V_CLASS, OLD_I2V));
  assert.ok(!isOldLayout("KSampler", OLD_I2V));
});

test("an old Image to Video node keeps its values on the right widgets", () => {
  const r = migrateWidgetValues(I2V_CLASS, OLD_I2V, newWidgets(I2V_CLASS));
  assert.deepEqual(r.values, ["a cat walks", NEG, 1280, 720, 97, 24, 1234, "fixed", 4.5, true, "segmind",
    "one picture", 2, "crop to width x height"]);
  // Non-default options that left the face are reported (png, 900 s and the decode defaults are not).
  assert.deepEqual(r.dropped.map((d) => [d.name, d.value]), [["api_mode", "sync (v1)"], ["timeout_seconds", 600], ["upload_format", "jpeg"]]);
  assert.equal(r.dropped[0].movedTo, "Segmind LTX-2 Options");
});

test("an old Text to Video node keeps its values; a non-default decode option is reported", () => {
  const r = migrateWidgetValues(T2V_CLASS, OLD_T2V, newWidgets(T2V_CLASS));
  assert.deepEqual(r.values, ["rain on a window", NEG, 1280, 768, 161, 24, 7, "randomize", 4, false, "offline preview"]);
  assert.deepEqual(r.dropped.map((d) => [d.name, d.value, d.movedTo]), [
    ["frame_load_cap", 10, "Decode Video (lean, Segmind LTX-2)"],
    ["select_every_nth", 2, "Decode Video (lean, Segmind LTX-2)"],
  ]);
});

test("without the node's widgets the contract's lean layout is used", () => {
  const r = migrateWidgetValues(I2V_CLASS, OLD_I2V);
  assert.equal(r.values.length, 14);
  assert.deepEqual(r.values.slice(11), ["one picture", 2, "crop to width x height"]);
});

test("a workflow in the new layout is left untouched", () => {
  const lean = ["a cat", NEG, 720, 1280, 181, 24, 42, "fixed", 4, false, "segmind", "every picture", 0, "match the picture's aspect"];
  assert.equal(migrateWidgetValues(I2V_CLASS, lean, newWidgets(I2V_CLASS)), null);
  assert.equal(migrateWidgetValues(T2V_CLASS, lean.slice(0, 11), newWidgets(T2V_CLASS)), null);
  assert.equal(migrateWidgetValues(I2V_CLASS, undefined, newWidgets(I2V_CLASS)), null);
  // 20 values whose kinds do not match the old layout are not reshuffled on a guess.
  const odd = [...OLD_I2V];
  odd[11] = 5;
  assert.equal(migrateWidgetValues(I2V_CLASS, odd, newWidgets(I2V_CLASS)), null);
});

test("a node whose definition still has the old face keeps the old list", () => {
  const oldWidgets = OLD_LAYOUTS[I2V_CLASS].map((name) => ({ name, value: null }));
  assert.equal(migrateWidgetValues(I2V_CLASS, OLD_I2V, oldWidgets), null);
});

test("orphan input slots of removed widgets are dropped unless linked", () => {
  const inputs = [
    { name: "image", type: "IMAGE", link: 3 },
    { name: "width", type: "INT", widget: { name: "width" }, link: null },
    { name: "api_mode", type: "COMBO", widget: { name: "api_mode" }, link: null },
    { name: "frame_load_cap", type: "INT", widget: { name: "frame_load_cap" }, link: 8 },
  ];
  const r = pruneDroppedInputs(inputs, NEW_LAYOUTS[I2V_CLASS]);
  assert.deepEqual(r.inputs.map((i) => i.name), ["image", "width", "frame_load_cap"]);
  assert.deepEqual(r.linked, ["frame_load_cap"]);
  assert.deepEqual(pruneDroppedInputs(undefined, []).inputs, []);
});

test("the notice names the options, their values and where they went", () => {
  const r = migrateWidgetValues(I2V_CLASS, OLD_I2V);
  const text = describeDropped("#7 Segmind LTX-2 Image to Video", r.dropped, ["frame_load_cap"]);
  assert.match(text, /api_mode = "sync \(v1\)", timeout_seconds = 600, upload_format = "jpeg" \(now on a "Segmind LTX-2 Options" node\)/);
  assert.match(text, /frame_load_cap is driven by a link/);
  assert.equal(describeDropped("x", [], []), "");
});
