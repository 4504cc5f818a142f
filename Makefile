# The two commands a learner needs (run them with sudo):
#   make run    set up what is missing, then run lesson 001 until Ctrl-C
#   make test   set up what is missing, then run the whole test suite
PY := .venv/bin/python

.PHONY: setup run test doctor test-kernels figures

setup:
	@bash scripts/setup.sh

run: setup
	@$(PY) lessons/001_hello/hello.py

# LESSONS_NO_SKIP: after set-up, a missing prerequisite is a failure, not a quiet skip.
test: setup
	LESSONS_NO_SKIP=1 $(PY) -m pytest

doctor: setup
	@$(PY) lessons/000_doctor/doctor.py

# Every lesson's tests on stock Debian kernels under QEMU (see scripts/kernel-matrix.sh).
test-kernels:
	@bash scripts/kernel-matrix.sh

# The figures in img/, from scripts/figures.py (SVG; same inputs, same bytes).
figures:
	@$(PY) scripts/figures.py
