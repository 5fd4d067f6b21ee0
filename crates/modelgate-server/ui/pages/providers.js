// Providers: the ones you may use, with status, models and health; add (catalog vendor,
// custom endpoint, Azure, Bedrock), edit, refresh, share with groups or the org, delete.

import { get, list, put, del, post, me, isAdmin, enc } from '../lib/api.js';
import { h, clear, badge, modal, confirmDialog, pageHeader, toast, fmt, setOptions } from '../lib/dom.js';
import { addProvider, editProvider } from './provider-form.js';

function statusBadge(p) {
  if (p.kind === 'openai-tunnel') return badge(`tunnel ${p.tunnel || 'stopped'}`, p.tunnel === 'running' ? 'ok' : 'muted');
  const kind = { ok: 'ok', error: 'error', needs_reconfiguration: 'warn', blocked_by_policy: 'warn' }[p.status] || 'muted';
  return badge(p.status.replace(/_/g, ' '), kind);
}

function shareChips(shares) {
  if (!shares) return null;
  if (!shares.length) return h('span.muted', 'private');
  return shares.map((s) => badge(s.org ? 'whole organization' : `group ${s.group}`, 'info'));
}

/** The shares dialog: current shares (revocable) and a way to add one. */
async function sharesDialog(p, onChange) {
  const groups = await list('/api/groups').catch(() => []);
  let shares = p.shares || [];
  await modal(`Share ${p.name}`, () => {
    const box = h('div#share-list');
    const target = h('select#share-target');
    const body = (v) => (v === '__org' ? { org: true } : { group: v });
    const draw = () => {
      clear(box, shares.length ? h('ul.share-list', shares.map((s) => h('li',
        h('span', s.org ? 'Everyone in the organization' : `Group “${s.group}”`),
        h('button.btn.small.danger-ghost', {
          type: 'button',
          onclick: async () => { shares = (await del(`/api/providers/${enc(p.name)}/shares`, s.org ? { org: true } : { group: s.group })).data; draw(); onChange(); },
        }, 'Revoke')))) : h('p.muted', 'Private: only its owner (and administrators) can use it.'));
      const options = [['__org', 'Everyone in the organization'], ...groups.map((g) => [g.name, `Group: ${g.name}`])]
        .filter(([v]) => !shares.some((s) => (v === '__org' ? s.org : s.group === v)));
      setOptions(target, options.length ? options : [['', 'Shared with everything available']]);
    };
    draw();
    const add = h('form.row.gap', target, h('button.btn.primary#share-add', { type: 'submit' }, 'Share'));
    add.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!target.value) return;
      try { shares = (await put(`/api/providers/${enc(p.name)}/shares`, body(target.value))).data; draw(); onChange(); } catch (err) { toast(err.message, 'error'); }
    });
    return h('div', h('p.muted', 'People you share with can use its models through their own keys and budgets; they cannot see its settings or key.'), box, add);
  });
}

export async function render(view) {
  const who = await me();
  const cards = h('div.provider-grid#provider-list');
  const addBtn = h('button.btn.primary#add-provider', { type: 'button' }, '+ Add provider');
  if (!who.can_create_providers && !isAdmin()) addBtn.classList.add('hidden');
  clear(view, pageHeader('Providers', 'The model backends you may use. New providers are private until you share them.', addBtn), cards);

  let catalog = null;
  addBtn.addEventListener('click', async () => {
    catalog = catalog || await get('/api/catalog');
    const created = await addProvider(catalog);
    if (created) { toast(`Provider “${created.name}” added.`); load(); }
  });

  async function load() {
    const [providers, tunnels] = await Promise.all([list('/api/providers'), list('/api/tunnels').catch(() => [])]);
    const tstat = new Map(tunnels.map((t) => [t.name, t.status]));
    if (!providers.length) {
      clear(cards, h('div.card.empty-state', h('h2', 'No providers yet'),
        h('p', who.can_create_providers || isAdmin() ? 'Add a catalog vendor with its key, or your own OpenAI-compatible server.' : 'Ask an administrator to share a provider with you, or start a tunnel to your own model server.')));
      return;
    }
    clear(cards, providers.map((p) => card({ ...p, tunnel: tstat.get(p.name) })));
  }

  function card(p) {
    const manage = p.shares !== undefined || isAdmin();
    const tunnel = p.kind === 'openai-tunnel';
    const models = p.models.slice(0, 12);
    const health = (p.health || []).filter((x) => x.last_error || x.circuit !== 'closed');
    return h('article.card.provider', { 'data-provider': p.name },
      h('div.provider-head', h('div', h('h3', p.name), h('div.muted.small', `${p.kind} · owner ${p.owner}`)), statusBadge(p)),
      p.description ? h('p', p.description) : null,
      h('dl.kv',
        h('dt', 'Endpoint'), h('dd', h('code', p.endpoint || '—')),
        h('dt', 'Models'), h('dd', p.models.length ? [models.map((m) => h('span.chip', m)), p.models.length > 12 ? h('span.muted', ` +${p.models.length - 12} more`) : null]
          : h('span.muted', p.models_error ? `discovery failed: ${p.models_error}` : 'none discovered')),
        p.models_refreshed_at ? [h('dt', 'Refreshed'), h('dd', fmt.date(p.models_refreshed_at))] : null,
        p.shares ? [h('dt', 'Shared with'), h('dd.shares', shareChips(p.shares))] : null),
      health.length ? h('div.health', health.map((x) => h('div.notice.warn.small',
        h('strong', `${x.model}: `), `circuit ${x.circuit}, ${x.consecutive_failures} failure(s)`, x.last_error ? ` — ${x.last_error}` : ''))) : null,
      h('div.card-actions',
        h('a.btn.small.ghost', { href: `#/connect?provider=${enc(p.name)}` }, 'Connect'),
        h('a.btn.small.ghost', { href: '#/chat', onclick: () => localStorage.setItem('mg.chat.provider', p.name) }, 'Chat'),
        h('span.spacer'),
        manage && !tunnel ? h('button.btn.small', { type: 'button', onclick: () => sharesDialog(p, load) }, 'Share') : null,
        manage && !tunnel ? h('button.btn.small', { type: 'button', onclick: () => edit(p) }, 'Edit') : null,
        manage ? h('button.btn.small', { type: 'button', onclick: () => refresh(p) }, 'Refresh') : null,
        manage && !tunnel ? h('button.btn.small.danger-ghost', { type: 'button', onclick: () => remove(p) }, 'Delete') : null,
        tunnel ? h('a.btn.small', { href: '#/tunnels' }, 'Manage tunnel') : null));
  }

  async function edit(p) {
    const updated = await editProvider(p);
    if (updated) { toast(`Provider “${p.name}” updated.`); load(); }
  }
  async function refresh(p) {
    try { await post(`/api/providers/${enc(p.name)}/refresh`); toast(`Models of “${p.name}” refreshed.`); } catch (e) { toast(e.message, 'error'); }
    load();
  }
  async function remove(p) {
    if (!await confirmDialog('Delete provider', `Delete “${p.name}”? Everyone it is shared with loses access at once; its usage history stays.`, 'Delete')) return;
    await del(`/api/providers/${enc(p.name)}`);
    toast(`Provider “${p.name}” deleted.`);
    load();
  }

  await load();
}
