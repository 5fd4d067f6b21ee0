// AI keys: create one (shown once, bound to an allocation the user may draw from; an
// inference key unless management is ticked), list them with a text filter, revoke.

import { list, post, del, isAdmin, drawableAllocations, enc } from '../lib/api.js';
import { h, clear, badge, copyButton, confirmDialog, field, fmt, formData, pageHeader, table, emptyRow, toast } from '../lib/dom.js';

export async function render(view) {
  const allocations = await drawableAllocations().catch(() => []);
  const created = h('div#key-created');
  const filter = h('input#key-filter', { type: 'search', placeholder: 'Filter by name, prefix, allocation…', 'aria-label': 'Filter keys' });
  const showRevoked = h('input#key-show-revoked', { type: 'checkbox' });
  const tableBox = h('div');

  const allocSel = h('select#key-allocation', { name: 'allocation' },
    allocations.length ? null : h('option', { value: '' }, 'None (you have no allocation)'),
    allocations.length > 1 ? h('option', { value: '' }, 'Choose an allocation…') : null,
    allocations.map((a) => h('option', { value: a.name },
      `${a.name} — ${fmt.usd(a.remaining_usd)} of ${fmt.usd(a.limit_usd)} left (${a.period})`)));
  if (allocations.length && isAdmin()) allocSel.prepend(h('option', { value: '' }, 'None (unbudgeted)'));
  if (allocations.length === 1) allocSel.value = allocations[0].name;

  const form = h('form.card.form-grid#key-form',
    h('h2.card-title', 'Create a key'),
    field('Name', h('input#key-name', { name: 'name', required: true, placeholder: 'laptop', maxlength: 128 })),
    field('Allocation', allocSel, 'The budget this key draws from.'),
    field('Expires', h('input#key-expires', { name: 'expires', type: 'date' }), 'Optional.'),
    field('Models', h('input#key-models', { name: 'models', placeholder: 'all models' }), 'Optional allow-list, comma separated.'),
    field('Scopes', h('span.check', h('input#key-management', { name: 'management', type: 'checkbox' }), ' management'),
      'Every key may call the model API. Management also opens the admin API (keys, providers, tunnels, conversations, and the organization for admins), e.g. for modelgate admin.'),
    h('div.form-actions', h('button.btn.primary#key-create', { type: 'submit' }, 'Create key')));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = formData(form);
    const body = { name: d.name };
    if (d.allocation) body.allocation = d.allocation;
    if (d.expires) body.expires_at = new Date(`${d.expires}T23:59:59`).toISOString();
    if (d.models) body.models = d.models.split(',').map((s) => s.trim()).filter(Boolean);
    if (d.management) body.scopes = ['inference', 'management'];
    try {
      const k = await post('/api/keys', body);
      clear(created, h('div.card.once',
        h('h2.card-title', `Key “${k.name}” created`),
        h('p', h('strong', 'Copy it now: '), 'it is shown only this once. The gateway keeps only its hash.'),
        h('div.secret', h('code#new-key', k.key), copyButton(k.key)),
        h('p.muted', 'Use it as ', h('code', 'Authorization: Bearer …'), ' or ', h('code', 'export MODELGATE_KEY=…'), '; see ', h('a', { href: '#/connect' }, 'Connect'), ' for your tools.'),
        h('div.actions', h('button.btn', { type: 'button', onclick: () => clear(created) }, 'Done'))));
      form.reset();
      if (allocations.length === 1) allocSel.value = allocations[0].name;
      load();
    } catch (err) {
      toast(err.message, 'error');
    }
  });

  async function load() {
    const q = filter.value.trim();
    const params = new URLSearchParams();
    if (q) params.set('q', q);
    params.set('revoked', showRevoked.checked ? 'true' : 'false');
    const keys = await list(`/api/keys?${params}`);
    const shown = showRevoked.checked ? keys : keys.filter((k) => k.status !== 'revoked');
    const admin = isAdmin();
    clear(tableBox, table(
      ['Name', 'Prefix', ...(admin ? ['User'] : []), 'Allocation', 'Scopes', 'Created', 'Expires', 'Last used', 'Status', ''],
      shown.length ? shown.map((k) => h('tr', { 'data-key': k.name },
        h('td.strong', k.name), h('td', h('code', k.prefix)), admin ? h('td', k.user) : null,
        h('td', k.allocation || h('span.muted', 'none')), h('td', (k.scopes || []).join(', ')), h('td', fmt.date(k.created_at)),
        h('td', fmt.date(k.expires_at)), h('td', k.last_used_at ? fmt.date(k.last_used_at) : h('span.muted', 'never')),
        h('td', badge(k.status, k.status === 'active' ? 'ok' : 'muted')),
        h('td.right', k.status === 'active' ? h('button.btn.small.danger-ghost', { type: 'button', onclick: () => revoke(k) }, 'Revoke') : null),
      )) : emptyRow(admin ? 10 : 9, q ? 'No key matches the filter.' : 'No keys yet. Create one above.'),
      '#keys-table'));
  }

  async function revoke(k) {
    if (!await confirmDialog('Revoke key', `Revoke “${k.name}” (${k.prefix})? Tools using it stop working at once.`, 'Revoke')) return;
    await del(`/api/keys/${enc(k.id)}`);
    toast(`Key “${k.name}” revoked.`);
    load();
  }

  let timer = 0;
  filter.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(load, 200); });
  showRevoked.addEventListener('change', load);

  clear(view,
    pageHeader('AI Keys', 'Keys for your SDKs, editors and agents. Each draws from one budget allocation.'),
    created, form,
    h('section.card',
      h('div.toolbar', h('h2.card-title', isAdmin() ? 'All keys' : 'Your keys'), h('span.spacer'), filter,
        h('label.check', showRevoked, ' show revoked')),
      tableBox));
  await load();
}
