// README screenshots and an end-to-end check of the front-end extension in a real ComfyUI.
// Not part of the test suite (tests/js/ is); run it by hand against a running ComfyUI.
//
//   # 1. the Segmind stand-in (prints the env vars to use):
//   .venv/bin/python tests/fake_segmind.py --port 9102 --polls 6 --poll-delay 1.5
//   # 2. ComfyUI with this pack, pointed at the stand-in, WITHOUT SEGMIND_API_KEY (the
//   #    script saves the stand-in's key through the settings dialog), scratch folders:
//   SEGMIND_API_BASE=http://127.0.0.1:9102 SEGMIND_STORAGE_BASE=http://127.0.0.1:9102 \
//     python main.py --cpu --port 8192 --user-directory /tmp/s/user \
//     --output-directory /tmp/s/output --input-directory /tmp/s/input
//   #    and put any picture into /tmp/s/input/segmind_test.png
//   # 3. Chromium and playwright-core, installed outside the repository:
//   apt-get install chromium; (cd /somewhere && npm install playwright-core)
//   PLAYWRIGHT_CORE=/somewhere/node_modules/playwright-core/index.mjs SEGMIND_TEST_KEY=<printed key> \
//     COMFY_URL=http://127.0.0.1:8192 COMFY_USER_DIR=/tmp/s/user node tools/screenshots.mjs
//
// Environment: COMFY_URL (default http://127.0.0.1:8188), OUT_DIR (docs/screenshots),
// CHROMIUM (/usr/bin/chromium), PLAYWRIGHT_CORE (module to import, default
// "playwright-core"), COMFY_USER_DIR (to check the saved key file's mode), SEGMIND_TEST_KEY
// (required: the key typed into the dialog, the stand-in's printed SEGMIND_API_KEY), INPUT_IMAGE (segmind_test.png),
// STEPS (comma list of: key,migrate,lean,badge,seed,run,reload,error,cancel,keyerror,jobs,
// batch,limit,collect; default all), FAKE_URL (the stand-in's address, to check its credits: that
// a refused run and a collected job are not billed).
// The issue-14 steps: migrate (an old workflow's values on the lean face), lean (the node
// face, node_lean.png), jobs (two runs, then the Segmind tab, jobs_tab.png), limit (a per-run
// batch (two pictures, two clips, one preview each: node_batch.png), limit (a per-run
// limit set in Settings refuses the next run before any upload: settings_limits.png,
// spend_limit_refusal.png), collect (the tab's Add to graph / Collect on the first job).
// Use a fresh --user-directory: the spend checks count today's jobs.
// The hero step (STEPS=hero, not in the default list): the README's first picture,
// node_after_run.png: the node at its default size (720x1280, 181 frames) after a run on
// examples_workflows/example.png (copy it into ComfyUI's input folder; INPUT_IMAGE=example.png),
// against a stand-in started with --animate-uploads, so the clip shows that picture, and
// ComfyUI started with SEGMIND_API_KEY set to the stand-in's key.
// The family and team steps (STEPS=family / team, not in the default list): see stepFamily, stepTeam.
// It prints one PASS/FAIL line per check and exits 1 if any check failed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { estimateForNode } from "../web/js/cost.js";
import { formatEstimate, formatUSD } from "../web/js/format.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const COMFY_URL = (process.env.COMFY_URL ?? "http://127.0.0.1:8188").replace(/\/$/, "");
const OUT_DIR = path.resolve(process.env.OUT_DIR ?? path.join(here, "..", "docs", "screenshots"));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const KEY = process.env.SEGMIND_TEST_KEY;
if (!KEY) throw new Error("Set SEGMIND_TEST_KEY to the key tests/fake_segmind.py prints.");
// Keys the stand-in refuses, derived from the real one (so no key-shaped text is committed).
const otherKey = (tag) => KEY.slice(0, 3) + tag + KEY.slice(3 + tag.length);
const USER_DIR = process.env.COMFY_USER_DIR ?? null;
const INPUT_IMAGE = process.env.INPUT_IMAGE ?? "segmind_test.png";
const STEPS = new Set((process.env.STEPS ?? "key,migrate,lean,badge,seed,run,reload,error,cancel,keyerror,jobs,batch,limit,collect").split(",").map((s) => s.trim()));
const FAKE_URL = (process.env.FAKE_URL ?? "").replace(/\/$/, "") || null;
const NODE = "SegmindLTX2ImageToVideo";

const { chromium } = await import(process.env.PLAYWRIGHT_CORE ?? "playwright-core");
fs.mkdirSync(OUT_DIR, { recursive: true });

let failures = 0;
function check(ok, what, extra = "") {
  console.log(`${ok ? "PASS" : "FAIL"} ${what}${extra ? " — " + extra : ""}`);
  if (!ok) failures++;
  return ok;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
  ],
});
const context = await browser.newContext({ viewport: { width: 1500, height: 1500 }, deviceScaleFactor: 1 });
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
page.on("console", (m) => {
  if (m.type() === "error" && /segmind/i.test(m.text())) console.log("  console:", m.text().slice(0, 300));
});

async function openComfy() {
  await page.goto(COMFY_URL + "/");
  await page.waitForFunction(() => window.app?.graph && window.LiteGraph && window.app.extensions?.length, null, { timeout: 90000 });
  await page.waitForFunction(() => window.app.extensions.some((e) => e.name === "Segmind.LTX2"), null, { timeout: 30000 });
  await sleep(1500);
  await page.keyboard.press("Escape"); // any welcome/template dialog
}

// Screen rectangle of a node (title bar included) in page pixels.
async function nodeRect(nodeId, pad = 8) {
  return page.evaluate(({ nodeId, pad }) => {
    const n = app.graph.getNodeById(nodeId);
    const ds = app.canvas.ds;
    const r = app.canvas.canvas.getBoundingClientRect();
    const th = LiteGraph.NODE_TITLE_HEIGHT;
    const x = (n.pos[0] + ds.offset[0]) * ds.scale + r.left;
    const y = (n.pos[1] - th + ds.offset[1]) * ds.scale + r.top;
    return { x: Math.max(0, x - pad), y: Math.max(0, y - pad), width: n.size[0] * ds.scale + 2 * pad, height: (n.size[1] + th) * ds.scale + 2 * pad };
  }, { nodeId, pad });
}

async function focusNode(nodeId) {
  await page.evaluate((nodeId) => {
    const n = app.graph.getNodeById(nodeId);
    const ds = app.canvas.ds;
    ds.scale = 1;
    ds.offset[0] = -n.pos[0] + 330;
    ds.offset[1] = -n.pos[1] + 120;
    app.canvas.setDirty(true, true);
    app.canvas.draw(true, true);
  }, nodeId);
  await sleep(600);
}

async function shoot(name, nodeId) {
  await focusNode(nodeId);
  const file = path.join(OUT_DIR, name);
  await page.screenshot({ path: file, clip: await nodeRect(nodeId) });
  console.log(`  screenshot ${path.relative(process.cwd(), file)} (${fs.statSync(file).size} bytes)`);
}

