#!/usr/bin/env python3
"""splade-index --export and splade-search --format against real engines that run in this process:
Qdrant (qdrant-client's local mode) and Milvus Lite (pymilvus + milvus-lite).

Run through `tests/interop/engine-check BIN_DIR`, which makes the venv. Steps:

1. Cranfield (../shared/data/cranfield) documents ("title text") and queries encoded with
   models/splade-tiny into binary vector streams; the documents indexed by splade-index.
2. The index exported with `splade-index --export qdrant|milvus --index` (weights dequantised:
   impact x scale), the collections created from `--mapping`, the documents loaded; the same for
   the document stream itself (`--export qdrant -i docs.vec`: the float weights as encoded).
3. The queries written by `splade-search --format qdrant|milvus --vectors` and run in each engine.
4. Oracles computed here in float64: brute force over the exported weights (what the engines hold)
   and over the encoded float weights. A top-10 list passes when each rank holds a document whose
   score equals the oracle's at that rank (relative 1e-4: the engines sum in float32; ids may
   differ only among tied scores). splade-search on the index is held to the dequantised oracle;
   its overlap with the float oracle (the cost of 8-bit impacts) is reported, not judged.

Prints one line per check and "N passed, N failed"; exits non-zero when a check fails.
"""
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

K = 10


def run(*args, stdin=None):
    return subprocess.run([str(a) for a in args], input=stdin, check=True, capture_output=True, text=True).stdout


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Oracle:
    """Exact top-k by float64 dot products over an inverted index of {id: {term: weight}}."""

    def __init__(self, documents):
        self.postings = defaultdict(list)
        for doc, vector in documents.items():
            for term, weight in vector.items():
                self.postings[int(term)].append((doc, float(weight)))

    def search(self, query, k=K):
        scores = defaultdict(float)
        for term, weight in query.items():
            for doc, w in self.postings.get(int(term), ()):
                scores[doc] += weight * w
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]


def matches(hits, oracle_hits):
    """Same length and, rank by rank, the oracle's score (ids may differ only among ties)."""
    if len(hits) != len(oracle_hits):
        return False
    return all(abs(s - o) <= 1e-4 * max(1.0, abs(o)) for (_, s), (_, o) in zip(hits, oracle_hits))


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def compare(self, name, results, oracle_results):
        good = sum(matches(r, o) for r, o in zip(results, oracle_results))
        same = sum([d for d, _ in r] == [d for d, _ in o] for r, o in zip(results, oracle_results))
        self.check(name, good == len(oracle_results) and len(results) == len(oracle_results),
                   f"{good}/{len(oracle_results)} top-{K} lists score-identical to the oracle, {same} identical id for id")


def qdrant_results(points, mapping, bodies, path):
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(path))
    name = "splade"
    client.create_collection(
        name,
        vectors_config=mapping["vectors"],
        sparse_vectors_config={field: models.SparseVectorParams(**params) for field, params in mapping["sparse_vectors"].items()},
    )
    for start in range(0, len(points), 256):
        client.upsert(name, points=[models.PointStruct(**p) for p in points[start:start + 256]])
    results = []
    for body in bodies:
        response = client.query_points(name, query=models.SparseVector(**body["query"]), using=body["using"],
                                       limit=body["limit"], with_payload=body["with_payload"])
        results.append([(str(p.payload["id"]), p.score) for p in response.points])
    client.close()
    return results


def milvus_results(entities, mapping, bodies, path):
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(str(path))
    name = mapping["collectionName"]
    schema = client.create_schema(auto_id=mapping["schema"]["autoId"], enable_dynamic_field=mapping["schema"]["enableDynamicField"])
    types = {"VarChar": DataType.VARCHAR, "SparseFloatVector": DataType.SPARSE_FLOAT_VECTOR}
    for field in mapping["schema"]["fields"]:
        schema.add_field(field_name=field["fieldName"], datatype=types[field["dataType"]], is_primary=field.get("isPrimary", False),
                         **field.get("elementTypeParams", {}))
    index_params = client.prepare_index_params()
    for index in mapping["indexParams"]:
        index_params.add_index(field_name=index["fieldName"], index_name=index["indexName"], index_type=index["indexType"],
                               metric_type=index["metricType"], params=index["params"])
    client.create_collection(name, schema=schema, index_params=index_params)
    for start in range(0, len(entities), 256):
        client.insert(name, entities[start:start + 256])
    client.flush(name)
    client.load_collection(name)
    results = []
    for body in bodies:
        response = client.search(name, data=body["data"], anns_field=body["annsField"], limit=body["limit"],
                                 output_fields=body["outputFields"], search_params={"metric_type": body["searchParams"]["metricType"]})
        results.append([(str(hit["entity"]["id"]), hit["distance"]) for hit in response[0]])
    client.close()
    return results


