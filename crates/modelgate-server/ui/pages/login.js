// The sign-in screen: name and password → session cookie + CSRF token (kept in memory).

import { login, me } from '../lib/api.js';
import { h, clear } from '../lib/dom.js';

export function render(view, { expired, onSignedIn, logo }) {
  const error = h('div.notice.error.hidden', { role: 'alert' });
  const name = h('input#login-name', { name: 'name', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input#login-password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button.btn.primary.block#login-submit', { type: 'submit' }, 'Sign in');
  const form = h('form.login-card',
    h('div.login-brand', logo(40), h('div', h('div.login-title', 'modelgate'), h('div.login-sub', 'AI gateway'))),
    expired ? h('div.notice.warn#session-expired', 'Your session expired. Please sign in again.') : null,
    error,
    h('label.field', h('span.label', 'User name'), name),
    h('label.field', h('span.label', 'Password'), password),
    submit,
    h('p.login-foot', 'No password yet? An administrator sets it for you (Admin → Users).'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    error.classList.add('hidden');
    try {
      await login(name.value.trim(), password.value);
      await me();
      onSignedIn();
    } catch (err) {
      clear(error, err.status === 401 || err.status === 403
        ? (err.message || 'Wrong user name or password.')
        : `Could not sign in: ${err.message}`);
      error.classList.remove('hidden');
      submit.disabled = false;
      submit.textContent = 'Sign in';
      password.select();
    }
  });
  clear(view, h('div.login-wrap', form));
  name.focus();
}
