/* Differential test of incremental scope recomputation: seeded random event sequences over
 * every kind (adds, updates, deletes, exportTo and selector changes, Sidecars in the root
 * namespace, mesh config changes, namespaces coming and going) are applied in small
 * batches to a store with incremental scopes; after every batch the scope and selector
 * records must equal, byte for byte, those computed from scratch for the same state.
 *
 *   test_incremental [--count N] [--seed S] [--events E] [--fail-alloc K]
 *   test_incremental --write-events FILE [--seed S] [--events E]   (one sequence, as JSONL)
 *
 * --fail-alloc K makes one allocation fail in every update, at a random point among its
 * first K, and does what the engine does when an update fails (resync, then recompute
 * everything): results must still equal scratch after every update that succeeds.
 *
 * On a failure it prints the seed and the smallest failing event sequence it finds.
 * SC_DIFF_VERBOSE=1 prints the size of every sequence's final state. Shared scopes
 * ("sameAs") are also recomputed unshared and compared with what they share. */
#include <getopt.h>
#include <stdarg.h>

#include "harness.h"
#include "store/mem.h"
#include "xds/eds.h"
#include "publish/scopes.h"

static unsigned opt_count = 500, opt_events = 40, opt_fail_alloc;
static uint64_t opt_seed = 1;
static const char *opt_write_events; /* --write-events FILE: write the sequence and exit */

/* ---- injected allocation failures -------------------------------------------------------- */

static long fail_countdown = -1; /* allocations left before one fails; -1: none fails */
static unsigned long injected;

static bool fail_now(void) {
  if (fail_countdown < 0 || fail_countdown-- > 0)
    return false;
  injected++;
  return true;
}
static void *failing_malloc(size_t n) { return fail_now() ? NULL : malloc(n); }
static void *failing_realloc(void *p, size_t n) { return fail_now() ? NULL : realloc(p, n); }
static void *failing_calloc(size_t c, size_t n) { return fail_now() ? NULL : calloc(c, n); }
static const sc__allocator_t failing = {failing_malloc, failing_realloc, failing_calloc, free};

/* ---- a random universe ------------------------------------------------------------------- */

static uint64_t rng;
static uint32_t rnd(uint32_t n) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (uint32_t)(((rng * 0x2545F4914F6CDD1Dull) >> 32) % n);
}
static const char *pick(const char *const *a, uint32_t n) { return a[rnd(n)]; }
#define PICK(a) pick(a, sizeof(a) / sizeof(a[0]))

static const char *const nss[] = {"ns0", "ns1", "ns2", "istio-system", "istio-config"};
static const char *const hosts[] = {"a.ext.com", "b.ext.com", "*.ext.com", "*.com", "svc0",
                                    "svc1.ns1.svc.cluster.local", "svc0.ns0.svc.cluster.local"};
static const char *const se_hosts[] = {"a.ext.com", "b.ext.com", "*.ext.com", "*.com"};
static const char *const dest_hosts[] = {"a.ext.com", "b.ext.com", "svc0", "svc1.ns1.svc.cluster.local",
                                         "svc2.ns2.svc.cluster.local"};
/* exportTo as a JSON list body, and as the Service annotation text. */
static const char *const exports[] = {"", "\".\"", "\"*\"", "\"ns1\"", "\"ns0\",\"ns2\"", "\"~\""};
static const char *const annotations[] = {"", ".", "*", "ns1", "ns0,ns2", "~", "~,ns1"};
static const char *const egress[] = {"\"./*\"", "\"*/*\"", "\"ns1/*\"", "\"~ns2/*\"",
                                     "\"*/a.ext.com\"", "\"ns0/svc0.ns0.svc.cluster.local\"",
                                     "\"istio-system/*\"", "\"*/*.ext.com\""};
static const char *const labels[] = {"", "\"app\":\"a\"", "\"app\":\"b\"", "\"app\":\"a\",\"v\":\"1\""};

typedef struct {
  char text[2048]; /* one watch event */
} event_t;

/* ",\"exportTo\":[...]" or "" */
static void export_field(char *buf, size_t n, bool allow_none) {
  const char *ex = PICK(exports);
  if (ex[0] == '\0' || (!allow_none && strchr(ex, '~') != NULL))
    buf[0] = '\0';
  else
    snprintf(buf, n, ",\"exportTo\":[%s]", ex);
}

