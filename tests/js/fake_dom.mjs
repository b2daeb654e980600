// A tiny stand-in for the few DOM calls the extension makes, so the tests need no browser
// and no npm package. Not a test file itself (node --test picks *.test.mjs).

export class FakeElement {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.style = {};
    this.children = [];
    this.attributes = {};
    this.listeners = {};
    this.textContent = "";
    this.title = "";
    this.className = "";
    this.value = "";
    this.disabled = false;
    this.src = "";
    this.parent = null;
    this.paused = true;
  }
  get firstChild() { return this.children[0] ?? null; }
  get classList() {
    const names = () => this.className.split(/\s+/).filter(Boolean);
    return {
      contains: (c) => names().includes(c),
      add: (c) => { if (!names().includes(c)) this.className = [...names(), c].join(" "); },
    };
  }
  setAttribute(k, v) { this.attributes[k] = String(v); }
  getAttribute(k) { return this.attributes[k] ?? null; }
  hasAttribute(k) { return k in this.attributes; }
  removeAttribute(k) { delete this.attributes[k]; }
  append(...cs) {
    for (const c of cs) {
      if (typeof c === "object") {
        if (c.parent && c.parent !== this) c.parent.children = c.parent.children.filter((x) => x !== c);
        c.parent = this;
      }
      this.children.push(c);
    }
  }
  replaceChildren(...cs) {
    for (const c of this.children) if (typeof c === "object" && !cs.includes(c)) c.parent = null;
    this.children = [];
    this.append(...cs);
  }
  remove() { if (this.parent) this.parent.children = this.parent.children.filter((c) => c !== this); this.parent = null; }
  addEventListener(t, fn) { (this.listeners[t] ??= []).push(fn); }
  dispatch(t, ev = {}) { for (const fn of this.listeners[t] ?? []) fn({ preventDefault() {}, ...ev }); }
  click() { if (!this.disabled) this.dispatch("click"); }
  pause() { this.paused = true; }
  all() { return [this, ...this.children.flatMap((c) => (c instanceof FakeElement ? c.all() : []))]; }
  find(pred) { return this.all().find(pred); }
  findAll(pred) { return this.all().filter(pred); }
  byTestId(id) { return this.find((e) => e.getAttribute("data-testid") === id); }
  allByTestId(id) { return this.findAll((e) => e.getAttribute("data-testid") === id); }
  querySelector(sel) {
    const m = /^\[data-testid=["']?([^"'\]]+)["']?\]$/.exec(sel);
    if (m) return this.all().slice(1).find((e) => e.getAttribute("data-testid") === m[1]) ?? null;
    return this.all().slice(1).find((e) => e.tagName === sel.toUpperCase()) ?? null;
  }
  text() { return this.all().map((e) => e.textContent).filter(Boolean).join("\n"); }
}

export function installFakeDocument() {
  globalThis.document = { createElement: (t) => new FakeElement(t) };
  globalThis.confirm = () => true;
}

/** Wait for pending promise callbacks and short timers. */
export const settle = (ms = 10) => new Promise((r) => setTimeout(r, ms));
