#!/usr/bin/env python3
"""Build lesson 012's demo.c (once, again when the source changes) and run it.

    python3 demo.py calls 5        press Enter: main -> outer -> inner makes 5 getppid() calls
    python3 demo.py spin 10        main -> outer -> spin burns CPU for 10 seconds
    python3 demo.py --omit-frame-pointer calls 5      the same program built without frame pointers

gcc -O0 -fno-omit-frame-pointer (or -fomit-frame-pointer) into ~/.cache/ebpf-lessons (XDG_CACHE_HOME).
"""
import os
import shutil
import subprocess
import sys

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo.c")
FLAGS = {True: ["-fno-omit-frame-pointer"], False: ["-fomit-frame-pointer"]}


def build(frame_pointer=True):
    """The path of the demo built with or without frame pointers; built when missing or older than demo.c."""
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ebpf-lessons")
    binary = os.path.join(cache, "demo-fp" if frame_pointer else "demo-nofp")
    if os.path.exists(binary) and os.path.getmtime(binary) >= os.path.getmtime(SOURCE):
        return binary
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not compiler:
        sys.exit("error: no C compiler (cc or gcc) to build demo.c: sudo apt install gcc libc6-dev")
    os.makedirs(cache, exist_ok=True)
    new = "%s.%d" % (binary, os.getpid())      # two builds at once: each writes its own file, then renames it
    made = subprocess.run([compiler, "-O0", *FLAGS[frame_pointer], "-o", new, SOURCE],
                          stderr=subprocess.PIPE, text=True)
    if made.returncode != 0:
        sys.exit("error: %s could not build demo.c: %s" % (compiler, (made.stderr.strip().splitlines() or ["?"])[-1]))
    os.replace(new, binary)
    return binary


if __name__ == "__main__":
    argv = sys.argv[1:]
    fp = "--omit-frame-pointer" not in argv
    argv = [a for a in argv if a != "--omit-frame-pointer"]
    os.execv(build(fp), ["demo"] + argv)
