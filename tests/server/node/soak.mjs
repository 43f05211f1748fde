// A soak: SOAK_SECONDS (default 120) of random request mixes from 12 clients — chat streamed or
// not, n = 2, structured outputs, responses chained by previous_response_id, completions, and
// clients that walk away mid-stream. Every answer must be well formed, the server must end idle
// with its KV pool empty, and its memory must not grow: the heap (malloc's bytes in use) stays
// where the first mixes left it, and resident memory grows by no more than the KV pool (its
// pages are touched as blocks are first used) and the HTTP workers' stacks (each touched when
// a worker first takes a connection). Its own ctest (server_soak): under ASan neither is the
// engine's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MODEL, collectChat, eventually, startServer } from './server.mjs';

const seconds = Number(process.env.SOAK_SECONDS ?? 120);

function rssBytes(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]) * 1024;
}

// A deterministic generator, so that a failing mix can be replayed.
function random(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

async function one(client, rand, state) {
  const pick = Math.floor(rand() * 6);
  const max_tokens = 1 + Math.floor(rand() * 48);
  const words = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Math.floor(rand() * 1000)).join(' ');
  const messages = [{ role: 'user', content: words }];
  if (pick === 0) {
    const r = await client.chat.completions.create({ model: MODEL, messages, max_tokens, n: 2, temperature: 0.9 });
    assert.equal(r.choices.length, 2);
  } else if (pick === 1) {
    const r = await collectChat(await client.chat.completions.create({ model: MODEL, messages, max_tokens, stream: true, stream_options: { include_usage: true } }));
    assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= max_tokens);
  } else if (pick === 2) {
    const r = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 64, response_format: { type: 'json_object' } });
    assert.ok(r.choices[0].finish_reason);
  } else if (pick === 3) {
    // Chains of up to 4 turns; a bounded store may have forgotten the previous one (404).
    const previous = state.previous && state.turns < 4 && rand() < 0.7 ? { previous_response_id: state.previous } : {};
    try {
      const r = await client.responses.create({ model: MODEL, input: words, max_output_tokens: max_tokens, ...previous });
      state.turns = previous.previous_response_id ? state.turns + 1 : 1;
      state.previous = r.id;
    } catch (e) {
      if (!(e.status === 404 && e.param === 'previous_response_id')) throw e;
      state.previous = null;
    }
  } else if (pick === 4) {
    const r = await client.completions.create({ model: MODEL, prompt: words, max_tokens });
    assert.equal(r.choices.length, 1);
  } else {
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 2000, stream: true }, { signal: controller.signal });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    controller.abort();
    await it.return?.().catch(() => {});
  }
}

test(`soak: ${seconds} s of mixed requests, no memory growth once warm`, { timeout: (seconds + 120) * 1000 }, async () => {
  // glibc's per-thread caches (tcache) and fast bins hold freed chunks that mallinfo2 counts
  // as in use, and each of the ~160 HTTP workers fills its own as it first serves: without them
  // the heap figure is what the server really holds.
  const server = await startServer(['--max-running', '8', '--max-queue', '64', '--stored-responses', '64'], {
    env: { GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0' },
  });
  const client = server.client();
  const startRss = rssBytes(server.proc.pid);
  const pool = (await server.metrics())['gptoss_kv_pool_bytes'];
  assert.ok(pool > 0);
  const deadline = Date.now() + seconds * 1000;
  const samples = [];
  const sampler = setInterval(async () => {
    const rss = rssBytes(server.proc.pid);
    samples.push({ t: Date.now(), rss, heap: (await server.metrics())['gptoss_heap_bytes'] });
  }, 1000);
  let requests = 0;
  await Promise.all(
    Array.from({ length: 12 }, async (_, worker) => {
      const rand = random(worker + 1);
      const state = {};
      while (Date.now() < deadline) {
        try {
          await one(client, rand, state);
        } catch (e) {
          if (e.name !== 'AbortError' && !(e instanceof Error && /abort/i.test(e.message))) throw e;
        }
        requests++;
      }
    }),
  );
  clearInterval(sampler);
  const idle = await eventually(async () => {
    const m = await server.metrics();
    return m['gptoss_requests_in_flight'] === 0 && m['gptoss_kv_blocks_used'] === 0 ? m : null;
  });
  assert.ok(idle, 'the server ends idle with its KV pool empty');
  const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
  const warm = samples.find((s) => s.t >= samples[0].t + 15_000);  // every kind of request seen
  const end = samples.at(-1);
  console.log(`soak: ${requests} requests; RSS ${mib(startRss)} → ${mib(end.rss)} MiB (KV pool ${mib(pool)} MiB); ` +
    `heap ${mib(warm.heap)} MiB after 15 s → ${mib(end.heap)} MiB`);
  console.log(`soak: heap MiB each 10 s: ${samples.filter((_, i) => i % 10 === 0).map((s) => mib(s.heap)).join(' ')}`);
  assert.ok(end.heap > 0, 'the server reports its heap');
  assert.ok(end.heap - warm.heap < 4 * 2 ** 20, `the heap grew ${mib(end.heap - warm.heap)} MiB after warm-up`);
  const stacks = 200 * 256 * 1024;  // up to 2 × (running + queue) + 16 workers, a quarter MiB each
  assert.ok(end.rss - startRss < pool + stacks + 32 * 2 ** 20, `RSS grew ${mib(end.rss - startRss)} MiB`);
  const { code } = await server.stop();
  assert.equal(code, 0, server.stderr());
});