// LoadImage -> Segmind LTX-2 Image to Video -> SaveVideo, built through the graph API.
async function buildGraph({ prompt = "The camera slowly pushes in while soft rain starts to fall; gentle piano music.", width = 1280, height = 720, num_frames = 97 } = {}) {
  return page.evaluate(async ({ NODE, INPUT_IMAGE, prompt, width, height, num_frames }) => {
    app.graph.clear();
    const load = LiteGraph.createNode("LoadImage");
    load.pos = [0, 0];
    app.graph.add(load);
    const img = load.widgets.find((w) => w.name === "image");
    img.value = INPUT_IMAGE;
    img.callback?.(INPUT_IMAGE);
    const seg = LiteGraph.createNode(NODE);
    seg.pos = [360, 0];
    app.graph.add(seg);
    const save = LiteGraph.createNode("SaveVideo");
    save.pos = [900, 0];
    app.graph.add(save);
    load.connect(0, seg, seg.inputs.findIndex((i) => i.name === "image"));
    seg.connect(seg.outputs.findIndex((o) => o.name === "video"), save, 0);
    const set = (name, v) => {
      const w = seg.widgets.find((x) => x.name === name);
      w.value = v;
      w.callback?.(v);
    };
    set("prompt", prompt);
    set("width", width);
    set("height", height);
    set("num_frames", num_frames);
    seg.setSize([440, seg.computeSize()[1]]);
    app.canvas.setDirty(true, true);
    return { load: load.id, seg: seg.id, save: save.id };
  }, { NODE, INPUT_IMAGE, prompt, width, height, num_frames });
}

const badgeText = (nodeId) =>
  page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    return n?.widgets?.find((w) => w.name === "segmind_ltx2_badge")?.element?.innerText ?? null;
  }, nodeId);

// ------------------------------------------------------------------------- steps

async function stepKey() {
  console.log("# settings dialog: Segmind API key");
  await page.evaluate(() => app.extensionManager.command.execute("Comfy.ShowSettingsDialog"));
  const dialog = page.locator(".settings-container, [role=dialog]").first();
  await dialog.waitFor({ timeout: 15000 });
  await page.getByText("Segmind", { exact: true }).first().click();
  const entry = page.locator("[data-testid=segmind-ltx2-key]");
  await entry.waitFor({ timeout: 10000 });
  const status = page.locator("[data-testid=segmind-ltx2-key-status]");
  await page.waitForFunction(() => !/Checking/.test(document.querySelector("[data-testid=segmind-ltx2-key-status]")?.textContent ?? "Checking"));
  const before = await status.textContent();
  console.log("  status before:", before);
  const envMode = /environment variable/.test(before);
  if (!envMode) {
    await entry.locator("input[type=password]").fill(KEY);
    await entry.getByRole("button", { name: "Save", exact: true }).click();
    await page.waitForFunction(() => /Key saved/.test(document.querySelector("[data-testid=segmind-ltx2-key-status]")?.textContent ?? ""), null, { timeout: 10000 });
    const after = await status.textContent();
    check(after.includes(KEY.slice(-4)) && !after.includes(KEY.slice(0, -4)), "dialog: saving shows only the last 4 characters", after);
    check((await entry.locator("input[type=password]").inputValue()) === "", "dialog: the field is emptied after Save");
  } else {
    check(/wins over a saved key/.test(before), "dialog: says the environment key wins", before);
  }
  const keyShot = envMode ? "settings_key_env.png" : "settings_key.png";
  await page.screenshot({ path: path.join(OUT_DIR, keyShot), clip: await page.evaluate(() => {
    const entry = document.querySelector("[data-testid=segmind-ltx2-key]");
    const d = entry.closest("[role=dialog], .p-dialog") ?? entry;
    const r = d.getBoundingClientRect();
    const bottom = Math.min(r.bottom, Math.max(entry.getBoundingClientRect().bottom + 40, r.top + 320));
    return { x: r.left, y: r.top, width: r.width, height: bottom - r.top };
  }) });
  console.log(`  screenshot ${keyShot}`);

  // The key must not be anywhere the browser keeps or can read it.
  const leaks = await page.evaluate(async (KEY) => {
    const body = KEY.slice(3, -4); // never matches the last4 alone
    const get = async (u) => (await fetch(u)).text();
    const keyStatus = await get("api/segmind_ltx2/key");
    const settings = await get("api/settings");
    const local = JSON.stringify({ ...localStorage });
    const session = JSON.stringify({ ...sessionStorage });
    const workflow = JSON.stringify(app.graph.serialize());
    const dom = document.documentElement.outerHTML;
    const inputs = [...document.querySelectorAll("input")].map((i) => i.value).join("\n");
    return {
      keyStatus,
      where: Object.entries({ keyStatus, settings, local, session, workflow, dom, inputs })
        .filter(([, v]) => v.includes(body)).map(([k]) => k),
    };
  }, KEY);
  console.log("  GET /api/segmind_ltx2/key:", leaks.keyStatus);
  check(leaks.where.length === 0, "key is not in the route's answer, /api/settings, localStorage, sessionStorage, workflow JSON, DOM or inputs", leaks.where.join(", "));
  const st = JSON.parse(leaks.keyStatus);
  check(st.set && st.last4 === KEY.slice(-4), "GET /api/segmind_ltx2/key reports set + last4 only", JSON.stringify(st));
  if (USER_DIR && !envMode) {
    const f = path.join(USER_DIR, "segmind", "api_key");
    const mode = fs.statSync(f).mode & 0o777;
    check(mode === 0o600, `key file ${f} has mode 0600`, mode.toString(8));
  }
  // Another origin (http://localhost:<port> is a different site from http://127.0.0.1:<port>)
  // may neither read nor change the key: a cross-origin POST/DELETE fails or is refused.
  const u = new URL(COMFY_URL);
  const otherHost = u.hostname === "localhost" ? "127.0.0.1" : "localhost";
  const foreignBase = `${u.protocol}//${otherHost}:${u.port}`;
  const foreign = await context.newPage();
  await foreign.goto(foreignBase + "/api/segmind_ltx2/key").catch(() => {});
  const attempts = await foreign.evaluate(async ({ target, evilKey }) => {
    const out = {};
    const tryIt = async (name, init) => {
      try {
        const r = await fetch(target, init);
        out[name] = r.type === "opaque" ? "opaque (no-cors)" : r.status;
      } catch (e) {
        out[name] = "blocked: " + e.message;
      }
    };
    await tryIt("read", {});
    await tryIt("post-json", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key: evilKey }) });
    await tryIt("post-text", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ key: evilKey }) });
    await tryIt("delete", { method: "DELETE" });
    return out;
  }, { target: `${COMFY_URL}/api/segmind_ltx2/key`, evilKey: otherKey("evil") });
  await foreign.close();
  const afterForeign = await page.evaluate(async () => (await fetch("api/segmind_ltx2/key")).json());
  console.log("  from", foreignBase, JSON.stringify(attempts));
  check(afterForeign.set && afterForeign.last4 === KEY.slice(-4), "a page of another origin could not change or remove the key", JSON.stringify(afterForeign));
  check(!Object.values(attempts).includes(200), "no cross-origin request got an answer", JSON.stringify(attempts));
  await page.keyboard.press("Escape");
  await sleep(500);
}

async function stepBadge(ids) {
  console.log("# cost badge");
  const t0 = await badgeText(ids.seg);
  // Asked 1280×720, 97 frames; LTX-2 renders (and Segmind returns) 1280×736, 97 frames.
  check(/Est\. ≈ \$0\.239 · 1280×736 · 97 frames @ 24 fps = 4\.0 s/.test(t0), "badge shows the size Segmind returns (1280×736, 97 frames) and its estimate", t0);
  await shoot("node_badge.png", ids.seg);
  // Change width and num_frames the way the widgets do (value + callback) and via a plain
  // value change (picked up on the next draw).
  await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    const w = n.widgets.find((x) => x.name === "width");
    w.value = 640;
    w.callback?.(640);
    n.widgets.find((x) => x.name === "num_frames").value = 181;
    app.canvas.setDirty(true, true);
  }, ids.seg);
  await sleep(500);
  const t1 = await badgeText(ids.seg);
  check(/Est\. ≈ \$0\.228 · 640×736 · 185 frames @ 24 fps = 7\.7 s/.test(t1), "badge follows width and num_frames edits (181 frames -> 185)", t1);
  await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    const fps = n.widgets.find((x) => x.name === "fps");
    fps.value = 12;
    fps.callback?.(12);
  }, ids.seg);
  await sleep(300);
  const t2 = await badgeText(ids.seg);
  check(/\$0\.228 · 640×736 · 185 frames @ 12 fps = 15\.4 s/.test(t2), "fps changes the clip length, not the price", t2);
  // back to the screenshot values
  await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    for (const [k, v] of [["width", 1280], ["num_frames", 97], ["fps", 24]]) {
      const w = n.widgets.find((x) => x.name === k);
      w.value = v;
      w.callback?.(v);
    }
  }, ids.seg);
}

