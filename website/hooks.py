"""mkdocs hook: the website is built from the repository's own Markdown where it is; no text is copied.

mkdocs reads pages from one docs_dir and refuses the folder of mkdocs.yml itself, so at every build this hook:

1. links each page (PAGES) into a temporary folder outside the repository, removed when the build ends (inside it,
   tests/test_docs.py and anything else that walks the repository would meet every note twice), in the repository's
   layout: lessons/001_hello/README.md is served at lessons/001_hello/ and its twin README.zh.md at
   zh/lessons/001_hello/ (mkdocs-static-i18n);
2. fails the build when a page has no twin in the other language (except ENGLISH_ONLY);
3. builds the navigation: home, then the lessons (000, 001, ...) in order (any other page in a lesson folder, such as
   exercises, comes right after its lesson), notes, reference;
4. appends each lesson's script, read from the file at build time, to its lesson page (a script that only another
   page of the lesson folder links, such as an exercise's starter, to that page);
5. makes the notes' relative links work on the site: a folder → its README (or a page made here for a folder
   without one, showing its files), a file shown on a page (a lesson script, a demo) → that place on the page,
   the same page in the other language → that page's URL, any other file (a figure, scripts/setup.sh) → the file,
   copied into the site as it is;
6. shows the site better than Markdown alone can: a fence without a language gets one (a transcript with "$ "
   prompts: console, whose prompts and output the copy button leaves out; commands: bash), the C program in a
   Python string is highlighted as C, each figure links to itself (and on /zh/ is the Chinese one, X.zh.svg, where
   there is one), and each page says which file of the repository it is made from;
7. makes the site work opened from files (file://, no server): Material's offline plugin (mkdocs.yml) turns the
   folder URLs into .html ones and search into a script; here each language's index gets its script too, and the
   Chinese query is cut into the index's own words (jieba's, at build time) before it is searched.
"""
import html
import io
import json
import logging
import os
import posixpath
import re
import shutil
import tempfile
import tokenize
from pathlib import Path
from urllib.parse import unquote

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority, get_plugin_logger
from mkdocs.structure.files import File, InclusionLevel
from mkdocs.utils import get_relative_url

