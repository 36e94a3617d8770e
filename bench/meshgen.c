#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshgen.h"

typedef struct {
  char *buf;
  size_t len, cap;
  int failed;
  uint64_t rng;
} out_t;

static uint32_t rnd(out_t *o) { /* xorshift64*: deterministic for a seed */
  o->rng ^= o->rng >> 12;
  o->rng ^= o->rng << 25;
  o->rng ^= o->rng >> 27;
  return (uint32_t)((o->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static void emit(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(out_t *o, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < o->cap - o->len) {
      o->len += (size_t)n;
      return;
    }
    size_t cap = o->cap ? o->cap * 2 : 1 << 20;
    char *p = realloc(o->buf, cap);
    if (p == NULL) {
      o->failed = 1;
      return;
    }
    o->buf = p;
    o->cap = cap;
  }
}

int sc_meshgen(const sc_meshgen_opts_t *opts, char **buf, size_t *len) {
  out_t o = {0};
  o.rng = opts->seed ? opts->seed : 1;
  unsigned nns = opts->namespaces ? opts->namespaces : 1;
  emit(&o, "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
           "{\"name\":\"istiod\",\"namespace\":\"istio-system\"},\"spec\":{\"ports\":[{\"name\":"
           "\"grpc-xds\",\"port\":15010},{\"name\":\"https-dds\",\"port\":15012}]}}}\n");
  for (unsigned i = 0; i < opts->services; i++) {
    unsigned ns = i % nns;
    const char *export = (i % 10 == 7) ? "\".\"" : (i % 10 == 8) ? "\"ns-0\"" : NULL;
    emit(&o,
         "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
         "{\"name\":\"svc-%u\",\"namespace\":\"ns-%u\",\"creationTimestamp\":\"2026-01-01T00:%02u:%02uZ\","
         "\"labels\":{\"app\":\"svc-%u\"}%s%s%s},\"spec\":{\"selector\":{\"app\":\"svc-%u\"},"
         "\"ports\":[{\"name\":\"http\",\"port\":80},{\"name\":\"grpc\",\"port\":%u}]}}}\n",
         i, ns, (i / 60) % 60, i % 60, i, export ? ",\"annotations\":{\"networking.istio.io/exportTo\":" : "",
         export ? export : "", export ? "}" : "", i, 9000 + rnd(&o) % 4);
  }
  for (unsigned i = 0; i < opts->sidecars; i++) {
    unsigned ns = i % nns;
    /* Half namespace-wide, half workload-selector Sidecars. */
    if (i % 2 == 0)
      emit(&o,
           "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
           "\"Sidecar\",\"metadata\":{\"name\":\"default\",\"namespace\":\"ns-%u\"},\"spec\":{\"egress\":"
           "[{\"hosts\":[\"./*\",\"istio-system/*\",\"ns-%u/*\"]}]}}}\n",
           ns, rnd(&o) % nns);
    else
      emit(&o,
           "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
           "\"Sidecar\",\"metadata\":{\"name\":\"wl-%u\",\"namespace\":\"ns-%u\"},\"spec\":{"
           "\"workloadSelector\":{\"labels\":{\"app\":\"svc-%u\"}},\"egress\":[{\"port\":{\"number\":80,"
           "\"protocol\":\"HTTP\",\"name\":\"http\"},\"hosts\":[\"./*\"]},{\"hosts\":[\"istio-system/*\"]}],"
           "\"outboundTrafficPolicy\":{\"mode\":\"REGISTRY_ONLY\"}}}}\n",
           i, ns, ns + nns * (rnd(&o) % 10));
  }
  unsigned per_ns = opts->services / nns ? opts->services / nns : 1;
  for (unsigned i = 0; i < opts->virtual_services; i++) {
    unsigned svc = rnd(&o) % (opts->services ? opts->services : 1), ns = svc % nns;
    emit(&o,
         "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
         "\"VirtualService\",\"metadata\":{\"name\":\"vs-%u\",\"namespace\":\"ns-%u\"},\"spec\":{"
         "\"hosts\":[\"svc-%u\"],%s\"http\":[{\"match\":[{\"headers\":{\"end-user\":{\"exact\":"
         "\"u%u\"}}}],\"route\":[{\"destination\":{\"host\":\"svc-%u\",\"subset\":\"v2\"}}]},{"
         "\"route\":[{\"destination\":{\"host\":\"svc-%u\",\"subset\":\"v1\"},\"weight\":90},{"
         "\"destination\":{\"host\":\"svc-%u\",\"subset\":\"v2\"},\"weight\":10}]}]}}}\n",
         i, ns, svc, i % 5 == 0 ? "\"exportTo\":[\".\"]," : "", i, svc, svc, svc);
  }
  (void)per_ns;
  for (unsigned i = 0; i < opts->destination_rules; i++) {
    unsigned svc = rnd(&o) % (opts->services ? opts->services : 1), ns = svc % nns;
    emit(&o,
         "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
         "\"DestinationRule\",\"metadata\":{\"name\":\"dr-%u\",\"namespace\":\"ns-%u\"},\"spec\":{"
         "\"host\":\"svc-%u\",%s\"trafficPolicy\":{\"loadBalancer\":{\"simple\":\"ROUND_ROBIN\"}},"
         "\"subsets\":[{\"name\":\"v1\",\"labels\":{\"version\":\"v1\"}},{\"name\":\"v2\",\"labels\":"
         "{\"version\":\"v2\"}}]}}}\n",
         i, ns, svc, i % 4 == 0 ? "\"exportTo\":[\".\"]," : "");
  }
  for (unsigned i = 0; i < opts->client_namespaces; i++) {
    emit(&o,
         "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
         "{\"name\":\"client-%u\"}}}\n",
         i);
    emit(&o,
         "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
         "{\"name\":\"job-%u\",\"namespace\":\"client-%u\",\"labels\":{\"app\":\"job\"}},"
         "\"status\":{\"podIP\":\"10.8.%u.%u\",\"phase\":\"Running\"}}}\n",
         i, i, i / 250, i % 250);
  }
  if (o.failed) {
    free(o.buf);
    return -1;
  }
  *buf = o.buf;
  *len = o.len;
  return 0;
}