async function stepSeed(ids) {
  console.log("# seed control default");
  const r = await page.evaluate(async ({ id, NODE }) => {
    const ctl = (n) => n.widgets.find((w) => w.name === "control_after_generate")?.value;
    const fresh = ctl(app.graph.getNodeById(id));
    // A saved workflow with "randomize" must keep it.
    const other = LiteGraph.createNode(NODE);
    app.graph.add(other);
    other.widgets.find((w) => w.name === "control_after_generate").value = "randomize";
    const wf = app.graph.serialize();
    app.graph.remove(other);
    const saved = JSON.parse(JSON.stringify(wf));
    await app.loadGraphData(saved);
    const nodes = app.graph._nodes.filter((n) => n.type === NODE).map((n) => [n.id, ctl(n)]);
    return { fresh, otherId: other.id, nodes, wf: saved };
  }, { id: ids.seg, NODE });
  check(r.fresh === "fixed", "a newly added node's seed control is 'fixed'", r.fresh);
  const loaded = Object.fromEntries(r.nodes);
  check(loaded[r.otherId] === "randomize", "a loaded workflow's saved 'randomize' is kept", JSON.stringify(r.nodes));
  check(loaded[ids.seg] === "fixed", "a loaded workflow's saved 'fixed' is kept");
  // leave just the three-node graph
  await page.evaluate((id) => app.graph.remove(app.graph.getNodeById(id)), r.otherId);
}

// Queue the graph and wait until that prompt has finished (success, error or cancel).
async function queueAndWait(timeoutMs = 240000) {
  await page.evaluate(async () => {
    const { api } = await import("/scripts/api.js");
    window.__segmindDone = new Promise((resolve) => {
      const done = (e) => {
        for (const t of ["execution_success", "execution_error", "execution_interrupted"]) api.removeEventListener(t, done);
        resolve(e.type);
      };
      for (const t of ["execution_success", "execution_error", "execution_interrupted"]) api.addEventListener(t, done);
    });
    await app.queuePrompt(0, 1);
  });
  return page.evaluate((ms) => Promise.race([window.__segmindDone, new Promise((r) => setTimeout(() => r("timeout"), ms))]), timeoutMs);
}

async function waitIdle(timeoutMs = 240000) {
  await page.waitForFunction(async () => {
    const q = await (await fetch("api/queue")).json();
    return q.queue_running.length === 0 && q.queue_pending.length === 0;
  }, null, { timeout: timeoutMs, polling: 500 });
}

async function stepRun(ids) {
  console.log("# run");
  // A seed not used before, so the stand-in really runs (an identical request would reuse
  // the cached clip for free, which the badge then says).
  await page.evaluate((id) => {
    const w = app.graph.getNodeById(id).widgets.find((x) => x.name === "seed");
    w.value = Math.floor(Math.random() * 1e9);
  }, ids.seg);
  // Every progress text the server sends (some pass too quickly to be seen by polling).
  await page.evaluate(async () => {
    const { api } = await import("/scripts/api.js");
    window.__segmindTexts = [];
    if (!window.__segmindTextHook) {
      window.__segmindTextHook = true;
      api.addEventListener("progress_text", ({ detail }) => window.__segmindTexts.push(String(detail?.text ?? "")));
    }
  });
  await page.evaluate(() => app.queuePrompt(0, 1));
  // Waiting: the progress-text channel (the front end's $$node-text-preview widget) and the bar.
  const seen = new Set();
  const norm = (t) => t.replace(/\d+:\d\d/g, "m:ss").replace(/\d+(\.\d+)?\/\d+/g, "n/N").replace(/[\d.]+ MB/g, "x MB").replace(/request [\w-]+/, "request …");
  let shot = false;
  let barMax = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < 240000) {
    const s = await page.evaluate((id) => {
      const n = app.graph.getNodeById(id);
      const text = n.widgets?.find((w) => w.name === "$$node-text-preview")?.value ?? "";
      return { text: String(text), progress: n.progress ?? null, running: app.graph.getNodeById(id)?.__segmindBadge?.runStart != null };
    }, ids.seg);
    if (s.text) seen.add(norm(s.text));
    if (typeof s.progress === "number") barMax = Math.max(barMax, s.progress);
    if (!shot && /Generating|processing/i.test(s.text) && /elapsed/.test(s.text)) {
      await sleep(1200);
      await shoot("status_waiting.png", ids.seg);
      shot = true;
    }
    const q = await page.evaluate(async () => (await (await fetch("api/queue")).json()));
    if (q.queue_running.length === 0 && q.queue_pending.length === 0 && Date.now() - t0 > 2000) break;
    await sleep(250);
  }
  for (const t of await page.evaluate(() => window.__segmindTexts)) seen.add(norm(t));
  console.log("  status texts seen:", [...seen].join(" | "));
  check(shot, "waiting status text shown on the node (screenshot status_waiting.png)");
  check([...seen].some((t) => /Queued|Generating|Processing/i.test(t)), "status names the Segmind phase");
  check([...seen].some((t) => /left|ETA|finishing/i.test(t)), "status shows an ETA");
  check([...seen].some((t) => /Download/i.test(t)), "status shows downloading");
  check([...seen].some((t) => /Decod/i.test(t)), "status shows decoding");
  check(barMax > 0, "the node's progress bar moved", `max node.progress=${barMax}`);
  await sleep(1500);
  const r = await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    return { props: n.properties?.segmind_ltx2_last ?? null, badge: n.__segmindBadge?.root?.innerText ?? "",
      widgets: n.widgets.map((w) => w.name) };
  }, ids.seg);
  console.log("  badge after run:", JSON.stringify(r.badge));
  check(/Charged \$0\.455 · credits left/.test(r.badge), "after the run the badge shows the reported cost and credits left", r.badge);
  check(!!r.props?.file?.filename, "clip file info kept in node.properties", JSON.stringify(r.props?.file));
  await checkVideo(ids.seg, "after the run");
  await shoot("node_preview.png", ids.seg);
}

async function checkVideo(nodeId, when) {
  const sel = await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    const v = n.videoContainer?.querySelector("video") ?? n.widgets?.find((w) => w.name === "segmind_ltx2_video")?.element?.querySelector("video");
    if (!v) return null;
    v.setAttribute("data-segmind-check", "1");
    return { src: v.src, muted: v.muted, controls: v.controls, which: n.videoContainer ? "front end's video-preview" : "extension's saved-clip video" };
  }, nodeId);
  if (!check(!!sel, `${when}: a <video> is on the node`)) return;
  console.log(`  ${when}: ${sel.which}, src ${sel.src}`);
  check(!sel.muted && sel.controls, `${when}: the video has controls and is not muted`);
  const r = await page.evaluate(async () => {
    const v = document.querySelector("video[data-segmind-check]");
    v.removeAttribute("data-segmind-check");
    if (v.readyState < 1) await new Promise((res) => { v.addEventListener("loadedmetadata", res, { once: true }); setTimeout(res, 8000); });
    const canH264 = v.canPlayType('video/mp4; codecs="avc1.42E01E"');
    const canAAC = v.canPlayType('audio/mp4; codecs="mp4a.40.2"');
    let playError = null;
    try {
      v.currentTime = 0;
      await v.play();
    } catch (e) {
      playError = String(e);
    }
    await new Promise((res) => setTimeout(res, 2500));
    const out = {
      canH264, canAAC, playError, currentTime: v.currentTime, paused: v.paused, muted: v.muted, volume: v.volume,
      videoWidth: v.videoWidth, videoHeight: v.videoHeight, duration: v.duration, error: v.error?.message ?? v.error?.code ?? null,
      audioBytes: v.webkitAudioDecodedByteCount, videoBytes: v.webkitVideoDecodedByteCount,
      audioTracks: v.audioTracks ? v.audioTracks.length : null,
    };
    v.pause();
    v.currentTime = 0.5;
    return out;
  });
  console.log(`  ${when}: media`, JSON.stringify(r));
  check(r.currentTime > 0.5 && !r.error, `${when}: the clip plays (currentTime advances)`, `t=${r.currentTime}`);
  check(r.audioBytes > 0, `${when}: audio is decoded while playing (webkitAudioDecodedByteCount > 0)`, `${r.audioBytes} bytes`);
  await sleep(400);
}

