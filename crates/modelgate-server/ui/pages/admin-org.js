// Admin tabs for groups (create, add and remove members, delete) and budget allocations
// (create for a user or a group with a limit and a period, change the limit, delete).

import { list, post, patch, put, del, enc } from '../lib/api.js';
import { h, clear, bar, confirmDialog, field, fmt, formData, modal, table, emptyRow, toast, select, NAME_PATTERN } from '../lib/dom.js';

export async function groupsTab(body) {
  const box = h('div.group-grid#group-list');
  const form = h('form.card.form-inline#group-form',
    field('New group', h('input#group-name', { name: 'name', required: true, placeholder: 'research', pattern: NAME_PATTERN, maxlength: 64 })),
    h('button.btn.primary#group-create', { type: 'submit' }, 'Create group'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const { name } = formData(form);
    try { await post('/api/groups', { name }); toast(`Group “${name}” created.`); form.reset(); load(); } catch (err) { toast(err.message, 'error'); }
  });

  async function load() {
    const [groups, users] = await Promise.all([list('/api/groups'), list('/api/users')]);
    if (!groups.length) return clear(box, h('div.card.empty-state', h('p', 'No groups yet. Groups receive shared providers and budget allocations.')));
    clear(box, groups.map((g) => {
      const candidates = users.filter((u) => !g.members.includes(u.name) && !u.deactivated_at);
      const pick = h('select', { 'aria-label': `Add a member to ${g.name}`, 'data-add-member': g.name },
        candidates.length ? candidates.map((u) => h('option', { value: u.name }, u.name)) : h('option', { value: '' }, 'everyone is a member'));
      const add = h('form.row.gap', pick, h('button.btn.small', { type: 'submit', disabled: !candidates.length }, 'Add member'));
      add.addEventListener('submit', async (e) => {
        e.preventDefault();
        if (!pick.value) return;
        try { await put(`/api/groups/${enc(g.name)}/members/${enc(pick.value)}`); load(); } catch (err) { toast(err.message, 'error'); }
      });
      return h('article.card.group', { 'data-group': g.name },
        h('div.provider-head', h('h3', g.name), h('button.btn.small.danger-ghost', { type: 'button', onclick: () => removeGroup(g) }, 'Delete')),
        h('div.members', g.members.length ? g.members.map((m) => h('span.chip.removable', m,
          h('button.chip-x', { type: 'button', title: `Remove ${m}`, 'aria-label': `Remove ${m} from ${g.name}`, onclick: () => removeMember(g, m) }, '×')))
          : h('span.muted', 'No members yet.')),
        (g.allocations || []).length ? h('div.small.muted', 'Allocations: ', g.allocations.map((a) => `${a.name} (${fmt.usd(a.used_usd)} of ${fmt.usd(a.limit_usd)})`).join(', ')) : null,
        add);
    }));
  }
  async function removeMember(g, m) {
    try { await del(`/api/groups/${enc(g.name)}/members/${enc(m)}`); load(); } catch (err) { toast(err.message, 'error'); }
  }
  async function removeGroup(g) {
    if (!await confirmDialog('Delete group', `Delete “${g.name}”? Its members lose what was shared with it.`, 'Delete')) return;
    try { await del(`/api/groups/${enc(g.name)}`); toast(`Group “${g.name}” deleted.`); } catch (err) { toast(err.message, 'error'); }
    load();
  }

  clear(body, form, box);
  await load();
}

export async function allocationsTab(body) {
  const [users, groups] = await Promise.all([list('/api/users'), list('/api/groups')]);
  const tableBox = h('div');
  const ownerKind = select([['group', 'Group'], ['user', 'User']], groups.length ? 'group' : 'user', { name: 'owner_kind', id: 'alloc-owner-kind' });
  const owner = h('select#alloc-owner', { name: 'owner' });
  const fillOwners = () => clear(owner, (ownerKind.value === 'group' ? groups : users).map((x) => h('option', { value: x.name }, x.name)));
  ownerKind.addEventListener('change', fillOwners);
  fillOwners();
  const form = h('form.card.form-grid#alloc-form',
    h('h2.card-title', 'Create an allocation'),
    field('Name', h('input#alloc-name', { name: 'name', required: true, placeholder: 'research-monthly', pattern: NAME_PATTERN, maxlength: 64 })),
    field('For', h('div.row.gap', ownerKind, owner)),
    field('Limit (USD)', h('input#alloc-limit', { name: 'limit', type: 'number', min: 0, step: 'any', required: true, placeholder: '200' })),
    field('Period', select([['monthly', 'Monthly'], ['daily', 'Daily'], ['none', 'Never resets']], 'monthly', { name: 'period', id: 'alloc-period' }), 'UTC calendar periods.'),
    h('div.form-actions', h('button.btn.primary#alloc-create', { type: 'submit' }, 'Create allocation')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = formData(form);
    const b = { name: d.name, limit_usd: Number(d.limit), period: d.period, [d.owner_kind]: d.owner };
    try { await post('/api/allocations', b); toast(`Allocation “${d.name}” created.`); form.reset(); fillOwners(); load(); } catch (err) { toast(err.message, 'error'); }
  });

  async function load() {
    const allocs = await list('/api/allocations');
    clear(tableBox, table(['Allocation', 'For', 'Period', 'Used', 'Limit', 'Remaining', ''],
      allocs.length ? allocs.map((a) => {
        const frac = a.limit_usd > 0 ? a.used_usd / a.limit_usd : 0;
        return h('tr', { 'data-allocation': a.name },
          h('td.strong', a.name), h('td', a.owner.group ? `group ${a.owner.group}` : `user ${a.owner.user}`),
          h('td', a.period), h('td.usage-cell', bar(frac, frac >= 1 ? 'danger' : frac > 0.8 ? 'warn' : ''), h('span.small', fmt.usd(a.used_usd))),
          h('td.num', fmt.usd(a.limit_usd)), h('td.num', fmt.usd(a.remaining_usd)),
          h('td.right', h('button.btn.small', { type: 'button', onclick: () => editLimit(a) }, 'Edit limit'),
            h('button.btn.small.danger-ghost', { type: 'button', onclick: () => remove(a) }, 'Delete')));
      }) : emptyRow(7, 'No allocations yet.'), '#alloc-table'));
  }
  async function editLimit(a) {
    await modal(`Limit of ${a.name}`, (close) => {
      const inp = h('input#alloc-new-limit', { type: 'number', min: 0, step: 'any', value: a.limit_usd, required: true });
      const f = h('form.form-stack', field('Limit (USD)', inp, `Used so far this period: ${fmt.usd(a.used_usd)}.`),
        h('div.actions', h('button.btn.primary', { type: 'submit' }, 'Save')));
      f.addEventListener('submit', async (e) => {
        e.preventDefault();
        try { await patch(`/api/allocations/${enc(a.name)}`, { limit_usd: Number(inp.value) }); close(true); toast('Limit changed.'); load(); } catch (err) { toast(err.message, 'error'); }
      });
      setTimeout(() => inp.select());
      return f;
    });
  }
  async function remove(a) {
    if (!await confirmDialog('Delete allocation', `Delete “${a.name}”? Keys bound to it can no longer draw from it.`, 'Delete')) return;
    try { await del(`/api/allocations/${enc(a.name)}`); toast(`Allocation “${a.name}” deleted.`); } catch (err) { toast(err.message, 'error'); }
    load();
  }

  clear(body, form, h('section.card', h('h2.card-title', 'Allocations'), tableBox));
  await load();
}
