/* The Prometheus text writer (obs/metrics.c) and the HTTP address parsing (obs/http.c):
 * HELP and TYPE lines, label value and HELP escaping, value formatting, cumulative
 * histogram buckets with +Inf, _sum and _count, bad names refused, out of memory kept as
 * the writer's error; HOST:PORT and [IPV6]:PORT accepted, the rest refused with a reason. */
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "obs/http.h"
#include "store/mem.h"
#include "obs/metrics.h"
#include "scopecast/error.h"

static char *take(sc__metrics_writer_t *w) {
  size_t len = 0;
  char *s = sc__metrics_writer_take(w, &len);
  if (s != NULL && strlen(s) != len) {
    sc__free(s);
    return NULL;
  }
  return s;
}

TEST(counter_and_gauge) {
  sc__metrics_writer_t w;
  sc__metrics_writer_init(&w);
  sc__metrics_single(&w, "sc_events_total", "Events read.", SC_METRICS_COUNTER, 42);
  sc__metrics_single(&w, "sc_head", "Head \\ version\nsecond line", SC_METRICS_GAUGE, 7);
  ASSERT_EQ_INT(sc__metrics_writer_error(&w), 0);
  char *s = take(&w);
  ASSERT_EQ_STR(s, "# HELP sc_events_total Events read.\n"
                   "# TYPE sc_events_total counter\n"
                   "sc_events_total 42\n"
                   "# HELP sc_head Head \\\\ version\\nsecond line\n"
                   "# TYPE sc_head gauge\n"
                   "sc_head 7\n");
  sc__free(s);
}

TEST(labels_escaped) {
  sc__metrics_writer_t w;
  sc__metrics_writer_init(&w);
  sc__metrics_family(&w, "sc_nacks_total", "NACKs.", SC_METRICS_COUNTER);
  sc__metrics_label_t l[] = {{"scope", "ns/a\"b\\c\nd"}, {"type", "clusters"}};
  sc__metrics_sample(&w, "sc_nacks_total", l, 2, 3);
  sc__metrics_sample(&w, "sc_nacks_total", l + 1, 1, 0);
  char *s = take(&w);
  ASSERT_EQ_STR(s, "# HELP sc_nacks_total NACKs.\n"
                   "# TYPE sc_nacks_total counter\n"
                   "sc_nacks_total{scope=\"ns/a\\\"b\\\\c\\nd\",type=\"clusters\"} 3\n"
                   "sc_nacks_total{type=\"clusters\"} 0\n");
  sc__free(s);
}

TEST(values) {
  sc__metrics_writer_t w;
  sc__metrics_writer_init(&w);
  sc__metrics_family(&w, "v", "", SC_METRICS_GAUGE);
  const double vals[] = {0.1, 1e-9, -2.5, NAN, INFINITY, -INFINITY, 9007199254740991.0, 1.5e300};
  for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
    sc__metrics_sample(&w, "v", NULL, 0, vals[i]);
  char *s = take(&w);
  ASSERT_EQ_STR(s, "# HELP v \n# TYPE v gauge\nv 0.1\nv 1e-09\nv -2.5\nv NaN\nv +Inf\nv -Inf\n"
                   "v 9007199254740991\nv 1.5e+300\n");
  sc__free(s);
}

TEST(histogram_cumulative) {
  static const double bounds[] = {0.1, 1, 10};
  sc__metrics_hist_t h;
  ASSERT_EQ_INT(sc__metrics_hist_init(&h, bounds, 3), 0);
  const double obs[] = {0.05, 0.1, 0.5, 5, 50, 0.07};
  for (size_t i = 0; i < 6; i++)
    sc__metrics_hist_observe(&h, obs[i]);
  ASSERT_EQ_U64(h.count, 6);
  ASSERT_EQ_U64(h.counts[0], 3); /* 0.05, 0.1 (on the bound: le), 0.07 */
  ASSERT_EQ_U64(h.counts[3], 1); /* 50: above every bound */
  sc__metrics_writer_t w;
  sc__metrics_writer_init(&w);
  sc__metrics_family(&w, "sc_d_seconds", "Durations.", SC_METRICS_HISTOGRAM);
  sc__metrics_label_t l[] = {{"type", "routes"}};
  sc__metrics_histogram(&w, "sc_d_seconds", l, 1, &h);
  char *s = take(&w);
  ASSERT_EQ_STR(s, "# HELP sc_d_seconds Durations.\n"
                   "# TYPE sc_d_seconds histogram\n"
                   "sc_d_seconds_bucket{type=\"routes\",le=\"0.1\"} 3\n"
                   "sc_d_seconds_bucket{type=\"routes\",le=\"1\"} 4\n"
                   "sc_d_seconds_bucket{type=\"routes\",le=\"10\"} 5\n"
                   "sc_d_seconds_bucket{type=\"routes\",le=\"+Inf\"} 6\n"
                   "sc_d_seconds_sum{type=\"routes\"} 55.72\n"
                   "sc_d_seconds_count{type=\"routes\"} 6\n");
  sc__free(s);
  /* Without labels, and empty. */
  sc__metrics_hist_t e;
  ASSERT_EQ_INT(sc__metrics_hist_init(&e, sc__metrics_latency_bounds, sc__metrics_latency_nbounds), 0);
  sc__metrics_writer_init(&w);
  sc__metrics_family(&w, "e", "x", SC_METRICS_HISTOGRAM);
  sc__metrics_histogram(&w, "e", NULL, 0, &e);
  s = take(&w);
  ASSERT_CONTAINS(s, "\ne_bucket{le=\"0.0005\"} 0\n");
  ASSERT_CONTAINS(s, "\ne_bucket{le=\"60\"} 0\ne_bucket{le=\"+Inf\"} 0\ne_sum 0\ne_count 0\n");
  sc__free(s);
}

