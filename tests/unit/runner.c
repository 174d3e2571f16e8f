/* Runs every registered unit test (or those whose name contains argv[1]) and prints a summary. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static struct test_case *tests_head, **tests_tail = &tests_head;
static int current_failures;
static const char *current_skip; /* why the running test was skipped, or NULL */

void test_register(struct test_case *tc)
{
    *tests_tail = tc;
    tests_tail = &tc->next;
}

void test_skip(const char *why)
{
    current_skip = why;
}

bool test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    current_failures++;
    return false;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;

    for (struct test_case *tc = tests_head; tc; tc = tc->next) {
        if (filter && !strstr(tc->name, filter))
            continue;
        current_failures = 0;
        current_skip = NULL;
        tc->fn();
        if (current_skip && !current_failures) {
            printf("skip %s (%s)\n", tc->name, current_skip);
            skipped++;
        } else if (current_failures) {
            printf("FAIL %s (%s)\n", tc->name, tc->file);
            failed++;
        } else {
            printf("ok   %s\n", tc->name);
            passed++;
        }
        fflush(stdout);
    }
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