/* A random object of a random kind, as a watch event of type. Names come from small pools
 * so that later events update and delete earlier objects. */
static const char *const se_resolutions[] = {
    "\"DNS\"", "\"NONE\"",
    "\"STATIC\",\"endpoints\":[{\"address\":\"10.2.0.1\",\"labels\":{\"v\":\"1\"}},{\"address\":\"10.2.0.2\"}]"};

/* ServiceEntry ports and addresses: TLS ports without a VIP tell hosts apart by SNI, CIDR
 * addresses give prefix-range chains, each address its listener (xds/lds.c). */
static const char *const se_protocols[] = {"HTTP", "HTTP", "TLS", "TCP"};
static const char *const se_addresses[] = {"", "", ",\"addresses\":[\"10.0.0.0/16\",\"2.2.2.2\"]",
                                           ",\"addresses\":[\"2.2.2.2/32\"]"};

static void gen_object(event_t *ev, const char *type) {
  char *b = ev->text, ex[64], when[32];
  size_t n = sizeof(ev->text);
  const char *ns = PICK(nss);
  unsigned t = rnd(32), id = rnd(3);
  snprintf(when, sizeof(when), "2026-01-01T00:00:%02uZ", rnd(4));
  if (t < 6) {
    const char *ann = PICK(annotations);
    char annotation[128] = "";
    if (ann[0])
      snprintf(annotation, sizeof(annotation),
               ",\"annotations\":{\"networking.istio.io/exportTo\":\"%s\"}", ann);
    snprintf(b, n,
             "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
             "{\"name\":\"svc%u\",\"namespace\":\"%s\",\"creationTimestamp\":\"%s\"%s},\"spec\":"
             "{%s\"ports\":[{\"name\":\"http\",\"port\":%u}%s]}}}",
             type, id, ns, when, annotation,
             rnd(5) == 0 ? "\"type\":\"ExternalName\",\"externalName\":\"a.ext.com\"," : "",
             80 + rnd(2), rnd(2) ? ",{\"name\":\"tcp\",\"port\":9000}" : "");
  } else if (t < 11) {
    export_field(ex, sizeof(ex), true);
    snprintf(b, n,
             "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
             "\"ServiceEntry\",\"metadata\":{\"name\":\"se%u\",\"namespace\":\"%s\","
             "\"creationTimestamp\":\"%s\"},\"spec\":{\"hosts\":[\"%s\"%s],\"ports\":[{\"number\":%u,"
             "\"name\":\"p%u\",\"protocol\":\"%s\"}],\"resolution\":%s%s%s}}}",
             type, id, ns, when, PICK(se_hosts), rnd(2) ? ",\"b.ext.com\"" : "", 80 + rnd(2),
             rnd(2), PICK(se_protocols), PICK(se_resolutions), PICK(se_addresses), ex);
  } else if (t < 16) {
    export_field(ex, sizeof(ex), false);
    snprintf(b, n,
             "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
             "\"VirtualService\",\"metadata\":{\"name\":\"vs%u\",\"namespace\":\"%s\","
             "\"creationTimestamp\":\"%s\"},\"spec\":{\"hosts\":[\"%s\"%s]%s,\"http\":[{\"match\":"
             "[{\"uri\":{\"prefix\":\"/\"}%s}],\"route\":[{\"destination\":{\"host\":\"%s\"%s},\"weight\":60}%s]}]}}}",
             type, id, ns, when, PICK(hosts), rnd(3) == 0 ? ",\"svc1.ns1.svc.cluster.local\"" : "", ex,
             rnd(4) == 0 ? ",\"sourceNamespace\":\"ns1\"" : rnd(3) == 0 ? ",\"sourceLabels\":{\"app\":\"a\"}" : "",
             PICK(dest_hosts),
             rnd(3) == 0 ? ",\"port\":{\"number\":9000}" : "",
             rnd(2) ? ",{\"destination\":{\"host\":\"b.ext.com\"},\"weight\":40}" : "");
  } else if (t < 21) {
    const char *sel = PICK(labels);
    export_field(ex, sizeof(ex), false);
    snprintf(b, n,
             "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
             "\"DestinationRule\",\"metadata\":{\"name\":\"dr%u\",\"namespace\":\"%s\","
             "\"creationTimestamp\":\"%s\"},\"spec\":{\"host\":\"%s\"%s%s%s%s,\"subsets\":[{\"name\":"
             "\"v%u\"%s}]%s}}}",
             type, id, ns, when, PICK(hosts), ex, sel[0] ? ",\"workloadSelector\":{\"matchLabels\":{" : "",
             sel, sel[0] ? "}}" : "", rnd(3), rnd(2) ? (rnd(2) ? ",\"labels\":{\"v\":\"1\"}" : ",\"labels\":{\"v\":\"2\"}") : "",
             rnd(2) ? (rnd(2) ? ",\"trafficPolicy\":{\"loadBalancer\":{\"simple\":\"RANDOM\"}}"
                              : ",\"trafficPolicy\":{\"loadBalancer\":{\"consistentHash\":{\"httpHeaderName\":\"u\"}}}")
                    : "");
  } else if (t < 26) {
    const char *sel = PICK(labels);
    const char *port = rnd(3) == 0 ? "\"port\":{\"number\":80,\"protocol\":\"HTTP\",\"name\":\"http\"}," : "";
    char hosts2[80]; /* one or two hosts: a lone "*" slash "*" imports like the default */
    const char *first = PICK(egress);
    if (rnd(3) == 0)
      snprintf(hosts2, sizeof(hosts2), "%s", first);
    else
      snprintf(hosts2, sizeof(hosts2), "%s,%s", first, PICK(egress));
    snprintf(b, n,
             "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
             "\"Sidecar\",\"metadata\":{\"name\":\"sc%u\",\"namespace\":\"%s\","
             "\"creationTimestamp\":\"%s\"},\"spec\":{%s%s%s\"egress\":[{%s\"hosts\":[%s]}]%s}}}",
             type, id, ns, when, sel[0] ? "\"workloadSelector\":{\"labels\":{" : "", sel,
             sel[0] ? "}}," : "", port, hosts2,
             rnd(3) == 0 ? ",\"outboundTrafficPolicy\":{\"mode\":\"REGISTRY_ONLY\"}" : "");
  } else if (t < 27) {
    snprintf(b, n,
             "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
             "{\"name\":\"ns%u\"}}}",
             type, 3 + id);
  } else if (t < 29) { /* Pods, also in namespaces nothing else mentions */
    snprintf(b, n,
             "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
             "{\"name\":\"pod%u\",\"namespace\":\"ns%u\",\"labels\":{\"app\":\"a\",\"v\":\"%u\"}},\"status\":"
             "{\"podIP\":\"10.0.0.%u\",\"phase\":\"Running\"}}}",
             type, id, rnd(7), 1 + rnd(2), 1 + rnd(9));
  } else if (t < 31) {
    snprintf(b, n,
             "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":"
             "\"EndpointSlice\",\"metadata\":{\"name\":\"svc%u-x\",\"namespace\":\"ns%u\",\"labels\":"
             "{\"kubernetes.io/service-name\":\"svc%u\"}},\"addressType\":\"IPv4\",\"endpoints\":"
             "[{\"addresses\":[\"10.1.0.%u\"],\"targetRef\":{\"kind\":\"Pod\",\"name\":\"pod%u\"}}],"
             "\"ports\":[{\"name\":\"http\",\"port\":8080}]}}",
             type, id, rnd(7), id, 1 + rnd(9), rnd(3));
  } else {
    static const char *const roots[] = {"istio-system", "istio-config"};
    static const char *const modes[] = {"ALLOW_ANY", "REGISTRY_ONLY"};
    snprintf(b, n,
             "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
             "{\"name\":\"istio\",\"namespace\":\"istio-system\"},\"data\":{\"mesh\":"
             "\"rootNamespace: %s\\noutboundTrafficPolicy: {mode: %s}\\n%s\"}}}",
             type, PICK(roots), PICK(modes),
             rnd(3) == 0 ? "defaultServiceExportTo: [\\\".\\\"]\\n" : "");
  }
}

