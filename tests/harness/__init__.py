"""The one test harness, without pytest: the lesson tests (through conftest.py's fixtures) and the exercise
checker (scripts/check.py) both use it (CONTRIBUTING.md, "Tests").

- machine:   what this kernel and machine offer; the shared trace buffer; what a process holds of BPF
- runner:    LessonRun, a lesson as a subprocess: ready line, bounded waits, signals, what it left behind
- workloads: the events the tests cause, with values only this run knows
- notebooks: a lesson executed as a notebook, with LessonRun's interface
"""
from .machine import *    # noqa: F401,F403
from .runner import *     # noqa: F401,F403
from .workloads import *  # noqa: F401,F403
from .notebooks import *  # noqa: F401,F403
