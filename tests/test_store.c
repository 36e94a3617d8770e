/* The in-memory config store: put/get/delete with change records, no-op detection by
 * spec hash, and the indexes by kind, namespace and hostname. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "scopecast/store.h"

#define J(...) #__VA_ARGS__

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct {
  sc_obj_t *objs[8];
  sc_event_type_t events[8];
  size_t n;
  size_t other; /* REJECTED or SKIPPED items, or objects beyond 8 */
  char first_diag[512];
} one_t;

static int one_cb(void *arg, const sc_parse_item_t *it) {
  one_t *o = arg;
  if (it->status == SC_ITEM_OBJECT && o->n < 8) {
    o->events[o->n] = it->event;
    o->objs[o->n++] = it->obj;
    return 0;
  }
  if (it->status == SC_ITEM_OBJECT)
    sc_obj_unref(it->obj);
  if (o->other++ == 0 && it->diag != NULL)
    sc_diag_format(it->diag, o->first_diag, sizeof(o->first_diag));
  return 0;
}

/* Parses YAML holding exactly one object; NULL (after printing why) otherwise. */
static sc_obj_t *parse_one(const char *yaml) {
  one_t o = {0};
  sc_parse_opts_t opts = {.source = "test"};
  int rc = sc_parse_yaml(yaml, strlen(yaml), &opts, one_cb, &o);
  if (rc == 0 && o.n == 1 && o.other == 0)
    return o.objs[0];
  fprintf(stderr, "  parse_one: rc=%d objects=%zu other=%zu %s\n", rc, o.n, o.other,
          o.first_diag);
  for (size_t i = 0; i < o.n; i++)
    sc_obj_unref(o.objs[i]);
  return NULL;
}

static sc_obj_t *parse_onef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static sc_obj_t *parse_onef(const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return parse_one(buf);
}

static sc_obj_t *service(const char *ns, const char *name, unsigned port) {
  return parse_onef("apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s}\n"
                    "spec: {ports: [{name: http, port: %u}]}\n",
                    name, ns, port);
}

static bool list_has(sc_obj_list_t l, const sc_obj_t *obj) {
  for (size_t i = 0; i < l.n; i++)
    if (l.items[i] == obj)
      return true;
  return false;
}

static size_t list_count(sc_obj_list_t l, const sc_obj_t *obj) {
  size_t n = 0;
  for (size_t i = 0; i < l.n; i++)
    n += l.items[i] == obj;
  return n;
}

/* The hostnames an object is indexed under (store.h: Service FQDN, SE hosts, VS hosts,
 * DR host). */
static size_t hosts_of(const sc_obj_t *o, sc_str_t *out, size_t max) {
  size_t n = 0;
  switch (o->kind) {
  case SC_KIND_SERVICE:
    out[n++] = o->u.service.hostname;
    break;
  case SC_KIND_SERVICE_ENTRY:
    for (uint32_t i = 0; i < o->u.service_entry.hosts.n && n < max; i++)
      out[n++] = o->u.service_entry.hosts.items[i];
    break;
  case SC_KIND_VIRTUAL_SERVICE:
    for (uint32_t i = 0; i < o->u.virtual_service.hosts.n && n < max; i++)
      out[n++] = o->u.virtual_service.hosts.items[i];
    break;
  case SC_KIND_DESTINATION_RULE:
    out[n++] = o->u.destination_rule.host;
    break;
  default:
    break;
  }
  return n;
}

/* Every index agrees with every other for one kind: each listed object can be found by
 * key, in its namespace's list exactly once and under each of its hostnames exactly once,
 * and the namespace lists add up to the count. */
static void check_consistency(const sc_store_t *s, sc_kind_t kind) {
  sc_obj_list_t all = sc_store_list(s, kind);
  ASSERT_EQ_INT(all.n, sc_store_count(s, kind));
  size_t ns_total = 0;
  for (size_t i = 0; i < all.n; i++) {
    const sc_obj_t *o = all.items[i];
    ASSERT(o != NULL);
    ASSERT_EQ_INT(o->kind, kind);
    ASSERT(sc_store_get(s, kind, o->namespace_, o->name) == o);
    ASSERT_EQ_INT(list_count(all, o), 1);
    sc_obj_list_t nl = sc_store_list_namespace(s, kind, o->namespace_);
    ASSERT_EQ_INT(list_count(nl, o), 1);
    for (size_t k = 0; k < nl.n; k++)
      ASSERT(sc_str_eq(nl.items[k]->namespace_, o->namespace_));
    /* Count each namespace list once: at its first object in the kind list. */
    bool first = true;
    for (size_t j = 0; j < i && first; j++)
      first = !sc_str_eq(all.items[j]->namespace_, o->namespace_);
    if (first)
      ns_total += nl.n;
    sc_str_t hosts[16];
    size_t nh = hosts_of(o, hosts, 16);
    for (size_t h = 0; h < nh; h++) {
      sc_obj_list_t hl = sc_store_list_hostname(s, kind, hosts[h]);
      ASSERT_EQ_INT(list_count(hl, o), 1);
    }
  }
  ASSERT_EQ_INT(ns_total, all.n);
}

static int put(sc_store_t *s, sc_obj_t *obj, sc_change_op_t want) {
  sc_change_t ch;
  int rc = sc_store_put(s, obj, &ch);
  sc_change_op_t op = ch.op;
  sc_change_release(&ch);
  if (rc != 0)
    return rc;
  return op == want ? 0 : -1;
}

static int del(sc_store_t *s, sc_kind_t kind, const char *ns, const char *name,
               sc_change_op_t want) {
  sc_change_t ch;
  int rc = sc_store_delete(s, kind, sc_str(ns), sc_str(name), &ch);
  sc_change_op_t op = ch.op;
  sc_change_release(&ch);
  if (rc != 0)
    return rc;
  return op == want ? 0 : -1;
}

