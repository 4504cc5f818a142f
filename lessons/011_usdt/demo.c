/* demo.c: a program with USDT probes, for lesson 011 (usdt.py builds it with report.c, and starts it).
 *   demo [WORD [MS]]   fires lesson:tick(n, WORD) every MS milliseconds (default: hello, 1000), n = 1, 2, 3, ...
 *   demo WORD 0        fires it for each line it reads instead, the line as the word, until the input ends
 * After each tick it prints a line and calls report() (report.c), which fires lesson:report only when traced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sdt.h>                     /* Debian: systemtap-sdt-dev */

int report(int n, const char *word);    /* report.c */

int main(int argc, char **argv)
{
    const char *word = argc > 1 ? argv[1] : "hello";
    int ms = argc > 2 ? atoi(argv[2]) : 1000;
    char line[256];

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int n = 1;; n++) {
        if (ms > 0) {
            usleep(ms * 1000);
        } else {
            if (!fgets(line, sizeof(line), stdin))
                return 0;
            line[strcspn(line, "\n")] = '\0';
            word = line;
        }
        STAP_PROBE2(lesson, tick, n, word);   /* a nop here, and a note in the ELF file: where, and the arguments */
        printf("tick %d %s: lesson:report %s\n", n, word, report(n, word) ? "traced" : "not traced");
    }
}
