#!/usr/bin/env python3
"""The Python side of bench/cuda/run: GPU parity checks and benchmarks through the command-line tools,
on random BERT models made here with transformers (safetensors and a synthetic WordPiece vocabulary, so
no MeCab dictionary is needed where this runs).

  fixtures       the ja-tiny fixture texts (as token ids) through splade-encode --device cuda against
                 PyTorch's vectors (the test suite's EncodeCLITests, on the GPU);
  parity-encode  splade-encode --device cuda against --device cpu (the oracle, which the test suite holds
                 to the PyTorch fixtures) and against PyTorch in float32, on the same token ids;
  parity-train   three splade-train steps with dropout (the same masks on both devices): --device cuda
                 against --device cpu, log line by line and every tensor of the final model; and the same steps
                 with --precision bf16, whose losses must stay within bfloat16's rounding of the CPU's;
  bench-encode   documents/s at lengths 128/256/512 and at lengths drawn from 16-512 ("mixed": PyTorch pads the
                 batches ours packs, and also batches in file order), batch 32, BERT-base, vocabulary 32768: ours
                 with --precision fp32, tf32 and bf16 against PyTorch in the same three (bench/cuda/torch_encode.py),
                 ours also in steady state (after the first window) and with the host's wait for the GPU; bf16 at
                 mixed lengths again with SPLADE_CUDA_LT_EXACT=1, SPLADE_CUDA_LT=0 and SPLADE_CUDA_GROUPED=0;
  bench-train    seconds per optimizer step, BERT-base, 1 query (32 tokens) + 7 documents (256 tokens),
                 dropout 0.1, cross-entropy + L1: ours with --precision fp32 and bf16 against PyTorch in float32
                 and under torch.autocast(bfloat16);
  profile        ncu's per-kernel summary of bf16 encoding over 64 mixed-length documents, into the log (where ncu is).

One JSON line per result in --out; exit status 1 when a parity check or a part fails (a failing part is
recorded as {"section": …, "failed": …} and the others still run).
Usage: bench/cuda/check.py --bin DIR --work DIR --out FILE [--fixtures DIR] [--quick]
  --quick: small models and sizes, no benchmarks (a run of the script itself without a GPU: bench/cuda/run --emulate).
"""
import argparse, json, os, re, subprocess, sys, time

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import BertConfig, BertForMaskedLM

p = argparse.ArgumentParser()
p.add_argument("--bin", required=True)
p.add_argument("--work", required=True)
p.add_argument("--out", required=True)
p.add_argument("--fixtures", help="the kit's fixtures directory (ja-tiny)")
p.add_argument("--quick", action="store_true")
a = p.parse_args()
os.makedirs(a.work, exist_ok=True)
GPU = torch.cuda.is_available()
TORCH_DEVICE = "cuda" if GPU else "cpu"
torch.backends.cuda.matmul.allow_tf32 = False  # float32 products, as ours
torch.backends.cudnn.allow_tf32 = False
VOCABULARY = 32768
CLS, SEP, FIRST_WORD = 2, 3, 5
failures = 0


def record(entry):
    entry.setdefault("torch", torch.__version__)
    entry.setdefault("device", torch.cuda.get_device_name() if GPU else "cpu")
    print(json.dumps(entry), flush=True)
    with open(a.out, "a") as f:
        f.write(json.dumps(entry) + "\n")


def check(name, error, tolerance, **extra):
    global failures
    ok = bool(error <= tolerance)
    failures += not ok
    record({"check": name, "error": float(error), "tolerance": tolerance, "pass": ok, **extra})


def make_model(name, layers, hidden, heads, inner):
    """A random BertForMaskedLM with a vocabulary of words w5 … w32767, its MLM bias lowered so that about
    1% of the vocabulary is active per text, as in a trained SPLADE model."""
    directory = os.path.join(a.work, name)
    if os.path.exists(os.path.join(directory, "model.safetensors")):
        return directory
    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCABULARY, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=inner, max_position_embeddings=512)
    model = BertForMaskedLM(config).eval()
    with torch.no_grad():
        # Lowered so that one logit in 10^4 is positive: a few hundred active terms per 128-token text.
        sample = torch.randint(FIRST_WORD, VOCABULARY, (1, 128))
        model.cls.predictions.bias -= torch.quantile(model(input_ids=sample).logits.flatten()[:1 << 24], 0.9999)
    model.save_pretrained(directory, safe_serialization=True)
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(FIRST_WORD, VOCABULARY)]) + "\n")
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}, f)
    return directory