async function stepReload(ids) {
  console.log("# reload");
  // The front end keeps the open workflow across a page reload; also load it explicitly.
  const wf = await page.evaluate(() => app.graph.serialize());
  await page.reload();
  await openComfy();
  await page.evaluate(async (wf) => { await app.loadGraphData(wf); }, wf);
  await sleep(1500);
  const r = await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    return { widgets: n.widgets.map((w) => w.name), badge: n.__segmindBadge?.root?.innerText ?? "" };
  }, ids.seg);
  check(r.widgets.includes("segmind_ltx2_video") || r.widgets.includes("video-preview"), "after reloading the page and the workflow the clip is back on the node", r.widgets.slice(-3).join(","));
  check(/Charged \$0\.455|Reused cached clip/.test(r.badge), "after the reload the badge still shows the run's result", r.badge);
  await checkVideo(ids.seg, "after reload");
  await shoot("node_preview_reloaded.png", ids.seg);
}

async function stepError(ids) {
  console.log("# error");
  await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    const w = n.widgets.find((x) => x.name === "prompt");
    w.value = "";
    w.callback?.("");
  }, ids.seg);
  await queueAndWait();
  await sleep(1000);
  const r = await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    const dialog = document.querySelector(".p-dialog")?.innerText ?? "";
    return { badge: n.__segmindBadge?.root?.innerText ?? "", dialog, hasErrors: !!n.has_errors };
  }, ids.seg);
  console.log("  badge:", JSON.stringify(r.badge));
  console.log("  dialog:", JSON.stringify(r.dialog.slice(0, 400)));
  check(/Failed: .*prompt/i.test(r.badge), "the node shows the user-facing error message", r.badge);
  check(!/Traceback|File "/.test(r.badge), "no stack trace on the node");
  const dialogBox = await page.evaluate(() => {
    const d = document.querySelector(".p-dialog");
    if (!d) return null;
    const r = d.getBoundingClientRect();
    return { x: Math.max(0, r.left - 10), y: Math.max(0, r.top - 10), width: r.width + 20, height: r.height + 20 };
  });
  if (dialogBox) await page.screenshot({ path: path.join(OUT_DIR, "error_dialog.png"), clip: dialogBox });
  await page.keyboard.press("Escape");
  await sleep(500);
  await shoot("node_error.png", ids.seg);
}

// An error from Segmind itself: a wrong key saved through the route (refused with 401 by
// Segmind or the stand-in); the good key is put back afterwards. Skipped when
// SEGMIND_API_KEY is set on the server (it wins over a saved key).
async function stepKeyError(ids) {
  console.log("# error from Segmind (wrong key)");
  const post = (key) => page.evaluate(async (key) => (await fetch("api/segmind_ltx2/key", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key }) })).json(), key);
  const st = await post(otherKey("wrong"));
  if (st.source !== "file") {
    await post(KEY);
    console.log("  skipped: the server uses SEGMIND_API_KEY");
    return;
  }
  try {
    await newRequest(ids.seg);
    await queueAndWait();
    await sleep(1000);
    const r = await page.evaluate((id) => ({
      badge: app.graph.getNodeById(id).__segmindBadge?.root?.innerText ?? "",
      dialog: document.querySelector(".p-dialog")?.innerText ?? "",
    }), ids.seg);
    console.log("  badge:", JSON.stringify(r.badge));
    console.log("  dialog:", JSON.stringify(r.dialog.slice(0, 400)));
    check(/Failed: .*key/i.test(r.badge), "Segmind's refusal shows on the node as a user message", r.badge);
    check(!/Traceback|File "|HTTPError|requests\./.test(r.badge), "no stack trace or exception class on the node");
    await page.keyboard.press("Escape");
    await sleep(500);
    await shoot("node_error_segmind.png", ids.seg);
  } finally {
    await post(KEY);
  }
}

// A request the result cache has not seen (a new seed), so the run really goes to the stand-in.
async function newRequest(id) {
  await page.evaluate((nodeId) => {
    const n = app.graph.getNodeById(nodeId);
    const set = (k, v) => { const w = n.widgets.find((x) => x.name === k); w.value = v; w.callback?.(v); };
    set("prompt", "The camera slowly pushes in while soft rain starts to fall; gentle piano music.");
    set("seed", Math.floor(Math.random() * 1e9));
  }, id);
}

// Cancel while Segmind works: the node says "Cancelled"; queueing the same graph again
// collects the journalled job instead of submitting (and paying for) a new one.
async function stepCancel(ids) {
  console.log("# cancel, then queue again");
  await newRequest(ids.seg);
  await page.evaluate(() => app.queuePrompt(0, 1));
  await page.waitForFunction((id) => /Processing|Queued/.test(String(app.graph.getNodeById(id).widgets.find((w) => w.name === "$$node-text-preview")?.value ?? "")), ids.seg, { timeout: 60000 });
  await page.evaluate(() => fetch("api/interrupt", { method: "POST" }));
  await waitIdle();
  await sleep(800);
  const cancelled = await badgeText(ids.seg);
  check(/Cancelled/.test(cancelled), "after Cancel the node says Cancelled", cancelled);
  const how = await queueAndWait();
  await sleep(800);
  const again = await badgeText(ids.seg);
  console.log(`  queued again (${how}); badge:`, JSON.stringify(again));
  check(/Charged|Reused/.test(again) && !/Failed|Cancelled/.test(again), "queueing again after Cancel finishes the clip", again);
}

// ------------------------------------------------------------------------- issue 14

const TAB_ID = "segmind-ltx2-jobs";
const COLLECT = "SegmindLTX2CollectJob";
const OPTIONS_NODE = "SegmindLTX2Options";

// Segmind's (the stand-in's) view of the money: the credits left. Optional: FAKE_URL.
async function fakeCredits() {
  if (!FAKE_URL) return null;
  try {
    const r = await fetch(`${FAKE_URL}/v1/get-user-credits`, { headers: { "x-api-key": KEY } });
    const d = await r.json();
    return typeof d.credits === "number" ? d.credits : null;
  } catch {
    return null;
  }
}

const jobsNow = () => page.evaluate(async () => (await fetch("api/segmind/jobs")).json());

async function setWidgets(nodeId, values) {
  await page.evaluate(({ nodeId, values }) => {
    const n = app.graph.getNodeById(nodeId);
    for (const [k, v] of Object.entries(values)) {
      const w = n.widgets.find((x) => x.name === k);
      if (!w) throw new Error(`no widget ${k}`);
      w.value = v;
      w.callback?.(v);
    }
    app.canvas.setDirty(true, true);
  }, { nodeId, values });
}

