/* Hostname matching and exportTo visibility: the tables of docs/semantics.md "Hostnames"
 * and 3.1.5. */
#include "harness.h"
#include "model/host.h"

TEST(matches_and_subset_table) {
  static const struct {
    const char *a, *b;
    bool matches, subset;
  } rows[] = {
      {"foo.com", "foo.com", true, true},
      {"foo.com", "bar.com", false, false},
      {"*.com", "foo.com", true, false},
      {"foo.com", "*.com", true, true},
      {"*.foo.com", "foo.com", false, false},
      {"foo.com", "*.foo.com", false, false},
      {"*", "foo.com", true, false},
      {"foo.com", "*", true, true},
      {"*.bar.foo.com", "*.foo.com", true, true},
      {"*.foo.com", "*.bar.foo.com", true, false},
      {"*", "*.com", true, false},
      {"*.com", "*", true, true},
      {"barfoo.com", "*foo.com", true, true},
      {"*", "*", true, true},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    sc_str_t a = sc_str(rows[i].a), b = sc_str(rows[i].b);
    if (sc__host_matches(a, b) != rows[i].matches)
      SC__FAIL("Matches(%s, %s) should be %d", rows[i].a, rows[i].b, rows[i].matches);
    if (sc__host_subset_of(a, b) != rows[i].subset)
      SC__FAIL("SubsetOf(%s, %s) should be %d", rows[i].a, rows[i].b, rows[i].subset);
    /* Matches is symmetric. */
    ASSERT_EQ_INT(sc__host_matches(b, a), rows[i].matches);
  }
}

TEST(specificity_order) {
  ASSERT(sc__host_cmp_specificity(sc_str("a.com"), sc_str("*.a.com")) < 0);
  ASSERT(sc__host_cmp_specificity(sc_str("*.b.a.com"), sc_str("*.a.com")) < 0);
  ASSERT(sc__host_cmp_specificity(sc_str("*.a.com"), sc_str("*")) < 0);
  ASSERT(sc__host_cmp_specificity(sc_str("abc.com"), sc_str("abd.com")) < 0);
  ASSERT_EQ_INT(sc__host_cmp_specificity(sc_str("x.com"), sc_str("x.com")), 0);
}

TEST(most_specific_over_index) {
  const sc_str_t keys[] = {sc_str("*.example.com"), sc_str("*.api.example.com")};
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("v1.api.example.com"), keys, 2), 1);
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("www.example.com"), keys, 2), 0);
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("*.api.example.com"), keys, 2), 1);
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("*.x.api.example.com"), keys, 2), 1);
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("example.com"), keys, 2), -1);
  /* An exact key wins over wildcards, and never matches a wildcard needle. */
  const sc_str_t mixed[] = {sc_str("*"), sc_str("a.example.com"), sc_str("*.example.com")};
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("a.example.com"), mixed, 3), 1);
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("b.example.com"), mixed, 3), 2);
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("other.org"), mixed, 3), 0);
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("*.a.example.com"), mixed, 3), 2);
  const sc_str_t exact_only[] = {sc_str("a.example.com")};
  ASSERT_EQ_INT(sc__host_most_specific(sc_str("*.example.com"), exact_only, 1), -1);
}

static bool visible(const char *const *values, size_t n, const char *owner, const char *ns) {
  sc_str_t items[8];
  for (size_t i = 0; i < n; i++)
    items[i] = sc_str(values[i]);
  sc_strlist_t e = {(uint32_t)n, items};
  return sc__host_export_visible(&e, sc_str(owner), sc_str(ns));
}

TEST(service_visibility_table) {
  static const struct {
    const char *e[3];
    size_t n;
    bool a, b, c;
  } rows[] = {
      {{"*"}, 1, true, true, true},       {{"."}, 1, true, false, false},
      {{"~"}, 1, false, false, false},    {{"b"}, 1, false, true, false},
      {{".", "b"}, 2, true, true, false}, {{"a", "b"}, 2, true, true, false},
      {{"*", "~"}, 2, true, true, true},  {{"b", "c"}, 2, false, true, true},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    ASSERT_EQ_INT(visible(rows[i].e, rows[i].n, "a", "a"), rows[i].a);
    ASSERT_EQ_INT(visible(rows[i].e, rows[i].n, "a", "b"), rows[i].b);
    ASSERT_EQ_INT(visible(rows[i].e, rows[i].n, "a", "c"), rows[i].c);
  }
}

TEST_LIST = {TEST_ENTRY(matches_and_subset_table), TEST_ENTRY(specificity_order),
             TEST_ENTRY(most_specific_over_index), TEST_ENTRY(service_visibility_table),
             TEST_LIST_END};
