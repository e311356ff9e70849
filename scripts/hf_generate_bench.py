"""Hugging Face transformers' generate on a model directory, timed as `genius bench generate` times its own.

    python3 scripts/hf_generate_bench.py MODEL_DIR --dtype bfloat16 --batch 1 16 64 --prompt-tokens 32 --new-tokens 64

For each batch: greedy generation of exactly --new-tokens tokens (EOS ignored)
after a prompt of --prompt-tokens token ids (the same ids genius bench uses:
(b*131 + t*7 + 1) mod (vocab-1)), after one warm-up; prints prefill and decode
tokens/s in genius bench generate's columns. Needs torch with CUDA and
transformers (the GPU machine has both)."""
import argparse
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    dtype = torch.bfloat16 if a.dtype == "bfloat16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype).to(a.device).eval()
    vocab = model.config.vocab_size
    params = sum(p.numel() for p in model.parameters())
    print(f"transformers generate: {a.model}, {params / 1e6:.2f}M parameters, {a.dtype}, {a.device}")
    print(f"{'batch':>6} {'prompt':>8} {'new':>8} {'prefill tok/s':>14} {'decode tok/s':>14}")

    def run(batch, new):
        ids = torch.tensor([[(b * 131 + t * 7 + 1) % max(2, vocab - 1) for t in range(a.prompt_tokens)]
                            for b in range(batch)], device=a.device)
        mask = torch.ones_like(ids)
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.no_grad():
            model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new, min_new_tokens=new,
                           do_sample=False, pad_token_id=0)
        torch.cuda.synchronize()
        return time.perf_counter() - start

    for batch in a.batch:
        run(batch, 1)  # warm-up
        prefill = run(batch, 1)
        total = run(batch, a.new_tokens)
        decode = batch * (a.new_tokens - 1) / max(1e-9, total - prefill)
        print(f"{batch:>6} {a.prompt_tokens:>8} {a.new_tokens:>8} {batch * a.prompt_tokens / prefill:>14.0f} "
              f"{decode:>14.0f}")


if __name__ == "__main__":
    main()