static sc_obj_t *service_entry(const char *ns, const char *name, const char *hosts) {
  return parse_onef("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
                    "metadata: {name: %s, namespace: %s}\n"
                    "spec:\n  hosts: %s\n  ports: [{number: 443, name: tls, protocol: TLS}]\n"
                    "  resolution: DNS\n",
                    name, ns, hosts);
}

/* ---- put / get / delete ------------------------------------------------------------------ */

TEST(store_new_is_empty) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  ASSERT(s != NULL);
  for (int k = 0; k < SC_KIND__COUNT; k++) {
    ASSERT_EQ_INT(sc_store_count(s, (sc_kind_t)k), 0);
    ASSERT_EQ_INT(sc_store_list(s, (sc_kind_t)k).n, 0);
    ASSERT_EQ_INT(sc_store_list_namespace(s, (sc_kind_t)k, sc_str("default")).n, 0);
  }
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("default"), sc_str("x")) == NULL);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("x.default.svc.cluster.local")).n,
                0);
  sc_store_del(s);
  sc_store_del(NULL); /* a no-op */
}

TEST(store_put_new_is_added) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  sc_obj_t *a = service("prod", "reviews", 9080);
  ASSERT(a != NULL);
  sc_change_t ch;
  ASSERT_EQ_INT(sc_store_put(s, a, &ch), 0);
  ASSERT_EQ_INT(ch.op, SC_CHANGE_ADDED);
  ASSERT(ch.new_obj == a);
  ASSERT(ch.old_obj == NULL);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews")) == a);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), 1);
  ASSERT(list_has(sc_store_list(s, SC_KIND_SERVICE), a));
  ASSERT(list_has(sc_store_list_namespace(s, SC_KIND_SERVICE, sc_str("prod")), a));
  ASSERT(list_has(
      sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.prod.svc.cluster.local")), a));
  /* The change holds its own reference: releasing it leaves the stored object intact. */
  sc_change_release(&ch);
  ASSERT(ch.new_obj == NULL && ch.old_obj == NULL);
  const sc_obj_t *got = sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews"));
  ASSERT(got == a);
  ASSERT_EQ_INT(got->u.service.ports[0].port, 9080);
  /* Other keys are not found. */
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("review")) == NULL);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("pro"), sc_str("reviews")) == NULL);
  ASSERT(sc_store_get(s, SC_KIND_VIRTUAL_SERVICE, sc_str("prod"), sc_str("reviews")) == NULL);
  check_consistency(s, SC_KIND_SERVICE);
  sc_store_del(s);
}

TEST(store_put_identical_is_noop) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  sc_obj_t *a = service("prod", "reviews", 9080);
  ASSERT(a != NULL);
  ASSERT_EQ_INT(put(s, a, SC_CHANGE_ADDED), 0);
  /* Parsed again from the same text: a different object with the same spec hash. */
  sc_obj_t *b = service("prod", "reviews", 9080);
  ASSERT(b != NULL && b != a);
  ASSERT_EQ_U64(a->spec_hash, b->spec_hash);
  sc_change_t ch;
  ASSERT_EQ_INT(sc_store_put(s, b, &ch), 0); /* takes (and here drops) b's reference */
  ASSERT_EQ_INT(ch.op, SC_CHANGE_NOOP);
  ASSERT(ch.old_obj == NULL);
  ASSERT(ch.new_obj == NULL);
  sc_change_release(&ch);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews")) == a);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), 1);
  /* Written differently (flow style, other key order, ignored metadata): still a no-op. */
  sc_obj_t *c = parse_one("kind: Service\n"
                          "spec:\n  ports:\n  - port: 9080\n    name: http\n"
                          "metadata:\n  namespace: prod\n  name: reviews\n"
                          "  resourceVersion: \"999\"\n  uid: abc\n"
                          "apiVersion: v1\n");
  ASSERT(c != NULL);
  ASSERT_EQ_INT(sc_store_put(s, c, &ch), 0);
  ASSERT_EQ_INT(ch.op, SC_CHANGE_NOOP);
  sc_change_release(&ch);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews")) == a);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.prod.svc.cluster.local")).n,
                1);
  check_consistency(s, SC_KIND_SERVICE);
  sc_store_del(s);
}

TEST(store_put_changed_is_updated) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  sc_obj_t *a = service("prod", "reviews", 9080);
  sc_obj_t *other = service("prod", "ratings", 9080);
  ASSERT(a != NULL && other != NULL);
  ASSERT_EQ_INT(put(s, a, SC_CHANGE_ADDED), 0);
  ASSERT_EQ_INT(put(s, other, SC_CHANGE_ADDED), 0);
  sc_obj_t *b = service("prod", "reviews", 9081);
  ASSERT(b != NULL);
  ASSERT_NE_U64(a->spec_hash, b->spec_hash);
  sc_change_t ch;
  ASSERT_EQ_INT(sc_store_put(s, b, &ch), 0);
  ASSERT_EQ_INT(ch.op, SC_CHANGE_UPDATED);
  ASSERT(ch.old_obj == a);
  ASSERT(ch.new_obj == b);
  /* The store now holds the new version everywhere. */
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews")) == b);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), 2);
  sc_obj_list_t nl = sc_store_list_namespace(s, SC_KIND_SERVICE, sc_str("prod"));
  ASSERT_EQ_INT(nl.n, 2);
  ASSERT(list_has(nl, b));
  ASSERT(!list_has(nl, a));
  ASSERT(list_has(sc_store_list(s, SC_KIND_SERVICE), b));
  ASSERT(!list_has(sc_store_list(s, SC_KIND_SERVICE), a));
  sc_obj_list_t hl =
      sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.prod.svc.cluster.local"));
  ASSERT_EQ_INT(hl.n, 1);
  ASSERT(hl.items[0] == b);
  /* The old version stays readable for as long as the change holds it. */
  ASSERT_EQ_INT(ch.old_obj->u.service.ports[0].port, 9080);
  ASSERT_EQ_INT(ch.new_obj->u.service.ports[0].port, 9081);
  sc_change_release(&ch);
  ASSERT(ch.old_obj == NULL && ch.new_obj == NULL);
  ASSERT_EQ_INT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews"))
                    ->u.service.ports[0]
                    .port,
                9081);
  /* Back to the first content: an update again, not a no-op (compared with what is stored). */
  sc_obj_t *c = service("prod", "reviews", 9080);
  ASSERT(c != NULL);
  ASSERT_EQ_INT(put(s, c, SC_CHANGE_UPDATED), 0);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews")) == c);
  check_consistency(s, SC_KIND_SERVICE);
  sc_store_del(s);
}

