#!/usr/bin/env python3
"""rewrite.py: the source-to-source step of the CUDA-on-CPU shim (see README.md).

    rewrite.py SOURCE.cu OUTPUT.cpp [FILE_INDEX]

Copies a .cu/.cuh file, rewriting only what g++ cannot parse, so that the kernels compile unmodified otherwise:
  * kernel<<<grid, block[, shared[, stream]]>>>(args);  ->  ::shim::launch("kernel", BOUND, ::shim::Config(grid,
    block, ...), [&](auto... a) { kernel(a...); }, args);   (BOUND: the kernel's __launch_bounds__, else 0;
    kernel may carry explicit template arguments, kernel<2, unsigned>)
  * __launch_bounds__(...) removed (recorded for the launches above);
  * __shared__ T a[N][M], b;  ->  per-block references into the shim's shared memory of the running block;
    extern __shared__ T a[];  ->  a pointer to the launch's dynamic shared memory;
  * #include "x.cuh" -> #include "x.cuh.cpp" (the rewritten copy).
Everything else (__global__, __device__, __grid_constant__, ...) is a macro of include/cuda_runtime.h.
"""
import re
import sys


def die(message):
    sys.exit(f"rewrite.py: {message}")


def balanced(text, start, open_char="(", close_char=")"):
    """Index just past the bracket that closes the one at text[start]."""
    assert text[start] == open_char, (text[start:start + 40])
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c in "\"'":  # skip literals
            j = i + 1
            while text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j
        elif c == open_char:
            depth += 1
        elif c == close_char:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    die(f"unbalanced {open_char} at offset {start}")


def split_top(text):
    """Splits on commas outside (), [] and {}."""
    parts, depth, current = [], 0, ""
    for c in text:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += c
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts]


def main():
    source, output = sys.argv[1], sys.argv[2]
    file_index = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    text = open(source).read()

    # __launch_bounds__(X) name  ->  name, remembering X.
    bounds = {}
    while True:
        m = re.search(r"__launch_bounds__\s*\(", text)
        if not m:
            break
        end = balanced(text, m.end() - 1)
        expression = text[m.end():end - 1]
        name = re.match(r"\s*(\w+)", text[end:]).group(1)
        bounds[name] = split_top(expression)[0]  # maxThreadsPerBlock (a second argument would be minBlocks)
        text = text[:m.start()] + text[end:]

    # Launches.
    out, position, launches = "", 0, 0
    for m in re.finditer(r"<<<", text):
        if m.start() < position:
            continue
        # the kernel's name, with its template arguments where they are explicit (kernel<4, unsigned><<<…)
        name_match = re.search(r"([A-Za-z_]\w*)(\s*<[^<>;]*>)?\s*$", text[:m.start()])
        if not name_match:
            die(f"no kernel name before <<< at offset {m.start()}")
        base = name_match.group(1)
        name = base + re.sub(r"\s+", " ", name_match.group(2) or "").strip()
        close = text.index(">>>", m.end())
        config = split_top(text[m.end():close])
        if not 2 <= len(config) <= 4:
            die(f"launch of {name}: {len(config)} configuration values")
        args_start = close + 3
        while text[args_start].isspace():
            args_start += 1
        args_end = balanced(text, args_start)
        args = split_top(text[args_start + 1:args_end - 1])
        bound = bounds.get(base, "0")
        replacement = (f"::shim::launch(\"{name}\", (int)({bound}), ::shim::Config({', '.join(config)}), "
                       f"[&](auto... shim_argument) {{ {name}(shim_argument...); }}"
                       + "".join(f", {a}" for a in args) + ")")
        out += text[position:name_match.start()] + replacement
        position = args_end
        launches += 1
    text = out + text[position:]

    # __shared__ declarations.
    counter = [0]

    def shared(m):
        is_extern = m.group(1) is not None
        declaration = m.group(2)
        parts = split_top(declaration)
        first = re.match(r"^(.*?\S)\s*\b(\w+)\s*((?:\[[^\]]*\]\s*)*)$", parts[0], re.S)
        if not first:
            die(f"cannot parse __shared__ {declaration}")
        element = first.group(1)
        declarators = [(first.group(2), first.group(3).strip())]
        for p in parts[1:]:
            d = re.match(r"^(\w+)\s*((?:\[[^\]]*\]\s*)*)$", p)
            if not d:
                die(f"cannot parse __shared__ declarator {p}")
            declarators.append((d.group(1), d.group(2).strip()))
        pieces = []
        for name, dims in declarators:
            if is_extern:
                if dims.replace(" ", "") != "[]":
                    die(f"extern __shared__ {name}{dims}: expected an unsized array")
                pieces.append(f"{element} *{name} = ({element} *)::shim::dynamic_shared();")
                continue
            counter[0] += 1
            ident = file_index * 1000 + counter[0]
            whole = f"{element} {dims}" if dims else element
            pieces.append(f"{element} (&{name}){dims} = *reinterpret_cast<{element} (*){dims}>(::shim::shared_alloc("
                          f"{ident}, sizeof({whole}), alignof({element}), \"{name}\"));" if dims else
                          f"{element} &{name} = *reinterpret_cast<{element} *>(::shim::shared_alloc({ident}, "
                          f"sizeof({element}), alignof({element}), \"{name}\"));")
        return " ".join(pieces)

    text = re.sub(r"(extern\s+)?__shared__\s+([^;]+);", shared, text)
    text = re.sub(r'#include\s+"([^"]+\.cuh)"', r'#include "\1.cpp"', text)
    header = f"// Rewritten by tests/cuda/shim/rewrite.py from {source}: {launches} launches, {counter[0]} shared declarations.\n"
    open(output, "w").write(header + f'#line 1 "{source}"\n' + text)


main()
