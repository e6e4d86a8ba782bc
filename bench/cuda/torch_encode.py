#!/usr/bin/env python3
"""PyTorch's side of bench/cuda/check.py's encoding benchmark: SPLADE max pooling with the BERT-base-sized
random BertForMaskedLM that check.py makes in --model (12 layers, hidden 768, 12 heads, FFN 3072,
vocabulary 32768), on the GPU, in float32 (with and without TF32 products) and bfloat16, at lengths
128/256/512 (no padding: every sequence has the full length), batch 32; with --ids FILE (JSON Lines with
"input_ids", as splade-encode reads them) also those sequences, each batch padded to its longest with an attention
mask (the padding's rows left out of the maximum): batched as splade-encode batches them (windows of 16 batches,
longest first in each), labelled --ids-label, and in file order, labelled "<label>, file order" (a plain loop).
Every batch runs once before the timed pass. Appends one JSON line per (precision, length) to --out.
"""
import argparse, json, time

import torch
from transformers import BertForMaskedLM

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--docs", type=int, default=1024)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--lengths", default="128,256,512")
p.add_argument("--ids", help="also encode these sequences (length label --ids-label), padded per batch")
p.add_argument("--ids-label", default="mixed")
p.add_argument("--out", required=True)
a = p.parse_args()

model = BertForMaskedLM.from_pretrained(a.model).cuda().eval()
name = torch.cuda.get_device_name()
g = torch.Generator().manual_seed(42)
rows = [json.loads(line)["input_ids"] for line in open(a.ids)] if a.ids else []


def fixed_batches(length):
    """a.docs random sequences of `length` tokens, batch by batch (no padding)."""
    ids = torch.randint(1000, 32768, (a.docs, length), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    return [(ids[s : s + a.batch], None) for s in range(0, a.docs, a.batch)]


def padded_batches(sort):
    """The --ids sequences, each batch padded with 0 to its longest, with its attention mask; with `sort`, in
    splade-encode's order: windows of 16 batches, each sorted by length, longest first."""
    order = list(range(len(rows)))
    if sort:
        window = 16 * a.batch
        order = [i for w in range(0, len(rows), window)
                 for i in sorted(order[w : w + window], key=lambda i: -len(rows[i]))]
    batches = []
    for s in range(0, len(order), a.batch):
        chunk = [rows[i] for i in order[s : s + a.batch]]
        longest = max(len(r) for r in chunk)
        ids = torch.tensor([r + [0] * (longest - len(r)) for r in chunk])
        mask = torch.tensor([[1] * len(r) + [0] * (longest - len(r)) for r in chunk])
        batches.append((ids, mask))
    return batches


for dtype, label in [(torch.float32, "fp32"), (torch.float32, "tf32"), (torch.bfloat16, "bf16")]:
    torch.backends.cuda.matmul.allow_tf32 = label == "tf32"
    m = model.to(dtype)
    cases = [(length, fixed_batches(length)) for length in [int(x) for x in a.lengths.split(",")]]
    if rows:
        cases += [(a.ids_label, padded_batches(True)), (f"{a.ids_label}, file order", padded_batches(False))]
    for length, batches in cases:

        def run(ids, mask):
            with torch.inference_mode():
                mask = None if mask is None else mask.cuda()
                logits = m(input_ids=ids.cuda(), attention_mask=mask).logits
                weights = torch.log1p(torch.relu(logits.float()))
                if mask is not None:
                    weights = weights.masked_fill(mask.unsqueeze(-1) == 0, 0)
                return weights.amax(dim=1)

        for batch in batches:  # every shape once: allocations and kernel choices out of the timed pass
            run(*batch)
        torch.cuda.synchronize()
        start, active = time.perf_counter(), 0
        for ids, mask in batches:
            active += int((run(ids, mask) > 0).sum())
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        docs = sum(len(ids) for ids, _ in batches)
        with open(a.out, "a") as f:
            f.write(json.dumps({"side": "pytorch", "precision": label, "length": length, "batch": a.batch,
                                "docs": docs, "seconds": seconds, "docs_per_s": docs / seconds,
                                "mean_active": active / docs, "device": name, "torch": torch.__version__}) + "\n")
