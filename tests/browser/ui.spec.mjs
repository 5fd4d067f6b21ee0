// Browser tests of the web UI (run by tests/browser/run.sh, which starts the gateway and
// the mock upstream and passes MG_ORIGIN, MG_ADMIN_KEY, MG_MOCK_ORIGIN, MG_ARTIFACTS).
// A plain node script: one line per check, then "browser: N passed, M failed"; exits 1 on
// any failure. Screenshots of every page go to MG_ARTIFACTS.

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';

const ORIGIN = process.env.MG_ORIGIN;
const ADMIN_KEY = process.env.MG_ADMIN_KEY;
const MOCK = process.env.MG_MOCK_ORIGIN;
const ART = process.env.MG_ARTIFACTS || 'artifacts';
const ADMIN_PW = 'admin-password-123';
const ADA_PW = 'ada-password-123';
const T = 10_000;
const MD_SAMPLE = `## Answer with **Markdown**

Here is *some* text with \`inline code\`, a [link](https://example.org) and a <b>tag</b> that stays text.

1. First step
2. Second step
   - a nested point

\`\`\`python
def greet(name):
    return f"Hello, {name}!"
\`\`\`

| model | price |
|---|---|
| m1 | **free** |

> A quote to finish.`;

const openPages = [];
let passed = 0;
let failed = 0;
const jsErrors = [];

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${String(e && e.message || e).split('\n').slice(0, 3).join(' | ')}`);
    // A dialog left open would block the next checks.
    for (const p of openPages) await p.evaluate(() => document.querySelectorAll('dialog[open]').forEach((d) => d.remove())).catch(() => {});
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
function eq(a, b, what) { if (a !== b) throw new Error(`${what}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`); }

async function adminApi(method, path, body) {
  const r = await fetch(ORIGIN + path, {
    method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function shot(page, name) {
  await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  await page.screenshot({ path: `${ART}/${name}.png`, fullPage: true });
}
const go = async (page, hash) => {
  const url = `${ORIGIN}/ui/${hash}`;
  if (page.url() === url) await page.reload(); else await page.goto(url);
  await page.locator('main.view .loading').waitFor({ state: 'detached', timeout: T }).catch(() => {}); };
const text = (page, sel) => page.locator(sel).first().textContent({ timeout: T });
async function waitText(page, sel, re, timeout = T) {
  try {
    await page.waitForFunction(([s, src]) => [...document.querySelectorAll(s)].some((e) => new RegExp(src).test(e.textContent)),
      [sel, re.source], { timeout });
  } catch (e) {
    const seen = await page.evaluate((s) => [...document.querySelectorAll(s)].map((x) => x.textContent.trim().slice(0, 200)), sel).catch(() => []);
    throw new Error(`no ${sel} matching ${re} within ${timeout} ms; saw: ${JSON.stringify(seen)}`);
  }
}
const serverErrors = [];
function watch(page, who) {
  openPages.push(page);
  page.setDefaultTimeout(T);
  page.on('response', (r) => {
    if (r.status() >= 500 && new URL(r.url()).pathname.startsWith('/api/')) serverErrors.push(`${r.request().method()} ${new URL(r.url()).pathname} → ${r.status()}`);
  });
  page.on('pageerror', (e) => jsErrors.push(`${who}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) jsErrors.push(`${who}: ${m.text()}`);
  });
}
async function signIn(page, name, pw) {
  await page.goto(`${ORIGIN}/ui/#/login`);
  await page.fill('#login-name', name);
  await page.fill('#login-password', pw);
  await page.click('#login-submit');
  await page.locator('.shell .nav').waitFor({ timeout: T });
}
async function newChat(page) {
  await page.click('#new-chat');
  await page.locator('.chat-empty').waitFor({ timeout: T });
}
/** The answer's POST to /api/conversations/{id}/messages (sent once the stream ends); the
 * page retries a 5xx, so this waits for the first answer below 500. */