TEST(store_change_keeps_object_alive_after_store_del) {
  /* A change's references are independent of the store. */
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  sc_obj_t *a = service("prod", "reviews", 9080);
  ASSERT(a != NULL);
  sc_change_t added;
  ASSERT_EQ_INT(sc_store_put(s, a, &added), 0);
  sc_change_t deleted;
  ASSERT_EQ_INT(sc_store_delete(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews"), &deleted),
                0);
  ASSERT_EQ_INT(deleted.op, SC_CHANGE_DELETED);
  sc_store_del(s);
  /* Both changes still name the object; it is freed with the last release. */
  ASSERT(added.new_obj == a && deleted.old_obj == a);
  ASSERT_EQ_STR(deleted.old_obj->u.service.hostname.ptr, "reviews.prod.svc.cluster.local");
  sc_change_release(&added);
  ASSERT_EQ_STR(deleted.old_obj->name.ptr, "reviews");
  sc_change_release(&deleted);
  sc_change_release(&deleted); /* releasing twice is harmless */
}

TEST(store_delete) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  sc_obj_t *a = service("prod", "reviews", 9080);
  sc_obj_t *b = service("prod", "ratings", 9080);
  ASSERT(a != NULL && b != NULL);
  ASSERT_EQ_INT(put(s, a, SC_CHANGE_ADDED), 0);
  ASSERT_EQ_INT(put(s, b, SC_CHANGE_ADDED), 0);
  sc_change_t ch;
  ASSERT_EQ_INT(sc_store_delete(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews"), &ch), 0);
  ASSERT_EQ_INT(ch.op, SC_CHANGE_DELETED);
  ASSERT(ch.old_obj == a);
  ASSERT(ch.new_obj == NULL);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews")) == NULL);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), 1);
  sc_obj_list_t nl = sc_store_list_namespace(s, SC_KIND_SERVICE, sc_str("prod"));
  ASSERT_EQ_INT(nl.n, 1);
  ASSERT(nl.items[0] == b);
  ASSERT_EQ_INT(
      sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.prod.svc.cluster.local")).n, 0);
  ASSERT_EQ_INT(ch.old_obj->u.service.ports[0].port, 9080); /* still valid in the change */
  sc_change_release(&ch);
  /* Deleting the last one empties the namespace. */
  ASSERT_EQ_INT(del(s, SC_KIND_SERVICE, "prod", "ratings", SC_CHANGE_DELETED), 0);
  ASSERT_EQ_INT(sc_store_list_namespace(s, SC_KIND_SERVICE, sc_str("prod")).n, 0);
  ASSERT_EQ_INT(sc_store_list(s, SC_KIND_SERVICE).n, 0);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), 0);
  /* A deleted key can be added again. */
  sc_obj_t *c = service("prod", "reviews", 9080);
  ASSERT(c != NULL);
  ASSERT_EQ_INT(put(s, c, SC_CHANGE_ADDED), 0);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews")) == c);
  check_consistency(s, SC_KIND_SERVICE);
  sc_store_del(s);
}

TEST(store_delete_unknown_is_noop) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  sc_change_t ch;
  /* Empty store. */
  ASSERT_EQ_INT(sc_store_delete(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("x"), &ch), 0);
  ASSERT_EQ_INT(ch.op, SC_CHANGE_NOOP);
  ASSERT(ch.old_obj == NULL && ch.new_obj == NULL);
  sc_change_release(&ch);
  sc_obj_t *a = service("prod", "reviews", 9080);
  ASSERT(a != NULL);
  ASSERT_EQ_INT(put(s, a, SC_CHANGE_ADDED), 0);
  /* Same name, other namespace; same key, other kind; other name. */
  ASSERT_EQ_INT(del(s, SC_KIND_SERVICE, "default", "reviews", SC_CHANGE_NOOP), 0);
  ASSERT_EQ_INT(del(s, SC_KIND_VIRTUAL_SERVICE, "prod", "reviews", SC_CHANGE_NOOP), 0);
  ASSERT_EQ_INT(del(s, SC_KIND_SERVICE, "prod", "reviews2", SC_CHANGE_NOOP), 0);
  ASSERT_EQ_INT(del(s, SC_KIND_SERVICE, "prod", "", SC_CHANGE_NOOP), 0);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews")) == a);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), 1);
  /* Deleting twice: the second is a no-op. */
  ASSERT_EQ_INT(del(s, SC_KIND_SERVICE, "prod", "reviews", SC_CHANGE_DELETED), 0);
  ASSERT_EQ_INT(sc_store_delete(s, SC_KIND_SERVICE, sc_str("prod"), sc_str("reviews"), &ch), 0);
  ASSERT_EQ_INT(ch.op, SC_CHANGE_NOOP);
  ASSERT(ch.old_obj == NULL);
  sc_change_release(&ch);
  sc_store_del(s);
}

