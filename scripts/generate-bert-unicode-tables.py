#!/usr/bin/env python3
"""Writes Sources/SpladeCore/Text/BertUnicodeTables.swift: what the Hugging Face `tokenizers` BERT
normaliser and pre-tokeniser do with each character, found by asking the library itself.

The fast tokenizer classifies characters with its own, older Unicode tables (the
`unicode_categories` crate, an old NFD crate, Rust's `char` methods), not Swift's, so splade
cannot use Swift's character properties and match it. Each step of the Rust BertNormalizer
(clean text, then CJK spacing, then strip accents = NFD and drop nonspacing marks, then
lowercase) and of BertPreTokenizer (split on whitespace, isolate punctuation) is probed on its
own, on every code point but the surrogates:

  control, whitespace   BertNormalizer(clean_text only) deletes the character or makes it " "
  cjk                   BertNormalizer(handle_chinese_chars only) gives " c "
  decomposing           normalizers.NFD() changes the character
  nonspacing marks      BertNormalizer(strip_accents only) deletes a character NFD leaves alone
  non-starters          NFD reorders the character against U+0301 or U+0334 (its combining
                        class is not 0); its rank among the combining classes is probed too
  lowercase             BertNormalizer(lowercase only), as (range, stride, delta) runs
  pre-tokeniser         BertPreTokenizer on "a" + c + "b" gives ["a", "b"] (whitespace) or
                        ["a", c, "b"] (punctuation)

Decompositions themselves are left to Swift's NFD (canonical decompositions never change once a
character is assigned); the few where the reference's NFD differs from standard NFD (Python's
unicodedata) are written out. Run with a Python that has `tokenizers` installed.
"""
import os, sys, unicodedata

import tokenizers
from tokenizers import normalizers, pre_tokenizers

CODE_POINTS = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def bert(**options):
    settings = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    settings.update(options)
    return normalizers.BertNormalizer(**settings)


clean, chinese = bert(clean_text=True), bert(handle_chinese_chars=True)
strip, lower = bert(strip_accents=True), bert(lowercase=True)
nfd, pre_tokenizer = normalizers.NFD(), pre_tokenizers.BertPreTokenizer()

control, whitespace_normalizer, cjk, decomposing, nonspacing, punctuation, whitespace = (set() for _ in range(7))
decompositions, stripped, lowercase = {}, {}, {}
for cp in CODE_POINTS:
    c = chr(cp)
    cleaned = clean.normalize_str(c)
    if cleaned == "":
        control.add(cp)
    elif cleaned == " ":
        whitespace_normalizer.add(cp)
    else:
        assert cleaned == c, hex(cp)
    spaced = chinese.normalize_str(c)
    if spaced == f" {c} ":
        cjk.add(cp)
    else:
        assert spaced == c, hex(cp)
    decomposed = nfd.normalize_str(c)
    if decomposed != c:
        decomposing.add(cp)
        decompositions[cp] = decomposed
    stripped[cp] = strip.normalize_str(c)
    if decomposed == c and stripped[cp] == "":
        nonspacing.add(cp)
    else:
        assert decomposed != c or stripped[cp] == c, hex(cp)
    lowered = lower.normalize_str(c)
    if lowered != c:
        lowercase[cp] = lowered
    words = tuple(word for word, _ in pre_tokenizer.pre_tokenize_str("a" + c + "b"))
    if words == ("a", "b"):
        whitespace.add(cp)
    elif words == ("a", c, "b"):
        punctuation.add(cp)
    else:
        assert words == ("a" + c + "b",), hex(cp)

# One whitespace table serves both: the normaliser deletes control characters before it looks for
# whitespace, so its whitespace is the pre-tokeniser's less the control characters.
assert whitespace_normalizer == whitespace - control and 0x20 in whitespace
assert not whitespace & punctuation
# Strip accents is NFD, then dropping the marks: check that the two probes agree.
for cp in CODE_POINTS:
    kept = "".join(x for x in decompositions.get(cp, chr(cp)) if ord(x) not in nonspacing)
    assert kept == stripped[cp], hex(cp)
    assert all(nfd.normalize_str(x) == x for x in decompositions.get(cp, ""))
decomposition_exceptions = {cp: d for cp, d in decompositions.items() if unicodedata.normalize("NFD", chr(cp)) != d}

# Canonical reordering: a character that NFD moves before U+0334 (class 1) or after U+0301 (class
# 230) has a nonzero combining class. Its rank is how many representative classes sort before it.
def reorders(text):
    return nfd.normalize_str(text) != text


non_starters = [cp for cp in CODE_POINTS if cp not in decomposing
                and (reorders("a" + chr(cp) + "\u0334") or reorders("a\u0301" + chr(cp)))]
representatives = {}
for cp in non_starters:
    representatives.setdefault(unicodedata.combining(chr(cp)), cp)
representatives = [chr(cp) for _, cp in sorted(representatives.items())]
rank = {}
for cp in non_starters:
    rank[cp] = 1 + sum(reorders("a" + chr(cp) + r) for r in representatives)
    assert not reorders("a" + representatives[rank[cp] - 1] + chr(cp)), hex(cp)
