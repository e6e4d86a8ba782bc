"""splade-search vs brute force (numpy/scipy) and Seismic on the same vectors; see bench/search/run."""
import argparse
import json
import os
import shutil
import struct
import subprocess
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
import numpy as np
import scipy.sparse as sp


def encode(args, path, fields):
    """Real splade-tiny vectors of a JSON Lines file: (ids, [(term ids, weights)])."""
    out = subprocess.run([f"{args.bin}/splade-encode", "--model", args.model, "--keys", "ids", "--field", fields, "-i", path],
                         check=True, capture_output=True, text=True).stdout
    ids, vectors = [], []
    for line in out.splitlines():
        record = json.loads(line)
        ids.append(str(record["id"]))
        terms = np.array([int(k) for k in record["vector"]], dtype=np.int32)
        weights = np.array(list(record["vector"].values()), dtype=np.float32)
        vectors.append((terms, weights))
    return ids, vectors


def replicate(base, n, seed=0):
    """n documents: the real ones, then perturbed copies (weights × exp(N(0, 0.1)), 10% of terms dropped)."""
    rng = np.random.default_rng(seed)
    docs = list(base[:n])
    while len(docs) < n:
        terms, weights = base[len(docs) % len(base)]
        keep = rng.random(len(terms)) >= 0.1
        if not keep.any():
            keep[0] = True
        docs.append((terms[keep], (weights[keep] * np.exp(rng.normal(0, 0.1, keep.sum()))).astype(np.float32)))
    return docs


def fingerprint(args):
    """The vocabulary fingerprint of the model, from a one-text binary stream's header."""
    header = subprocess.run(f"echo x | {args.bin}/splade-encode --model {args.model} --lines --format binary | zstd -dc | head -c 24",
                            shell=True, check=True, capture_output=True).stdout
    return struct.unpack("<IQ", header[12:24])


def write_binary(path, docs, vocabulary, fp):
    """The binary vector stream, uncompressed (splade-index reads both)."""
    with open(path, "wb") as f:
        f.write(b"SPLADEVS" + struct.pack("<HBBIQ", 1, 1, 0, vocabulary, fp))
        for i, (terms, weights) in enumerate(docs):
            name = str(i).encode()
            f.write(struct.pack("<BI", 1, len(name)) + name + struct.pack("<I", len(terms)))
            f.write(terms.astype("<u4").tobytes() + weights.astype("<f4").tobytes())
        f.write(struct.pack("<BQ", 0xFF, len(docs)))


def recall(found, exact):
    return float(np.mean([len(set(f) & set(e)) / max(1, len(e)) for f, e in zip(found, exact)]))


