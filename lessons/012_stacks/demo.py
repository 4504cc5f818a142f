#!/usr/bin/env python3
"""Build lesson 012's demo.c (once, again when the source changes) and run it.

    python3 demo.py calls 5        press Enter: main -> outer -> inner makes 5 getppid() calls
    python3 demo.py spin 10        main -> outer -> spin burns CPU for 10 seconds
    python3 demo.py --omit-frame-pointer calls 5      the same program built without frame pointers

cc -O0 -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer (or -fomit-frame-pointer), by plumbing.build(),
into ~/.cache/ebpf-lessons.
"""
import os
import sys

import plumbing   # ../plumbing.py: build() compiles a lesson's C file once, into a cache

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo.c")
# -mno-omit-leaf-frame-pointer: inner() calls no function, and gcc on arm64 gives such a leaf no frame record
# unless asked, so the unwinder went from inner straight to main (measured on Debian 13's arm64 kernel).
FLAGS = {True: ["-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer"], False: ["-fomit-frame-pointer"]}


def build(frame_pointer=True):
    """The path of the demo built with or without frame pointers (built once per source and flags)."""
    return plumbing.build(SOURCE, flags=["-O0", *FLAGS[frame_pointer]])


if __name__ == "__main__":
    argv = sys.argv[1:]
    fp = "--omit-frame-pointer" not in argv
    argv = [a for a in argv if a != "--omit-frame-pointer"]
    os.execv(build(fp), ["demo"] + argv)
