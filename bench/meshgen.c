#include <stdarg.h>
#include <stdbool.h>
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

static uint32_t next_rnd(uint64_t *state) { /* xorshift64*: deterministic for a seed */
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t rnd(out_t *o) {
  return next_rnd(&o->rng);
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

/* ---- Churn -------------------------------------------------------------------------- */

/* One event line being written into the caller's buffer. */
typedef struct {
  char *buf;
  size_t cap, len;
  bool over;
  int op; /* set by begin() */
} line_t;

static void put(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(line_t *l, const char *fmt, ...) {
  if (l->over)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(l->buf + l->len, l->cap - l->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= l->cap - l->len)
    l->over = true;
  else
    l->len += (size_t)n;
}

const char *sc_churn_kind_name(sc_churn_kind_t k) {
  static const char *const names[SC_CHURN_NKINDS] = {
      "service", "base_service", "endpoint_slice", "pod", "virtual_service", "destination_rule", "sidecar",
      "namespace"};
  return k < SC_CHURN_NKINDS ? names[k] : "?";
}

void sc_churn_init(sc_churn_t *c, const sc_meshgen_opts_t *mesh, uint64_t seed) {
  memset(c, 0, sizeof(*c));
  c->mesh = *mesh;
  if (c->mesh.namespaces == 0)
    c->mesh.namespaces = 1;
  if (c->mesh.services == 0)
    c->mesh.services = 1;
  c->rng = seed ? seed : 1;
}

static uint32_t crnd(sc_churn_t *c, uint32_t n) {
  return n ? next_rnd(&c->rng) % n : 0;
}

enum { OP_ADDED, OP_MODIFIED, OP_DELETED };

/* What happens to a slot: added when absent; else modified, or one time in four deleted
 * (when the kind may be). */
static int slot_op(sc_churn_t *c, sc_churn_kind_t k, unsigned slot, bool may_delete) {
  uint8_t *present = &c->present[k][slot % SC_CHURN_SLOTS];
  if (!*present) {
    *present = 1;
    return OP_ADDED;
  }
  if (may_delete && crnd(c, 4) == 0) {
    *present = 0;
    return OP_DELETED;
  }
  return OP_MODIFIED;
}

/* The event's envelope up to the end of metadata (labels, annotations: a JSON object's
 * members, or NULL); the caller writes the body, end() closes it. */
static void begin(line_t *l, int op, const char *api, const char *kind, const char *name, const char *ns,
                  const char *labels, const char *annotations) {
  static const char *const ops[] = {"ADDED", "MODIFIED", "DELETED"};
  l->op = op;
  put(l, "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"metadata\":{\"name\":\"%s\"",
      ops[op], api, kind, name);
  if (ns != NULL)
    put(l, ",\"namespace\":\"%s\"", ns);
  if (labels != NULL)
    put(l, ",\"labels\":{%s}", labels);
  if (annotations != NULL)
    put(l, ",\"annotations\":{%s}", annotations);
  put(l, "}");
}

static void end(line_t *l) {
  put(l, "}}\n");
}

/* A namespace-wide Sidecar of the mesh's (sc_meshgen: the even ones, "default"). */
static bool mesh_has_default_sidecar(const sc_meshgen_opts_t *m, unsigned ns) {
  for (unsigned i = 0; i < m->sidecars; i += 2)
    if (i % m->namespaces == ns)
      return true;
  return false;
}

/* A service of namespace ns, chosen at random. */
static unsigned service_in(sc_churn_t *c, unsigned ns) {
  unsigned per_ns = c->mesh.services / c->mesh.namespaces;
  return per_ns ? ns + c->mesh.namespaces * crnd(c, per_ns) : 0;
}

/* The mesh's service behind endpoint slot s (16 slots spread over the services). */
static unsigned endpoint_service(const sc_churn_t *c, unsigned s) {
  return c->mesh.services >= 16 ? s * (c->mesh.services / 16) : s % c->mesh.services;
}

static void churn_service(sc_churn_t *c, line_t *l) {
  unsigned s = crnd(c, SC_CHURN_SLOTS), nsi = s % c->mesh.namespaces;
  int op = slot_op(c, SC_CHURN_SERVICE, s, true);
  char name[32], ns[32], labels[64];
  snprintf(name, sizeof(name), "churn-svc-%u", s);
  snprintf(ns, sizeof(ns), "ns-%u", nsi);
  snprintf(labels, sizeof(labels), "\"app\":\"%s\"", name);
  uint32_t g = op == OP_DELETED ? 0 : crnd(c, 6);
  /* g >= 4: exported to its own namespace only; odd g: a second port. */
  begin(l, op, "v1", "Service", name, ns, labels, g >= 4 ? "\"networking.istio.io/exportTo\":\".\"" : NULL);
  if (op != OP_DELETED)
    put(l, ",\"spec\":{\"selector\":{\"app\":\"%s\"},\"ports\":[{\"name\":\"http\",\"port\":80}%s]}", name,
        g & 1 ? ",{\"name\":\"http-alt\",\"port\":8080}" : "");
  end(l);
}

static void churn_base_service(sc_churn_t *c, line_t *l) {
  unsigned i = crnd(c, c->mesh.services), nsi = i % c->mesh.namespaces;
  /* Its exportTo as the mesh has it. */
  const char *export = (i % 10 == 7)   ? "\"networking.istio.io/exportTo\":\".\""
                       : (i % 10 == 8) ? "\"networking.istio.io/exportTo\":\"ns-0\""
                                       : NULL;
  char name[32], ns[32], labels[64];
  snprintf(name, sizeof(name), "svc-%u", i);
  snprintf(ns, sizeof(ns), "ns-%u", nsi);
  snprintf(labels, sizeof(labels), "\"app\":\"%s\"", name);
  begin(l, OP_MODIFIED, "v1", "Service", name, ns, labels, export);
  uint32_t grpc = 9000 + crnd(c, 4), extra = crnd(c, 2);
  put(l,
      ",\"spec\":{\"selector\":{\"app\":\"%s\"},\"ports\":[{\"name\":\"http\",\"port\":80},{\"name\":\"grpc\","
      "\"port\":%u}",
      name, grpc);
  if (extra)
    put(l, ",{\"name\":\"tcp-extra\",\"port\":%u}", 7000 + i % 8);
  put(l, "]}");
  end(l);
}

static void churn_endpoints(sc_churn_t *c, line_t *l) {
  unsigned s = crnd(c, 16), svc = endpoint_service(c, s), nsi = svc % c->mesh.namespaces;
  int op = slot_op(c, SC_CHURN_ENDPOINTS, s, true);
  char name[48], ns[32], labels[96];
  snprintf(name, sizeof(name), "svc-%u-churn", svc);
  snprintf(ns, sizeof(ns), "ns-%u", nsi);
  snprintf(labels, sizeof(labels), "\"kubernetes.io/service-name\":\"svc-%u\"", svc);
  begin(l, op, "discovery.k8s.io/v1", "EndpointSlice", name, ns, labels, NULL);
  if (op != OP_DELETED) {
    unsigned n = 1 + crnd(c, 3), first = 1 + crnd(c, 200);
    put(l, ",\"addressType\":\"IPv4\",\"endpoints\":[");
    for (unsigned e = 0; e < n; e++)
      put(l,
          "%s{\"addresses\":[\"10.20.%u.%u\"],\"conditions\":{\"ready\":true},\"targetRef\":{\"kind\":\"Pod\","
          "\"name\":\"ep-%u-%u\",\"namespace\":\"%s\"}}",
          e ? "," : "", s, first + e, svc, e % 2, ns);
    put(l, "],\"ports\":[{\"name\":\"http\",\"port\":8080},{\"name\":\"grpc\",\"port\":9090}]");
  }
  end(l);
}

static void churn_pod(sc_churn_t *c, line_t *l) {
  unsigned s = crnd(c, SC_CHURN_SLOTS), svc = endpoint_service(c, s / 2), k = s % 2;
  int op = slot_op(c, SC_CHURN_POD, s, true);
  char name[48], ns[32], labels[96];
  snprintf(name, sizeof(name), "ep-%u-%u", svc, k);
  snprintf(ns, sizeof(ns), "ns-%u", svc % c->mesh.namespaces);
  snprintf(labels, sizeof(labels), "\"app\":\"svc-%u\",\"version\":\"v%u\"", svc, 1 + crnd(c, 2));
  begin(l, op, "v1", "Pod", name, ns, op == OP_DELETED ? NULL : labels, NULL);
  if (op != OP_DELETED)
    put(l, ",\"status\":{\"podIP\":\"10.21.%u.%u\",\"phase\":\"Running\"}", s, k + 1);
  end(l);
}

static void churn_virtual_service(sc_churn_t *c, line_t *l) {
  unsigned s = crnd(c, SC_CHURN_SLOTS), nsi = s % c->mesh.namespaces, svc = service_in(c, nsi);
  int op = slot_op(c, SC_CHURN_VIRTUAL_SERVICE, s, true);
  char name[32], ns[32];
  snprintf(name, sizeof(name), "churn-vs-%u", s);
  snprintf(ns, sizeof(ns), "ns-%u", nsi);
  begin(l, op, "networking.istio.io/v1", "VirtualService", name, ns, NULL, NULL);
  if (op != OP_DELETED) {
    unsigned w = 10 * (1 + crnd(c, 9));
    put(l,
        ",\"spec\":{\"hosts\":[\"svc-%u\"],%s\"http\":[{\"match\":[{\"headers\":{\"x-churn\":{\"exact\":"
        "\"g%u\"}}}],\"route\":[{\"destination\":{\"host\":\"svc-%u\",\"subset\":\"v2\"}}],\"timeout\":\"%us\"},"
        "{\"route\":[{\"destination\":{\"host\":\"svc-%u\",\"subset\":\"v1\"},\"weight\":%u},{\"destination\":"
        "{\"host\":\"svc-%u\",\"subset\":\"v2\"},\"weight\":%u}]}]}",
        svc, crnd(c, 4) == 0 ? "\"exportTo\":[\".\"]," : "", c->serial, svc, 1 + crnd(c, 30), svc, w, svc, 100 - w);
  }
  end(l);
}

static void churn_destination_rule(sc_churn_t *c, line_t *l) {
  static const char *const lb[] = {"ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"};
  unsigned s = crnd(c, SC_CHURN_SLOTS), nsi = s % c->mesh.namespaces, svc = service_in(c, nsi);
  int op = slot_op(c, SC_CHURN_DESTINATION_RULE, s, true);
  char name[32], ns[32];
  snprintf(name, sizeof(name), "churn-dr-%u", s);
  snprintf(ns, sizeof(ns), "ns-%u", nsi);
  begin(l, op, "networking.istio.io/v1", "DestinationRule", name, ns, NULL, NULL);
  if (op != OP_DELETED)
    put(l,
        ",\"spec\":{\"host\":\"svc-%u\",%s\"trafficPolicy\":{\"loadBalancer\":{\"simple\":\"%s\"}%s},"
        "\"subsets\":[{\"name\":\"v1\",\"labels\":{\"version\":\"v1\"}},{\"name\":\"v2\",\"labels\":"
        "{\"version\":\"v2\"}}]}",
        svc, crnd(c, 4) == 0 ? "\"exportTo\":[\".\"]," : "", lb[crnd(c, 3)],
        crnd(c, 3) == 0 ? ",\"tls\":{\"mode\":\"ISTIO_MUTUAL\"}" : "");
  end(l);
}

static void churn_sidecar(sc_churn_t *c, line_t *l) {
  unsigned nsi = crnd(c, c->mesh.namespaces);
  bool mesh_has = mesh_has_default_sidecar(&c->mesh, nsi);
  int op = mesh_has ? OP_MODIFIED : slot_op(c, SC_CHURN_SIDECAR, nsi, true);
  char ns[32];
  snprintf(ns, sizeof(ns), "ns-%u", nsi);
  begin(l, op, "networking.istio.io/v1", "Sidecar", mesh_has ? "default" : "churn", ns, NULL, NULL);
  if (op != OP_DELETED)
    put(l, ",\"spec\":{\"egress\":[{\"hosts\":[\"./*\",\"istio-system/*\",\"ns-%u/*\"]}]}",
        crnd(c, c->mesh.namespaces));
  end(l);
}

static void churn_namespace(sc_churn_t *c, line_t *l) {
  char name[32], labels[48];
  snprintf(name, sizeof(name), "client-%u", crnd(c, c->mesh.client_namespaces));
  snprintf(labels, sizeof(labels), "\"churn\":\"g%u\"", c->serial);
  begin(l, OP_MODIFIED, "v1", "Namespace", name, NULL, labels, NULL);
  end(l);
}

/* The kind of the next event, by weight (per cent). */
static sc_churn_kind_t churn_kind(sc_churn_t *c) {
  static const unsigned weights[SC_CHURN_NKINDS] = {18, 8, 24, 12, 14, 14, 5, 5};
  unsigned r = crnd(c, 100), k = 0;
  while (k + 1 < SC_CHURN_NKINDS && r >= weights[k])
    r -= weights[k++];
  if (k == SC_CHURN_NAMESPACE && c->mesh.client_namespaces == 0)
    k = SC_CHURN_ENDPOINTS;
  return (sc_churn_kind_t)k;
}

size_t sc_churn_next(sc_churn_t *c, char *buf, size_t cap) {
  static void (*const make[SC_CHURN_NKINDS])(sc_churn_t *, line_t *) = {
      churn_service,          churn_base_service, churn_endpoints, churn_pod, churn_virtual_service,
      churn_destination_rule, churn_sidecar,      churn_namespace};
  sc_churn_t saved = *c;
  sc_churn_kind_t k = churn_kind(c);
  line_t l = {buf, cap, 0, false, OP_MODIFIED};
  make[k](c, &l);
  if (l.over) {
    *c = saved;
    return 0;
  }
  c->added += l.op == OP_ADDED;
  c->deleted += l.op == OP_DELETED;
  c->modified += l.op == OP_MODIFIED;
  c->objects_delta += (l.op == OP_ADDED) - (l.op == OP_DELETED);
  c->by_kind[k]++;
  c->serial++;
  return l.len;
}
