// DOM helpers: element building without innerHTML, copy buttons, dialogs, toasts and
// formatting. Nothing here writes HTML from strings, so text from the API is always text.

/** h('div.card#id', {onclick, class, ...attrs}, ...children) */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(spec) || [];
  const ns = ['svg', 'rect', 'g', 'text', 'line', 'path', 'title', 'circle'].includes(m[1]);
  const el = ns ? document.createElementNS('http://www.w3.org/2000/svg', m[1])
    : document.createElement(m[1] || 'div');
  for (const part of (m[2] || '').match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') for (const c of String(v).split(/\s+/).filter(Boolean)) el.classList.add(c);
    else if (k === 'value' && !ns) el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (c instanceof Node) el.append(c);
    else if (typeof c === 'object' && Symbol.iterator in c) append(el, [...c]);
    else el.append(document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Non-secure origins have no clipboard API: fall back to a hidden textarea.
    const ta = h('textarea.offscreen', { readonly: true }, text);
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
}

/** A button copying `text` (a string or a function returning one). */
export function copyButton(text, label = 'Copy') {
  const b = h('button.btn.small.copy', { type: 'button', title: 'Copy to clipboard' }, label);
  b.addEventListener('click', async () => {
    await copyText(typeof text === 'function' ? text() : text);
    b.textContent = 'Copied';
    b.classList.add('done');
    setTimeout(() => { b.textContent = label; b.classList.remove('done'); }, 1500);
  });
  return b;
}

/** A code block with a copy button. */
export function codeBlock(text, lang = '', { wrap = false } = {}) {
  return h('div.codeblock', h('div.codeblock-bar', h('span.lang', lang), copyButton(text)),
    h('pre', { class: wrap ? 'wrap' : '' }, h('code', text)));
}

export function toast(message, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) { box = h('div#toasts'); document.body.append(box); }
  const t = h(`div.toast.${kind}`, { role: 'status' }, message);
  box.append(t);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 6000 : 3000);
}

/** A modal dialog; `body` is a node or a function (close) => node. Resolves on close. */
export function modal(title, body, { wide = false } = {}) {
  return new Promise((resolve) => {
    const dlg = h('dialog.modal', { class: wide ? 'wide' : '' });
    const close = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    dlg.append(h('div.modal-head', h('h2', title),
      h('button.icon-btn', { type: 'button', 'aria-label': 'Close', onclick: () => close(null) }, '×')),
    h('div.modal-body', typeof body === 'function' ? body(close) : body));
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(null); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** Asks for confirmation; resolves true or false. */
export function confirmDialog(title, message, action = 'Confirm', danger = true) {
  return modal(title, (close) => h('div',
    h('p', message),
    h('div.actions',
      h('button.btn', { type: 'button', onclick: () => close(false) }, 'Cancel'),
      h(`button.btn.${danger ? 'danger' : 'primary'}`, { type: 'button', onclick: () => close(true) }, action)),
  )).then(Boolean);
}

/** A form field: label + control (+ hint). */
export function field(label, control, hint) {
  return h('label.field', h('span.label', label), control, hint ? h('span.hint', hint) : null);
}

/** Names of users, groups, providers, tunnels and allocations (the API's slug rule). */
export const NAME_PATTERN = '[A-Za-z0-9_\\-]+';

/** Option elements from [value, text] pairs (or plain values). */
export function options(list, value) {
  return list.map((o) => {
    const [v, text] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: String(v) === String(value) }, text);
  });
}

export function select(list, value, attrs = {}) {
  return h('select', attrs, options(list, value));
}

/** Replaces a select's options and selects `value` (else the first option). */
export function setOptions(sel, list, value) {
  clear(sel, options(list, value));
  const values = [...sel.options].map((o) => o.value);
  sel.value = values.includes(String(value)) ? String(value) : (values[0] ?? '');
  return sel;
}

/** Reads the named controls of a form into an object of trimmed strings / booleans. */
export function formData(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === 'checkbox' ? el.checked : el.value.trim();
  }
  return out;
}

export function badge(text, kind = '') {
  return h(`span.badge${kind ? '.' + kind : ''}`, text);
}

export function emptyRow(cols, text) {
  return h('tr.empty', h('td', { colspan: cols }, text));
}

export function table(headers, rows, cls = '') {
  return h('div.table-wrap', h(`table${cls}`,
    h('thead', h('tr', headers.map((t) => h('th', t)))), h('tbody', rows)));
}

export const fmt = {
  usd(v) {
    const n = Number(v || 0);
    if (n !== 0 && Math.abs(n) < 0.01) return '$' + n.toFixed(6).replace(/0+$/, '');
    return '$' + n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  },
  int(v) { return Number(v || 0).toLocaleString('en-US'); },
  date(v) {
    if (!v) return '—';
    const d = new Date(v);
    return isNaN(d) ? String(v) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  },
  day(v) { return v ? new Date(v).toLocaleDateString(undefined, { dateStyle: 'medium' }) : '—'; },
  pct(v) { return (Number(v || 0) * 100).toFixed(1) + '%'; },
};

/** A horizontal bar whose width is set through the CSSOM (allowed by the CSP). */
export function bar(fraction, kind = '') {
  const fill = h(`div.bar-fill${kind ? '.' + kind : ''}`);
  fill.style.width = `${Math.max(0, Math.min(1, fraction || 0)) * 100}%`;
  return h('div.bar', fill);
}

export function pageHeader(title, subtitle, ...actions) {
  return h('header.page-head', h('div', h('h1', title), subtitle ? h('p.sub', subtitle) : null),
    h('div.page-actions', actions));
}