TEST(histogram_bad_bounds) {
  sc__metrics_hist_t h;
  static const double unsorted[] = {1, 0.5};
  static const double equal[] = {1, 1};
  static const double inf[] = {1, INFINITY};
  ASSERT_EQ_INT(sc__metrics_hist_init(&h, unsorted, 2), SC_EINVAL);
  ASSERT_EQ_INT(sc__metrics_hist_init(&h, equal, 2), SC_EINVAL);
  ASSERT_EQ_INT(sc__metrics_hist_init(&h, inf, 2), SC_EINVAL);
  double many[SC_METRICS_MAX_BUCKETS + 1];
  for (size_t i = 0; i <= SC_METRICS_MAX_BUCKETS; i++)
    many[i] = (double)i;
  ASSERT_EQ_INT(sc__metrics_hist_init(&h, many, SC_METRICS_MAX_BUCKETS + 1), SC_EINVAL);
  ASSERT_EQ_INT(sc__metrics_hist_init(&h, many, SC_METRICS_MAX_BUCKETS), 0);
}

/* Each bad call fails the writer; what follows is ignored and take gives NULL. */
static int fails(void (*write)(sc__metrics_writer_t *w)) {
  sc__metrics_writer_t w;
  sc__metrics_writer_init(&w);
  write(&w);
  int err = sc__metrics_writer_error(&w);
  sc__metrics_single(&w, "ok", "fine", SC_METRICS_GAUGE, 1);
  size_t len;
  char *s = sc__metrics_writer_take(&w, &len);
  if (s != NULL) {
    sc__free(s);
    return 0;
  }
  return err;
}
static void bad_metric_name(sc__metrics_writer_t *w) { sc__metrics_single(w, "9lives", "", SC_METRICS_GAUGE, 1); }
static void bad_metric_char(sc__metrics_writer_t *w) { sc__metrics_single(w, "a-b", "", SC_METRICS_GAUGE, 1); }
static void bad_label_name(sc__metrics_writer_t *w) {
  sc__metrics_family(w, "a", "", SC_METRICS_GAUGE);
  sc__metrics_label_t l = {"x:y", "v"};
  sc__metrics_sample(w, "a", &l, 1, 1);
}
static void reserved_label(sc__metrics_writer_t *w) {
  sc__metrics_family(w, "a", "", SC_METRICS_GAUGE);
  sc__metrics_label_t l = {"__name__", "v"};
  sc__metrics_sample(w, "a", &l, 1, 1);
}
static void le_in_histogram(sc__metrics_writer_t *w) {
  static const double b[] = {1};
  sc__metrics_hist_t h;
  sc__metrics_hist_init(&h, b, 1);
  sc__metrics_family(w, "a", "", SC_METRICS_HISTOGRAM);
  sc__metrics_label_t l = {"le", "1"};
  sc__metrics_histogram(w, "a", &l, 1, &h);
}
static void other_family(sc__metrics_writer_t *w) {
  sc__metrics_family(w, "a", "", SC_METRICS_GAUGE);
  sc__metrics_sample(w, "b", NULL, 0, 1);
}
static void no_family(sc__metrics_writer_t *w) { sc__metrics_sample(w, "a", NULL, 0, 1); }
static void null_value(sc__metrics_writer_t *w) {
  sc__metrics_family(w, "a", "", SC_METRICS_GAUGE);
  sc__metrics_label_t l = {"x", NULL};
  sc__metrics_sample(w, "a", &l, 1, 1);
}

