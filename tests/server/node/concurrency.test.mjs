// Continuous batching seen from clients: 64 simultaneous greedy streams each get exactly the
// tokens the same request gets alone, and clients that leave mid-stream have their requests
// cancelled and their KV blocks freed (the metrics show it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL, collectChat, eventually, startServer } from './server.mjs';

let server;
let client;
before(async () => {
  // f32: in bf16 a row's sums depend on how many rows share the product (a batch of 16 decode
  // rows multiplies in bf16, one row alone in float32), so only f32 promises batch-invariant tokens.
  server = await startServer(['--max-running', '16', '--max-queue', '64', '--precision', 'f32']);
  client = server.client();
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, server.stderr());
});

const request = (i) => ({
  model: MODEL,
  messages: [{ role: 'user', content: `Request ${i % 16}: count to ${(i % 16) + 3}.` }],
  max_tokens: 24 + ((i % 16) % 5),
  temperature: 0,
  logprobs: true,
  stream: true,
});

// What a stream's tokens are: its text and the token sequence logprobs report.
const tokensOf = (choice) => ({ text: choice.reasoning + '|' + choice.content, tokens: choice.logprobs.map((l) => l.token) });

test('64 concurrent greedy streams equal the same requests served alone', async () => {
  const alone = [];
  for (let i = 0; i < 16; i++) alone.push(tokensOf((await collectChat(await client.chat.completions.create(request(i)))).choices[0]));
  const together = await Promise.all(
    Array.from({ length: 64 }, async (_, i) => tokensOf((await collectChat(await client.chat.completions.create(request(i)))).choices[0])),
  );
  for (let i = 0; i < 64; i++) assert.deepEqual(together[i], alone[i % 16], `stream ${i}`);
  const metrics = await server.metrics();
  assert.equal(metrics['gptoss_kv_blocks_used'], 0);
  assert.equal(metrics['gptoss_requests_in_flight'], 0);
});

test('clients that disconnect mid-stream free their KV within a step', async () => {
  const before = await server.metrics();
  const controllers = [];
  const started = [];
  for (let i = 0; i < 8; i++) {
    const controller = new AbortController();
    controllers.push(controller);
    started.push(
      (async () => {
        const stream = await client.chat.completions.create(
          { ...request(i), max_tokens: 3000, logprobs: false },
          { signal: controller.signal },
        );
        const iterator = stream[Symbol.asyncIterator]();
        for (let n = 0; n < 3; n++) await iterator.next();  // the answer is under way
      })(),
    );
  }
  await Promise.all(started);
  const busy = await server.metrics();
  assert.ok(busy['gptoss_kv_blocks_used'] > 0);
  assert.equal(busy['gptoss_requests_in_flight'], 8);
  for (const c of controllers) c.abort();
  const idle = await eventually(async () => {
    const m = await server.metrics();
    return m['gptoss_requests_in_flight'] === 0 && m['gptoss_kv_blocks_used'] === 0 ? m : null;
  });
  assert.ok(idle, JSON.stringify(await server.metrics()));
  assert.equal(idle['gptoss_client_disconnects_total'] - (before['gptoss_client_disconnects_total'] ?? 0), 8);
  // Nowhere near 8 × 3000 tokens were generated.
  assert.ok(idle['gptoss_generated_tokens_total'] - before['gptoss_generated_tokens_total'] < 8 * 1000);
});

test('a queued client that leaves gives its place back without waiting for its turn', async () => {
  const small = await startServer(['--max-running', '1', '--max-queue', '1']);
  try {
    const c = small.client();
    const long = { model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 3000, stream: true };
    const running = new AbortController();
    const first = (await c.chat.completions.create(long, { signal: running.signal }))[Symbol.asyncIterator]();
    await first.next();
    const queued = new AbortController();
    const second = (await c.chat.completions.create(long, { signal: queued.signal }))[Symbol.asyncIterator]();
    await second.next();  // its opening chunk; it waits behind the running one
    assert.equal((await small.metrics())['gptoss_queued'], 1);
    queued.abort();
    const freed = await eventually(async () => (await small.metrics())['gptoss_requests_in_flight'] === 1, 10);
    assert.ok(freed, 'the queued request was dropped while the first one still runs');
    assert.equal((await small.metrics())['gptoss_running'], 1);
    running.abort();
  } finally {
    const { code } = await small.stop();
    assert.equal(code, 0, small.stderr());
  }
});
