"""The notes and lesson READMEs stay true to the code and to each other (conventions: notes/README.md).

- every ```c block compiles: with bcc (compile only: nothing is loaded or attached), or, for a block in libbpf
  form (it has SEC(...)), with `clang -target bpf` against a vmlinux.h made from this kernel's BTF;
- every ```python block parses;
- a block marked ```c fragment / ```python fragment is not compiled, but must say so in the visible text next
  to it ("fragment" / "片段"); the fragments are counted in the summary line this file prints;
- every .md under lessons/ and notes/ has its .zh.md (and the other way round), with the same headings (count,
  levels, order) and identical code blocks;
- every relative link and image in every .md file of the repository resolves;
- a Chinese page (X.zh.md) links the Chinese twin of a page wherever there is one: X.zh.md, not X.md, and a
  folder's README.zh.md, not the folder; only its language switch, `[English](X.md)`, links the English page;
- every Chinese page passes autocorrect's lint (Chinese typography: a space between CJK and Latin, full-width
  punctuation); autocorrect reads the file as Markdown, so code blocks and inline code are left alone.

bcc compiles take ~0.5 s each: they run in parallel (one process per CPU) and a block that compiled is
remembered in pytest's cache (.pytest_cache), keyed by its text, the kernel, bcc and the headers it compiled
against, so an unchanged block is not compiled again.
"""
import ast
import concurrent.futures
import hashlib
import io
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import tokenize
from pathlib import Path

import pytest

from harness import CAPS, ROOT
from conftest import require

PAIRED_DIRS = ("lessons", "notes")
SKIP_DIRS = {".git", ".venv", ".pytest_cache", "results", "node_modules", "__pycache__"}
FRAGMENT_WORDS = ("fragment", "片段")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
HEADING = re.compile(r"^(#{1,6})\s+\S")
LINK = re.compile(r"!?\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+<?(?P<target>\S+?)>?(?:\s|$)")
HTML_SRC = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"(?P<target>[^\"]+)\"")


# ---------------------------------------------------------------- reading Markdown
def markdown_files(dirs=None):
    """Every .md file of the repository (or of `dirs`), without virtualenvs, caches and results."""
    found = []
    for top in ([ROOT / d for d in dirs] if dirs else [ROOT]):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            found += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".md")]
    return found


class Block:
    def __init__(self, path, line, info, text, before, after):
        self.path, self.line, self.text = path, line, text
        words = info.split()
        self.lang = words[0].lower() if words else ""
        self.info = " ".join(words)
        self.fragment = "fragment" in words[1:]
        self.before, self.after = before, after      # the non-blank lines of prose next to the block

    @property
    def where(self):
        return "%s:%d" % (self.path.relative_to(ROOT), self.line)


def parse_markdown(path):
    """(headings, blocks, prose lines) of a Markdown file; headings are (level, line) outside code blocks."""
    lines = path.read_text(encoding="utf-8").splitlines()
    headings, blocks, prose = [], [], []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            h = HEADING.match(lines[i])
            if h:
                headings.append((len(h.group(1)), i + 1))
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        fence, start = m.group("fence"), i
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^\s*%s%s*\s*$" % (re.escape(fence), fence[0]), lines[i]):
            body.append(lines[i][len(m.group("indent")):] if lines[i].startswith(m.group("indent")) else lines[i])
            i += 1
        before = [t for t in lines[max(0, start - 3):start] if t.strip()]
        after = [t for t in lines[i + 1:i + 4] if t.strip() and not FENCE.match(t)]
        blocks.append(Block(path, start + 1, m.group("info").strip(), "\n".join(body) + "\n", before, after))
        i += 1
    return headings, blocks, prose


PAIRED_MD = markdown_files(PAIRED_DIRS)
ALL_MD = markdown_files()
BLOCKS = [b for p in PAIRED_MD for b in parse_markdown(p)[1]]
C_BLOCKS = [b for b in BLOCKS if b.lang == "c"]
PY_BLOCKS = [b for b in BLOCKS if b.lang in ("python", "py", "python3")]


def twin(path):
    """README.md <-> README.zh.md"""
    name = path.name
    return path.with_name(name[:-len(".zh.md")] + ".md" if name.endswith(".zh.md") else name[:-len(".md")] + ".zh.md")


# ---------------------------------------------------------------- compiling C
def is_libbpf(text):
    return re.search(r"\bSEC\s*\(", text) is not None


