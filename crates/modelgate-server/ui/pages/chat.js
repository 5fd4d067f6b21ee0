// Chat: pick a provider (tunnels show running/stopped) and a model, stream the answer from
// /v1/chat/completions with the session, render it as Markdown while it arrives, stop it
// at will. Conversations live on the server and are listed on the left; one whose provider
// is no longer usable stays readable, with the input disabled.

import { api, list, post, patch, del, request, errorOf, drawableAllocations, enc } from '../lib/api.js';
import { h, clear, badge, toast, modal, confirmDialog, setOptions, fmt } from '../lib/dom.js';
import { renderInto } from '../lib/markdown.js';
import { readSSE, deltaText } from '../lib/sse.js';

const pref = {
  get: (k) => localStorage.getItem('mg.chat.' + k) || '',
  set: (k, v) => localStorage.setItem('mg.chat.' + k, v || ''),
};

/** What the user reads for a failed request: the API's own message, with its meaning. */
export function describeError(err, retryAfter) {
  const msg = err.message || `HTTP ${err.status}`;
  switch (err.status) {
    case 402: return `Budget exhausted (402): ${msg}`;
    case 429: return `Rate limit reached (429): ${msg}${retryAfter ? ` — retry in ${retryAfter} s` : ''}`;
    case 503: return `Unavailable (503): ${msg}`;
    default: return err.status ? `Error ${err.status}: ${msg}` : msg;
  }
}