def random_ids(generator, count, lengths):
    """`count` sequences [CLS] w … w [SEP], lengths drawn from `lengths`."""
    rows = []
    for _ in range(count):
        n = int(generator.choice(lengths))
        rows.append([CLS] + [int(x) for x in generator.integers(FIRST_WORD, VOCABULARY, n - 2)] + [SEP])
    return rows


def write_ids(path, rows):
    with open(path, "w") as f:
        for i, ids in enumerate(rows):
            f.write(json.dumps({"id": f"d{i}", "input_ids": ids}) + "\n")


# The tools' library path (the kit's libraries and cuBLAS, from bench/cuda/run), kept out of PyTorch's environment.
TOOLS_ENVIRONMENT = dict(os.environ, LD_LIBRARY_PATH=os.environ.get("SPLADE_TOOLS_LIBRARY_PATH", os.environ.get("LD_LIBRARY_PATH", "")))
# No single call may take the GPU session's time: a hang fails its section (subprocess.TimeoutExpired), the next runs.
CALL_TIMEOUT = 90


def tool(name, *arguments, discard_output=False, switches=None):
    """Runs one of the tools (with `switches`, extra environment variables) and its wall time."""
    started = time.perf_counter()
    run = subprocess.run([os.path.join(a.bin, name), *arguments], stdout=subprocess.DEVNULL if discard_output else subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=dict(TOOLS_ENVIRONMENT, **(switches or {})),
                         timeout=CALL_TIMEOUT)
    if run.returncode != 0:
        raise SystemExit(f"{name} {' '.join(arguments)} exited {run.returncode}:\n{run.stderr}")
    return run, time.perf_counter() - started


def our_vectors(model, path, device, precision="fp32"):
    run, _ = tool("splade-encode", "--model", model, "--keys", "ids", "--device", device, "--precision", precision,
                  "--batch-size", "16", "-i", path)
    dense = []
    for line in run.stdout.splitlines():
        row = np.zeros(VOCABULARY, dtype=np.float64)
        for key, value in json.loads(line)["vector"].items():
            row[int(key)] = value
        dense.append(row)
    return np.array(dense)


def torch_vectors(model_dir, rows):
    model = BertForMaskedLM.from_pretrained(model_dir).to(TORCH_DEVICE).eval()
    vectors = []
    with torch.inference_mode():
        for ids in rows:
            logits = model(input_ids=torch.tensor([ids], device=TORCH_DEVICE)).logits[0]
            vectors.append(torch.log1p(torch.relu(logits)).amax(dim=0).double().cpu().numpy())
    return np.array(vectors)


def relative(got, want):
    """Largest absolute difference over the largest weight (at least 1), per row; the worst row."""
    return max(float(np.abs(g - w).max() / max(1.0, np.abs(w).max())) for g, w in zip(got, want))


def fixtures():
    directory = os.path.join(a.fixtures, "ja-tiny")
    expected = load_file(os.path.join(directory, "encode-expected.safetensors"))
    for length in [512, 32]:
        run, _ = tool("splade-encode", "--model", os.path.join(directory, "model"), "--keys", "ids", "--device", "cuda",
                      "--max-length", str(length), "--batch-size", "4", "-i", os.path.join(directory, f"ids-{length}.jsonl"))
        want = expected[f"splade_max{length}"].astype(np.float64)
        got = np.zeros_like(want)
        for i, line in enumerate(run.stdout.splitlines()):
            for key, value in json.loads(line)["vector"].items():
                got[i, int(key)] = value
        check(f"ja-tiny fixture, max length {length}: cuda vs pytorch", relative(got, want), 1e-4, texts=len(want))


