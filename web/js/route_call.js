// One call of a pack route for a settings controller (key, team, spend limits): the request
// made, a network failure or a non-2xx answer turned into the message the entry shows.
// Pure module: no DOM, no ComfyUI imports; tested by `node --test`.

/** The hint after an HTTP 404 when the pack's routes are not there at all. */
export const PACK_NOT_LOADED_HINT = " (is the Segmind LTX-2 node pack loaded? restart ComfyUI)";

/**
 * `request(method, body)` resolves to {status, data}. Resolves to {ok: true, data} for a 2xx
 * answer, else {ok: false, message}: the route's own `error` text (or "HTTP <status>"), with
 * `notFoundHint` after it on a 404, or why the server could not be reached.
 * @returns {Promise<{ok:true, data:object|null} | {ok:false, message:string}>}
 */
export async function callRoute(request, method, body, notFoundHint = PACK_NOT_LOADED_HINT) {
  let res;
  try {
    res = await request(method, body);
  } catch (err) {
    return { ok: false, message: `Could not reach the ComfyUI server: ${err?.message ?? err}` };
  }
  const data = res?.data ?? null;
  if (!res || res.status < 200 || res.status >= 300) {
    const why = data && typeof data.error === "string" ? data.error : `HTTP ${res?.status ?? "?"}`;
    return { ok: false, message: why + (res?.status === 404 ? notFoundHint : "") };
  }
  return { ok: true, data };
}
