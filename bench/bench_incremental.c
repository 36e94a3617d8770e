/* Incremental versus full recomputation, per event kind, from event to committed snapshot.
 *
 *   bench_incremental [events-per-kind] [sizes: S,M,L] [kinds: substring filter] [history]
 *
 * history: head versions whose replaced records the snapshot keeps (the engine's
 * --history; default 16, 0 for none).
 *
 * For each generated mesh: load it, publish everything once (the full computation), then
 * for every event kind apply events one per batch and time apply + scope update + LMDB
 * commit (p50/p99 over the events), and time a full recomputation of the same state
 * (world, every scope, rewrite of every record) after the last event of the kind, as a
 * ratio measured in the same run. Prints one JSON object. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "meshgen.h"
#include "publish/scopes.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct {
  sc_store_t *store;
  sc_changes_t *changes;
} apply_t;

static int apply_cb(void *arg, const sc_parse_item_t *item) {
  apply_t *a = arg;
  if (item->status != SC_ITEM_OBJECT)
    return item->status == SC_ITEM_REJECTED ? 1 : 0;
  sc_change_t ch;
  int rc = item->event == SC_EVENT_DELETED
               ? sc_store_delete(a->store, item->obj->kind, item->obj->namespace_,
                                 item->obj->name, &ch)
               : sc_store_put(a->store, sc_obj_ref(item->obj), &ch);
  sc_obj_unref(item->obj);
  if (rc != 0)
    return rc;
  sc__changes_note(a->store, &ch, a->changes);
  sc_change_release(&ch);
  return 0;
}

/* Applies the lines to the store; changes (may be NULL) receives what they mean. */
static int apply_lines(sc_store_t *store, const char *buf, size_t len, sc_changes_t *changes) {
  sc_parse_opts_t po = {.source = "bench"};
  sc_changes_t ignored;
  sc__changes_init(&ignored);
  apply_t a = {store, changes ? changes : &ignored};
  const char *p = buf, *end = buf + len;
  int rc = 0;
  while (p < end && rc == 0) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    rc = sc_parse_watch_event(p, n, &po, apply_cb, &a);
    p += n + 1;
  }
  sc__changes_finish(a.changes);
  sc__changes_free(&ignored);
  return rc;
}

static int write_cb(void *arg, sc_snapshot_txn_t *txn) {
  size_t w, d;
  return sc__scopes_write(arg, txn, &w, &d);
}

/* One batch as the engine runs it: update the scopes (when anything can change) and
 * commit. */
static int publish(sc_store_t *store, sc_scopes_t *ss, sc_snapshot_writer_t *wr,
                   const sc_changes_t *changes, bool all, sc_scopes_stats_t *st) {
  int rc = sc__scopes_update(ss, store, changes, all, sc_snapshot_writer_head(wr) + 1, st);
  if (rc == 0) {
    sc_snapshot_meta_t m = {0};
    m.scopes = (unsigned)sc__scopes_count(ss);
    rc = sc_snapshot_publish(wr, &m, write_cb, ss);
    sc__scopes_commit(ss);
  }
  return rc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  const char *name;
  /* Writes one event (a line) changing the mesh; i counts the events of the kind. */
  void (*make)(char *buf, size_t n, unsigned i, const sc_meshgen_opts_t *o);
} kind_t;

static void ev_service_update(char *b, size_t n, unsigned i, const sc_meshgen_opts_t *o) {
  /* svc-1 of ns-1 is public: every scope importing all namespaces sees it (through the
   * shared base), and the Sidecars importing ns-1. */
  (void)o;
  snprintf(b, n,
           "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\","
           "\"metadata\":{\"name\":\"svc-1\",\"namespace\":\"ns-1\",\"creationTimestamp\":"
           "\"2026-01-01T00:00:01Z\",\"labels\":{\"app\":\"svc-1\"}},\"spec\":{\"selector\":{\"app\":"
           "\"svc-1\"},\"ports\":[{\"name\":\"http\",\"port\":80},{\"name\":\"grpc\",\"port\":%u}]}}}\n",
           9100 + i);
}

static void ev_service_istiod(char *b, size_t n, unsigned i, const sc_meshgen_opts_t *o) {
  /* istiod: every Sidecar imports all of istio-system, and the base has it. */
  (void)o;
  snprintf(b, n,
           "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\","
           "\"metadata\":{\"name\":\"istiod\",\"namespace\":\"istio-system\"},\"spec\":{\"ports\":["
           "{\"name\":\"grpc-xds\",\"port\":15010},{\"name\":\"https-dds\",\"port\":%u}]}}}\n",
           15012 + i % 2);
}

