#!/usr/bin/env python3
"""How far PyTorch's own bf16 autocast gradient is from its float32 gradient, measured as
CUDAPathTests.bfloat16TrainingStepIsCloseToTheCPU measures splade-train's bf16 GPU step against the CPU's: the same
16 texts of the splade-tiny fixture through BertForMaskedLM (no dropout), SPLADE max pooling, a random gradient of
the vectors kept only where both passes' weights exceed 0.05, then the relative L2 error of each parameter's
gradient and of the whole model's (attention key biases left out: their gradient is zero but for rounding).
The test's bounds come from what this prints. Runs on the CPU (torch.autocast("cpu")).

Usage: autocast_gradient.py MODEL_DIR TEXTS_JSONL [sdpa|eager]
  e.g. autocast_gradient.py models/splade-tiny ../shared/fixtures/splade-tiny-en/vectors.jsonl
"""
import json
import sys

import torch
from transformers import AutoTokenizer, BertForMaskedLM

model_dir, texts_path = sys.argv[1], sys.argv[2]
attention = sys.argv[3] if len(sys.argv) > 3 else "sdpa"
torch.manual_seed(0)
texts = [json.loads(line)["text"] for line in open(texts_path)][:16]
batch = AutoTokenizer.from_pretrained(model_dir)(texts, padding=True, truncation=True, max_length=512,
                                                 return_tensors="pt")


def vectors(autocast):
    model = BertForMaskedLM.from_pretrained(model_dir, attn_implementation=attention)
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logits = model(**batch).logits
    weights = torch.log1p(torch.relu(logits.float())) * batch["attention_mask"].unsqueeze(-1)
    return model, weights.amax(dim=1)


exact, exact_vectors = vectors(False)
half, half_vectors = vectors(True)
gradient = torch.randn(exact_vectors.shape) * (torch.minimum(exact_vectors, half_vectors) > 0.05).float()
(exact_vectors * gradient).sum().backward()
(half_vectors * gradient).sum().backward()
difference = total = 0.0
errors = []
for (name, p32), (_, p16) in zip(exact.named_parameters(), half.named_parameters()):
    if p32.grad is None or name.endswith("attention.self.key.bias"):
        continue
    delta, want = (p16.grad - p32.grad).double(), p32.grad.double()
    if float((want * want).sum()) == 0:
        continue
    difference += float((delta * delta).sum())
    total += float((want * want).sum())
    errors.append((float(((delta * delta).sum() / (want * want).sum()).sqrt()), name))
errors.sort(reverse=True)
print(json.dumps({"attention": attention, "torch": torch.__version__,
                  "vectors": float((half_vectors - exact_vectors).abs().max() / exact_vectors.abs().max()),
                  "model_gradient": (difference / total) ** 0.5,
                  "worst_tensors": [{"name": n, "error": e} for e, n in errors[:5]]}))