def main():
    bin_dir, work = Path(sys.argv[1]), Path(sys.argv[2])
    root = Path(__file__).resolve().parents[2]
    model, data = root / "models/splade-tiny", root.parent / "shared/data/cranfield"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tool = lambda name: bin_dir / name  # noqa: E731

    docs, queries, index = work / "docs.vec", work / "queries.vec", work / "idx"
    run(tool("splade-encode"), "--model", model, "--field", "title,text", "--format", "binary", "-i", data / "corpus.jsonl", "-o", docs)
    run(tool("splade-encode"), "--model", model, "--format", "binary", "-i", data / "queries.jsonl", "-o", queries)
    run(tool("splade-index"), "-i", docs, "-o", index, "--quiet")
    query_ids = [json.loads(line)["id"] for line in (data / "queries.jsonl").read_text().splitlines() if line.strip()]

    def export(engine, *source):
        return lines(run(tool("splade-index"), "--export", engine, *source))

    def bodies(engine):
        return lines(run(tool("splade-search"), "--format", engine, "--vectors", "--model", model, "-i", queries, "-k", K))

    report = Report()
    qdrant_points, milvus_entities = export("qdrant", "--index", index), export("milvus", "--index", index)
    qdrant_queries, milvus_queries = bodies("qdrant"), bodies("milvus")
    report.check("exports", len(qdrant_points) == len(milvus_entities) == 1400 and len(qdrant_queries) == len(query_ids),
                 f"{len(qdrant_points)} points, {len(milvus_entities)} entities, {len(qdrant_queries)} query bodies")

    dequantised = Oracle({str(p["payload"]["id"]): dict(zip(p["vector"]["sparse_embedding"]["indices"],
                                                            p["vector"]["sparse_embedding"]["values"])) for p in qdrant_points})
    floats = Oracle({str(p["payload"]["id"]): dict(zip(p["vector"]["sparse_embedding"]["indices"], p["vector"]["sparse_embedding"]["values"]))
                     for p in export("qdrant", "--model", model, "-i", docs)})
    query_vectors = [dict(zip(b["query"]["indices"], b["query"]["values"])) for b in qdrant_queries]
    oracle_dequantised = [dequantised.search(q) for q in query_vectors]
    oracle_floats = [floats.search(q) for q in query_vectors]

    trec = run(tool("splade-search"), "--index", index, "--vectors", "--model", model, "-i", queries, "-k", K)
    ours = defaultdict(list)
    for line in trec.splitlines():
        qid, _, doc, _, score, _ = line.split()
        ours[qid].append((doc, float(score)))
    ours = [ours[str(q)] for q in query_ids]
    report.compare("splade-search (8-bit impacts) vs float64 brute force over the exported weights", ours, oracle_dequantised)

    mapping = json.loads(run(tool("splade-index"), "--export", "qdrant", "--mapping"))
    qdrant = qdrant_results(qdrant_points, mapping, qdrant_queries, work / "qdrant-index")
    report.compare("Qdrant local mode, index export, splade-search --format qdrant queries", qdrant, oracle_dequantised)
    stream_points = export("qdrant", "--model", model, "-i", docs)
    report.compare("Qdrant local mode, stream export (float weights)", qdrant_results(stream_points, mapping, qdrant_queries,
                                                                                          work / "qdrant-stream"), oracle_floats)
    same = sum([d for d, _ in a] == [d for d, _ in b] for a, b in zip(qdrant, ours))
    print(f"     Qdrant and splade-search on the same index: {same}/{len(ours)} top-{K} lists identical id for id "
          "(the rest differ only in the order of tied scores)")

    try:
        milvus = milvus_results(milvus_entities, json.loads(run(tool("splade-index"), "--export", "milvus", "--mapping")),
                                milvus_queries, work / "milvus.db")
        report.compare("Milvus Lite, index export, splade-search --format milvus queries", milvus, oracle_dequantised)
    except Exception as error:  # Milvus Lite is not built for every platform: report rather than crash
        report.check("Milvus Lite, index export, splade-search --format milvus queries", False, f"{type(error).__name__}: {error}")

    overlap = sum(len({d for d, _ in a} & {d for d, _ in b}) for a, b in zip(ours, oracle_floats)) / (K * len(ours))
    print(f"     splade-search (8-bit impacts) vs float brute force over the encoded weights: mean overlap@{K} {overlap:.3f}")
    print(f"{report.passed} passed, {report.failed} failed")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
