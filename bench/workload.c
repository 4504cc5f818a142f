/* The benchmark's workload: one system call, N times, as fast as C makes it, timed from inside.
 *
 *     workload getpid N            N getpid() system calls (syscall(2): no libc cache)
 *     workload openat N FILE       N open(FILE) + close: N openat() system calls
 *     workload exec N PROGRAM      N posix_spawn(PROGRAM) + waitpid: N execve() calls, each in a new child
 *
 * It waits for one byte on stdin before it starts, so that the tracer can be told its pid first, and
 * prints the loop's duration in nanoseconds. Built static by bench.py: no dynamic loader, so the process
 * makes no openat() of its own before the loop.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    char go;
    long n = argc >= 3 ? atol(argv[2]) : 0;
    if (n <= 0 || (strcmp(argv[1], "getpid") && argc != 4)) {
        fprintf(stderr, "usage: workload getpid N | openat N FILE | exec N PROGRAM\n");
        return 2;
    }
    if (read(0, &go, 1) != 1)   /* the tracer is ready (or gone: then do nothing) */
        return 2;
    long long start = now_ns();
    if (!strcmp(argv[1], "getpid")) {
        for (long i = 0; i < n; i++)
            syscall(SYS_getpid);
    } else if (!strcmp(argv[1], "openat")) {
        for (long i = 0; i < n; i++) {
            int fd = open(argv[3], O_RDONLY);
            if (fd < 0)
                return 3;
            close(fd);
        }
    } else if (!strcmp(argv[1], "exec")) {
        char *child_argv[] = {argv[3], NULL};
        for (long i = 0; i < n; i++) {
            pid_t pid;
            int status;
            if (posix_spawn(&pid, argv[3], NULL, NULL, child_argv, environ) != 0)
                return 4;
            waitpid(pid, &status, 0);
        }
    } else {
        return 2;
    }
    printf("%lld\n", now_ns() - start);
    return 0;
}
