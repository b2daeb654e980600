// The "Segmind" sidebar tab (live jobs, past jobs, spend) and the spend-limit fields of the
// settings dialog, as plain DOM. No ComfyUI imports: segmind_ltx2.js passes in what the tab
// needs (HTTP calls, toasts, adding nodes), so the tests drive it with fakes.
import {
  JOBS_ROUTE, CREDITS_ROUTE, LIMIT_LABELS, normalizeJobs, liveRow, pastRow, spendLines, playPath, limitToText,
} from "./jobs.js";
import { formatCredits } from "./format.js";

export const REFRESH_MS = 3000;
const MAX_FINISHED_SHOWN = 3;

function h(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "style") Object.assign(e.style, v);
    else if (k === "className") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "title") {
      e.title = v;
      e.setAttribute("title", v);
    } else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function button(text, { icon, title, testid, onClick, small = true } = {}) {
  const b = h("button", {
    type: "button",
    className: `p-button p-component p-button-text${small ? " p-button-sm" : ""} segmind-panel-btn`,
    title,
    "data-testid": testid,
    style: { padding: "2px 6px", fontSize: "12px", minWidth: "0" },
  });
  if (icon) b.append(h("i", { className: icon, style: { marginRight: text ? "4px" : "0", fontSize: "12px" } }));
  if (text) b.append(h("span", { text }));
  if (onClick) b.addEventListener("click", (ev) => onClick(ev));
  return b;
}

const MUTED = { opacity: "0.7", fontSize: "12px" };

/**
 * The jobs tab. deps:
 *   request(method, route, body?) -> Promise<{status, data}>
 *   apiURL(path) -> URL string for the page (api base prefixed)
 *   toast({severity, summary, detail})
 *   copyText(text) -> Promise
 *   putClipInGraph(job) -> Promise|string message   (job: pastRow of a past job)
 *   collectJob(job)     -> Promise|string message
 *   locateNode(nodeId)  -> boolean
 *   nodeLabel(nodeId)   -> string | null
 *   openSettings()      -> opens ComfyUI's settings dialog (optional)
 *   now()               -> ms (default Date.now)
 */