def summary(latencies_ms):
    values = np.sort(np.asarray(latencies_ms))
    return {"mean_ms": float(values.mean()), "p99_ms": float(values[min(len(values) - 1, len(values) * 99 // 100)])}


def directory_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def main():
    parser = argparse.ArgumentParser()
    for name in ["--bin", "--model", "--data", "--work", "--out"]:
        parser.add_argument(name, required=True)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=289)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)

    base = []
    for collection in ["cacm", "cranfield"]:
        base += encode(args, f"{args.data}/{collection}/corpus.jsonl", "title,text")[1]
    queries = []
    for collection in ["cranfield", "cacm"]:
        queries += encode(args, f"{args.data}/{collection}/queries.jsonl", "text")[1]
    queries = queries[:args.queries]
    docs = replicate(base, args.docs)
    vocabulary, fp = fingerprint(args)
    report = {"documents": len(docs), "real_documents": len(base), "queries": len(queries),
              "vectors": f"splade-tiny on CACM + Cranfield; {len(docs) - len(base)} of {len(docs)} are perturbed replicas",
              "postings": int(sum(len(t) for t, _ in docs)), "systems": {}}

    # Brute force: the exact float top 10, the reference for recall.
    indptr = np.cumsum([0] + [len(t) for t, _ in docs])
    matrix = sp.csr_matrix((np.concatenate([w for _, w in docs]), np.concatenate([t for t, _ in docs]), indptr),
                           shape=(len(docs), vocabulary))
    exact, latencies = [], []
    for terms, weights in queries:
        start = time.perf_counter()
        query = np.zeros(vocabulary, dtype=np.float32)
        query[terms] = weights
        scores = matrix @ query
        top = np.argpartition(-scores, 10)[:10]
        top = top[np.argsort(-scores[top], kind="stable")]
        latencies.append((time.perf_counter() - start) * 1e3)
        exact.append([str(i) for i in top if scores[i] > 0])
    report["systems"]["numpy brute force"] = {**summary(latencies), "recall@10": 1.0}

    # splade-index / splade-search, one thread.
    stream = f"{args.work}/docs.vec"
    write_binary(stream, docs, vocabulary, fp)
    query_file = f"{args.work}/queries.jsonl"
    with open(query_file, "w") as f:
        for i, (terms, weights) in enumerate(queries):
            f.write(json.dumps({"id": f"q{i}", "vector": {str(t): float(w) for t, w in zip(terms, weights)}}) + "\n")
    index = f"{args.work}/idx"
    start = time.perf_counter()
    subprocess.run([f"{args.bin}/splade-index", "-i", stream, "-o", index, "--quiet"], check=True)
    build = time.perf_counter() - start
    for alpha in [1.0, 0.9, 0.8, 0.7]:
        run = subprocess.run([f"{args.bin}/splade-search", "--index", index, "--vectors", "--keys", "ids", "-k", "10",
                              "--threads", "1", "--alpha", str(alpha), "--timings", "-i", query_file],
                             check=True, capture_output=True, text=True)
        found = {}
        for line in run.stdout.splitlines():
            qid, _, doc, *_ = line.split()
            found.setdefault(qid, []).append(doc)
        timing = run.stderr.split("mean ")[1]
        mean, p99 = float(timing.split(" ms")[0]), float(timing.split("p99 ")[1].split(" ms")[0])
        name = "splade-search exact" if alpha == 1 else f"splade-search alpha={alpha}"
        report["systems"][name] = {"mean_ms": mean, "p99_ms": p99,
                                   "recall@10": recall([found.get(f"q{i}", []) for i in range(len(queries))], exact),
                                   "index_bytes": directory_bytes(index), "build_s": build}

    # Seismic (approximate), its recommended settings scaled to the collection.
    import seismic
    jsonl = f"{args.work}/seismic.jsonl"
    with open(jsonl, "w") as f:
        for i, (terms, weights) in enumerate(docs):
            f.write(json.dumps({"id": i, "content": "", "vector": {str(t): float(w) for t, w in zip(terms, weights)}}) + "\n")
    start = time.perf_counter()
    index = seismic.SeismicIndex.build(jsonl, n_postings=max(100, len(docs) // 250), centroid_fraction=0.1,
                                       summary_energy=0.4, batched_indexing=100_000, num_threads=1)
    build = time.perf_counter() - start
    index_path = f"{args.work}/seismic"
    index.save(index_path)
    size = sum(os.path.getsize(p) for p in [index_path + ext for ext in ["", ".index.seismic"]] if os.path.exists(p))
    for heap_factor in [0.7, 0.9]:
        latencies, found = [], []
        for i, (terms, weights) in enumerate(queries):
            components = np.array([str(t) for t in terms], dtype=seismic.get_seismic_string())
            start = time.perf_counter()
            results = index.search(query_id=f"q{i}", query_components=components, query_values=weights.astype(np.float32),
                                   k=10, query_cut=20, heap_factor=heap_factor)
            latencies.append((time.perf_counter() - start) * 1e3)
            found.append([str(r[2]) for r in results])
        report["systems"][f"seismic heap_factor={heap_factor}"] = {**summary(latencies), "recall@10": recall(found, exact),
                                                                   "index_bytes": size, "build_s": build}

    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"{report['documents']} documents ({report['vectors']}), {report['queries']} queries, one thread")
    print(f"{'system':32} {'mean ms':>9} {'p99 ms':>9} {'recall@10':>10} {'index MiB':>10} {'build s':>8}")
    for name, r in report["systems"].items():
        print(f"{name:32} {r['mean_ms']:9.3f} {r['p99_ms']:9.3f} {r['recall@10']:10.3f} "
              f"{r.get('index_bytes', 0) / 2**20:10.1f} {r.get('build_s', 0):8.1f}")


if __name__ == "__main__":
    main()