def compile_with_bcc(text):
    """(ok, messages): compile only. BPF.__init__ would also load and attach every kprobe__/tracepoint__/...
    function (this host cannot attach kprobes); with _trace_autoload switched off it only compiles (and
    creates the maps), so a failure here is a compile failure and nothing else."""
    import bcc

    class CompileOnly(bcc.BPF):
        def _trace_autoload(self):
            pass
    with tempfile.TemporaryFile() as log:
        saved = os.dup(2)                   # clang's messages are written to fd 2 by libbcc
        os.dup2(log.fileno(), 2)
        try:
            CompileOnly(text=text).cleanup()
            ok = True
        except Exception as e:
            ok, error = False, str(e)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        messages = log.read().decode("utf-8", "replace")
    return ok, messages if ok else "%s\n%s" % (error, messages)


def compile_with_clang(text, include_dir):
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "prog.bpf.c"
        src.write_text(text)
        r = subprocess.run(["clang", "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I", include_dir,
                            "-c", str(src), "-o", str(Path(d) / "prog.o")], capture_output=True, text=True)
    return r.returncode == 0, r.stderr


def compile_block(args):
    kind, text, include_dir = args
    return compile_with_bcc(text) if kind == "bcc" else compile_with_clang(text, include_dir)


def toolchain_key(kind):
    """What a compile result depends on besides the block's text."""
    if kind == "bcc":
        return "bcc %s, kernel %s, headers %s" % (CAPS.bcc_version, CAPS.kernel,
                                                  os.path.realpath("/lib/modules/%s/build" % CAPS.kernel))
    clang = subprocess.run(["clang", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    libbpf = Path("/usr/include/bpf/bpf_helper_defs.h")
    return "%s, kernel %s, btf %s, libbpf %s" % (clang, CAPS.kernel, os.path.getsize("/sys/kernel/btf/vmlinux"),
                                                 libbpf.stat().st_mtime if libbpf.exists() else None)


@pytest.fixture(scope="session")
def vmlinux_h(tmp_path_factory):
    require(shutil.which("clang"), "clang is not installed (apt install clang): libbpf-form blocks are compiled with it")
    require(shutil.which("bpftool"), "bpftool is not installed (apt install bpftool): it makes vmlinux.h from BTF")
    require(Path("/usr/include/bpf/bpf_helpers.h").exists(), "libbpf headers missing (apt install libbpf-dev)")
    require(CAPS.btf, "no BTF (/sys/kernel/btf/vmlinux): cannot make vmlinux.h")
    d = tmp_path_factory.mktemp("vmlinux")
    with open(d / "vmlinux.h", "w") as f:
        subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], stdout=f, check=True)
    return str(d)


@pytest.fixture(scope="session")
def compiled(request, bpf_ready):
    """where -> (ok, messages) for every non-fragment ```c block; all compiled at once, in parallel, cached. A
    text compiles once however many notes hold it (a README.zh.md holds its README.md's blocks byte for byte)."""
    todo, results, keys = {}, {}, {}
    cache = getattr(request.config, "cache", None)      # None under -p no:cacheprovider (the QEMU lane)
    include_dir = request.getfixturevalue("vmlinux_h") if any(
        is_libbpf(b.text) for b in C_BLOCKS if not b.fragment) else None
    for b in C_BLOCKS:
        if b.fragment:
            continue
        kind = "clang" if is_libbpf(b.text) else "bcc"
        key = "docs/compiled/" + hashlib.sha256(("%s\n%s\n%s" % (kind, toolchain_key(kind), b.text)).encode()).hexdigest()
        keys[b.where] = key
        if cache is not None and cache.get(key, False):
            results[b.where] = (True, "cached")
        else:
            todo[key] = (kind, b.text, include_dir)
    if todo:
        workers = min(len(todo), os.cpu_count() or 1)
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            done = dict(zip(todo, pool.map(compile_block, todo.values())))
        for key, result in done.items():
            if result[0] and cache is not None:
                cache.set(key, True)
        results.update({where: done[key] for where, key in keys.items() if key in done})
    return results


# ---------------------------------------------------------------- the checks
@pytest.mark.parametrize("block", [b for b in C_BLOCKS if not b.fragment], ids=lambda b: b.where)
def test_c_block_compiles(block, compiled):
    ok, messages = compiled[block.where]
    how = "clang -target bpf (libbpf form)" if is_libbpf(block.text) else "bcc"
    assert ok, "%s: ```c block does not compile with %s:\n%s\n--- the block ---\n%s" % (
        block.where, how, messages.strip(), block.text)
    # bcc compiles TRACEPOINT_PROBE(group, name) of a tracepoint that does not exist (only attaching fails)
    missing = [g + ":" + n for g, n in re.findall(r"TRACEPOINT_PROBE\(\s*(\w+)\s*,\s*(\w+)\s*\)", block.text)
               if not os.path.isdir("%s/events/%s/%s" % (CAPS.tracefs, g, n))]
    assert not missing, "%s: this kernel has no tracepoint %s" % (block.where, ", ".join(missing))


