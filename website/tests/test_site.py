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

import jieba
import pytest
from backrefs import bre
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
HAN = bre.compile(r"\p{script: Han}+")   # what Material's search plugin cuts with jieba
jieba.setLogLevel(60)
jieba.load_userdict(str(ROOT / "website" / "jieba-terms.txt"))
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
    """A page's path in the site: pages are X.html, a folder's README its index.html (use_directory_urls: false, so
    that links work opened from files)."""
    path = src[:-len(".md")]
    path = path[:-len("README")] + "index.html" if path.rsplit("/", 1)[-1] == "README" else path + ".html"
    return path if lang == "en" else f"{lang}/{path}"


def html_pages(site):
    """The site's pages: every .html file but 404.html, and none of the repository's files copied in (a page links
    tests/, say: its .html files, if any, are not pages)."""
    return sorted(p for p in site.rglob("*.html") if p.name != "404.html" and 'name="generator"' in
                  p.read_text(encoding="utf-8", errors="replace")[:3000])


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
        url = urlsplit(route.request.url)
        if url.hostname != "127.0.0.1" and url.scheme != "file":   # nothing from another host: refused, recorded
            self.problems.append(f"request to another host: {route.request.url}")
            return route.abort()
        return route.continue_()

    def goto(self, url, settle=False):
        response = self.page.goto(url, wait_until="load")
        if not url.startswith("file:"):   # from a file there is no response to look at
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
    """A URL of the local server, or of a file of the site, as a path of the site: lessons/001_hello/index.html (no
    query, no anchor)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.path)).relative_to(SITE).as_posix()
    return unquote(parts.path).lstrip("/")


# ---------------------------------------------------------------- every page, both languages
@pytest.mark.parametrize("src,lang", PAGES, ids=[url_of(s, l) for s, l in PAGES])
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
    built = {p.relative_to(site).as_posix() for p in html_pages(site)}
    expected = {url_of(s, l) for s, l in PAGES}
    assert expected <= built
    extra = {b for b in built - expected if not b.startswith(("zh/notes/demos", "notes/demos", "img/", "zh/img/"))}
    assert not extra, "pages built from nothing in the repository"


def test_every_page_loads_at_phone_width(browser, server, site):
    """All pages, generated ones too: no error, and nothing wider than a phone (tables and code scroll inside)."""
    t = Watched(browser, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        for html_file in html_pages(site):
            url = html_file.relative_to(site).as_posix()
            page = t.goto(server + url)
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


def han_words(text):
    """The words of a text's Chinese as the search index holds them: each run of Han characters cut by jieba with
    the site's word list (mkdocs.yml: search.jieba_dict_user), as Material's search plugin cuts them at build time."""
    return {w for run in HAN.findall(text) for w in jieba.cut(run)}


def mentions(text, term):
    if term.isascii():   # a word, or the start of one: the search matches the beginnings of words
        return re.search(r"(?<![A-Za-z0-9_])" + re.escape(term), text, re.I) is not None
    # a Chinese term: a word of the index that starts with it (the theme adds a trailing wildcard)
    return any(w.startswith(term) for w in han_words(text))


def search(page, term):
    """Type term into the search box: (the count the theme shows, the results' paths in order, the highlighted
    words), every result shown."""
    box = page.locator("input.md-search__input")
    box.click()
    # The whole term at once, as an input method commits a word: typed a character at a time, each keyup starts a
    # search, and the count of one could be read beside the results of the next (7 counted, 6 shown for 辅助函数).
    page.keyboard.insert_text(term)
    box.press("End")               # the theme searches on keyup
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
    found = [path_of(a.get_attribute("href"))
             for a in page.locator(".md-search-result__item > a.md-search-result__link").all()]
    marks = {m.inner_text() for m in page.locator(".md-search-result mark").all()}
    return total, found, marks


SEARCHES = [  # term, language, pages it must find at least
    ("BPF_HASH", "en", {"lessons/006_bpf_hash/index.html", "notes/maps.html"}),
    ("tracepoint", "en", {"lessons/007_exec/index.html", "notes/probe-kinds.html"}),
    ("映射", "zh", {"zh/notes/maps.html", "zh/lessons/005_perf_output/index.html"}),
    ("跟踪点", "zh", {"zh/notes/probe-kinds.html"}),
    ("环形缓冲区", "zh", {"zh/notes/output-paths.html"}),
    ("内核探针", "zh", {"zh/notes/probe-kinds.html"}),
]


@pytest.mark.parametrize("term,lang,minimum", SEARCHES, ids=[s[0] for s in SEARCHES])
def test_search(tab, server, term, lang, minimum):
    """The pages that use the term are found, and only they: an English term where it is (the start of) a word, a
    Chinese one where it is (the start of) a word of the index, jieba's: 跟踪点 finds the pages that say 跟踪点, not
    every page that says 跟踪."""
    page = tab.goto(server + url_of("README.md", lang))
    _, found, marks = search(page, term)
    found = set(found)
    assert found, f"nothing found for {term!r}"
    assert all(f.startswith("zh/") == (lang == "zh") for f in found), "results in the reader's language only"
    candidates = {url_of(s, lang): s for s in SOURCES if s.startswith(("lessons/", "notes/"))}
    expected = {url for url, s in candidates.items() if mentions(page_text(s, lang), term)}
    assert minimum <= expected, "the notes no longer use the term: pick another"
    assert found & set(candidates) == expected
    assert term in marks or term.lower() in {m.lower() for m in marks}, "the term is highlighted whole"
    assert not tab.problems


# The glossary's Chinese terms (notes/glossary.zh.md): the page that is about the term comes first, and a term of
# two words finds fewer pages than its first word alone.
GLOSSARY_SEARCHES = [  # term, first result (or one of the pages about it), a shorter word that finds more pages
    ("跟踪点", ("zh/notes/probe-kinds.html", "zh/lessons/011_usdt/index.html"), "跟踪"),   # 011: user-space ones
    ("内核探针", "zh/notes/probe-kinds.html", "内核"),
    ("原始跟踪点", "zh/notes/probe-kinds.html", "原始"),
    ("环形缓冲区", "zh/notes/output-paths.html", "缓冲区"),
    ("映射", "zh/notes/maps.html", None),
    ("辅助函数", "zh/notes/helpers.html", "函数"),
    ("系统调用", ("zh/notes/syscalls.html", "zh/notes/syscall-wrappers.html"), "调用"),
]


@pytest.mark.parametrize("term,first,shorter", GLOSSARY_SEARCHES, ids=[s[0] for s in GLOSSARY_SEARCHES])
def test_glossary_terms_find_their_page_first(tab, server, term, first, shorter):
    assert term in (ROOT / "notes/glossary.zh.md").read_text(encoding="utf-8"), "not a glossary term: pick another"
    page = tab.goto(server + url_of("README.md", "zh"))
    total, found, _ = search(page, term)
    assert found and found[0] in ((first,) if isinstance(first, str) else first), f"{term}: first result {found[:1]}"
    if shorter:
        page = tab.goto(server + url_of("README.md", "zh"))
        total_shorter, _, _ = search(page, shorter)
        assert total < total_shorter, f"{term}: {total} results, {shorter}: {total_shorter}"
    assert not tab.problems


def test_english_search_ranks_the_note_above_the_glossary(tab, server):
    """trace_pipe: the note that explains it (notes/output-paths) before the glossary, which only names it."""
    page = tab.goto(server + url_of("README.md", "en"))
    _, found, _ = search(page, "trace_pipe")
    pages = [f.split("#")[0] for f in found]
    assert "notes/output-paths.html" in pages and "notes/glossary.html" in pages
    assert pages.index("notes/output-paths.html") < pages.index("notes/glossary.html")
    assert not tab.problems


# ---------------------------------------------------------------- opened from files, no server
@pytest.mark.parametrize("lang,term", [("en", "BPF_HASH"), ("zh", "跟踪点")])
def test_the_site_works_opened_from_files(tab, site, lang, term):
    """site/index.html opened as a file (file://): a link leads to a page, not to a folder's listing, and search
    finds the term's pages, in the reader's language (each language's index is a script beside it)."""
    home = (site / url_of("README.md", lang)).as_uri()
    page = tab.goto(home)
    lesson = LESSONS[1]
    page.click(f'.md-content a[href$="{url_of(lesson, "en")}"] >> nth=0')   # the home's table of lessons
    page.wait_for_url((site / url_of(lesson, lang)).as_uri())
    assert h1(page) == title_of(markdown_of(lesson, lang)), "a link leads to the page"
    assert page.locator(".md-content a[href$='/']").count() == 0, "no link to a folder (a listing, from files)"
    page = tab.goto(home)
    total, found, marks = search(page, term)
    assert total > 0 and all(f.startswith("zh/") == (lang == "zh") for f in found)
    minimum = next(m for t, _, m in SEARCHES if t == term)
    assert minimum <= set(found) and term in marks
    assert not tab.problems


# ---------------------------------------------------------------- code, figures, titles, fonts
def test_the_c_program_is_highlighted_as_c(tab, server):
    """A lesson's C program, a string in its script, shows as C (C's types and functions), not as one string; the
    block still holds the whole script (test_page)."""
    src = f"lessons/{lesson_dirs()[1]}/README.md"   # lesson 001: its C program in a one-line string
    page = tab.goto(server + url_of(src, "en"))
    script = scripts(src)[0]
    code = page.locator(f"#script-{script.stem} ~ div .highlight code").first
    assert code.locator("span.kt").count() > 0, "C types (int, void) marked as types"
    strings = [s.inner_text() for s in code.locator("span.s, span.s2, span.s1, span.sd").all()]
    assert not any("bpf_trace_printk" in s and "{" in s for s in strings), "the C program is not one string"


def test_a_transcript_is_copied_without_prompts_and_output(tab, server):
    """A block of "$ command" lines and their output: highlighted as a shell session, and its copy button copies
    the commands only."""
    src = next(s for s in LESSONS if any(l.startswith("$ ") for l in markdown_of(s, "en").split("\n")))
    page = tab.goto(server + url_of(src, "en"))
    block = page.locator(".language-console").first
    assert block.locator(".gp").count() > 0, "the prompts are marked"
    commands = [l[2:] for l in block.inner_text().split("\n") if l.startswith("$ ")]
    copied = block.locator("code").evaluate("""c => { c.setAttribute('data-md-copying', '');
        const t = c.innerText; c.removeAttribute('data-md-copying'); return t.trimEnd(); }""")
    assert copied.split("\n") == commands


def test_a_chinese_page_shows_the_chinese_figures(site):
    """Every image of a Chinese page (X.zh.md) is the Chinese figure (img/N.zh.svg) where there is one, in the
    source and on the site, and every figure on the site is a link to itself (a click shows it whole)."""
    zh_sources = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("**/*.zh.md")
                        if not {".venv", "site", "results"} & set(p.relative_to(ROOT).parts))
    checked = 0
    for src in zh_sources:
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (ROOT / src).read_text(encoding="utf-8")):
            path = (ROOT / src).parent / unquote(target)
            zh = path.with_name(path.name[:-len(".svg")] + ".zh.svg")
            if path.suffix == ".svg" and not path.name.endswith(".zh.svg"):
                assert not zh.exists(), f"{src}: {target} where {zh.name} exists"
            checked += 1
    assert checked, "no figures on the Chinese pages"
    for html_file in html_pages(site):
        text = html_file.read_text(encoding="utf-8")
        for a, img in re.findall(r'(<a [^>]*>)?<img [^>]*src="([^"]+\.svg)"', text):
            if "/img/" in img or img.startswith("img/"):
                assert f'href="{img}"' in a, f"{html_file.relative_to(site)}: {img} is not a link to itself"
            if html_file.relative_to(site).parts[0] == "zh" and (site / "img").is_dir():
                name = Path(img).name
                if not name.endswith(".zh.svg"):
                    assert not (ROOT / "img" / name.replace(".svg", ".zh.svg")).exists(), f"{html_file}: {img}"