static void ev_service_ten(char *b, size_t n, unsigned i, const sc_meshgen_opts_t *o) {
  /* Exported by name to ten namespaces without a namespace-wide Sidecar (odd ones), whose
   * default scopes import everything: ten scopes see it. */
  char to[256];
  size_t at = 0;
  for (unsigned k = 0; k < 10; k++)
    at += (size_t)snprintf(to + at, sizeof(to) - at, "%sns-%u", k ? "," : "",
                           (2 * k + 1) % (o->namespaces ? o->namespaces : 1));
  snprintf(b, n,
           "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\","
           "\"metadata\":{\"name\":\"shared\",\"namespace\":\"ns-0\",\"annotations\":{"
           "\"networking.istio.io/exportTo\":\"%s\"}},\"spec\":{\"ports\":[{\"name\":\"http\","
           "\"port\":%u}]}}}\n",
           to, 8000 + i);
}

static void ev_service_private(char *b, size_t n, unsigned i, const sc_meshgen_opts_t *o) {
  /* A service only its own namespace sees. */
  unsigned ns = 2 + i % (o->namespaces > 2 ? o->namespaces - 2 : 1);
  snprintf(b, n,
           "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
           "{\"name\":\"private-%u\",\"namespace\":\"ns-%u\",\"annotations\":{"
           "\"networking.istio.io/exportTo\":\".\"}},\"spec\":{\"ports\":[{\"name\":\"http\","
           "\"port\":80}]}}}\n",
           i, ns);
}

static void ev_destination_rule(char *b, size_t n, unsigned i, const sc_meshgen_opts_t *o) {
  (void)o;
  snprintf(b, n,
           "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
           "\"DestinationRule\",\"metadata\":{\"name\":\"dr-3\",\"namespace\":\"ns-3\"},\"spec\":{"
           "\"host\":\"svc-3\",\"exportTo\":[\".\"],\"trafficPolicy\":{\"connectionPool\":{\"tcp\":{"
           "\"maxConnections\":%u}}}}}}\n",
           10 + i);
}

static void ev_virtual_service(char *b, size_t n, unsigned i, const sc_meshgen_opts_t *o) {
  (void)o;
  snprintf(b, n,
           "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
           "\"VirtualService\",\"metadata\":{\"name\":\"vs-private\",\"namespace\":\"ns-4\"},\"spec\":{"
           "\"hosts\":[\"svc-4\"],\"exportTo\":[\".\"],\"http\":[{\"route\":[{\"destination\":{"
           "\"host\":\"svc-4\"}}],\"timeout\":\"%us\"}]}}}\n",
           1 + i);
}

static void ev_sidecar(char *b, size_t n, unsigned i, const sc_meshgen_opts_t *o) {
  snprintf(b, n,
           "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
           "\"Sidecar\",\"metadata\":{\"name\":\"default\",\"namespace\":\"ns-0\"},\"spec\":{\"egress\":"
           "[{\"hosts\":[\"./*\",\"istio-system/*\",\"ns-%u/*\"]}]}}}\n",
           1 + i % (o->namespaces > 1 ? o->namespaces - 1 : 1));
}

static void ev_endpoints(char *b, size_t n, unsigned i, const sc_meshgen_opts_t *o) {
  (void)o;
  snprintf(b, n,
           "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":"
           "\"EndpointSlice\",\"metadata\":{\"name\":\"svc-1-x\",\"namespace\":\"ns-1\",\"labels\":{"
           "\"kubernetes.io/service-name\":\"svc-1\"}},\"addressType\":\"IPv4\",\"endpoints\":[{"
           "\"addresses\":[\"10.9.%u.%u\"]}],\"ports\":[{\"name\":\"http\",\"port\":8080}]}}\n",
           i / 250, i % 250);
}

static const kind_t kinds[] = {
    {"public_service_update", ev_service_update},
    {"istiod_update_visible_to_every_scope", ev_service_istiod},
    {"service_update_visible_to_ten_scopes", ev_service_ten},
    {"service_add_private", ev_service_private},
    {"destination_rule_private", ev_destination_rule},
    {"virtual_service_private", ev_virtual_service},
    {"sidecar_update", ev_sidecar},
    {"endpoint_update", ev_endpoints},
};

static uint64_t dir_bytes(const char *dir) {
  char path[512];
  struct stat st;
  snprintf(path, sizeof(path), "%s/data.mdb", dir);
  return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512u : 0;
}

