// A server-sent events reader for fetch responses: yields each event's data (parsed as
// JSON when it is JSON) as it arrives, and stops at `data: [DONE]`.

export async function* readSSE(resp) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = nextBoundary(buf)) !== null) {
        const [end, skip] = cut;
        const data = dataOf(buf.slice(0, end));
        buf = buf.slice(end + skip);
        if (data === null) continue;
        if (data === '[DONE]') return;
        yield parse(data);
      }
    }
    const data = dataOf(buf);
    if (data !== null && data !== '[DONE]') yield parse(data);
  } finally {
    reader.releaseLock();
  }
}

function nextBoundary(buf) {
  const m = /\r\n\r\n|\n\n|\r\r/.exec(buf);
  return m ? [m.index, m[0].length] : null;
}

/** The event's data lines joined, or null when it has none (comments, `event:` only). */
function dataOf(block) {
  const lines = block.split(/\r\n|\n|\r/).filter((l) => l.startsWith('data:'));
  if (!lines.length) return null;
  return lines.map((l) => l.slice(5).replace(/^ /, '')).join('\n');
}

function parse(data) {
  try { return JSON.parse(data); } catch { return { raw: data }; }
}

/** The text a chat-completion chunk adds, if any. */
export function deltaText(chunk) {
  const choice = chunk && chunk.choices && chunk.choices[0];
  return (choice && choice.delta && typeof choice.delta.content === 'string') ? choice.delta.content : '';
}
