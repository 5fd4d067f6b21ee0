// The provider dialogs: add (catalog vendor, custom OpenAI-compatible endpoint, Azure
// OpenAI, AWS Bedrock; "Test connection" asks the gateway to try the settings without
// saving them) and edit (PATCH of what changed).

import { post, patch, enc } from '../lib/api.js';
import { h, clear, modal, field, select, formData, toast, NAME_PATTERN } from '../lib/dom.js';

const KINDS = [['catalog', 'Catalog vendor'], ['custom', 'Custom endpoint'], ['azure', 'Azure OpenAI'], ['bedrock', 'AWS Bedrock']];

const csv = (s) => (s || '').split(/[,\n]/).map((x) => x.trim()).filter(Boolean);

/** `model = deployment` lines → {model: deployment}. */
export function parseMap(text) {
  const out = {};
  for (const line of (text || '').split('\n')) {
    const [k, v] = line.split(/\s*[=:]\s*/);
    if (k && k.trim()) out[k.trim()] = (v || k).trim();
  }
  return out;
}

/** `model input output` lines (USD per million tokens) → prices. */
export function parsePrices(text) {
  const out = {};
  for (const line of (text || '').split('\n').map((l) => l.trim()).filter(Boolean)) {
    const parts = line.split(/\s+/);
    const [output, input] = [Number(parts.pop()), Number(parts.pop())];
    if (!parts.length || !Number.isFinite(input) || !Number.isFinite(output)) throw new Error(`Price line “${line}”: write “model input output” in USD per million tokens.`);
    out[parts.join(' ')] = { input, output };
  }
  return out;
}

const pricesText = (prices) => Object.entries(prices || {}).map(([m, p]) => `${m} ${p.input} ${p.output}`).join('\n');
const mapText = (m) => Object.entries(m || {}).map(([k, v]) => `${k} = ${v}`).join('\n');
const ta = (name, placeholder, value = '') => h(`textarea#pf-${name}`, { name, rows: 3, placeholder }, value);
const inp = (name, attrs = {}) => h(`input#pf-${name}`, { name, ...attrs });

function kindFields(kind, vendors) {
  const nameF = field('Name', inp('name', { required: true, placeholder: 'my-provider', pattern: NAME_PATTERN, maxlength: 64 }), 'Letters, digits, dash, underscore. Its models are named name/model.');
  const key = (req, hint) => field('API key', inp('api_key', { type: 'password', autocomplete: 'off', required: req }), hint);
  const models = (hint) => field('Models', ta('models', 'model-a, model-b'), hint);
  if (kind === 'catalog') {
    const vendorSel = select(vendors.map((v) => [v.id, v.name]), 'openai', { name: 'vendor', id: 'pf-vendor' });
    const note = h('p.hint.vendor-note');
    const endpoint = inp('endpoint', { placeholder: 'default' });
    const sync = () => {
      const v = vendors.find((x) => x.id === vendorSel.value) || {};
      endpoint.placeholder = v.base_url || '';
      endpoint.required = Boolean(v.template);
      clear(note, v.template ? `Self-hosted: give the server's address (default ${v.base_url}).` : (v.notes || `Default endpoint ${v.base_url}.`));
    };
    vendorSel.addEventListener('change', sync);
    sync();
    return [field('Vendor', vendorSel), note, nameF, key(false, 'Needed by hosted vendors; stored encrypted, never shown again.'),
      field('Endpoint', endpoint, 'Leave empty for the vendor\'s default.'), models('Optional: leave empty to discover them.')];
  }
  if (kind === 'custom') {
    return [nameF, field('Endpoint', inp('endpoint', { required: true, placeholder: 'http://gpu-node:8000/v1' }), 'vLLM, Ollama, LM Studio, TGI or any OpenAI-compatible server.'),
      key(false, 'Optional.'), models('Optional: leave empty to discover them from /v1/models.')];
  }
  if (kind === 'azure') {
    return [nameF, field('Endpoint', inp('endpoint', { required: true, placeholder: 'https://RESOURCE.openai.azure.com' })),
      field('API version', inp('api_version', { value: '2025-01-01-preview' })),
      field('Deployments', ta('deployments', 'gpt-4o = prod-gpt4o'), 'One “model = deployment” per line.'), key(true)];
  }
  return [nameF, field('Region', inp('region', { required: true, placeholder: 'us-east-1' })),
    field('Access key id', inp('access_key_id', { required: true, autocomplete: 'off' })),
    field('Secret access key', inp('secret_access_key', { type: 'password', required: true, autocomplete: 'off' })),
    field('Session token', inp('session_token', { type: 'password', autocomplete: 'off' }), 'Optional (temporary credentials).'),
    field('Endpoint', inp('endpoint', { placeholder: 'https://bedrock-runtime.REGION.amazonaws.com' }), 'Optional.'),
    models('Bedrock model ids, e.g. anthropic.claude-3-5-sonnet-20240620-v1:0 (required: Bedrock lists models on another API).')];
}

