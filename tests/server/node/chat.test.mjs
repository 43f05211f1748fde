// POST /v1/chat/completions through the openai client: plain and streamed answers agree,
// sampling options, n, logprobs, tool calls forced by tool_choice, the tool round trip,
// structured outputs, and the prefix cache across turns.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL, WEATHER_TOOL, collectChat, noAnalysisBias, startServer } from './server.mjs';

let server;
let client;
before(async () => {
  server = await startServer();
  client = server.client();
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, server.stderr());
});

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'developer', content: 'Answer in French.' },
  { role: 'user', content: 'What is the capital of Italy?' },
];

const weather = { type: 'function', function: WEATHER_TOOL };

test('a greedy answer is the same streamed and not streamed', async () => {
  const request = { model: MODEL, messages, max_tokens: 24, temperature: 0 };
  const whole = await client.chat.completions.create(request);
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.model, MODEL);
  assert.match(whole.id, /^chatcmpl-/);
  assert.equal(whole.choices.length, 1);
  const message = whole.choices[0].message;
  assert.equal(message.role, 'assistant');
  assert.equal(whole.choices[0].finish_reason, 'length');
  assert.equal(whole.usage.completion_tokens, 24);
  assert.ok(whole.usage.prompt_tokens > 20);
  assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + 24);
  assert.ok((message.content ?? '') + (message.reasoning_content ?? '') !== '', 'some text came back');

  const streamed = await collectChat(
    await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }),
  );
  assert.equal(streamed.choices.length, 1);
  assert.equal(streamed.choices[0].content, message.content ?? '');
  assert.equal(streamed.choices[0].reasoning, message.reasoning_content ?? '');
  assert.equal(streamed.choices[0].finish_reason, 'length');
  assert.equal(streamed.usage.completion_tokens, 24);
  assert.equal(streamed.usage.prompt_tokens, whole.usage.prompt_tokens);
  // The second identical prompt came from the prefix cache.
  assert.ok(streamed.usage.prompt_tokens_details.cached_tokens > 0);
});

test('a seeded sample is reproducible, and n gives n choices', async () => {
  const request = { model: MODEL, messages, max_tokens: 12, temperature: 1.0, top_p: 0.9, top_k: 50, seed: 7 };
  const a = await client.chat.completions.create(request);
  const b = await client.chat.completions.create(request);
  assert.deepEqual(b.choices[0].message, a.choices[0].message);
  const many = await client.chat.completions.create({ ...request, n: 3, seed: 11 });
  assert.deepEqual(many.choices.map((c) => c.index), [0, 1, 2]);
  assert.equal(many.usage.completion_tokens, 36);
});

test('logprobs and top_logprobs describe the content tokens', async () => {
  // Random weights write no harmony headers: the whole answer is content.
  const answer = await client.chat.completions.create({
    model: MODEL, messages, max_tokens: 16, temperature: 0, logprobs: true, top_logprobs: 3,
  });
  const logprobs = answer.choices[0].logprobs.content;
  assert.equal(logprobs.length, 16);
  for (const entry of logprobs) {
    assert.ok(entry.logprob <= 0);
    assert.equal(entry.top_logprobs.length, 3);
    assert.ok(entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob);
    // Greedy: the chosen token is the most likely one.
    assert.equal(entry.top_logprobs[0].token, entry.token);
    assert.ok(Math.abs(entry.top_logprobs[0].logprob - entry.logprob) < 1e-5);
    assert.deepEqual(entry.bytes, [...Buffer.from(entry.token)]);
  }
  assert.equal(logprobs.map((e) => e.token).join(''), answer.choices[0].message.content);
});

test('a named tool_choice makes a tool call whose arguments parse, streamed alike', async () => {
  const request = {
    model: MODEL,
    messages: [{ role: 'user', content: 'Weather in Rome?' }],
    tools: [weather],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    temperature: 0,
    max_tokens: 64,
    logit_bias: noAnalysisBias(),
  };
  const whole = await client.chat.completions.create(request);
  const choice = whole.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.match(call.id, /^call_/);
  assert.ok(['Paris', 'Rome'].includes(JSON.parse(call.function.arguments).city));

  const streamed = await collectChat(await client.chat.completions.create({ ...request, stream: true }));
  assert.equal(streamed.choices[0].finish_reason, 'tool_calls');
  assert.equal(streamed.choices[0].tool_calls.length, 1);
  assert.equal(streamed.choices[0].tool_calls[0].name, 'get_weather');
  assert.equal(streamed.choices[0].tool_calls[0].arguments, call.function.arguments);
  assert.equal(streamed.choices[0].content, '');
});

test('the tool round trip: the call and its result go back as history', async () => {
  const first = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'Weather in Rome?' }],
    tools: [weather],
    tool_choice: 'required',
    temperature: 0,
    max_tokens: 64,
    logit_bias: noAnalysisBias(),
  });
  const call = first.choices[0].message.tool_calls[0];
  const second = await client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: 'user', content: 'Weather in Rome?' },
      { role: 'assistant', content: null, reasoning_content: 'I should call the tool.', tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21}' },
    ],
    tools: [weather],
    tool_choice: 'none',
    max_tokens: 8,
    temperature: 0,
  });
  assert.equal(second.choices[0].message.tool_calls, undefined);
  assert.ok(second.usage.prompt_tokens > first.usage.prompt_tokens + 10);

  // A tool message naming no call of the conversation is refused with the field named.
  await assert.rejects(
    client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'user', content: 'Weather in Rome?' },
        { role: 'tool', tool_call_id: 'call_unknown', content: '{}' },
      ],
      max_tokens: 4,
    }),
    (e) => e.status === 400 && /tool_call_id|call_unknown/.test(e.message),
  );
});

test('response_format json_schema: the answer parses and follows the schema', async () => {
  const schema = {
    type: 'object',
    properties: {
      answer: { type: 'string', enum: ['yes', 'no'] },
      confidence: { type: 'integer', enum: [1, 2, 3] },
    },
    required: ['answer', 'confidence'],
    additionalProperties: false,
  };
  for (const stream of [false, true]) {
    const request = {
      model: MODEL,
      messages,
      max_tokens: 64,
      temperature: 0.8,
      seed: 3,
      response_format: { type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } },
      logit_bias: noAnalysisBias(),
    };
    const content = stream
      ? (await collectChat(await client.chat.completions.create({ ...request, stream: true }))).choices[0].content
      : (await client.chat.completions.create(request)).choices[0].message.content;
    const value = JSON.parse(content);
    assert.ok(['yes', 'no'].includes(value.answer));
    assert.ok([1, 2, 3].includes(value.confidence));
  }
});

test('stop strings end the answer before them', async () => {
  const free = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 24, temperature: 0 });
  const text = (free.choices[0].message.reasoning_content ?? '') + (free.choices[0].message.content ?? '');
  const visible = free.choices[0].message.content ?? '';
  if (visible.length < 4) return;  // the answer was all reasoning: covered by the output tests
  const stop = visible.slice(2, 4);
  const stopped = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 24, temperature: 0, stop: [stop] });
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  assert.ok(!stopped.choices[0].message.content.includes(stop));
  assert.ok(text.length > 0);
});