def parity_encode():
    model = make_model("small", 2, 128, 2, 512) if a.quick else make_model("base", 12, 768, 12, 3072)
    generator = np.random.default_rng(1)
    rows = random_ids(generator, 8 if a.quick else 64, [3, 17, 64, 128, 300, 512])
    path = os.path.join(a.work, "parity-ids.jsonl")
    write_ids(path, rows)
    cuda, cpu, reference = our_vectors(model, path, "cuda"), our_vectors(model, path, "cpu"), torch_vectors(model, rows)
    active = float((cuda > 0).sum(axis=1).mean())
    check("encode cuda vs cpu", relative(cuda, cpu), 1e-4, model=os.path.basename(model), texts=len(rows), mean_active=active)
    check("encode cuda vs pytorch fp32", relative(cuda, reference), 1e-4, model=os.path.basename(model), texts=len(rows))
    check("encode cpu vs pytorch fp32", relative(cpu, reference), 1e-4, model=os.path.basename(model), texts=len(rows))
    half = our_vectors(model, path, "cuda", "bf16")
    check("encode cuda bf16 vs pytorch fp32", relative(half, reference), 5e-2, model=os.path.basename(model), texts=len(rows))
    same = float(np.mean([(set(np.flatnonzero(c)) == set(np.flatnonzero(r))) for c, r in zip(cuda, cpu)]))
    record({"check": "encode cuda vs cpu: identical active terms", "share": same})
    if a.quick:  # the benchmarks' reading of --timings, where they do not run (bench/cuda/run --emulate)
        record(encode_speed(model, path, len(rows), "bf16", length="parity texts"))


def words(generator, n):
    return " ".join(f"w{int(x)}" for x in generator.integers(FIRST_WORD, VOCABULARY, n))


def training_rows(path, count, query_words, document_words, seed):
    generator = np.random.default_rng(seed)
    with open(path, "w") as f:
        for _ in range(count):
            f.write(json.dumps({"query": words(generator, query_words),
                                "positives": [words(generator, document_words)],
                                "negatives": [words(generator, document_words) for _ in range(7)],
                                "positives_score": [0.9], "negatives_score": [0.3, 0.2, 0.1, 0.1, 0.05, 0.05, 0.0]}) + "\n")


def training_config(path, model, data, output, **settings):
    base = dict(model_name_or_path=model, train_data=[data], output_dir=output, per_device_train_batch_size=2,
                gradient_accumulation_steps=2, max_steps=3, learning_rate=1e-4, lr_scheduler_type="cosine", warmup_steps=1,
                weight_decay=0.01, max_grad_norm=1.0, train_group_size=4, max_query_length=32, max_length=128,
                training_losses="cross_entropy", regularizer_doc="L1", regularizer_query="flops", sparsity_weight_doc=0.02,
                sparsity_weight_query=0.05, sparsity_warmup_steps_doc=2, sparsity_warmup_steps_query=2,
                noise_tokens="w5 w6 w7", noise_tokens_weight=0.1, seed=42, hidden_dropout_prob=0.1,
                attention_probs_dropout_prob=0.1, logging_steps=1, save_steps=1000)
    base.update(settings)
    with open(path, "w") as f:
        for key, value in base.items():
            f.write(f"{key}: {json.dumps(value)}\n")


def train(config, device, precision="fp32"):
    _, seconds = tool("splade-train", "--config", config, "--device", device, "--precision", precision)
    return seconds


def parity_train():
    model = make_model("small", 2, 128, 2, 512)
    data = os.path.join(a.work, "train-rows.jsonl")
    training_rows(data, 12, 12, 60, seed=2)
    logs, tensors = {}, {}
    for device, precision in [("cpu", "fp32"), ("cuda", "fp32"), ("cuda", "bf16")]:
        run = device if precision == "fp32" else f"{device}-{precision}"
        output = os.path.join(a.work, f"train-{run}")
        subprocess.run(["rm", "-rf", output])
        config = os.path.join(a.work, f"train-{run}.yaml")
        training_config(config, model, data, output)
        train(config, device, precision)
        logs[run] = [json.loads(line) for line in open(os.path.join(output, "training_log.jsonl"))]
        tensors[run] = load_file(os.path.join(output, "model.safetensors"))
    worst = max(abs(got["loss"] - want["loss"]) / abs(want["loss"]) for got, want in zip(logs["cuda-bf16"], logs["cpu"]))
    check("train cuda bf16 vs cpu fp32: loss (3 steps, dropout 0.1)", worst, 1e-2, steps=len(logs["cuda-bf16"]))
    worst = 0.0
    for got, want in zip(logs["cuda"], logs["cpu"]):
        for key in ["loss", "rank_loss", "reg_doc", "reg_query", "noise_sum", "grad_norm"]:
            worst = max(worst, abs(got[key] - want[key]) / max(1.0, abs(want[key])))
    check("train cuda vs cpu: log (3 steps, dropout 0.1)", worst, 1e-4, steps=len(logs["cuda"]))
    worst, name = 0.0, ""
    for key, want in tensors["cpu"].items():
        if key.endswith("attention.self.key.bias"):
            continue  # an exactly-zero gradient: Adam moves it by rounding noise alone
        error = float(np.abs(tensors["cuda"][key] - want).max() / max(np.abs(want).max(), 1e-12))
        if error > worst:
            worst, name = error, key
    # 1e-3: Adam's m/√v turns rounding differences in near-zero gradients into whole steps of ±lr, and the
    # GPU's atomic sums differ from run to run in the last bits (a wrong mask or gradient gives > 5e-3).
    check("train cuda vs cpu: final model", worst, 1e-3, worst_tensor=name)


