#!/usr/bin/env node
// Load generator for `gptoss serve`: C clients at once, each streaming R raw completions of
// exactly N tokens (ignore_eos) after a P-word prompt, for each C given. Reports aggregate output
// tok/s (all generated tokens over the wall time of the level), per-stream tok/s, and p50/p99
// time to first token, as a table or JSON. Compare with `gptoss bench --batch C -p P -n N`:
// the difference is the server's overhead per token.
//
//   node bench/server_load.mjs --url http://127.0.0.1:8080 --streams 1,8,32 --tokens 64 --rounds 2
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    streams: { type: 'string', default: '1,8,32' },
    tokens: { type: 'string', default: '64' },
    'prompt-words': { type: 'string', default: '16' },
    rounds: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const tokens = Number(o.tokens);
const rounds = Number(o.rounds);

const model = (await (await fetch(`${o.url}/v1/models`)).json()).data[0].id;

// One streamed completion: the time of its first token and the tokens it produced.
async function completion(seed) {
  const words = Array.from({ length: Number(o['prompt-words']) }, (_, i) => `w${(seed * 31 + i * 7) % 997}`).join(' ');
  const start = performance.now();
  const response = await fetch(`${o.url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      model, prompt: words, max_tokens: tokens, temperature: 0, ignore_eos: true, stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  let first = null;
  let produced = 0;
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const bytes of response.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const chunk = JSON.parse(event.slice(6));
      if (first === null && chunk.choices?.length) first = performance.now() - start;
      if (chunk.usage) produced = chunk.usage.completion_tokens;
    }
  }
  return { ttft: first / 1000, produced };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const results = [];
for (const streams of o.streams.split(',').map(Number)) {
  await completion(0);  // warm: weights paged in, caches filled
  const ttfts = [];
  let produced = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async (_, client) => {
      for (let r = 0; r < rounds; r++) {
        const one = await completion(1 + client * rounds + r);
        ttfts.push(one.ttft);
        produced += one.produced;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  ttfts.sort((a, b) => a - b);
  results.push({
    streams,
    requests: streams * rounds,
    tokens_out: produced,
    seconds,
    aggregate_tok_s: produced / seconds,
    per_stream_tok_s: produced / seconds / streams,
    ttft_p50_s: percentile(ttfts, 50),
    ttft_p99_s: percentile(ttfts, 99),
  });
}

if (o.json) console.log(JSON.stringify({ model, tokens, prompt_words: Number(o['prompt-words']), rounds, results }, null, 2));
else {
  console.log(`model ${model}, ${tokens} tokens per request, ${rounds} requests per stream`);
  console.log('streams  requests  tokens  seconds  aggregate tok/s  per-stream tok/s  TTFT p50  TTFT p99');
  for (const r of results)
    console.log(
      `${String(r.streams).padStart(7)}  ${String(r.requests).padStart(8)}  ${String(r.tokens_out).padStart(6)}  ${r.seconds.toFixed(1).padStart(7)}  ` +
        `${r.aggregate_tok_s.toFixed(2).padStart(15)}  ${r.per_stream_tok_s.toFixed(2).padStart(16)}  ${r.ttft_p50_s.toFixed(3).padStart(8)}  ${r.ttft_p99_s.toFixed(3).padStart(8)}`,
    );
}