/* Turns an ADDED event into the DELETED event of the same object. */
static void as_delete(event_t *ev) {
  char *t = strstr(ev->text, "\"type\":\"");
  if (t != NULL) {
    char rest[2048];
    char *q = strchr(t + 8, '"');
    snprintf(rest, sizeof(rest), "%s", q);
    snprintf(t, sizeof(ev->text) - (size_t)(t - ev->text), "\"type\":\"DELETED%s", rest);
  }
}

static void gen_sequence(uint64_t seed, unsigned nevents, event_t *evs) {
  rng = seed * 0x9E3779B97F4A7C15ull + 1;
  for (unsigned i = 0; i < nevents; i++) {
    gen_object(&evs[i], rnd(3) == 0 ? "MODIFIED" : "ADDED");
    if (i > 0 && rnd(5) == 0) { /* delete something seen before */
      evs[i] = evs[rnd(i)];
      as_delete(&evs[i]);
    }
  }
}

/* ---- running a sequence ------------------------------------------------------------------- */

typedef struct {
  sc_store_t *store;
  sc_changes_t changes;
  bool oom;
  unsigned rejected;
} apply_t;

static int apply_cb(void *arg, const sc_parse_item_t *item) {
  apply_t *a = arg;
  if (item->status == SC_ITEM_REJECTED) {
    a->rejected++;
    return 0;
  }
  if (item->status != SC_ITEM_OBJECT)
    return 0;
  sc_change_t ch;
  int rc = item->event == SC_EVENT_DELETED
               ? sc_store_delete(a->store, item->obj->kind, item->obj->namespace_,
                                 item->obj->name, &ch)
               : sc_store_put(a->store, sc_obj_ref(item->obj), &ch);
  sc_obj_unref(item->obj);
  if (rc != 0)
    return rc;
  a->oom |= sc__changes_note(a->store, &ch, &a->changes) != 0;
  sc_change_release(&ch);
  return 0;
}

