// Tunnels: a model server that accepts no inbound connection dials out to the gateway.
// Create one (its token and the exact agent command are shown once), see whether its agent
// is connected, revoke it.

import { list, post, del, enc } from '../lib/api.js';
import { h, clear, badge, copyButton, codeBlock, confirmDialog, field, fmt, formData, pageHeader, table, emptyRow, toast, NAME_PATTERN } from '../lib/dom.js';

export async function render(view) {
  const created = h('div#tunnel-created');
  const tableBox = h('div');
  const form = h('form.card.form-grid#tunnel-form',
    h('h2.card-title', 'Create a tunnel'),
    field('Name', h('input#tunnel-name', { name: 'name', required: true, placeholder: 'lab-llama', pattern: NAME_PATTERN, maxlength: 64 }), 'It becomes a provider: models are named name/model.'),
    field('Description', h('input#tunnel-description', { name: 'description', placeholder: 'vLLM in my compute session' })),
    h('div.form-actions', h('button.btn.primary#tunnel-create', { type: 'submit' }, 'Create tunnel')));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = formData(form);
    try {
      const t = await post('/api/tunnels', d.description ? d : { name: d.name });
      const envCmd = t.command.includes('--token ')
        ? `MODELGATE_TUNNEL_TOKEN=${t.token} ${t.command.replace(/\s*--token\s+\S+/, '')}` : null;
      clear(created, h('div.card.once',
        h('h2.card-title', `Tunnel “${t.name}” created`),
        h('p', h('strong', 'Copy the token now: '), 'it is shown only this once.'),
        h('div.secret', h('code#tunnel-token', t.token), copyButton(t.token)),
        h('p', 'Start your model server in the session, then run the agent next to it (the same ', h('code', 'modelgate'), ' binary):'),
        h('div#tunnel-command', codeBlock(t.command, 'bash', { wrap: true })),
        envCmd ? h('p.muted', 'To keep the token out of the process list, pass it through the environment instead:') : null,
        envCmd ? codeBlock(envCmd, 'bash', { wrap: true }) : null,
        h('p.muted', 'Point --target at your server: vLLM http://127.0.0.1:8000, Ollama http://127.0.0.1:11434, llama.cpp or TGI http://127.0.0.1:8080. Within seconds the tunnel shows running below.'),
        h('div.actions', h('button.btn', { type: 'button', onclick: () => clear(created) }, 'Done'))));
      form.reset();
      load();
    } catch (err) {
      toast(err.message, 'error');
    }
  });

  async function load() {
    const tunnels = await list('/api/tunnels');
    clear(tableBox, table(['Name', 'Status', 'Connected since', 'Agent', 'Models', 'Created', ''],
      tunnels.length ? tunnels.map((t) => h('tr', { 'data-tunnel': t.name },
        h('td', h('div.strong', t.name), t.description ? h('div.muted.small', t.description) : null),
        h('td', badge(t.status, t.status === 'running' ? 'ok' : 'muted')),
        h('td', t.connected_since ? fmt.date(t.connected_since) : h('span.muted', '—')),
        h('td', t.agent_version ? `${t.agent_name ? t.agent_name + ' · ' : ''}v${t.agent_version}` : h('span.muted', '—')),
        h('td', t.models.length ? t.models.map((m) => h('span.chip', m)) : h('span.muted', t.models_error || 'none yet')),
        h('td', fmt.date(t.created_at)),
        h('td.right',
          t.status === 'running' && t.models.length ? h('a.btn.small.ghost', { href: `#/connect?provider=${enc(t.name)}` }, 'Connect') : null,
          h('button.btn.small.danger-ghost', { type: 'button', onclick: () => revoke(t) }, 'Revoke')),
      )) : emptyRow(7, 'No tunnels yet.'), '#tunnels-table'));
  }

  async function revoke(t) {
    if (!await confirmDialog('Revoke tunnel', `Revoke “${t.name}”? Its token stops working and a connected agent is dropped at once.`, 'Revoke')) return;
    await del(`/api/tunnels/${enc(t.name)}`);
    toast(`Tunnel “${t.name}” revoked.`);
    load();
  }

  clear(view,
    pageHeader('Tunnels', 'Reach a model server that accepts no inbound connections (vLLM or Ollama in a compute session): an agent next to it dials out to the gateway. Tunnels are private to you.',
      h('button.btn#tunnels-refresh', { type: 'button', onclick: () => load() }, 'Refresh')),
    created, form, h('section.card', h('h2.card-title', 'Your tunnels'), tableBox));
  await load();
  const timer = setInterval(() => { if (document.visibilityState === 'visible') load().catch(() => {}); }, 5000);
  return () => clearInterval(timer);
}
