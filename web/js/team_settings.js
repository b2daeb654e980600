// The "Segmind > Team" settings entry: the team's Redis address and what to do when it is
// down, kept by the pack's route in user/segmind/team.json (core/shared_store.py), never in
// the browser's settings. Pure module: no DOM, no ComfyUI imports; tested by `node --test`.
//
// The page never holds the address's password: the route answers the address as
// shown_url ("redis://***@host:6379/0"). An empty address field on Save keeps the saved
// address (redis_url: null) and changes only the choice; "Use no Redis" sends "".

import { callRoute } from "./route_call.js";

export const TEAM_SETTING_ID = "SegmindLTX2.Team";
export const TEAM_PLACEHOLDER = "";
export const TEAM_ROUTE = "/segmind_ltx2/team";
export const REDIS_ENV = "SEGMIND_LTX2_REDIS_URL";
export const WHEN_DOWN_CHOICES = [
  ["refuse", "refuse to pay until it answers"],
  ["local", "use this machine's own records (with a warning)"],
];
const SCHEMES = ["redis:", "rediss:", "unix:"];

/**
 * The address as typed: "" keeps the saved one; otherwise redis://, rediss:// or unix://.
 * @returns {{ok:true, url:string|null} | {ok:false, error:string}}  url null: keep the saved one
 */
export function validateRedisInput(text) {
  const url = String(text ?? "").trim();
  if (!url) return { ok: true, url: null };
  if (/[\s\u0000-\u001f\u007f]/.test(url)) return { ok: false, error: "The Redis address contains spaces or control characters." };
  const scheme = url.slice(0, url.indexOf(":") + 1).toLowerCase();
  if (!SCHEMES.includes(scheme) || !url.includes("//")) {
    return { ok: false, error: "Give the team's Redis as redis://host:6379/0 (rediss:// for TLS), or leave it empty." };
  }
  return { ok: true, url };
}

/** Only the documented fields, so nothing else the server sends is kept. */
export function pickTeamStatus(data) {
  if (!data || typeof data !== "object") return null;
  const str = (v) => (typeof v === "string" ? v : "");
  return {
    store: str(data.store) || null,
    text: str(data.text),
    redis_url: str(data.redis_url),
    when_redis_down: data.when_redis_down === "local" ? "local" : "refuse",
    from_env: Boolean(data.from_env),
    team_file: str(data.team_file) || null,
    error: str(data.error) || null,
  };
}

/**
 * User-facing text for the route's answer.
 * @returns {{level:"ok"|"warn"|"error", text:string}}
 */
export function describeTeamStatus(status) {
  const s = pickTeamStatus(status);
  if (!s) return { level: "warn", text: "Team setting unknown." };
  if (s.error) return { level: "error", text: s.error };
  let text = s.text || "Shared through this machine's user folder.";
  if (s.from_env) text += ` ${REDIS_ENV} is set for this ComfyUI and wins over the address saved here.`;
  const level = s.store === "redis" || s.store === "files" ? "ok" : s.store === "files (redis down)" ? "warn" : "error";
  return { level, text };
}

/**
 * Controller for the settings entry. `request(method, body)` calls TEAM_ROUTE and resolves to
 * {status, data}; `onChange(state)` gets a copy after every change. The state never holds a password.
 * state = {phase: "idle"|"loading"|"saving"|"ready"|"error", status, message, level}
 */
export function createTeamController({ request, onChange = () => {} }) {
  let state = { phase: "idle", status: null, message: "", level: "warn" };

  function emit(patch) {
    state = { ...state, ...patch };
    onChange({ ...state });
    return { ...state };
  }

  async function call(method, body, busyPhase) {
    emit({ phase: busyPhase });
    const answer = await callRoute(request, method, body);
    if (!answer.ok) return emit({ phase: "error", level: "error", message: answer.message });
    const data = answer.data;
    const d = describeTeamStatus(data);
    return emit({ phase: "ready", status: pickTeamStatus(data), message: d.text, level: d.level });
  }

  return {
    getState: () => ({ ...state }),
    refresh: () => call("GET", undefined, "loading"),
    /** Save the typed address ("" keeps the saved one) and the choice; the caller clears its field. */
    async save(text, whenDown) {
      const v = validateRedisInput(text);
      if (!v.ok) return emit({ phase: "error", level: "error", message: v.error });
      const choice = whenDown === "local" ? "local" : "refuse";
      return call("POST", { redis_url: v.url, when_redis_down: choice }, "saving");
    },
    /** No team Redis any more: this machine's files only. */
    clear: (whenDown) => call("POST", { redis_url: "", when_redis_down: whenDown === "local" ? "local" : "refuse" }, "saving"),
  };
}