export async function render(view, { rest, go }) {
  const st = { providers: [], allocations: [], convs: [], conv: null, busy: null, convApi: true };
  const convList = h('ul.conv-list');
  const providerSel = h('select#chat-provider', { 'aria-label': 'Provider' });
  const modelSel = h('select#chat-model', { 'aria-label': 'Model' });
  const allocSel = h('select#chat-allocation.hidden', { 'aria-label': 'Allocation' });
  const status = h('span.chat-status');
  const connectLink = h('a.btn.small.ghost#chat-connect', { href: '#/connect' }, 'Connect tools');
  const notice = h('div.notice.warn.hidden#chat-notice');
  const messages = h('div.messages#messages');
  // Disabled until the providers are loaded.
  const input = h('textarea#chat-input', { rows: 1, disabled: true, placeholder: 'Message… (Enter to send, Shift+Enter for a new line)' });
  const sendBtn = h('button.btn.primary#chat-send', { type: 'submit', disabled: true }, 'Send');
  const stopBtn = h('button.btn.danger.hidden#chat-stop', { type: 'button' }, 'Stop');
  const composer = h('form.composer', input, sendBtn, stopBtn);

  clear(view, h('div.chat',
    h('aside.conv-pane',
      h('button.btn.primary.block#new-chat', { type: 'button', onclick: () => go('#/chat') }, '+ New chat'),
      convList),
    h('section.chat-main',
      h('header.chat-head', providerSel, modelSel, allocSel, status, h('span.spacer'), connectLink),
      notice, messages, composer)));

  // ----- data -----
  const [providers, tunnels, allocations] = await Promise.all([
    list('/api/providers'), list('/api/tunnels').catch(() => []), drawableAllocations().catch(() => []),
  ]);
  const tunnelStatus = new Map(tunnels.map((t) => [t.name, t.status]));
  st.providers = providers.map((p) => ({ ...p, tunnel: tunnelStatus.get(p.name) || (p.kind === 'openai-tunnel' ? 'stopped' : null) }));
  st.allocations = allocations;
  try { st.convs = await list('/api/conversations'); } catch (e) {
    if (e.status !== 404) throw e;
    st.convApi = false;
  }
  if (rest[0]) {
    try { st.conv = await api('GET', `/api/conversations/${enc(rest[0])}`); } catch (e) {
      if (e.status === 401) throw e;
      toast(`Conversation not found: ${e.message}`, 'error');
    }
  }

  // ----- header: provider, model, allocation -----
  function fillProviders() {
    const chosen = st.conv ? st.conv.provider : (pref.get('provider') || (st.providers[0] || {}).name);
    const opts = st.providers.map((p) => [p.name, p.tunnel ? `${p.name} — tunnel ${p.tunnel}` : p.name]);
    if (st.conv && !st.providers.some((p) => p.name === st.conv.provider)) opts.push([st.conv.provider, `${st.conv.provider} (no longer available)`]);
    if (!opts.length) opts.push(['', 'No providers yet']);
    setOptions(providerSel, opts, chosen);
    providerSel.disabled = Boolean(st.conv) || !st.providers.length;
    fillModels();
  }
  function fillModels() {
    const p = st.providers.find((x) => x.name === providerSel.value);
    const models = p ? p.models : [];
    const chosen = st.conv ? st.conv.model : pref.get('model:' + providerSel.value);
    const opts = models.map((m) => [m, m]);
    if (st.conv && !models.includes(st.conv.model)) opts.push([st.conv.model, st.conv.model]);
    if (!opts.length) opts.push(['', p ? 'No models discovered' : '—']);
    setOptions(modelSel, opts, chosen);
    modelSel.disabled = Boolean(st.conv) || !models.length;
    clear(status, p && p.tunnel ? badge(`tunnel ${p.tunnel}`, p.tunnel === 'running' ? 'ok' : 'muted')
      : p && p.status !== 'ok' ? badge(p.status.replace(/_/g, ' '), 'warn') : null);
    connectLink.href = `#/connect?provider=${enc(providerSel.value)}&model=${enc(modelSel.value)}`;
    updateInput();
  }
  providerSel.addEventListener('change', () => { pref.set('provider', providerSel.value); fillModels(); });
  modelSel.addEventListener('change', () => { pref.set('model:' + providerSel.value, modelSel.value); fillModels(); });
  if (st.allocations.length > 1) {
    const saved = pref.get('allocation');
    setOptions(allocSel, st.allocations.map((a) => [a.name, `${a.name} · ${fmt.usd(a.remaining_usd)} left`]), saved);
    allocSel.classList.remove('hidden');
    allocSel.addEventListener('change', () => pref.set('allocation', allocSel.value));
  }

  // ----- conversations sidebar -----
  function fillConvs() {
    if (!st.convApi) return clear(convList, h('li.conv-empty', 'Conversations are not saved on this gateway yet.'));
    if (!st.convs.length) return clear(convList, h('li.conv-empty', 'No conversations yet.'));
    clear(convList, st.convs.map((c) => h('li.conv-item', { class: st.conv && st.conv.id === c.id ? 'active' : '' },
      h('a.conv-link', { href: `#/chat/${enc(c.id)}`, title: c.title },
        h('span.conv-title', c.title || 'Untitled'),
        h('span.conv-meta', `${c.provider}/${c.model}`, c.writable === false ? ' · read-only' : '')),
      h('span.conv-actions',
        h('button.icon-btn', { type: 'button', title: 'Rename', onclick: () => rename(c) }, '✎'),
        h('button.icon-btn', { type: 'button', title: 'Delete', onclick: () => remove(c) }, '×')))));
  }
  async function rename(c) {
    const name = await modal('Rename conversation', (close) => {
      const inp = h('input', { value: c.title || '' });
      const f = h('form', inp, h('div.actions', h('button.btn.primary', { type: 'submit' }, 'Save')));
      f.addEventListener('submit', (e) => { e.preventDefault(); close(inp.value.trim()); });
      setTimeout(() => inp.focus());
      return f;
    });
    if (!name) return;
    await patch(`/api/conversations/${enc(c.id)}`, { title: name });
    c.title = name;
    fillConvs();
  }
  async function remove(c) {
    if (!await confirmDialog('Delete conversation', `Delete “${c.title}” and its messages?`, 'Delete')) return;
    await del(`/api/conversations/${enc(c.id)}`);
    st.convs = st.convs.filter((x) => x.id !== c.id);
    if (st.conv && st.conv.id === c.id) go('#/chat'); else fillConvs();
  }

  // ----- messages -----
  function messageNode(m) {
    const body = h('div.bubble', { class: m.role === 'assistant' ? 'md' : '' });
    if (m.role === 'assistant') renderInto(body, m.content || ''); else body.textContent = m.content;
    const err = h('div.msg-error', { class: m.error ? '' : 'hidden' }, m.error || '');
    const failed = m.role === 'assistant' && !m.content && m.error;
    return { node: h(`div.msg.${m.role === 'user' ? 'user' : 'assistant'}`, { class: failed ? 'failed' : '' }, body, err), body, err };
  }
  function showMessages() {
    const msgs = (st.conv && st.conv.messages) || [];
    if (!msgs.length) {
      clear(messages, h('div.chat-empty', h('h2', 'Start a conversation'),
        h('p', st.providers.length ? 'Choose a provider and a model above, then ask anything. Answers stream in as they are written.'
          : 'No provider is available to you yet. Add one under Providers, or ask an administrator to share one.')));
      return;
    }
    clear(messages, msgs.map((m) => messageNode(m).node));
    messages.scrollTop = messages.scrollHeight;
  }
  function updateInput() {
    const readOnly = st.conv && st.conv.writable === false;
    notice.classList.toggle('hidden', !readOnly);
    if (readOnly) clear(notice, `The provider “${st.conv.provider}” is no longer available to you, so this conversation is read-only. Start a new chat to continue.`);
    input.disabled = Boolean(readOnly);
    sendBtn.disabled = Boolean(readOnly) || !modelSel.value || Boolean(st.busy);
  }
  const nearBottom = () => messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;

  // ----- sending -----
  /** Saves a message; a server error (5xx: nothing was stored) is retried twice. */
  async function save(conv, msg, attempt = 0) {
    try { return await post(`/api/conversations/${enc(conv.id)}/messages`, msg); } catch (e) {
      if (!(e.status >= 500) || attempt >= 2) throw e;
      await new Promise((r) => setTimeout(r, 250 * 3 ** attempt));
      return save(conv, msg, attempt + 1);
    }
  }

  async function send(text) {
    const provider = providerSel.value;
    const model = modelSel.value;
    if (!text || !model || st.busy) return;
    if (!st.conv) {
      const draft = { title: text.replace(/\s+/g, ' ').slice(0, 60), provider, model };
      if (st.convApi) {
        st.conv = await post('/api/conversations', draft);
        st.convs.unshift(st.conv);
        history.replaceState(null, '', `#/chat/${enc(st.conv.id)}`);
      } else st.conv = { ...draft, id: null, writable: true, messages: [] };
      st.conv.messages = st.conv.messages || [];
      fillProviders();
      fillConvs();
    }
    const conv = st.conv;
    if (conv.id) {
      try { await save(conv, { role: 'user', content: text }); } catch (e) {
        if (e.code === 'conversation_read_only' || e.status === 409) { conv.writable = false; updateInput(); return; }
        throw e;
      }
    }
    if (!conv.messages.length) clear(messages);
    conv.messages.push({ role: 'user', content: text });
    messages.append(messageNode({ role: 'user', content: text }).node);
    input.value = '';
    const out = messageNode({ role: 'assistant', content: '' });
    out.node.classList.add('streaming');
    messages.append(out.node);
    messages.scrollTop = messages.scrollHeight;
    const ctrl = new AbortController();
    st.busy = ctrl;
    sendBtn.classList.add('hidden');
    stopBtn.classList.remove('hidden');
    updateInput();
    let answer = '';
    let error = null;
    let frame = 0;
    const paint = () => {
      frame = 0;
      const stick = nearBottom();
      renderInto(out.body, answer);
      if (stick) messages.scrollTop = messages.scrollHeight;
    };
    try {
      const headers = !allocSel.classList.contains('hidden') && allocSel.value ? { 'x-modelgate-allocation': allocSel.value } : {};
      const history_ = conv.messages.filter((m) => m.content).map((m) => ({ role: m.role, content: m.content }));
      const resp = await request('POST', '/v1/chat/completions', {
        body: { model: `${conv.provider}/${conv.model}`, stream: true, messages: history_ }, headers, signal: ctrl.signal,
      });
      if (!resp.ok) {
        error = describeError(await errorOf(resp), resp.headers.get('retry-after'));
      } else {
        for await (const chunk of readSSE(resp)) {
          if (chunk.error) { error = `The answer broke off: ${chunk.error.message || 'stream error'}`; break; }
          const d = deltaText(chunk);
          if (d) { answer += d; if (!frame) frame = requestAnimationFrame(paint); }
        }
      }
    } catch (e) {
      if (e.name === 'AbortError') error = 'Stopped by the user.';
      else if (e.status === 401) return; // signed out: the login screen takes over
      else error = e.status ? describeError(e) : `The connection failed: ${e.message}`;
    } finally {
      if (frame) cancelAnimationFrame(frame);
      st.busy = null;
      stopBtn.classList.add('hidden');
      sendBtn.classList.remove('hidden');
      out.node.classList.remove('streaming');
    }
    paint();
    if (error) { out.err.textContent = error; out.err.classList.remove('hidden'); }
    if (!answer && error) out.node.classList.add('failed');
    const msg = { role: 'assistant', content: answer, ...(error ? { error } : {}) };
    conv.messages.push(msg);
    updateInput();
    if (conv.id) {
      try { await save(conv, msg); } catch (e) {
        if (e.status === 409) { conv.writable = false; updateInput(); } else toast(`The answer was not saved: ${e.message}`, 'error');
      }
      conv.updated_at = new Date().toISOString();
    }
    input.focus();
  }

  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!sendBtn.disabled) send(input.value.trim()).catch((err) => toast(err.message, 'error'));
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); if (!sendBtn.disabled) composer.requestSubmit(); }
  });
  stopBtn.addEventListener('click', () => st.busy && st.busy.abort());

  fillProviders();
  fillConvs();
  showMessages();
  input.focus();
  return () => { if (st.busy) st.busy.abort(); };
}
