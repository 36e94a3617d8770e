/* Full computation of every SidecarScope for generated meshes of 100, 1,000 and 10,000
 * services (the largest with 1,000 namespaces and 1,000 Sidecars), and their Envoy
 * resources (clusters, listeners, virtual hosts): encoding throughput of clusters and
 * endpoint assignments, bytes stored, and the dedupe ratio (bytes of the resources every
 * scope serves, its own and the base's, over the bytes stored once by content hash).
 * Prints one JSON object. Usage: bench_scopes [repeats] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/hashmap.h"
#include "meshgen.h"
#include "xds/eds.h"
#include "publish/render.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int put_cb(void *arg, const sc_parse_item_t *item) {
  if (item->status != SC_ITEM_OBJECT)
    return 1;
  sc_change_t ch;
  if (sc_store_put(arg, item->obj, &ch) != 0)
    return 1;
  sc_change_release(&ch);
  return 0;
}

/* Counts a resource as served; stores it (once) in unique. */
static int count_resource(const sc_resource_t *r, sc_hashmap_t *unique, size_t *served, size_t *stored) {
  uint64_t k;
  memcpy(&k, r->hash, sizeof(k));
  *served += r->len;
  if (sc__hashmap_get(unique, k) != NULL)
    return 0;
  *stored += r->len;
  return sc__hashmap_put(unique, k, (void *)1);
}

static int count_list(const sc_resources_t *res, sc_hashmap_t *unique, size_t *served, size_t *stored) {
  for (size_t i = 0; i < res->n; i++)
    if (count_resource(&res->items[i], unique, served, stored) != 0)
      return -1;
  return 0;
}

static bool has_entry(const sc_record_t *r, const char *host) {
  size_t lo = 0, hi = r->nentries;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r->entries[mid].host, host);
    if (c == 0)
      return true;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return false;
}

/* served: every scope's resources (head, entries with their variants, and the base's
 * entries it shares); stored: each distinct resource once. */
static int dedupe(const sc_scopeset_t *set, size_t *served, size_t *stored, size_t *resources) {
  sc_hashmap_t unique;
  sc__hashmap_init(&unique);
  *served = *stored = 0;
  int rc = 0;
  for (size_t i = 0; i < set->nscopes && rc == 0; i++) {
    const sc_record_t *r = &set->scopes[i];
    rc = count_list(&r->res, &unique, served, stored);
    for (size_t e = 0; e < r->nentries && rc == 0; e++)
      rc = count_list(&r->entries[e].res, &unique, served, stored);
    for (size_t e = 0; e < set->base.nentries && rc == 0 && r->has_base; e++)
      if (!has_entry(r, set->base.entries[e].host))
        rc = count_list(&set->base.entries[e].res, &unique, served, stored);
  }
  *resources = unique.n;
  sc__hashmap_free(&unique);
  return rc;
}

typedef struct {
  const sc_world_t *w;
  size_t n, bytes;
} encoded_t;

static void encode_host(void *arg, sc_str_t host, void *value) {
  (void)host;
  encoded_t *e = arg;
  const sc_vec_t *recs = value;
  for (uint32_t j = 0; j < recs->n; j++) {
    const sc_svc_t *svc = recs->items[j];
    sc_resources_t res = {0};
    int rc = sc__cds_service(svc, NULL, e->w->mesh, &res);
    size_t clusters = res.n;
    for (size_t k = 0; k < clusters && rc == 0; k++) /* and the assignment of each EDS one */
      if (res.items[k].eds_id != 0)
        rc = sc__eds_from_recipe(e->w->store, e->w, res.items[k].eds, res.items[k].name, &res);
    if (rc == 0) {
      e->n += res.n;
      for (size_t k = 0; k < res.n; k++)
        e->bytes += res.items[k].len;
    }
    sc__resources_free(&res);
  }
}

/* Encodes the clusters of every service record (no rule) and their assignments, three
 * times: resources and bytes per second. */
static void encode_rate(const sc_world_t *w, double *per_s, double *mb_s) {
  encoded_t e = {w, 0, 0};
  double t0 = now_s();
  for (int round = 0; round < 3; round++)
    sc__strmap_foreach(&w->all_by_host, encode_host, &e);
  double dt = now_s() - t0;
  *per_s = dt > 0 ? (double)e.n / dt : 0;
  *mb_s = dt > 0 ? (double)e.bytes / dt / 1e6 : 0;
}

