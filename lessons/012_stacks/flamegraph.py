#!/usr/bin/env python3
"""A flame graph from folded stacks, as an SVG file: standard library only, written for these lessons.

    python3 flamegraph.py stacks.folded > stacks.svg       (or: stacks.py --svg stacks.svg)

Folded stacks are one line per stack, its frames from the outermost (left) to the innermost, then a space and how
many times it was seen: `demo;main;outer;inner 5`. Each frame becomes a box: its width is the share of all the
counts that passed through it, its height a level of the stack; the outermost frame at the bottom, callees above
their callers. Boxes of one level are sorted by name, so the x axis is not time. Kernel frames end in `_[k]`.
(Brendan Gregg's flamegraph.pl draws the same picture; this is a small renderer of our own, not a copy of it.)
"""
import argparse
import hashlib
import sys
from xml.sax.saxutils import escape

WIDTH, PAD, ROW, FONT = 1200, 10, 16, 12    # pixels: the image, its margins, one level, the text
CHAR = FONT * 0.59                          # the width of one character of the font, about


def read(lines):
    """[(frames, count)] from folded lines; blank lines are skipped, a malformed one raises ValueError."""
    stacks = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise ValueError("line %d is not 'frame;frame;... COUNT': %r" % (number, line[:80]))
        stacks.append((stack.split(";"), int(count)))
    return stacks


def tree(stacks):
    """The stacks merged from the outermost frame: {name: [count, {children}]}."""
    root = {}
    for frames, count in stacks:
        level = root
        for name in frames:
            node = level.setdefault(name, [0, {}])
            node[0] += count
            level = node[1]
    return root


def boxes(root, total, scale):
    """(name, count, x, depth) for every frame, x in pixels from the left margin."""
    out = []

    def walk(level, x, depth):
        for name in sorted(level):
            count, children = level[name]
            out.append((name, count, x, depth))
            walk(children, x, depth + 1)
            x += count * scale
    walk(root, PAD, 0)
    return out


def colour(name):
    """Warm colours, the same for the same name; kernel frames orange-brown."""
    h = hashlib.md5(name.encode()).digest()
    if name.endswith("_[k]"):
        return "rgb(%d,%d,%d)" % (200 + h[0] % 40, 120 + h[1] % 40, 40)
    return "rgb(%d,%d,%d)" % (220 + h[0] % 35, 80 + h[1] % 120, 40 + h[2] % 40)


def render(stacks, title="Flame graph"):
    """The SVG text for [(frames, count)]."""
    total = sum(count for _, count in stacks)
    scale = (WIDTH - 2 * PAD) / total if total else 0
    frames = boxes(tree(stacks), total, scale)
    depth = max((d for _, _, _, d in frames), default=-1) + 1
    height = 2 * PAD + 2 * ROW + depth * ROW
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="monospace" '
           'font-size="%d">' % (WIDTH, height, WIDTH, height, FONT),
           '<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f0"/>' % (WIDTH, height),
           '<text x="%d" y="%d" text-anchor="middle" font-size="%d">%s (%d samples)</text>'
           % (WIDTH // 2, PAD + FONT, FONT + 2, escape(title), total)]
    for name, count, x, d in frames:
        width = count * scale
        y = height - PAD - (d + 1) * ROW
        fits = int((width - 4) / CHAR)          # characters that fit in the box; a cut name ends in ".."
        label = name if len(name) <= fits else name[:fits - 2] + ".." if fits >= 3 else ""
        out.append('<g><title>%s</title><rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s" rx="2"/>'
                   % (escape("%s: %d (%.1f%%)" % (name, count, 100.0 * count / total)), x, y, width, ROW - 1,
                      colour(name)))
        out.append('<text x="%.2f" y="%d">%s</text></g>' % (x + 3, y + ROW - 4, escape(label)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(path, stacks, title="Flame graph"):
    with open(path, "w") as f:
        f.write(render(stacks, title))


def save(folded, folded_path=None, svg_path=None, title="Flame graph"):
    """Folded lines (without their newlines) to folded_path, and drawn to svg_path; either may be None."""
    if folded_path:
        with open(folded_path, "w") as f:
            f.write("".join(line + "\n" for line in folded))
    if svg_path:
        write(svg_path, read(folded), title)


def main(argv=None):
    p = argparse.ArgumentParser(description="Draw folded stacks (frame;frame;... COUNT) as a flame graph, in SVG.")
    p.add_argument("folded", help="a file of folded stacks, or - for standard input")
    p.add_argument("--title", default="Flame graph")
    args = p.parse_args(argv)
    try:
        with (open(args.folded) if args.folded != "-" else sys.stdin) as f:
            stacks = read(f)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        sys.exit("error: %s: %s" % (args.folded, e.strerror if isinstance(e, OSError) else e))
    sys.stdout.write(render(stacks, args.title))


if __name__ == "__main__":
    main()
