#!/usr/bin/env python3
"""A tool's man page (mdoc) from its argument parser: reads `TOOL --experimental-dump-help` (swift-argument-parser's
ToolInfo JSON) on standard input and writes the page to standard output. `make man` uses it rather than the package
plugin generate-manual, which drops every non-ASCII character (so "≥ --pos-threshold" read "--pos-threshold", and
the Japanese examples vanished) and runs the help's EXAMPLES and EXIT STATUS into DESCRIPTION.

The help discussion's layout, as --help prints it: paragraphs separated by blank lines; indented lines are a display
kept as written (a list, examples, a record layout); a line in capitals alone (EXAMPLES, EXIT STATUS) starts a section.
The page: NAME, SYNOPSIS, DESCRIPTION (the discussion up to its first section), OPTIONS (grouped under their help
headings, with values and defaults as --help gives them), the discussion's sections, SEE ALSO (the project's other pages).

Usage: splade-noise --experimental-dump-help | scripts/generate-man.py --date 2026-11-29 \
         --see-also "splade-encode.1 … splade-vectors.5" > man/splade-noise.1
"""
import argparse
import datetime
import json
import re
import sys


# The longest display line kept as written (examples, tables); longer ones are prose that --help wraps.
DISPLAY_WIDTH = 100


def text_line(line):
    """A line of running text: backslashes as \\e, and a leading dot, apostrophe or blank made literal with \\&."""
    line = line.replace("\\", "\\e")
    return "\\&" + line if line[:1] in (".", "'", " ") else line


def macro_argument(text):
    """One argument of a macro line, quoted when it holds blanks (\\(dq for a double quote, \\e for a backslash), and
    made literal with \\& where mdoc would take it for a macro name (No, Ns, …) or a delimiter (|, ., …)."""
    text = text.replace("\\", "\\e").replace('"', "\\(dq")
    if re.fullmatch(r"[A-Z][a-z][a-z]?|[|.,:;()\[\]?!]", text):
        text = "\\&" + text
    return f'"{text}"' if not text or " " in text else text


def discussion_blocks(discussion):
    """The discussion as (kind, lines) blocks — "section" (a heading), "text" (a paragraph), "display" (indented lines,
    their common indentation removed) — in order."""
    blocks = []
    for line in discussion.split("\n"):
        if re.fullmatch(r"[A-Z][A-Z ]*[A-Z]", line):
            blocks.append(("section", [line]))
        elif not line.strip():
            blocks.append(("gap", []))
        else:
            kind = "display" if line[0] in " \t" else "text"
            if blocks and blocks[-1][0] == kind:
                blocks[-1][1].append(line)
            else:
                blocks.append((kind, [line]))
    return blocks


def render_blocks(blocks, out):
    """Paragraphs as text lines with .Pp between them, displays as literal blocks (they keep their own breaks) or,
    where a line is too long for that, as an indented list."""
    started = False
    for kind, lines in blocks:
        if kind == "gap":
            continue
        if kind == "section":
            out.append(f".Sh {macro_argument(lines[0])}")
            started = False
            continue
        if started:
            out.append(".Pp")
        started = True
        if kind == "text":
            out.extend(text_line(line) for line in lines)
        elif max(map(len, lines)) <= DISPLAY_WIDTH:
            indent = min(len(line) - len(line.lstrip()) for line in lines)
            out.append(".Bd -literal -offset 2n")
            out.extend(text_line(line[indent:]) for line in lines)
            out.append(".Ed")
        else:  # lines too long to keep as they are (--help wraps them): an indented list, each line filled
            out.append(".Bl -item -offset 2n")
            for line in lines:
                out.extend([".It", text_line(line.strip())])
            out.append(".El")


def flag_names(argument):
    """The macro arguments naming an option: `Fl o , Fl -output` (mdoc's Fl adds the first dash)."""
    names = [("-" if n["kind"] == "long" else "") + n["name"] for n in argument["names"]]
    return " , ".join(f"Fl {name}" for name in names)