TEST(store_kinds_and_namespaces_are_separate) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  /* One name in several kinds and namespaces. */
  sc_obj_t *svc = service("a", "web", 80);
  sc_obj_t *svc_b = service("b", "web", 80);
  sc_obj_t *vs = parse_one("apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                           "metadata: {name: web, namespace: a}\n"
                           "spec: {hosts: [web], http: [{route: [{destination: {host: web}}]}]}\n");
  sc_obj_t *dr = parse_one("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
                           "metadata: {name: web, namespace: a}\nspec: {host: web}\n");
  sc_obj_t *ns = parse_one("apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n");
  sc_obj_t *ns_a = parse_one("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
  sc_obj_t *sc = parse_one("apiVersion: networking.istio.io/v1\nkind: Sidecar\n"
                           "metadata: {name: web, namespace: a}\n"
                           "spec: {egress: [{hosts: [\"./*\"]}]}\n");
  sc_obj_t *pod = parse_one("apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a}\n");
  sc_obj_t *es = parse_one("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
                           "metadata: {name: web, namespace: a}\naddressType: IPv4\n");
  sc_obj_t *se = service_entry("a", "web", "[web.example.com]");
  ASSERT(svc && svc_b && vs && dr && ns && ns_a && sc && pod && es && se);
  sc_obj_t *all[] = {svc, svc_b, vs, dr, ns, ns_a, sc, pod, es, se};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    ASSERT_EQ_INT(put(s, all[i], SC_CHANGE_ADDED), 0);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("a"), sc_str("web")) == svc);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("b"), sc_str("web")) == svc_b);
  ASSERT(sc_store_get(s, SC_KIND_VIRTUAL_SERVICE, sc_str("a"), sc_str("web")) == vs);
  ASSERT(sc_store_get(s, SC_KIND_DESTINATION_RULE, sc_str("a"), sc_str("web")) == dr);
  ASSERT(sc_store_get(s, SC_KIND_SIDECAR, sc_str("a"), sc_str("web")) == sc);
  ASSERT(sc_store_get(s, SC_KIND_POD, sc_str("a"), sc_str("web")) == pod);
  ASSERT(sc_store_get(s, SC_KIND_ENDPOINT_SLICE, sc_str("a"), sc_str("web")) == es);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE_ENTRY, sc_str("a"), sc_str("web")) == se);
  /* Namespaces are cluster-scoped: their namespace is "". */
  ASSERT(sc_store_get(s, SC_KIND_NAMESPACE, sc_str(""), sc_str("web")) == ns);
  ASSERT(sc_store_get(s, SC_KIND_NAMESPACE, sc_str("a"), sc_str("web")) == NULL);
  ASSERT_EQ_INT(sc_store_list_namespace(s, SC_KIND_NAMESPACE, sc_str("")).n, 2);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_NAMESPACE), 2);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), 2);
  for (int k = 0; k < SC_KIND__COUNT; k++) {
    if (k == SC_KIND_NAMESPACE || k == SC_KIND_MESH_CONFIG)
      continue;
    sc_obj_list_t l = sc_store_list_namespace(s, (sc_kind_t)k, sc_str("a"));
    ASSERT_EQ_INT(l.n, 1);
    ASSERT_EQ_INT(l.items[0]->kind, k);
    ASSERT_EQ_INT(sc_store_list(s, (sc_kind_t)k).n, k == SC_KIND_SERVICE ? 2 : 1);
    check_consistency(s, (sc_kind_t)k);
  }
  ASSERT_EQ_INT(sc_store_list_namespace(s, SC_KIND_SERVICE, sc_str("b")).n, 1);
  ASSERT_EQ_INT(sc_store_list_namespace(s, SC_KIND_VIRTUAL_SERVICE, sc_str("b")).n, 0);
  /* Deleting one kind leaves the others. */
  ASSERT_EQ_INT(del(s, SC_KIND_SERVICE, "a", "web", SC_CHANGE_DELETED), 0);
  ASSERT(sc_store_get(s, SC_KIND_VIRTUAL_SERVICE, sc_str("a"), sc_str("web")) == vs);
  ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str("b"), sc_str("web")) == svc_b);
  ASSERT_EQ_INT(sc_store_list_namespace(s, SC_KIND_SERVICE, sc_str("a")).n, 0);
  ASSERT_EQ_INT(sc_store_list_namespace(s, SC_KIND_SIDECAR, sc_str("a")).n, 1);
  check_consistency(s, SC_KIND_SERVICE);
  sc_store_del(s);
}

/* ---- the hostname index ------------------------------------------------------------------ */

TEST(store_hostname_index_service) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  sc_obj_t *a = service("prod", "reviews", 9080);
  sc_obj_t *b = service("test", "reviews", 9080);
  ASSERT(a && b);
  ASSERT_EQ_INT(put(s, a, SC_CHANGE_ADDED), 0);
  ASSERT_EQ_INT(put(s, b, SC_CHANGE_ADDED), 0);
  sc_obj_list_t l =
      sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.prod.svc.cluster.local"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == a);
  l = sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.test.svc.cluster.local"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == b);
  /* Not under the short name, a prefix, or another kind. */
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews")).n, 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.prod")).n, 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.prod.svc.cluster.loca")).n,
                0);
  ASSERT_EQ_INT(
      sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("reviews.prod.svc.cluster.local")).n,
      0);
  ASSERT_EQ_INT(del(s, SC_KIND_SERVICE, "prod", "reviews", SC_CHANGE_DELETED), 0);
  ASSERT_EQ_INT(
      sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.prod.svc.cluster.local")).n, 0);
  ASSERT_EQ_INT(
      sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str("reviews.test.svc.cluster.local")).n, 1);
  sc_store_del(s);
}

