/* /bin/true without libc: a 9 KB static program whose exec costs the kernel's minimum (no dynamic loader,
 * no libc start-up), so that an exec storm measures exec() and the tracing of it, not glibc. */
void _start(void) {
#if defined(__x86_64__)
    __asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");   /* exit(0) */
#elif defined(__aarch64__)
    __asm__ volatile("mov x8, #93\n\tmov x0, #0\n\tsvc #0");         /* exit(0) */
#else
#error "true.c knows x86_64 and aarch64 only"
#endif
}