// A workflow saved by the pack before the lean face (20 values, non-default API mode and
// decode option): the values must land on the right widgets and the user be told.
async function stepMigrate() {
  console.log("# an old workflow loads onto the lean face");
  const old = ["The camera slowly pushes in; soft rain.", "blurry, low quality", 1280, 720, 97, 24, 7, "fixed", 5.5, false,
    "segmind", "sync (v1)", 900, 0, "png", 60, 0, 1, 0, 0];
  const wf = {
    last_node_id: 2, last_link_id: 1, version: 0.4, links: [[1, 1, 0, 2, 0, "IMAGE"]], groups: [], config: {}, extra: {},
    nodes: [
      { id: 1, type: "LoadImage", pos: [0, 0], size: [315, 314], flags: {}, order: 0, mode: 0,
        outputs: [{ name: "IMAGE", type: "IMAGE", links: [1] }, { name: "MASK", type: "MASK", links: null }],
        properties: {}, widgets_values: [INPUT_IMAGE, "image"] },
      { id: 2, type: NODE, pos: [360, 0], size: [440, 700], flags: {}, order: 1, mode: 0,
        inputs: [{ name: "image", type: "IMAGE", link: 1 }], outputs: [], properties: {}, widgets_values: old },
    ],
  };
  const r = await page.evaluate(async ({ wf, NODE }) => {
    await app.loadGraphData(wf);
    await new Promise((res) => setTimeout(res, 800));
    const n = app.graph._nodes.find((x) => x.type === NODE);
    const values = Object.fromEntries(n.widgets.filter((w) => w.serialize !== false).map((w) => [w.name, w.value]));
    const prompt = (await app.graphToPrompt()).output[String(n.id)].inputs;
    const toasts = [...document.querySelectorAll(".p-toast-message")].map((e) => e.innerText);
    return { values, prompt, toasts };
  }, { wf, NODE });
  console.log("  values:", JSON.stringify(r.values));
  check(r.values.width === 1280 && r.values.height === 720 && r.values.num_frames === 97 && r.values.guidance_scale === 5.5 &&
    r.values.backend === "segmind" && r.values.batch_mode === "one picture" && r.values.batch_index === 0 &&
    r.values.fit === "crop to width x height", "an old workflow's values land on the lean face's widgets", JSON.stringify(r.values));
  check(!("api_mode" in r.prompt) && r.prompt.backend === "segmind" && r.prompt.batch_mode === "one picture",
    "what it queues has the lean inputs only", JSON.stringify(r.prompt));
  check(r.toasts.some((t) => /api_mode = "sync \(v1\)"/.test(t) && /frame_load_cap = 60/.test(t)),
    "the dropped non-default options are reported once", r.toasts.join(" | ").slice(0, 300));
  await page.evaluate(() => document.querySelectorAll(".p-toast-close-button").forEach((b) => b.click()));
}

// The lean node face: the API's fields, backend, force_rerun, batch and fit; the rare
// options on a linked Options node. With fit = match the picture's aspect the badge shows
// the size computed from the LoadImage picture (576×1024 portrait into a 1280×720 box).
async function stepLean(ids) {
  console.log("# the lean node face");
  const r = await page.evaluate(({ id, OPTIONS_NODE }) => {
    const seg = app.graph.getNodeById(id);
    const opt = LiteGraph.createNode(OPTIONS_NODE);
    if (!opt) return { error: `no ${OPTIONS_NODE} node` };
    opt.pos = [seg.pos[0] - 340, seg.pos[1] + 380];
    app.graph.add(opt);
    opt.connect(0, seg, seg.inputs.findIndex((i) => i.name === "options"));
    return { optId: opt.id, widgets: seg.widgets.filter((w) => w.serialize !== false).map((w) => w.name) };
  }, { id: ids.seg, OPTIONS_NODE });
  if (!check(!r.error, "a Segmind LTX-2 Options node links into the node", r.error)) return;
  ids.opt = r.optId;
  check(JSON.stringify(r.widgets) === JSON.stringify(["prompt", "negative_prompt", "width", "height", "num_frames", "fps", "seed",
    "control_after_generate", "guidance_scale", "force_rerun", "backend", "batch_mode", "batch_index", "fit"]),
  "the node's face: the API's fields, force_rerun, backend, batch and fit", r.widgets.join(","));
  await setWidgets(ids.seg, { fit: "match the picture's aspect" });
  await page.waitForFunction((id) => (app.graph.getNodeById(id).__segmindBadge?.root?.innerText ?? "").includes("picture's aspect"), ids.seg, { timeout: 15000 }).catch(() => {});
  const pic = await page.evaluate((id) => {
    const img = app.graph.getNodeById(id).imgs?.[0];
    return img ? { width: img.naturalWidth, height: img.naturalHeight } : null;
  }, ids.load);
  const text = await badgeText(ids.seg);
  const want = formatEstimate(estimateForNode({ width: 1280, height: 720, num_frames: 97, fps: 24, fit: "match the picture's aspect", batch_mode: "one picture" }, pic));
  check(!!pic && text.includes(want), `the badge shows the size from the ${pic?.width}×${pic?.height} picture: "${want}"`, text);
  await page.evaluate(({ a, b }) => {
    const ds = app.canvas.ds;
    const n = app.graph.getNodeById(a);
    ds.scale = 1;
    ds.offset[0] = -n.pos[0] + 330;
    ds.offset[1] = -n.pos[1] + 120;
    app.canvas.setDirty(true, true);
  }, { a: ids.seg, b: ids.opt });
  await sleep(600);
  const seg = await nodeRect(ids.seg);
  const opt = await nodeRect(ids.opt);
  const x = Math.min(seg.x, opt.x), y = Math.min(seg.y, opt.y);
  const file = path.join(OUT_DIR, "node_lean.png");
  await page.screenshot({ path: file, clip: { x, y, width: Math.max(seg.x + seg.width, opt.x + opt.width) - x, height: Math.max(seg.y + seg.height, opt.y + opt.height) - y } });
  console.log(`  screenshot ${path.relative(process.cwd(), file)}`);
  await setWidgets(ids.seg, { fit: "crop to width x height" });
}

async function openTab() {
  const open = await page.evaluate((TAB_ID) => app.extensionManager.sidebarTab?.activeSidebarTabId === TAB_ID, TAB_ID);
  if (!open) await page.evaluate((TAB_ID) => app.extensionManager.command.execute(`Workspace.ToggleSidebarTab.${TAB_ID}`), TAB_ID);
  await page.locator("[data-testid=segmind-jobs-panel]").waitFor({ timeout: 10000 });
  // A wider sidebar for the screenshot: drag the splitter's gutter (as a user would).
  const g = await page.evaluate(() => {
    const panel = document.querySelector("[data-testid=segmind-jobs-panel]").getBoundingClientRect();
    const gutter = [...document.querySelectorAll(".p-splitter-gutter")].map((e) => e.getBoundingClientRect())
      .find((r) => Math.abs(r.left - panel.right) < 30);
    return gutter && panel.width < 330 ? { x: gutter.left + gutter.width / 2, y: gutter.top + gutter.height / 2 } : null;
  });
  if (g) {
    await page.mouse.move(g.x, g.y);
    await page.mouse.down();
    await page.mouse.move(g.x + 120, g.y, { steps: 8 });
    await page.mouse.up();
    await sleep(400);
  }
}

async function closeTab() {
  const open = await page.evaluate((TAB_ID) => app.extensionManager.sidebarTab?.activeSidebarTabId === TAB_ID, TAB_ID);
  if (open) await page.evaluate((TAB_ID) => app.extensionManager.command.execute(`Workspace.ToggleSidebarTab.${TAB_ID}`), TAB_ID);
}