assert max(rank.values()) < 256

# Lowercase runs: in first...last, every stride-th character maps to itself + delta.
lowercase_runs, lowercase_exceptions = [], {}
for cp in sorted(lowercase):
    if len(lowercase[cp]) != 1:
        lowercase_exceptions[cp] = lowercase[cp]
        continue
    delta = ord(lowercase[cp]) - cp
    if lowercase_runs:
        first, last, stride, d = lowercase_runs[-1]
        if d == delta and (cp - last == stride or (first == last and cp - last <= 2)):
            lowercase_runs[-1] = [first, cp, cp - last, d]
            continue
    lowercase_runs.append([cp, cp, 1, delta])


def ranges(code_points):
    out = []
    for cp in sorted(code_points):
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def write_array(f, doc, declaration, items):
    """Writes `static let <declaration> = [items]`, the items filling lines of at most 120 columns."""
    f.write(f"    /// {doc}\n    static let {declaration} = [\n")
    line = ""
    for item in items:
        if line and len(line) + 1 + len(item) > 112:
            f.write("        " + line + "\n")
            line = ""
        line = (line + " " + item).lstrip()
    if line:
        f.write("        " + line + "\n")
    f.write("    ]\n")
    return len(items)


def write_ranges(f, doc, name, code_points):
    items = ["0x%04X...0x%04X," % (a, b) for a, b in ranges(code_points)]
    return write_array(f, doc, name + ": [ClosedRange<UInt32>]", items)


def write_map(f, doc, name, mapping):
    if not mapping:
        f.write(f"    /// {doc}\n    static let {name}: [UInt32: [UInt32]] = [:]\n")
        return
    items = ["0x%04X: [%s]," % (cp, ", ".join("0x%04X" % ord(x) for x in mapping[cp])) for cp in sorted(mapping)]
    write_array(f, doc, name + ": [UInt32: [UInt32]]", items)


kept_non_starters = []
for cp in non_starters:
    if cp in nonspacing:
        continue
    if kept_non_starters and kept_non_starters[-1][1] == cp - 1 and kept_non_starters[-1][2] == rank[cp]:
        kept_non_starters[-1][1] = cp
    else:
        kept_non_starters.append([cp, cp, rank[cp]])

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources/SpladeCore/Text/BertUnicodeTables.swift")
counts = {}
with open(out, "w") as f:
    f.write("// Generated by scripts/generate-bert-unicode-tables.py (tokenizers %s); do not edit.\n\n"
            % tokenizers.__version__)
    f.write("/// How the fast BERT tokenizer's normaliser and pre-tokeniser class each character, probed from\n"
            "/// `tokenizers` itself: its Unicode tables are older than Swift's (see the generator).\n"
            "enum BertUnicodeTables {\n")
    counts["control"] = write_ranges(
        f, "Deleted by clean_text (NUL, U+FFFD, and its \"other\" characters but tab, LF, CR).", "control", control)
    counts["whitespace"] = write_ranges(
        f, "Split on by the pre-tokeniser; made a space by clean_text unless control.", "whitespace", whitespace)
    counts["punctuation"] = write_ranges(
        f, "Made a word of their own by the pre-tokeniser.", "punctuation", punctuation)
    counts["cjk"] = write_ranges(f, "Surrounded with spaces by handle_chinese_chars.", "cjk", cjk)
    counts["decomposing"] = write_ranges(
        f, "Changed by NFD: strip_accents replaces them by their canonical decomposition.", "decomposing", decomposing)
    write_map(f, "Decompositions where the reference's NFD is not standard NFD.", "decompositionExceptions",
              decomposition_exceptions)
    counts["nonspacingMarks"] = write_ranges(
        f, "Dropped by strip_accents (among the characters NFD leaves alone).", "nonspacingMarks", nonspacing)
    counts["nonStarters"] = write_ranges(
        f, "Moved by NFD's canonical reordering (a nonzero combining class).", "nonStarters", non_starters)
    counts["keptNonStarterRanks"] = write_array(
        f, "The non-starters strip_accents keeps, with the rank of their combining class (reordering sorts by it).",
        "keptNonStarterRanks: [(first: UInt32, last: UInt32, rank: UInt8)]",
        ["(0x%04X, 0x%04X, %d)," % tuple(r) for r in kept_non_starters])
    counts["lowercase"] = write_array(
        f, "Lowercasing: in first...last, every stride-th character becomes itself + delta.",
        "lowercase: [(first: UInt32, last: UInt32, stride: UInt32, delta: Int32)]",
        ["(0x%04X, 0x%04X, %d, %d)," % tuple(r) for r in lowercase_runs])
    write_map(f, "Lowercasings to more than one character.", "lowercaseExceptions", lowercase_exceptions)
    f.write("}\n")
print(", ".join(f"{k} {v}" for k, v in counts.items()), "entries;", len(decomposition_exceptions),
      "decomposition and", len(lowercase_exceptions), "lowercase exceptions", file=sys.stderr)