/* Content of a scope record without the trailing "changedAt" (not part of the content). */
static size_t content_len(const sc_record_t *r) {
  const char *p = strstr(r->json, ",\"changedAt\":");
  return p ? (size_t)(p - r->json) : r->len - 1;
}

static char failure[4096];
static unsigned long skipped_updates;

static void fail_msg(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(failure, sizeof(failure), fmt, ap);
  va_end(ap);
}

/* The content of a scope record after its id, namespace, sidecar and version. */
static const char *after_version(const char *json) {
  const char *p = strstr(json, "\"kind\":");
  return p ? p : json;
}

static const sc_record_t *find_record(const sc_scopeset_t *set, const char *id) {
  for (size_t i = 0; i < set->nscopes; i++)
    if (strcmp(set->scopes[i].key, id) == 0)
      return &set->scopes[i];
  return NULL;
}

static const sc_entry_t *find_entry(const sc_record_t *r, const char *host) {
  for (size_t i = 0; i < r->nentries; i++)
    if (strcmp(r->entries[i].host, host) == 0)
      return &r->entries[i];
  return NULL;
}

/* Sharing is only right if what a reader puts together — the content of the sameAs
 * scope, the base's entries where a scope has none of its own — is what the scope's own,
 * unshared computation gives: compute every scope unshared and compare. */
static int check_shared(const sc_world_t *w, const sc_scopeset_t *set) {
  sc_scope_plan_t plan;
  if (sc__plan_compute(w, &plan) != 0) {
    fail_msg("plan failed");
    return -1;
  }
  int rc = 0;
  for (size_t i = 0; i < plan.nscopes && rc == 0; i++) {
    sc_scope_desc_t d = plan.scopes[i];
    const sc_record_t *stored = find_record(set, d.same_as ? d.same_as : d.id);
    d.same_as = NULL;
    sc_record_t own;
    if (stored == NULL || sc__render_scope(w, &d, &(sc_render_opts_t){true, NULL}, 0, &own, NULL) != 0) {
      fail_msg("scope %s: render failed", d.id);
      rc = -1;
      break;
    }
    if (strcmp(after_version(own.body), after_version(stored->body)) != 0) {
      fail_msg("scope %s: its own head differs from the shared one:\n  own    %s\n  shared %s", d.id,
               own.body, stored->body);
      rc = -1;
    }
    size_t assembled = stored->nentries;
    for (size_t e = 0; e < set->base.nentries && stored->has_base; e++)
      assembled += find_entry(stored, set->base.entries[e].host) == NULL;
    if (rc == 0 && assembled != own.nentries) {
      fail_msg("scope %s: %zu entries shared, %zu of its own", d.id, assembled, own.nentries);
      rc = -1;
    }
    for (size_t e = 0; e < own.nentries && rc == 0; e++) {
      const sc_entry_t *x = find_entry(stored, own.entries[e].host);
      if (x == NULL && stored->has_base)
        x = find_entry(&set->base, own.entries[e].host);
      if (x == NULL || x->hash != own.entries[e].hash) {
        fail_msg("scope %s, host %s: its own entry differs from the shared one:\n  own    %s\n  shared %s",
                 d.id, own.entries[e].host, own.entries[e].json, x ? x->json : "(none)");
        rc = -1;
      }
    }
    sc__render_record_free(&own);
  }
  sc__plan_free(&plan);
  return rc;
}

