/* A tiny test framework: TEST(name) registers a case, CHECK* record failures, runner.c runs them.
 */
#ifndef VC_TEST_H
#define VC_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct test_case {
    const char *name;
    const char *file;
    void (*fn)(void);
    struct test_case *next;
};

void test_register(struct test_case *tc);
/* Marks the running test as skipped (why: borrowed, static): it counts as neither passed nor
 * failed. */
void test_skip(const char *why);
/* Records a failure of the running test with its location; returns false. */
bool test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TEST(name)                                                                                 \
    static void test_fn_##name(void);                                                              \
    static struct test_case test_case_##name = {#name, __FILE__, test_fn_##name, NULL};            \
    __attribute__((constructor)) static void test_reg_##name(void)                                 \
    {                                                                                              \
        test_register(&test_case_##name);                                                          \
    }                                                                                              \
    static void test_fn_##name(void)

/* Each CHECK evaluates to true when it holds, so a test can stop early: if (!CHECK(x)) return; */
#define CHECK(cond) ((cond) ? true : test_fail(__FILE__, __LINE__, "%s", #cond))
#define CHECK_INT(a, b)                                                                            \
    ({                                                                                             \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        va_ == vb_                                                                                 \
            ? true                                                                                 \
            : test_fail(__FILE__, __LINE__, "%s == %lld, want %s == %lld", #a, va_, #b, vb_);      \
    })
#define CHECK_STR(a, b)                                                                            \
    ({                                                                                             \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        (sa_ && sb_ && strcmp(sa_, sb_) == 0)                                                      \
            ? true                                                                                 \
            : test_fail(__FILE__, __LINE__, "%s == \"%s\", want \"%s\"", #a, sa_ ? sa_ : "(null)", \
                        sb_ ? sb_ : "(null)");                                                     \
    })
#define CHECK_MEM(a, b, n)                                                                         \
    (memcmp((a), (b), (n)) == 0                                                                    \
         ? true                                                                                    \
         : test_fail(__FILE__, __LINE__, "%s != %s (%zu bytes)", #a, #b, (size_t)(n)))

#endif
