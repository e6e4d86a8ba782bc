"""splade-search vs brute force (numpy/scipy), Seismic and BMP on the same vectors; see bench/search/run."""
import argparse
import glob
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/interop"))


def encode(args, path, fields):
    """Real splade-tiny vectors of a JSON Lines file: [(term ids, weights)]."""
    out = subprocess.run([f"{args.bin}/splade-encode", "--model", args.model, "--keys", "ids", "--field", fields, "-i", path],
                         check=True, capture_output=True, text=True).stdout
    vectors = []
    for line in out.splitlines():
        record = json.loads(line)
        terms = np.array([int(k) for k in record["vector"]], dtype=np.int32)
        weights = np.array(list(record["vector"].values()), dtype=np.float32)
        vectors.append((terms, weights))
    return vectors


def english_splade(args):
    """splade-tiny on CACM + Cranfield: document vectors ("title text") and query vectors."""
    docs = []
    for collection in ["cacm", "cranfield"]:
        docs += encode(args, f"{args.data}/{collection}/corpus.jsonl", "title,text")
    queries = []
    for collection in ["cranfield", "cacm"]:
        queries += encode(args, f"{args.data}/{collection}/queries.jsonl", "text")
    return docs, queries, args.model


def tokenize(args, texts, model):
    """splade-tokenize ids of each text, [CLS]/[SEP] dropped."""
    run = subprocess.run([f"{args.bin}/splade-tokenize", "--model", model, "--lines"], input="\n".join(texts) + "\n",
                         check=True, capture_output=True, text=True)
    special = {2, 3}
    return [[i for i in json.loads(line)["input_ids"] if i not in special] for line in run.stdout.splitlines()]


