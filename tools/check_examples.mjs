// Loads every UI-format workflow in examples_workflows/ into a real ComfyUI front end and
// checks that what it would queue (app.graphToPrompt) is exactly the matching .api.json.
// Not part of the test suite (tests/test_examples.py checks the files without a browser);
// run it by hand against a running ComfyUI that has this pack installed:
//
//   PLAYWRIGHT_CORE=/somewhere/node_modules/playwright-core/index.mjs \
//     COMFY_URL=http://127.0.0.1:8188 node tools/check_examples.mjs
//
// Chromium comes from Debian (apt-get install chromium; CHROMIUM=/usr/bin/chromium).
// Each workflow is loaded twice: as it is, and rewritten into the node face the pack had
// before the lean one (20 / 18 positional values, see web/js/migrate.js), which the front
// end must migrate back so that it queues the very same .api.json.
// Exits 1 if a workflow has an unknown node type or queues something else than its API file.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const DIR = path.join(here, "..", "examples_workflows");
const COMFY_URL = (process.env.COMFY_URL ?? "http://127.0.0.1:8188").replace(/\/$/, "");
const { chromium } = await import(process.env.PLAYWRIGHT_CORE ?? "playwright-core");

// Fields the front end adds for its own widgets and the server ignores.
const UI_ONLY = new Set(["audioUI"]);
const canonical = (prompt) => JSON.stringify(
  Object.entries(prompt).sort(([a], [b]) => a.localeCompare(b)).map(([id, n]) => [id, n.class_type,
    Object.entries(n.inputs).filter(([k]) => !UI_ONLY.has(k)).sort(([a], [b]) => a.localeCompare(b))]));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
await page.goto(COMFY_URL);
await page.waitForFunction(() => window.app?.graph && window.LiteGraph, null, { timeout: 60000 });
// The old face's values for a lean node with the defaults of the options that moved
// (null when the node uses a lean-only choice, which the old face could not express).
const MOVED_DEFAULTS = ["async (v2)", 900];
const DECODE_DEFAULTS = [0, 0, 1, 0, 0];
function toOldFace(node) {
  const v = node.widgets_values;
  if (node.type === "SegmindLTX2ImageToVideo" && v?.length === 14) {
    if (v[11] !== "one picture" || v[13] !== "crop to width x height") return null;
    return [...v.slice(0, 11), ...MOVED_DEFAULTS, v[12], "png", ...DECODE_DEFAULTS];
  }
  if (node.type === "SegmindLTX2TextToVideo" && v?.length === 11) return [...v, ...MOVED_DEFAULTS, ...DECODE_DEFAULTS];
  return undefined; // not one of the generation nodes
}
function oldWorkflow(ui) {
  const wf = JSON.parse(JSON.stringify(ui));
  let changed = 0;
  for (const node of wf.nodes ?? []) {
    const old = toOldFace(node);
    if (old === undefined) continue;
    if (old === null) return null;
    node.widgets_values = old;
    node.inputs = (node.inputs ?? []).filter((i) => i.name !== "options" || i.link != null);
    changed++;
  }
  return changed ? wf : null;
}

async function queued(workflow) {
  return page.evaluate(async (workflow) => {
    await app.loadGraphData(workflow);
    const unknown = app.graph._nodes.filter((n) => !LiteGraph.registered_node_types[n.type]).map((n) => n.type);
    return { unknown, output: (await app.graphToPrompt()).output };
  }, workflow);
}

let failed = 0;
for (const file of fs.readdirSync(DIR).filter((f) => f.endsWith(".json") && !f.endsWith(".api.json")).sort()) {
  const ui = JSON.parse(fs.readFileSync(path.join(DIR, file), "utf8"));
  const api = JSON.parse(fs.readFileSync(path.join(DIR, file.replace(/\.json$/, ".api.json")), "utf8"));
  const variants = [["", ui]];
  const old = oldWorkflow(ui);
  if (old) variants.push([" (saved with the former node face)", old]);
  for (const [label, workflow] of variants) {
    const got = await queued(workflow);
    const same = canonical(got.output) === canonical(api);
    const ok = same && got.unknown.length === 0;
    if (!ok) failed++;
    console.log(`${ok ? "PASS" : "FAIL"} ${file}${label}: unknown node types ${JSON.stringify(got.unknown)}, queues its .api.json: ${same}`);
  }
}
await browser.close();
process.exit(failed ? 1 : 0);