def test_figures_are_readable_at_the_sites_width(tab, server):
    """The smallest text of each figure is at least 12 px as the page shows it (desktop)."""
    for src in ("notes/output-paths.md", "notes/helpers.md"):
        for lang in LANGS:
            page = tab.goto(server + url_of(src, lang))
            for img in page.locator(".md-content img[src$='.svg']").all():
                name = img.get_attribute("src").rsplit("/", 1)[-1]
                svg = (ROOT / "img" / name).read_text(encoding="utf-8")
                view_width = float(re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+)', svg)[1])
                sizes = [float(x) for x in re.findall(r"font(?:-size)?:\s*(?:\d{3}\s+)?([\d.]+)px", svg)]
                m = re.search(r"<!-- smallest text: ([\d.]+) -->", svg)   # text drawn as paths says its size
                sizes += [float(m[1])] if m else []
                assert sizes, f"{name}: no font size"
                shown = img.evaluate("i => i.getBoundingClientRect().width") * min(sizes) / view_width
                assert shown >= 12, f"{src} ({lang}): {name}: text {shown:.1f} px"
    assert not tab.problems


def test_titles_source_lines_and_fonts(tab, server):
    """The Chinese home's title is the site's name once; each page says which file it is made from; the stylesheet
    names Chinese fonts in its fallbacks."""
    page = tab.goto(server + url_of("README.md", "zh"))
    assert page.title() == title_of(markdown_of("README.md", "zh"))
    for src, lang in (("notes/maps.md", "en"), ("notes/maps.md", "zh"), (LESSONS[0], "zh")):
        page = tab.goto(server + url_of(src, lang))
        source = src if lang == "en" else src[:-3] + ".zh.md"
        assert page.locator(".page-source code").inner_text() == source
        assert (ROOT / source).is_file()
    font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK SC" in font and "Microsoft YaHei" in font
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
    for lang, term, name in (("zh", "跟踪点", "search-zh.png"), ("en", "trace_pipe", "search-en.png")):
        t = Watched(browser, viewport=DESKTOP)
        try:
            page = t.goto(server + url_of("README.md", lang))
            search(page, term)
            page.locator(".md-search__scrollwrap").evaluate("e => e.scrollTop = 0")
            page.screenshot(path=str(RESULTS / name))
            assert not t.problems
        finally:
            t.context.close()
    t = Watched(browser, viewport=DESKTOP)   # a figure of a Chinese note, as the page shows it
    try:
        page = t.goto(server + url_of("notes/output-paths.md", "zh"))
        page.locator(".md-content img[src$='.svg']").first.screenshot(path=str(RESULTS / "figure-zh.png"))
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
        exercise = site / prefix / "lessons" / first / "exercises/01-try.html"
        assert f">{title}<" in exercise.read_text(encoding="utf-8")
        # from the lesson, "next" leads through its own pages (this one among them) to the next lesson
        chain, page = [], site / prefix / "lessons" / first / "index.html"
        while len(chain) < 10 and page.parent.name != second:
            nxt = re.search(r'<a href="([^"]*)" class="md-footer__link md-footer__link--next"',
                            page.read_text(encoding="utf-8"))
            assert nxt, f"{page}: no next page"
            page = (page.parent / nxt[1]).resolve()
            chain.append(page)
        assert page.parent.name == second and exercise.resolve() in chain
