// The shell and the hash router: `#/chat`, `#/chat/<conversation id>`, `#/connect`,
// `#/keys`, `#/providers`, `#/tunnels`, `#/usage`, `#/admin`, `#/login`. Each page is an ES
// module exporting `render(view, ctx)`, which may return a cleanup function (called when
// the user leaves the page).

import { session, restore, logout, me, isAdmin, setExpiredHandler } from './lib/api.js';
import { h, clear, toast } from './lib/dom.js';

const PAGES = {
  chat: { title: 'Chat', icon: 'M4 5h16v11H10l-6 4z', load: () => import('./pages/chat.js') },
  connect: { title: 'Connect', icon: 'M9 15l6-6M7.5 12.5 5 15a3 3 0 0 0 4 4l2.5-2.5M16.5 11.5 19 9a3 3 0 0 0-4-4l-2.5 2.5', load: () => import('./pages/connect.js') },
  keys: { title: 'AI Keys', icon: 'M14.5 9.5a4.5 4.5 0 1 1-9 0 4.5 4.5 0 0 1 9 0zM14 11l7 7M18 15l2-2M16 17l1.5-1.5', load: () => import('./pages/keys.js') },
  providers: { title: 'Providers', icon: 'M4 4h16v6H4zM4 14h16v6H4zM8 7h.01M8 17h.01', load: () => import('./pages/providers.js') },
  tunnels: { title: 'Tunnels', icon: 'M3 19a9 9 0 0 1 18 0M7 19a5 5 0 0 1 10 0M11 19h2', load: () => import('./pages/tunnels.js') },
  usage: { title: 'Usage', icon: 'M5 20V11M12 20V4M19 20v-6M3 20h18', load: () => import('./pages/usage.js') },
  admin: { title: 'Admin', icon: 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21a7 7 0 0 1 14 0M16 3.5a4 4 0 0 1 0 7.5M18 14.5a7 7 0 0 1 4 6.5', load: () => import('./pages/admin.js'), admin: true },
};

const root = document.getElementById('app');
let cleanup = null;
let shell = null; // { nav, view, user }
let expiredNotice = false;

export function logo(size = 28) {
  return h('svg.logo', { viewBox: '0 0 32 32', width: size, height: size, 'aria-hidden': 'true' },
    h('rect', { width: 32, height: 32, rx: 8, class: 'logo-bg' }),
    h('path', { d: 'M9 23V11l7 6 7-6v12', class: 'logo-mark' }));
}

function icon(d) {
  return h('svg.icon', { viewBox: '0 0 24 24', width: 18, height: 18, 'aria-hidden': 'true' }, h('path', { d }));
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'chat', rest: parts.slice(1), params: new URLSearchParams(query) };
}

export function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

function buildShell() {
  const nav = h('nav.nav', Object.entries(PAGES)
    .filter(([, p]) => !p.admin || isAdmin())
    .map(([id, p]) => h('a.nav-item', { href: `#/${id}`, 'data-page': id }, icon(p.icon), h('span', p.title))));
  const u = session.user || {};
  const aside = h('aside.sidebar',
    h('a.brand', { href: '#/chat' }, logo(), h('span', 'modelgate')),
    nav,
    h('div.userbox',
      h('div.avatar', (u.name || '?').slice(0, 1).toUpperCase()),
      h('div.who', h('div.who-name', u.name || ''), h('div.who-role', u.role || '')),
      h('button.btn.small.ghost#signout', { type: 'button', onclick: signOut }, 'Sign out')));
  const view = h('main.view#view');
  clear(root, h('div.shell', aside, view));
  shell = { nav, view };
}

async function signOut() {
  if (cleanup) { cleanup(); cleanup = null; }
  await logout();
  shell = null;
  expiredNotice = false;
  location.hash = '#/login';
}

async function showLogin() {
  if (cleanup) { cleanup(); cleanup = null; }
  shell = null;
  const view = h('div.login-view');
  clear(root, view);
  const mod = await import('./pages/login.js');
  mod.render(view, {
    expired: expiredNotice,
    logo,
    onSignedIn: () => {
      expiredNotice = false;
      const next = sessionStorage.getItem('mg.next');
      sessionStorage.removeItem('mg.next');
      location.hash = next && !next.startsWith('#/login') ? next : '#/chat';
      route();
    },
  });
}

let routing = 0;
async function route() {
  const { page, rest, params } = parseHash();
  if (!session.user || page === 'login') {
    if (session.user && page === 'login') return go('#/chat');
    return showLogin();
  }
  const def = PAGES[page];
  if (!def || (def.admin && !isAdmin())) return go('#/chat');
  if (!shell) buildShell();
  for (const a of shell.nav.querySelectorAll('.nav-item')) a.classList.toggle('active', a.dataset.page === page);
  document.title = `${def.title} · modelgate`;
  if (cleanup) { cleanup(); cleanup = null; }
  const mine = ++routing;
  const view = shell.view;
  clear(view, h('div.loading', 'Loading…'));
  try {
    const mod = await def.load();
    if (mine !== routing) return;
    clear(view);
    const c = await mod.render(view, { rest, params, go, isAdmin: isAdmin() });
    if (mine === routing && typeof c === 'function') cleanup = c; else if (typeof c === 'function') c();
  } catch (e) {
    if (!session.user) return; // expired: the login screen is already up
    if (mine !== routing) return;
    clear(view, h('div.notice.error', h('strong', 'This page could not load. '), e.message || String(e)));
  }
}

setExpiredHandler((hadSession) => {
  if (hadSession || shell) expiredNotice = true;
  if (!location.hash.startsWith('#/login')) sessionStorage.setItem('mg.next', location.hash || '#/chat');
  shell = null;
  if (location.hash.startsWith('#/login')) showLogin(); else location.hash = '#/login';
});

window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason && e.reason.status === 401) { e.preventDefault(); return; }
  if (e.reason && e.reason.name === 'AbortError') { e.preventDefault(); return; }
  if (e.reason && e.reason.message) toast(e.reason.message, 'error');
});

(async () => {
  try {
    if (await restore()) await me();
  } catch { /* the login screen follows */ }
  route();
})();
