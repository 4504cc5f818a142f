/* Lesson 012's demo: functions with names you know, for the stacks to show.
 *
 *   demo calls N    for each line read on stdin (press Enter): main -> outer -> inner makes N getppid() system calls
 *   demo spin S     main -> outer -> spin burns CPU for S seconds
 *
 * It prints its pid first. Built by demo.py with gcc -O0 -fno-omit-frame-pointer (or -fomit-frame-pointer, to see
 * what is lost). inner() makes the system call itself: through libc's getppid(), a function with no frame of its
 * own, the kernel's frame-pointer walk would skip inner() (the walk reads return addresses from frames only). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) long inner(long n)
{
    long ret = 0;
    for (long i = 0; i < n; i++) {
#if defined(__x86_64__)
        __asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_getppid) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
        register long x8 __asm__("x8") = SYS_getppid;
        register long x0 __asm__("x0");
        __asm__ volatile("svc 0" : "=r"(x0) : "r"(x8) : "memory");
        ret = x0;
#else
        ret = syscall(SYS_getppid);
#endif
    }
    return ret;
}

__attribute__((noinline)) double spin(double seconds)
{
    struct timespec start, now;
    double x = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        for (int i = 0; i < 100000; i++)
            x += i * 0.5;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
    return x;
}

__attribute__((noinline)) long outer(int calls, double arg)
{
    return calls ? inner((long)arg) : (long)spin(arg);
}

int main(int argc, char **argv)
{
    char line[64];
    int calls = argc == 3 && argv[1][0] == 'c';
    if (argc != 3 || (!calls && argv[1][0] != 's') || atof(argv[2]) <= 0) {
        fprintf(stderr, "usage: demo calls N | demo spin SECONDS\n");
        return 2;
    }
    printf("%d\n", (int)getpid());
    fflush(stdout);
    if (!calls)
        return outer(0, atof(argv[2])) == 42;    /* the result is used: the loop is not optimised away */
    while (fgets(line, sizeof(line), stdin)) {
        outer(1, atof(argv[2]));
        printf("done\n");
        fflush(stdout);
    }
    return 0;
}
