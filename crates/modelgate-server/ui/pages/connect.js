// Connect external tools: for a provider and model, the base URLs, the model id and
// ready-to-paste snippets for SDKs, editors and agents. Keys appear as $MODELGATE_KEY.

import { list } from '../lib/api.js';
import { h, clear, setOptions, codeBlock, copyButton, pageHeader } from '../lib/dom.js';

const KEY = '$MODELGATE_KEY';
/** Where a shell variable cannot be used (settings files, forms), the key is this. */
const KEY_TEXT = '<your modelgate key>';

/** A small model's id: haiku, mini, nano, flash, lite, small or tiny as a word of the id. */
const SMALL = /(^|[-_.:/])(haiku|mini|nano|flash|lite|small|tiny)([-_.:@]|$)/i;

/** The model of `models` an agent's background tasks should use: a small one, else `m`. */
export function smallModel(models, m) {
  return SMALL.test(m) ? m : (models.find((x) => SMALL.test(x)) ?? m);
}

/** The snippets for one model; `o` = origin, `m` = model id, `small` = a small model's id for
 * background tasks, `context` and `maxOutput` = the model's limits when known (from GET
 * /v1/models). Each: [id, title, intro, blocks, values]; a block is [lang, text, caption?]. */
export function snippets(o, m, { small = m, context = null, maxOutput = null } = {}) {
  const v1 = `${o}/v1`;
  const json = (x) => JSON.stringify(x, null, 2);
  const str = (x) => JSON.stringify(x); // a TOML basic string is a JSON string
  const claudeEnv = {
    ANTHROPIC_BASE_URL: o,
    ANTHROPIC_AUTH_TOKEN: KEY,
    ANTHROPIC_MODEL: m,
    ANTHROPIC_DEFAULT_HAIKU_MODEL: small,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    ...(maxOutput ? { CLAUDE_CODE_MAX_OUTPUT_TOKENS: String(maxOutput) } : {}),
  };
  return [
    ['openai-python', 'OpenAI SDK', 'pip install openai — any OpenAI SDK works the same way.', [['python', `import os
from openai import OpenAI

client = OpenAI(base_url="${v1}", api_key=os.environ["MODELGATE_KEY"])

reply = client.chat.completions.create(
    model="${m}",
    messages=[{"role": "user", "content": "Hello"}],
)
print(reply.choices[0].message.content)

# Streaming
for chunk in client.chat.completions.create(
    model="${m}", stream=True,
    messages=[{"role": "user", "content": "Tell me a story"}],
):
    print(chunk.choices[0].delta.content or "", end="", flush=True)`]]],
    ['curl', 'curl', 'Streams with -N; drop "stream" for one JSON answer.', [['bash', `curl -N ${v1}/chat/completions \\
  -H "Authorization: Bearer ${KEY}" \\
  -H "Content-Type: application/json" \\
  -d '${JSON.stringify({ model: m, stream: true, messages: [{ role: 'user', content: 'Hello' }] })}'`],
    ['bash', `curl ${v1}/models -H "Authorization: Bearer ${KEY}"`]]],
    ['anthropic-python', 'Anthropic SDK', 'pip install anthropic — the gateway translates the Messages API for any model. The base URL is the origin (the SDK adds /v1/messages).', [['python', `import os
import anthropic

client = anthropic.Anthropic(base_url="${o}", api_key=os.environ["MODELGATE_KEY"])

msg = client.messages.create(
    model="${m}",
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello"}],
)
print(msg.content[0].text)`]]],
    ['openai-agents', 'Agents SDK', 'pip install openai-agents — the OpenAI Agents SDK for Python, on the Responses API, which the gateway serves on every backend kind. Tracing is turned off: it would upload traces to OpenAI with this key.', [['python', `import os
from openai import AsyncOpenAI
from agents import Agent, Runner, set_default_openai_client, set_default_openai_api, set_tracing_disabled

set_default_openai_client(AsyncOpenAI(base_url="${v1}", api_key=os.environ["MODELGATE_KEY"]))
set_default_openai_api("responses")
set_tracing_disabled(True)

agent = Agent(name="Assistant", instructions="You are a concise assistant.", model="${m}")
result = Runner.run_sync(agent, "Write a haiku about gateways.")
print(result.final_output)`]]],
    ['claude-code', 'Claude Code', `Works on every backend kind (Anthropic, OpenAI-compatible, Bedrock, Azure): the gateway translates the Messages API. The base URL is the origin, without /v1. ANTHROPIC_AUTH_TOKEN is sent as a bearer token; do not also set ANTHROPIC_API_KEY (Claude Code reports a conflict; other Anthropic-API agents may want it instead). ANTHROPIC_DEFAULT_HAIKU_MODEL runs background tasks, so pick a small model${maxOutput ? '; CLAUDE_CODE_MAX_OUTPUT_TOKENS keeps answers within this model\'s output limit' : ''}.`, [['bash', `${Object.entries(claudeEnv).map(([k, v]) => `export ${k}=${v}`).join('\n')}
claude`], ['json', json({ env: { ...claudeEnv, ANTHROPIC_AUTH_TOKEN: KEY_TEXT } }), 'Or the same in ~/.claude/settings.json (values there are literal: paste the key itself):']]],
    ['codex', 'Codex CLI', 'npm i -g @openai/codex — Codex speaks only the Responses API, which the gateway serves on every backend kind. Put this in ~/.codex/config.toml:', [['toml', `model = ${str(m)}
model_provider = "modelgate"
${context ? `model_context_window = ${context}` : '# model_context_window = <tokens>  # the context window, if Codex does not know the model'}

[model_providers.modelgate]
name = "modelgate"
base_url = ${str(v1)}
wire_api = "responses"
env_key = "MODELGATE_API_KEY"`], ['bash', `export MODELGATE_API_KEY=${KEY}
codex                                   # interactive
codex exec "Summarize this repository"  # one shot, non-interactive`, 'Codex reads the key from the variable env_key names:']]],
    ['open-webui', 'Open WebUI', `Set these when starting Open WebUI (or add a connection under Admin Settings → Connections → OpenAI), then pick ${m} in the model menu. From inside a container, 127.0.0.1 is the container itself: use host.docker.internal or the host's address.`, [['bash', `OPENAI_API_BASE_URL=${v1}
OPENAI_API_KEY=${KEY}`], ['bash', `docker run -d -p 3000:8080 \\
  -e OPENAI_API_BASE_URL=${v1.replace('://127.0.0.1', '://host.docker.internal').replace('://localhost', '://host.docker.internal')} \\
  -e OPENAI_API_KEY=${KEY} \\
  --add-host=host.docker.internal:host-gateway \\
  ghcr.io/open-webui/open-webui:main`]]],
    ['opencode', 'OpenCode', 'Put this in opencode.json (project) or ~/.config/opencode/opencode.json; the key comes from the MODELGATE_KEY environment variable.', [['json', json({
      $schema: 'https://opencode.ai/config.json',
      provider: {
        modelgate: {
          npm: '@ai-sdk/openai-compatible',
          name: 'modelgate',
          options: { baseURL: v1, apiKey: '{env:MODELGATE_KEY}' },
          models: { [m]: { name: m } },
        },
      },
      model: `modelgate/${m}`,
    })]]],
    ['kilo-code', 'Kilo Code', 'Settings → Providers → API Provider “OpenAI Compatible”, then fill in:', [['text', `Base URL: ${v1}
API Key:  ${KEY_TEXT}
Model:    ${m}`]], [['Base URL', v1], ['Model', m]]],
    ['cursor', 'Cursor', 'Settings → Models: paste your key in “OpenAI API Key”, turn on “Override OpenAI Base URL”, then “Add model”. Cursor calls the gateway from its own servers, so the gateway must be reachable from the internet (not 127.0.0.1).', [['text', `OpenAI API Key:            ${KEY_TEXT}
Override OpenAI Base URL:  ${v1}
Custom model:              ${m}`]], [['Base URL', v1], ['Model', m]]],
  ];
}