TEST(store_hostname_index_service_entry) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  sc_obj_t *a = service_entry("ns1", "ext", "[a.example.com, \"*.b.example.com\"]");
  sc_obj_t *b = service_entry("ns2", "ext", "[a.example.com]");
  /* A host listed twice in one ServiceEntry is indexed once. */
  sc_obj_t *c = service_entry("ns3", "dup", "[c.example.com, c.example.com]");
  ASSERT(a && b && c);
  ASSERT_EQ_INT(put(s, a, SC_CHANGE_ADDED), 0);
  ASSERT_EQ_INT(put(s, b, SC_CHANGE_ADDED), 0);
  ASSERT_EQ_INT(put(s, c, SC_CHANGE_ADDED), 0);
  sc_obj_list_t l = sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("a.example.com"));
  ASSERT_EQ_INT(l.n, 2);
  ASSERT(list_has(l, a) && list_has(l, b));
  l = sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("*.b.example.com"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == a);
  /* The index is by exact hostname: no wildcard matching here. */
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("x.b.example.com")).n, 0);
  l = sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("c.example.com"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == c);
  check_consistency(s, SC_KIND_SERVICE_ENTRY);

  /* Update a: drop a.example.com and *.b, add d.example.com. */
  sc_obj_t *a2 = service_entry("ns1", "ext", "[d.example.com]");
  ASSERT(a2 != NULL);
  ASSERT_EQ_INT(put(s, a2, SC_CHANGE_UPDATED), 0);
  l = sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("a.example.com"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == b);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("*.b.example.com")).n, 0);
  l = sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("d.example.com"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == a2);
  check_consistency(s, SC_KIND_SERVICE_ENTRY);

  /* Update b keeping its host: still listed once, as the new object. */
  sc_obj_t *b2 = parse_onef("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
                            "metadata: {name: ext, namespace: ns2}\n"
                            "spec: {hosts: [a.example.com], location: MESH_INTERNAL}\n");
  ASSERT(b2 != NULL);
  ASSERT_EQ_INT(put(s, b2, SC_CHANGE_UPDATED), 0);
  l = sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("a.example.com"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == b2);

  /* Deletes empty the hostname lists. */
  ASSERT_EQ_INT(del(s, SC_KIND_SERVICE_ENTRY, "ns2", "ext", SC_CHANGE_DELETED), 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("a.example.com")).n, 0);
  ASSERT_EQ_INT(del(s, SC_KIND_SERVICE_ENTRY, "ns3", "dup", SC_CHANGE_DELETED), 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("c.example.com")).n, 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE_ENTRY, sc_str("d.example.com")).n, 1);
  check_consistency(s, SC_KIND_SERVICE_ENTRY);
  sc_store_del(s);
}

static sc_obj_t *virtual_service(const char *ns, const char *name, const char *hosts) {
  return parse_onef("apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                    "metadata: {name: %s, namespace: %s}\n"
                    "spec:\n  hosts: %s\n  http: [{route: [{destination: {host: reviews}}]}]\n",
                    name, ns, hosts);
}

static sc_obj_t *destination_rule(const char *ns, const char *name, const char *host) {
  return parse_onef("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
                    "metadata: {name: %s, namespace: %s}\nspec: {host: \"%s\"}\n",
                    name, ns, host);
}

TEST(store_hostname_index_virtual_service_and_destination_rule) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  /* Short names are indexed resolved with the object's namespace. */
  sc_obj_t *vs = virtual_service("prod", "r", "[reviews, \"*.example.com\", ratings.other]");
  sc_obj_t *dr1 = destination_rule("prod", "r", "reviews");
  sc_obj_t *dr2 = destination_rule("other", "r", "reviews.prod.svc.cluster.local");
  sc_obj_t *dr3 = destination_rule("prod", "wild", "*.example.com");
  ASSERT(vs && dr1 && dr2 && dr3);
  ASSERT_EQ_INT(put(s, vs, SC_CHANGE_ADDED), 0);
  ASSERT_EQ_INT(put(s, dr1, SC_CHANGE_ADDED), 0);
  ASSERT_EQ_INT(put(s, dr2, SC_CHANGE_ADDED), 0);
  ASSERT_EQ_INT(put(s, dr3, SC_CHANGE_ADDED), 0);
  sc_str_t fqdn = sc_str("reviews.prod.svc.cluster.local");
  sc_obj_list_t l = sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, fqdn);
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == vs);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, sc_str("reviews")).n, 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, sc_str("*.example.com")).n, 1);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, sc_str("ratings.other")).n, 1);
  l = sc_store_list_hostname(s, SC_KIND_DESTINATION_RULE, fqdn);
  ASSERT_EQ_INT(l.n, 2);
  ASSERT(list_has(l, dr1) && list_has(l, dr2));
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_DESTINATION_RULE, sc_str("reviews")).n, 0);
  l = sc_store_list_hostname(s, SC_KIND_DESTINATION_RULE, sc_str("*.example.com"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == dr3);
  check_consistency(s, SC_KIND_VIRTUAL_SERVICE);
  check_consistency(s, SC_KIND_DESTINATION_RULE);

  /* Change the VS hosts. */
  sc_obj_t *vs2 = virtual_service("prod", "r", "[details]");
  ASSERT(vs2 != NULL);
  ASSERT_EQ_INT(put(s, vs2, SC_CHANGE_UPDATED), 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, fqdn).n, 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, sc_str("*.example.com")).n, 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, sc_str("ratings.other")).n, 0);
  l = sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, sc_str("details.prod.svc.cluster.local"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == vs2);
  /* Move dr1 to another host. */
  sc_obj_t *dr1b = destination_rule("prod", "r", "ratings");
  ASSERT(dr1b != NULL);
  ASSERT_EQ_INT(put(s, dr1b, SC_CHANGE_UPDATED), 0);
  l = sc_store_list_hostname(s, SC_KIND_DESTINATION_RULE, fqdn);
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == dr2);
  l = sc_store_list_hostname(s, SC_KIND_DESTINATION_RULE, sc_str("ratings.prod.svc.cluster.local"));
  ASSERT_EQ_INT(l.n, 1);
  ASSERT(l.items[0] == dr1b);
  check_consistency(s, SC_KIND_VIRTUAL_SERVICE);
  check_consistency(s, SC_KIND_DESTINATION_RULE);

  /* A VS without hosts (a delegate) is stored but under no hostname. */
  sc_obj_t *deleg = parse_one("apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                              "metadata: {name: child, namespace: prod}\n"
                              "spec: {http: [{route: [{destination: {host: reviews}}]}]}\n");
  ASSERT(deleg != NULL);
  ASSERT_EQ_INT(put(s, deleg, SC_CHANGE_ADDED), 0);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_VIRTUAL_SERVICE), 2);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, sc_str("")).n, 0);

  ASSERT_EQ_INT(del(s, SC_KIND_DESTINATION_RULE, "other", "r", SC_CHANGE_DELETED), 0);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_DESTINATION_RULE, fqdn).n, 0);
  ASSERT_EQ_INT(del(s, SC_KIND_VIRTUAL_SERVICE, "prod", "r", SC_CHANGE_DELETED), 0);
  ASSERT_EQ_INT(
      sc_store_list_hostname(s, SC_KIND_VIRTUAL_SERVICE, sc_str("details.prod.svc.cluster.local")).n,
      0);
  check_consistency(s, SC_KIND_VIRTUAL_SERVICE);
  check_consistency(s, SC_KIND_DESTINATION_RULE);
  sc_store_del(s);
}

