# The two commands a learner needs (run them with sudo):
#   make run    set up what is missing, then run lesson 001 until Ctrl-C
#   make test   set up what is missing, then run the whole test suite
PY := .venv/bin/python

.PHONY: setup bundle test-bundle run test doctor check watch report class-report clean-machine test-kernels test-kernels-ci figures notebooks lab bench site serve test-site

# BUNDLE=path.tar: set up from an offline bundle (`make bundle`), with no network (README: Offline set-up).
setup:
	@$(if $(BUNDLE),BUNDLE='$(BUNDLE)') bash scripts/setup.sh

# The offline bundle: dist/ebpf-lessons-<distro>-<release>-<arch>.tar, for machines of this release and architecture
# (KERNELS="...": the kernels it holds headers for; default the running one). Needs network; not part of `make test`.
bundle:
	@$(if $(KERNELS),KERNELS='$(KERNELS)') bash scripts/bundle.sh

# The bundle tested for real (not part of `make test`; ~25 min on a quiet 2-core host): a bundle made here for Debian 12's stock
# kernel, installed with no network in a guest booted from a root filesystem without bcc, which then runs the lesson
# tests (scripts/test-bundle.sh; results in results/kernel-matrix/bookworm-6.1-bare/).
test-bundle:
	@bash scripts/test-bundle.sh

run: setup
	@$(PY) lessons/001_hello/hello.py

# LESSONS_NO_SKIP: after set-up, a missing prerequisite is a failure, not a quiet skip.
# Five pytest-xdist workers: tests of lessons that share kernel-wide state (the trace buffer; one lesson's own
# events) run one after another in a group (conftest.py, kernel_group), the groups side by side, the trace buffer's
# (the longest) at a higher priority. The tests wait as well as compute, so the workers fill each other's waits
# (CONTRIBUTING.md, "Tests", has the measurements). They share the CPUs, so the wall-clock bounds are doubled
# (LESSONS_TIME_SCALE, unless set: only bounds scale, a passing run takes no longer).
# PYTEST_ARGS: more of pytest's options (CI: --junitxml, whose results the matrix's host column reuses).
test: setup
	LESSONS_NO_SKIP=1 LESSONS_TIME_SCALE=$${LESSONS_TIME_SCALE:-2} $(PY) -m pytest -n 5 --dist loadgroup $(PYTEST_ARGS)

doctor: setup
	@$(PY) lessons/000_doctor/doctor.py

# The exercises (lessons/NNN_*/EXERCISES.md): `make check` lists them all, `make check EX=001-fork` checks one
# (FILE=path: another file than the starter; ONLY=001-fork,002-two-hooks: only those), `make watch EX=001-fork`
# checks again at every save.
# Exit status: 0 when every exercise checked is done, else non-zero, for scripts (`make check && ...`). GNU make
# exits 2 for any failed recipe (never the checker's own 1 or 3: run scripts/check.py for those) and then prints its
# own line, "make: *** [Makefile:NN: check] Error 1", which nothing in a Makefile can silence (only an *ignored*
# error is quiet under -s, and an ignored error makes make exit 0). So the checker, run by make, says just before
# that line what it means, in both languages.
check: setup
	@$(PY) scripts/check.py $(EX) $(if $(FILE),--file $(FILE)) $(if $(ONLY),--only $(ONLY))

# Ctrl-C ends it: the checker exits 0, make is interrupted with the terminal and adds no line.
watch: setup
	@$(PY) scripts/check.py $(EX) --watch $(if $(FILE),--file $(FILE))

# One JSON report of this machine for the instructor (docs/workshop.md): lesson 000's rows and every exercise's
# state, in results/report-<hostname>.json (OUT=path for another file; ONLY=001-fork to check only some exercises).
report: setup
	@$(PY) scripts/report.py $(if $(OUT),--out $(OUT)) $(if $(ONLY),--only $(ONLY))

# The instructor's view of a class: every report-*.json in DIR -> DIR/class-report.html and DIR/class-report.md.
# Python's standard library only, no root: it runs on the instructor's own laptop (macOS too) with any python3.
class-report:
	@python3 scripts/class_report.py $(or $(DIR),results)

# Between two groups: nothing of the lessons left in the kernel (probes, programs), the trace buffer emptied and
# back to its size at boot; says what it found and did (docs/workshop.md, "Between two groups").
clean-machine:
	@$(PY) scripts/clean_machine.py