/** GET /v1/models as a map id → {context_window, max_output_tokens}; empty if unreadable. */
async function modelLimits() {
  try {
    return new Map((await list('/v1/models')).map((e) => [e.id, e]));
  } catch {
    return new Map();
  }
}

export async function render(view, { params }) {
  const [listed, limits] = await Promise.all([list('/api/providers'), modelLimits()]);
  const providers = listed.filter((p) => p.models.length || p.kind === 'openai-tunnel');
  const origin = location.origin;
  const providerSel = h('select#connect-provider', { 'aria-label': 'Provider' });
  const modelSel = h('select#connect-model', { 'aria-label': 'Model' });
  const facts = h('div.facts');
  const tabs = h('div.tabs.tool-tabs', { role: 'tablist' });
  const panel = h('div.tab-panel#connect-panel');
  // `claude-agents` was the Claude Code tab's id before it was renamed.
  let active = ({ 'claude-agents': 'claude-code' })[params.get('tool')] || params.get('tool') || 'openai-python';

  clear(view,
    pageHeader('Connect your tools', 'Point SDKs, editors and agents at this gateway. Everything below is ready to paste.'),
    h('div.notice.info', h('strong', 'Your key: '), 'the snippets use ', h('code', KEY), '. Create a key under ',
      h('a', { href: '#/keys' }, 'AI Keys'), ' (it is shown once), then ', h('code', 'export MODELGATE_KEY=mg_…'), '.'),
    h('section.card', h('div.row.gap', h('label.field', h('span.label', 'Provider'), providerSel),
      h('label.field.grow', h('span.label', 'Model'), modelSel)), facts),
    h('section.card', tabs, panel));

  if (!providers.length) {
    clear(facts, h('p.muted', 'No provider with models is available to you yet. Add one under ', h('a', { href: '#/providers' }, 'Providers'), '.'));
  }
  const wanted = params.get('provider') || localStorage.getItem('mg.chat.provider') || (providers[0] || {}).name;
  setOptions(providerSel, providers.map((p) => [p.name, p.name]), wanted);

  function fillModels() {
    const p = providers.find((x) => x.name === providerSel.value);
    const models = p ? p.models : [];
    const want = params.get('model') || localStorage.getItem('mg.chat.model:' + providerSel.value);
    setOptions(modelSel, models.length ? models : [['', 'No models discovered']], want);
    params.delete('model');
    show();
  }

  function fact(label, value, id) {
    return h('div.fact', h('span.fact-label', label), h('code.fact-value', { id }, value), copyButton(value));
  }

  function show() {
    const p = providerSel.value;
    const m = modelSel.value;
    if (!p) return;
    const id = m ? `${p}/${m}` : `${p}/MODEL`;
    const known = limits.get(id) || {};
    const models = (providers.find((x) => x.name === p) || {}).models || [];
    const small = m ? `${p}/${smallModel(models, m)}` : id;
    clear(facts,
      fact('Base URL (OpenAI clients)', `${origin}/v1`, 'fact-base-url'),
      fact('Base URL (Anthropic clients)', origin, 'fact-anthropic-url'),
      fact('Model id', id, 'fact-model-id'),
      known.context_window ? fact('Context window (tokens)', String(known.context_window), 'fact-context') : null,
      known.max_output_tokens ? fact('Max output (tokens)', String(known.max_output_tokens), 'fact-max-output') : null);
    const all = snippets(origin, id, { small, context: known.context_window, maxOutput: known.max_output_tokens });
    clear(tabs, all.map(([tid, title]) => h('button.tab', {
      type: 'button', role: 'tab', class: tid === active ? 'active' : '', 'data-tool': tid,
      onclick: () => { active = tid; show(); },
    }, title)));
    const [, title, intro, blocks, values] = all.find(([tid]) => tid === active) || all[0];
    clear(panel, h('h3', title), h('p.muted', intro),
      values ? h('div.facts', values.map(([l, v]) => fact(l, v))) : null,
      blocks.map(([lang, text, caption]) => [caption ? h('p.muted.block-caption', caption) : null, codeBlock(text, lang)]));
  }

  providerSel.addEventListener('change', fillModels);
  modelSel.addEventListener('change', show);
  fillModels();
}
