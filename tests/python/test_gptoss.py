"""The Python module on the tiny model: load, generate, stream_generate, apply_chat_template.

Run by ctest (tests/CMakeLists.txt) with PYTHONPATH at the built module and
GPTOSS_TINY_MODEL_DIR / GPTOSS_TEST_DATA_DIR set.
"""
import _thread
import json
import os
import random
import subprocess
import threading
import time
import unittest

import gptoss

MODEL = os.environ["GPTOSS_TINY_MODEL_DIR"]
DATA = os.environ["GPTOSS_TEST_DATA_DIR"]
CLI = os.environ["GPTOSS_CLI"]


class GptossModule(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # f32 keys, values and arithmetic: the greedy continuation is compared with transformers'
        # (float32).
        cls.model, cls.tokenizer = gptoss.load(MODEL, kv_dtype="f32", precision="f32")

    def test_load_returns_model_and_tokenizer(self):
        self.assertEqual(self.model.num_layers, 4)
        self.assertEqual(self.model.vocab_size, 201088)
        self.assertEqual(self.tokenizer.vocab_size, 200019)
        self.assertEqual(self.tokenizer.encode("The quick brown fox"), [976, 4853, 19705, 68347])
        self.assertEqual(self.tokenizer.decode([976, 4853, 19705, 68347]), "The quick brown fox")

    def test_generate_greedy_matches_transformers(self):
        # The fixture's greedy continuation of "The quick brown fox" (reference.json), plain text. Its
        # 15th token, 200561, is a padding row beyond the tokenizer's ids, which gptoss never samples.
        with open(os.path.join(DATA, "tiny-gpt-oss", "reference.json")) as f:
            expected_ids = json.load(f)["prompts"]["short"]["greedy"][:14]
        ids = [r.token for r in gptoss.stream_generate(self.model, self.tokenizer, [976, 4853, 19705, 68347],
                                                       max_tokens=14)]
        self.assertEqual(ids, expected_ids)
        text = gptoss.generate(self.model, self.tokenizer, [976, 4853, 19705, 68347], max_tokens=14)
        self.assertEqual(text, self.tokenizer.decode(expected_ids))

    def test_threads_share_one_model_and_each_gets_what_it_gets_alone(self):
        prompts = [[976, 4853, 19705, 68347][: 1 + i % 4] + [1000 + 37 * i] for i in range(8)]
        expected = [gptoss.generate(self.model, self.tokenizer, p, max_tokens=12) for p in prompts]
        results = [None] * len(prompts)
        errors = []

        def work(i):
            try:
                results[i] = gptoss.generate(self.model, self.tokenizer, prompts[i], max_tokens=12)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(prompts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(results, expected)

    def test_an_iterator_shared_between_threads_yields_each_token_once(self):
        prompt = [976, 4853, 19705]
        expected = [r.token for r in gptoss.stream_generate(self.model, self.tokenizer, prompt, max_tokens=40)]
        shared = gptoss.stream_generate(self.model, self.tokenizer, prompt, max_tokens=40)
        got, lock = [], threading.Lock()

        def work():
            for r in shared:
                with lock:
                    got.append(r.token)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(got), sorted(expected))

    def test_ctrl_c_stops_a_long_prefill_between_layers(self):
        prompt = [1000 + i % 5000 for i in range(30000)]  # several seconds of prefill
        timer = threading.Timer(0.3, _thread.interrupt_main)
        start = time.monotonic()
        timer.start()
        with self.assertRaises(KeyboardInterrupt):
            gptoss.generate(self.model, self.tokenizer, prompt, max_tokens=1)
        self.assertLess(time.monotonic() - start, 3.0)
        # The model is still usable afterwards.
        self.assertTrue(gptoss.generate(self.model, self.tokenizer, [976, 4853], max_tokens=2))

    def test_stream_generate_reports_timing_and_finish(self):
        responses = list(gptoss.stream_generate(self.model, self.tokenizer, "Hello", max_tokens=5, temp=0.8, seed=3))
        self.assertEqual(len(responses), 5)
        last = responses[-1]
        self.assertEqual(last.finish_reason, "length")
        self.assertIsNone(responses[0].finish_reason)
        self.assertEqual(last.generation_tokens, 5)
        self.assertGreater(last.prompt_tps, 0)
        self.assertGreater(last.generation_tps, 0)
        self.assertGreater(last.peak_memory, 0)
        again = [r.token for r in gptoss.stream_generate(self.model, self.tokenizer, "Hello", max_tokens=5, temp=0.8,
                                                         seed=3)]
        self.assertEqual([r.token for r in responses], again)  # a seed reproduces

    def test_sampler_object_and_keyword_arguments_agree(self):
        sampler = gptoss.make_sampler(temp=0.7, top_p=0.9, seed=11)
        a = [r.token for r in gptoss.stream_generate(self.model, self.tokenizer, "Hi", max_tokens=6, sampler=sampler)]
        b = [r.token for r in gptoss.stream_generate(self.model, self.tokenizer, "Hi", max_tokens=6, temp=0.7,
                                                     top_p=0.9, seed=11)]
        self.assertEqual(a, b)
        with self.assertRaises(TypeError):
            gptoss.generate(self.model, self.tokenizer, "Hi", max_tokens=2, temperature=0.5)

    def test_apply_chat_template_renders_harmony(self):
        # The fixture's harmony prompt (reference.json "harmony"), rendered from messages.
        with open(os.path.join(DATA, "tiny-gpt-oss", "reference.json")) as f:
            text = json.load(f)["prompts"]["harmony"]["text"]
        messages = [{"role": "user", "content": "Explain the Chudnovsky algorithm to compute π."}]
        rendered = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                      date="2026-11-26")
        self.assertEqual(rendered, text)
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, date="2026-11-26")
        self.assertEqual(ids, self.tokenizer.encode(text))
        self.assertEqual(ids[-2:], [200006, 173781])  # <|start|>assistant

    def test_apply_chat_template_tools_and_history(self):
        tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                                   "parameters": {"type": "object",
                                                                  "properties": {"city": {"type": "string"}},
                                                                  "required": ["city"]}}}]
        messages = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "thinking": "Use the tool.",
                     "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
                    {"role": "tool", "content": "{\"sunny\": true}"}]
        text = self.tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=False,
                                                  reasoning_effort="high", date="2026-11-26")
        self.assertIn("Reasoning: high", text)
        self.assertIn("# Instructions\n\nBe brief.", text)
        self.assertIn("type get_weather = (_: {\ncity: string,\n}) => any;", text)
        self.assertIn("<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>"
                      "{\"city\": \"Paris\"}<|call|>", text)
        self.assertIn("<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{\"sunny\": true}<|end|>",
                      text)
        self.assertIn("<|channel|>analysis<|message|>Use the tool.<|end|>", text)  # kept: the tool chain is pending
        self.assertTrue(text.endswith("<|start|>assistant"))

    def test_harmony_prompt_streams_by_channel_or_falls_back_to_text(self):
        ids = self.tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
        responses = list(gptoss.stream_generate(self.model, self.tokenizer, ids, max_tokens=8))
        self.assertEqual(len(responses), 8)
        # Random weights do not speak harmony: the text falls back to plain decoding, channel "".
        joined = "".join(r.text for r in responses)
        self.assertEqual(joined, self.tokenizer.decode([r.token for r in responses]))

    def test_errors_are_python_exceptions(self):
        with self.assertRaises(gptoss.Error):
            gptoss.load(os.path.join(DATA, "no-such-model"))
        with self.assertRaises(gptoss.Error):
            self.tokenizer.apply_chat_template([{"role": "robot", "content": "x"}])
        with self.assertRaises(gptoss.Error):
            self.tokenizer.decode([10**6])

    def test_malformed_chat_structures_raise_type_error_naming_the_place(self):
        # Each of these was reinterpreted as a dict and crashed the interpreter.
        cases = [(["hello"], {}, "messages[0] must be a dict, not str"),
                 ([None], {}, "messages[0] must be a dict, not NoneType"),
                 ([{"role": "user", "content": "x"}, 5], {}, "messages[1] must be a dict, not int"),
                 ([], {"tools": ["x"]}, "tools[0] must be a dict, not str"),
                 ([], {"tools": {"a": 1}}, "tools must be a list, not dict"),
                 ([], {"tools": [{"function": 3}]}, "tools[0]['function'] must be a dict, not int"),
                 ([{"role": "assistant", "tool_calls": ["f"]}], {}, "messages[0]['tool_calls'][0] must be a dict, not str"),
                 ([{"role": "assistant", "tool_calls": "f"}], {}, "messages[0]['tool_calls'] must be a list, not str"),
                 ([{"role": "assistant", "tool_calls": [{"function": None}]}], {},
                  "messages[0]['tool_calls'][0]['function'] must be a dict, not NoneType")]
        for messages, kwargs, message in cases:
            with self.subTest(messages=messages, kwargs=kwargs):
                with self.assertRaises(TypeError) as caught:
                    self.tokenizer.apply_chat_template(messages, **kwargs)
                self.assertEqual(str(caught.exception), message)

    def test_random_malformed_chat_structures_never_crash(self):
        # Seeded random nestings of lists, dicts, None, ints and strings, in every place a
        # structure is read: each renders or raises TypeError, ValueError or gptoss.Error.
        rng = random.Random(20261201)
        keys = ["role", "content", "thinking", "tool_calls", "name", "function", "arguments", "parameters",
                "description", "type"]
        roles = ["system", "developer", "user", "assistant", "tool", "robot"]

        def value(depth):
            kind = rng.randrange(8 if depth < 3 else 4)
            if kind == 0:
                return None
            if kind == 1:
                return rng.choice([0, -1, 2**70, 7])
            if kind == 2:
                return rng.choice(["", "x", "get_weather", "functions.f", "\u00e9\u0000"] + roles)
            if kind == 3:
                return rng.choice([1.5, float("nan"), True, b"bytes"])
            if kind in (4, 5):
                return [value(depth + 1) for _ in range(rng.randrange(4))]
            return {rng.choice(keys + [1, None]): value(depth + 1) for _ in range(rng.randrange(5))}

        def message():
            if rng.random() < 0.2:
                return value(1)
            m = {"role": rng.choice(roles), "content": value(2) if rng.random() < 0.5 else "hello"}
            for key in ("thinking", "tool_calls", "name"):
                if rng.random() < 0.4:
                    m[key] = value(1)
            if rng.random() < 0.3:
                m["tool_calls"] = [{"function": {"name": value(3), "arguments": value(2)}} if rng.random() < 0.5
                                   else value(2) for _ in range(rng.randrange(3))]
            return m

        outcomes = {"rendered": 0, "raised": 0}
        for _ in range(600):
            messages = [message() for _ in range(rng.randrange(4))]
            tools = rng.choice([None, value(0), [value(1) for _ in range(rng.randrange(3))],
                                [{"type": "function", "function": {"name": value(3), "parameters": value(2)}}]])
            try:
                self.tokenizer.apply_chat_template(messages, tools=tools, tokenize=rng.random() < 0.5)
                outcomes["rendered"] += 1
            except (TypeError, ValueError, gptoss.Error):
                outcomes["raised"] += 1
        self.assertGreater(outcomes["rendered"], 0)
        self.assertGreater(outcomes["raised"], 0)

    def test_seed_and_logit_bias_out_of_range_raise(self):
        # These wrapped or clamped: seed -1 and 2**64 became 2**64 - 1, id 2**32 became 0, 1e39 became inf.
        for seed in (-1, 2**64, 10**23):
            with self.subTest(seed=seed):
                with self.assertRaises((ValueError, OverflowError)):
                    gptoss.generate(self.model, self.tokenizer, "Hi", max_tokens=1, seed=seed)
                with self.assertRaises((ValueError, OverflowError)):
                    gptoss.make_sampler(temp=0.5, seed=seed)
        for bias in ({2**32: 100}, {-1: 1.0}, {1: 1e39}, {1: float("inf")}, {1: 10**400}):
            with self.subTest(bias=bias):
                with self.assertRaises((ValueError, OverflowError)):
                    gptoss.generate(self.model, self.tokenizer, "Hi", max_tokens=1, logit_bias=bias)
        self.assertIsInstance(gptoss.generate(self.model, self.tokenizer, "Hi", max_tokens=1, seed=2**64 - 1,
                                              logit_bias={1: 3e38}), str)

    def test_matches_the_cli(self):
        out = subprocess.run([CLI, "generate", "-m", MODEL, "--prompt-tokens", "976,4853,19705,68347",
                              "--max-tokens", "8", "--verbose", "false", "--precision", "f32", "--kv-dtype", "f32"],
                             capture_output=True, text=True, check=True)
        text = gptoss.generate(self.model, self.tokenizer, [976, 4853, 19705, 68347], max_tokens=8)
        self.assertEqual(out.stdout, text + "\n")


if __name__ == "__main__":
    unittest.main()
