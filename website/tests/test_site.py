"""The website in a real browser: `make test-site` (after `make site`), not part of `make test`.

Debian's chromium, headless, driven by playwright (its Python package only: no browser download), against the built
site/ on a local server started here. What a page must be is computed from the repository's files (the pages, their
fenced code blocks, the lesson scripts, the words a search must find), so the tests follow the notes as they change.
Screenshots of a lesson in each language, and at a phone's width, go to results/site/ for a person to look at.
"""
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "site"
RESULTS = ROOT / "results" / "site"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless as root needs --no-sandbox; the rest keep chromium from calling Google's hosts, which this machine refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 15_000          # every wait of a page is bounded by this
LANGS = ("en", "zh")
HOME_ZH_HEADING = "## 中文说明"   # while there is no README.zh.md, the Chinese home is made from this section
ENGLISH_LABELS = {"Search", "Permanent link", "Dark mode", "Light mode", "Copy to clipboard", "Table of contents",
                  "Previous", "Next", "Navigation", "Header", "Footer", "Select language", "Back to top"}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


# ---------------------------------------------------------------- what the site must hold, from the repository
def english_sources():
    globs = ["*.md", "lessons/[0-9][0-9][0-9]_*/**/*.md", "notes/*.md", "docs/*.md", "bench/*.md"]
    found = {p.relative_to(ROOT).as_posix() for g in globs for p in ROOT.glob(g)}
    return sorted(p for p in found if not p.endswith(".zh.md"))


def lesson_dirs():
    return sorted(p.name for p in (ROOT / "lessons").glob("[0-9][0-9][0-9]_*") if p.is_dir())


def lesson_sequence():
    """The lesson pages in reading order: each lesson's README, then its other pages (exercises) by name."""
    sources = english_sources()
    seq = []
    for d in lesson_dirs():
        readme = f"lessons/{d}/README.md"
        seq += [readme] + [p for p in sources if p.startswith(f"lessons/{d}/") and p != readme]
    return seq


def links_of(src):
    """The repository paths a page links to (relative links, from its English source)."""
    found = set()
    for m in re.finditer(r"\]\(([^)\s#]+)", (ROOT / src).read_text(encoding="utf-8")):
        if not re.match(r"^[a-z][a-z0-9+.-]*:", m[1]):
            found.add((Path(src).parent / unquote(m[1])).as_posix())
    return {str(Path(os.path.normpath(p))) for p in found}


def scripts(src):
    """The scripts shown whole at the end of a page of a lesson folder: the folder's own *.py (not lesson.py, _*.py
    or a link to shared code), on the lesson's README, except one that only another page of the folder links (an
    exercise's starter): on that page."""
    m = re.fullmatch(r"lessons/([0-9]{3}_[^/]+)/.*\.md", src)
    if not m:
        return []
    folder = f"lessons/{m[1]}"
    readme = f"{folder}/README.md"
    others = [p for p in english_sources() if p.startswith(folder + "/") and p != readme]
    shown = []
    for script in sorted((ROOT / folder).glob("*.py")):
        if script.name == "lesson.py" or script.name.startswith("_") or script.is_symlink():
            continue
        rel = f"{folder}/{script.name}"
        linking = [p for p in others if rel in links_of(p)]
        host = readme if rel in links_of(readme) or not linking else linking[0]
        if host == src:
            shown.append(script)
    return shown


def url_of(src, lang):
    path = src[:-len(".md")]
    path = path[:-len("README")] if path.rsplit("/", 1)[-1] == "README" else path + "/"
    return path if lang == "en" else f"{lang}/{path}"


def markdown_of(src, lang):
    """The Markdown a page is made from in that language (English where the page has no translation)."""
    if lang == "zh":
        zh = ROOT / (src[:-3] + ".zh.md")
        if zh.exists():
            return zh.read_text(encoding="utf-8")
        if src == "README.md":
            text = (ROOT / "README.md").read_text(encoding="utf-8")
            return text.split("\n", 1)[0] + "\n" + text.split(HOME_ZH_HEADING, 1)[1].split("\n## ", 1)[0]
    return (ROOT / src).read_text(encoding="utf-8")


def fenced_blocks(markdown):
    count, fence = 0, None
    for line in markdown.split("\n"):
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence is None and m:
            count, fence = count + 1, m[1]
        elif fence and m and line.strip() == m[1] and m[1][0] == fence[0] and len(m[1]) >= len(fence):
            fence = None
    return count


def title_of(markdown):
    return markdown.split("\n", 1)[0].lstrip("# ").replace("`", "").strip()


SOURCES = english_sources()
PAGES = [(src, lang) for lang in LANGS for src in SOURCES]
LESSONS = lesson_sequence()


