"""The Python module on the tiny model: load, generate, stream_generate, apply_chat_template.

Run by ctest (tests/CMakeLists.txt) with PYTHONPATH at the built module and
GPTOSS_TINY_MODEL_DIR / GPTOSS_TEST_DATA_DIR set.
"""
import json
import os
import subprocess
import unittest

import gptoss

MODEL = os.environ["GPTOSS_TINY_MODEL_DIR"]
DATA = os.environ["GPTOSS_TEST_DATA_DIR"]
CLI = os.environ["GPTOSS_CLI"]


class GptossModule(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model, cls.tokenizer = gptoss.load(MODEL)

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

    def test_matches_the_cli(self):
        out = subprocess.run([CLI, "generate", "-m", MODEL, "--prompt-tokens", "976,4853,19705,68347",
                              "--max-tokens", "8", "--verbose", "false"], capture_output=True, text=True, check=True)
        text = gptoss.generate(self.model, self.tokenizer, [976, 4853, 19705, 68347], max_tokens=8)
        self.assertEqual(out.stdout, text + "\n")


if __name__ == "__main__":
    unittest.main()