// Two paid runs, then the tab: both jobs with cost and thumbnail, today's spend their sum.
async function stepJobs(ids) {
  console.log("# jobs tab after two runs");
  const before = await jobsNow();
  const requestIds = [];
  await openTab();
  for (let i = 0; i < 2; i++) {
    await newRequest(ids.seg);
    const finished = queueAndWait();
    if (i === 1) {
      // The tab while the second job runs: its state, elapsed time, ETA and estimate.
      const seen = await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=segmind-live-status]")]
        .some((e) => /Queued|Processing|Generating|Uploading|Submitting/.test(e.textContent)), null, { timeout: 30000 }).then(() => true, () => false);
      check(seen, "the tab shows the running job live");
      if (seen) await shootTab("jobs_tab_live.png");
    }
    const how = await finished;
    const rid = await page.evaluate((id) => app.graph.getNodeById(id).properties?.segmind_ltx2_last?.result?.request_id ?? null, ids.seg);
    console.log(`  run ${i + 1}: ${how}, request ${rid}`);
    requestIds.push(rid);
  }
  ids.requestIds = requestIds;
  check(requestIds.every(Boolean) && requestIds[0] !== requestIds[1], "two runs, two request ids", requestIds.join(", "));
  await openTab();
  await page.waitForFunction((ids) => {
    const rows = [...document.querySelectorAll("[data-testid=segmind-past-row]")];
    const shown = rows.filter((r) => ids.some((id) => r.querySelector("[data-testid=segmind-past-id]")?.title === id));
    return shown.length === ids.length && shown.every((r) => {
      const img = r.querySelector("img");
      return img?.complete && img.naturalWidth > 0;
    });
  }, requestIds, { timeout: 20000 }).catch(() => {});
  const tab = await page.evaluate((ids) => {
    const rows = [...document.querySelectorAll("[data-testid=segmind-past-row]")].map((r) => ({
      id: r.querySelector("[data-testid=segmind-past-id]")?.title,
      meta: r.querySelector("[data-testid=segmind-past-meta]")?.innerText,
      thumb: (() => { const i = r.querySelector("img"); return i?.complete ? i.naturalWidth : 0; })(),
    }));
    return { rows: rows.filter((r) => ids.includes(r.id)), spend: document.querySelector("[data-testid=segmind-spend-today]")?.innerText,
      credits: document.querySelector("[data-testid=segmind-credits]")?.innerText };
  }, requestIds);
  console.log("  rows:", JSON.stringify(tab.rows), "|", tab.spend, "|", tab.credits);
  check(tab.rows.length === 2, "the tab lists both jobs");
  check(tab.rows.every((r) => /\$0\.455/.test(r.meta ?? "")), "each with its cost", tab.rows.map((r) => r.meta).join(" | "));
  check(tab.rows.every((r) => r.thumb > 0), "each with a thumbnail", tab.rows.map((r) => r.thumb).join(","));
  const after = await jobsNow();
  const todays = after.past.filter((j) => new Date(j.time * 1000).toDateString() === new Date().toDateString());
  const sum = todays.reduce((a, j) => a + (j.cost ?? j.estimate ?? 0), 0);
  check(Math.abs(after.spend.today - sum) < 1e-9 && Math.abs(after.spend.today - before.spend.today - 0.91) < 1e-9,
    `today's spend is the sum of today's jobs ($${sum.toFixed(3)}), the two runs added $0.910`, JSON.stringify(after.spend));
  check(tab.spend === formatUSD(after.spend.today), "the tab shows today's spend", tab.spend);
  await sleep(500);
  await shootTab("jobs_tab.png");
}

async function shootTab(name) {
  const box = await page.evaluate(() => {
    const el = document.querySelector("[data-testid=segmind-jobs-panel]");
    const r = el.getBoundingClientRect();
    const last = el.lastElementChild.getBoundingClientRect();
    return { x: r.left, y: r.top, width: r.width, height: Math.min(r.height, last.bottom - r.top + 12) };
  });
  await page.screenshot({ path: path.join(OUT_DIR, name), clip: box });
  console.log(`  screenshot ${name}`);
}

// A batch of two pictures with batch_mode "every picture": two clips, one preview each.
async function stepBatch() {
  console.log("# a batch: one preview per clip");
  await closeTab();
  const ids = await page.evaluate(async ({ NODE, INPUT_IMAGE }) => {
    app.graph.clear();
    const add = (type, pos) => { const n = LiteGraph.createNode(type); n.pos = pos; app.graph.add(n); return n; };
    const load = add("LoadImage", [0, 0]);
    const img = load.widgets.find((w) => w.name === "image");
    img.value = INPUT_IMAGE;
    img.callback?.(INPUT_IMAGE);
    const flip = add("ImageFlip", [0, 420]);
    flip.widgets[0].value = "y-axis: horizontally";
    const batch = add("ImageBatch", [260, 420]);
    const seg = add(NODE, [520, 0]);
    load.connect(0, flip, 0);
    load.connect(0, batch, 0);
    flip.connect(0, batch, 1);
    batch.connect(0, seg, seg.inputs.findIndex((i) => i.name === "image"));
    const set = (name, v) => { const w = seg.widgets.find((x) => x.name === name); w.value = v; w.callback?.(v); };
    set("prompt", "The camera slowly pushes in while soft rain starts to fall; gentle piano music.");
    set("width", 576);
    set("height", 1024);
    set("num_frames", 49);
    set("batch_mode", "every picture");
    set("seed", Math.floor(Math.random() * 1e9));
    seg.setSize([440, seg.computeSize()[1]]);
    return { seg: seg.id };
  }, { NODE, INPUT_IMAGE });
  await sleep(800);
  const badge0 = await badgeText(ids.seg);
  check(/per picture/.test(badge0), "with every picture the estimate is per picture", badge0);
  const how = await queueAndWait();
  await page.waitForFunction((id) => {
    const n = app.graph.getNodeById(id);
    const grid = n.videoContainer?.querySelector("[data-testid=segmind-ltx2-clips]")
      ?? n.widgets?.find((w) => w.name === "segmind_ltx2_video")?.element?.querySelector("[data-testid=segmind-ltx2-clips]");
    return grid && [...grid.querySelectorAll("video")].every((v) => v.readyState >= 2);
  }, ids.seg, { timeout: 20000 }).catch(() => {});
  const r = await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    const grid = n.videoContainer?.querySelector("[data-testid=segmind-ltx2-clips]");
    return { files: n.properties?.segmind_ltx2_last?.files?.length ?? 0, videos: grid ? [...grid.querySelectorAll("video")].map((v) => v.src) : [],
      badge: n.__segmindBadge?.root?.innerText ?? "" };
  }, ids.seg);
  console.log("  outcome:", how, "|", JSON.stringify(r));
  check(how === "execution_success" && r.files === 2, "two clips from two pictures", `${how}, ${r.files} files`);
  check(r.videos.length === 2 && new Set(r.videos).size === 2, "the node shows one preview per clip", r.videos.join(" "));
  check(/2 clips/.test(r.badge), "the result line sums the batch", r.badge);
  await shoot("node_batch.png", ids.seg);
}