const answerSaved = (page) => page.waitForResponse((r) => r.request().method() === 'POST'
  && /\/api\/conversations\/[^/]+\/messages$/.test(new URL(r.url()).pathname)
  && (r.request().postData() || '').includes('"assistant"') && r.status() < 500, { timeout: T });
async function send(page, message) {
  const saved = answerSaved(page);
  await page.fill('#chat-input', message);
  await page.press('#chat-input', 'Enter');
  await page.locator('.msg.assistant').last().waitFor({ timeout: T });
  await page.waitForFunction(() => !document.querySelector('.msg.streaming'), null, { timeout: T });
  const r = await saved;
  assert(r.ok(), `saving the answer: ${r.status()} ${await r.text()}`);
}

rmSync(ART, { recursive: true, force: true });
mkdirSync(ART, { recursive: true });
await adminApi('PATCH', '/api/users/admin', { password: ADMIN_PW });

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const ctxOpts = { viewport: { width: 1366, height: 860 }, permissions: ['clipboard-read', 'clipboard-write'] };
const adminCtx = await browser.newContext(ctxOpts);
const page = await adminCtx.newPage();
watch(page, 'admin');
let agent = null;
let adaConv = null;

try {
  await check('GET / and /ui redirect to /ui/; assets carry the CSP, nosniff and no-cache', async () => {
    for (const p of ['/', '/ui']) {
      const r = await fetch(ORIGIN + p, { redirect: 'manual' });
      assert(r.status >= 300 && r.status < 400, `${p}: status ${r.status}`);
      eq(r.headers.get('location'), '/ui/', `${p} location`);
    }
    const js = await fetch(`${ORIGIN}/ui/app.js`);
    assert(js.headers.get('content-type').startsWith('text/javascript'), 'app.js content-type');
    assert(/script-src 'self'/.test(js.headers.get('content-security-policy')), 'CSP');
    eq(js.headers.get('x-content-type-options'), 'nosniff', 'nosniff');
    eq(js.headers.get('cache-control'), 'no-cache', 'cache-control');
    eq((await fetch(`${ORIGIN}/ui/nope.js`)).status, 404, 'unknown asset');
  });

  await check('sign-in screen: a wrong password is refused, the right one opens the console', async () => {
    await page.goto(`${ORIGIN}/ui/`);
    await page.locator('#login-name').waitFor({ timeout: T });
    await shot(page, '01-login');
    await page.fill('#login-name', 'admin');
    await page.fill('#login-password', 'wrong-password');
    await page.click('#login-submit');
    await page.locator('.login-card .notice.error:not(.hidden)').waitFor({ timeout: T });
    await signIn(page, 'admin', ADMIN_PW);
    assert(await page.locator('.nav-item[data-page=admin]').count() === 1, 'admins see Admin');
  });

  await check('admin: create the member ada with a password', async () => {
    await go(page, '#/admin/users');
    await page.fill('#user-name', 'ada');
    await page.selectOption('#user-role', 'member');
    await page.fill('#user-password', ADA_PW);
    await page.click('#user-create');
    await page.locator('[data-user=ada]').waitFor({ timeout: T });
    await shot(page, '02-admin-users');
  });

  await check('admin: create group research and add ada', async () => {
    await go(page, '#/admin/groups');
    await page.fill('#group-name', 'research');
    await page.click('#group-create');
    const card = page.locator('[data-group=research]');
    await card.waitFor({ timeout: T });
    await card.locator('select').selectOption('ada');
    await card.locator('button:has-text("Add member")').click();
    await page.locator('[data-group=research] .chip:has-text("ada")').waitFor({ timeout: T });
    await shot(page, '03-admin-groups');
  });

  await check('admin: create a $5 monthly allocation for research', async () => {
    await go(page, '#/admin/allocations');
    await page.fill('#alloc-name', 'research-monthly');
    await page.selectOption('#alloc-owner-kind', 'group');
    await page.selectOption('#alloc-owner', 'research');
    await page.fill('#alloc-limit', '5');
    await page.click('#alloc-create');
    await page.locator('[data-allocation=research-monthly]').waitFor({ timeout: T });
    await shot(page, '04-admin-allocations');
  });

  await check('providers: add the mock as a custom endpoint; "Test connection" lists its models', async () => {
    await go(page, '#/providers');
    await page.click('#add-provider');
    await page.click('.seg[data-kind=custom]');
    await page.fill('#pf-name', 'mock');
    await page.fill('#pf-endpoint', MOCK);
    await page.click('#pf-test');
    await page.locator('#pf-test-ok, #pf-test-error').waitFor({ timeout: T });
    await shot(page, '05-provider-add-test');
    const result = await text(page, '.test-result');
    await page.click('details.advanced summary');
    await page.fill('#pf-prices', 'm1 10 20\ndrip-model 10 20');
    await page.click('#pf-save');
    await page.locator('[data-provider=mock] .chip:has-text("m1")').waitFor({ timeout: T });
    assert(/Connected/.test(result) && /m1/.test(result), `test connection said: ${result}`);
  });

  await check('providers: edit (PATCH) the description', async () => {
    await page.click('[data-provider=mock] button:has-text("Edit")');
    await page.fill('#pf-description', 'The mock upstream');
    await page.click('#pe-save');
    await waitText(page, '[data-provider=mock]', /The mock upstream/);
  });

  await check('providers: share mock with the group research', async () => {
    await page.click('[data-provider=mock] button:has-text("Share")');
    await page.selectOption('#share-target', 'research');
    await page.click('#share-add');
    await waitText(page, '#share-list', /research/);
    await shot(page, '06-provider-share');
    await page.click('dialog .modal-head .icon-btn');
    await waitText(page, '[data-provider=mock] .shares', /group research/);
  });

  await check('providers: add a catalog template (vllm) kept private', async () => {
    await page.click('#add-provider');
    await page.selectOption('#pf-vendor', 'vllm');
    await page.fill('#pf-name', 'private-mock');
    await page.fill('#pf-endpoint', MOCK);
    await page.click('#pf-save');
    await page.locator('[data-provider=private-mock]').waitFor({ timeout: T });
    await shot(page, '07-providers');
  });

  await check('providers: the Azure OpenAI and AWS Bedrock forms create working providers', async () => {
    await page.click('#add-provider');
    await page.click('.seg[data-kind=azure]');
    await page.fill('#pf-name', 'azure');
    await page.fill('#pf-endpoint', MOCK);
    await page.fill('#pf-deployments', 'gpt-4o = prod-gpt4o');
    await page.fill('#pf-api_key', 'azure-key');
    await shot(page, '08-provider-add-azure');
    await page.click('#pf-save');
    await page.locator('[data-provider=azure] .chip:has-text("gpt-4o")').waitFor({ timeout: T });
    await page.click('#add-provider');
    await page.click('.seg[data-kind=bedrock]');
    await page.fill('#pf-name', 'bedrock');
    await page.fill('#pf-region', 'us-west-2');
    await page.fill('#pf-access_key_id', 'AKIAMOCKACCESSKEY01');
    await page.fill('#pf-secret_access_key', 'mock/secret+access+key+canary0123456789');
    await page.fill('#pf-endpoint', MOCK);
    await page.fill('#pf-models', 'anthropic.claude-3-5-sonnet-20240620-v1:0');
    await page.click('#pf-save');
    await page.locator('[data-provider=bedrock]').waitFor({ timeout: T });
    for (const model of ['azure/gpt-4o', 'bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0']) {
      const r = await fetch(`${ORIGIN}/v1/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });
      eq(r.status, 200, `${model}: ${await r.text()}`);
    }
  });

  let adminKey = '';
  await check('keys: create one (shown once), filter, revoke another; the key works', async () => {
    await go(page, '#/keys');
    await page.fill('#key-name', 'laptop');
    await page.click('#key-create');
    adminKey = (await text(page, '#new-key')).trim();
    assert(adminKey.startsWith('mg_'), `key ${adminKey}`);
    await page.locator('[data-key=laptop]').waitFor({ timeout: T });
    await shot(page, '09-keys-created');
    await page.fill('#key-name', 'old');
    await page.click('#key-create');
    await page.locator('[data-key=old]').waitFor({ timeout: T });
    await page.click('[data-key=old] button:has-text("Revoke")');
    await page.click('dialog button:has-text("Revoke")');
    await page.locator('[data-key=old]').waitFor({ state: 'detached', timeout: T });
    await page.fill('#key-filter', 'lap');
    await page.waitForFunction(() => document.querySelectorAll('#keys-table tbody tr[data-key]').length === 1, null, { timeout: T });
    await page.fill('#key-filter', 'zzz');
    await page.locator('#keys-table tr.empty').waitFor({ timeout: T });
    const models = await (await fetch(`${ORIGIN}/v1/models`, { headers: { authorization: `Bearer ${adminKey}` } })).json();
    assert(models.data.some((m) => m.id === 'mock/m1'), 'the new key lists mock/m1');
  });

  await check('chat: a streamed answer appears and the conversation is listed', async () => {
    await go(page, '#/chat');
    await page.selectOption('#chat-provider', 'mock');
    await page.selectOption('#chat-model', 'm1');
    await send(page, 'Hello there');
    await waitText(page, '.msg.assistant .bubble', /Hello1lo2/);
    await waitText(page, '.conv-list', /Hello there/);
    await shot(page, '10-chat');
  });

  await check('chat: tokens arrive one by one (drip model), Stop keeps the partial answer', async () => {
    await newChat(page);
    await page.selectOption('#chat-provider', 'mock');
    await page.selectOption('#chat-model', 'drip-model');
    await page.evaluate(() => {
      window.__lens = [];
      const box = document.getElementById('messages');
      new MutationObserver(() => {
        const b = box.querySelector('.msg.streaming .bubble');
        const n = b ? b.textContent.length : -1;
        if (n > 0 && window.__lens[window.__lens.length - 1] !== n) window.__lens.push(n);
      }).observe(box, { childList: true, subtree: true, characterData: true });
    });
    await page.fill('#chat-input', 'Stream please');
    await page.press('#chat-input', 'Enter');
    await page.waitForFunction(() => window.__lens.length >= 8, null, { timeout: T });
    await shot(page, '11-chat-streaming');
    const saved = answerSaved(page);
    await page.click('#chat-stop');
    await waitText(page, '.msg-error', /Stopped/);
    const lens = await page.evaluate(() => window.__lens);
    assert(lens.every((n, i) => i === 0 || n > lens[i - 1]), `lengths grow: ${lens}`);
    assert((await saved).ok(), 'the partial answer is saved');
    await page.reload();
    await waitText(page, '.msg.assistant .bubble', /^Hello1lo2/);
    await waitText(page, '.msg-error', /Stopped/);
  });

  await check('chat: an upstream 429 is shown with the API\'s message', async () => {
    await newChat(page);
    await page.selectOption('#chat-model', 'error-429-model');
    await send(page, 'Will this fail?');
    await waitText(page, '.msg-error', /429.*slow down/);
    await shot(page, '12-chat-error-429');
  });

  await check('markdown: HTML is escaped, code blocks get a copy button, only http(s) links', async () => {
    const html = await page.evaluate(async () => {
      const { renderMarkdown } = await import('/ui/lib/markdown.js');
      return renderMarkdown('# T\n<script>alert(1)</script><img src=x onerror=alert(1)>\n\n```js\nlet a = "<b>";\n```\n[ok](https://x.org) [bad](javascript:alert(1)) **b** *i* `c`\n\n- one\n- two');
    });
    assert(!/<script|<img/.test(html), `raw HTML leaked: ${html}`);
    assert(/data-copy-code/.test(html) && /&lt;b&gt;/.test(html), 'code block');
    assert(/href="https:\/\/x.org"/.test(html) && !/href="javascript/.test(html), 'links');
    assert(/<strong>b<\/strong>/.test(html) && /<em>i<\/em>/.test(html) && /<code>c<\/code>/.test(html) && /<li>two<\/li>/.test(html), 'inline and lists');    // Rendered in a chat bubble, for the screenshot, and the code block's copy button.
    await page.evaluate(async (sample) => {
      const { renderInto } = await import('/ui/lib/markdown.js');
      const bubble = document.createElement('div');
      bubble.className = 'bubble md';
      const msg = document.createElement('div');
      msg.className = 'msg assistant md-sample';
      msg.append(bubble);
      renderInto(bubble, sample);
      document.getElementById('messages').append(msg);
    }, MD_SAMPLE);
    await page.click('.md-sample [data-copy-code]');
    eq(await page.evaluate(() => navigator.clipboard.readText()), 'def greet(name):\n    return f"Hello, {name}!"', 'copied code');
    await shot(page, '13-chat-markdown');
  });

  await check('connect: base URLs, model id and a snippet per tool, with copy buttons', async () => {
    await go(page, '#/connect?provider=mock&model=m1');
    eq((await text(page, '#fact-base-url')).trim(), `${ORIGIN}/v1`, 'base URL');
    eq((await text(page, '#fact-anthropic-url')).trim(), ORIGIN, 'Anthropic base URL');
    eq((await text(page, '#fact-model-id')).trim(), 'mock/m1', 'model id');
    await shot(page, '14-connect');
    const want = {
      'openai-python': `base_url="${ORIGIN}/v1"`, curl: 'Bearer $MODELGATE_KEY', 'anthropic-python': `base_url="${ORIGIN}"`,
      'openai-agents': 'set_default_openai_api("responses")', 'claude-code': `ANTHROPIC_BASE_URL=${ORIGIN}\n`,
      codex: 'wire_api = "responses"', 'open-webui': `OPENAI_API_BASE_URL=${ORIGIN}/v1`,
      opencode: 'ai-sdk/openai-compatible', 'kilo-code': 'OpenAI Compatible', cursor: 'Override OpenAI Base URL',
    };
    for (const [tool, needle] of Object.entries(want)) {
      await page.click(`.tab[data-tool=${tool}]`);
      const t = await text(page, '#connect-panel');
      assert(t.includes(needle), `${tool} snippet lacks ${needle}`);
      assert(t.includes('mock/m1'), `${tool} snippet lacks the model id`);
    }
    await shot(page, '15-connect-cursor');
    await page.click('.fact:has(#fact-base-url) button.copy');
    eq(await page.evaluate(() => navigator.clipboard.readText()), `${ORIGIN}/v1`, 'clipboard');
  });

  await check('connect: Codex CLI, Agents SDK and Claude Code snippets, sized by the model\'s known limits', async () => {
    const block = (i) => page.locator('#connect-panel .codeblock pre').nth(i).textContent({ timeout: T });
    await go(page, '#/connect?provider=mock&model=m1&tool=codex');
    const toml = await block(0);
    for (const needle of ['model = "mock/m1"', 'model_provider = "modelgate"', '[model_providers.modelgate]',
      `base_url = "${ORIGIN}/v1"`, 'wire_api = "responses"', 'env_key = "MODELGATE_API_KEY"']) {
      assert(toml.includes(needle), `codex config.toml lacks ${needle}: ${toml}`);
    }
    assert(!/^model_context_window/m.test(toml), 'no context window is known for mock/m1');
    const sh = await block(1);
    assert(sh.includes('export MODELGATE_API_KEY=$MODELGATE_KEY') && /^codex exec "/m.test(sh), `codex commands: ${sh}`);
    await shot(page, '16-connect-codex');
    await page.locator('#connect-panel .codeblock').first().locator('button.copy').click();
    eq(await page.evaluate(() => navigator.clipboard.readText()), toml, 'copied config.toml');

    await page.click('.tab[data-tool=openai-agents]');
    const py = await block(0);
    for (const needle of ['from agents import Agent, Runner, set_default_openai_client, set_default_openai_api',
      `AsyncOpenAI(base_url="${ORIGIN}/v1", api_key=os.environ["MODELGATE_KEY"])`, 'set_default_openai_api("responses")',
      'model="mock/m1"', 'Runner.run_sync(agent, ']) {
      assert(py.includes(needle), `agents SDK snippet lacks ${needle}: ${py}`);
    }

    await page.click('.tab[data-tool=claude-code]');
    eq(await page.locator('#connect-panel .codeblock').count(), 2, 'Claude Code: shell and settings.json blocks');
    const env = await block(0);
    for (const needle of [`export ANTHROPIC_BASE_URL=${ORIGIN}\n`, 'export ANTHROPIC_AUTH_TOKEN=$MODELGATE_KEY',
      'export ANTHROPIC_MODEL=mock/m1', 'export ANTHROPIC_DEFAULT_HAIKU_MODEL=mock/', 'export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1']) {
      assert(env.includes(needle), `Claude Code env lacks ${JSON.stringify(needle)}: ${env}`);
    }
    assert(!/ANTHROPIC_API_KEY=|CLAUDE_CODE_MAX_OUTPUT_TOKENS/.test(env), `Claude Code env: ${env}`);
    const settings = JSON.parse(await block(1));
    eq(settings.env.ANTHROPIC_BASE_URL, ORIGIN, 'settings.json base URL');
    eq(settings.env.ANTHROPIC_MODEL, 'mock/m1', 'settings.json model');
    assert(/Bedrock/.test(await text(page, '#connect-panel p.muted')), 'says every backend kind works');
    await shot(page, '17-connect-claude-code');

    // A catalog model: GET /v1/models knows its context window and output limit.
    await adminApi('POST', '/api/providers', { name: 'oai', kind: 'openai', endpoint: MOCK, api_key: 'sk-mock', models: ['gpt-4o', 'gpt-4o-mini'] });
    try {
      await go(page, '#/connect?provider=oai&model=gpt-4o&tool=codex');
      eq((await text(page, '#fact-context')).trim(), '128000', 'context window fact');
      assert((await block(0)).includes('\nmodel_context_window = 128000\n'), `codex: ${await block(0)}`);
      await page.click('.tab[data-tool=claude-code]');
      const known = await block(0);
      assert(known.includes('export CLAUDE_CODE_MAX_OUTPUT_TOKENS=16384'), `Claude Code max output: ${known}`);
      assert(known.includes('export ANTHROPIC_DEFAULT_HAIKU_MODEL=oai/gpt-4o-mini'), `Claude Code small model: ${known}`);
      eq(JSON.parse(await block(1)).env.CLAUDE_CODE_MAX_OUTPUT_TOKENS, '16384', 'settings.json max output');
      await shot(page, '18-connect-claude-code-limits');
    } finally {
      await adminApi('DELETE', '/api/providers/oai');
    }
  });

  await check('tunnels: create (token and agent command shown once), status stopped → running with the agent', async () => {
    await go(page, '#/tunnels');
    await page.fill('#tunnel-name', 'lab');
    await page.click('#tunnel-create');
    const token = (await text(page, '#tunnel-token')).trim();
    assert(token.startsWith('mgt_'), `token ${token}`);
    assert((await text(page, '#tunnel-command')).includes('modelgate tunnel'), 'command');
    await waitText(page, '[data-tunnel=lab]', /stopped/);
    await shot(page, '16-tunnels-created');
    agent = spawn(process.env.MODELGATE_BIN, ['tunnel', '--gateway', ORIGIN, '--target', MOCK],
      { env: { ...process.env, MODELGATE_TUNNEL_TOKEN: token }, stdio: 'ignore' });
    await waitText(page, '[data-tunnel=lab] .badge', /running/, 20_000);
    await shot(page, '17-tunnels-running');
    await go(page, '#/chat');
    await waitText(page, '#chat-provider option', /lab — tunnel running/);
  });

  await check('chat: a stopped tunnel is marked in the dropdown and its 503 message is shown', async () => {
    const exited = new Promise((resolve) => agent.once('exit', resolve));
    agent.kill('SIGTERM');
    await exited;
    agent = null;
    await go(page, '#/tunnels');
    await waitText(page, '[data-tunnel=lab] .badge', /stopped/, 15_000);
    await go(page, '#/chat');
    await waitText(page, '#chat-provider option', /lab — tunnel stopped/);
    await page.selectOption('#chat-provider', 'lab');
    await page.selectOption('#chat-model', 'm1');
    await send(page, 'Anyone there?');
    await waitText(page, '.msg-error', /503.*stopped/);
    await shot(page, '18-chat-tunnel-stopped');
  });

  await check('usage: spend, tokens, allocations, per-day chart and breakdown; org view by user', async () => {
    await go(page, '#/usage?days=7');
    await page.locator('#stat-spend').waitFor({ timeout: T });
    assert(!/^\$0\.00$/.test((await text(page, '#stat-spend .stat-value')).trim()), 'spend is not zero');
    assert((await text(page, '#stat-tokens-out .stat-value')).trim() !== '0', 'tokens out');
    eq(await page.locator('#usage-chart rect.bar-rect').count(), 7, 'one bar per day of the range');
    await waitText(page, '#usage-breakdown', /m1/);
    await shot(page, '19-usage');
    await page.click('#usage-scope .seg[data-value=org]');
    await page.selectOption('#usage-group', 'user');
    await waitText(page, '#usage-breakdown', /admin/);
    await waitText(page, '#usage-allocations', /research-monthly/);
    await shot(page, '20-usage-org');
  });

  const adaCtx = await browser.newContext(ctxOpts);
  const ada = await adaCtx.newPage();
  watch(ada, 'ada');

  await check('member: no Admin, sees the shared provider but not the unshared one or the tunnel', async () => {
    await signIn(ada, 'ada', ADA_PW);
    eq(await ada.locator('.nav-item[data-page=admin]').count(), 0, 'Admin link');
    await go(ada, '#/admin');
    await ada.waitForFunction(() => location.hash.startsWith('#/chat'), null, { timeout: T });
    await go(ada, '#/providers');
    await ada.locator('[data-provider=mock]').waitFor({ timeout: T });
    eq(await ada.locator('[data-provider=private-mock]').count(), 0, 'private-mock visible');
    eq(await ada.locator('[data-provider=lab]').count(), 0, 'tunnel visible');
    await shot(ada, '21-member-providers');
  });

  await check('member: a key bound to the group allocation, then chat on the shared provider', async () => {
    await go(ada, '#/keys');
    eq(await ada.inputValue('#key-allocation'), 'research-monthly', 'allocation preselected');
    await ada.fill('#key-name', 'ada-laptop');
    await ada.click('#key-create');
    await waitText(ada, '[data-key=ada-laptop]', /research-monthly/);
    await go(ada, '#/chat');
    const opts = await ada.locator('#chat-provider option').allTextContents();
    assert(!opts.some((o) => /private-mock|lab/.test(o)), `options: ${opts}`);
    await ada.selectOption('#chat-provider', 'mock');
    await ada.selectOption('#chat-model', 'm1');
    await send(ada, 'Hi from ada');
    await waitText(ada, '.msg.assistant .bubble', /Hello1lo2/);
    adaConv = ada.url().split('#')[1];
    await shot(ada, '22-member-chat');
  });

  await check('member: usage shows the spend and the allocation with a progress bar', async () => {
    await go(ada, '#/usage');
    await waitText(ada, '#usage-allocations', /research-monthly/);
    assert(!/^\$0\.00$/.test((await text(ada, '#stat-spend .stat-value')).trim()), 'spend is not zero');
    assert(await ada.locator('#usage-allocations .bar-fill').count() === 1, 'progress bar');
    await shot(ada, '23-member-usage');
  });

  await check('chat: an exhausted budget shows the 402 message (limit lowered in Admin)', async () => {
    await go(page, '#/admin/allocations');
    await page.click('[data-allocation=research-monthly] button:has-text("Edit limit")');
    await page.fill('#alloc-new-limit', '0.000001');
    await page.click('dialog button:has-text("Save")');
    await waitText(page, '[data-allocation=research-monthly]', /0\.000001/);
    await go(ada, `#${adaConv}`);
    await send(ada, 'One more?');
    await waitText(ada, '.msg-error', /402/);
    await shot(ada, '24-chat-budget');
    await adminApi('PATCH', '/api/allocations/research-monthly', { limit_usd: 5 });
  });

  await check('chat: once the share is revoked (Providers → Share → Revoke) the conversation is read-only', async () => {
    await go(page, '#/providers');
    await page.click('[data-provider=mock] button:has-text("Share")');
    await page.click('#share-list button:has-text("Revoke")');
    await waitText(page, '#share-list', /Private/);
    await page.click('dialog .modal-head .icon-btn');
    await go(ada, `#${adaConv}`);
    await ada.locator('#chat-notice:not(.hidden)').waitFor({ timeout: T });
    assert(await ada.locator('#chat-input').isDisabled(), 'input disabled');
    await waitText(ada, '.msg.assistant .bubble', /Hello1lo2/);
    await shot(ada, '25-chat-read-only');
  });

  await check('admin: deactivate and reactivate a user, remove a group member', async () => {
    await go(page, '#/admin/users');
    await page.fill('#user-name', 'bob');
    await page.click('#user-create');
    await page.click('[data-user=bob] button:has-text("Deactivate")');
    await page.click('dialog button:has-text("Deactivate")');
    await waitText(page, '[data-user=bob] .badge', /deactivated/);
    await page.click('[data-user=bob] button:has-text("Reactivate")');
    await waitText(page, '[data-user=bob] .badge', /^active$/);
    eq(await page.locator('[data-user=admin] button:has-text("Deactivate")').count(), 0, 'admins cannot deactivate themselves here');
    await go(page, '#/admin/groups');
    await page.locator('[data-group=research] select').selectOption('bob');
    await page.click('[data-group=research] button:has-text("Add member")');
    await page.locator('[data-group=research] .chip:has-text("bob")').waitFor({ timeout: T });
    await page.click('[data-group=research] .chip:has-text("bob") .chip-x');
    await page.locator('[data-group=research] .chip:has-text("bob")').waitFor({ state: 'detached', timeout: T });
  });

  await check('session expiry: any 401 leads back to sign-in with "your session expired"', async () => {
    await adaCtx.clearCookies();
    await ada.click('.nav-item[data-page=keys]');
    await ada.locator('#session-expired').waitFor({ timeout: T });
    await shot(ada, '26-session-expired');
  });

  await check('sign-out returns to the sign-in screen', async () => {
    await page.click('#signout');
    await page.locator('#login-name').waitFor({ timeout: T });
    eq(await page.locator('#session-expired').count(), 0, 'no expiry notice on sign-out');
  });

  await check('no JavaScript errors or CSP violations in any page', async () => {
    assert(!jsErrors.length, jsErrors.join(' || '));
  });
} finally {
  if (agent) agent.kill('SIGTERM');
  await browser.close();
}

if (serverErrors.length) console.log(`note: ${serverErrors.length} API answer(s) of 5xx (retried by the page where it retries): ${serverErrors.join('; ')}`);
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
