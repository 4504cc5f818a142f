#!/usr/bin/env python3
# %% [markdown]
# # Lesson 011 — USDT: static probes that a program carries — 第 011 课：USDT——程序自带的静态跟踪点
#
# A program marks places in its code with `<sys/sdt.h>`: a nop, and a note in its ELF file. bcc reads the note and
# puts a uprobe there. The lesson's own [demo.c](demo.c) fires `lesson:tick(n, word)` once a second and, only while
# someone traces it, `lesson:report(text)` (a probe with a semaphore, [report.c](report.c)).
# Run it: `sudo python3 lessons/011_usdt/usdt.py` (it builds the demo and starts it), or `--pid PID` for a process
# that runs already, or `--path FILE` for every process of a program.
#
# 程序用 `<sys/sdt.h>` 在代码里做标记：一条 nop 指令，外加 ELF 文件里的一条 note。bcc 读出 note，在那里放一个
# uprobe。本课自带的 [demo.c](demo.c) 每秒触发一次 `lesson:tick(n, word)`；只有在有人跟踪时，才触发
# `lesson:report(text)`（带信号量的探针，见 [report.c](report.c)）。
# 运行：`sudo python3 lessons/011_usdt/usdt.py`（它会编译并启动 demo），或者用 `--pid PID` 指定一个正在运行的进程，
# 或者用 `--path FILE` 跟踪某个程序的所有进程。

# %%
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF, USDT

# %% [markdown]
# ## The program — 程序
# `bpf_usdt_readarg(n, ctx, &var)` reads the probe's n-th argument from where the note says it is (a register, or
# the stack). A string argument is an address in the traced process: `bpf_probe_read_user_str` copies it;
# `bpf_usdt_readarg_p` copies a fixed number of bytes, for a buffer whose size you know.
#
# `bpf_usdt_readarg(n, ctx, &var)` 从 note 指明的位置（某个寄存器，或栈上）读出探针的第 n 个参数。字符串参数是被跟踪
# 进程里的一个地址：用 `bpf_probe_read_user_str` 复制；`bpf_usdt_readarg_p` 复制固定的字节数，适合大小已知的缓冲区。

# %%
program = r"""
#define TEXT_LEN 64
struct event_t {
    u32 pid;
    s32 n;                      // lesson:tick's first argument
    s32 len;                    // what the copy of the text returned: its length with the NUL, 0, or an error
    char probe;                 // 't': lesson:tick, 'r': lesson:report
    char text[TEXT_LEN];        // tick's word, or report's text
};
BPF_PERF_OUTPUT(events);

int on_tick(struct pt_regs *ctx) {
    struct event_t e = {.probe = 't'};
    u64 word = 0;
    e.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_usdt_readarg(1, ctx, &e.n);           // int n
    bpf_usdt_readarg(2, ctx, &word);          // const char *word: an address in the traced process
    e.len = bpf_probe_read_user_str(e.text, sizeof(e.text), (void *)word);
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}

#ifdef WITH_REPORT                   // only with a pid: bcc 0.31 builds readarg_p from the enabled probe's code
int on_report(struct pt_regs *ctx) {
    struct event_t e = {.probe = 'r'};
    e.pid = bpf_get_current_pid_tgid() >> 32;
    e.len = bpf_usdt_readarg_p(1, ctx, e.text, sizeof(e.text));   // char text[64] in report.c: 0 or an error
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}
#endif
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "5"]

# %% [markdown]
# ## Find the probes, enable them, load — 找到探针，启用，加载
# `USDT(pid=...)` reads the notes of every file that process maps; `USDT(path=...)` those of one file, for every
# process that runs it. `enable_probe` names the probe and the function it runs. lesson:report has a semaphore, which
# bcc raises in the process's memory: for that it needs a pid. `BPF(..., usdt_contexts=[u])` adds the code that reads
# the arguments and attaches a uprobe at each probe's address.
#
# `USDT(pid=...)` 读取该进程映射的每个文件的 note；`USDT(path=...)` 只读一个文件的，跟踪运行它的所有进程。
# `enable_probe` 指定探针和它要运行的函数。lesson:report 带信号量，bcc 要在进程内存里把它加一：所以需要 pid。
# `BPF(..., usdt_contexts=[u])` 加上读取参数的代码，并在每个探针的地址上附加一个 uprobe。

# %%
parser = plumbing.parser("Print the USDT probes lesson:tick and lesson:report of a process (default: the demo).",
                         probes=None)
where = parser.add_mutually_exclusive_group()
where.add_argument("--pid", type=plumbing.process_id, help="a running process (default: start the demo)")
where.add_argument("--path", metavar="FILE", help="every process that runs this program (no lesson:report)")
args = plumbing.parse(parser, NOTEBOOK_ARGS)
if not (args.pid or args.path):
    demo = plumbing.build("demo.c", "report.c")        # compiled with cc once, into a cache
    args.pid = plumbing.start(demo).pid
    print("started %s (built from demo.c, report.c): pid %d" % (demo, args.pid))
u = USDT(pid=args.pid) if args.pid else USDT(path=args.path)
u.enable_probe(probe="lesson:tick", fn_name="on_tick")
if args.pid:
    u.enable_probe(probe="lesson:report", fn_name="on_report")
for p in u.enumerate_probes():
    print("probe %s:%s, semaphore at %#x" % (plumbing.printable(p.provider), plumbing.printable(p.name), p.semaphore))
b = BPF(text=program, usdt_contexts=[u], cflags=["-DWITH_REPORT"] if args.pid else [])

# %% [markdown]
# ## Print — 打印
# N is tick's first argument; TEXT is tick's word or report's text, escaped, "..." when cut.
#
# N 是 tick 的第一个参数；TEXT 是 tick 的 word 或 report 的 text，已转义，被截断时以 "..." 结尾。

# %%
def print_event(cpu, data, size):
    e = b["events"].event(data)
    tick = e.probe == b"t"
    plumbing.show("%-7d %-7s %-6s %s" % (e.pid, "tick" if tick else "report", e.n if tick else "-",
                                        plumbing.string(e.text, e.len, 64)))


b["events"].open_perf_buffer(print_event, page_cnt=64, lost_cb=plumbing.lost)
what = "lesson:tick%s in %s" % (", lesson:report" if args.pid else "", "pid %d" % args.pid if args.pid else args.path)
plumbing.run(b, args, what, lambda: b.perf_buffer_poll(timeout=100),
             header="%-7s %-7s %-6s %s" % ("PID", "PROBE", "N", "TEXT"))
del u   # bcc lowers the semaphore it raised (when Python exits, or now: a notebook's kernel lives on)
