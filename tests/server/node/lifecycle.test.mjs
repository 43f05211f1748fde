// SIGTERM drains: the running answers finish whole, new requests get 503, then the server exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL, collectChat, startServer } from './server.mjs';

test('SIGTERM lets running streams finish, refuses new requests with 503, and exits 0', async () => {
  const server = await startServer();
  const client = server.client();
  const streams = await Promise.all(
    [0, 1, 2].map((i) =>
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: `Drain ${i}` }],
        max_tokens: 1000,
        temperature: 0,
        stream: true,
      }),
    ),
  );
  const iterators = streams.map((s) => s[Symbol.asyncIterator]());
  const firsts = await Promise.all(iterators.map((it) => it.next()));
  server.proc.kill('SIGTERM');
  // Draining: /health and new requests say 503 while the three answers go on.
  let refused = null;
  for (let tries = 0; tries < 100 && !refused; tries++) {
    const health = await fetch(`${server.url}/health`);
    if (health.status === 503) refused = health;
    else await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(refused, 'health turned 503 while draining');
  const late = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'late' }], max_tokens: 4 }),
  });
  assert.equal(late.status, 503);
  assert.ok((await late.json()).error.message.length > 0);

  const rest = await Promise.all(
    iterators.map(async (it, i) => {
      const chunks = [firsts[i].value];
      for (;;) {
        const next = await it.next();
        if (next.done) break;
        chunks.push(next.value);
      }
      return collectChat((async function* () { yield* chunks; })());
    }),
  );
  for (const answer of rest) assert.equal(answer.choices[0].finish_reason, 'length');
  const { code } = await server.exited;
  assert.equal(code, 0, server.stderr());
});
