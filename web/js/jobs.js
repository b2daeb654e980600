// Data for the "Segmind" sidebar tab and the spend-limit settings: what the routes answer,
// checked and turned into display text. Pure module: no DOM, no ComfyUI imports; loaded by
// the browser and by `node --test`.
//
// Routes (routes.py, same origin, never the key):
//   GET  /segmind/jobs            {live: [...], past: [...], spend: {today, session, credits, limits}}
//   GET  /segmind/limits          {per_day, per_run}  (USD or null = no limit)
//   POST /segmind/limits          the same shape; answers the saved limits
//   POST /segmind/credits/refresh {credits}
import { formatUSD, formatCredits, formatClock, formatEta, PHASE_LABELS } from "./format.js";
import { callRoute } from "./route_call.js";

export const JOBS_ROUTE = "/segmind/jobs";
export const LIMITS_ROUTE = "/segmind/limits";
export const CREDITS_ROUTE = "/segmind/credits/refresh";
export const LIMIT_FIELDS = Object.freeze(["per_day", "per_run"]);
export const LIMIT_LABELS = Object.freeze({ per_day: "per day", per_run: "per queued run" });
export const FINISHED_STATES = Object.freeze(["done", "failed", "cancelled"]);

const finite = (x) => typeof x === "number" && Number.isFinite(x);
const num = (x) => (finite(x) ? x : null);
const str = (x) => (typeof x === "string" && x ? x : null);
const SEP = " · ";
// After an HTTP 404 from LIMITS_ROUTE: an older pack without it.
const LIMITS_ROUTE_MISSING = " (the pack's spend-limit route is missing: update the pack and restart ComfyUI)";

function clipRef(c) {
  if (!c || typeof c !== "object" || !str(c.filename)) return null;
  // Only a plain file name and subfolder: the /view URL and the LoadVideo value are built from them.
  const filename = String(c.filename);
  const subfolder = typeof c.subfolder === "string" ? c.subfolder : "";
  if (/[\\/]/.test(filename) || filename.startsWith(".") || subfolder.split(/[\\/]/).includes("..")) return null;
  const type = c.type === "temp" || c.type === "input" ? c.type : "output";
  return { filename, subfolder, type };
}

/** Only a same-origin path (a thumbnail the pack serves), never another site's URL. */
export function sameOriginPath(u) {
  if (typeof u !== "string" || !u.startsWith("/") || u.startsWith("//")) return null;
  return u;
}

function liveJob(j) {
  if (!j || typeof j !== "object") return null;
  return {
    key: String(j.key ?? `${j.node_id ?? ""}:${j.started ?? ""}`),
    node_id: j.node_id == null ? null : String(j.node_id),
    prompt_id: str(j.prompt_id),
    label: typeof j.label === "string" ? j.label : "",
    state: typeof j.state === "string" ? j.state : "processing",
    started: num(j.started),
    elapsed: num(j.elapsed),
    eta: num(j.eta),
    estimate_usd: num(j.estimate_usd),
    cost: num(j.cost), // what Segmind reported, once the job is paid
    request_id: str(j.request_id),
    width: num(j.width),
    height: num(j.height),
    num_frames: num(j.num_frames),
    machine: str(j.machine), // another machine of the team (one Redis), else null
  };
}

function pastJob(j) {
  if (!j || typeof j !== "object") return null;
  // The size LTX-2 rendered (the clip's), when the server gives it; else the size asked.
  const grid = j.grid && typeof j.grid === "object" && num(j.grid.width) && num(j.grid.height) ? j.grid : j;
  return {
    request_id: str(j.request_id),
    prompt: typeof j.prompt === "string" ? j.prompt : "",
    width: num(grid.width),
    height: num(grid.height),
    num_frames: num(grid.num_frames) ?? num(j.num_frames),
    cost: num(j.cost),
    estimate: num(j.estimate),
    time: num(j.time),
    thumb: sameOriginPath(j.thumb),
    clip: clipRef(j.clip),
    // A cached clip no longer in the output folder, served by the pack (/segmind/clip?...).
    clip_url: sameOriginPath(j.clip_url),
    collectable: Boolean(j.collectable),
    // With a team (one Redis for many machines): the machine that paid the job.
    machine: str(j.machine),
  };
}

/** The GET /segmind/jobs answer, reduced to the documented fields with their types. */
export function normalizeJobs(data) {
  const d = data && typeof data === "object" ? data : {};
  const spend = d.spend && typeof d.spend === "object" ? d.spend : {};
  const limits = spend.limits && typeof spend.limits === "object" ? spend.limits : {};
  return {
    live: (Array.isArray(d.live) ? d.live : []).map(liveJob).filter(Boolean),
    past: (Array.isArray(d.past) ? d.past : []).map(pastJob).filter(Boolean),
    spend: {
      today: num(spend.today),
      session: num(spend.session),
      credits: num(spend.credits),
      limits: { per_day: num(limits.per_day), per_run: num(limits.per_run) },
      limits_error: str(spend.limits_error),
    },
    team: teamLine(d.team),
  };
}

