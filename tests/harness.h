/* A small test harness in the manner of libuv's task.h: typed asserts that print both
 * sides, and a registry of tests run in order by tests/harness.c's main().
 *
 *   TEST(parse_service) { ASSERT_EQ_INT(1, 1); }
 *   ... and list it in the file's TESTS table:
 *   TEST_LIST = { TEST_ENTRY(parse_service), TEST_LIST_END };
 *
 * Each test binary links harness.c; `binary [name-substring]` runs matching tests. */
#ifndef SC_TEST_HARNESS_H
#define SC_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*sc_test_fn)(void);
typedef struct {
  const char *name;
  sc_test_fn fn;
} sc_test_t;

extern const sc_test_t sc_tests[];
extern int sc_test_failed;

/* A test binary may define this to take options; it returns the index of the first
 * argument it did not consume (the name filter), or -1 for bad options. */
int sc_test_parse_args(int argc, char **argv) __attribute__((weak));

#define TEST(name) static void test_##name(void)
#define TEST_ENTRY(name) {#name, test_##name}
#define TEST_LIST const sc_test_t sc_tests[]
#define TEST_LIST_END {NULL, NULL}

#define SC__FAIL(...)                                      \
  do {                                                     \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);      \
    fprintf(stderr, __VA_ARGS__);                          \
    fprintf(stderr, "\n");                                 \
    sc_test_failed = 1;                                    \
    return;                                                \
  } while (0)

#define ASSERT(cond)                      \
  do {                                    \
    if (!(cond))                          \
      SC__FAIL("assertion failed: %s", #cond); \
  } while (0)

#define ASSERT_EQ_INT(a, b)                                                          \
  do {                                                                               \
    long long sc_a_ = (long long)(a), sc_b_ = (long long)(b);                        \
    if (sc_a_ != sc_b_)                                                              \
      SC__FAIL("%s == %s: %lld != %lld", #a, #b, sc_a_, sc_b_);                      \
  } while (0)

#define ASSERT_EQ_U64(a, b)                                                          \
  do {                                                                               \
    uint64_t sc_a_ = (uint64_t)(a), sc_b_ = (uint64_t)(b);                           \
    if (sc_a_ != sc_b_)                                                              \
      SC__FAIL("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, sc_a_, sc_b_);          \
  } while (0)

#define ASSERT_NE_U64(a, b)                                                          \
  do {                                                                               \
    uint64_t sc_a_ = (uint64_t)(a), sc_b_ = (uint64_t)(b);                           \
    if (sc_a_ == sc_b_)                                                              \
      SC__FAIL("%s != %s: both %" PRIu64, #a, #b, sc_a_);                            \
  } while (0)

#define ASSERT_EQ_STR(a, b)                                                          \
  do {                                                                               \
    const char *sc_a_ = (a), *sc_b_ = (b);                                           \
    if (sc_a_ == NULL || sc_b_ == NULL || strcmp(sc_a_, sc_b_) != 0)                 \
      SC__FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, sc_a_ ? sc_a_ : "(null)",      \
               sc_b_ ? sc_b_ : "(null)");                                            \
  } while (0)

/* haystack contains needle */
#define ASSERT_CONTAINS(haystack, needle)                                            \
  do {                                                                               \
    const char *sc_h_ = (haystack), *sc_n_ = (needle);                               \
    if (sc_h_ == NULL || strstr(sc_h_, sc_n_) == NULL)                               \
      SC__FAIL("\"%s\" does not contain \"%s\"", sc_h_ ? sc_h_ : "(null)", sc_n_);  \
  } while (0)

#endif