def merged_inversions(arguments):
    """--x and --no-x (one Bool with an inversion) as one entry, as --help shows them."""
    merged = []
    for argument in arguments:
        previous = merged[-1] if merged else None
        if (previous and argument["kind"] == "flag" and previous["kind"] == "flag"
                and argument["names"][0]["name"] == "no-" + previous["names"][0]["name"]
                and argument.get("abstract") == previous.get("abstract")):
            previous = dict(previous, names=previous["names"] + argument["names"])
            merged[-1] = previous
        else:
            merged.append(argument)
    return merged


def synopsis_item(argument):
    value = argument.get("valueName", "")
    repeat = " No ..." if argument.get("isRepeating") else ""
    if argument["kind"] == "positional":
        item = f"Ar {macro_argument(value)}{repeat}"
    else:
        first = argument["preferredName"]
        name = ("-" if first["kind"] == "long" else "") + first["name"]
        item = f"Fl {name}" + (f" Ar {macro_argument(value)}" if argument["kind"] == "option" else "") + repeat
    return f".Op {item}" if argument.get("isOptional") else f".{item}"


def option_notes(argument):
    """What --help appends to an option's abstract: its values and default."""
    notes = []
    if argument.get("allValues"):
        notes.append("values: " + ", ".join(argument["allValues"]))
    if "defaultValue" in argument:
        notes.append("default: " + argument["defaultValue"])
    return f" ({'; '.join(notes)})" if notes else ""


def option_item(argument):
    """An entry of OPTIONS: the names and value, then the help with --help's notes."""
    if argument["kind"] == "positional":
        lines = [f".It Ar {macro_argument(argument.get('valueName', ''))}"]
    else:
        value = f" Ar {macro_argument(argument['valueName'])}" if argument["kind"] == "option" else ""
        lines = [f".It {flag_names(argument)}{value}"]
    description = argument.get("abstract", "") + option_notes(argument)
    lines.extend(text_line(line) for line in description.split("\n") if line.strip())
    if argument.get("discussion"):
        lines.append(".Pp")
        lines.extend(text_line(line) for line in argument["discussion"].split("\n") if line.strip())
    return lines


def page(info, date, see_also):
    command = info["command"]
    name = command["commandName"]
    arguments = merged_inversions([a for a in command["arguments"] if a.get("shouldDisplay", True)])
    shown = [a for a in arguments if a["kind"] == "positional" or a["preferredName"]["name"] != "help"]
    out = [
        f'.\\" Generated by scripts/generate-man.py from `{name} --experimental-dump-help`; edit the help text instead.',
        f".Dd {date:%B} {date.day}, {date.year}",
        f".Dt {name.upper()} 1",
        ".Os",
        ".Sh NAME",
        f".Nm {name}",
        f".Nd {macro_argument(command.get('abstract', '').rstrip('.'))}",
        ".Sh SYNOPSIS",
        ".Nm",
    ]
    out.extend(synopsis_item(a) for a in shown)

    blocks = discussion_blocks(command.get("discussion", ""))
    first_section = next((i for i, (kind, _) in enumerate(blocks) if kind == "section"), len(blocks))
    out.append(".Sh DESCRIPTION")
    render_blocks(blocks[:first_section], out)

    # The tool's own options (no help heading) first, then the shared groups under their headings.
    out.append(".Sh OPTIONS")
    titles = list(dict.fromkeys(a.get("sectionTitle", "") for a in arguments))
    for title in sorted(titles, key=bool):
        if title:
            out.append(f".Ss {macro_argument(title)}")
        out.append(".Bl -tag -width 6n")
        for argument in (a for a in arguments if a.get("sectionTitle", "") == title):
            out.extend(option_item(argument))
        out.append(".El")

    render_blocks(blocks[first_section:], out)

    others = [page.rsplit(".", 1) for page in see_also if page != f"{name}.1"]
    if others:
        out.append(".Sh SEE ALSO")
        out.extend(f".Xr {other} {section}" + (" ," if i < len(others) - 1 else "") for i, (other, section) in enumerate(others))
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--date", required=True, help="the page's date, YYYY-MM-DD")
    p.add_argument("--see-also", default="", help="the project's man pages as NAME.SECTION, space-separated")
    a = p.parse_args()
    info = json.load(sys.stdin)
    sys.stdout.write(page(info, datetime.date.fromisoformat(a.date), a.see_also.split()))


if __name__ == "__main__":
    main()