/** Where the records (request budget, ...) are shared: {store, text}; text "" when unknown. */
export function teamLine(team) {
  const t = team && typeof team === "object" ? team : {};
  const store = typeof t.store === "string" ? t.store : null;
  const text = typeof t.text === "string" ? t.text : "";
  return { store, text, warn: store !== null && store !== "files" && store !== "redis" };
}

/** "736×1280 · 185 frames"; "" when unknown. */
export function formatSize(width, height, frames) {
  const parts = [];
  if (finite(width) && finite(height)) parts.push(`${width}×${height}`);
  if (finite(frames)) parts.push(`${frames} frames`);
  return parts.join(SEP);
}

/** "14:03" for today, "3 Mar 14:03" for another day (local time); "" when unknown. */
export function formatWhen(epochS, nowMs = Date.now()) {
  if (!finite(epochS)) return "";
  const d = new Date(epochS * 1000);
  const now = new Date(nowMs);
  const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  if (sameDay) return hm;
  const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getMonth()];
  const year = d.getFullYear() === now.getFullYear() ? "" : ` ${d.getFullYear()}`;
  return `${d.getDate()} ${month}${year} ${hm}`;
}

/** A request id shortened for a table cell: "3f2a9c…81d0". */
export function shortId(id) {
  const s = String(id ?? "");
  return s.length > 14 ? `${s.slice(0, 6)}…${s.slice(-4)}` : s;
}

/**
 * One live job as display text. `sinceFetchS` (seconds since the snapshot was taken) lets
 * the clock tick between refreshes while the job is still running.
 */
export function liveRow(job, sinceFetchS = 0) {
  const finished = FINISHED_STATES.includes(job.state);
  const extra = finished || !finite(sinceFetchS) ? 0 : Math.max(0, sinceFetchS);
  const elapsed = finite(job.elapsed) ? job.elapsed + extra : null;
  const eta = finite(job.eta) ? Math.max(0, job.eta - extra) : null;
  const parts = [PHASE_LABELS[job.state] ?? job.state];
  if (finite(elapsed)) parts.push(`${formatClock(elapsed)} elapsed`);
  if (!finished && finite(eta)) parts.push(formatEta(eta));
  return {
    key: job.key,
    title: job.label || "(no prompt)",
    state: job.state,
    finished,
    failed: job.state === "failed",
    status: parts.join(SEP),
    cost: finite(job.cost) ? formatUSD(job.cost) : finite(job.estimate_usd) ? formatUSD(job.estimate_usd, { approx: true }) : "",
    size: formatSize(job.width, job.height, job.num_frames),
    request_id: job.request_id,
    machine: job.machine ? `on ${job.machine}` : "",
  };
}

/** One past job as display text. */
export function pastRow(job, nowMs = Date.now()) {
  let cost;
  if (finite(job.cost)) cost = formatUSD(job.cost);
  else if (finite(job.estimate)) cost = `${formatUSD(job.estimate, { approx: true })} (estimate)`;
  else cost = "cost unknown";
  return {
    key: job.request_id ?? `${job.time ?? ""}:${job.prompt.slice(0, 20)}`,
    prompt: job.prompt || "(no prompt)",
    size: formatSize(job.width, job.height, job.num_frames),
    cost,
    when: formatWhen(job.time, nowMs),
    request_id: job.request_id,
    shortId: job.request_id ? shortId(job.request_id) : "",
    thumb: job.thumb,
    clip: job.clip,
    clip_url: job.clip_url ?? null,
    playable: Boolean(job.clip || job.clip_url),
    collectable: job.collectable && Boolean(job.request_id),
    machine: job.machine ? `on ${job.machine}` : "",
  };
}

/** A limit in dollars as typed: "$2.00", "$0.50", "$0.125". */
export function formatLimitUSD(v) {
  if (!finite(v)) return "—";
  return `$${v.toFixed(Math.abs(v * 100 - Math.round(v * 100)) < 1e-9 ? 2 : 3)}`;
}

/** "Limits: $1.00 a day · no limit per queued run". */
export function formatLimits(limits) {
  const l = limits ?? {};
  const day = finite(l.per_day) ? `${formatLimitUSD(l.per_day)} a day` : "no daily limit";
  const run = finite(l.per_run) ? `${formatLimitUSD(l.per_run)} per queued run` : "no limit per queued run";
  return `Limits: ${day}${SEP}${run}`;
}

/** The spend lines of the tab. */
export function spendLines(spend) {
  const s = spend ?? {};
  return {
    spend: `Today ${finite(s.today) ? formatUSD(s.today) : "—"}${SEP}this session ${finite(s.session) ? formatUSD(s.session) : "—"}`,
    today: finite(s.today) ? formatUSD(s.today) : "—",
    session: finite(s.session) ? formatUSD(s.session) : "—",
    creditsLeft: formatCredits(s.credits),
    credits: `Credits left ${formatCredits(s.credits)}`,
    limits: s.limits_error ? `Limits: ${s.limits_error}` : formatLimits(s.limits),
  };
}