/* Counts the references of a record's resources (its head's and its entries') into refs:
 * first 8 bytes of the hash -> count. */
static int count_refs(const sc_record_t *r, sc_hashmap_t *refs) {
  const sc_resources_t *lists[1] = {&r->res};
  for (size_t e = 0; e <= r->nentries; e++) {
    const sc_resources_t *res = e == 0 ? lists[0] : &r->entries[e - 1].res;
    for (size_t i = 0; i < res->n; i++) {
      uint64_t k;
      memcpy(&k, res->items[i].hash, sizeof(k));
      uintptr_t n = (uintptr_t)sc__hashmap_get(refs, k);
      if (sc__hashmap_put(refs, k, (void *)(n + 1)) != 0)
        return -1;
    }
  }
  return 0;
}

typedef struct {
  sc_hashmap_t *want;
  size_t have;
  int rc;
} res_check_t;

static void check_ref(void *arg, const sc_res_ref_t *r) {
  res_check_t *c = arg;
  uint64_t k;
  memcpy(&k, r->hash, sizeof(k));
  c->have++;
  if (c->rc == 0 && (uintptr_t)sc__hashmap_get(c->want, k) != r->refs) {
    fail_msg("resource %016llx: %llu references counted, %llu in the records", (unsigned long long)k,
             (unsigned long long)r->refs, (unsigned long long)(uintptr_t)sc__hashmap_get(c->want, k));
    c->rc = -1;
  }
}

/* The resources the incremental state counts are exactly those the records name. */
static int compare_resources(const sc_scopes_t *ss, const sc_scopeset_t *full) {
  sc_hashmap_t want;
  sc__hashmap_init(&want);
  int rc = count_refs(&full->base, &want);
  for (size_t i = 0; i < full->nscopes && rc == 0; i++)
    rc = count_refs(&full->scopes[i], &want);
  res_check_t check = {&want, 0, 0};
  if (rc == 0) {
    sc__refs_foreach(sc__scopes_refs(ss), check_ref, &check);
    rc = check.rc;
  }
  size_t have = check.have;
  if (rc == 0 && have != sc__scopes_resource_count(ss)) {
    fail_msg("%zu resources in the map, %zu counted", have, sc__scopes_resource_count(ss));
    rc = -1;
  }
  if (rc == 0 && have != want.n) {
    fail_msg("%zu resources counted, %zu named by the records", have, want.n);
    rc = -1;
  }
  sc__hashmap_free(&want);
  return rc;
}

/* Counts the EDS clusters of a record (head and entries) by endpoints key into counts
 * (key -> count; keys owned by keys). */
static int count_eds(const sc_record_t *r, sc_strmap_t *counts, sc_vec_t *keys) {
  for (size_t e = 0; e <= r->nentries; e++) {
    const sc_resources_t *res = e == 0 ? &r->res : &r->entries[e - 1].res;
    for (size_t i = 0; i < res->n; i++) {
      if (res->items[i].eds_id == 0)
        continue;
      char key[1300];
      sc__eds_key(res->items[i].name, res->items[i].eds_id, key, sizeof(key));
      uintptr_t n = (uintptr_t)sc__strmap_get(counts, sc_str(key));
      if (n == 0) {
        char *k = strdup(key);
        if (k == NULL || sc__vec_push(keys, k) != 0)
          return -1;
        if (sc__strmap_put(counts, sc_str(k), (void *)1) != 0)
          return -1;
      } else if (sc__strmap_put(counts, sc_str(key), (void *)(n + 1)) != 0) {
        return -1;
      }
    }
  }
  return 0;
}