TEST(bad_names_refused) {
  ASSERT_EQ_INT(fails(bad_metric_name), SC_EINVAL);
  ASSERT_EQ_INT(fails(bad_metric_char), SC_EINVAL);
  ASSERT_EQ_INT(fails(bad_label_name), SC_EINVAL);
  ASSERT_EQ_INT(fails(reserved_label), SC_EINVAL);
  ASSERT_EQ_INT(fails(le_in_histogram), SC_EINVAL);
  ASSERT_EQ_INT(fails(other_family), SC_EINVAL);
  ASSERT_EQ_INT(fails(no_family), SC_EINVAL);
  ASSERT_EQ_INT(fails(null_value), SC_EINVAL);
}

static int allocs_left;
static void *failing_realloc(void *p, size_t n) { return allocs_left-- > 0 ? realloc(p, n) : NULL; }
static void *failing_malloc(size_t n) { return allocs_left-- > 0 ? malloc(n) : NULL; }
static void *failing_calloc(size_t c, size_t n) { return allocs_left-- > 0 ? calloc(c, n) : NULL; }

TEST(out_of_memory) {
  sc__allocator_t a = {failing_malloc, failing_realloc, failing_calloc, free};
  sc__set_allocator(&a);
  int err = -1;
  char *s = (char *)1;
  for (allocs_left = 0; allocs_left < 2; allocs_left++) {
    int budget = allocs_left;
    sc__metrics_writer_t w;
    sc__metrics_writer_init(&w);
    for (int i = 0; i < 200; i++) /* far beyond the first 1 KiB and its doubling */
      sc__metrics_single(&w, "sc_some_counter_with_a_long_name_total", "help text", SC_METRICS_COUNTER, i);
    err = sc__metrics_writer_error(&w);
    size_t len;
    s = sc__metrics_writer_take(&w, &len);
    allocs_left = budget;
    if (err != SC_ENOMEM || s != NULL)
      break;
  }
  sc__set_allocator(NULL);
  ASSERT_EQ_INT(err, SC_ENOMEM);
  ASSERT(s == NULL);
}

TEST(empty_writer) {
  sc__metrics_writer_t w;
  sc__metrics_writer_init(&w);
  char *s = take(&w);
  ASSERT_EQ_STR(s, "");
  sc__free(s);
}

TEST(http_addresses) {
  struct sockaddr_storage sa;
  char err[256];
  ASSERT_EQ_INT(sc__http_parse_addr("127.0.0.1:9090", &sa, err, sizeof(err)), 0);
  ASSERT_EQ_INT(sa.ss_family, AF_INET);
  ASSERT_EQ_INT(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9090);
  ASSERT_EQ_INT(sc__http_parse_addr("[::1]:0", &sa, err, sizeof(err)), 0);
  ASSERT_EQ_INT(sa.ss_family, AF_INET6);
  ASSERT_EQ_INT(ntohs(((struct sockaddr_in6 *)&sa)->sin6_port), 0);
  ASSERT_EQ_INT(sc__http_parse_addr("::1:80", &sa, err, sizeof(err)), SC_EINVAL);
  ASSERT_CONTAINS(err, "needs brackets");
  ASSERT_EQ_INT(sc__http_parse_addr("127.0.0.1:65536", &sa, err, sizeof(err)), SC_EINVAL);
  ASSERT_CONTAINS(err, "port \"65536\" is not a number from 0 to 65535");
  ASSERT_EQ_INT(sc__http_parse_addr("127.0.0.1:-1", &sa, err, sizeof(err)), SC_EINVAL);
  ASSERT_EQ_INT(sc__http_parse_addr("127.0.0.1:", &sa, err, sizeof(err)), SC_EINVAL);
  ASSERT_EQ_INT(sc__http_parse_addr("9090", &sa, err, sizeof(err)), SC_EINVAL);
  ASSERT_CONTAINS(err, "expected HOST:PORT");
  ASSERT_EQ_INT(sc__http_parse_addr(":9090", &sa, err, sizeof(err)), SC_EINVAL);
  ASSERT_EQ_INT(sc__http_parse_addr("[::1]9090", &sa, err, sizeof(err)), SC_EINVAL);
  ASSERT_CONTAINS(err, "expected [IPV6]:PORT");
  ASSERT_EQ_INT(sc__http_parse_addr("[]:1", &sa, err, sizeof(err)), SC_EINVAL);
  ASSERT_EQ_INT(sc__http_parse_addr("[127.0.0.1]:1", &sa, err, sizeof(err)), SC_EINVAL);
  ASSERT_CONTAINS(err, "cannot resolve host");
}

TEST_LIST = {TEST_ENTRY(counter_and_gauge), TEST_ENTRY(labels_escaped), TEST_ENTRY(values),
             TEST_ENTRY(histogram_cumulative), TEST_ENTRY(histogram_bad_bounds), TEST_ENTRY(bad_names_refused),
             TEST_ENTRY(out_of_memory), TEST_ENTRY(empty_writer), TEST_ENTRY(http_addresses), TEST_LIST_END};