/** The route path that plays a past job's clip: ComfyUI's /view, else the pack's cache route. */
export function playPath(row) {
  if (row?.clip) return `/view?${viewQuery(row.clip)}`;
  return row?.clip_url ?? null;
}

/** Query string of ComfyUI's /view for a clip. */
export function viewQuery(clip) {
  return new URLSearchParams({ filename: clip.filename, subfolder: clip.subfolder ?? "", type: clip.type ?? "output" }).toString();
}

/**
 * The value for core LoadVideo's "file" widget that points at a clip in the output folder:
 * "segmind/clip.mp4 [output]" (ComfyUI's annotated path; LoadVideo validates the file
 * exists, not that it is in the input folder's list).
 */
export function loadVideoValue(clip) {
  const c = clipRef(clip);
  if (!c) return null;
  const path = c.subfolder ? `${c.subfolder.replace(/\\/g, "/").replace(/\/+$/, "")}/${c.filename}` : c.filename;
  return `${path} [${c.type}]`;
}

// ---------------------------------------------------------------------- spend limits

/**
 * A limit typed by the user: "" (or "none") means no limit; otherwise dollars, "$" and
 * spaces allowed, a comma taken as the decimal mark.
 * @returns {{ok:true, value:number|null} | {ok:false, error:string}}
 */
export function parseLimitInput(text) {
  const raw = String(text ?? "").trim().replace(/^\$\s*/, "").replace(/\s*(usd|\$)$/i, "").trim();
  if (raw === "" || /^(none|no limit|off)$/i.test(raw)) return { ok: true, value: null };
  const normal = raw.replace(",", ".");
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(normal)) {
    return { ok: false, error: `"${String(text).trim()}" is not an amount: type dollars like 2.50, or leave it empty for no limit.` };
  }
  const value = Number(normal);
  if (!(value > 0)) return { ok: false, error: "A limit must be above $0: leave it empty for no limit." };
  if (value > 100000) return { ok: false, error: "That limit is above $100,000: type a smaller amount, or leave it empty for no limit." };
  return { ok: true, value: Math.round(value * 1000) / 1000 };
}

/** The text a limit field shows: "2.50", "0.125", or "" for no limit. */
export function limitToText(value) {
  return finite(value) ? formatLimitUSD(value).slice(1) : "";
}

function pickLimits(data) {
  const d = data && typeof data === "object" ? data : {};
  return { per_day: num(d.per_day), per_run: num(d.per_run) };
}

/**
 * Controller shared by the two limit fields of the settings dialog. `request(method, body)`
 * calls LIMITS_ROUTE and resolves to {status, data}. A save posts both limits (the other
 * one as last loaded), so the two fields never overwrite each other with stale values.
 * state = {phase: "idle"|"loading"|"saving"|"ready"|"error", limits, message, level, field}
 */
export function createLimitsController({ request, onChange = () => {} }) {
  let state = { phase: "idle", limits: { per_day: null, per_run: null }, message: "", level: "ok", field: null };
  let loaded = false; // the other limit is only known after a successful GET or POST
  const listeners = new Set([onChange]);
  const emit = (patch) => {
    state = { ...state, ...patch };
    for (const fn of listeners) fn({ ...state });
    return { ...state };
  };
  async function call(method, body, phase, field = null) {
    emit({ phase, field });
    const answer = await callRoute(request, method, body, LIMITS_ROUTE_MISSING);
    if (!answer.ok) return emit({ phase: "error", level: "error", message: answer.message });
    const data = answer.data;
    const limits = pickLimits(data);
    loaded = true;
    const message = method === "GET" ? "" : `Saved. ${formatLimits(limits)}.`;
    return emit({ phase: "ready", limits, level: "ok", message });
  }
  return {
    getState: () => ({ ...state }),
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    load: () => call("GET", undefined, "loading"),
    /** Validate `text` for `field` ("per_day" | "per_run") and save both limits. */
    async save(field, text) {
      if (!LIMIT_FIELDS.includes(field)) throw new Error(`unknown limit ${field}`);
      const v = parseLimitInput(text);
      if (!v.ok) return emit({ phase: "error", level: "error", message: v.error, field });
      if (!loaded) {
        const r = await call("GET", undefined, "loading");
        if (!loaded) return r;
      }
      if (state.limits[field] === v.value) {
        // Nothing to save (Enter then blur fires twice): keep the last message unless it was an error.
        return state.phase === "error" ? emit({ phase: "ready", level: "ok", message: "", field }) : { ...state };
      }
      return call("POST", { ...state.limits, [field]: v.value }, "saving", field);
    },
  };
}