log = get_plugin_logger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["*.md", "lessons/[0-9][0-9][0-9]_*/**/*.md", "notes/*.md", "docs/*.md", "bench/*.md"]
# Pages that exist in English only: /zh/ shows them in English, under a note saying so. Every other page must have
# its twin (X.md and X.zh.md), or the build fails.
ENGLISH_ONLY = {}   # page -> why it has no Chinese twin (none today: every page has one)
HOME_ZH_HEADING = "## 中文说明"   # while there is no README.zh.md, the Chinese home is made from this section
CODE = {".py": "python", ".c": "c", ".h": "c", ".sh": "bash", ".txt": "text", ".json": "json", ".yml": "yaml"}
# A page's weight in search (Material: 1 by default). The glossary names every term once, in a table: the notes that
# explain a term come first (trace_pipe: notes/output-paths, then the glossary).
SEARCH_BOOST = {"notes/glossary.md": 0.3}
IMAGES = {".svg", ".png", ".jpg", ".jpeg", ".gif"}
SHELL_COMMANDS = {"sudo", "make", "python3", ".venv/bin/python", "cd", "git", "apt", "apt-get", "bash", "ls", "cat"}
ASSETS = ROOT / "website" / "assets"   # the site's own CSS and scripts (mkdocs.yml: extra_css, extra.polyfills)
LINK = re.compile(r"\[(?P<text>[^\]\n]*)\]\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
FIGURE = re.compile(r"(?<!\[)!\[[^\]\n]*\]\((?P<target>[^)\s]+)\)(?!\]\()")   # an image not already in a link
T = {  # the few words the hook writes itself
    "en": {"script": "The whole script", "read": "Read from `{path}` when this site was built.", "download": "Download",
           "folder": "The files in `{path}`, as they are in the repository.",
           "english_only": "This page is in English only.", "permalink": "Permanent link",
           "source": "Made from <code>{path}</code> in the repository."},
    "zh": {"script": "完整脚本", "read": "构建本站时读取自 `{path}`。", "download": "下载",
           "folder": "仓库中 `{path}` 里的文件，原样列出。",
           "english_only": "本页暂时只有英文版。", "permalink": "永久链接",
           "source": "本页由仓库中的 <code>{path}</code> 生成。"},
}

try:   # the search plugin segments Chinese with jieba, which logs four lines to stderr on every build
    import jieba
    jieba.setLogLevel(logging.WARNING)
except ImportError:
    pass

state = {}   # what on_config found, for the later events (both languages are built in this one process)


def lang_of(path):
    return "zh" if path.endswith(".zh.md") else "en"


def twin(path):
    return path[:-6] + ".md" if path.endswith(".zh.md") else path[:-3] + ".zh.md"


def norm(path):
    """The page's path without its language suffix: README.zh.md -> README.md."""
    return path[:-6] + ".md" if path.endswith(".zh.md") else path


def lesson_scripts(lesson_dir):
    """A lesson's own scripts: its *.py, except lesson.py, private _*.py and links to shared code (plumbing.py)."""
    return sorted(p for p in lesson_dir.glob("*.py")
                  if p.name != "lesson.py" and not p.name.startswith("_") and not p.is_symlink())


def anchor_for(path):
    return "file-" + re.sub(r"[^a-z0-9]+", "-", Path(path).name.lower()).strip("-")


def fence_language(body):
    """The language of a fence that names none, from its lines: a transcript ("$ " prompts) is console (pygments:
    the prompts and the output are marked, website/assets/site.css keeps them out of a copy), commands are bash,
    anything else (output, a listing) is text."""
    lines = [line.strip() for line in body if line.strip()]
    if any(line.startswith("$ ") for line in lines):
        return "console"
    if lines and lines[0].split()[0] in SHELL_COMMANDS:
        return "bash"
    return "text"


def rewrite(markdown, fn):
    """Apply fn to each link of the text, never inside fenced code (a C example may hold "]("), and keep only the
    language of a fence's info string: the notes mark examples "```python fragment" for tests/test_docs.py, which
    GitHub reads as python but pymdownx.superfences would not read as a fence at all. A fence without a language
    gets one (fence_language)."""
    out, fence, opening = [], None, None
    for line in markdown.split("\n"):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence, opening = m.group(1), len(out)
                line = re.sub(r"^(\s*(?:`{3,}|~{3,})\s*[^\s`{]+)\s+[^=`{]*$", r"\1", line)
            else:
                line = LINK.sub(fn, line)
                # a figure links to itself: a click shows it whole (a plain link: it works from files too)
                line = FIGURE.sub(r"[\g<0>](\g<target>){ .figure-link }", line)
        elif m and line.strip() == m.group(1) and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
            if out[opening].strip() == fence:   # no language: one from the block's lines
                out[opening] += fence_language(out[opening + 1:])
            fence = None
        out.append(line)
    return "\n".join(out)


def repo_target(page, target):
    """A relative link's target as a repository path and its anchor, or None (URL, anchor only, outside)."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target) or target.startswith(("#", "/")):
        return None
    path, _, anchor = target.partition("#")
    repo = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(path)))
    return None if repo.startswith("..") else (repo, anchor)


def fence_for(text, lang, title):
    """A whole file as a code block. Left out of the search index: a result would show all of it, and the notes
    that explain the file are indexed."""
    ticks = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return (f'<div markdown="1" data-search-exclude="true">\n\n{ticks} {lang} title="{title}"\n{text.rstrip()}\n'
            f'{ticks}\n\n</div>\n')


# ---------------------------------------------------------------- 1-3: pages, pairs, navigation
def on_config(config):
    pages = sorted({p.relative_to(ROOT).as_posix() for g in PAGES for p in ROOT.glob(g) if p.is_file()})
    generated = {}   # path in the docs_dir -> Markdown made here
    if "README.zh.md" not in pages:   # until the repository has a Chinese README: its Chinese section
        text = (ROOT / "README.md").read_text(encoding="utf-8")
        if HOME_ZH_HEADING not in text:
            raise PluginError(f"no README.zh.md, and README.md has no '{HOME_ZH_HEADING}' section to make one from")
        title = text.split("\n", 1)[0]
        section = text.split(HOME_ZH_HEADING, 1)[1].split("\n## ", 1)[0]
        generated["README.zh.md"] = f"{title}\n{section.rstrip()}\n"
        log.info("README.zh.md: made from README.md's Chinese section (no README.zh.md in the repository)")

    missing = [f"{p} has no {twin(p)}" for p in pages
               if twin(p) not in pages and twin(p) not in generated and norm(p) not in ENGLISH_ONLY]
    if missing:
        raise PluginError("every page needs its twin in the other language:\n  " + "\n  ".join(missing))

    # Every relative link of every page: folders, shown files and files to copy into the site.
    links = {page: {t[0] for m in LINK.finditer((ROOT / page).read_text(encoding="utf-8"))
                    if (t := repo_target(page, m["target"]))} for page in pages}
    folders, shown, assets, hosted = set(), {}, set(), {}
    for d in sorted({Path(p).parts[1] for p in pages if p.startswith("lessons/")}):
        readme = f"lessons/{d}/README.md"
        others = [p for p in pages if p.startswith(f"lessons/{d}/") and lang_of(p) == "en" and p != readme]
        for script in lesson_scripts(ROOT / "lessons" / d):
            rel = script.relative_to(ROOT).as_posix()
            linking = [p for p in others if rel in links[p]]
            host = readme if rel in links.get(readme, ()) or not linking else linking[0]
            shown[rel] = (host, "script-" + script.stem)
            hosted.setdefault(host, []).append(script)
            assets.add(rel)
    for page in pages:
        for target in links[page]:
            if (ROOT / target).is_dir() and not (ROOT / target / "README.md").is_file():
                folders.add(target)
            elif (ROOT / target).is_file() and not target.endswith(".md"):
                assets.add(target)
    for folder in sorted(folders):   # a folder without a README: a page that shows its files
        files = sorted(p for p in (ROOT / folder).iterdir() if p.is_file() and not p.name.startswith("."))
        for lang, name in (("en", "README.md"), ("zh", "README.zh.md")):
            md = [f"# {folder}/\n", T[lang]["folder"].format(path=folder + "/") + "\n"]
            for f in files:
                rel = f.relative_to(ROOT).as_posix()
                assets.add(rel)
                md.append(f"## {f.name} {{#{anchor_for(rel)}}}\n")
                if f.suffix in IMAGES:
                    md.append(f"![{f.name}]({f.name})\n")
                elif f.suffix in CODE:
                    shown[rel] = (f"{folder}/README.md", anchor_for(rel))
                    md.append(f"[{T[lang]['download']}]({f.name}){{ download }}\n")
                    md.append(fence_for(f.read_text(encoding="utf-8"), CODE[f.suffix], f.name))
                else:
                    md.append(f"[{f.name}]({f.name})\n")
            generated[f"{folder}/{name}"] = "\n".join(md)

    # The docs_dir: a link to each page, and the generated pages
    if "docs" not in state:
        state["docs"] = Path(tempfile.mkdtemp(prefix="ebpf-lessons-site-"))
    docs = state["docs"]
    shutil.rmtree(docs)
    for page in pages:
        (docs / page).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(ROOT / page, docs / page)
    for page, text in generated.items():
        (docs / page).parent.mkdir(parents=True, exist_ok=True)
        (docs / page).write_text(text, encoding="utf-8")
    config.docs_dir = str(docs)

    # Navigation: written here, so a new lesson, note or exercise page needs no edit of mkdocs.yml.
    english = [p for p in pages if lang_of(p) == "en"]
    lessons = []
    for d in sorted({Path(p).parts[1] for p in english if p.startswith("lessons/")}):
        index, extra = f"lessons/{d}/README.md", [p for p in english if p.startswith(f"lessons/{d}/")]
        extra = [p for p in extra if p != index]
        lessons.append({d.replace("_", " ", 1): [index, *extra]} if extra else index)
    notes_index = (ROOT / "notes/README.md").read_text(encoding="utf-8")
    notes = [p for p in english if p.startswith("notes/") and p != "notes/README.md"]
    linked = [repo_target("notes/README.md", m["target"]) for m in LINK.finditer(notes_index)]
    order = {}   # the notes in the order notes/README.md first links them, then the others by name
    for t in filter(None, linked):
        order.setdefault(t[0], len(order))
    notes = ["notes/README.md"] + sorted(notes, key=lambda p: (order.get(p, len(order)), p))
    reference = [p for p in english if p.startswith(("docs/", "bench/")) or ("/" not in p and p != "README.md")]
    config.nav = ["README.md", {"Lessons": lessons}, {"Notes": notes}, {"Reference": reference}]

    state.update(pages=set(pages) | set(generated), sources=set(pages), shown=shown, assets=assets, hosted=hosted)
    return config


def on_shutdown():
    if "docs" in state:
        shutil.rmtree(state.pop("docs"), ignore_errors=True)


# ---------------------------------------------------------------- 5: files the pages link to
@event_priority(-110)   # after mkdocs-static-i18n (-100), which would take hello.py's ".py" for a language suffix
def on_files(files, config):
    for rel in sorted(state["assets"]):   # INCLUDED: mkdocs leaves out hidden paths, and README.md links .ci/run
        files.append(File(rel, str(ROOT), config.site_dir, config.use_directory_urls,
                          inclusion=InclusionLevel.INCLUDED))
    for asset in sorted(ASSETS.iterdir()):   # the site's own CSS and scripts, as assets/NAME
        files.append(File(f"assets/{asset.name}", str(ASSETS.parent), config.site_dir, config.use_directory_urls,
                          inclusion=InclusionLevel.INCLUDED))
    return files


# ---------------------------------------------------------------- 4 and 5: each page's Markdown
def on_page_markdown(markdown, page, config, files):
    src = page.file.src_uri                  # lessons/001_hello/README.zh.md on /zh/
    here, lang = norm(src), lang_of(src)
    build_lang = config.theme["language"]    # the language being built, set by mkdocs-static-i18n

    def rewrite_link(m):
        t = repo_target(src, m["target"])
        if not t or m.string.startswith("{ download }", m.end()):   # a download link means the file itself
            return m[0]
        repo, anchor = t
        if (ROOT / repo).is_dir():
            repo = posixpath.join(repo, "README.md")
        elif repo in state["shown"]:
            repo, anchor = state["shown"][repo]
            if repo == here:
                return f"[{m['text']}](#{anchor})"
        elif repo.endswith(".md") and lang_of(repo) != lang and {repo, twin(repo)} <= state["pages"]:
            # A link to the other language's page ("[中文](README.zh.md)"): it is built into the other language's
            # tree, which this build's files do not hold, so link to its URL (mkdocs-static-i18n knows each page's
            # alternates). Any other link to a page lands on it in the reader's language (X.md -> X.zh.md on /zh/).
            other = files.get_file_from_path(norm(repo))
            alt = other and getattr(other, "alternates", {}).get(lang_of(repo))
            if not alt:
                log.warning(f"{src}: no page for the link to {m['target']}")
                return m[0]
            href = get_relative_url(alt.url, page.url) + (f"#{anchor}" if anchor else "")
            return f'<a href="{href}" hreflang="{lang_of(repo)}">{m["text"]}</a>'
        else:
            return m[0]
        rel = posixpath.relpath(repo, posixpath.dirname(src) or ".")
        return f"[{m['text']}]({rel}{'#' + anchor if anchor else ''}{m['title'] or ''})"

    markdown = rewrite(markdown, rewrite_link)
    if here in SEARCH_BOOST:
        page.meta["search"] = {**page.meta.get("search", {}), "boost": SEARCH_BOOST[here]}

    if here in ENGLISH_ONLY and build_lang != "en":
        title, _, rest = markdown.partition("\n")
        markdown = f'{title}\n\n!!! note "{T[build_lang]["english_only"]}"\n\n{rest}'

    for script in state["hosted"].get(here, []):   # 4: the lesson's whole script, from the file as it is now
        rel = script.relative_to(ROOT).as_posix()
        markdown += (f"\n## {T[lang]['script']}: `{script.name}` {{#script-{script.stem}}}\n\n"
                     f"{T[lang]['read'].format(path=rel)} [{T[lang]['download']}]({script.name}){{ download }}\n\n"
                     + fence_for(script.read_text(encoding="utf-8"), "python", script.name))
    if src in state["sources"]:   # which file of the repository this page is (not on the pages made here)
        markdown += (f'\n\n<p class="page-source" data-search-exclude="true">'
                     f'{T[lang]["source"].format(path=src)}</p>\n')
    return markdown


# ---------------------------------------------------------------- 6: C in Python, highlighted as C
PY_BLOCK = re.compile(r'(<div class="language-python highlight">(?:<span class="filename">[^<]*</span>)?<pre>'
                      r'<span></span><code>)(.*?)(</code></pre>)', re.S)
C_TEXT = re.compile(r"#include|\bBPF_[A-Z_]+\(|\bTRACEPOINT_PROBE\(|\bint\s+\w+\s*\([^)]*\)\s*\{")


def c_strings(code):
    """(start, end) of each Python string literal's text in code that is a C program (C_TEXT), quotes left out."""
    lines = code.splitlines(keepends=True)
    offset = [0]
    for line in lines:
        offset.append(offset[-1] + len(line))
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type != tokenize.STRING:
                continue
            m = re.match(r"[rRbBuU]*(\"\"\"|\'\'\'|\"|\')", tok.string)
            if not m or tok.string[m.end():len(tok.string) - len(m[1])] == "" or not C_TEXT.search(tok.string):
                continue
            start = offset[tok.start[0] - 1] + tok.start[1]
            end = offset[tok.end[0] - 1] + tok.end[1]
            found.append((start + m.end(), end - len(m[1])))
    except (tokenize.TokenError, IndentationError, SyntaxError):   # a fragment: left as the lexer showed it
        return []
    return found


def highlight_c_in_python(output):
    """A Python block's C program, a string literal (program = r\"\"\"...\"\"\"), highlighted as C instead of as one
    string: the block stays one block, whose copy is the whole script as it is."""
    from pygments.lexers import CLexer, PythonLexer
    from pygments.token import STANDARD_TYPES

    def lex(text, lexer):   # the spans pygments' HTML formatter writes, without the newline it adds at the end
        out = []
        for ttype, value in lexer(stripnl=False, ensurenl=False).get_tokens(text):
            while ttype not in STANDARD_TYPES:
                ttype = ttype.parent
            cls = STANDARD_TYPES[ttype]
            out.append(f'<span class="{cls}">{html.escape(value, quote=False)}</span>' if cls
                       else html.escape(value, quote=False))
        return "".join(out)

    def block(m):
        code = html.unescape(re.sub(r"<[^>]+>", "", m[2]))
        pieces, at = [], 0
        for start, end in c_strings(code):
            # the Python up to the string, its opening quote as a string, the C, then on from the closing quote
            opening = re.search(r"[rRbBuU]*(\"\"\"|\'\'\'|\"|\')$", code[at:start])
            pieces += [lex(code[at:start - len(opening[0])], PythonLexer),
                       f'<span class="s">{html.escape(opening[0])}</span>', lex(code[start:end], CLexer)]
            at = end
        if not pieces:
            return m[0]
        return m[1] + "".join(pieces) + lex(code[at:], PythonLexer) + m[3]

    return PY_BLOCK.sub(block, output)


def on_page_content(html_text, page, config, files):
    return highlight_c_in_python(html_text)


# ---------------------------------------------------------------- the language switch and search, per language
def on_page_context(context, page, config, nav):
    # mkdocs-static-i18n (priority 50, before this) points the switch at the same page in the other language, as a
    # path from the site's root, except on the two home pages, where it keeps "/" and "/zh/": a path from the root
    # there too (the theme makes it relative to the page), so the site also works below a sub-path. The switch is
    # the attribute config.extra.alternate, which the plugin sets again for every page.
    for alt in getattr(config.extra, "alternate", None) or []:
        alt["link"] = alt["link"].lstrip("/") or "."
    return context


HEAD_ALTERNATE = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')
CONFIG_BASE = re.compile(r'(<script id="__config" type="application/json">\{.*?"base": ")([^"]*)(")')


def on_post_page(output, page, config):
    # Material fetches sitemap.xml beside each <link rel="alternate" hreflang> of the head to find the same page in
    # the other language: a 404 (a console error) for every page, since those links point at pages, not at language
    # roots. The switch in the header already links to the right page, so the head links go.
    output = HEAD_ALTERNATE.sub("", output)
    # a home page's title is the site's name, once: the Chinese home is not the site's first page for the theme,
    # which writes "title - site name" there (动手学 eBPF（BCC） - 动手学 eBPF（BCC）)
    output = re.sub(r"<title>(.+?) - \1</title>", r"<title>\1</title>", output, count=1)
    lang = config.theme["language"]
    if lang != "en":   # search: the pages of /zh/ search /zh/search/search_index.json (on_post_build); the
        # theme takes "base" as the root of the search index and of the results' links (it ends with "/")
        output = CONFIG_BASE.sub(lambda m: f"{m[1]}{m[2]}/{lang}/{m[3]}", output, count=1)
        # the headings' ¶ links: their title comes from the toc extension, which has one setting for all languages
        output = output.replace(f'title="{T["en"]["permalink"]}"', f'title="{T[lang]["permalink"]}"')
    return output


@event_priority(-110)   # after mkdocs-static-i18n has written the index of both languages together
def on_post_build(config):
    i18n = config.plugins.get("i18n")
    if i18n is None or i18n.building:   # the inner build of /zh/: the index is written after it
        return
    index = Path(config.site_dir) / "search" / "search_index.json"
    data = json.loads(index.read_text(encoding="utf-8"))
    langs = [lang.locale for lang in i18n.config.languages if not lang.default]
    split = {"": [d for d in data["docs"] if not d["location"].startswith(tuple(f"{x}/" for x in langs))]}
    for lang in langs:   # /zh/'s entries, their locations from /zh/
        split[lang] = [dict(d, location=d["location"][len(lang) + 1:]) for d in data["docs"]
                       if d["location"].startswith(f"{lang}/")]
    for lang, docs in split.items():
        out = Path(config.site_dir) / lang / "search" / "search_index.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(dict(data, docs=docs), ensure_ascii=False, separators=(",", ":"))
        out.write_text(text, encoding="utf-8")
        # from files (file://) the theme reads the index from a script beside it (Material's offline plugin
        # writes it for the index of both languages: each language's own here)
        out.with_suffix(".js").write_text(f"var __index = {text}", encoding="utf-8")
        log.info(f"search index {out.relative_to(config.site_dir)}: {len(docs)} entries")
    cut_chinese_queries(Path(config.site_dir))
    if not config.site_url:   # a sitemap needs the site's address: without one it lists "None/..." (and nothing
        for name in ("sitemap.xml", "sitemap.xml.gz"):   # reads it: the head's alternate links are gone)
            (Path(config.site_dir) / name).unlink(missing_ok=True)


# ---------------------------------------------------------------- 7: Chinese queries, cut as the index was
# The theme's search worker cuts a run of Chinese in a query into the words of the index, but never tries the run's
# last character (its loop stops one short: 跟踪点 -> 跟踪, and every page with 跟踪 is found) and then finds pages with
# any of the words (内核探针 -> 内核 or 探针). The index's words are jieba's, cut at build time with
# website/jieba-terms.txt: this cuts the query into those same words, longest first from the left, and asks for all
# of them. The worker is the theme's file in site/, changed at one call: if a new theme version writes that call
# differently, the build fails here instead of searching badly.
HAN_SEGMENT_CALL = re.compile(r'(\w+)=>\[\.\.\.\w+\(\1,this\.index\.invertedIndex\)\]\.join\("\* "\)')
CUT_HAN = """/* website/hooks.py: a run of Chinese in a query -> the index's words (jieba's), all required */
function __cutHan(run, index) {
  var words = [], i = 0;
  while (i < run.length) {
    var j = run.length;
    while (j > i + 1 && !Object.prototype.hasOwnProperty.call(index, run.slice(i, j))) j--;
    words.push(run.slice(i, j));
    i = j;
  }
  return words.length === 1 ? words[0] : words.map(function (w) { return "+" + w + "*"; }).join(" ");
}
"""


def cut_chinese_queries(site_dir):
    workers = sorted((site_dir / "assets" / "javascripts" / "workers").glob("search.*.min.js"))
    if len(workers) != 1:
        raise PluginError(f"expected one search worker in site/assets/javascripts/workers/, found {len(workers)}")
    text = workers[0].read_text(encoding="utf-8")
    if "__cutHan" in text:
        return
    text, n = HAN_SEGMENT_CALL.subn(r"\1=>__cutHan(\1,this.index.invertedIndex)", text)
    if n != 1:
        raise PluginError(f"{workers[0].name}: the theme's Chinese query segmentation not found: see website/hooks.py")
    workers[0].write_text(CUT_HAN + text, encoding="utf-8")
