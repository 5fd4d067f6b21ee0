// Usage: what you (or, for admins, the organization) spent over 7, 30 or 90 days — totals,
// allocations with used and remaining, a per-day chart drawn as inline SVG, a breakdown
// and the most recent requests.

import { get, isAdmin } from '../lib/api.js';
import { h, clear, bar, fmt, pageHeader, table, emptyRow, badge } from '../lib/dom.js';

const METRICS = { cost_usd: ['Spend', fmt.usd], tokens: ['Tokens', fmt.int], requests: ['Requests', fmt.int] };
/** Short axis labels: $0.00014, $12, 3.4k. */
const axis = (v, metric) => (metric === 'cost_usd' ? `$${Number(v.toPrecision(2))}` : v >= 1000 ? `${Number((v / 1000).toPrecision(2))}k` : String(Math.round(v)));
const value = (d, metric) => (metric === 'tokens' ? d.input_tokens + d.output_tokens : d[metric]) || 0;

/** A bar chart of the per-day series (inline SVG; a <title> per bar for the exact value). */
export function dailyChart(daily, metric) {
  const W = 760;
  const H = 220;
  const pad = { l: 64, r: 8, t: 12, b: 28 };
  const vals = daily.map((d) => value(d, metric));
  const max = Math.max(...vals, 0);
  const top = max > 0 ? max * 1.1 : 1;
  const n = Math.max(daily.length, 1);
  const step = (W - pad.l - pad.r) / n;
  const bw = Math.max(2, Math.min(28, step * 0.7));
  const y = (v) => pad.t + (H - pad.t - pad.b) * (1 - v / top);
  const [, show] = METRICS[metric];
  const svg = h('svg.chart#usage-chart', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${METRICS[metric][0]} per day` });
  for (const f of [0, 0.5, 1]) {
    const v = top * f;
    svg.append(h('line.grid', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v) }),
      h('text.axis', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, max > 0 ? axis(v, metric) : f === 0 ? '0' : ''));
  }
  const every = Math.ceil(n / 10);
  daily.forEach((d, i) => {
    const v = vals[i];
    const x = pad.l + i * step + (step - bw) / 2;
    const hgt = Math.max(v > 0 ? 2 : 0, H - pad.b - y(v));
    svg.append(h('rect.bar-rect', { x, y: H - pad.b - hgt, width: bw, height: hgt, rx: 2, 'data-date': d.date },
      h('title', `${d.date}: ${show(v)}`)));
    if (i % every === 0 || i === n - 1) {
      svg.append(h('text.axis', { x: x + bw / 2, y: H - 8, 'text-anchor': 'middle' }, d.date.slice(5)));
    }
  });
  return svg;
}

function allocationRow(a) {
  const frac = a.limit_usd > 0 ? (a.used_usd + a.reserved_usd) / a.limit_usd : 0;
  const owner = a.owner.group ? `group ${a.owner.group}` : `user ${a.owner.user}`;
  return h('div.alloc', { 'data-allocation': a.name },
    h('div.alloc-head', h('strong', a.name), h('span.muted.small', `${owner} · ${a.period === 'none' ? 'no reset' : a.period}`),
      h('span.spacer'), h('span.alloc-nums', `${fmt.usd(a.used_usd)} used of ${fmt.usd(a.limit_usd)}`)),
    bar(frac, frac >= 1 ? 'danger' : frac > 0.8 ? 'warn' : ''),
    h('div.muted.small', `${fmt.usd(a.remaining_usd)} remaining`, a.reserved_usd > 0 ? ` · ${fmt.usd(a.reserved_usd)} in flight` : '',
      a.period_end ? ` · resets ${fmt.day(a.period_end)}` : ''));
}

export async function render(view, { params }) {
  const st = { days: Number(params.get('days')) || 30, scope: params.get('scope') === 'org' && isAdmin() ? 'org' : 'me', group: params.get('group_by') || 'model', metric: 'cost_usd' };
  const body = h('div.usage-body');
  const seg = (items, current, onPick, id) => h(`div.segmented#${id}`, items.map(([v, label]) =>
    h('button.seg', { type: 'button', class: v === current ? 'active' : '', 'data-value': v, onclick: () => onPick(v) }, label)));
  const controls = h('div.page-actions');

  function drawControls() {
    clear(controls,
      isAdmin() ? seg([['me', 'Mine'], ['org', 'Organization']], st.scope, (v) => { st.scope = v; if (v === 'me' && st.group === 'user') st.group = 'model'; load(); }, 'usage-scope') : null,
      seg([[7, '7 days'], [30, '30 days'], [90, '90 days']], st.days, (v) => { st.days = v; load(); }, 'usage-range'));
  }

  async function load() {
    drawControls();
    const q = new URLSearchParams({ days: st.days, group_by: st.group });
    if (st.scope === 'org') q.set('scope', 'org');
    history.replaceState(null, '', `#/usage?${q}`);
    const r = await get(`/api/usage?${q}`);
    const t = r.totals;
    const groupOpts = st.scope === 'org' ? ['model', 'user', 'allocation', 'key', 'provider'] : ['model', 'key', 'provider', 'allocation'];
    const groupSel = h('select#usage-group', { 'aria-label': 'Group by' }, groupOpts.map((g) => h('option', { value: g, selected: g === st.group }, `by ${g}`)));
    groupSel.addEventListener('change', () => { st.group = groupSel.value; load(); });
    const chartBox = h('div.chart-box', dailyChart(r.daily, st.metric));
    const metricSeg = seg(Object.entries(METRICS).map(([k, [l]]) => [k, l]), st.metric, (v) => { st.metric = v; load(); }, 'usage-metric');
    const total = r.breakdown.reduce((s, b) => s + b.cost_usd, 0);
    clear(body,
      h('div.stats',
        stat('Total spend', fmt.usd(t.cost_usd), 'stat-spend'),
        stat('Requests', fmt.int(t.requests), 'stat-requests'),
        stat('Tokens in', fmt.int(t.input_tokens), 'stat-tokens-in', cacheNote(t)),
        stat('Tokens out', fmt.int(t.output_tokens), 'stat-tokens-out', t.reasoning_tokens ? `${fmt.int(t.reasoning_tokens)} reasoning` : null),
        r.active_users !== undefined ? stat('Active users', fmt.int(r.active_users), 'stat-users') : null),
      r.allocations.length ? h('section.card#usage-allocations', h('h2.card-title', st.scope === 'org' ? 'Allocations' : 'Your allocations'), r.allocations.map(allocationRow)) : null,
      h('section.card', h('div.toolbar', h('h2.card-title', 'Over time'), h('span.spacer'), metricSeg), chartBox,
        h('p.muted.small', `${fmt.day(r.since)} – ${fmt.day(r.until)} (UTC days)`)),
      h('section.card', h('div.toolbar', h('h2.card-title', 'Breakdown'), h('span.spacer'), groupSel),
        table([st.group[0].toUpperCase() + st.group.slice(1), 'Requests', 'Tokens in', 'Tokens out', 'Spend', 'Share'],
          r.breakdown.length ? r.breakdown.map((b) => h('tr',
            h('td.strong', b.name || b.id || '—'), h('td.num', fmt.int(b.requests)), h('td.num', fmt.int(b.input_tokens)),
            h('td.num', fmt.int(b.output_tokens)), h('td.num', fmt.usd(b.cost_usd)),
            h('td.share-cell', bar(total > 0 ? b.share : 0), h('span.small', fmt.pct(b.share))))) : emptyRow(6, 'Nothing used in this range.'),
          '#usage-breakdown')),
      r.groups && r.groups.length ? h('section.card', h('h2.card-title', 'Groups'),
        table(['Group', 'Members', 'Requests', 'Spend', 'Share'], r.groups.map((g) => h('tr',
          h('td.strong', g.name), h('td.num', g.members), h('td.num', fmt.int(g.requests)), h('td.num', fmt.usd(g.cost_usd)), h('td', fmt.pct(g.share)))))) : null,
      h('section.card', h('h2.card-title', 'Recent requests'),
        table(['Time', 'Model', 'Tokens in / out', 'Spend', 'Latency', 'Outcome'],
          r.data.length ? r.data.slice(0, 25).map((d) => h('tr',
            h('td', fmt.date(d.created_at)), h('td', h('code', `${d.provider}/${d.model}`)),
            h('td.num', `${fmt.int(d.usage.input_tokens)} / ${fmt.int(d.usage.output_tokens)}${d.usage_estimated ? ' (est.)' : ''}`),
            h('td.num', fmt.usd(d.cost_micros / 1e6)), h('td.num', `${fmt.int(d.latency_ms)} ms`),
            h('td', badge(d.outcome.replace(/_/g, ' '), d.outcome === 'ok' ? 'ok' : 'warn')))) : emptyRow(6, 'No requests in this range.'))));
  }

  clear(view, pageHeader('Usage', 'What was spent, on what, and how much budget is left.', controls), body);
  await load();
}

function stat(label, v, id, sub) {
  return h('div.stat.card', { id }, h('div.stat-label', label), h('div.stat-value', v), sub ? h('div.stat-sub', sub) : null);
}

/** "N cached · M cache writes": the parts of the input priced at their own rates. */
function cacheNote(t) {
  const parts = [];
  if (t.cached_tokens) parts.push(`${fmt.int(t.cached_tokens)} cached`);
  if (t.cache_write_tokens) parts.push(`${fmt.int(t.cache_write_tokens)} cache writes`);
  return parts.length ? parts.join(' · ') : null;
}
