// POST /v1/responses through the openai client: output items, streaming events that rebuild
// the same response, previous_response_id across turns, function calls and their outputs,
// retrieval and deletion of stored responses.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL, WEATHER_TOOL, noAnalysisBias, startServer } from './server.mjs';

let server;
let client;
before(async () => {
  server = await startServer(['--stored-responses', '4']);
  client = server.client();
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, server.stderr());
});

const textOf = (response) =>
  response.output
    .filter((item) => item.type === 'message')
    .flatMap((item) => item.content.map((part) => part.text))
    .join('');

test('a response, and the same response streamed event by event', async () => {
  const request = { model: MODEL, instructions: 'Be brief.', input: 'Name a colour.', max_output_tokens: 20, temperature: 0 };
  const response = await client.responses.create(request);
  assert.match(response.id, /^resp_/);
  assert.equal(response.object, 'response');
  assert.equal(response.model, MODEL);
  assert.equal(response.instructions, 'Be brief.');
  assert.equal(response.usage.output_tokens, 20);
  // Random weights never end on their own: the answer stops at max_output_tokens.
  assert.equal(response.status, 'incomplete');
  assert.equal(response.incomplete_details.reason, 'max_output_tokens');
  assert.ok(response.usage.input_tokens > 10);
  assert.ok(response.output.length > 0);

  const events = [];
  let deltas = '';
  let reasoning = '';
  for await (const event of await client.responses.create({ ...request, stream: true })) {
    events.push(event.type);
    if (event.type === 'response.output_text.delta') deltas += event.delta;
    if (event.type === 'response.reasoning_text.delta') reasoning += event.delta;
    if (event.type === 'response.incomplete') {
      assert.equal(textOf(event.response), textOf(response));
      assert.deepEqual(event.response.usage.output_tokens, 20);
    }
  }
  assert.equal(events[0], 'response.created');
  assert.equal(events.at(-1), 'response.incomplete');
  assert.equal(deltas, textOf(response));
  const reasoningItem = response.output.find((item) => item.type === 'reasoning');
  assert.equal(reasoning, reasoningItem ? reasoningItem.content.map((c) => c.text).join('') : '');
});

test('previous_response_id continues the conversation; stored responses can be read and deleted', async () => {
  const first = await client.responses.create({ model: MODEL, input: 'Remember the number 42.', max_output_tokens: 8, temperature: 0 });
  const second = await client.responses.create({
    model: MODEL,
    previous_response_id: first.id,
    input: [{ role: 'user', content: 'Which number?' }],
    max_output_tokens: 8,
    temperature: 0,
  });
  // The second prompt holds the first turn, its answer and the new message, and the first
  // turn's tokens come from the prefix cache.
  assert.ok(second.usage.input_tokens > first.usage.input_tokens + 8);
  assert.ok(second.usage.input_tokens_details.cached_tokens > 0);
  assert.equal(second.previous_response_id, first.id);

  const read = await client.responses.retrieve(first.id);
  assert.equal(read.id, first.id);
  assert.equal(textOf(read), textOf(first));

  await client.responses.delete(first.id);
  await assert.rejects(client.responses.retrieve(first.id), (e) => e.status === 404);
  await assert.rejects(
    client.responses.create({ model: MODEL, previous_response_id: first.id, input: 'And now?', max_output_tokens: 4 }),
    (e) => e.status === 404 && e.param === 'previous_response_id',
  );
});

test('the store is bounded: the oldest responses are forgotten', async () => {
  const ids = [];
  for (let i = 0; i < 6; i++)
    ids.push((await client.responses.create({ model: MODEL, input: `turn ${i}`, max_output_tokens: 2 })).id);
  await assert.rejects(client.responses.retrieve(ids[0]), (e) => e.status === 404);
  assert.equal((await client.responses.retrieve(ids[5])).id, ids[5]);
  const unstored = await client.responses.create({ model: MODEL, input: 'x', max_output_tokens: 2, store: false });
  await assert.rejects(client.responses.retrieve(unstored.id), (e) => e.status === 404);
});

test('function tools: a forced call, streamed arguments, and its output fed back', async () => {
  const tool = { type: 'function', ...WEATHER_TOOL, strict: true };
  const request = {
    model: MODEL,
    input: 'Weather in Paris?',
    tools: [tool],
    tool_choice: { type: 'function', name: 'get_weather' },
    temperature: 0,
    max_output_tokens: 64,
    // Responses has no logit_bias in the openai types; the server accepts it as an extension.
    logit_bias: noAnalysisBias(),
  };
  const response = await client.responses.create(request);
  const call = response.output.find((item) => item.type === 'function_call');
  assert.ok(call, JSON.stringify(response.output));
  assert.equal(call.name, 'get_weather');
  assert.ok(['Paris', 'Rome'].includes(JSON.parse(call.arguments).city));

  let args = '';
  let done = null;
  for await (const event of await client.responses.create({ ...request, stream: true })) {
    if (event.type === 'response.function_call_arguments.delta') args += event.delta;
    if (event.type === 'response.function_call_arguments.done') done = event.arguments;
  }
  assert.equal(args, call.arguments);
  assert.equal(done, call.arguments);

  const followUp = await client.responses.create({
    model: MODEL,
    previous_response_id: response.id,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temperature": 18}' }],
    tools: [tool],
    max_output_tokens: 8,
    temperature: 0,
  });
  assert.ok(followUp.usage.input_tokens > response.usage.input_tokens);
  await assert.rejects(
    client.responses.create({
      model: MODEL,
      input: [{ type: 'function_call_output', call_id: 'call_nowhere', output: '{}' }],
      max_output_tokens: 4,
    }),
    (e) => e.status === 400,
  );
});
