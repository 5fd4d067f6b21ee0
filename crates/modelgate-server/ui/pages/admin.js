// Admin (administrators only): users, groups and their members, budget allocations and
// the organization's settings. Groups and allocations are in admin-org.js.

import { list, post, patch, get, enc, session } from '../lib/api.js';
import { h, clear, badge, modal, confirmDialog, field, fmt, formData, pageHeader, table, emptyRow, toast, select, NAME_PATTERN } from '../lib/dom.js';
import { groupsTab, allocationsTab } from './admin-org.js';

const TABS = [['users', 'Users'], ['groups', 'Groups'], ['allocations', 'Allocations'], ['settings', 'Settings']];

export async function render(view, { rest }) {
  const tab = TABS.some(([t]) => t === rest[0]) ? rest[0] : 'users';
  const body = h('div.admin-body');
  clear(view, pageHeader('Administration', 'People, groups and budgets of the organization.'),
    h('div.tabs.page-tabs#admin-tabs', TABS.map(([t, label]) => h('a.tab', { href: `#/admin/${t}`, class: t === tab ? 'active' : '', 'data-tab': t }, label))),
    body);
  const tabs = { users: usersTab, groups: groupsTab, allocations: allocationsTab, settings: settingsTab };
  await tabs[tab](body);
}

async function usersTab(body) {
  const tableBox = h('div');
  const form = h('form.card.form-grid#user-form',
    h('h2.card-title', 'Create a user'),
    field('Name', h('input#user-name', { name: 'name', required: true, placeholder: 'ada', pattern: NAME_PATTERN, maxlength: 64 })),
    field('Role', select([['member', 'Member'], ['admin', 'Administrator']], 'member', { name: 'role', id: 'user-role' })),
    field('Password', h('input#user-password', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: 8 }), 'For signing in here; optional for automation users.'),
    h('div.form-actions', h('button.btn.primary#user-create', { type: 'submit' }, 'Create user')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = formData(form);
    const b = { name: d.name, role: d.role };
    if (d.password) b.password = d.password;
    try {
      await post('/api/users', b);
      toast(`User “${d.name}” created.`);
      form.reset();
      load();
    } catch (err) { toast(err.message, 'error'); }
  });

  async function load() {
    const users = await list('/api/users');
    clear(tableBox, table(['User', 'Role', 'Groups', 'Password', 'Created', 'Status', ''],
      users.length ? users.map((u) => h('tr', { 'data-user': u.name },
        h('td.strong', u.name), h('td', badge(u.role, u.role === 'admin' ? 'info' : '')),
        h('td', u.groups.length ? u.groups.map((g) => h('span.chip', g)) : h('span.muted', '—')),
        h('td', u.has_password ? 'set' : h('span.muted', 'none')),
        h('td', fmt.date(u.created_at)),
        h('td', u.deactivated_at ? badge('deactivated', 'muted') : badge('active', 'ok')),
        h('td.right',
          h('button.btn.small', { type: 'button', onclick: () => setPassword(u) }, 'Password'),
          u.name === (session.user || {}).name ? null : u.deactivated_at
            ? h('button.btn.small', { type: 'button', onclick: () => setActive(u, true) }, 'Reactivate')
            : h('button.btn.small.danger-ghost', { type: 'button', onclick: () => setActive(u, false) }, 'Deactivate')),
      )) : emptyRow(7, 'No users.'), '#users-table'));
  }

  async function setActive(u, active) {
    if (!active && !await confirmDialog('Deactivate user', `Deactivate “${u.name}”? Their keys and sessions stop working at once.`, 'Deactivate')) return;
    try {
      await patch(`/api/users/${enc(u.name)}`, { deactivated: !active });
      toast(`User “${u.name}” ${active ? 'reactivated' : 'deactivated'}.`);
    } catch (err) { toast(err.message, 'error'); }
    load();
  }

  async function setPassword(u) {
    await modal(`Password for ${u.name}`, (close) => {
      const pw = h('input', { type: 'password', minlength: 8, required: true, autocomplete: 'new-password' });
      const f = h('form.form-stack', field('New password', pw),
        h('div.actions', h('button.btn.primary', { type: 'submit' }, 'Set password')));
      f.addEventListener('submit', async (e) => {
        e.preventDefault();
        try { await patch(`/api/users/${enc(u.name)}`, { password: pw.value }); toast('Password set.'); close(true); load(); } catch (err) { toast(err.message, 'error'); }
      });
      setTimeout(() => pw.focus());
      return f;
    });
  }

  clear(body, form, h('section.card', h('h2.card-title', 'Users'), tableBox));
  await load();
}

async function settingsTab(body) {
  const s = await get('/api/settings');
  const boxes = [
    ['require_allocation', 'Members must bind their keys to an allocation', 'Once a member may draw from an allocation, every key of theirs draws from one (recommended).'],
    ['restrict_private_upstreams', 'Refuse private endpoints for members\' providers', 'Loopback and private addresses are refused for providers created by members.'],
  ];
  clear(body, h('section.card#settings-card', h('h2.card-title', 'Organization settings'),
    boxes.map(([k, label, hint]) => {
      const cb = h('input', { type: 'checkbox', checked: s[k], 'data-setting': k });
      cb.addEventListener('change', async () => {
        try { await patch('/api/settings', { [k]: cb.checked }); toast('Setting saved.'); } catch (err) { cb.checked = !cb.checked; toast(err.message, 'error'); }
      });
      return h('label.setting', cb, h('span', h('strong', label), h('span.hint', hint)));
    })));
}
