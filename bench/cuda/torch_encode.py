#!/usr/bin/env python3
"""PyTorch's side of bench/cuda/check.py's encoding benchmark: SPLADE max pooling with the BERT-base-sized
random BertForMaskedLM that check.py makes in --model (12 layers, hidden 768, 12 heads, FFN 3072,
vocabulary 32768), on the GPU, in float32 (with and without TF32 products) and bfloat16, at lengths
128/256/512 (no padding: every sequence has the full length), batch 32.
Appends one JSON line per (precision, length) to --out.
"""
import argparse, json, time

import torch
from transformers import BertForMaskedLM

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--docs", type=int, default=1024)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--lengths", default="128,256,512")
p.add_argument("--out", required=True)
a = p.parse_args()

model = BertForMaskedLM.from_pretrained(a.model).cuda().eval()
name = torch.cuda.get_device_name()
g = torch.Generator().manual_seed(42)
for dtype, label in [(torch.float32, "fp32"), (torch.float32, "tf32"), (torch.bfloat16, "bf16")]:
    torch.backends.cuda.matmul.allow_tf32 = label == "tf32"
    m = model.to(dtype)
    for length in [int(x) for x in a.lengths.split(",")]:
        ids = torch.randint(1000, 32768, (a.docs, length), generator=g)
        ids[:, 0], ids[:, -1] = 2, 3

        def run(batch):
            with torch.inference_mode():
                logits = m(input_ids=batch.cuda()).logits
                return torch.log1p(torch.relu(logits.float())).amax(dim=1)

        run(ids[: a.batch])
        torch.cuda.synchronize()
        start, active = time.perf_counter(), 0
        for s in range(0, a.docs, a.batch):
            active += int((run(ids[s : s + a.batch]) > 0).sum())
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        with open(a.out, "a") as f:
            f.write(json.dumps({"side": "pytorch", "precision": label, "length": length, "batch": a.batch,
                                "docs": a.docs, "seconds": seconds, "docs_per_s": a.docs / seconds,
                                "mean_active": active / a.docs, "device": name, "torch": torch.__version__}) + "\n")
