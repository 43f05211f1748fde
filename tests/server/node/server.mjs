// Starts `gptoss serve` on the tiny random-weight model, on the loopback and a free port, and
// hands out `openai` clients for it. GPTOSS_CLI and GPTOSS_TINY_MODEL_DIR come from ctest.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';

const CLI = process.env.GPTOSS_CLI;
const MODEL_DIR = process.env.GPTOSS_TINY_MODEL_DIR;
if (!CLI || !MODEL_DIR) throw new Error('GPTOSS_CLI and GPTOSS_TINY_MODEL_DIR must be set (ctest sets them)');

export const MODEL = 'tiny-gpt-oss';

// Harmony's control tokens in gpt-oss's vocabulary (o200k_harmony).
export const TOKENS = { return: 200002, constrain: 200003, channel: 200005, start: 200006, end: 200007, message: 200008, call: 200012 };

// The tests' function: one string argument out of two, so that a constrained call always ends.
export const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', enum: ['Paris', 'Rome'] } },
    required: ['city'],
    additionalProperties: false,
  },
};

// logit_bias that keeps a random-weight model out of the analysis channel: every token spelling a
// prefix of "analysis" is banned, so a constrained header can only continue as "final" or
// "commentary to=functions.…". Random weights would otherwise reason forever.
export function noAnalysisBias() {
  const vocab = JSON.parse(readFileSync(join(MODEL_DIR, 'tokenizer.json'), 'utf8')).model.vocab;
  const bias = {};
  for (let i = 1; i <= 'analysis'.length; i++) {
    const id = vocab['analysis'.slice(0, i)];
    if (id !== undefined) bias[id] = -100;
  }
  return bias;
}

// `apiKey`: the key the server is started with (--api-key), which /metrics needs too.
export async function startServer(args = [], { env = {}, apiKey = null } = {}) {
  if (apiKey) args = [...args, '--api-key', apiKey];
  const proc = spawn(CLI, ['serve', '-m', MODEL_DIR, '--port', '0', '--ctx', '4096', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`gptoss serve did not start in 60 s:\n${stderr}`)), 60_000);
    proc.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/listening on (http:\/\/\S+)\/v1/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`gptoss serve exited (${code}):\n${stderr}`)); });
  });
  return {
    url,
    proc,
    exited,
    stderr: () => stderr,
    client: (key = apiKey ?? 'unused', options = {}) => new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0, ...options }),
    async metrics() {
      const headers = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
      const response = await fetch(`${url}/metrics`, { headers });
      if (!response.ok) throw new Error(`/metrics: HTTP ${response.status}`);
      const text = await response.text();
      const values = {};
      for (const line of text.split('\n')) {
        const m = line.match(/^(gptoss_[a-z_]+)(\{[^}]*\})? ([-0-9.e+]+)$/);
        if (m) values[m[1] + (m[2] ?? '')] = Number(m[3]);
      }
      return values;
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

// Polls `condition` (an async function) every 50 ms until it holds or `seconds` pass.
export async function eventually(condition, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A streamed chat completion folded back into one message per choice.
export async function collectChat(stream) {
  const choices = [];
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      const choice = (choices[c.index] ??= { content: '', reasoning: '', tool_calls: [], finish_reason: null, logprobs: [] });
      if (c.delta.content) choice.content += c.delta.content;
      if (c.delta.reasoning_content) choice.reasoning += c.delta.reasoning_content;
      for (const t of c.delta.tool_calls ?? []) {
        const call = (choice.tool_calls[t.index] ??= { id: '', name: '', arguments: '' });
        if (t.id) call.id = t.id;
        if (t.function?.name) call.name += t.function.name;
        if (t.function?.arguments) call.arguments += t.function.arguments;
      }
      if (c.logprobs?.content) choice.logprobs.push(...c.logprobs.content);
      if (c.finish_reason) choice.finish_reason = c.finish_reason;
    }
  }
  return { choices, usage };
}