int main(int argc, char **argv) {
  unsigned per_kind = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
  const char *which = argc > 2 ? argv[2] : "S,M,L";
  const char *kind_filter = argc > 3 ? argv[3] : "";
  uint32_t history = argc > 4 ? (uint32_t)atoi(argv[4]) : 16;
  const struct {
    const char *name;
    sc_meshgen_opts_t o;
  } sizes[] = {{"S", {100, 10, 10, 20, 20, 1, 0}},
               {"M", {1000, 100, 100, 200, 200, 2, 0}},
               {"L", {10000, 1000, 1000, 2000, 2000, 3, 0}}};
  printf("{\"bench\":\"incremental\",\"nproc\":%ld,\"events_per_kind\":%u,\"history_versions\":%u,\"meshes\":[",
         sysconf(_SC_NPROCESSORS_ONLN), per_kind, history);
  int first_mesh = 1;
  for (size_t m = 0; m < sizeof(sizes) / sizeof(sizes[0]); m++) {
    if (strstr(which, sizes[m].name) == NULL)
      continue;
    const sc_meshgen_opts_t *o = &sizes[m].o;
    char dir[] = "/tmp/sc-bench-incr-XXXXXX";
    char *buf;
    size_t len;
    sc_store_t *store;
    sc_snapshot_writer_t *wr;
    sc_snapshot_writer_opts_t wo = {.no_sync = true};
    if (mkdtemp(dir) == NULL || sc_meshgen(o, &buf, &len) != 0 || sc_store_new(&store) != 0 ||
        apply_lines(store, buf, len, NULL) != 0 ||
        sc_snapshot_writer_open(dir, &wo, &wr, NULL, 0) != 0)
      return 1;
    free(buf);
    sc_scopes_t ss;
    sc__scopes_init(&ss);
    sc__scopes_set_history(&ss, history);
    sc_scopes_stats_t st;
    double t0 = now_ms();
    if (publish(store, &ss, wr, NULL, true, &st) != 0)
      return 1;
    double initial = now_ms() - t0;
    printf("%s{\"mesh\":\"%s\",\"services\":%u,\"namespaces\":%u,\"sidecars\":%u,\"scopes\":%u,"
           "\"initial_full_publish_ms\":%.1f,\"snapshot_bytes\":%" PRIu64 ",\"kinds\":[",
           first_mesh ? "" : ",", sizes[m].name, o->services, o->namespaces, o->sidecars,
           (unsigned)sc__scopes_count(&ss), initial, dir_bytes(dir));
    first_mesh = 0;
    fflush(stdout);
    int first_kind = 1;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
      if (strstr(kinds[k].name, kind_filter) == NULL)
        continue;
      double *ms = calloc(per_kind, sizeof(double));
      uint64_t recomputed = 0, patched = 0;
      double world_ms = 0, plan_ms = 0, scopes_ms = 0, apply_ms = 0, commit_ms = 0;
      /* One event first, not counted: the commit after a full rewrite of the snapshot pays
       * for reclaiming its pages (reported as first_event_after_full_ms). */
      double first_ms = 0;
      {
        char ev[2048];
        kinds[k].make(ev, sizeof(ev), per_kind, o);
        sc_changes_t changes;
        sc__changes_init(&changes);
        double a = now_ms();
        if (apply_lines(store, ev, strlen(ev), &changes) != 0 ||
            publish(store, &ss, wr, &changes, false, &st) != 0)
          return 1;
        first_ms = now_ms() - a;
        sc__changes_free(&changes);
      }
      for (unsigned i = 0; i < per_kind; i++) {
        char ev[2048];
        kinds[k].make(ev, sizeof(ev), i, o);
        sc_changes_t changes;
        sc__changes_init(&changes);
        double a = now_ms();
        if (apply_lines(store, ev, strlen(ev), &changes) != 0)
          return 1;
        double b = now_ms();
        if (publish(store, &ss, wr, &changes, false, &st) != 0)
          return 1;
        ms[i] = now_ms() - a;
        apply_ms += b - a;
        commit_ms += now_ms() - b - st.world_ms - st.plan_ms - st.scopes_ms;
        recomputed += st.recomputed + st.added;
        patched += st.patched;
        world_ms += st.world_ms;
        plan_ms += st.plan_ms;
        scopes_ms += st.scopes_ms;
        sc__changes_free(&changes);
      }
      /* The same state recomputed in full: every scope, every record rewritten. */
      double f0 = now_ms();
      sc__scopes_resync(&ss);
      if (publish(store, &ss, wr, NULL, true, &st) != 0)
        return 1;
      double full = now_ms() - f0;
      qsort(ms, per_kind, sizeof(double), cmp_double);
      double p50 = ms[per_kind / 2], p99 = ms[(per_kind * 99) / 100 < per_kind ? (per_kind * 99) / 100 : per_kind - 1];
      printf("%s{\"kind\":\"%s\",\"events\":%u,\"scopes_recomputed_per_event\":%.1f,"
             "\"scopes_patched_per_event\":%.1f,\"mean_world_ms\":%.3f,\"mean_plan_ms\":%.3f,"
             "\"mean_scopes_ms\":%.3f,\"mean_apply_ms\":%.3f,\"mean_write_commit_ms\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
             "\"first_event_after_full_ms\":%.3f,\"full_recompute_ms\":%.1f,\"ratio_full_to_p50\":%.1f}",
             first_kind ? "" : ",", kinds[k].name, per_kind, (double)recomputed / per_kind,
             (double)patched / per_kind, world_ms / per_kind, plan_ms / per_kind,
             scopes_ms / per_kind, apply_ms / per_kind, commit_ms / per_kind, p50, p99, first_ms, full,
             p50 > 0 ? full / p50 : 0);
      fflush(stdout);
      first_kind = 0;
      free(ms);
    }
    printf("],\"snapshot_bytes_after\":%" PRIu64 "}", dir_bytes(dir));
    sc__scopes_free(&ss);
    sc_snapshot_writer_close(wr);
    sc_store_del(store);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      return 1;
  }
  printf("]}\n");
  return 0;
}