typedef struct {
  sc_strmap_t want;     /* key -> count in the records */
  const sc_store_t *store;
  const sc_world_t *world;
  size_t have;
  int rc;
} eds_check_t;

/* One assignment the incremental state holds: as often named as the records say, with
 * the bytes a build from scratch (the fresh world) gives. */
static void check_assignment(void *arg, const char *key, const char *recipe, uint64_t refs,
                             const uint8_t hash[16]) {
  eds_check_t *c = arg;
  c->have++;
  if (c->rc != 0)
    return;
  uintptr_t want = (uintptr_t)sc__strmap_get(&c->want, sc_str(key));
  if (want != refs) {
    fail_msg("assignment %s: %llu references counted, %llu in the records", key, (unsigned long long)refs,
             (unsigned long long)want);
    c->rc = -1;
    return;
  }
  char cluster[1300];
  snprintf(cluster, sizeof(cluster), "%.*s", (int)(strrchr(key, '#') - key), key);
  sc_resources_t out = {0};
  if (sc__eds_from_recipe(c->store, c->world, recipe, cluster, &out) != 0 || out.n != 1) {
    fail_msg("assignment %s: cannot build it from scratch", key);
    c->rc = -1;
  } else if (memcmp(out.items[0].hash, hash, 16) != 0) {
    fail_msg("assignment %s: stale bytes (endpoints changed but it was not rebuilt)", key);
    c->rc = -1;
  }
  sc__resources_free(&out);
}

/* The assignments the incremental state holds are exactly those the records' EDS
 * clusters name, each up to date. */
static int compare_endpoints(const sc_scopes_t *ss, const sc_scopeset_t *full, const sc_store_t *store,
                             const sc_world_t *w) {
  eds_check_t c = {.store = store, .world = w};
  sc_vec_t keys = {0};
  sc__strmap_init(&c.want);
  c.rc = count_eds(&full->base, &c.want, &keys);
  for (size_t i = 0; i < full->nscopes && c.rc == 0; i++)
    c.rc = count_eds(&full->scopes[i], &c.want, &keys);
  if (c.rc == 0)
    sc__endpoints_foreach(&ss->eds, check_assignment, &c);
  if (c.rc == 0 && c.have != c.want.n) {
    fail_msg("%zu assignments held, %zu named by the records", c.have, c.want.n);
    c.rc = -1;
  }
  for (uint32_t i = 0; i < keys.n; i++)
    free(keys.items[i]);
  sc__vec_free(&keys);
  sc__strmap_free(&c.want, NULL);
  return c.rc;
}

