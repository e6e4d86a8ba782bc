#!/usr/bin/env python3
"""CIFF interoperability of splade-index with PISA (pyterrier-pisa) and BMP (PyPI `bmp`).

Run through `tests/interop/ciff-check BIN_DIR`, which makes the venv. Steps:

1. Cranfield (../shared/data/cranfield) encoded with models/splade-tiny, indexed by splade-index,
   exported with `splade-index --export ciff`.
2. Queries: splade-tiny query vectors turned into integer weights that sum to 4096 (largest
   remainders). splade-search quantises a query to weights summing to 2^23, so these become
   exactly 2048 times larger there: the same ranking and the same ties in every engine. (PISA
   takes a query weight by repeating the term, and sums scores in float32: small integers keep
   its scores exact.)
3. The oracle: exact integer scores Σ q·tf computed here from the CIFF bytes (our own decoder).
4. Compared with the oracle's top-10, per query: splade-search on our index, PISA on the CIFF,
   BMP on the CIFF, splade-search on the CIFF imported back, and splade-search on a CIFF written
   here from an index PISA built itself (the other direction). A top-10 passes when each rank holds
   a document with the oracle's score at that rank: ids may differ only among exactly tied scores;
   the report counts lists identical id for id separately.
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

K = 10
QUERY_UNITS = 4096

# --- CIFF: a minimal protobuf reader and writer (independent of the Swift implementation) ------------


def _varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf):
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield field, value


def read_ciff(path):
    """Returns (terms in file order, {term: [(docid, tf)]}, [collection docid by docid], header dict)."""
    data = Path(path).read_bytes()
    pos = 0

    def message():
        nonlocal pos
        n, pos = _varint(data, pos)
        body = data[pos:pos + n]
        pos += n
        return body

    header = {}
    for f, v in _fields(message()):
        header[f] = v
    lists, order = {}, []
    for _ in range(header.get(2, 0)):
        term, postings, doc = "", [], 0
        for f, v in _fields(message()):
            if f == 1:
                term = v.decode()
            elif f == 4:
                p = dict(_fields(v))
                doc += p.get(1, 0)
                postings.append((doc, p.get(2, 0)))
        order.append(term)
        lists[term] = postings
    names = [None] * header.get(3, 0)
    for _ in range(header.get(3, 0)):
        r = dict(_fields(message()))
        names[r.get(1, 0)] = r[2].decode()
    assert pos == len(data), "data after the last DocRecord"
    return order, lists, names, header


def _put_varint(out, value):
    value &= (1 << 64) - 1
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def _field_varint(out, field, value):
    if value:
        _put_varint(out, field << 3)
        _put_varint(out, value)


def _field_bytes(out, field, value):
    _put_varint(out, field << 3 | 2)
    _put_varint(out, len(value))
    out += value


def write_ciff(path, lists, names, description):
    """Writes CIFF: lists {term: [(docid, tf)] ascending}, names[docid] = collection docid."""
    out = bytearray()

    def delimited(msg):
        _put_varint(out, len(msg))
        out.extend(msg)

    lengths = [0] * len(names)
    for postings in lists.values():
        for d, tf in postings:
            lengths[d] += tf
    total = sum(lengths)
    h = bytearray()
    for field, value in ((1, 1), (2, len(lists)), (3, len(names)), (4, len(lists)), (5, len(names)), (6, total)):
        _field_varint(h, field, value)
    _put_varint(h, 7 << 3 | 1)
    h += struct.pack("<d", total / max(1, len(names)))
    _field_bytes(h, 8, description.encode())
    delimited(h)
    for term in sorted(lists, key=lambda t: t.encode()):
        m = bytearray()
        _field_bytes(m, 1, term.encode())
        _field_varint(m, 2, len(lists[term]))
        _field_varint(m, 3, sum(tf for _, tf in lists[term]))
        previous = 0
        for d, tf in lists[term]:
            p = bytearray()
            _field_varint(p, 1, d - previous)
            _field_varint(p, 2, tf)
            _field_bytes(m, 4, p)
            previous = d
        delimited(m)
    for d, name in enumerate(names):
        m = bytearray()
        _field_varint(m, 1, d)
        _field_bytes(m, 2, name.encode())
        _field_varint(m, 3, lengths[d])
        delimited(m)
    Path(path).write_bytes(bytes(out))


# --- queries and the oracle ------------------------------------------------------------------


def integer_query(vector, units=QUERY_UNITS):
    """Float weights -> integer weights summing to `units` (largest remainders; ties by term)."""
    vector = {t: w for t, w in vector.items() if w > 0}
    total = sum(vector.values())
    exact = {t: w * units / total for t, w in vector.items()}
    q = {t: int(x) for t, x in exact.items()}
    for t in sorted(exact, key=lambda t: (-(exact[t] - q[t]), t))[:units - sum(q.values())]:
        q[t] += 1
    return {t: w for t, w in q.items() if w > 0}


def bmp_query(vector, largest=32):
    """Float weights -> BMP's integer query weights: the largest becomes 32 (bmp's MAX_TERM_WEIGHT),
    the others ceil(w × 32 / max), as BMP rescales a query itself; BMP then keeps them as they are."""
    top = max(vector.values())
    return {t: math.ceil(w * largest / top) for t, w in vector.items() if w > 0}


def oracle_scores(lists, query):
    scores = {}
    for term, weight in query.items():
        for d, tf in lists.get(term, ()):
            scores[d] = scores.get(d, 0) + weight * tf
    return scores


def top_k(scores, k=K):
    return sorted((d for d, s in scores.items() if s > 0), key=lambda d: (-scores[d], d))[:k]


def compare(name, results, oracle, names, tally):
    """results: {qid: [collection docid, ...]}; oracle: {qid: (scores by docid, top-k docids)}."""
    by_name = {n: d for d, n in enumerate(names)}
    passed = identical = 0
    failures = []
    for qid, (scores, best) in oracle.items():
        got = [by_name.get(n, -1) for n in results.get(qid, [])]
        want = [scores[d] for d in best]
        have = [scores.get(d, 0) for d in got]
        if got == best:
            identical += 1
        if have == want and len(set(got)) == len(got) and -1 not in got:
            passed += 1
        else:
            failures.append(qid)
    ok = passed == len(oracle)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(oracle)} queries, top-{K} valid {passed}, identical id for id {identical}"
          + (f"; failing queries {failures[:5]}" if failures else ""))
    tally[0 if ok else 1] += 1


# --- the engines -----------------------------------------------------------------------------


def run(args, **kw):
    return subprocess.run(args, check=True, **kw)


def splade_search(bin_dir, index, query_file, model):
    out = subprocess.run([f"{bin_dir}/splade-search", "--index", index, "--vectors", "--model", model, "-k", str(K),
                          "--format", "json", "-i", query_file], check=True, capture_output=True, text=True).stdout
    results = {}
    for line in out.splitlines():
        hit = json.loads(line)
        results.setdefault(str(hit["qid"]), []).append(str(hit["docno"]))
    return results


def pisa_index_from_ciff(ciff_path, index_dir):
    """A pyterrier-pisa index from a CIFF file, without pyciff (whose wheels are missing for many
    platforms): PISA's binary collection (docs/freqs/sizes, documented in PISA's
    docs/source/Indexes_Format.md) and its lexicons, as `PisaIndex.from_ciff` lays them out."""
    import pyterrier_pisa
    from pyterrier_pisa import _pisathon
    order, lists, names, _ = read_ciff(ciff_path)
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True)

    def seq(values):
        return struct.pack(f"<I{len(values)}I", len(values), *values)

    sizes = [0] * len(names)
    with open(index_dir / "inv.docs", "wb") as docs, open(index_dir / "inv.freqs", "wb") as freqs:
        docs.write(seq([len(names)]))
        for term in order:
            docs.write(seq([d for d, _ in lists[term]]))
            freqs.write(seq([tf for _, tf in lists[term]]))
            for d, tf in lists[term]:
                sizes[d] += tf
    (index_dir / "inv.sizes").write_bytes(seq(sizes))
    (index_dir / "fwd.terms").write_text("".join(t + "\n" for t in order))
    (index_dir / "fwd.documents").write_text("".join(n + "\n" for n in names))
    _pisathon.build_binlex(str(index_dir / "fwd.terms"), str(index_dir / "fwd.termlex"))
    _pisathon.build_binlex(str(index_dir / "fwd.documents"), str(index_dir / "fwd.doclex"))
    (index_dir / "pt_meta.json").write_text(json.dumps({"type": "sparse_index", "format": "pisa",
                                                        "package_hint": "pyterrier-pisa", "stemmer": "none"}))
    return pyterrier_pisa.PisaIndex(str(index_dir), stemmer="none")


def pisa_search(index, queries, k=K):
    """queries {qid: {term: int weight}} -> {qid: [docno]}; the `quantized` scorer sums query
    weight × tf (PISA repeats a term `weight` times; toks_scale=1 keeps the integers)."""
    import pandas as pd
    frame = pd.DataFrame({"qid": list(queries), "query_toks": [queries[q] for q in queries]})
    res = index.quantized(num_results=k, toks_scale=1., threads=1)(frame)
    out = {}
    for qid, docno in zip(res["qid"], res["docno"]):
        out.setdefault(str(qid), []).append(str(docno))
    return out


def bmp_build_and_search(ciff_path, queries, k=10, index_path=None, block_size=32, alpha=1.0, beta=1.0):
    """Builds a BMP index from a CIFF file and searches it. For bmp 0.2.8 (PyPI `bmp`).

    ciff_path: a CIFF file (e.g. `splade-index --export ciff --index DIR > x.ciff`).
    queries: {qid: {term: weight}} with INTEGER weights, the largest 32 (see `bmp_query`): BMP takes
        a dict of str -> u32, rescales it so the largest weight is 32 (rounding up) and scores in
        u8 x u8 -> u16 arithmetic; floats below 1 truncate to 0, hence empty results. A document
        score above 65535 overflows BMP's u16 scores (counted, not compared, by main()). Terms are
        the CIFF's term strings.
    k: documents per query. alpha=1.0, beta=1.0: BMP's exact mode (rank-safe, no query pruning).
    Returns ({qid: [collection docid, ...]}, {qid: [score, ...]}, build seconds, search seconds
    for all queries together); `index_path` (default: ciff_path + ".bmp") is overwritten.
    """
    import bmp
    index_path = str(index_path or str(ciff_path) + ".bmp")
    if os.path.exists(index_path):
        os.remove(index_path)
    start = time.perf_counter()
    bmp.ciff2bmp(str(ciff_path), index_path, block_size, False)
    built = time.perf_counter() - start
    searcher = bmp.Searcher(index_path)
    ids, scores = {}, {}
    start = time.perf_counter()
    for qid, query in queries.items():
        docnos, values = searcher.search({t: int(w) for t, w in query.items()}, k, alpha, beta)
        ids[qid], scores[qid] = [str(d) for d in docnos], list(values)
    return ids, scores, built, time.perf_counter() - start


def pisa_built_ciff(work, lists, names, ciff_out):
    """The other direction: PISA indexes the documents itself (pyterrier-pisa's toks_indexer over
    {term: impact} documents); its inverted binary collection becomes CIFF here."""
    import pyterrier_pisa
    docs = {d: {} for d in range(len(names))}
    for term, postings in lists.items():
        for d, tf in postings:
            docs[d][term] = tf
    index = pyterrier_pisa.PisaIndex(str(work / "pisa-native"), stemmer="none", threads=1)
    index.toks_indexer(scale=1.).index({"docno": names[d], "toks": docs[d]} for d in range(len(names)))
    root = work / "pisa-native"
    terms = (root / "fwd.terms").read_text().splitlines()
    documents = (root / "fwd.documents").read_text().splitlines()
    raw_docs = (root / "inv.docs").read_bytes()
    raw_freqs = (root / "inv.freqs").read_bytes()

    def sequences(raw):
        pos = 0
        while pos < len(raw):
            (n,) = struct.unpack_from("<I", raw, pos)
            yield struct.unpack_from(f"<{n}I", raw, pos + 4)
            pos += 4 + 4 * n

    doc_lists = list(sequences(raw_docs))[1:]
    freq_lists = list(sequences(raw_freqs))
    pisa_lists = {t: list(zip(ds, fs)) for t, ds, fs in zip(terms, doc_lists, freq_lists) if ds}
    write_ciff(ciff_out, pisa_lists, documents, "PISA (pyterrier-pisa toks_indexer) inverted index")
    return len(documents)


def main():
    bin_dir, work = os.path.abspath(sys.argv[1]), Path(sys.argv[2])
    root = Path(__file__).resolve().parents[2]
    model = str(root / "models/splade-tiny")
    data = root.parent / "shared/data/cranfield"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    tally = [0, 0]

    print("encoding Cranfield with splade-tiny ...", flush=True)
    run([f"{bin_dir}/splade-encode", "--model", model, "--field", "title,text", "--format", "binary",
         "-i", str(data / "corpus.jsonl"), "-o", str(work / "docs.vec")])
    run([f"{bin_dir}/splade-encode", "--model", model, "--max-length", "32", "-i", str(data / "queries.jsonl"),
         "-o", str(work / "queries.jsonl")])
    run([f"{bin_dir}/splade-index", "--model", model, "-i", str(work / "docs.vec"), "-o", str(work / "idx"), "--quiet"])
    with open(work / "idx.ciff", "wb") as out:
        run([f"{bin_dir}/splade-index", "--export", "ciff", "--index", str(work / "idx")], stdout=out)

    order, lists, names, header = read_ciff(work / "idx.ciff")
    assert order == sorted(order, key=lambda t: t.encode()), "terms not in byte order"
    print(f"CIFF: {len(names)} documents, {len(order)} postings lists, {sum(map(len, lists.values()))} postings")

    vectors, queries = {}, {}
    with open(work / "queries.jsonl") as f:
        for line in f:
            record = json.loads(line)
            if any(w > 0 for w in record["vector"].values()):
                vectors[str(record["id"])] = record["vector"]
                queries[str(record["id"])] = integer_query(record["vector"])
    with open(work / "queries-int.jsonl", "w") as f:
        for qid, q in queries.items():
            f.write(json.dumps({"id": qid, "vector": {t: float(w) for t, w in q.items()}}) + "\n")
    oracle = {}
    for qid, q in queries.items():
        scores = oracle_scores(lists, q)
        oracle[qid] = (scores, top_k(scores))
    ties = sum(1 for s, best in oracle.values() if len(best) == K and sum(1 for v in s.values() if v == s[best[-1]]) > 1)
    print(f"{len(queries)} queries; {ties} have a tie at rank {K} (the cut)")

    query_file = str(work / "queries-int.jsonl")
    compare("splade-search (our index)", splade_search(bin_dir, str(work / "idx"), query_file, model), oracle, names, tally)

    index = pisa_index_from_ciff(work / "idx.ciff", work / "pisa")
    compare("PISA on our CIFF (pyterrier-pisa, quantized)", pisa_search(index, queries), oracle, names, tally)

    # BMP: its own query weights (largest 32) and u16 scores; splade-search gets the same vectors.
    bmp_queries, bmp_oracle, overflow = {}, {}, 0
    for qid, vector in vectors.items():
        q = bmp_query(vector)
        scores = oracle_scores(lists, q)
        if max(scores.values(), default=0) > 65535:
            overflow += 1
            continue
        bmp_queries[qid], bmp_oracle[qid] = q, (scores, top_k(scores))
    print(f"BMP queries: {len(bmp_queries)} ({overflow} left out: a score above BMP's u16 range)")
    ids, _, built, searched = bmp_build_and_search(work / "idx.ciff", bmp_queries, K, index_path=work / "idx.bmp")
    compare(f"BMP on our CIFF (exact; build {built:.2f} s, {len(bmp_queries)} queries {searched * 1000:.0f} ms)", ids, bmp_oracle, names, tally)
    with open(work / "queries-bmp.jsonl", "w") as f:
        for qid, q in bmp_queries.items():
            f.write(json.dumps({"id": qid, "vector": {t: float(w) for t, w in q.items()}}) + "\n")
    compare("splade-search (our index), BMP's query weights", splade_search(bin_dir, str(work / "idx"), str(work / "queries-bmp.jsonl"), model),
            bmp_oracle, names, tally)

    run([f"{bin_dir}/splade-index", "--model", model, "-i", str(work / "idx.ciff"), "-o", str(work / "idx-back"), "--quiet"])
    compare("splade-search on our CIFF imported back", splade_search(bin_dir, str(work / "idx-back"), query_file, model),
            oracle, names, tally)

    pisa_built_ciff(work, lists, names, work / "pisa.ciff")
    run([f"{bin_dir}/splade-index", "--model", model, "-i", str(work / "pisa.ciff"), "-o", str(work / "idx-pisa"), "--quiet"])
    compare("splade-search on PISA's own index as CIFF", splade_search(bin_dir, str(work / "idx-pisa"), query_file, model),
            oracle, names, tally)

    print(f"{tally[0]} passed, {tally[1]} failed")
    sys.exit(1 if tally[1] else 0)


if __name__ == "__main__":
    main()
