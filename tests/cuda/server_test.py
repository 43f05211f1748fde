#!/usr/bin/env python3
"""The server path on the GPU: `gptoss serve --device cuda` answers a completion (token ids in),
a chat completion and a streamed chat completion with exactly the greedy text that
`--device cpu` gives, both in float32 (where the tiny random model's close logits cannot flip a
greedy choice). Exits 77 (ctest: skipped) where this machine has no CUDA device.
GPTOSS_CLI and GPTOSS_TINY_MODEL_DIR come from ctest."""
import json
import os
import re
import subprocess
import sys
import urllib.request

CLI = os.environ["GPTOSS_CLI"]
MODEL_DIR = os.environ["GPTOSS_TINY_MODEL_DIR"]
SKIP = 77


def start(device):
    proc = subprocess.Popen(
        [CLI, "serve", "-m", MODEL_DIR, "--port", "0", "--ctx", "1024", "--device", device,
         "--precision", "f32", "--kv-dtype", "f32"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+)/v1", line)
    if not match:
        err = proc.stderr.read()
        proc.wait()
        if device == "cuda" and "not available" in err:
            print("no CUDA device on this machine: GPU tests run on the H200 machine (ctest -L gpu)")
            sys.exit(SKIP)
        raise RuntimeError(f"gptoss serve --device {device} did not start: {line}{err}")
    return proc, match.group(1)


def post(url, path, body):
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read().decode()


def answers(device):
    proc, url = start(device)
    try:
        completion = json.loads(post(url, "/v1/completions", {
            "model": "tiny-gpt-oss", "prompt": [976, 4853, 19705, 68347, 11, 290, 1001, 17],
            "max_tokens": 24, "temperature": 0}))["choices"][0]["text"]
        chat_body = {"model": "tiny-gpt-oss", "max_tokens": 24, "temperature": 0,
                     "messages": [{"role": "user", "content": "Hello there"}]}
        chat = json.loads(post(url, "/v1/chat/completions", chat_body))["choices"][0]["message"]
        streamed = ""
        for line in post(url, "/v1/chat/completions", {**chat_body, "stream": True}).splitlines():
            if line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"]
                streamed += (delta.get("content") or "") + (delta.get("reasoning_content") or "")
        return completion, chat, streamed
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main():
    gpu = answers("cuda")  # first: skips before any CPU work where there is no GPU
    cpu = answers("cpu")
    names = ["completion", "chat completion", "streamed chat completion"]
    failed = False
    for name, a, b in zip(names, gpu, cpu):
        if a != b:
            print(f"{name} differs:\n  cuda: {a!r}\n  cpu:  {b!r}")
            failed = True
    if not gpu[0]:
        print("the completion is empty")
        failed = True
    print("FAILED" if failed else "the server's answers on cuda equal the CPU's")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
