"""Driver of bench/eval/run: prepares the inputs, times each tool in its own process, checks that
they agree, prints the times and the ratios. Not run by the tests."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

# The same four measures in each tool's names.
SPLADE_METRICS = "ndcg_cut_10,recip_rank,map,recall_100"
PYTREC_METRICS = ["ndcg_cut_10", "recip_rank", "map", "recall_100"]
RANX_METRICS = ["ndcg@10", "mrr", "map", "recall@100"]

# Each Python tool as a user runs it: read the TREC files, evaluate, print the four means and, on a
# second line, the seconds the evaluation alone took (the data already in memory).
PYTREC_SCRIPT = """
import sys, time, pytrec_eval
qrels, run = {}, {}
for line in open(sys.argv[1]):
    q, _, d, r = line.split()
    qrels.setdefault(q, {})[d] = int(r)
for line in open(sys.argv[2]):
    q, _, d, _, s, _ = line.split()
    run.setdefault(q, {})[d] = float(s)
names = %r
start = time.perf_counter()
evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank", "map", "recall.100"})
results = evaluator.evaluate(run)
means = [sum(v[m] for v in results.values()) / len(results) for m in names]
elapsed = time.perf_counter() - start
print(" ".join(repr(m) for m in means))
print(elapsed)
""" % (PYTREC_METRICS,)

# ranx's first evaluate() compiles its numba kernels (not cached across processes); the second
# shows the warm evaluation alone.
RANX_SCRIPT = """
import sys, time
from ranx import Qrels, Run, evaluate
qrels = Qrels.from_file(sys.argv[1], kind="trec")
run = Run.from_file(sys.argv[2], kind="trec")
means = evaluate(qrels, run, %r)
start = time.perf_counter()
evaluate(qrels, run, %r)
elapsed = time.perf_counter() - start
print(" ".join(repr(float(means[m])) for m in %r))
print(elapsed)
""" % (RANX_METRICS, RANX_METRICS, RANX_METRICS)


def prepare(data, work):
    """Plain-text copies of the JQaRA files (the Python readers cannot read zstd), and a 1M-line
    run: the SPLADE run's queries repeated with a copy suffix, and qrels to match."""
    qrels = os.path.join(data, "qrels.trec")
    inputs = []
    for name, label in [("japanese-splade-base-v1", "JQaRA SPLADE (166,700)"), ("bm25", "JQaRA BM25 (166,700)")]:
        path = os.path.join(work, f"jqara-{name}.trec")
        with open(path, "wb") as out:
            subprocess.run(["zstd", "-dcq", os.path.join(data, f"run.{name}.trec.zst")], stdout=out, check=True)
        inputs.append((label, qrels, path))
    base = open(inputs[0][2]).read().splitlines()
    copies = -(-1_000_000 // len(base))
    big_run = os.path.join(work, "run-1M.trec")
    big_qrels = os.path.join(work, "qrels-1M.trec")
    with open(big_run, "w") as out:
        for c in range(copies):
            for line in base:
                q, rest = line.split(" ", 1)
                out.write(f"{q}#{c} {rest}\n")
    with open(big_qrels, "w") as out:
        qrels_lines = open(qrels).read().splitlines()
        for c in range(copies):
            for line in qrels_lines:
                q, rest = line.split(" ", 1)
                out.write(f"{q}#{c} {rest}\n")
    inputs.append((f"replicated ({len(base) * copies:,})", big_qrels, big_run))
    return inputs


# Every other measure and the relevance level, checked (not timed) where the JQaRA qrels cannot show them: they
# judge relevant passages only, so bpref and levels above 1 need Cranfield's graded judgments (levels 0-4).
# trec_eval's names, which splade-eval takes; pytrec_eval writes a measure's cutoff after a dot (P.5).
GRADED_METRICS = ["Rprec", "bpref", "P_5", "success_1", "map_cut_10", "ndcg", "ndcg_cut_10", "recip_rank", "map", "recall_100"]


def per_query(binary, qrels_path, run_path, metrics, options=()):
    """splade-eval's names of `metrics` (MAP@10 for map_cut_10), in order, and its value of each (query, name)."""
    done = subprocess.run([binary, "--qrels", qrels_path, "--json", "--per-query", "--metrics", ",".join(metrics),
                           run_path, *options], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench/eval: splade-eval failed on Cranfield:\n{done.stderr}")
    report = json.loads(done.stdout)
    return report["metrics"], {(q, name): value for q, values in report["runs"][0]["per_query"].items()
                               for name, value in values.items()}


def expect_agreement(ours, theirs, reference, setting):
    """The same (query, metric) pairs on both sides, each value within 1e-9."""
    if set(ours) != set(theirs):
        sys.exit(f"bench/eval: Cranfield, {setting}: splade-eval and {reference} evaluate other queries or measures")
    for key, value in ours.items():
        if abs(value - theirs[key]) > 1e-9:
            sys.exit(f"bench/eval: Cranfield, {setting}: query {key[0]} {key[1]} {value}, {reference} {theirs[key]}")


def check_graded(binary, cranfield, work):
    """Cranfield's qrels and a seeded random run (each query: its judged documents and as many others, so
    judged non-relevant, unjudged and relevant documents interleave), at relevance levels 1 to 3, and 1 and 2 with
    the rankings condensed to judged documents: every query's value within 1e-9 of pytrec_eval's (Judged@k, which
    pytrec_eval lacks, of ir_measures')."""
    import random
    import re
    import ir_measures
    import pytrec_eval
    qrels_path = os.path.join(cranfield, "qrels.trec")
    qrels = {}
    for line in open(qrels_path):
        q, _, d, r = line.split()
        qrels.setdefault(q, {})[d] = int(r)
    rng = random.Random(7)
    run = {q: {d: rng.random() for d in list(judged) + [str(rng.randrange(1, 1401)) for _ in judged]}
           for q, judged in qrels.items()}
    run_path = os.path.join(work, "cranfield-random.trec")
    with open(run_path, "w") as out:
        for q, scored in run.items():
            for rank, (d, score) in enumerate(sorted(scored.items(), key=lambda x: -x[1]), 1):
                out.write(f"{q} Q0 {d} {rank} {score!r} random\n")
    pytrec_measures = {re.sub(r"_(\d+)$", r".\1", name) for name in GRADED_METRICS}
    for level, judged_only in [(1, False), (2, False), (3, False), (1, True), (2, True)]:
        results = pytrec_eval.RelevanceEvaluator(qrels, pytrec_measures, relevance_level=level,
                                                 judged_docs_only_flag=judged_only).evaluate(run)
        names, ours = per_query(binary, qrels_path, run_path, GRADED_METRICS,
                                ["--relevance-level", str(level)] + (["--judged-only"] if judged_only else []))
        theirs = {(q, ours_name): values[name] for q, values in results.items()
                  for ours_name, name in zip(names, GRADED_METRICS)}
        expect_agreement(ours, theirs, "pytrec_eval", f"level {level}, judged only {judged_only}")
    judged = [ir_measures.Judged @ k for k in (5, 10, 100)]
    theirs = {(m.query_id, str(m.measure)): m.value for m in ir_measures.iter_calc(
        judged, list(ir_measures.read_trec_qrels(qrels_path)), list(ir_measures.read_trec_run(run_path)))}
    _, ours = per_query(binary, qrels_path, run_path, [str(m) for m in judged])
    expect_agreement(ours, theirs, "ir_measures", "Judged@k")
    print(f"Cranfield graded judgments, random run, relevance levels 1-3 (1-2 also judged only): {', '.join(GRADED_METRICS)} "
          f"agree with pytrec_eval per query (1e-9); Judged@5/10/100 with ir_measures")


def timed(command, repeat):
    """Best wall time of `repeat` runs and the last run's standard output."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"bench/eval: {' '.join(command[:2])} failed:\n{done.stderr}")
        best = min(best, elapsed)
    return best, done.stdout


def splade_means(output):
    return list(json.loads(output)["runs"][0]["means"].values())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    results = {}
    work = tempfile.mkdtemp(prefix="bench-eval-")
    try:
        check_graded(args.binary, os.path.join(args.data, "..", "cranfield"), work)
        inputs = prepare(args.data, work)
        print("end to end (one process per tool: read the files, evaluate, print), best of", args.repeat)
        print(f"{'input':<26}{'splade-eval':>12}{'pytrec_eval':>12}{'ranx':>9}{'pytrec/splade':>15}{'ranx/splade':>13}"
              f"   in-process evaluation only: pytrec_eval, ranx (warm)")
        for label, qrels, run in inputs:
            splade, out = timed([args.binary, "--qrels", qrels, "--json", "--metrics", SPLADE_METRICS, run], args.repeat)
            pytrec, pytrec_out = timed([sys.executable, "-c", PYTREC_SCRIPT, qrels, run], args.repeat)
            ranx, ranx_out = timed([sys.executable, "-c", RANX_SCRIPT, qrels, run], args.repeat)
            # The same numbers, or the timing means nothing: pytrec_eval to 1e-9; ranx orders tied
            # scores its own way (neither trec_eval's docno order nor the run's), so 1e-3.
            ours = splade_means(out)
            for tool, text, tolerance in [("pytrec_eval", pytrec_out, 1e-9), ("ranx", ranx_out, 1e-3)]:
                theirs = [float(v) for v in text.splitlines()[0].split()]
                if len(theirs) != len(ours) or any(abs(a - b) > tolerance for a, b in zip(ours, theirs)):
                    sys.exit(f"bench/eval: {label}: {tool} gives {theirs}, splade-eval {ours}")
            pytrec_eval_only = float(pytrec_out.splitlines()[1])
            ranx_eval_only = float(ranx_out.splitlines()[1])
            print(f"{label:<26}{splade:>11.3f}s{pytrec:>11.3f}s{ranx:>8.3f}s{pytrec / splade:>14.1f}x{ranx / splade:>12.1f}x"
                  f"   {pytrec_eval_only:.3f}s, {ranx_eval_only:.3f}s")
            results[label] = {"splade_eval_s": splade, "pytrec_eval_s": pytrec, "ranx_s": ranx,
                              "pytrec_eval_ratio": pytrec / splade, "ranx_ratio": ranx / splade,
                              "pytrec_eval_evaluation_only_s": pytrec_eval_only,
                              "ranx_warm_evaluation_only_s": ranx_eval_only}
    finally:
        shutil.rmtree(work)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