def encode_speed(model, path, docs, precision, switches=None, **labels):
    """splade-encode --device cuda over `path` (`docs` documents, batch 32): documents/s in GPU time (the model's),
    steady (the windows after the first, whose time holds the GPU's one-time set-up; PyTorch's batches all run once
    before its timed pass), how long the host waited for the GPU (the rest it spent queueing work: where that is most
    of the time, the GPU waits on the host), and the wall time."""
    run, wall = tool("splade-encode", "--model", model, "--device", "cuda", "--precision", precision, "--timings",
                     "--batch-size", "32", "--format", "binary", "-i", path, discard_output=True, switches=switches)
    gpu = float(re.search(r"model on the GPU ([0-9.]+) s", run.stderr).group(1))
    waiting = float(re.search(r"the host waiting for it ([0-9.]+) s", run.stderr).group(1))
    first = re.search(r"the first window, ([0-9]+) docs with the GPU's set-up, ([0-9.]+) s", run.stderr)
    first_docs, first_seconds = int(first.group(1)), float(first.group(2))
    steady = (docs - first_docs) / (gpu - first_seconds) if docs > first_docs else None
    return {"bench": "encode", "side": "splade", "precision": precision, **labels, "batch": 32, "docs": docs,
            "switches": switches or {}, "seconds": gpu, "docs_per_s": docs / gpu, "steady_docs_per_s": steady,
            "first_window_seconds": first_seconds, "host_waiting_seconds": waiting, "wall_seconds": wall,
            "wall_docs_per_s": docs / wall}


def bench_encode():
    model = make_model("base", 12, 768, 12, 3072)
    docs = 1024
    # Fixed lengths, then lengths 16-512 drawn uniformly ("mixed"). splade-encode sorts each window of 16 batches by
    # length and packs each batch (attention one grouped call over the packed rows, or in bf16 one batched product
    # over the sequences padded alike where their lengths are close); PyTorch gets the same batches padded to their
    # longest, and also the file's order (torch_encode.py).
    mixed = os.path.join(a.work, "bench-mixed.jsonl")
    write_ids(mixed, random_ids(np.random.default_rng(16), docs, list(range(16, 513))))
    for length in [128, 256, 512, "mixed"]:
        path = mixed if length == "mixed" else os.path.join(a.work, f"bench-{length}.jsonl")
        if length != "mixed":
            write_ids(path, random_ids(np.random.default_rng(length), docs, [length]))
        for precision in ["fp32", "tf32", "bf16"]:
            record(encode_speed(model, path, docs, precision, length=length))
    # The library's switches on bf16 encoding at mixed lengths: cuBLASLt's plans per row count instead of per
    # power-of-two bucket, cuBLASLt off (bias rows and cublasGemmEx), cuBLAS's grouped and pointer-array batched
    # products off (a strided-batched product per sequence).
    for switches in [{"SPLADE_CUDA_LT_EXACT": "1"}, {"SPLADE_CUDA_LT": "0"}, {"SPLADE_CUDA_GROUPED": "0"}]:
        record(encode_speed(model, mixed, docs, "bf16", length="mixed", switches=switches))
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "torch_encode.py"), "--model", model,
                    "--docs", str(docs), "--ids", mixed, "--out", a.out], check=True, timeout=2 * CALL_TIMEOUT)  # every length and precision


