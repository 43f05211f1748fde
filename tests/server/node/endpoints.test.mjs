// The other routes (completions, models, health, metrics) and every error status: OpenAI's
// error object with the field named, over the openai client and raw HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL, startServer } from './server.mjs';

let server;
let client;
before(async () => {
  server = await startServer(['--max-running', '1', '--max-queue', '0'], { apiKey: 'sk-test-key' });
  client = server.client();
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, server.stderr());
});

async function post(path, body, { key = 'sk-test-key', raw = false } = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    body: raw ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

function assertError(reply, status, { param, code, type } = {}) {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  const error = reply.body.error;
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  assert.ok('type' in error && 'param' in error && 'code' in error);
  if (param !== undefined) assert.equal(error.param, param);
  if (code !== undefined) assert.equal(error.code, code);
  if (type !== undefined) assert.equal(error.type, type);
}

test('completions: a raw prompt, text or token ids, echo and logprobs', async () => {
  const a = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  assert.equal(a.object, 'text_completion');
  assert.equal(a.usage.completion_tokens, 8);
  assert.equal(a.choices[0].finish_reason, 'length');
  const echoed = await client.completions.create({
    model: MODEL, prompt: 'Once upon a time', max_tokens: 8, temperature: 0, echo: true, logprobs: 2,
  });
  assert.equal(echoed.choices[0].text, 'Once upon a time' + a.choices[0].text);
  assert.equal(echoed.choices[0].logprobs.tokens.length, echoed.choices[0].logprobs.token_logprobs.length);
  const byIds = await client.completions.create({ model: MODEL, prompt: [12194, 9352, 261, 1058], max_tokens: 8, temperature: 0 });
  assert.equal(byIds.usage.prompt_tokens, 4);
  let streamed = '';
  for await (const chunk of await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true }))
    streamed += chunk.choices[0]?.text ?? '';
  assert.equal(streamed, a.choices[0].text);
});

test('models, health and metrics', async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  assert.deepEqual(models, [MODEL]);
  assert.equal((await client.models.retrieve(MODEL)).id, MODEL);
  await assert.rejects(client.models.retrieve('gpt-4o'), (e) => e.status === 404);
  const health = await fetch(`${server.url}/health`);  // no key needed
  assert.equal(health.status, 200);
  const metrics = await server.metrics();
  assert.ok(metrics['gptoss_generated_tokens_total'] > 0);
  assert.ok(metrics['gptoss_kv_blocks_total'] > 0);
  assert.ok(metrics['gptoss_requests_total{endpoint="/v1/completions",status="200"}'] >= 4, JSON.stringify(metrics));
  assert.equal(metrics['gptoss_running'], 0);
});

test('401: a missing or wrong API key', async () => {
  assertError(await post('/v1/chat/completions', { model: MODEL, messages: [] }, { key: null }), 401);
  assertError(await post('/v1/chat/completions', { model: MODEL, messages: [] }, { key: 'sk-test-kex' }), 401);
  await assert.rejects(server.client('wrong').models.list(), (e) => e.status === 401);
  // /metrics tells who uses the server how much: it needs the key too; /health does not.
  assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
});

test('400: malformed JSON, wrong types, bad values, context overflow', async () => {
  assertError(await post('/v1/chat/completions', '{"model": "tiny-gpt-oss", "messages": [', { raw: true }), 400,
    { type: 'invalid_request_error' });
  assertError(await post('/v1/chat/completions', { model: MODEL, messages: 'hello' }), 400, { param: 'messages' });
  assertError(await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }),
    400, { param: 'temperature' });
  assertError(await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'wizard', content: 'x' }] }), 400,
    { param: 'messages[0].role' });
  assertError(await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }], n: 0 }), 400,
    { param: 'n' });
  assertError(await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }), 400, { param: 'model' });
  assertError(await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 100000 }),
    400, { code: 'context_length_exceeded' });
  await assert.rejects(
    client.completions.create({ model: MODEL, prompt: 'x', max_tokens: -1 }),
    (e) => e.status === 400 && e.param === 'max_tokens',
  );
});

test('404: unknown model, route and stored response', async () => {
  assertError(await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), 404,
    { param: 'model', code: 'model_not_found' });
  assertError(await post('/v1/embeddings', { model: MODEL, input: 'x' }), 404);
  await assert.rejects(client.responses.retrieve('resp_missing'), (e) => e.status === 404);
});

test('413: a body over the limit', async () => {
  const big = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(33 << 20) }] });
  const reply = await post('/v1/chat/completions', big, { raw: true });
  assertError(reply, 413);
});

test('422: a schema keyword the grammar cannot enforce', async () => {
  const reply = await post('/v1/chat/completions', {
    model: MODEL,
    messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'string', pattern: '^a+$' } } },
  });
  assertError(reply, 422, { code: 'unsupported_schema' });
  assert.equal(reply.body.error.param, 'response_format.json_schema.schema.pattern');
});

test('429 with Retry-After when the running batch and the queue are full', async () => {
  // One running request (--max-running 1, --max-queue 0) holds the only place.
  const controller = new AbortController();
  const busy = await client.chat.completions.create(
    { model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 3000, stream: true },
    { signal: controller.signal },
  );
  const iterator = busy[Symbol.asyncIterator]();
  await iterator.next();
  const reply = await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'y' }], max_tokens: 2 });
  assertError(reply, 429);
  assert.ok(Number(reply.headers.get('retry-after')) >= 1);
  controller.abort();
  await iterator.return?.();
});