# ---------------------------------------------------------------- a local server, a browser
@pytest.fixture(scope="session")
def site():
    assert (SITE / "index.html").is_file(), "no built site: run `make site` first (make test-site does)"
    return SITE


@pytest.fixture(scope="session")
def server(site):
    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser():
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: apt install chromium (.ci/run does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        yield b
        b.close()


class Watched:
    """A browser tab that records what a page must not do: log an error, fail a request, or ask another host."""

    def __init__(self, browser, **context_args):
        self.context = browser.new_context(**context_args)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.problems = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text} {m.location}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # net::ERR_ABORTED: a request cut short by leaving the page (the next step of a test), or refused below
        self.page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "")
                     and self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.route("**/*", self._route)

    def _route(self, route):
        host = urlsplit(route.request.url).hostname
        if host != "127.0.0.1":   # nothing from another host: refused here, and recorded
            self.problems.append(f"request to another host: {route.request.url}")
            return route.abort()
        return route.continue_()

    def goto(self, url, settle=False):
        response = self.page.goto(url, wait_until="load")
        assert response and response.status == 200, f"{url}: {response and response.status}"
        # the theme's script has run when every code block has its copy button
        self.page.wait_for_function("""() => document.querySelectorAll('.md-content pre > code').length ===
            document.querySelectorAll('.md-content button.md-code__button[data-md-type=copy]').length""")
        if settle:   # and, for the test of each page, until the fetches after load (the search index) are done
            self.page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        return self.page


@pytest.fixture
def tab(browser):
    t = Watched(browser, viewport=DESKTOP)
    yield t
    t.context.close()


def h1(page):
    return page.evaluate("""() => { const h = document.querySelector('.md-content h1');
        if (!h) return ''; const c = h.cloneNode(true); c.querySelectorAll('.headerlink').forEach(a => a.remove());
        return c.textContent.trim(); }""")


def path_of(url):
    """A URL of the local server as a path of the site: lessons/001_hello/ (no query, no anchor)."""
    return unquote(urlsplit(url).path).lstrip("/")


# ---------------------------------------------------------------- every page, both languages
@pytest.mark.parametrize("src,lang", PAGES, ids=[url_of(s, l) or "home" for s, l in PAGES])
def test_page(tab, server, src, lang):
    page = tab.goto(server + url_of(src, lang), settle=True)
    markdown = markdown_of(src, lang)
    assert page.get_attribute("html", "lang") == lang
    if lang != "en":   # the interface speaks the page's language: none of the theme's English labels
        labels = set(page.evaluate("""() => Array.from(document.querySelectorAll('[title], [aria-label], [placeholder]'))
            .flatMap(e => ['title', 'aria-label', 'placeholder'].map(a => e.getAttribute(a)).filter(Boolean))"""))
        assert not labels & ENGLISH_LABELS
    title = h1(page)
    assert title == title_of(markdown), "the page shows its title"
    if src != "README.md":
        assert page.title().startswith(title + " - ")
    blocks = page.locator(".md-content pre > code")
    expected = fenced_blocks(markdown) + len(scripts(src))
    assert blocks.count() == expected, f"{expected} code blocks in the source (and scripts)"
    for i in range(expected):
        assert blocks.nth(i).is_visible()
    page.wait_for_function(
        "n => document.querySelectorAll('.md-content button.md-code__button[data-md-type=copy]').length === n",
        arg=expected, timeout=TIMEOUT_MS)
    for script in scripts(src):   # the script whole, as the file is now
        code = page.locator(f"#script-{script.stem} ~ div .highlight code").first.inner_text()
        assert code.strip() == script.read_text(encoding="utf-8").strip()
    assert not tab.problems


def test_built_pages_match_sources(site):
    """Every source page is built in both languages, and nothing else but the generated folder pages."""
    built = {p.parent.relative_to(site).as_posix() + "/" for p in site.rglob("index.html")}
    built = {"" if b == "./" else b for b in built}
    expected = {url_of(s, l) for s, l in PAGES}
    assert expected <= built
    extra = {b for b in built - expected if not b.startswith(("zh/notes/demos", "notes/demos", "img/", "zh/img/"))}
    assert not extra, "pages built from nothing in the repository"