static int load(sc_store_t *store, const char *buf, size_t len) {
  sc_parse_opts_t po = {.source = "meshgen"};
  const char *p = buf, *end = buf + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (sc_parse_watch_event(p, n, &po, put_cb, store) != 0)
      return -1;
    p += n + 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 3;
  /* The last two: the same mesh without and with 1,000 more namespaces that have no
   * Sidecar and no config (client namespaces): their scopes share one content. */
  const sc_meshgen_opts_t sizes[] = {
      {100, 10, 10, 20, 20, 1, 0},
      {1000, 100, 100, 200, 200, 2, 0},
      {10000, 1000, 1000, 2000, 2000, 3, 0},
      {1000, 100, 100, 200, 200, 4, 0},
      {1000, 100, 100, 200, 200, 4, 1000},
  };
  printf("{\"bench\":\"scopes_full\",\"nproc\":%ld,\"repeats\":%d,\"meshes\":[",
         sysconf(_SC_NPROCESSORS_ONLN), repeats);
  for (size_t m = 0; m < sizeof(sizes) / sizeof(sizes[0]); m++) {
    char *buf;
    size_t len;
    sc_store_t *store;
    if (sc_meshgen(&sizes[m], &buf, &len) != 0 || sc_store_new(&store) != 0 ||
        load(store, buf, len) != 0) {
      fprintf(stderr, "bench_scopes: cannot build mesh %zu\n", m);
      return 1;
    }
    free(buf);
    double best = 1e9, best_world = 1e9, per_s = 0, mb_s = 0;
    size_t nscopes = 0, bytes = 0, served = 0, stored = 0, resources = 0;
    for (int r = 0; r < repeats; r++) {
      double t0 = now_s();
      sc_world_t *w;
      sc_scopeset_t set;
      if (sc__world_build(store, &w) != 0)
        return 1;
      double t1 = now_s();
      if (sc__render_all(w, &set) != 0)
        return 1;
      double t2 = now_s();
      if (r == 0 && (dedupe(&set, &served, &stored, &resources) != 0))
        return 1;
      if (r == 0)
        encode_rate(w, &per_s, &mb_s);
      sc__world_free(w);
      nscopes = set.nscopes;
      bytes = set.base.len; /* heads and entries, the base's included */
      for (size_t i = 0; i < set.base.nentries; i++)
        bytes += set.base.entries[i].len;
      for (size_t i = 0; i < set.nscopes; i++) {
        bytes += set.scopes[i].len;
        for (size_t e = 0; e < set.scopes[i].nentries; e++)
          bytes += set.scopes[i].entries[e].len;
      }
      sc__render_all_free(&set);
      if (t2 - t0 < best)
        best = t2 - t0;
      if (t1 - t0 < best_world)
        best_world = t1 - t0;
    }
    printf("%s{\"services\":%u,\"namespaces\":%u,\"client_namespaces\":%u,\"sidecars\":%u,"
           "\"virtual_services\":%u,\"destination_rules\":%u,\"scopes\":%zu,\"scope_json_bytes\":%zu,"
           "\"index_ms\":%.2f,\"full_compute_ms\":%.2f,\"ms_per_scope\":%.4f,"
           "\"resources_stored\":%zu,\"resource_bytes_stored\":%zu,\"resource_bytes_served\":%zu,"
           "\"dedupe_ratio\":%.1f,\"encode_clusters_and_endpoints_per_s\":%.0f,\"encode_mb_per_s\":%.1f}",
           m ? "," : "", sizes[m].services, sizes[m].namespaces, sizes[m].client_namespaces,
           sizes[m].sidecars,
           sizes[m].virtual_services, sizes[m].destination_rules, nscopes, bytes,
           best_world * 1e3, best * 1e3, best * 1e3 / (double)(nscopes ? nscopes : 1), resources,
           stored, served, stored ? (double)served / (double)stored : 0, per_s, mb_s);
    fflush(stdout);
    sc_store_del(store);
  }
  printf("]}\n");
  return 0;
}