@pytest.mark.parametrize("block", [b for b in PY_BLOCKS if not b.fragment], ids=lambda b: b.where)
def test_python_block_parses(block):
    try:
        ast.parse(block.text)
    except SyntaxError as e:
        pytest.fail("%s: ```python block does not parse (line %s of the block): %s\n%s"
                    % (block.where, e.lineno, e.msg, block.text))


def test_fragments_are_marked_visibly(request):
    """A fragment says so in the text a reader sees, just before or just after the block; and the count is
    printed, so that fragments never pile up unnoticed."""
    fragments = [b for b in BLOCKS if b.fragment]
    unmarked = [b.where for b in fragments
                if not any(w in line.lower() for line in b.before + b.after for w in FRAGMENT_WORDS)]
    assert not unmarked, "fragments without a visible 'fragment'/'片段' next to them: %s" % unmarked
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter and capture:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\ndocs: %d ```c blocks (%d in libbpf form), %d ```python blocks; %d fragments, "
                                "not compiled: %s" % (len(C_BLOCKS), sum(is_libbpf(b.text) for b in C_BLOCKS),
                                                      len(PY_BLOCKS), len(fragments),
                                                      ", ".join(b.where for b in fragments) or "none"))


@pytest.mark.parametrize("path", [p for p in PAIRED_MD if not p.name.endswith(".zh.md")],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_english_and_chinese_notes_match(path):
    zh = twin(path)
    assert zh.exists(), "%s has no Chinese twin %s" % (path.relative_to(ROOT), zh.relative_to(ROOT))
    (h_en, b_en, _), (h_zh, b_zh, _) = parse_markdown(path), parse_markdown(zh)
    levels_en, levels_zh = [level for level, _ in h_en], [level for level, _ in h_zh]
    assert levels_en == levels_zh, "headings differ (levels in order): %s has %s, %s has %s" % (
        path.relative_to(ROOT), levels_en, zh.relative_to(ROOT), levels_zh)
    assert len(b_en) == len(b_zh), "%s has %d code blocks, %s has %d" % (
        path.relative_to(ROOT), len(b_en), zh.relative_to(ROOT), len(b_zh))
    for e, z in zip(b_en, b_zh):
        assert (e.info, e.text) == (z.info, z.text), "code blocks differ: %s and %s" % (e.where, z.where)


@pytest.mark.parametrize("path", [p for p in PAIRED_MD if p.name.endswith(".zh.md")],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_chinese_note_has_english_twin(path):
    assert twin(path).exists(), "%s has no English twin %s" % (path.relative_to(ROOT), twin(path).relative_to(ROOT))


def link_targets(path):
    """(line, target) of every link, image and reference definition outside code blocks."""
    for n, line in parse_markdown(path)[2]:
        line = re.sub(r"`[^`]*`", "", line)          # inline code is not a link
        for regex in (LINK, REF_LINK, HTML_SRC):
            for m in regex.finditer(line):
                yield n, m.group("target")


@pytest.mark.parametrize("path", ALL_MD, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    broken = []
    for n, target in link_targets(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue                                  # http:, mailto:, in-page anchors
        rel = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (ROOT / rel.lstrip("/")) if rel.startswith("/") else (path.parent / rel)
        if not resolved.exists():
            broken.append("line %d: %s" % (n, target))
    assert not broken, "%s: links that do not resolve:\n  %s" % (path.relative_to(ROOT), "\n  ".join(broken))


def english_twin_links(path):
    """(line, target, what to link instead) of every link on a Chinese page to an English page that has a Chinese
    twin: X.md where X.zh.md exists, or a folder whose README.md has a README.zh.md. The page's language switch
    (`[English](X.md)`, X.md being the page's own twin) is the one link that is meant to go to English."""
    for n, line in parse_markdown(path)[2]:
        line = re.sub(r"`[^`]*`", "", line)          # inline code is not a link
        links = [(m.group("text"), m.group("target")) for m in LINK.finditer(line)]
        links += [(None, m.group("target")) for regex in (REF_LINK, HTML_SRC) for m in regex.finditer(line)]
        for text, target in links:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
                continue                              # http:, mailto:, in-page anchors
            if text == "English" and target == twin(path).name:
                continue                              # the language switch at the top of the page
            rel = target.split("#", 1)[0].split("?", 1)[0]
            resolved = (ROOT / rel.lstrip("/")) if rel.startswith("/") else (path.parent / rel)
            if resolved.is_dir() and (resolved / "README.md").exists():
                resolved = resolved / "README.md"
            if resolved.is_file() and resolved.name.endswith(".md") and not resolved.name.endswith(".zh.md") \
                    and twin(resolved).exists():
                yield n, target, os.path.relpath(twin(resolved), path.parent)


@pytest.mark.parametrize("path", [p for p in ALL_MD if p.name.endswith(".zh.md")], ids=lambda p: str(p.relative_to(ROOT)))
def test_chinese_pages_link_chinese_twins(path):
    wrong = ["line %d: %s (link %s)" % found for found in english_twin_links(path)]
    assert not wrong, "%s: links to an English page that has a Chinese twin:\n  %s" % (
        path.relative_to(ROOT), "\n  ".join(wrong))


@pytest.mark.parametrize("path", [p for p in ALL_MD if p.name.endswith(".zh.md")], ids=lambda p: str(p.relative_to(ROOT)))
def test_chinese_typography(path):
    try:
        import autocorrect_py
    except ImportError:
        autocorrect_py = None
    require(autocorrect_py, "autocorrect_py is not installed (pip install -r requirements.txt): it checks Chinese typography")
    result = autocorrect_py.lint_for(path.read_text(encoding="utf-8"), str(path))   # .md: linted as Markdown
    changes = ["line %d, column %d:\n    - %s\n    + %s" % (r.line, r.col, r.old, r.new) for r in result.lines]
    assert not changes, "%s: autocorrect would change %d line(s):\n  %s" % (
        path.relative_to(ROOT), len(changes), "\n  ".join(changes))


# ---------------------------------------------------------------- budgets: what a learner reads (CONTRIBUTING.md)
CODE_LINES = {"001": 30, "002": 45, "003": 80, "004": 80, "005": 100, "006": 80, "007": 80, "008": 110, "009": 80, "010": 80, "011": 80, "012": 80}
NOTE_WORDS = {"001": 900, "002": 900}        # the others: 1,600


def code_lines(path):
    """Lines that are not blank and not a Python comment. The C text in a string counts whole: its `#include` and
    `#ifdef` lines, and its comment lines (`//`, `/* */`) too, since a learner reads the program's text line by
    line as it is (Python's tokenizer tells them from Python comments: they are inside a string). Docstrings too."""
    text = path.read_text()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    numbers = {n for tok in tokenize.generate_tokens(io.StringIO(text).readline) if tok.type not in skip
               for n in range(tok.start[0], tok.end[0] + 1)}
    lines = text.splitlines()
    return sum(1 for n in numbers if lines[n - 1].strip())


def test_the_budget_counts_the_c_text_whole(tmp_path):
    """The counting rule itself: Python comments and blank lines are free; every line of the C text counts."""
    sample = tmp_path / "sample.py"
    sample.write_text('# a comment\n\nprogram = r"""\n// a C comment\n#ifdef X\n\nint x;\n#endif\n"""\n'
                      'print(program)   # code with a comment\n')
    assert code_lines(sample) == 7   # program = r""", // ..., #ifdef X, int x;, #endif, """, print(...)


@pytest.mark.parametrize("number", list(CODE_LINES))
def test_a_lesson_script_stays_within_its_budget(number):
    [folder] = (ROOT / "lessons").glob(number + "_*")
    script = folder / (folder.name.split("_", 1)[1] + ".py")   # 012_stacks/stacks.py; its helpers: HELPER_LINES
    assert code_lines(script) <= CODE_LINES[number], "%s: %d code lines, budget %d" % (
        script.relative_to(ROOT), code_lines(script), CODE_LINES[number])
    words = len((folder / "README.md").read_text().split())
    assert words <= NOTE_WORDS.get(number, 1600), "%s/README.md: %d words" % (folder.name, words)


HELPER_LINES = {"012_stacks/flamegraph.py": 120, "012_stacks/demo.py": 40}   # a lesson's own helper scripts


@pytest.mark.parametrize("helper", list(HELPER_LINES))
def test_a_lesson_helper_stays_within_its_budget(helper):
    assert code_lines(ROOT / "lessons" / helper) <= HELPER_LINES[helper], "%s: %d code lines, budget %d" % (
        helper, code_lines(ROOT / "lessons" / helper), HELPER_LINES[helper])


def test_the_shared_plumbing_stays_within_its_budget():
    assert code_lines(ROOT / "lessons" / "plumbing.py") <= 350
    assert all((folder / "plumbing.py").resolve() == ROOT / "lessons" / "plumbing.py"
               for folder in (ROOT / "lessons").glob("0[0-9][0-9]_*")
               if folder.name != "000_doctor"), "each lesson folder links ../plumbing.py"
