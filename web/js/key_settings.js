// The "Segmind API key" settings entry: validation, status text and a small controller.
// Pure module: no DOM, no ComfyUI imports; loaded by the browser and by `node --test`.
//
// How the key stays out of the browser's saved settings: the setting is registered with
// a custom renderer (a function as its `type`), which draws its own password field and
// buttons and never calls the setting's setter. The setting's stored value therefore
// stays SETTING_PLACEHOLDER (""); a key typed into the field goes straight to the pack's
// route (POST KEY_ROUTE), the field is emptied, and only the route's status
// ({set, source, last4, key_file}) is kept. sanitizeStoredValue() wipes any other stored
// value (for example one written by hand into comfy.settings.json).

import { callRoute } from "./route_call.js";

export const SETTING_ID = "SegmindLTX2.ApiKey";
export const SETTING_PLACEHOLDER = "";
export const KEY_ROUTE = "/segmind_ltx2/key";
export const ENV_VAR = "SEGMIND_API_KEY";

/**
 * Same rules as core/credentials.validate_key_text on the server.
 * @returns {{ok:true, key:string} | {ok:false, error:string}}
 */
export function validateKeyInput(text) {
  const key = String(text ?? "").trim();
  if (!key) return { ok: false, error: "The API key is empty: paste your Segmind key (it starts with SG_)." };
  if (/[\s\u0000-\u001f\u007f-\uffff]/.test(key)) {
    return { ok: false, error: "The API key contains spaces, control or non-ASCII characters: paste only the key itself." };
  }
  if (key.length < 8 || key.length > 256) {
    return { ok: false, error: "That does not look like a Segmind API key (expected 8 to 256 characters, starting with SG_)." };
  }
  return { ok: true, key };
}

/** A non-blocking remark for keys that pass validation but look unusual. */
export function keyWarning(key) {
  return /^SG_/.test(key ?? "") ? "" : "Segmind keys usually start with SG_; saving it anyway.";
}

/** The stored value the setting must have: anything else (possibly a key) is replaced. */
export function sanitizeStoredValue(value) {
  return value === SETTING_PLACEHOLDER || value === undefined || value === null ? null : SETTING_PLACEHOLDER;
}

/**
 * User-facing text for the route's status JSON.
 * @returns {{level:"ok"|"warn"|"error", text:string}}
 */
export function describeKeyStatus(status) {
  if (!status || typeof status !== "object") return { level: "warn", text: "Key status unknown." };
  const ends = status.last4 ? ` (ends in …${status.last4})` : "";
  const file = status.key_file ? ` ${status.key_file}` : " the key file";
  if (typeof status.error === "string" && status.error) return { level: "error", text: status.error };
  if (!status.set) {
    return {
      level: "warn",
      text: `No key set. Paste your Segmind API key and press Save (it is stored in${file}), ` +
        `or set ${ENV_VAR} before starting ComfyUI.`,
    };
  }
  if (status.source === "env") {
    let text = `Using the key from the ${ENV_VAR} environment variable${ends}; it wins over a saved key.`;
    if (status.env_overrides_file) text += ` A saved key in${file} is ignored while ${ENV_VAR} is set.`;
    else text += ` To use a key saved here, unset ${ENV_VAR} and restart ComfyUI.`;
    return { level: "ok", text };
  }
  return { level: "ok", text: `Key saved${ends} in${file}.` };
}

/**
 * Controller for the settings entry. `request(method, body)` performs the HTTP call to
 * KEY_ROUTE and resolves to {status:number, data:object|null}. `onChange(state)` gets a
 * fresh copy of the state after every transition. The state never holds the key.
 *
 * state = {phase: "idle"|"loading"|"saving"|"removing"|"ready"|"error",
 *          status: object|null, message: string, level: "ok"|"warn"|"error"}
 */
export function createKeyController({ request, onChange = () => {} }) {
  let state = { phase: "idle", status: null, message: "", level: "warn" };

  function emit(patch) {
    state = { ...state, ...patch };
    onChange({ ...state });
    return { ...state };
  }

  function fromStatus(status) {
    const d = describeKeyStatus(status);
    return { status: pickStatus(status), message: d.text, level: d.level };
  }

  async function call(method, body, busyPhase) {
    emit({ phase: busyPhase });
    const answer = await callRoute(request, method, body);
    if (!answer.ok) return emit({ phase: "error", level: "error", message: answer.message });
    return emit({ phase: "ready", ...fromStatus(answer.data) });
  }

  return {
    getState: () => ({ ...state }),
    refresh: () => call("GET", undefined, "loading"),
    /** Validate and send `text`; the caller must clear its input field right away. */
    async save(text) {
      const v = validateKeyInput(text);
      if (!v.ok) return emit({ phase: "error", level: "error", message: v.error });
      const warning = keyWarning(v.key);
      const result = await call("POST", { key: v.key }, "saving");
      if (result.phase === "ready" && warning) return emit({ message: `${result.message} ${warning}` });
      return result;
    },
    remove: () => call("DELETE", undefined, "removing"),
  };
}

/** Only the documented status fields, so nothing else the server sends is kept. */
export function pickStatus(data) {
  if (!data || typeof data !== "object") return null;
  return {
    set: Boolean(data.set),
    source: data.source === "env" || data.source === "file" ? data.source : null,
    last4: typeof data.last4 === "string" ? data.last4.slice(-4) : null,
    key_file: typeof data.key_file === "string" ? data.key_file : null,
    env_overrides_file: Boolean(data.env_overrides_file),
  };
}
