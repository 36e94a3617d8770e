/* Full computation of every SidecarScope for generated meshes of 100, 1,000 and 10,000
 * services (the largest with 1,000 namespaces and 1,000 Sidecars). Prints one JSON object.
 * Usage: bench_scopes [repeats] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meshgen.h"
#include "scopeset.h"

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
    double best = 1e9, best_world = 1e9;
    size_t nscopes = 0, bytes = 0;
    for (int r = 0; r < repeats; r++) {
      double t0 = now_s();
      sc_world_t *w;
      sc_scopeset_t set;
      if (sc_world_build(store, &w) != 0)
        return 1;
      double t1 = now_s();
      if (sc_scopeset_compute(w, &set) != 0)
        return 1;
      double t2 = now_s();
      sc_world_free(w);
      nscopes = set.nscopes;
      bytes = set.base.len; /* heads and entries, the base's included */
      for (size_t i = 0; i < set.base.nentries; i++)
        bytes += set.base.entries[i].len;
      for (size_t i = 0; i < set.nscopes; i++) {
        bytes += set.scopes[i].len;
        for (size_t e = 0; e < set.scopes[i].nentries; e++)
          bytes += set.scopes[i].entries[e].len;
      }
      sc_scopeset_free(&set);
      if (t2 - t0 < best)
        best = t2 - t0;
      if (t1 - t0 < best_world)
        best_world = t1 - t0;
    }
    printf("%s{\"services\":%u,\"namespaces\":%u,\"client_namespaces\":%u,\"sidecars\":%u,"
           "\"virtual_services\":%u,\"destination_rules\":%u,\"scopes\":%zu,\"scope_json_bytes\":%zu,"
           "\"index_ms\":%.2f,\"full_compute_ms\":%.2f,\"ms_per_scope\":%.4f}",
           m ? "," : "", sizes[m].services, sizes[m].namespaces, sizes[m].client_namespaces,
           sizes[m].sidecars,
           sizes[m].virtual_services, sizes[m].destination_rules, nscopes, bytes,
           best_world * 1e3, best * 1e3, best * 1e3 / (double)(nscopes ? nscopes : 1));
    fflush(stdout);
    sc_store_del(store);
  }
  printf("]}\n");
  return 0;
}