/* Compares the incremental state with a from-scratch computation; 0 when equal. */
static int compare(const sc_scopes_t *ss, const sc_world_t *w) {
  sc_scopeset_t full;
  if (sc__render_all(w, &full) != 0) {
    fail_msg("full computation failed");
    return -1;
  }
  int rc = 0;
  if (full.nscopes != ss->states.n) {
    fail_msg("%zu scopes from scratch, %u incrementally", full.nscopes, ss->states.n);
    rc = -1;
  }
  for (size_t i = 0; i < full.nscopes && rc == 0; i++) {
    const sc_record_t *f = &full.scopes[i];
    const sc_scope_state_t *st = sc__strmap_get(&ss->by_id, sc_str(f->key));
    if (st == NULL) {
      fail_msg("scope %s missing incrementally", f->key);
      rc = -1;
    } else if (st->rec.hash != f->hash || content_len(&st->rec) != content_len(f) ||
               memcmp(st->rec.json, f->json, content_len(f)) != 0) {
      fail_msg("scope %s differs:\n  incremental %.*s\n  scratch     %.*s", f->key,
               (int)content_len(&st->rec), st->rec.json, (int)content_len(f), f->json);
      rc = -1;
    } else if (st->entries.n != f->nentries) {
      fail_msg("scope %s: %zu entries from scratch, %zu incrementally", f->key, f->nentries,
               st->entries.n);
      rc = -1;
    }
    for (size_t e = 0; st != NULL && e < f->nentries && rc == 0; e++) {
      const sc_entry_t *fe = &f->entries[e];
      const sc_entry_t *ie = sc__strmap_get(&st->entries, sc_str(fe->host));
      if (ie == NULL || ie->hash != fe->hash) {
        fail_msg("scope %s, host %s differs:\n  incremental %s\n  scratch     %s", f->key, fe->host,
                 ie ? ie->json : "(none)", fe->json);
        rc = -1;
      }
    }
  }
  if (rc == 0 && full.nselectors != ss->selectors.n) {
    fail_msg("%zu selector records from scratch, %zu incrementally", full.nselectors, ss->selectors.n);
    rc = -1;
  }
  for (size_t i = 0; i < full.nselectors && rc == 0; i++)
    if (strcmp(full.selectors[i].json, ss->selectors.items[i].json) != 0) {
      fail_msg("selectors of %s differ", full.selectors[i].key);
      rc = -1;
    }
  for (size_t e = 0; e < full.base.nentries && rc == 0; e++) {
    const sc_entry_t *fe = &full.base.entries[e];
    const sc_entry_t *ie = ss->base ? sc__strmap_get(&ss->base->entries, sc_str(fe->host)) : NULL;
    if (ie == NULL || ie->hash != fe->hash) {
      fail_msg("base, host %s differs:\n  incremental %s\n  scratch     %s", fe->host,
               ie ? ie->json : "(none)", fe->json);
      rc = -1;
    }
  }
  if (rc == 0 && (ss->base == NULL || content_len(&ss->base->rec) != content_len(&full.base) ||
                  memcmp(ss->base->rec.json, full.base.json, content_len(&full.base)) != 0)) {
    fail_msg("base head differs:\n  incremental %s\n  scratch     %s",
             ss->base ? ss->base->rec.json : "(none)", full.base.json);
    rc = -1;
  }
  if (rc == 0 && ss->base != NULL && ss->base->entries.n != full.base.nentries) {
    fail_msg("base: %zu entries from scratch, %zu incrementally", full.base.nentries,
             ss->base->entries.n);
    rc = -1;
  }
  if (rc == 0)
    rc = compare_resources(ss, &full);
  if (rc == 0)
    rc = compare_endpoints(ss, &full, w->store, w);
  if (rc == 0)
    rc = check_shared(w, &full);
  sc__render_all_free(&full);
  return rc;
}

/* Runs evs[0..n) (skipping those with skip[i]) in batches of 1..4 events; returns 0 when
 * incremental equals scratch after every batch. */
static int run_sequence(const event_t *evs, unsigned n, const bool *skip, uint64_t batch_seed) {
  sc_store_t *store;
  sc_scopes_t ss;
  if (sc_store_new(&store) != 0)
    return -1;
  sc__scopes_init(&ss);
  ss.keep_entry_json = true; /* to show what differs */
  uint64_t saved = rng;
  rng = batch_seed | 1;
  int rc = 0;
  uint64_t head = 1;
  bool recompute_all = false; /* the last update failed: as the engine, resync and redo all */
  sc_parse_opts_t po = {.source = "differential"};
  for (unsigned i = 0; i < n && rc == 0;) {
    unsigned batch = 1 + rnd(4);
    apply_t a = {.store = store};
    sc__changes_init(&a.changes);
    for (unsigned k = 0; k < batch && i < n; k++, i++)
      if (!skip || !skip[i])
        sc_parse_watch_event(evs[i].text, strlen(evs[i].text), &po, apply_cb, &a);
    if (a.rejected > 0) {
      fail_msg("generated event rejected (generator bug) before event %u", i);
      rc = -1;
    }
    sc__changes_finish(&a.changes);
    sc_scopes_stats_t st;
    bool all = head == 1 || a.oom || recompute_all;
    /* As the engine does: the kept world and plan, updated only where the batch changed
     * them (nothing at all when no scope can change); the result is compared with a
     * fresh world's full computation either way. */
    bool update_failed = false;
    if (rc == 0) {
      if (opt_fail_alloc > 0) {
        fail_countdown = (long)rnd(opt_fail_alloc);
        sc__set_allocator(&failing);
      }
      rc = sc__scopes_update(&ss, store, &a.changes, all, head, &st);
      sc__set_allocator(NULL);
      fail_countdown = -1;
      update_failed = rc != 0 && opt_fail_alloc > 0;
      if (update_failed) {
        sc__scopes_resync(&ss);
        rc = 0;
      } else {
        sc__scopes_commit(&ss);
      }
      recompute_all = update_failed;
      skipped_updates += !st.updated;
      if (rc != 0)
        fail_msg("update failed: %s", sc_strerror(rc));
    }
    sc_world_t *w;
    if (rc == 0 && !update_failed && (rc = sc__world_build(store, &w)) == 0) {
      rc = compare(&ss, w);
      sc__world_free(w);
    }
    sc__changes_free(&a.changes);
    head++;
  }
  if (getenv("SC_DIFF_VERBOSE") != NULL) {
    size_t objects = 0;
    for (int k = 0; k < SC_KIND__COUNT; k++)
      objects += sc_store_count(store, (sc_kind_t)k);
    fprintf(stderr, "  sequence: %zu objects, %u scopes at the end\n", objects, ss.states.n);
  }
  sc__scopes_free(&ss);
  sc_store_del(store);
  rng = saved;
  return rc;
}