def japanese_bm25(args):
    """BM25 vectors (k1 0.9, b 0.4, as splade-index --bm25) of the JaQuAD paragraphs over the
    bert-base-japanese-v3 WordPiece tokens, and the questions as token-count queries."""
    model = os.path.join(os.path.dirname(args.model), "bert-base-japanese-v3")
    contexts, questions = {}, []
    for path in sorted(glob.glob(f"{args.data}/jaquad/*.json")):
        with open(path) as f:
            for article in json.load(f)["data"]:
                for paragraph in article["paragraphs"]:
                    contexts.setdefault(" ".join(paragraph["context"].split()), None)
                    questions += [" ".join(qa["question"].split()) for qa in paragraph["qas"]]
    documents = tokenize(args, list(contexts), model)
    queries = tokenize(args, questions[::max(1, len(questions) // 1000)][:1000], model)
    n = len(documents)
    average = sum(map(len, documents)) / n
    df = {}
    for tokens in documents:
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    k1, b = 0.9, 0.4

    def counts(tokens):
        terms, tf = np.unique(np.asarray(tokens, dtype=np.int32), return_counts=True)
        return terms, tf.astype(np.float64)

    docs = []
    for tokens in documents:
        terms, tf = counts(tokens)
        idf = np.array([math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in terms])
        docs.append((terms, (idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(tokens) / average))).astype(np.float32)))
    return docs, [(t, w.astype(np.float32)) for t, w in map(counts, queries) if len(t)], model


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


def write_vectors(path, vectors, id_offset=0):
    """JSON Lines vectors keyed by token id (splade-index --keys ids, Seismic's input)."""
    with open(path, "w") as f:
        for i, (terms, weights) in enumerate(vectors):
            f.write(json.dumps({"id": i + id_offset, "content": "",
                                "vector": {str(t): float(w) for t, w in zip(terms, weights)}}) + "\n")


def recall(found, exact):
    return float(np.mean([len(set(f) & set(e)) / max(1, len(e)) for f, e in zip(found, exact)]))


def summary(latencies_ms):
    values = np.sort(np.asarray(latencies_ms))
    return {"mean_ms": float(values.mean()), "p99_ms": float(values[min(len(values) - 1, len(values) * 99 // 100)])}


def directory_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def bench_collection(args, name, base, queries, model, docs_wanted):
    work = f"{args.work}/{name}"
    os.makedirs(work)
    docs = replicate(base, docs_wanted)
    with open(f"{model}/config.json") as f:
        vocabulary = json.load(f)["vocab_size"]
    report = {"documents": len(docs), "real_documents": min(len(base), len(docs)), "queries": len(queries),
              "replicas": f"{max(0, len(docs) - len(base))} of {len(docs)} documents are perturbed replicas",
              "postings": int(sum(len(t) for t, _ in docs)), "systems": {}}
    print(f"{name}: {len(docs)} documents ({report['replicas']}), {len(queries)} queries", flush=True)

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
    del matrix
    report["systems"]["numpy brute force"] = {**summary(latencies), "recall@10": 1.0}

    # splade-index / splade-search, one thread, with and without document reordering.
    jsonl = f"{work}/docs.jsonl"
    write_vectors(jsonl, docs)
    query_file = f"{work}/queries.jsonl"
    with open(query_file, "w") as f:
        for i, (terms, weights) in enumerate(queries):
            f.write(json.dumps({"id": f"q{i}", "vector": {str(t): float(w) for t, w in zip(terms, weights)}}) + "\n")
    # (label suffix, options): the default build, one without reordering, and one under --memory-limit if asked.
    builds = [("", []), (", --no-reorder", ["--no-reorder"])]
    if args.memory_limit:
        builds.append((f", --memory-limit {args.memory_limit}", ["--memory-limit", args.memory_limit]))
    for suffix, options in builds:
        index = f"{work}/idx" + "".join(options).replace("--", "-")
        start = time.perf_counter()
        built = subprocess.run(["/usr/bin/time", "-f", "%M", f"{args.bin}/splade-index", "-i", jsonl, "-o", index, "--model", model,
                                "--keys", "ids", "--quiet"] + options, check=True, capture_output=True, text=True)
        build = time.perf_counter() - start
        peak_mib = int(built.stderr.strip().splitlines()[-1]) / 1024
        with open(f"{index}/CURRENT") as f, open(f"{index}/{f.read().strip()}/manifest.json") as m:
            segments = len(json.load(m)["segments"])
        if segments > 1:
            suffix += f" ({segments} segments)"
        for alpha in ([1.0, 0.9, 0.8] if not options else [1.0]):
            run = subprocess.run([f"{args.bin}/splade-search", "--index", index, "--vectors", "--keys", "ids", "-k", "10",
                                  "--threads", "1", "--alpha", str(alpha), "--timings", "-i", query_file],
                                 check=True, capture_output=True, text=True)
            found = {}
            for line in run.stdout.splitlines():
                qid, _, doc, *_ = line.split()
                found.setdefault(qid, []).append(doc)
            timing = run.stderr.split("mean ")[1]
            mean, p99 = float(timing.split(" ms")[0]), float(timing.split("p99 ")[1].split(" ms")[0])
            label = "splade-search " + ("exact" if alpha == 1 else f"alpha={alpha}") + suffix
            report["systems"][label] = {"mean_ms": mean, "p99_ms": p99,
                                        "recall@10": recall([found.get(f"q{i}", []) for i in range(len(queries))], exact),
                                        "index_bytes": directory_bytes(index), "build_s": build, "build_peak_rss_mib": peak_mib}
        if not options:
            order = block_order(index)
            run_bmp(args, report, docs, order, model, queries, exact, work)
            run_pisa(report, docs, order, queries, exact, work)

    run_seismic(report, jsonl, docs, queries, exact, work)
    return report


def block_order(index):
    """The document numbers in the block order of a one-segment index (its blockDocuments section,
    see SegmentLayout.swift): where splade-index's reordering put each document."""
    with open(f"{index}/CURRENT") as f:
        generation = f.read().strip()
    with open(f"{index}/{generation}/seg-000001.spi", "rb") as f:
        segment = f.read()
    entry = 64 + 10 * 24
    offset, length = struct.unpack_from("<QQ", segment, entry)
    return np.frombuffer(segment, dtype="<u4", count=length // 4, offset=offset)


def run_bmp(args, report, docs, order, model, queries, exact, work):
    """BMP (bmp on PyPI) from a CIFF of the same documents and 8-bit impacts, its documents in the
    block order splade-index's reordering chose (BMP relies on a reordered collection and has no
    reordering of its own), block size 32 as ours. Queries: BMP's integer weights (the largest 32,
    see tests/interop/ciff_engines.py). alpha = beta = 1 is BMP's exact mode."""
    import bmp
    from ciff_engines import bmp_query
    reordered = f"{work}/docs-bmp.jsonl"
    with open(reordered, "w") as f:
        for d in order:
            terms, weights = docs[d]
            f.write(json.dumps({"id": int(d), "vector": {str(t): float(w) for t, w in zip(terms, weights)}}) + "\n")
    index, ciff, bmp_index = f"{work}/idx-bmp-order", f"{work}/docs.ciff", f"{work}/docs.bmp"
    subprocess.run([f"{args.bin}/splade-index", "-i", reordered, "-o", index, "--model", model, "--keys", "ids", "--quiet",
                    "--no-reorder"], check=True)
    with open(ciff, "wb") as f:
        subprocess.run([f"{args.bin}/splade-index", "--export", "ciff", "--index", index, "--keys", "ids"], stdout=f, check=True)
    start = time.perf_counter()
    bmp.ciff2bmp(ciff, bmp_index, 32, False)
    build = time.perf_counter() - start
    searcher = bmp.Searcher(bmp_index)
    bmp_queries = [bmp_query({str(t): float(w) for t, w in zip(terms, weights)}) for terms, weights in queries]
    for alpha in [1.0, 0.9]:
        latencies, found = [], []
        for query in bmp_queries:
            start = time.perf_counter()
            docnos, _ = searcher.search(query, 10, alpha, 1.0)
            latencies.append((time.perf_counter() - start) * 1e3)
            found.append([str(d) for d in docnos])
        report["systems"]["bmp " + ("exact" if alpha == 1 else f"alpha={alpha}")] = {
            **summary(latencies), "recall@10": recall(found, exact), "index_bytes": os.path.getsize(bmp_index),
            "build_s": build, "note": "build time excludes the reordering (BMP's input is already in our order)"}


def run_pisa(report, docs, order, queries, exact, work):
    """PISA (pyterrier-pisa) on the same 8-bit impacts (round(w / scale), scale = largest weight / 255,
    as splade-index quantises), documents in our block order, indexed by PISA itself; queries with
    BMP's integer weights, scored by PISA's `quantized` scorer (Σ query weight × impact), exact
    algorithms. pyterrier-pisa retrieves a batch of queries at once (a pandas frame), so the mean
    latency is the batch time over the query count and there is no p99."""
    import pandas as pd
    import pyterrier_pisa
    from ciff_engines import bmp_query
    scale = max(float(w.max()) for _, w in docs if len(w)) / 255
    path = f"{work}/pisa"

    def documents():
        for d in order:
            terms, weights = docs[d]
            impacts = np.rint(weights / scale).astype(np.int64)
            yield {"docno": str(d), "toks": {str(t): int(i) for t, i in zip(terms, impacts) if i > 0}}

    start = time.perf_counter()
    index = pyterrier_pisa.PisaIndex(path, stemmer="none", threads=1)
    index.toks_indexer(scale=1.).index(documents())
    frame = pd.DataFrame({"qid": [f"q{i}" for i in range(len(queries))],
                          "query_toks": [bmp_query({str(t): float(w) for t, w in zip(terms, weights)}) for terms, weights in queries]})
    # The first retrieval compresses the index: part of the build.
    index.quantized(num_results=10, threads=1, toks_scale=1.)(frame.iloc[:1])
    build = time.perf_counter() - start
    for algorithm in ["maxscore", "block_max_wand"]:
        retriever = index.quantized(num_results=10, threads=1, query_algorithm=algorithm, toks_scale=1.)
        start = time.perf_counter()
        result = retriever(frame)
        elapsed = time.perf_counter() - start
        found = {}
        for qid, docno in zip(result["qid"], result["docno"]):
            found.setdefault(qid, []).append(str(docno))
        report["systems"][f"pisa {algorithm}"] = {
            "mean_ms": elapsed * 1e3 / len(queries), "p99_ms": float("nan"),
            "recall@10": recall([found.get(f"q{i}", []) for i in range(len(queries))], exact),
            "index_bytes": directory_bytes(path), "build_s": build,
            "note": "batch time / queries (pyterrier-pisa retrieves a pandas frame); build excludes the reordering"}


def run_seismic(report, jsonl, docs, queries, exact, work):
    """Seismic (approximate), its recommended settings scaled to the collection."""
    import seismic
    start = time.perf_counter()
    index = seismic.SeismicIndex.build(jsonl, n_postings=max(100, len(docs) // 250), centroid_fraction=0.1,
                                       summary_energy=0.4, batched_indexing=100_000, num_threads=1)
    build = time.perf_counter() - start
    index_path = f"{work}/seismic"
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


def main():
    parser = argparse.ArgumentParser()
    for name in ["--bin", "--model", "--data", "--work", "--out"]:
        parser.add_argument(name, required=True)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--ja-docs", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=289)
    parser.add_argument("--collections", default="en-splade,ja-bm25")
    parser.add_argument("--memory-limit", help="also build with splade-index --memory-limit SIZE (segments of that size)")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)

    reports = {}
    for name in args.collections.split(","):
        if name == "en-splade":
            docs, queries, model = english_splade(args)
            source = "splade-tiny on CACM + Cranfield (documents: title text)"
            wanted = args.docs
        elif name == "ja-bm25":
            docs, queries, model = japanese_bm25(args)
            source = "BM25 over bert-base-japanese-v3 tokens of the JaQuAD paragraphs; questions as token counts"
            wanted = args.ja_docs
        else:
            raise SystemExit(f"unknown collection {name}")
        report = bench_collection(args, name, docs, queries[:args.queries], model, wanted)
        report["vectors"] = source
        reports[name] = report
        with open(args.out, "w") as f:
            json.dump(reports, f, indent=2)
        print(f"{name}: {report['documents']} documents ({source}; {report['replicas']}), {report['queries']} queries, one thread")
        print(f"{'system':56} {'mean ms':>9} {'p99 ms':>9} {'recall@10':>10} {'index MiB':>10} {'build s':>8} {'build MiB':>10}")
        for system, r in report["systems"].items():
            peak = f"{r['build_peak_rss_mib']:10.0f}" if "build_peak_rss_mib" in r else ""
            print(f"{system:56} {r['mean_ms']:9.3f} {r['p99_ms']:9.3f} {r['recall@10']:10.3f} "
                  f"{r.get('index_bytes', 0) / 2**20:10.1f} {r.get('build_s', 0):8.1f} {peak}", flush=True)


if __name__ == "__main__":
    main()