/* ---- scale ------------------------------------------------------------------------------- */

#define MANY 5000
#define MANY_NS 100

static int put_cb(void *arg, const sc_parse_item_t *it) {
  sc_store_t *s = arg;
  if (it->status != SC_ITEM_OBJECT)
    return -1;
  sc_change_t ch;
  int rc = sc_store_put(s, it->obj, &ch);
  if (rc == 0 && ch.op != SC_CHANGE_ADDED)
    rc = -2;
  sc_change_release(&ch);
  return rc;
}

TEST(store_many_objects) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  /* 5,000 Services in 100 namespaces, parsed from one multi-document stream. */
  size_t cap = (size_t)MANY * 128;
  char *buf = malloc(cap);
  ASSERT(buf != NULL);
  size_t len = 0;
  for (int i = 0; i < MANY; i++)
    len += (size_t)snprintf(buf + len, cap - len,
                            "---\napiVersion: v1\nkind: Service\n"
                            "metadata: {name: svc-%04d, namespace: ns-%03d}\n"
                            "spec: {ports: [{name: http, port: 80}]}\n",
                            i, i % MANY_NS);
  ASSERT(len < cap);
  sc_parse_opts_t o = {.source = "many"};
  int rc = sc_parse_yaml(buf, len, &o, put_cb, s);
  free(buf);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), MANY);
  char ns[32], name[32], host[96];
  for (int n = 0; n < MANY_NS; n++) {
    snprintf(ns, sizeof(ns), "ns-%03d", n);
    ASSERT_EQ_INT(sc_store_list_namespace(s, SC_KIND_SERVICE, sc_str(ns)).n, MANY / MANY_NS);
  }
  check_consistency(s, SC_KIND_SERVICE);

  /* Delete half: in every namespace, every other service. */
  for (int i = 0; i < MANY; i++) {
    if ((i / MANY_NS) % 2 != 0)
      continue;
    snprintf(ns, sizeof(ns), "ns-%03d", i % MANY_NS);
    snprintf(name, sizeof(name), "svc-%04d", i);
    ASSERT_EQ_INT(del(s, SC_KIND_SERVICE, ns, name, SC_CHANGE_DELETED), 0);
  }
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), MANY / 2);
  ASSERT_EQ_INT(sc_store_list(s, SC_KIND_SERVICE).n, MANY / 2);
  for (int n = 0; n < MANY_NS; n++) {
    snprintf(ns, sizeof(ns), "ns-%03d", n);
    sc_obj_list_t l = sc_store_list_namespace(s, SC_KIND_SERVICE, sc_str(ns));
    ASSERT_EQ_INT(l.n, MANY / MANY_NS / 2);
    for (size_t k = 0; k < l.n; k++) {
      int idx = atoi(l.items[k]->name.ptr + 4);
      ASSERT_EQ_INT(idx % MANY_NS, n);
      ASSERT_EQ_INT((idx / MANY_NS) % 2, 1);
    }
  }
  for (int i = 0; i < MANY; i++) {
    snprintf(ns, sizeof(ns), "ns-%03d", i % MANY_NS);
    snprintf(name, sizeof(name), "svc-%04d", i);
    snprintf(host, sizeof(host), "%s.%s.svc.cluster.local", name, ns);
    bool kept = (i / MANY_NS) % 2 != 0;
    const sc_obj_t *g = sc_store_get(s, SC_KIND_SERVICE, sc_str(ns), sc_str(name));
    ASSERT(kept ? g != NULL : g == NULL);
    ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str(host)).n, kept ? 1 : 0);
  }
  check_consistency(s, SC_KIND_SERVICE);

  /* Update every 10th survivor, no-op every 7th; indexes follow. */
  for (int i = 0; i < MANY; i++) {
    if ((i / MANY_NS) % 2 == 0)
      continue;
    snprintf(ns, sizeof(ns), "ns-%03d", i % MANY_NS);
    snprintf(name, sizeof(name), "svc-%04d", i);
    if (i % 10 == 1) {
      sc_obj_t *u = service(ns, name, 8080);
      ASSERT(u != NULL);
      ASSERT_EQ_INT(put(s, u, SC_CHANGE_UPDATED), 0);
      ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str(ns), sc_str(name)) == u);
    } else if (i % 7 == 0) {
      sc_obj_t *same = service(ns, name, 80);
      ASSERT(same != NULL);
      const sc_obj_t *before = sc_store_get(s, SC_KIND_SERVICE, sc_str(ns), sc_str(name));
      ASSERT_EQ_INT(put(s, same, SC_CHANGE_NOOP), 0);
      ASSERT(sc_store_get(s, SC_KIND_SERVICE, sc_str(ns), sc_str(name)) == before);
    }
  }
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), MANY / 2);
  check_consistency(s, SC_KIND_SERVICE);

  /* Delete the rest, in reverse order. */
  for (int i = MANY - 1; i >= 0; i--) {
    snprintf(ns, sizeof(ns), "ns-%03d", i % MANY_NS);
    snprintf(name, sizeof(name), "svc-%04d", i);
    bool kept = (i / MANY_NS) % 2 != 0;
    ASSERT_EQ_INT(del(s, SC_KIND_SERVICE, ns, name, kept ? SC_CHANGE_DELETED : SC_CHANGE_NOOP), 0);
  }
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SERVICE), 0);
  ASSERT_EQ_INT(sc_store_list(s, SC_KIND_SERVICE).n, 0);
  for (int n = 0; n < MANY_NS; n++) {
    snprintf(ns, sizeof(ns), "ns-%03d", n);
    ASSERT_EQ_INT(sc_store_list_namespace(s, SC_KIND_SERVICE, sc_str(ns)).n, 0);
  }
  snprintf(host, sizeof(host), "svc-0101.ns-001.svc.cluster.local");
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_SERVICE, sc_str(host)).n, 0);
  sc_store_del(s);
}

