#include "harness.h"

int sc_test_failed;

int main(int argc, char **argv) {
  int first = 1;
  if (sc_test_parse_args != NULL && (first = sc_test_parse_args(argc, argv)) < 0)
    return 2;
  const char *filter = first < argc ? argv[first] : NULL;
  int passed = 0, failed = 0;
  for (const sc_test_t *t = sc_tests; t->name != NULL; t++) {
    if (filter != NULL && strstr(t->name, filter) == NULL)
      continue;
    sc_test_failed = 0;
    t->fn();
    if (sc_test_failed) {
      fprintf(stderr, "FAIL %s\n", t->name);
      failed++;
    } else {
      printf("ok   %s\n", t->name);
      passed++;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