# Every lesson's tests on stock Debian kernels under QEMU (see scripts/kernel-matrix.sh).
test-kernels:
	@bash scripts/kernel-matrix.sh

# What CI runs after `make test`: the kernel matrix in CI mode, whose lanes, shares, time scale and guest limits
# are CI's policy in scripts/matrix/ci.env. `make test-kernels` runs everything everywhere.
test-kernels-ci:
	@MATRIX_SHARD=1 bash scripts/kernel-matrix.sh

# The figures in img/, from scripts/figures.py (SVG; same inputs, same bytes).
figures:
	@$(PY) scripts/figures.py

# Notebooks, generated from the lesson scripts (jupytext percent format) beside them; not committed.
# (not the plumbing every lesson links, not the exercise starters)
LESSON_SCRIPTS := $(filter-out $(wildcard lessons/*/plumbing.py lessons/*/ex_*.py),$(wildcard lessons/[0-9][0-9][0-9]_*/*.py))
NOTEBOOKS := $(patsubst %.py,%.ipynb,$(LESSON_SCRIPTS))
# The notebooks' kernel (set-up installs it) and no notebook metadata in the script on the way back: one file, which
# the notebook tests read too.
NOTEBOOK_METADATA := $(shell cat scripts/notebook-metadata.json)
notebooks: setup $(NOTEBOOKS)
lessons/%.ipynb: lessons/%.py
	@$(PY) -m jupytext --quiet --to ipynb --update-metadata '$(NOTEBOOK_METADATA)' --output $@ $<
	@echo "notebook: $@"

# JupyterLab (installed on first use) as root on 127.0.0.1 only: see README, "Notebooks".
lab: notebooks
	@$(PY) -c 'import jupyterlab' 2>/dev/null || $(PY) -m pip install -q --disable-pip-version-check jupyterlab==4.5.11
	$(PY) -m jupyter lab --allow-root --ip=127.0.0.1 --port=8888 --no-browser --ServerApp.root_dir=lessons

# The delivery benchmark (bench/README.md): about 3.5 minutes on 2 CPUs; run it on a quiet machine.
bench: setup
	@$(PY) bench/bench.py

# The website (README: Website): the lessons and notes, English and Chinese, as a static site in site/ (mkdocs.yml,
# website/hooks.py). Needs neither root nor BPF: .venv is made here if set-up has not made it yet, and mkdocs with its
# plugins (requirements-site.txt) go into it on first use and whenever that file changes.
SITE_PORT ?= 8000
site:
	@test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages .venv
	@cmp -s requirements-site.txt .venv/.requirements-site || { $(PY) -m pip install -q --disable-pip-version-check \
		-r requirements-site.txt && cp requirements-site.txt .venv/.requirements-site; }
	@NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build   # not --quiet: it hides the warnings that strict mode fails on
	@echo "site: site/ built ($$(find site -name '*.html' ! -name 404.html | wc -l) pages); see it with: make serve, or open site/index.html"

# The built site on http://127.0.0.1:$(SITE_PORT)/ only, until Ctrl-C; no network needed.
serve: site
	@echo "serving site/ on http://127.0.0.1:$(SITE_PORT)/ (Ctrl-C to stop)"
	@$(PY) -m http.server --bind 127.0.0.1 --directory site $(SITE_PORT)

# The site in a real browser (website/tests: Debian's chromium, headless; apt install chromium). Not part of
# `make test`; screenshots in results/site/. A skipped test fails the run.
test-site: site
	@cmp -s requirements-site-test.txt .venv/.requirements-site-test || { $(PY) -m pip install -q \
		--disable-pip-version-check -r requirements-site-test.txt && cp requirements-site-test.txt .venv/.requirements-site-test; }
	@# pytest as requirements.txt pins it, for a .venv that set-up has not filled (make test-site alone, no root)
	@$(PY) -c 'import pytest, pytest_timeout' 2>/dev/null || $(PY) -m pip install -q --disable-pip-version-check \
		$$(grep -E '^pytest(-timeout)?==' requirements.txt)
	$(PY) -m pytest --confcutdir=website/tests -p no:cacheprovider website/tests $(PYTEST_ARGS)