TEST(store_many_shared_hostnames) {
  /* Many objects under one hostname, removed in an interleaved order. */
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  enum { N = 300 };
  char ns[32];
  for (int i = 0; i < N; i++) {
    snprintf(ns, sizeof(ns), "team-%03d", i);
    sc_obj_t *dr = destination_rule(ns, "shared", "api.example.com");
    ASSERT(dr != NULL);
    ASSERT_EQ_INT(put(s, dr, SC_CHANGE_ADDED), 0);
  }
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_DESTINATION_RULE, sc_str("api.example.com")).n, N);
  for (int i = 0; i < N; i += 3) {
    snprintf(ns, sizeof(ns), "team-%03d", i);
    ASSERT_EQ_INT(del(s, SC_KIND_DESTINATION_RULE, ns, "shared", SC_CHANGE_DELETED), 0);
  }
  for (int i = 1; i < N; i += 3) {
    snprintf(ns, sizeof(ns), "team-%03d", i);
    sc_obj_t *dr = destination_rule(ns, "shared", "other.example.com");
    ASSERT(dr != NULL);
    ASSERT_EQ_INT(put(s, dr, SC_CHANGE_UPDATED), 0);
  }
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_DESTINATION_RULE, sc_str("api.example.com")).n,
                N / 3);
  ASSERT_EQ_INT(sc_store_list_hostname(s, SC_KIND_DESTINATION_RULE, sc_str("other.example.com")).n,
                N / 3);
  check_consistency(s, SC_KIND_DESTINATION_RULE);
  sc_store_del(s);
}

/* ---- mesh config ------------------------------------------------------------------------- */

TEST(store_mesh_config) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  const sc_mesh_config_t *m = sc_store_mesh(s);
  ASSERT(m != NULL);
  ASSERT(m == sc_mesh_config_defaults());
  ASSERT_EQ_STR(m->root_namespace.ptr, "istio-system");
  ASSERT_EQ_INT(m->outbound_mode, SC_OUTBOUND_ALLOW_ANY);
  ASSERT_EQ_INT(m->connect_timeout, 10000000000LL);
  ASSERT(m->enable_auto_mtls);

  /* Objects of other kinds do not make a mesh config. */
  sc_obj_t *svc = service("istio-system", "istio", 80);
  ASSERT(svc != NULL);
  ASSERT_EQ_INT(put(s, svc, SC_CHANGE_ADDED), 0);
  ASSERT(sc_store_mesh(s) == sc_mesh_config_defaults());

  /* From a MeshConfig document. */
  const char *doc = "rootNamespace: mesh-root\noutboundTrafficPolicy: {mode: REGISTRY_ONLY}\n";
  sc_parse_opts_t o = {.source = "mesh.yaml"};
  sc_obj_t *mc = NULL;
  sc_diag_t diag;
  ASSERT_EQ_INT(sc_parse_mesh_config(doc, strlen(doc), &o, &mc, &diag), 0);
  ASSERT(mc != NULL);
  ASSERT_EQ_INT(put(s, mc, SC_CHANGE_ADDED), 0);
  m = sc_store_mesh(s);
  ASSERT(m == &mc->u.mesh);
  ASSERT_EQ_STR(m->root_namespace.ptr, "mesh-root");
  ASSERT_EQ_INT(m->outbound_mode, SC_OUTBOUND_REGISTRY_ONLY);
  ASSERT_EQ_INT(m->connect_timeout, 10000000000LL);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_MESH_CONFIG), 1);

  /* The istio ConfigMap has the same key: it replaces the document's config. */
  sc_obj_t *cm = parse_one("apiVersion: v1\nkind: ConfigMap\n"
                           "metadata: {name: istio, namespace: istio-system}\n"
                           "data:\n  mesh: |\n    rootNamespace: cm-root\n"
                           "    connectTimeout: 3s\n");
  ASSERT(cm != NULL);
  ASSERT_EQ_INT(cm->kind, SC_KIND_MESH_CONFIG);
  ASSERT_EQ_INT(put(s, cm, SC_CHANGE_UPDATED), 0);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_MESH_CONFIG), 1);
  m = sc_store_mesh(s);
  ASSERT_EQ_STR(m->root_namespace.ptr, "cm-root");
  ASSERT_EQ_INT(m->connect_timeout, 3000000000LL);
  ASSERT_EQ_INT(m->outbound_mode, SC_OUTBOUND_ALLOW_ANY);

  /* The same content again is a no-op. */
  sc_obj_t *cm2 = parse_one("apiVersion: v1\nkind: ConfigMap\n"
                            "metadata: {name: istio, namespace: istio-system}\n"
                            "data:\n  mesh: |\n    connectTimeout: 3s\n"
                            "    rootNamespace: cm-root\n");
  ASSERT(cm2 != NULL);
  ASSERT_EQ_INT(put(s, cm2, SC_CHANGE_NOOP), 0);
  ASSERT(sc_store_mesh(s) == &cm->u.mesh);

  /* Deleting it brings the defaults back. */
  ASSERT_EQ_INT(del(s, SC_KIND_MESH_CONFIG, "istio-system", "istio", SC_CHANGE_DELETED), 0);
  ASSERT(sc_store_mesh(s) == sc_mesh_config_defaults());
  ASSERT_EQ_STR(sc_store_mesh(s)->root_namespace.ptr, "istio-system");
  sc_store_del(s);
}