/* Greedy shrinking: drop events one at a time while the failure persists. */
static void shrink_and_report(const event_t *evs, unsigned n, uint64_t seed) {
  bool *skip = calloc(n, sizeof(bool));
  for (unsigned i = 0; i < n; i++) {
    skip[i] = true;
    if (run_sequence(evs, n, skip, seed) == 0)
      skip[i] = false; /* needed for the failure */
  }
  run_sequence(evs, n, skip, seed); /* leaves the message of the smallest failure */
  fprintf(stderr, "  seed %llu fails; smallest failing sequence (batch seed %llu):\n",
          (unsigned long long)seed, (unsigned long long)seed);
  for (unsigned i = 0; i < n; i++)
    if (!skip[i])
      fprintf(stderr, "    %s\n", evs[i].text);
  fprintf(stderr, "  %s\n", failure);
  free(skip);
}

TEST(incremental_equals_scratch) {
  event_t *evs = calloc(opt_events, sizeof(event_t));
  if (opt_write_events != NULL) { /* for the engine-level test (e2e_differential.sh) */
    FILE *f = fopen(opt_write_events, "w");
    ASSERT(f != NULL);
    gen_sequence(opt_seed, opt_events, evs);
    for (unsigned i = 0; i < opt_events; i++)
      fprintf(f, "%s\n", evs[i].text);
    fclose(f);
    free(evs);
    return;
  }
  unsigned failures = 0;
  for (unsigned c = 0; c < opt_count && failures == 0; c++) {
    uint64_t seed = opt_seed + c;
    gen_sequence(seed, opt_events, evs);
    if (run_sequence(evs, opt_events, NULL, seed) != 0) {
      failures++;
      shrink_and_report(evs, opt_events, seed);
    }
  }
  free(evs);
  ASSERT_EQ_INT(failures, 0);
  if (opt_fail_alloc > 0)
    printf("  %lu allocation failures injected into updates\n", injected);
  printf("  %u sequences of %u events from seed %llu (%lu batches needed no update)\n",
         opt_count, opt_events, (unsigned long long)opt_seed, skipped_updates);
}

TEST_LIST = {TEST_ENTRY(incremental_equals_scratch), TEST_LIST_END};

/* Called by the harness before the tests run (see harness.c). */
int sc_test_parse_args(int argc, char **argv) {
  static const struct option opts[] = {{"count", required_argument, NULL, 'c'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"events", required_argument, NULL, 'e'},
                                       {"write-events", required_argument, NULL, 'w'},
                                       {"fail-alloc", required_argument, NULL, 'f'},
                                       {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'c')
      opt_count = (unsigned)strtoul(optarg, NULL, 10);
    else if (c == 's')
      opt_seed = strtoull(optarg, NULL, 10);
    else if (c == 'e')
      opt_events = (unsigned)strtoul(optarg, NULL, 10);
    else if (c == 'w')
      opt_write_events = optarg;
    else if (c == 'f')
      opt_fail_alloc = (unsigned)strtoul(optarg, NULL, 10);
    else
      return -1;
  }
  return optind;
}
