/* report.c: the probe lesson:report, which has a semaphore: a counter in the program's memory that a tracer
 * raises when it enables the probe. The program reads it, and does the work of the probe's argument only then. */
#define _SDT_HAS_SEMAPHORES 1            /* sdt.h then writes the semaphore's address into each probe's note */
#include <stdio.h>
#include <sys/sdt.h>

unsigned short lesson_report_semaphore __attribute__((section(".probes")));   /* PROVIDER_NAME_semaphore */

int report(int n, const char *word)
{
    char text[64];

    if (!lesson_report_semaphore)
        return 0;                        /* nobody traces lesson:report: the text is not even made */
    snprintf(text, sizeof(text), "%d words so far, the last one %.20s", n, word);
    STAP_PROBE1(lesson, report, text);
    return 1;
}
