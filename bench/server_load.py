#!/usr/bin/env python3
"""Load generator for `gptoss serve` (Python's standard library only, so it runs wherever the
server does): C clients at once, each streaming R raw completions of exactly N tokens
(ignore_eos) after a P-word prompt, for each C given. Reports aggregate output tok/s (all
generated tokens over the wall time of the level), per-stream tok/s and p50/p99 time to first
token, and the decode rate after the first tokens (streams × the median stream's), as a table or JSON. Compare with `gptoss bench --batch C -p P -n N`: the difference is the
server's overhead per token.

    python3 bench/server_load.py --url http://127.0.0.1:8080 --streams 1,8,32 --tokens 64 --rounds 2
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse


def completion(url, model, seed, prompt_words, tokens):
    """One streamed completion: (seconds to its first token, tokens produced, decode tok/s after
    the first token)."""
    words = " ".join(f"w{(seed * 31 + i * 7) % 997}" for i in range(prompt_words))
    body = json.dumps({"model": model, "prompt": words, "max_tokens": tokens, "temperature": 0,
                       "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}})
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=3600)
    start = time.perf_counter()
    connection.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read().decode()}")
    first, produced = None, 0
    for line in response:  # server-sent events, one "data: {...}" line each
        line = line.strip()
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if first is None and chunk.get("choices"):
            first = time.perf_counter() - start
        if chunk.get("usage"):
            produced = chunk["usage"]["completion_tokens"]
    end = time.perf_counter() - start
    connection.close()
    return first, produced, (produced - 1) / (end - first) if produced > 1 and end > first else 0.0


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def level(args, model, streams):
    completion(args.url, model, 0, args.prompt_words, args.tokens)  # warm: weights paged in
    ttfts, decode_rates, produced, lock = [], [], [0], threading.Lock()

    def client(index):
        for r in range(args.rounds):
            ttft, n, rate = completion(args.url, model, 1 + index * args.rounds + r, args.prompt_words, args.tokens)
            with lock:
                ttfts.append(ttft)
                decode_rates.append(rate)
                produced[0] += n

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return {"streams": streams, "requests": streams * args.rounds, "tokens_out": produced[0], "seconds": seconds,
            "aggregate_tok_s": produced[0] / seconds, "per_stream_tok_s": produced[0] / seconds / streams,
            "ttft_p50_s": percentile(ttfts, 50), "ttft_p99_s": percentile(ttfts, 99),
            # The streams' decoding alone (after their first tokens), as `gptoss bench --batch` counts it.
            "decode_aggregate_tok_s": streams * percentile(decode_rates, 50)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--streams", default="1,8,32")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--prompt-words", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    parsed = urllib.parse.urlparse(args.url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port)
    connection.request("GET", "/v1/models")
    model = json.loads(connection.getresponse().read())["data"][0]["id"]
    results = [level(args, model, int(s)) for s in args.streams.split(",")]
    if args.json:
        print(json.dumps({"model": model, "tokens": args.tokens, "prompt_words": args.prompt_words,
                          "rounds": args.rounds, "results": results}, indent=2))
        return
    print(f"model {model}, {args.tokens} tokens per request, {args.rounds} requests per stream")
    print("streams  requests  tokens  seconds  aggregate tok/s  per-stream tok/s  TTFT p50  TTFT p99  decode tok/s")
    for r in results:
        print(f"{r['streams']:7d}  {r['requests']:8d}  {r['tokens_out']:6d}  {r['seconds']:7.1f}  "
              f"{r['aggregate_tok_s']:15.2f}  {r['per_stream_tok_s']:16.2f}  {r['ttft_p50_s']:8.3f}  {r['ttft_p99_s']:8.3f}  {r['decode_aggregate_tok_s']:12.2f}")


if __name__ == "__main__":
    main()