/** The POST body for the form's kind. */
function bodyOf(kind, d) {
  const b = { name: d.name };
  if (d.description) b.description = d.description;
  if (d.models) b.models = csv(d.models);
  if (d.prices) b.prices = parsePrices(d.prices);
  if (kind === 'catalog') { b.kind = d.vendor; if (d.endpoint) b.endpoint = d.endpoint; if (d.api_key) b.api_key = d.api_key; }
  if (kind === 'custom') { b.kind = 'openai-compatible'; b.endpoint = d.endpoint; if (d.api_key) b.api_key = d.api_key; }
  if (kind === 'azure') {
    Object.assign(b, { kind: 'azure-openai', endpoint: d.endpoint, api_key: d.api_key, deployments: parseMap(d.deployments) });
    if (d.api_version) b.api_version = d.api_version;
  }
  if (kind === 'bedrock') {
    Object.assign(b, { kind: 'aws-bedrock', region: d.region, auth: { type: 'aws-sigv4', access_key_id: d.access_key_id, secret_access_key: d.secret_access_key } });
    if (d.session_token) b.auth.session_token = d.session_token;
    if (d.endpoint) b.endpoint = d.endpoint;
  }
  return b;
}

const advanced = (p = {}) => h('details.advanced', h('summary', 'More settings'),
  field('Description', inp('description', { value: p.description || '' })),
  field('Prices', ta('prices', 'model-a 0.15 0.60', pricesText(p.prices)), 'Optional: “model input output” per line, USD per million tokens (0 0 = free). Replaces the catalog\'s list prices.'));

/** The "add provider" dialog; resolves with the created provider or null. */
export function addProvider(catalog) {
  const vendors = catalog.vendors.filter((v) => !['azure-openai', 'aws-bedrock'].includes(v.id));
  return modal('Add a provider', (close) => {
    let kind = 'catalog';
    const fields = h('div.form-stack');
    const result = h('div.test-result');
    const tabs = h('div.segmented', KINDS.map(([k, label]) => h('button.seg', {
      type: 'button', 'data-kind': k, class: k === kind ? 'active' : '',
      onclick: () => { kind = k; for (const b of tabs.children) b.classList.toggle('active', b.dataset.kind === k); fill(); },
    }, label)));
    const fill = () => { clear(fields, kindFields(kind, vendors), advanced()); clear(result); };
    const testBtn = h('button.btn#pf-test', { type: 'button' }, 'Test connection');
    const form = h('form#provider-form', tabs, fields, result,
      h('div.actions', testBtn, h('span.spacer'), h('button.btn', { type: 'button', onclick: () => close(null) }, 'Cancel'),
        h('button.btn.primary#pf-save', { type: 'submit' }, 'Add provider')));
    testBtn.addEventListener('click', async () => {
      let body;
      try { body = bodyOf(kind, formData(form)); } catch (e) { return toast(e.message, 'error'); }
      if (!body.name) delete body.name;
      testBtn.disabled = true;
      clear(result, h('p.muted', 'Testing…'));
      try {
        const r = await post('/api/providers/test', body);
        clear(result, r.ok
          ? h('div.notice.ok#pf-test-ok', h('strong', 'Connected. '), r.models && r.models.length ? `Models: ${r.models.join(', ')}` : 'No models listed.')
          : h('div.notice.error#pf-test-error', h('strong', 'Failed: '), r.error || 'unknown error'));
      } catch (e) {
        clear(result, h('div.notice.error#pf-test-error', h('strong', 'Failed: '), e.message));
      } finally { testBtn.disabled = false; }
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        close(await post('/api/providers', bodyOf(kind, formData(form))));
      } catch (err) {
        clear(result, h('div.notice.error', err.message));
      }
    });
    fill();
    return form;
  }, { wide: true });
}

/** The edit dialog: only changed fields are sent. */
export function editProvider(p) {
  return modal(`Edit ${p.name}`, (close) => {
    const azure = p.kind === 'azure-openai';
    const models = p.models_source === 'listed' ? p.models.join(', ') : '';
    const form = h('form#provider-edit.form-stack',
      field('Endpoint', inp('endpoint', { value: p.endpoint })),
      p.kind === 'aws-bedrock' ? null : field('API key', inp('api_key', { type: 'password', autocomplete: 'off', placeholder: p.auth.configured ? '•••••• (unchanged)' : 'none' }), 'Leave empty to keep the current key.'),
      azure ? field('API version', inp('api_version', { value: (p.azure && p.azure.api_version) || '' })) : null,
      azure ? field('Deployments', ta('deployments', 'gpt-4o = prod-gpt4o', mapText(p.azure && p.azure.deployments))) : null,
      field('Models', ta('models', 'discovered', models), 'Empty: discover them from the endpoint.'),
      field('Description', inp('description', { value: p.description || '' })),
      field('Prices', ta('prices', 'model-a 0.15 0.60', pricesText(p.prices)), '“model input output” per line, USD per million tokens.'),
      h('div.error-box'),
      h('div.actions', h('button.btn', { type: 'button', onclick: () => close(null) }, 'Cancel'),
        h('button.btn.primary#pe-save', { type: 'submit' }, 'Save changes')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const d = formData(form);
      const b = {};
      try {
        if (d.endpoint !== p.endpoint) b.endpoint = d.endpoint;
        if (d.api_key) b.api_key = d.api_key;
        if (d.models !== models) b.models = d.models ? csv(d.models) : null;
        if (d.description !== (p.description || '')) b.description = d.description || null;
        if (d.prices !== pricesText(p.prices)) b.prices = parsePrices(d.prices);
        if (azure && d.api_version !== ((p.azure && p.azure.api_version) || '')) b.api_version = d.api_version;
        if (azure && d.deployments !== mapText(p.azure && p.azure.deployments)) b.deployments = parseMap(d.deployments);
        close(Object.keys(b).length ? await patch(`/api/providers/${enc(p.name)}`, b) : null);
      } catch (err) {
        clear(form.querySelector('.error-box'), h('div.notice.error', err.message));
      }
    });
    return form;
  }, { wide: true });
}