// A per-run spend limit below the next run's estimate, set in Settings > Segmind: the run
// is refused before any upload, and nothing is billed.
async function stepLimit(ids) {
  console.log("# spend limit refuses a run");
  await closeTab();
  await page.evaluate(() => app.extensionManager.command.execute("Comfy.ShowSettingsDialog"));
  await page.locator(".settings-container, [role=dialog]").first().waitFor({ timeout: 15000 });
  await page.getByText("Segmind", { exact: true }).first().click();
  const field = page.locator("[data-testid=segmind-limit-per_run]");
  await field.waitFor({ timeout: 10000 });
  await field.fill("0.10");
  await field.press("Enter");
  await page.waitForFunction(() => /Saved/.test(document.querySelector("[data-testid=segmind-limit-per_run-status]")?.textContent ?? ""), null, { timeout: 10000 });
  const saved = await page.evaluate(async () => (await fetch("api/segmind/limits")).json());
  check(saved.per_run === 0.1, "the limit typed in Settings is saved on the server", JSON.stringify(saved));
  await page.screenshot({ path: path.join(OUT_DIR, "settings_limits.png"), clip: await page.evaluate(() => {
    const entry = document.querySelector("[data-testid=segmind-limit-per_run-entry]");
    const d = entry.closest("[role=dialog], .p-dialog") ?? entry;
    const r = d.getBoundingClientRect();
    const bottom = Math.min(r.bottom, entry.getBoundingClientRect().bottom + 60);
    return { x: r.left, y: r.top, width: r.width, height: bottom - r.top };
  }) });
  console.log("  screenshot settings_limits.png");
  await page.keyboard.press("Escape");
  await sleep(500);

  const credits0 = await fakeCredits();
  const jobs0 = await jobsNow();
  await newRequest(ids.seg);
  const how = await queueAndWait();
  await sleep(1000);
  const r = await page.evaluate((id) => ({
    badge: app.graph.getNodeById(id).__segmindBadge?.root?.innerText ?? "",
    dialog: document.querySelector(".p-dialog")?.innerText ?? "",
  }), ids.seg);
  console.log("  outcome:", how, "| badge:", JSON.stringify(r.badge));
  check(how === "execution_error", "the run is refused", how);
  check(/limit/i.test(r.badge) && /0\.10|0\.1\b/.test(r.badge) && /Settings/.test(r.badge), "the message names the limit, its value and where to change it", r.badge);
  const jobs1 = await jobsNow();
  check(jobs1.past.length === jobs0.past.length && jobs1.spend.today === jobs0.spend.today, "nothing recorded or spent", JSON.stringify(jobs1.spend));
  const credits1 = await fakeCredits();
  if (credits0 !== null) check(credits1 === credits0, "Segmind's credits unchanged (nothing billed)", `${credits0} -> ${credits1}`);
  const dialogBox = await page.evaluate(() => {
    const d = document.querySelector(".p-dialog");
    if (!d) return null;
    const r = d.getBoundingClientRect();
    return { x: Math.max(0, r.left - 10), y: Math.max(0, r.top - 10), width: r.width + 20, height: r.height + 20 };
  });
  if (dialogBox) {
    await page.screenshot({ path: path.join(OUT_DIR, "spend_limit_dialog.png"), clip: dialogBox });
    console.log("  screenshot spend_limit_dialog.png");
  }
  await page.keyboard.press("Escape");
  await sleep(500);
  await shoot("spend_limit_refusal.png", ids.seg);
  await page.evaluate(async () => fetch("api/segmind/limits", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ per_day: null, per_run: null }) }));
}

// From the tab: the first run's clip into the graph (Load Video) and a Collect node set to
// its request id; queued alone, the Collect node gives the clip without billing.
async function stepCollect(ids) {
  console.log("# collect the first job");
  const first = ids.requestIds?.[0];
  if (!check(!!first, "a recorded request id to collect")) return;
  await openTab();
  const row = page.locator("[data-testid=segmind-past-row]", { has: page.locator(`[data-testid=segmind-past-id][title="${first}"]`) });
  await row.waitFor({ timeout: 10000 });
  const before = await page.evaluate(() => app.graph._nodes.map((n) => n.id));
  await row.locator("[data-testid=segmind-to-graph]").click();
  await row.locator("[data-testid=segmind-collect]").click();
  await sleep(800);
  const added = await page.evaluate((before) => app.graph._nodes.filter((n) => !before.includes(n.id))
    .map((n) => ({ id: n.id, type: n.type, values: n.widgets?.filter((w) => w.serialize !== false).map((w) => w.value) })), before);
  console.log("  added:", JSON.stringify(added));
  const load = added.find((n) => n.type === "LoadVideo");
  const collect = added.find((n) => n.type === COLLECT);
  check(!!load && /^[^/]+\/.+\.mp4 \[output\]$/.test(load.values[0]), "Add to graph: a Load Video node on the clip in the output folder", JSON.stringify(load));
  check(!!collect && collect.values[0] === first, "Collect: a Collect Job node set to the request id", JSON.stringify(collect));
  if (!collect) return;
  await closeTab();
  // Queue only the Collect node (and the Load Video): mute the rest.
  const credits0 = await fakeCredits();
  const jobs0 = await jobsNow();
  await page.evaluate(({ keep }) => {
    for (const n of app.graph._nodes) if (!keep.includes(n.id)) { n.__mode = n.mode; n.mode = 2; }
  }, { keep: [collect.id, load?.id].filter(Boolean) });
  const how = await queueAndWait();
  await page.evaluate(() => { for (const n of app.graph._nodes) if ("__mode" in n) { n.mode = n.__mode; delete n.__mode; } });
  await sleep(1500);
  const r = await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    return { badge: n.__segmindBadge?.root?.innerText ?? "", last: n.properties?.segmind_ltx2_last ?? null };
  }, collect.id);
  console.log("  outcome:", how, "| badge:", JSON.stringify(r.badge));
  check(how === "execution_success", "the Collect node runs", how);
  check(r.last?.result?.request_id === first && !!r.last?.file?.filename, "it gives the first job's clip", JSON.stringify(r.last));
  const jobs1 = await jobsNow();
  check(jobs1.spend.today === jobs0.spend.today, "no spend recorded", `${jobs0.spend.today} -> ${jobs1.spend.today}`);
  const credits1 = await fakeCredits();
  if (credits0 !== null) check(credits1 === credits0, "Segmind's credits unchanged (not billed)", `${credits0} -> ${credits1}`);
  await checkVideo(collect.id, "collected");
  await shoot("collect_node.png", collect.id);
  if (load) await shoot("load_video_node.png", load.id);
}

async function stepHero() {
  console.log("# hero: the node at its defaults after a run on a real-looking picture");
  await page.setViewportSize({ width: 1500, height: 1800 });
  const ids = await buildGraph({ prompt: "the camera slowly pushes in, birds chirp", width: 720, height: 1280, num_frames: 181 });
  await page.evaluate((id) => {
    const n = app.graph.getNodeById(id);
    const w = n.widgets.find((x) => x.name === "seed");
    w.value = 42;  // the default; a fresh --user-directory has nothing cached for it
    w.callback?.(42);
  }, ids.seg);
  await sleep(800);
  const before = await badgeText(ids.seg);
  check(/Est\. ≈ \$0\.455 · 736×1280 · 185 frames @ 24 fps/.test(before), "at the defaults the estimate is $0.455 for 736×1280, 185 frames", before);
  const result = await queueAndWait();
  check(result === "execution_success", "the run succeeded", result);
  await sleep(1500);
  const after = await badgeText(ids.seg);
  check(/Charged \$0\.455/.test(after), "the badge shows the charge, equal to the estimate", after);
  // Show a frame a few seconds in (the zoom under way), paused, with the controls drawn.
  await page.evaluate(async (id) => {
    const n = app.graph.getNodeById(id);
    const v = n.videoContainer?.querySelector("video") ?? n.widgets?.find((w) => w.name === "segmind_ltx2_video")?.element?.querySelector("video");
    if (!v) return;
    if (v.readyState < 2) await new Promise((res) => { v.addEventListener("loadeddata", res, { once: true }); setTimeout(res, 8000); });
    v.pause();
    v.currentTime = 3;
    await new Promise((res) => { v.addEventListener("seeked", res, { once: true }); setTimeout(res, 3000); });
  }, ids.seg);
  await sleep(800);
  await shoot("node_after_run.png", ids.seg);
  await page.setViewportSize({ width: 1500, height: 1500 });  // the other steps' size
}


