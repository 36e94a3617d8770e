/* Ingest throughput: parse + validate + store of generated watch events.
 * Prints one JSON object. Usage: bench_ingest [events] [seed] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scopecast/store.h"

static uint64_t rng_state;
static uint32_t rnd(void) { /* xorshift64*: deterministic for a seed */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* One watch event line of a kind picked by i; a third of the events modify earlier
 * objects, a few are repeated unchanged (no-ops). */
static int gen_event(char *buf, size_t len, unsigned i) {
  unsigned ns = rnd() % 100, id = rnd() % 2000, kind = i % 5;
  const char *type = (i % 3 == 0) ? "MODIFIED" : "ADDED";
  switch (kind) {
  case 0:
    return snprintf(buf, len,
                    "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\","
                    "\"metadata\":{\"name\":\"svc-%u\",\"namespace\":\"ns-%u\",\"labels\":{\"app\":"
                    "\"svc-%u\",\"version\":\"v%u\"},\"creationTimestamp\":\"2026-01-01T00:00:00Z\","
                    "\"resourceVersion\":\"%u\"},\"spec\":{\"clusterIP\":\"10.0.%u.%u\",\"selector\":"
                    "{\"app\":\"svc-%u\"},\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":"
                    "8080},{\"name\":\"grpc-api\",\"port\":9090}]}}}",
                    type, id, ns, id, rnd() % 3, i, ns, id % 250, id);
  case 1:
    return snprintf(buf, len,
                    "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":"
                    "\"EndpointSlice\",\"metadata\":{\"name\":\"svc-%u-abc\",\"namespace\":\"ns-%u\","
                    "\"labels\":{\"kubernetes.io/service-name\":\"svc-%u\"}},\"addressType\":\"IPv4\","
                    "\"endpoints\":[{\"addresses\":[\"10.1.%u.%u\"],\"conditions\":{\"ready\":true}},"
                    "{\"addresses\":[\"10.1.%u.%u\"],\"conditions\":{\"ready\":%s}}],\"ports\":[{"
                    "\"name\":\"http\",\"port\":8080}]}}",
                    type, id, ns, id, ns, id % 250, ns, (id + 1) % 250, rnd() % 2 ? "true" : "false");
  case 2:
    return snprintf(buf, len,
                    "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
                    "\"VirtualService\",\"metadata\":{\"name\":\"vs-%u\",\"namespace\":\"ns-%u\"},"
                    "\"spec\":{\"hosts\":[\"svc-%u\"],\"http\":[{\"match\":[{\"headers\":{\"end-user\":"
                    "{\"exact\":\"u%u\"}}}],\"route\":[{\"destination\":{\"host\":\"svc-%u\",\"subset\":"
                    "\"v2\"}}]},{\"route\":[{\"destination\":{\"host\":\"svc-%u\",\"subset\":\"v1\"},"
                    "\"weight\":%u},{\"destination\":{\"host\":\"svc-%u\",\"subset\":\"v2\"},\"weight\":"
                    "%u}],\"timeout\":\"%us\"}]}}}",
                    type, id, ns, id, rnd() % 10, id, id, 50 + rnd() % 10, id, 0u, 1 + rnd() % 9);
  case 3:
    return snprintf(buf, len,
                    "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
                    "\"DestinationRule\",\"metadata\":{\"name\":\"dr-%u\",\"namespace\":\"ns-%u\"},"
                    "\"spec\":{\"host\":\"svc-%u\",\"trafficPolicy\":{\"loadBalancer\":{\"simple\":"
                    "\"ROUND_ROBIN\"},\"connectionPool\":{\"tcp\":{\"maxConnections\":%u}}},\"subsets\":"
                    "[{\"name\":\"v1\",\"labels\":{\"version\":\"v1\"}},{\"name\":\"v2\",\"labels\":{"
                    "\"version\":\"v2\"}}]}}}",
                    type, id, ns, id, 10 + rnd() % 90);
  default:
    return snprintf(buf, len,
                    "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
                    "\"Sidecar\",\"metadata\":{\"name\":\"sc-%u\",\"namespace\":\"ns-%u\"},\"spec\":{"
                    "\"workloadSelector\":{\"labels\":{\"app\":\"svc-%u\"}},\"egress\":[{\"hosts\":["
                    "\"./*\",\"istio-system/*\",\"ns-%u/*\"]}],\"outboundTrafficPolicy\":{\"mode\":"
                    "\"REGISTRY_ONLY\"}}}}",
                    type, id % 50, ns, id, rnd() % 100);
  }
}

typedef struct {
  sc_store_t *store;
  uint64_t accepted, rejected, noops, changed;
} ctx_t;

static int item_cb(void *arg, const sc_parse_item_t *item) {
  ctx_t *c = arg;
  if (item->status != SC_ITEM_OBJECT) {
    c->rejected++;
    return 0;
  }
  c->accepted++;
  sc_change_t ch;
  if (sc_store_put(c->store, item->obj, &ch) == 0) {
    if (ch.op == SC_CHANGE_NOOP)
      c->noops++;
    else
      c->changed++;
    sc_change_release(&ch);
  }
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000;
  rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
  if (rng_state == 0)
    rng_state = 42;
  /* Generate first, so only ingest is timed. */
  size_t cap = (size_t)n * 1024, used = 0;
  char *all = malloc(cap);
  size_t *offs = malloc(((size_t)n + 1) * sizeof(size_t));
  if (all == NULL || offs == NULL)
    return 1;
  for (unsigned i = 0; i < n; i++) {
    offs[i] = used;
    int len = gen_event(all + used, cap - used, i);
    if (len < 0 || (size_t)len >= cap - used)
      return 1;
    used += (size_t)len;
  }
  offs[n] = used;
  ctx_t c = {0};
  sc_store_new(&c.store);
  sc_parse_opts_t po = {.source = "bench"};
  double t0 = now_s();
  for (unsigned i = 0; i < n; i++)
    sc_parse_watch_event(all + offs[i], offs[i + 1] - offs[i], &po, item_cb, &c);
  double secs = now_s() - t0;
  size_t objects = 0;
  for (int k = 0; k < SC_KIND__COUNT; k++)
    objects += sc_store_count(c.store, (sc_kind_t)k);
  printf("{\"bench\":\"ingest\",\"nproc\":%ld,\"events\":%u,\"bytes\":%zu,\"seconds\":%.4f,"
         "\"events_per_second\":%.0f,\"mb_per_second\":%.2f,\"accepted\":%" PRIu64
         ",\"rejected\":%" PRIu64 ",\"changed\":%" PRIu64 ",\"noops\":%" PRIu64
         ",\"objects_in_store\":%zu}\n",
         sysconf(_SC_NPROCESSORS_ONLN), n, used, secs, n / secs, (double)used / secs / 1e6,
         c.accepted, c.rejected, c.changed, c.noops, objects);
  sc_store_del(c.store);
  free(all);
  free(offs);
  return c.rejected ? 1 : 0;
}
