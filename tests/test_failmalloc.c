/* Out-of-memory paths: make the Nth allocation fail, for every N, while parsing a
 * manifest into a store, and check that nothing crashes or leaks (under ASan/LSan) and
 * that the store stays consistent. In the manner of nghttp2's failmalloc test. */
#include "harness.h"
#include "store/array.h"
#include "store/mem.h"
#include "scopecast/store.h"

static long fail_countdown = -1; /* < 0: never fail */
static long allocations;

static bool should_fail(void) {
  allocations++;
  if (fail_countdown < 0)
    return false;
  return fail_countdown-- == 0;
}
static void *fm_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
static void *fm_calloc(size_t c, size_t n) { return should_fail() ? NULL : calloc(c, n); }
static void *fm_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }

static const char manifest[] =
    "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default, labels: {app: r}}\n"
    "spec: {ports: [{name: http, port: 9080}], selector: {app: r}}\n"
    "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
    "metadata: {name: ext, namespace: default}\n"
    "spec: {hosts: [a.example.com, b.example.com], ports: [{number: 443, protocol: TLS, name: tls}],"
    " resolution: DNS}\n"
    "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
    "metadata: {name: reviews, namespace: default}\n"
    "spec: {hosts: [reviews], http: [{match: [{headers: {end-user: {exact: jason}}}],"
    " route: [{destination: {host: reviews, subset: v2}}]}, {route: [{destination: {host: reviews}}]}]}\n"
    "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: default}\n"
    "spec: {egress: [{hosts: [./*, istio-system/*]}]}\n";

typedef struct {
  sc_store_t *store;
  int objects, failures;
} ctx_t;

static int put_cb(void *arg, const sc_parse_item_t *item) {
  ctx_t *c = arg;
  if (item->status != SC_ITEM_OBJECT)
    return 0;
  sc_change_t ch;
  if (sc_store_put(c->store, item->obj, &ch) != 0) {
    c->failures++;
    return 0;
  }
  c->objects++;
  sc_change_release(&ch);
  return 0;
}

/* The store's views agree with each other: every object is found by key, in its
 * namespace list and in its kind list. */
static bool store_consistent(const sc_store_t *s) {
  for (int k = 0; k < SC_KIND__COUNT; k++) {
    sc_obj_list_t all = sc_store_list(s, (sc_kind_t)k);
    for (size_t i = 0; i < all.n; i++) {
      const sc_obj_t *o = all.items[i];
      if (sc_store_get(s, o->kind, o->namespace_, o->name) != o)
        return false;
      sc_obj_list_t ns = sc_store_list_namespace(s, o->kind, o->namespace_);
      bool found = false;
      for (size_t j = 0; j < ns.n; j++)
        found |= ns.items[j] == o;
      if (!found)
        return false;
    }
  }
  return true;
}

TEST(every_allocation_may_fail) {
  sc__allocator_t fm = {fm_malloc, fm_realloc, fm_calloc, free};
  sc__set_allocator(&fm);
  /* Count the allocations of one successful run. */
  fail_countdown = -1;
  allocations = 0;
  sc_store_t *s;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  ctx_t c = {s, 0, 0};
  sc_parse_opts_t po = {.source = "failmalloc"};
  ASSERT_EQ_INT(sc_parse_yaml(manifest, sizeof(manifest) - 1, &po, put_cb, &c), 0);
  ASSERT_EQ_INT(c.objects, 4);
  sc_store_del(s);
  long total = allocations;
  ASSERT(total > 20);

  int oom_seen = 0;
  for (long n = 0; n < total; n++) {
    fail_countdown = -1;
    if (sc_store_new(&s) != 0)
      continue;
    c = (ctx_t){s, 0, 0};
    fail_countdown = n;
    int rc = sc_parse_yaml(manifest, sizeof(manifest) - 1, &po, put_cb, &c);
    fail_countdown = -1;
    if (rc == SC_ENOMEM || c.failures > 0 || c.objects < 4)
      oom_seen++;
    else
      ASSERT_EQ_INT(rc, 0);
    if (!store_consistent(s)) {
      sc_store_del(s);
      sc__set_allocator(NULL);
      SC__FAIL("store inconsistent after failing allocation %ld", n);
    }
    /* Whatever made it in can be replaced and deleted again. */
    ASSERT_EQ_INT(sc_parse_yaml(manifest, sizeof(manifest) - 1, &po, put_cb, &c), 0);
    ASSERT_EQ_U64(sc_store_count(s, SC_KIND_SIDECAR), 1);
    ASSERT(store_consistent(s));
    sc_store_del(s);
  }
  sc__set_allocator(NULL);
  ASSERT(oom_seen > total / 2);
}

/* Typed arrays (store/array.h): growth keeps the items, a failed growth changes nothing,
 * and a size that would overflow is refused. */
TEST(typed_array_grows_and_fails_cleanly) {
  SC__ARRAY(uint64_t) a = {0};
  for (uint64_t i = 0; i < 1000; i++)
    ASSERT_EQ_INT(SC__ARRAY_PUSH(&a, i * 3), 0);
  ASSERT_EQ_U64(a.n, 1000);
  ASSERT(a.cap >= 1000);
  for (size_t i = 0; i < a.n; i++)
    ASSERT_EQ_U64(a.items[i], i * 3);
  ASSERT_EQ_INT(SC__ARRAY_RESERVE(&a, SIZE_MAX - 10), SC_ENOMEM);
  ASSERT_EQ_U64(a.n, 1000);

  size_t cap = a.cap;
  sc__allocator_t fm = {fm_malloc, fm_realloc, fm_calloc, free};
  sc__set_allocator(&fm);
  fail_countdown = 0;
  ASSERT_EQ_INT(SC__ARRAY_RESERVE(&a, cap), SC_ENOMEM);
  fail_countdown = -1;
  sc__set_allocator(NULL);
  ASSERT_EQ_U64(a.cap, cap);
  ASSERT_EQ_U64(a.items[999], 2997);
  SC__ARRAY_FREE(&a);
  ASSERT(a.items == NULL && a.n == 0 && a.cap == 0);
}

TEST_LIST = {TEST_ENTRY(every_allocation_may_fail), TEST_ENTRY(typed_array_grows_and_fails_cleanly),
             TEST_LIST_END};