def test_every_page_loads_at_phone_width(browser, server, site):
    """All pages, generated ones too: no error, and nothing wider than a phone (tables and code scroll inside)."""
    t = Watched(browser, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        for index in sorted(site.rglob("index.html")):
            url = index.parent.relative_to(site).as_posix() + "/"
            page = t.goto(server + ("" if url == "./" else url))
            width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{url}: {width[0]} px wide on a {width[1]} px screen"
            for code in page.locator(".md-content pre > code").all()[:50]:
                assert code.is_visible()
        assert not t.problems
    finally:
        t.context.close()


def test_links_resolve(site):
    """Every link and source in the built HTML leads to a file of the site, and every #anchor to an element."""
    ids, bad = {}, []
    for html_file in site.rglob("*.html"):
        html = html_file.read_text(encoding="utf-8")
        for attr, url in re.findall(r'\s(href|src)="([^"]*)"', html):
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                assert attr == "href", f"{html_file}: loads {url} from another host"
                continue
            if html_file.name == "404.html":   # mkdocs writes its links from the site's root
                target = site / unquote(parts.path).lstrip("/") if parts.path else html_file
            else:
                target = (html_file.parent / unquote(parts.path)) if parts.path else html_file
            target = target / "index.html" if target.is_dir() else target
            if not target.is_file():
                bad.append(f"{html_file.relative_to(site)}: {url}")
            elif parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(re.findall(r'\sid="([^"]+)"', target.read_text(encoding="utf-8")))
                if unquote(parts.fragment) not in ids[target]:
                    bad.append(f"{html_file.relative_to(site)}: {url} (no such anchor)")
    assert not bad


# ---------------------------------------------------------------- the language switch, previous and next
@pytest.mark.parametrize("lang", LANGS)
def test_language_switch_lands_on_the_same_lesson(tab, server, lang):
    other = "zh" if lang == "en" else "en"
    for src in LESSONS:
        page = tab.goto(server + url_of(src, lang))
        page.hover(".md-header__option .md-select")
        page.click(f".md-select__link[hreflang={other}]")
        page.wait_for_url(server + url_of(src, other))
        assert page.get_attribute("html", "lang") == other
        assert h1(page) == title_of(markdown_of(src, other))
    assert not tab.problems


@pytest.mark.parametrize("lang", LANGS)
def test_previous_next_follow_the_lessons(tab, server, lang):
    urls = [server + url_of(src, lang) for src in LESSONS]
    page = tab.goto(urls[0])
    for i, url in enumerate(urls):
        assert page.url == url
        prev = page.locator("a.md-footer__link--prev")
        if i > 0:
            assert prev.evaluate("a => a.href") == urls[i - 1]
        if i + 1 < len(urls):
            page.click("a.md-footer__link--next")
            page.wait_for_url(urls[i + 1])
    numbers = [s.split("/")[1][:3] for s in LESSONS if s.endswith("/README.md")]
    assert numbers == sorted(numbers) and {f"{n:03d}" for n in range(9)} <= set(numbers), "000 → 008, in order"
    assert not tab.problems


# ---------------------------------------------------------------- search, in each language
def page_text(src, lang):
    """What a page says, from its source: the Markdown without link targets and comments (the whole script shown
    on a lesson page is not searched: the notes that explain it are)."""
    return re.sub(r"\]\([^)]*\)|<!--.*?-->", "", markdown_of(src, lang), flags=re.S)


def mentions(text, term):
    if term.isascii():   # a word, or the start of one: the search matches the beginnings of words
        return re.search(r"(?<![A-Za-z0-9_])" + re.escape(term), text, re.I) is not None
    return term in text


SEARCHES = [  # term, language, pages it must find at least
    ("BPF_HASH", "en", {"lessons/006_bpf_hash/", "notes/maps/"}),
    ("tracepoint", "en", {"lessons/007_exec/", "notes/probe-kinds/"}),
    ("映射", "zh", {"zh/notes/maps/", "zh/lessons/005_perf_output/"}),
    ("跟踪点", "zh", {"zh/notes/probe-kinds/"}),
    ("环形缓冲区", "zh", {"zh/notes/output-paths/"}),
]


@pytest.mark.parametrize("term,lang,minimum", SEARCHES, ids=[s[0] for s in SEARCHES])
def test_search(tab, server, term, lang, minimum):
    page = tab.goto(server + url_of("README.md", lang))
    box = page.locator("input.md-search__input")
    box.click()
    box.press_sequentially(term)   # Chinese arrives as text input, as from an input method ...
    box.press("End")               # ... whose commit is a key: the theme searches on keyup
    meta = page.locator(".md-search-result__meta")
    page.wait_for_function("() => /\\d/.test(document.querySelector('.md-search-result__meta').textContent)",
                           timeout=TIMEOUT_MS)
    total = int(re.search(r"\d+", meta.inner_text())[0])
    items = page.locator(".md-search-result__item")
    for _ in range(50):   # the theme shows ten results, then more each time the list is scrolled to its end
        if items.count() >= total:
            break
        page.locator(".md-search__scrollwrap").evaluate("e => e.scrollTop = e.scrollHeight - e.clientHeight - 50")
        page.wait_for_timeout(50)
        page.locator(".md-search__scrollwrap").evaluate("e => e.scrollTop = e.scrollHeight")
        page.wait_for_timeout(100)
    assert items.count() == total
    found = {path_of(a.get_attribute("href"))
             for a in page.locator(".md-search-result__item > a.md-search-result__link").all()}
    assert found, f"nothing found for {term!r}"
    assert all(f.startswith("zh/") == (lang == "zh") for f in found), "results in the reader's language only"
    # The lessons and notes that use the term, from their sources, are all found. An English term is found where it
    # is (the start of) a word, so exactly they are; a Chinese one is also looked up by the words it holds (环形缓冲区:
    # 缓冲区), so more pages may come.
    candidates = {url_of(s, lang): s for s in SOURCES if s.startswith(("lessons/", "notes/"))}
    expected = {url for url, s in candidates.items() if mentions(page_text(s, lang), term)}
    assert minimum <= expected, "the notes no longer use the term: pick another"
    found_pages = found & set(candidates)
    assert expected <= found_pages
    if term.isascii():
        assert found_pages == expected
    assert not tab.problems


# ---------------------------------------------------------------- screenshots for a person
def test_screenshots(browser, server):
    RESULTS.mkdir(parents=True, exist_ok=True)
    lesson = "lessons/006_bpf_hash/README.md" if (ROOT / "lessons/006_bpf_hash").is_dir() else LESSONS[0]
    shots = [("en", DESKTOP, "lesson-en.png"), ("zh", DESKTOP, "lesson-zh.png"), ("zh", PHONE, "lesson-zh-phone.png")]
    for lang, viewport, name in shots:
        phone = viewport is PHONE
        t = Watched(browser, viewport=viewport, is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1)
        try:
            page = t.goto(server + url_of(lesson, lang))
            # down (only) until the first code block shows 200 px of itself: on a desktop the top of the page
            page.evaluate("""() => { const r = document.querySelector('.md-content pre').getBoundingClientRect();
                window.scrollTo(0, Math.max(0, r.top + 200 - window.innerHeight)); }""")
            page.wait_for_timeout(600)   # the header's title fades to the page's title on scroll
            page.screenshot(path=str(RESULTS / name))
            assert (RESULTS / name).stat().st_size > 10_000
            assert not t.problems
        finally:
            t.context.close()


# ---------------------------------------------------------------- what makes the build fail, and extra pages
def build_copy(tmp_path, edit):
    """Build a copy of the repository after edit(copy): (exit code, output, site folder)."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "site", "results", "__pycache__", "*.ipynb", ".pytest_cache"))
    edit(repo)
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build"], cwd=repo, env=env, capture_output=True,
                         text=True, timeout=300)
    return run.returncode, run.stdout + run.stderr, repo / "site"


def test_build_fails_without_a_twin(tmp_path):
    code, out, _ = build_copy(tmp_path, lambda r: (r / "notes/maps.zh.md").unlink())
    assert code != 0 and "notes/maps.md has no notes/maps.zh.md" in out


def test_build_fails_on_a_broken_link_or_a_missing_image(tmp_path):
    def edit(repo):
        with open(repo / "notes/maps.md", "a", encoding="utf-8") as f:
            f.write("\nSee [nothing](no-such-note.md) and ![a figure](../img/no-such-figure.svg).\n")
    code, out, _ = build_copy(tmp_path, edit)
    assert code != 0 and "no-such-note.md" in out and "no-such-figure.svg" in out


def test_extra_pages_of_a_lesson_follow_it(tmp_path):
    """Exercises (any other .md in a lesson folder) are built in both languages, between their lesson and the next."""
    first, second = lesson_dirs()[:2]

    def edit(repo):
        ex = repo / "lessons" / first / "exercises"
        ex.mkdir()
        (ex / "01-try.md").write_text("# Exercise 1\n\nTry [the lesson](../README.md).\n", encoding="utf-8")
        (ex / "01-try.zh.md").write_text("# 练习 1\n\n试试[这一课](../README.zh.md)。\n", encoding="utf-8")
    code, out, site = build_copy(tmp_path, edit)
    assert code == 0, out
    for prefix, title in (("", "Exercise 1"), ("zh/", "练习 1")):
        exercise = site / prefix / "lessons" / first / "exercises/01-try/index.html"
        assert f">{title}<" in exercise.read_text(encoding="utf-8")
        # from the lesson, "next" leads through its own pages (this one among them) to the next lesson
        chain, page = [], site / prefix / "lessons" / first / "index.html"
        while len(chain) < 10 and page.parent.name != second:
            nxt = re.search(r'<a href="([^"]*)" class="md-footer__link md-footer__link--next"',
                            page.read_text(encoding="utf-8"))
            assert nxt, f"{page}: no next page"
            page = (page.parent / nxt[1] / "index.html").resolve()
            chain.append(page)
        assert page.parent.name == second and exercise.resolve() in chain