/* ---- watch events into the store ---------------------------------------------------------- */

static int apply_event(sc_store_t *s, const char *ev, sc_change_op_t want) {
  one_t o = {0};
  sc_parse_opts_t opts = {.source = "watch"};
  int rc = sc_parse_watch_event(ev, strlen(ev), &opts, one_cb, &o);
  if (rc != 0 || o.n != 1 || o.other != 0) {
    fprintf(stderr, "  apply_event: rc=%d n=%zu other=%zu %s\n", rc, o.n, o.other, o.first_diag);
    for (size_t i = 0; i < o.n; i++)
      sc_obj_unref(o.objs[i]);
    return -1;
  }
  sc_change_t ch;
  if (o.events[0] == SC_EVENT_DELETED) {
    rc = sc_store_delete(s, o.objs[0]->kind, o.objs[0]->namespace_, o.objs[0]->name, &ch);
    sc_obj_unref(o.objs[0]);
  } else {
    rc = sc_store_put(s, o.objs[0], &ch);
  }
  sc_change_op_t op = ch.op;
  sc_change_release(&ch);
  return rc != 0 ? rc : op == want ? 0 : -1;
}

TEST(store_watch_event_sequence) {
  sc_store_t *s = NULL;
  ASSERT_EQ_INT(sc_store_new(&s), 0);
  const char *added = J({"type" : "ADDED", "object" : {
    "apiVersion" : "networking.istio.io/v1beta1", "kind" : "Sidecar",
    "metadata" : {"name" : "default", "namespace" : "prod", "resourceVersion" : "1"},
    "spec" : {"egress" : [ {"hosts" : ["./*"]} ]}}});
  const char *resync = J({"type" : "MODIFIED", "object" : {
    "apiVersion" : "networking.istio.io/v1beta1", "kind" : "Sidecar",
    "metadata" : {"name" : "default", "namespace" : "prod", "resourceVersion" : "2"},
    "spec" : {"egress" : [ {"hosts" : ["./*"]} ]}}});
  const char *modified = J({"type" : "MODIFIED", "object" : {
    "apiVersion" : "networking.istio.io/v1beta1", "kind" : "Sidecar",
    "metadata" : {"name" : "default", "namespace" : "prod", "resourceVersion" : "3"},
    "spec" : {"egress" : [ {"hosts" : [ "./*", "istio-system/*" ]} ]}}});
  const char *deleted = J({"type" : "DELETED", "object" : {
    "apiVersion" : "networking.istio.io/v1beta1", "kind" : "Sidecar",
    "metadata" : {"name" : "default", "namespace" : "prod", "resourceVersion" : "4"},
    "spec" : {"egress" : [ {"hosts" : [ "./*", "istio-system/*" ]} ]}}});
  ASSERT_EQ_INT(apply_event(s, added, SC_CHANGE_ADDED), 0);
  /* Only the resourceVersion changed: a no-op. */
  ASSERT_EQ_INT(apply_event(s, resync, SC_CHANGE_NOOP), 0);
  ASSERT_EQ_INT(apply_event(s, modified, SC_CHANGE_UPDATED), 0);
  const sc_obj_t *sc = sc_store_get(s, SC_KIND_SIDECAR, sc_str("prod"), sc_str("default"));
  ASSERT(sc != NULL);
  ASSERT_EQ_INT(sc->u.sidecar.egress[0].hosts.n, 2);
  ASSERT_EQ_INT(apply_event(s, deleted, SC_CHANGE_DELETED), 0);
  ASSERT(sc_store_get(s, SC_KIND_SIDECAR, sc_str("prod"), sc_str("default")) == NULL);
  /* A second DELETED (e.g. after a relist) is a no-op. */
  ASSERT_EQ_INT(apply_event(s, deleted, SC_CHANGE_NOOP), 0);
  ASSERT_EQ_INT(sc_store_count(s, SC_KIND_SIDECAR), 0);
  sc_store_del(s);
}

TEST_LIST = {
    TEST_ENTRY(store_new_is_empty),
    TEST_ENTRY(store_put_new_is_added),
    TEST_ENTRY(store_put_identical_is_noop),
    TEST_ENTRY(store_put_changed_is_updated),
    TEST_ENTRY(store_change_keeps_object_alive_after_store_del),
    TEST_ENTRY(store_delete),
    TEST_ENTRY(store_delete_unknown_is_noop),
    TEST_ENTRY(store_kinds_and_namespaces_are_separate),
    TEST_ENTRY(store_hostname_index_service),
    TEST_ENTRY(store_hostname_index_service_entry),
    TEST_ENTRY(store_hostname_index_virtual_service_and_destination_rule),
    TEST_ENTRY(store_many_objects),
    TEST_ENTRY(store_many_shared_hostnames),
    TEST_ENTRY(store_mesh_config),
    TEST_ENTRY(store_watch_event_sequence),
    TEST_LIST_END,
};