export function createJobsPanel(deps) {
  const now = deps.now ?? (() => Date.now());
  const intervalMs = deps.intervalMs ?? REFRESH_MS;
  let root = null;
  let parts = null;
  let data = normalizeJobs(null);
  let fetchedAt = 0;
  let timers = [];
  let inflight = null;
  let soonTimer = null;
  const pastRows = new Map(); // key -> {root, update(row)}
  const playing = new Set();

  function build() {
    const today = h("span", { "data-testid": "segmind-spend-today", style: { fontWeight: "600", textAlign: "right" } });
    const session = h("span", { "data-testid": "segmind-spend-session", style: { fontWeight: "600", textAlign: "right" } });
    const credits = h("span", { "data-testid": "segmind-credits", style: { fontWeight: "600", textAlign: "right" } });
    const limits = h("div", { "data-testid": "segmind-limits", style: { ...MUTED, whiteSpace: "normal", flex: "1" } });
    // Where the request budget and the records are shared: this machine's files or the team's Redis.
    const team = h("div", { "data-testid": "segmind-team", style: { ...MUTED, whiteSpace: "normal", marginTop: "4px" } });
    const error = h("div", { "data-testid": "segmind-panel-error", style: { color: "var(--p-red-400, #e66)", display: "none", whiteSpace: "normal", fontSize: "12px", marginTop: "6px" } });
    const liveTitle = h("div", { className: "segmind-panel-h", style: { fontWeight: "600", margin: "10px 0 4px" } });
    const live = h("div", { "data-testid": "segmind-live" });
    const pastTitle = h("div", { className: "segmind-panel-h", style: { fontWeight: "600", margin: "12px 0 4px" } });
    const past = h("div", { "data-testid": "segmind-past" });
    const refreshCredits = button("", {
      icon: "pi pi-refresh",
      title: "Ask Segmind for the credits left (kept for a minute; counts against the request budget)",
      testid: "segmind-credits-refresh",
      onClick: () => void refreshCreditsNow(refreshCredits),
    });
    const settingsLink = deps.openSettings
      ? button("", { icon: "pi pi-cog", title: "Change the spend limits: ComfyUI Settings > Segmind > Spend limits", testid: "segmind-open-settings", onClick: () => deps.openSettings() })
      : null;
    const header = h("div", { style: { display: "flex", alignItems: "center", justifyContent: "space-between", marginBottom: "6px" } }, [
      h("div", { text: "Segmind LTX-2", style: { fontWeight: "700", fontSize: "14px" } }),
      button("", { icon: "pi pi-sync", title: "Refresh now (the tab also refreshes every few seconds while open)", testid: "segmind-refresh", onClick: () => void refresh() }),
    ]);
    const cell = (text) => h("span", { text, style: { opacity: "0.8" } });
    const box = h("div", { "data-testid": "segmind-spend", style: { padding: "6px 8px", borderRadius: "6px", background: "var(--comfy-input-bg, #222)" } }, [
      h("div", { style: { display: "grid", gridTemplateColumns: "1fr auto auto", alignItems: "center", columnGap: "6px", rowGap: "1px" } }, [
        cell("Spent today"), today, h("span"),
        cell("This session"), session, h("span"),
        cell("Credits left"), credits, refreshCredits,
      ]),
      h("div", { style: { display: "flex", alignItems: "center", gap: "4px", marginTop: "4px" } }, [limits, settingsLink]),
      team,
    ]);
    const el = h("div", {
      className: "segmind-jobs-panel",
      "data-testid": "segmind-jobs-panel",
      style: { padding: "8px", height: "100%", overflowY: "auto", boxSizing: "border-box", font: "13px/1.35 system-ui, sans-serif", color: "var(--fg-color, #ddd)" },
    }, [header, box, error, liveTitle, live, pastTitle, past]);
    return { el, today, session, credits, limits, team, error, liveTitle, live, pastTitle, past };
  }

  function showError(text) {
    if (!parts) return;
    parts.error.textContent = text || "";
    parts.error.style.display = text ? "block" : "none";
  }

  function renderSpend() {
    const s = spendLines(data.spend);
    parts.today.textContent = s.today;
    parts.session.textContent = s.session;
    parts.credits.textContent = s.creditsLeft;
    parts.limits.textContent = s.limits;
    parts.team.textContent = data.team?.text ?? "";
    parts.team.style.display = data.team?.text ? "block" : "none";
    parts.team.style.color = data.team?.warn ? "var(--p-amber-400, #db4)" : "";
  }

  function renderLive() {
    const since = fetchedAt ? (now() - fetchedAt) / 1000 : 0;
    parts.liveTitle.textContent = `Live jobs (${data.live.filter((j) => !["done", "failed", "cancelled"].includes(j.state)).length} running)`;
    if (!data.live.length) {
      parts.live.replaceChildren(h("div", { text: "No job running.", style: MUTED }));
      return;
    }
    // Running jobs first, newest first; finished ones (the server keeps them ~10 minutes)
    // after them, only the last few.
    const isDone = (j) => ["done", "failed", "cancelled"].includes(j.state);
    const newest = (a, b) => (b.started ?? 0) - (a.started ?? 0);
    const running = data.live.filter((j) => !isDone(j)).sort(newest);
    const finished = data.live.filter(isDone).sort(newest);
    const shown = finished.slice(0, MAX_FINISHED_SHOWN);
    const rows = [...running, ...shown].map((job) => liveRowElement(job, since));
    if (finished.length > shown.length) {
      rows.push(h("div", { text: `${finished.length - shown.length} more finished recently (see Past jobs)`, style: { ...MUTED, padding: "2px 0" } }));
    }
    parts.live.replaceChildren(...rows);
  }

  function liveRowElement(job, since) {
    const r = liveRow(job, since);
    const label = job.node_id ? deps.nodeLabel?.(job.node_id) ?? `#${job.node_id}` : null;
    const color = r.failed ? "var(--p-red-400, #e66)" : r.state === "done" ? "var(--p-green-400, #6c6)" : "";
    return h("div", {
      className: "segmind-live-row",
      "data-testid": "segmind-live-row",
      "data-key": r.key,
      style: { padding: "4px 0", borderBottom: "1px solid var(--border-color, #444)", opacity: r.finished ? "0.75" : "1" },
    }, [
      h("div", { style: { display: "flex", alignItems: "baseline", gap: "6px" } }, [
        h("span", { text: r.title, title: r.title, style: { overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap", flex: "1" } }),
        label ? nodeLink(label, job.node_id) : null,
      ]),
      h("div", { "data-testid": "segmind-live-status", text: r.status, style: { color, fontSize: "12px" } }),
      h("div", { text: [r.size, r.cost, r.machine].filter(Boolean).join(" · "), style: MUTED }),
    ]);
  }

  function nodeLink(label, nodeId) {
    const a = h("a", { "data-testid": "segmind-live-node", href: "#", title: `Show node ${label} in the graph`, text: label.split(" ")[0],
      style: { color: "inherit", whiteSpace: "nowrap", fontSize: "12px", opacity: "0.8" } });
    a.addEventListener("click", (ev) => {
      ev.preventDefault?.();
      deps.locateNode?.(nodeId);
    });
    return a;
  }

  function pastRowElement(row0) {
    let row = row0;
    const img = h("img", { alt: "", loading: "lazy", "data-testid": "segmind-past-thumb", style: { width: "64px", height: "64px", objectFit: "cover", borderRadius: "4px", background: "#000", flex: "none" } });
    img.addEventListener("error", () => { img.style.visibility = "hidden"; });
    const prompt = h("div", { "data-testid": "segmind-past-prompt", style: { whiteSpace: "nowrap", overflow: "hidden", textOverflow: "ellipsis" } });
    const meta = h("div", { "data-testid": "segmind-past-meta", style: MUTED });
    const idLine = h("div", { "data-testid": "segmind-past-id", style: { ...MUTED, fontFamily: "monospace" } });
    const player = h("div", { "data-testid": "segmind-past-player", style: { display: "none", marginTop: "4px" } });
    // Icon buttons: the sidebar is narrow; each says what it does in its tooltip.
    const play = button("", { icon: "pi pi-play", testid: "segmind-play", onClick: () => togglePlayer() });
    const copy = button("", { icon: "pi pi-copy", title: "Copy the request id", testid: "segmind-copy", onClick: () => void copyId() });
    const toGraph = button("", { icon: "pi pi-sign-in", testid: "segmind-to-graph", onClick: () => void act(deps.putClipInGraph, "Add to graph") });
    const collect = button("", { icon: "pi pi-download", testid: "segmind-collect", onClick: () => void act(deps.collectJob, "Collect") });
    for (const [b, label] of [[play, "Play the clip"], [copy, "Copy the request id"], [toGraph, "Put the clip into the graph"], [collect, "Collect this job"]]) {
      b.setAttribute("aria-label", label);
    }
    const actions = h("div", { style: { display: "flex", gap: "2px", marginTop: "2px" } }, [play, copy, toGraph, collect]);
    const el = h("div", {
      className: "segmind-past-row",
      "data-testid": "segmind-past-row",
      style: { padding: "6px 0", borderBottom: "1px solid var(--border-color, #444)" },
    }, [
      h("div", { style: { display: "flex", gap: "8px" } }, [img, h("div", { style: { minWidth: "0", flex: "1" } }, [prompt, meta, idLine, actions])]),
      player,
    ]);

    // Route paths from the server may carry ComfyUI's /api prefix or not; apiURL adds it once.
    const routeURL = (p) => deps.apiURL(p.replace(/^\/api(?=\/)/, ""));

    function togglePlayer() {
      const path = playPath(row);
      if (!path) return;
      if (playing.has(row.key)) {
        playing.delete(row.key);
        player.querySelector?.("video")?.pause?.();
        player.replaceChildren();
        player.style.display = "none";
        return;
      }
      playing.add(row.key);
      const video = h("video", {
        controls: true,
        autoplay: true,
        loop: true,
        playsinline: true,
        preload: "metadata",
        "data-testid": "segmind-past-video",
        style: { width: "100%", maxHeight: "360px", background: "#000", borderRadius: "4px" },
      });
      video.addEventListener("error", () => {
        const name = row.clip ? `${row.clip.subfolder ? row.clip.subfolder + "/" : ""}${row.clip.filename}` : "of this job";
        player.replaceChildren(h("div", { text: `The clip ${name} is no longer in ComfyUI's output folder or the pack's cache.`, style: { ...MUTED, whiteSpace: "normal" } }));
      });
      video.src = routeURL(path);
      player.replaceChildren(video);
      player.style.display = "block";
    }

    async function copyId() {
      if (!row.request_id) return;
      try {
        await deps.copyText(row.request_id);
        deps.toast?.({ severity: "success", summary: "Request id copied", detail: row.request_id, life: 2500 });
      } catch (err) {
        deps.toast?.({ severity: "warn", summary: "Could not copy", detail: `${row.request_id} (${err?.message ?? err})`, life: 6000 });
      }
    }

    async function act(fn, what) {
      try {
        const msg = await fn?.(row);
        if (typeof msg === "string" && msg) deps.toast?.({ severity: "info", summary: what, detail: msg, life: 4000 });
      } catch (err) {
        deps.toast?.({ severity: "error", summary: `${what} failed`, detail: String(err?.message ?? err), life: 8000 });
      }
    }

    function update(r) {
      row = r;
      if (r.thumb) {
        const src = routeURL(r.thumb);
        if (img.getAttribute("src") !== src) {
          img.style.visibility = "visible";
          img.setAttribute("src", src);
        }
      } else {
        img.removeAttribute?.("src");
        img.style.visibility = "hidden";
      }
      prompt.textContent = r.prompt;
      prompt.title = r.prompt;
      meta.textContent = [r.size, r.cost, r.when, r.machine].filter(Boolean).join(" · ");
      idLine.textContent = r.request_id ? r.shortId : "no request id";
      idLine.title = r.request_id ?? "";
      play.disabled = !r.playable;
      play.title = r.playable ? "Play the clip here" : "The clip is neither in ComfyUI's output folder nor in the pack's cache";
      copy.disabled = !r.request_id;
      toGraph.disabled = !r.clip && !r.collectable;
      toGraph.title = r.clip
        ? "Add a Load Video node set to this clip (reads the saved file; never pays)"
        : "Add a Collect Job node set to this request id (the clip is not in the output folder)";
      collect.disabled = !r.collectable;
      collect.title = r.collectable
        ? "Add a \"Segmind LTX-2 Collect Job\" node set to this request id (frames, audio, video; never pays again)"
        : "Not collectable: Segmind keeps results for an hour and this clip is not in the cache";
    }
    update(row0);
    return { root: el, update };
  }

  function renderPast() {
    // A job still running is listed under Live jobs only.
    const running = new Set(data.live.filter((j) => !["done", "failed", "cancelled"].includes(j.state) && j.request_id).map((j) => j.request_id));
    const rows = data.past.filter((j) => !running.has(j.request_id)).map((j) => pastRow(j, now()));
    parts.pastTitle.textContent = `Past jobs (${rows.length})`;
    if (!rows.length) {
      pastRows.clear();
      parts.past.replaceChildren(h("div", { text: "No paid job recorded yet.", style: MUTED }));
      return;
    }
    const seen = new Set();
    const order = [];
    for (const r of rows) {
      if (seen.has(r.key)) continue;
      seen.add(r.key);
      let entry = pastRows.get(r.key);
      if (!entry) {
        entry = pastRowElement(r);
        pastRows.set(r.key, entry);
      } else entry.update(r);
      order.push(entry.root);
    }
    for (const k of [...pastRows.keys()]) if (!seen.has(k)) { pastRows.delete(k); playing.delete(k); }
    const current = parts.past.children ?? [];
    const same = current.length === order.length && order.every((e, i) => current[i] === e);
    if (!same) parts.past.replaceChildren(...order);
  }

  function renderAll() {
    if (!parts) return;
    renderSpend();
    renderLive();
    renderPast();
  }

  async function refresh() {
    if (inflight) return inflight;
    inflight = (async () => {
      let res;
      try {
        res = await deps.request("GET", JOBS_ROUTE);
      } catch (err) {
        showError(`Could not reach the ComfyUI server: ${err?.message ?? err}`);
        return;
      }
      if (!res || res.status !== 200) {
        const why = res?.data?.error ?? `HTTP ${res?.status ?? "?"}`;
        showError(res?.status === 404
          ? "The pack's jobs route is missing (HTTP 404): update the Segmind LTX-2 pack and restart ComfyUI."
          : `Could not load the jobs: ${why}`);
        return;
      }
      showError("");
      data = normalizeJobs(res.data);
      fetchedAt = now();
      renderAll();
    })().finally(() => { inflight = null; });
    return inflight;
  }

  async function refreshCreditsNow(btn) {
    btn.disabled = true;
    try {
      const res = await deps.request("POST", CREDITS_ROUTE, {});
      if (res?.status === 200) {
        const credits = typeof res.data?.credits === "number" && Number.isFinite(res.data.credits) ? res.data.credits : null;
        data = { ...data, spend: { ...data.spend, credits } };
        if (parts) renderSpend();
        if (credits === null) deps.toast?.({ severity: "warn", summary: "Credits", detail: "Segmind did not report the credits left (is a key set?).", life: 5000 });
        else deps.toast?.({ severity: "info", summary: "Credits", detail: `Credits left: ${formatCredits(credits)}`, life: 3000 });
      } else {
        deps.toast?.({ severity: "error", summary: "Credits", detail: res?.data?.error ?? `HTTP ${res?.status ?? "?"}`, life: 8000 });
      }
    } catch (err) {
      deps.toast?.({ severity: "error", summary: "Credits", detail: `Could not reach the ComfyUI server: ${err?.message ?? err}`, life: 8000 });
    } finally {
      btn.disabled = false;
    }
  }

  return {
    /** The front end's custom sidebar tab calls this with its container each time the tab opens. */
    render(container) {
      stop();
      parts = build();
      pastRows.clear();
      playing.clear();
      root = parts.el;
      container.replaceChildren(root);
      renderAll();
      void refresh();
      timers = [setInterval(() => void refresh(), intervalMs), setInterval(() => { if (parts) renderLive(); }, 1000)];
    },
    /** Called when the tab closes: no polling while nobody looks. */
    destroy() {
      stop();
      root?.remove?.();
      root = null;
      parts = null;
    },
    isOpen: () => parts !== null,
    refresh,
    /** Debounced refresh for bursts of websocket events. */
    refreshSoon(delayMs = 400) {
      if (!parts || soonTimer) return;
      soonTimer = setTimeout(() => { soonTimer = null; void refresh(); }, delayMs);
    },
    getData: () => data,
  };

  function stop() {
    for (const t of timers) clearInterval(t);
    timers = [];
    if (soonTimer) clearTimeout(soonTimer);
    soonTimer = null;
  }
}

/**
 * One spend-limit field for the settings dialog (a custom setting type): an amount in
 * dollars, empty for no limit, saved on Enter or when the field loses focus.
 * `controller` is createLimitsController(...) shared by both fields.
 */
export function renderLimitField(field, controller) {
  const input = h("input", {
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    placeholder: "no limit",
    "aria-label": `Spend limit ${LIMIT_LABELS[field]} in US dollars`,
    "data-testid": `segmind-limit-${field}`,
    style: { width: "8em", padding: "4px 6px" },
  });
  const status = h("div", { "data-testid": `segmind-limit-${field}-status`, style: { fontSize: "0.85em", marginTop: "4px", whiteSpace: "normal", maxWidth: "30em" } });
  const root = h("div", { className: "segmind-limit", "data-testid": `segmind-limit-${field}-entry` }, [
    h("div", { style: { display: "flex", alignItems: "center", gap: "4px" } }, [h("span", { text: "$" }), input, h("span", { text: "USD", style: { opacity: "0.7" } })]),
    status,
  ]);
  let editing = false;
  let wasConnected = false;
  const colors = { ok: "var(--p-green-400, #6c6)", error: "var(--p-red-400, #e66)" };
  const show = (s) => {
    // The dialog drops this element when it closes: stop listening then.
    if (root.isConnected === true) wasConnected = true;
    else if (root.isConnected === false && wasConnected) {
      unsubscribe?.();
      return;
    }
    if (!editing && s.phase === "ready") input.value = limitToText(s.limits[field]);
    const mine = s.field === field || s.field === null;
    const stale = status.textContent === "Loading…" || status.textContent === "Saving…";
    if (s.phase === "loading") status.textContent = "Loading…";
    else if (s.phase === "saving" && s.field === field) status.textContent = "Saving…";
    else if (mine) status.textContent = s.message;
    else if (stale) status.textContent = "";
    status.style.color = colors[s.level] ?? "";
  };
  let unsubscribe = null;
  unsubscribe = controller.subscribe(show);
  const save = async () => {
    editing = false;
    const s = await controller.save(field, input.value);
    if (s.phase === "ready") input.value = limitToText(s.limits[field]);
  };
  input.addEventListener("input", () => { editing = true; });
  input.addEventListener("change", () => void save());
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      void save();
    }
  });
  show(controller.getState());
  // Each time the dialog opens: the server's current limits (another tab or the file may have changed them).
  const phase = controller.getState().phase;
  if (phase !== "loading" && phase !== "saving") void controller.load();
  return root;
}