// The LTX-2 family (issue 20), STEPS=family (not in the default list): each family example
// workflow (FAMILY_EXAMPLES, default pro_i2v,fast_t2v,retake,extend,join_clips; those present
// in examples_workflows/) is loaded as a user would load a shared workflow, run against the
// stand-in, and each Segmind node in it shot after the run (family_<example>_<node>.png).
async function stepFamily() {
  console.log("# family");
  const names = (process.env.FAMILY_EXAMPLES ?? "pro_i2v,fast_t2v,retake,extend,join_clips").split(",").map((s) => s.trim());
  for (const name of names) {
    const file = path.join(here, "..", "examples_workflows", `${name}.json`);
    if (!fs.existsSync(file)) { console.log(`  (no ${name}.json)`); continue; }
    const graph = JSON.parse(fs.readFileSync(file, "utf8"));
    // A seed or prompt not used before is not needed: a re-run of a cached clip is free, and
    // the badge then says so; the first run of a fresh user folder pays.
    await page.evaluate(async (g) => { await app.loadGraphData(g); }, graph);
    await sleep(1500);
    const result = await queueAndWait(300000);
    check(result === "execution_success", `example ${name} ran in the browser`, result);
    await sleep(2000);
    const segs = await page.evaluate(() => app.graph._nodes.filter((n) => /^SegmindLTX2/.test(n.type)).map((n) => ({ id: n.id, type: n.type })));
    for (const n of segs) {
      const kind = n.type.replace(/^SegmindLTX2/, "").toLowerCase();
      const twins = segs.filter((m) => m.type === n.type).length > 1;
      await shoot(`family_${name}_${kind}${twins ? "_" + n.id : ""}.png`, n.id);
    }
  }
}


// The team setting (issue 22), STEPS=team (not in the default list; needs TEAM_REDIS_URL, a
// running Redis without a password): Settings > Segmind > Team with an address whose Redis is
// down (amber, the password never shown), then the real one; a run; the jobs tab naming the
// machine that paid. Shots: settings_team_down.png, settings_team.png, jobs_tab_team.png.
async function teamEntryShot(name) {
  await page.screenshot({ path: path.join(OUT_DIR, name), clip: await page.evaluate(() => {
    const entry = document.querySelector("[data-testid=segmind-ltx2-team]");
    const r = entry.getBoundingClientRect();
    return { x: Math.max(0, r.left - 12), y: Math.max(0, r.top - 40), width: r.width + 24, height: r.height + 52 };
  }) });
  console.log(`  screenshot ${name}`);
}

async function saveTeam(url, when) {
  const entry = page.locator("[data-testid=segmind-ltx2-team]");
  await entry.locator("input").fill(url);
  await entry.locator("select").selectOption(when);
  await entry.getByRole("button", { name: "Save", exact: true }).click();
  await page.waitForFunction(() => !/Saving|Checking/.test(document.querySelector("[data-testid=segmind-ltx2-team-status]")?.textContent ?? "Saving"), null, { timeout: 15000 });
  return page.locator("[data-testid=segmind-ltx2-team-status]").textContent();
}

async function stepTeam() {
  console.log("# team setting");
  const real = process.env.TEAM_REDIS_URL;
  if (!check(!!real, "TEAM_REDIS_URL is set (a running Redis for the team step)")) return;
  await page.evaluate(() => app.extensionManager.command.execute("Comfy.ShowSettingsDialog"));
  await page.locator(".settings-container, [role=dialog]").first().waitFor({ timeout: 15000 });
  await page.getByText("Segmind", { exact: true }).first().click();
  await page.locator("[data-testid=segmind-ltx2-team]").scrollIntoViewIfNeeded();
  const secret = "pw" + Math.random().toString(36).slice(2, 10);
  const down = await saveTeam(`redis://:${secret}@127.0.0.1:9/0`, "refuse");
  console.log("  with a Redis that is down:", down);
  check(/cannot be reached|down/i.test(down) && !down.includes(secret), "a Redis that is down is said plainly, the password not shown", down);
  const leaks = await page.evaluate(async (secret) => {
    const answer = await (await fetch("api/segmind_ltx2/team")).text();
    const settings = await (await fetch("api/settings")).text();
    return ["answer", "settings", "dom", "storage"].filter((k, i) => [answer, settings, document.documentElement.outerHTML,
      JSON.stringify({ ...localStorage })][i].includes(secret));
  }, secret);
  check(leaks.length === 0, "the Redis password is not in the route's answer, the settings, the DOM or localStorage", leaks.join(", "));
  await teamEntryShot("settings_team_down.png");
  const up = await saveTeam(real, "refuse");
  console.log("  with the team's Redis:", up);
  check(/Redis/.test(up) && !/cannot be reached/.test(up), "the team's Redis is in use", up);
  await teamEntryShot("settings_team.png");
  await page.keyboard.press("Escape");
  await sleep(500);
  const file = path.join(here, "..", "examples_workflows", "fast_t2v.json");
  const graph = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const n of graph.nodes) if (n.type === "SegmindLTX2FastTextToVideo") n.widgets_values[0] += ` (team ${Date.now()})`;
  await page.evaluate(async (g) => { await app.loadGraphData(g); }, graph);
  await sleep(1000);
  check((await queueAndWait(300000)) === "execution_success", "a run with the team's Redis in use succeeded");
  await openTab();
  await page.waitForFunction(() => /on \S/.test(document.querySelector("[data-testid=segmind-past-row]")?.innerText ?? ""), null, { timeout: 20000 }).catch(() => {});
  const row = await page.evaluate(() => document.querySelector("[data-testid=segmind-past-row]")?.innerText ?? "");
  console.log("  newest past row:", JSON.stringify(row));
  check(/on \S/.test(row), "the jobs tab names the machine that paid", row);
  await shootTab("jobs_tab_team.png");
}

// ------------------------------------------------------------------------- main

try {
  await openComfy();
  const fe = await page.evaluate(() => window.__COMFYUI_FRONTEND_VERSION__ ?? null);
  console.log("front end", fe);
  const apiNode = await page.evaluate(async (NODE) => (await (await fetch(`api/object_info/${NODE}`)).json())[NODE]?.api_node, NODE);
  check(!apiNode, "the node is not flagged API_NODE");
  if (STEPS.has("hero")) await stepHero();
  if (STEPS.has("family")) await stepFamily();
  if (STEPS.has("team")) await stepTeam();
  if (STEPS.has("key")) await stepKey();
  if (STEPS.has("migrate")) await stepMigrate();
  const ids = await buildGraph();
  await sleep(800);
  if (STEPS.has("lean")) await stepLean(ids);
  if (STEPS.has("badge")) await stepBadge(ids);
  if (STEPS.has("seed")) await stepSeed(ids);
  if (STEPS.has("run")) await stepRun(ids);
  if (STEPS.has("reload")) await stepReload(ids);
  if (STEPS.has("error")) await stepError(ids);
  if (STEPS.has("cancel")) await stepCancel(ids);
  if (STEPS.has("keyerror")) await stepKeyError(ids);
  if (STEPS.has("jobs")) await stepJobs(ids);
  if (STEPS.has("batch")) {
    await stepBatch();
    Object.assign(ids, await buildGraph());
    await sleep(800);
  }
  if (STEPS.has("limit")) await stepLimit(ids);
  if (STEPS.has("collect")) await stepCollect(ids);
  const ours = pageErrors.filter((e) => /segmind/i.test(e));
  check(ours.length === 0, "no page errors from the extension", ours.join(" | "));
  if (pageErrors.length) console.log("  other page errors (front end):", pageErrors.join(" | "));
} catch (err) {
  console.log("FAIL aborted:", err?.stack ?? err);
  failures++;
  await page.screenshot({ path: path.join(os.tmpdir(), "segmind_screenshot_failure.png") }).catch(() => {});
} finally {
  await browser.close();
}
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exit(failures ? 1 : 0);
