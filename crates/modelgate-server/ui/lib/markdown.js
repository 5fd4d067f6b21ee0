// A small, safe Markdown renderer for model answers. The text is HTML-escaped FIRST; the
// only markup in the output is what this file writes: fenced code blocks (with a copy
// button), inline code, bold, italic, strikethrough, headings, lists, block quotes, simple
// tables, rules, paragraphs and links whose URL is http(s) (anything else stays text).
// Unclosed fences render as code, so a streamed answer looks right while it arrives.

import { copyText } from './dom.js';

export function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const BULLET = /^(\s*)([-*+])\s+(.*)$/;
const ORDERED = /^(\s*)(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^ {0,3}&gt;\s?(.*)$/; // `>` is already escaped
const TABLE_SEP = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

/** Markdown → HTML string (safe to assign to innerHTML). */
export function renderMarkdown(src) {
  const text = escapeHtml(String(src || '').replace(/\u0000/g, '').replace(/\r\n?/g, '\n'));
  return blocks(text.split('\n'));
}

function blocks(lines) {
  const out = [];
  let para = [];
  const flush = () => {
    if (para.length) out.push(`<p>${para.map(inline).join('<br>')}</p>`);
    para = [];
  };
  for (let i = 0; i < lines.length;) {
    const line = lines[i];
    let m;
    if ((m = FENCE.exec(line))) {
      flush();
      const close = new RegExp(`^ {0,3}${m[1][0] === '`' ? '`' : '~'}{${m[1].length},}\\s*$`);
      const body = [];
      i++;
      while (i < lines.length && !close.test(lines[i])) body.push(lines[i++]);
      i++; // the closing fence (or the end)
      out.push(codeBlock(body.join('\n'), m[2]));
    } else if ((m = HEADING.exec(line))) {
      flush();
      const n = m[1].length;
      out.push(`<h${n}>${inline(m[2])}</h${n}>`);
      i++;
    } else if (RULE.test(line)) {
      flush();
      out.push('<hr>');
      i++;
    } else if (BULLET.test(line) || ORDERED.test(line)) {
      flush();
      const start = i;
      while (i < lines.length && lines[i].trim() !== ''
        && (BULLET.test(lines[i]) || ORDERED.test(lines[i]) || /^\s+\S/.test(lines[i]))) i++;
      out.push(list(lines.slice(start, i)));
    } else if (QUOTE.test(line)) {
      flush();
      const inner = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) { inner.push(m[1]); i++; }
      out.push(`<blockquote>${blocks(inner)}</blockquote>`);
    } else if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
      flush();
      const rows = [line];
      i += 2;
      while (i < lines.length && lines[i].includes('|') && lines[i].trim() !== '') rows.push(lines[i++]);
      out.push(tableHtml(rows));
    } else if (line.trim() === '') {
      flush();
      i++;
    } else {
      para.push(line);
      i++;
    }
  }
  flush();
  return out.join('');
}

function codeBlock(code, lang) {
  const label = lang ? `<span class="lang">${lang}</span>` : '<span class="lang"></span>';
  return `<div class="codeblock"><div class="codeblock-bar">${label}`
    + '<button type="button" class="btn small copy" data-copy-code>Copy</button></div>'
    + `<pre><code${lang ? ` class="language-${lang}"` : ''}>${code}</code></pre></div>`;
}

/** A (possibly nested) list from its lines; nesting follows indentation. */
function list(lines) {
  const items = [];
  const indentOf = (l) => l.match(/^\s*/)[0].length;
  const base = indentOf(lines[0]);
  const ordered = ORDERED.test(lines[0]) && indentOf(lines[0]) === base;
  const startNum = ordered ? Number(ORDERED.exec(lines[0])[2]) : 1;
  for (const l of lines) {
    const m = BULLET.exec(l) || ORDERED.exec(l);
    if (m && indentOf(l) <= base) items.push({ head: m[3], rest: [] });
    else if (items.length) items[items.length - 1].rest.push(l);
    else items.push({ head: l.trim(), rest: [] });
  }
  const lis = items.map(({ head, rest }) => {
    const sub = rest.filter((l) => BULLET.test(l) || ORDERED.test(l)).length
      ? list(rest) : rest.map((l) => '<br>' + inline(l.trim())).join('');
    return `<li>${inline(head)}${sub}</li>`;
  }).join('');
  if (!ordered) return `<ul>${lis}</ul>`;
  return `<ol${startNum !== 1 ? ` start="${startNum}"` : ''}>${lis}</ol>`;
}

function tableHtml(rows) {
  const cells = (r) => r.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => inline(c.trim()));
  const [head, ...body] = rows;
  return '<div class="table-wrap"><table class="md"><thead><tr>'
    + cells(head).map((c) => `<th>${c}</th>`).join('') + '</tr></thead><tbody>'
    + body.map((r) => '<tr>' + cells(r).map((c) => `<td>${c}</td>`).join('') + '</tr>').join('')
    + '</tbody></table></div>';
}

/** Inline markup on already-escaped text. */
function inline(s) {
  const saved = [];
  const keep = (html) => `\u0000${saved.push(html) - 1}\u0000`;
  // Code spans first: nothing inside them is markup.
  s = s.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, __, code) => keep(`<code>${code.trim() === '' ? code : code.replace(/^ (.*) $/, '$1')}</code>`));
  // Links: [text](http(s)://...) only; other schemes stay as plain text.
  s = s.replace(/\[([^\]\n]+)\]\(\s*([^)\s]+)\s*\)/g, (all, label, url) => {
    if (!/^https?:\/\/[^\s]+$/i.test(url)) return all;
    return keep(`<a href="${url}" target="_blank" rel="noopener noreferrer">${emphasis(label)}</a>`);
  });
  // Bare http(s) URLs.
  s = s.replace(/(^|[\s(;])(https?:\/\/[^\s\u0000]+)/gi, (_, pre, found) => {
    const url = found.split(/&quot;|&#39;|&lt;|&gt;/)[0].replace(/[.,;:!?)]+$/, '');
    if (url.length < 10) return pre + found;
    return pre + keep(`<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`)
      + found.slice(url.length);
  });
  s = emphasis(s);
  return s.replace(/\u0000(\d+)\u0000/g, (_, n) => saved[Number(n)]);
}

function emphasis(s) {
  return s
    .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, '$1<strong>$2</strong>')
    .replace(/(^|[^\w*])\*(?=[^\s*])([^*]*?[^\s*]|[^\s*])\*(?![\w*])/g, '$1<em>$2</em>')
    .replace(/(^|[^\w])_(?=[^\s_])([^_]*?[^\s_]|[^\s_])_(?!\w)/g, '$1<em>$2</em>')
    .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>');
}

/** Renders `text` into `el` and wires the code blocks' copy buttons (once per element). */
export function renderInto(el, text) {
  el.innerHTML = renderMarkdown(text);
  if (!el.dataset.copyWired) {
    el.dataset.copyWired = '1';
    el.addEventListener('click', async (e) => {
      const b = e.target.closest('[data-copy-code]');
      if (!b) return;
      const code = b.closest('.codeblock').querySelector('code');
      await copyText(code.textContent);
      b.textContent = 'Copied';
      setTimeout(() => { b.textContent = 'Copy'; }, 1500);
    });
  }
}