def profile():
    """Where bf16 encoding's GPU time goes, kernel by kernel (ncu's per-kernel summary of one metric, the kernels'
    durations), over the first 64 mixed-length documents: printed into the log, not checked."""
    import shutil
    ncu = shutil.which("ncu")
    if not ncu:
        record({"profile": "skipped: no ncu on this machine"})
        return
    path = os.path.join(a.work, "profile-mixed.jsonl")
    with open(os.path.join(a.work, "bench-mixed.jsonl")) as source, open(path, "w") as f:
        f.writelines(line for _, line in zip(range(64), source))
    run = subprocess.run([ncu, "--clock-control", "none", "--print-summary", "per-kernel", "--metrics", "gpu__time_duration.sum",
                          os.path.join(a.bin, "splade-encode"), "--model", os.path.join(a.work, "base"), "--device", "cuda",
                          "--precision", "bf16", "--batch-size", "32", "--format", "binary", "-i", path, "-o", "/dev/null"],
                         capture_output=True, text=True, env=TOOLS_ENVIRONMENT, timeout=150)
    print(run.stdout[-60000:], run.stderr[-4000:], sep="\n", flush=True)
    record({"profile": "ncu per-kernel summary of bf16 encoding (64 mixed documents) in the log", "status": run.returncode})


TORCH_STEP = r"""
import json, sys, time, torch
from transformers import BertForMaskedLM
model_dir, steps, precision = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.backends.cuda.matmul.allow_tf32 = False
torch.manual_seed(0)
model = BertForMaskedLM.from_pretrained(model_dir, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1).cuda().train()
g = torch.Generator().manual_seed(3)
query = torch.randint(5, 32768, (1, 32), generator=g).cuda()
documents = torch.randint(5, 32768, (8, 256), generator=g).cuda()
opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
def splade(ids):
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
        logits = model(input_ids=ids).logits
    return torch.log1p(torch.relu(logits.float())).amax(dim=1)
times = []
for _ in range(steps):
    torch.cuda.synchronize(); start = time.perf_counter()
    q, d = splade(query), splade(documents)
    loss = torch.nn.functional.cross_entropy(q @ d.T, torch.zeros(1, dtype=torch.long, device="cuda"))
    loss = loss + 0.02 * d.abs().sum(-1).mean() + 0.05 * q.abs().sum(-1).mean()
    loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); opt.zero_grad()
    torch.cuda.synchronize(); times.append(time.perf_counter() - start)
print(json.dumps({"seconds": sum(times[1:]) / len(times[1:]), "peak_gpu_bytes": torch.cuda.max_memory_allocated()}))
"""


def bench_train():
    model = make_model("base", 12, 768, 12, 3072)
    data = os.path.join(a.work, "bench-train-rows.jsonl")
    training_rows(data, 8, 30, 300, seed=4)
    output = os.path.join(a.work, "bench-train")
    config = os.path.join(a.work, "bench-train.yaml")
    training_config(config, model, data, output, per_device_train_batch_size=1, gradient_accumulation_steps=1, max_steps=5,
                    train_group_size=8, max_length=256, learning_rate=2e-5, regularizer_query="L1", noise_tokens_weight=0.0,
                    sparsity_warmup_steps_doc=0, sparsity_warmup_steps_query=0)
    for precision in ["fp32", "bf16"]:
        subprocess.run(["rm", "-rf", output])
        train(config, "cuda", precision)
        log = [json.loads(line) for line in open(os.path.join(output, "training_log.jsonl"))]
        ours = sum(entry["seconds"] for entry in log[1:]) / len(log[1:])
        record({"bench": "train step", "side": "splade", "precision": precision, "seconds": ours, "steps": len(log),
                "tokens_per_s": log[-1].get("tokens_per_s")})
        run = subprocess.run([sys.executable, "-c", TORCH_STEP, model, "5", precision], capture_output=True, text=True, check=True,
                             timeout=CALL_TIMEOUT)
        reference = json.loads(run.stdout.splitlines()[-1])
        record({"bench": "train step", "side": "pytorch", "precision": precision, **reference})
        record({"bench": "train step", "precision": precision, "ratio_pytorch_over_splade": reference["seconds"] / ours})


def section(function):
    """Runs one part; a tool that fails (or any error) is recorded as a failure and the next part still runs,
    so that one GPU session reports everything it can."""
    global failures
    try:
        function()
    except (Exception, SystemExit) as error:
        failures += 1
        record({"section": function.__name__, "failed": str(error)[-4000:]})


if a.fixtures:
    section(fixtures)
section(parity_encode)
section(parity_train)
if not a.quick:
    section(bench_encode)
    section(bench_train)
    section(profile)
record({"parity_failures": failures})
sys.exit(1 if failures else 0)
