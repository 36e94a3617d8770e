/* Malformed input: every case must be REJECTED (never accepted, never a crash) with a
 * diagnostic that names the source line (YAML), the object, the field and the reason, and
 * must leave the store exactly as it was: the last good version of the object stays
 * (docs/architecture.md, "Parse and validate"). Unknown kinds are SKIPPED, not rejected. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "scopecast/store.h"

#define J(...) #__VA_ARGS__

/* ---- collecting parse results ---------------------------------------------------------- */

typedef struct {
  sc_item_status_t status;
  sc_event_type_t event;
  sc_obj_t *obj;
  bool key_known;
  sc_kind_t key_kind;
  char key_ns[300], key_name[300]; /* the exact key (a copy), when known */
  size_t key_ns_len, key_name_len;
  sc_diag_t diag;
  char text[1024];
} item_t;

typedef struct {
  item_t items[16];
  size_t n;     /* items reported (only the first 16 are kept) */
  int bad;      /* the callback saw an item that breaks the API contract */
} collect_t;

static int collect_cb(void *arg, const sc_parse_item_t *it) {
  collect_t *c = arg;
  if (it->status == SC_ITEM_OBJECT && it->obj == NULL)
    c->bad = 1;
  if (it->status != SC_ITEM_OBJECT && (it->diag == NULL || it->obj != NULL))
    c->bad = 1;
  if (c->n >= sizeof(c->items) / sizeof(c->items[0])) {
    c->n++;
    sc_obj_unref(it->obj);
    return 0;
  }
  item_t *x = &c->items[c->n++];
  memset(x, 0, sizeof(*x));
  x->status = it->status;
  x->event = it->event;
  x->obj = it->obj;
  x->key_known = it->key_known;
  x->key_kind = it->key_kind;
  if (it->key_known) {
    x->key_ns_len = it->key_namespace.len;
    x->key_name_len = it->key_name.len;
    snprintf(x->key_ns, sizeof(x->key_ns), "%s", it->key_namespace.ptr);
    snprintf(x->key_name, sizeof(x->key_name), "%s", it->key_name.ptr);
  }
  if (it->diag != NULL) {
    x->diag = *it->diag;
    sc_diag_format(it->diag, x->text, sizeof(x->text));
  }
  return 0;
}

static void collect_free(collect_t *c) {
  size_t kept = c->n < 16 ? c->n : 16;
  for (size_t i = 0; i < kept; i++)
    sc_obj_unref(c->items[i].obj);
  c->n = 0;
}

/* ---- the store holding the last good versions ------------------------------------------ */

/* One valid object of every kind, with the names the malformed cases reuse. */
static const char good_objects[] =
    "apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: default}\n"
    "spec: {ports: [{name: http, port: 80}]}\n"
    "---\n"
    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
    "metadata: {name: es, namespace: default, labels: {kubernetes.io/service-name: svc}}\n"
    "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}]\nports: [{name: http, port: 80}]\n"
    "---\n"
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns1}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: pod, namespace: default}\n"
    "status: {podIP: 10.0.0.1}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
    "metadata: {name: se, namespace: default}\n"
    "spec: {hosts: [se.example.com], ports: [{number: 80, name: http, protocol: HTTP}],\n"
    "       resolution: DNS}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
    "metadata: {name: vs, namespace: default}\n"
    "spec: {hosts: [svc], http: [{route: [{destination: {host: svc}}]}]}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
    "metadata: {name: dr, namespace: default}\n"
    "spec: {host: svc, subsets: [{name: v1, labels: {version: v1}}]}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: Sidecar\n"
    "metadata: {name: sc, namespace: default}\n"
    "spec: {egress: [{hosts: [\"./*\"]}]}\n"
    "---\n"
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n"
    "data: {mesh: 'rootNamespace: istio-config'}\n";

#define NGOOD 9

typedef struct {
  sc_store_t *store;
  const sc_obj_t *objs[NGOOD]; /* what the store held after loading */
  uint64_t hashes[NGOOD];
  size_t counts[SC_KIND__COUNT];
} baseline_t;

static int put_items(sc_store_t *store, collect_t *c) {
  int rc = 0;
  size_t kept = c->n < 16 ? c->n : 16;
  for (size_t i = 0; i < kept; i++) {
    item_t *x = &c->items[i];
    if (x->status != SC_ITEM_OBJECT)
      continue;
    sc_change_t ch;
    if (x->event == SC_EVENT_DELETED) {
      rc |= sc_store_delete(store, x->obj->kind, x->obj->namespace_, x->obj->name, &ch);
      sc_obj_unref(x->obj);
    } else {
      rc |= sc_store_put(store, x->obj, &ch); /* takes the reference */
    }
    x->obj = NULL;
    sc_change_release(&ch);
  }
  return rc;
}

/* Loads the good objects; returns 0 when all NGOOD were accepted. */
static int baseline_load(baseline_t *b) {
  memset(b, 0, sizeof(*b));
  if (sc_store_new(&b->store) != 0)
    return -1;
  collect_t c = {0};
  sc_parse_opts_t o = {.source = "good"};
  int rc = sc_parse_yaml(good_objects, strlen(good_objects), &o, collect_cb, &c);
  size_t n = c.n;
  int accepted = 0;
  for (size_t i = 0; i < n && i < 16; i++) {
    if (c.items[i].status == SC_ITEM_OBJECT)
      accepted++;
    else
      fprintf(stderr, "  good object rejected: %s\n", c.items[i].text);
  }
  rc |= put_items(b->store, &c);
  collect_free(&c);
  if (rc != 0 || n != NGOOD || accepted != NGOOD)
    return -1;
  size_t k = 0;
  for (int kind = 0; kind < SC_KIND__COUNT; kind++) {
    sc_obj_list_t l = sc_store_list(b->store, (sc_kind_t)kind);
    b->counts[kind] = l.n;
    for (size_t i = 0; i < l.n && k < NGOOD; i++, k++) {
      b->objs[k] = l.items[i];
      b->hashes[k] = l.items[i]->spec_hash;
    }
  }
  return k == NGOOD ? 0 : -1;
}

/* The store still holds the very objects it held after loading, with their hashes. */
static void baseline_check(const baseline_t *b, const char *id) {
  for (int kind = 0; kind < SC_KIND__COUNT; kind++) {
    if (sc_store_count(b->store, (sc_kind_t)kind) != b->counts[kind])
      fprintf(stderr, "  case %s changed the store\n", id);
    ASSERT_EQ_INT(sc_store_count(b->store, (sc_kind_t)kind), b->counts[kind]);
  }
  for (size_t i = 0; i < NGOOD; i++) {
    const sc_obj_t *o = b->objs[i];
    const sc_obj_t *now = sc_store_get(b->store, o->kind, o->namespace_, o->name);
    if (now != o)
      fprintf(stderr, "  case %s replaced %s %s/%s\n", id, sc_kind_name(o->kind),
              o->namespace_.ptr, o->name.ptr);
    ASSERT(now == o);
    ASSERT_EQ_U64(now->spec_hash, b->hashes[i]);
  }
  /* The mesh config in force is still the good one. */
  ASSERT_EQ_STR(sc_store_mesh(b->store)->root_namespace.ptr, "istio-config");
}

/* ---- the cases ------------------------------------------------------------------------------ */

typedef enum { IN_YAML, IN_JSON, IN_WATCH } input_mode_t;

typedef struct {
  const char *id;
  input_mode_t mode;
  const char *input;
  const char *field;  /* expected diag field, exactly */
  const char *reason; /* expected substring of the reason */
  const char *who;    /* expected "Kind ns/name:" in the formatted line, NULL when unknown */
  unsigned line;      /* expected line (YAML; 0 for JSON input) */
} bad_case_t;

/* Cases that run with tighter parse limits. */
static const struct {
  const char *id;
  size_t max_object_bytes;
  unsigned max_depth;
} case_limits[] = {
    {"deep-nesting", 0, 16},
    {"watch-oversized", 64, 0},
};

#define SVC_HDR "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: default\nspec:\n"
#define SE_HDR                                                                             \
  "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se\n"        \
  "  namespace: default\nspec:\n"
#define VS_HDR                                                                             \
  "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"      \
  "  namespace: default\nspec:\n"
#define DR_HDR                                                                             \
  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr\n"     \
  "  namespace: default\nspec:\n"
#define SC_HDR                                                                             \
  "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: sc\n"             \
  "  namespace: default\nspec:\n"
#define ES_HDR                                                                             \
  "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: es\n"          \
  "  namespace: default\n"
/* Line 7 is the first line after a *_HDR (line 6 for ES_HDR). */

#define WHO_SVC "Service default/svc:"
#define WHO_SE "ServiceEntry default/se:"
#define WHO_VS "VirtualService default/vs:"
#define WHO_DR "DestinationRule default/dr:"
#define WHO_SC "Sidecar default/sc:"
#define WHO_ES "EndpointSlice default/es:"

static const bad_case_t cases[] = {
    /* ---- metadata ---- */
    {"missing-name", IN_YAML,
     "apiVersion: v1\nkind: Service\nmetadata:\n  namespace: default\n  labels: {app: a}\n",
     "metadata.name", "is required", "Service default/(unnamed):", 4},
    {"bad-namespace", IN_YAML,
     "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"
     "  namespace: Bad_NS\nspec:\n  hosts: [svc]\n",
     "metadata.namespace", "must consist of lower case", "VirtualService Bad_NS/vs:", 5},
    {"bad-name", IN_YAML,
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: Bad_Name\n"
     "spec: {hosts: [a.example.com]}\n",
     "metadata.name", "lower case", "ServiceEntry default/Bad_Name:", 4},
    {"service-name-upper", IN_YAML,
     "apiVersion: v1\nkind: Service\nmetadata:\n  name: My-svc\n",
     "metadata.name", "\"My-svc\" must be lower case letters", "Service default/My-svc:", 4},
    {"namespace-name-dot", IN_YAML, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a.b\n",
     "metadata.name", "namespace name \"a.b\"", "Namespace a.b:", 4},
    {"bad-creation-timestamp", IN_YAML,
     "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  creationTimestamp: yesterday\n",
     "metadata.creationTimestamp", "not an RFC 3339 timestamp", WHO_SVC, 5},
    {"label-key", IN_YAML,
     "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  labels:\n    \"bad key!\": x\n",
     "metadata.labels.bad key!", "invalid label key", "Service default/svc:", 6},
    {"label-value", IN_YAML,
     "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  labels:\n    app: -bad-\n",
     "metadata.labels.app", "invalid label value", "Service default/svc:", 6},
    {"metadata-not-object", IN_YAML, "apiVersion: v1\nkind: Service\nmetadata: svc\n",
     "metadata", "expected an object, got a string", "Service (unnamed):", 3},
    {"export-to-annotation-list", IN_JSON,
     J({"apiVersion" : "v1", "kind" : "Service",
        "metadata" : {"name" : "svc", "annotations" : {"networking.istio.io/exportTo" : ["a"]}}}),
     "metadata.annotations.networking.istio.io/exportTo", "expected a string, got a list",
     WHO_SVC, 0},
    /* ---- document level ---- */
    {"kind-not-string", IN_YAML, "apiVersion: v1\nkind: [Service]\nmetadata: {name: svc}\n",
     "kind", "expected a string", NULL, 2},
    {"not-an-object", IN_YAML, "just a string\n", "", "expected an object, got a string", NULL, 1},
    {"list-items-not-list", IN_YAML, "apiVersion: v1\nkind: List\nitems: {a: b}\n", "items",
     "expected a list, got an object", "List (unnamed):", 3},
    {"duplicate-yaml-key", IN_YAML, SE_HDR "  hosts: [a.example.com]\n  hosts: [b.example.com]\n",
     "", "duplicate key \"hosts\"", NULL, 8},
    {"yaml-alias", IN_YAML,
     SE_HDR "  hosts: &h [a.example.com]\n  subjectAltNames: *h\n", "",
     "aliases are not supported", NULL, 8},
    {"yaml-syntax", IN_YAML, SVC_HDR "  ports: [{port: 80}\n  selector: {a: b}\n", "",
     "YAML syntax error", NULL, 8},
    {"deep-nesting", IN_YAML,
     SE_HDR "  hosts: [a.example.com]\n  extra: [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]\n", "",
     "nesting deeper than 16 levels", NULL, 8},
    {"deep-nesting-default", IN_JSON,
     "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"svc\"}, \"x\": "
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
     "", "nesting deeper than 64 levels", NULL, 0},
    {"json-invalid-utf8", IN_JSON,
     "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"svc\", "
     "\"labels\": {\"app\": \"caf\xc3\x28\"}}}",
     "", "JSON syntax error", NULL, 0},
    {"json-lone-surrogate", IN_JSON,
     "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"svc\"}, "
     "\"spec\": {\"externalName\": \"a\\ud800b\"}}",
     "", "JSON syntax error", NULL, 0},
    {"json-nul-in-string", IN_JSON,
     "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"sv\\u0000c\"}}",
     "", "JSON syntax error", NULL, 0},
    {"yaml-invalid-utf8", IN_YAML, SVC_HDR "  externalName: \"caf\xff\"\n", "",
     "YAML syntax error", NULL, 0},
    /* ---- watch events ---- */
    {"watch-oversized", IN_WATCH,
     J({"type" : "ADDED", "object" : {"apiVersion" : "v1", "kind" : "Service",
                                      "metadata" : {"name" : "svc", "namespace" : "default"},
                                      "spec" : {"ports" : [ {"port" : 81} ]}}}),
     "", "exceeds the limit of 64 bytes", NULL, 0},
    {"watch-unknown-type", IN_WATCH,
     J({"type" : "UPDATED", "object" : {"apiVersion" : "v1", "kind" : "Service",
                                        "metadata" : {"name" : "svc"}}}),
     "type", "must be ADDED, MODIFIED, DELETED, BOOKMARK or ERROR", NULL, 0},
    {"watch-missing-object", IN_WATCH, J({"type" : "MODIFIED"}), "object", "is required", NULL, 0},
    {"watch-object-not-object", IN_WATCH, J({"type" : "ADDED", "object" : "svc"}), "object",
     "expected an object", NULL, 0},
    {"watch-missing-type", IN_WATCH,
     J({"object" : {"apiVersion" : "v1", "kind" : "Service", "metadata" : {"name" : "svc"}}}),
     "type", "needs {\"type\"", NULL, 0},
    {"watch-trailing-garbage", IN_WATCH,
     J({"type" : "ADDED", "object" : {"apiVersion" : "v1", "kind" : "Service",
                                      "metadata" : {"name" : "svc"}}}) " x",
     "", "unexpected text after", NULL, 0},
    {"watch-syntax", IN_WATCH, "{\"type\": \"ADDED\", \"object\": {\"kind\": }", "",
     "JSON syntax error", NULL, 0},
    {"watch-deleted-no-metadata", IN_WATCH,
     J({"type" : "DELETED", "object" : {"apiVersion" : "v1", "kind" : "Service"}}), "metadata",
     "is required", "Service (unnamed):", 0},
    {"watch-modified-invalid", IN_WATCH,
     J({"type" : "MODIFIED",
        "object" : {"apiVersion" : "networking.istio.io/v1", "kind" : "Sidecar",
                    "metadata" : {"name" : "sc", "namespace" : "default"},
                    "spec" : {"egress" : [ {"hosts" : []} ]}}}),
     "spec.egress[0].hosts", "must list at least one host", WHO_SC, 0},
    /* ---- wrong JSON types ---- */
    {"string-for-list", IN_JSON,
     J({"apiVersion" : "networking.istio.io/v1", "kind" : "ServiceEntry",
        "metadata" : {"name" : "se", "namespace" : "default"},
        "spec" : {"hosts" : "a.example.com"}}),
     "spec.hosts", "expected a list of strings, got a string", WHO_SE, 0},
    {"list-for-object", IN_JSON,
     J({"apiVersion" : "networking.istio.io/v1", "kind" : "DestinationRule",
        "metadata" : {"name" : "dr", "namespace" : "default"},
        "spec" : {"host" : "svc", "trafficPolicy" : []}}),
     "spec.trafficPolicy", "expected an object, got a list", WHO_DR, 0},
    {"number-for-string", IN_JSON,
     J({"apiVersion" : "networking.istio.io/v1", "kind" : "DestinationRule",
        "metadata" : {"name" : "dr", "namespace" : "default"}, "spec" : {"host" : 5}}),
     "spec.host", "expected a string, got a number", WHO_DR, 0},
    {"string-for-int", IN_JSON,
     J({"apiVersion" : "v1", "kind" : "Service", "metadata" : {"name" : "svc"},
        "spec" : {"ports" : [ {"port" : "80"} ]}}),
     "spec.ports[0].port", "expected an integer, got a string", WHO_SVC, 0},
    {"bool-for-string", IN_JSON,
     J({"apiVersion" : "v1", "kind" : "Service", "metadata" : {"name" : "svc"},
        "spec" : {"clusterIP" : true}}),
     "spec.clusterIP", "expected a string, got a boolean", WHO_SVC, 0},
    {"spec-is-list", IN_JSON,
     J({"apiVersion" : "networking.istio.io/v1", "kind" : "ServiceEntry",
        "metadata" : {"name" : "se", "namespace" : "default"}, "spec" : []}),
     "spec", "expected an object, got a list", WHO_SE, 0},
    {"name-is-number", IN_JSON,
     J({"apiVersion" : "v1", "kind" : "Service", "metadata" : {"name" : 5}}), "metadata.name",
     "expected a string, got a number", "Service default/(unnamed):", 0},
    /* ---- ports ---- */
    {"se-port-0", IN_YAML, SE_HDR "  hosts: [a.example.com]\n  ports:\n  - number: 0\n"
                                  "    name: http\n    protocol: HTTP\n",
     "spec.ports[0].number", "0 is outside 1-65535", WHO_SE, 9},
    {"se-port-70000", IN_YAML, SE_HDR "  hosts: [a.example.com]\n  ports:\n  - number: 70000\n"
                                      "    name: http\n    protocol: HTTP\n",
     "spec.ports[0].number", "70000 is outside 1-65535", WHO_SE, 9},
    {"service-port-string", IN_YAML, SVC_HDR "  ports:\n  - name: http\n    port: \"80\"\n",
     "spec.ports[0].port", "expected an integer, got a string", WHO_SVC, 9},
    {"service-port-70000", IN_YAML, SVC_HDR "  ports:\n  - port: 70000\n",
     "spec.ports[0].port", "outside 1-65535", WHO_SVC, 8},
    {"se-unknown-protocol", IN_YAML,
     SE_HDR "  hosts: [a.example.com]\n  ports:\n  - number: 80\n    name: http\n"
            "    protocol: HTTP3\n",
     "spec.ports[0].protocol", "unknown protocol \"HTTP3\"", WHO_SE, 11},
    {"sidecar-unknown-protocol", IN_YAML,
     SC_HDR "  egress:\n  - port:\n      number: 80\n      protocol: FOO\n      name: x\n"
            "    hosts: [\"./*\"]\n",
     "spec.egress[0].port.protocol", "unknown protocol \"FOO\"", WHO_SC, 10},
    {"service-l4-protocol", IN_YAML, SVC_HDR "  ports:\n  - port: 80\n    protocol: ICMP\n",
     "spec.ports[0].protocol", "unknown protocol \"ICMP\" (one of TCP, UDP, SCTP)", WHO_SVC, 9},
    {"service-port-name", IN_YAML, SVC_HDR "  ports:\n  - port: 80\n    name: Http_Web\n",
     "spec.ports[0].name", "port name \"Http_Web\"", WHO_SVC, 9},
    {"service-duplicate-port", IN_YAML,
     SVC_HDR "  ports:\n  - {name: a, port: 80}\n  - {name: b, port: 80}\n",
     "spec.ports[1]", "duplicate port 80/TCP", WHO_SVC, 0},
    {"service-target-port", IN_YAML, SVC_HDR "  ports:\n  - port: 80\n    targetPort: 65536\n",
     "spec.ports[0].targetPort", "65536 is outside 1-65535", WHO_SVC, 9},
    {"external-name-missing", IN_YAML, SVC_HDR "  type: ExternalName\n", "spec.externalName",
     "is required for type ExternalName", WHO_SVC, 0},
    {"service-type", IN_YAML, SVC_HDR "  type: Headless\n", "spec.type",
     "unknown value \"Headless\" (one of ClusterIP, NodePort, LoadBalancer, ExternalName)",
     WHO_SVC, 7},
    /* ---- hostnames ---- */
    {"vs-host-underscore", IN_YAML,
     VS_HDR "  hosts:\n  - svc\n  - bad_host.example.com\n"
            "  http: [{route: [{destination: {host: svc}}]}]\n",
     "spec.hosts[1]", "invalid host \"bad_host.example.com\"", WHO_VS, 9},
    {"dr-host-empty-label", IN_YAML, DR_HDR "  host: foo..bar\n", "spec.host",
     "invalid host \"foo..bar\": has an empty label", WHO_DR, 7},
    {"dr-host-missing", IN_YAML, DR_HDR "  subsets: [{name: v1}]\n", "spec.host", "is required",
     WHO_DR, 0},
    {"vs-destination-host-wildcard", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n        host: \"a.*.com\"\n",
     "spec.http[0].route[0].destination.host", "invalid host \"a.*.com\"", WHO_VS, 11},
    {"se-host-star", IN_YAML, SE_HDR "  hosts: [\"*\"]\n", "spec.hosts[0]",
     "must not be \"*\"", WHO_SE, 0},
    {"se-hosts-empty", IN_YAML, SE_HDR "  hosts: []\n", "spec.hosts",
     "must list at least one host", WHO_SE, 7},
    {"se-wildcard-middle", IN_YAML, SE_HDR "  hosts: [\"foo.*.com\"]\n", "spec.hosts[0]",
     "invalid host", WHO_SE, 7},
    /* ---- enums and durations ---- */
    {"se-resolution", IN_YAML, SE_HDR "  hosts: [a.example.com]\n  resolution: STATICK\n",
     "spec.resolution", "unknown value \"STATICK\" (one of NONE, STATIC, DNS", WHO_SE, 8},
    {"se-location", IN_YAML, SE_HDR "  hosts: [a.example.com]\n  location: MESH_NEARBY\n",
     "spec.location", "unknown value \"MESH_NEARBY\"", WHO_SE, 8},
    {"sidecar-capture-mode", IN_YAML,
     SC_HDR "  egress:\n  - captureMode: TPROXY\n    hosts: [\"./*\"]\n",
     "spec.egress[0].captureMode", "unknown value \"TPROXY\" (one of DEFAULT, IPTABLES, NONE)",
     WHO_SC, 8},
    {"dr-tls-mode", IN_YAML, DR_HDR "  host: svc\n  trafficPolicy:\n    tls:\n      mode: STRICT\n",
     "spec.trafficPolicy.tls.mode", "unknown value \"STRICT\"", WHO_DR, 10},
    {"dr-lb-simple", IN_YAML,
     DR_HDR "  host: svc\n  trafficPolicy:\n    loadBalancer:\n      simple: FASTEST\n",
     "spec.trafficPolicy.loadBalancer.simple", "unknown value \"FASTEST\"", WHO_DR, 10},
    {"dr-lb-out-of-range-number", IN_YAML,
     DR_HDR "  host: svc\n  trafficPolicy:\n    loadBalancer:\n      simple: 9\n",
     "spec.trafficPolicy.loadBalancer.simple", "outside 0-5", WHO_DR, 10},
    {"vs-timeout", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - route: [{destination: {host: svc}}]\n"
            "    timeout: 10 seconds\n",
     "spec.http[0].timeout", "\"10 seconds\" is not a duration", WHO_VS, 10},
    {"dr-negative-duration", IN_YAML,
     DR_HDR "  host: svc\n  trafficPolicy:\n    connectionPool:\n      tcp:\n"
            "        connectTimeout: -1s\n",
     "spec.trafficPolicy.connectionPool.tcp.connectTimeout", "is not a duration", WHO_DR, 11},
    {"duration-number", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - route: [{destination: {host: svc}}]\n"
            "    timeout: 10\n",
     "spec.http[0].timeout", "expected a string, got a number", WHO_VS, 10},
    /* ---- Sidecar rules ---- */
    {"egress-host-no-slash", IN_YAML, SC_HDR "  egress:\n  - hosts:\n    - reviews.default\n",
     "spec.egress[0].hosts[0]", "must be of the form namespace/dnsName", WHO_SC, 9},
    {"egress-host-two-slashes", IN_YAML,
     SC_HDR "  egress:\n  - hosts:\n    - \"./*\"\n    - a/b/c.com\n", "spec.egress[0].hosts[1]",
     "must be of the form namespace/dnsName", WHO_SC, 10},
    {"egress-host-bad-namespace", IN_YAML, SC_HDR "  egress:\n  - hosts: [\"Bad_NS/*\"]\n",
     "spec.egress[0].hosts[0]", "namespace must be", WHO_SC, 8},
    {"egress-host-empty-dns", IN_YAML, SC_HDR "  egress:\n  - hosts: [\"ns1/\"]\n",
     "spec.egress[0].hosts[0]", "dnsName must not be empty", WHO_SC, 8},
    {"egress-hosts-missing", IN_YAML, SC_HDR "  egress:\n  - port: {number: 80, protocol: HTTP, name: h}\n",
     "spec.egress[0].hosts", "is required", WHO_SC, 0},
    {"egress-catch-all-not-last", IN_YAML,
     SC_HDR "  egress:\n  - hosts: [\"./*\"]\n  - port: {number: 80, protocol: HTTP, name: h}\n"
            "    hosts: [\"*/*\"]\n",
     "spec.egress[0]", "without a port must be the last one", WHO_SC, 0},
    {"egress-duplicate-port", IN_YAML,
     SC_HDR "  egress:\n  - port: {number: 80, protocol: HTTP, name: a}\n    hosts: [\"./*\"]\n"
            "  - port: {number: 80, protocol: HTTP, name: b}\n    hosts: [\"*/*\"]\n",
     "spec.egress[1].port.number", "duplicate egress port 80", WHO_SC, 0},
    {"sidecar-dynamic-dns", IN_YAML,
     SC_HDR "  outboundTrafficPolicy:\n    mode: ALLOW_ANY_DYNAMIC_DNS\n",
     "spec.outboundTrafficPolicy.mode", "ALLOW_ANY_DYNAMIC_DNS is not allowed in a Sidecar",
     WHO_SC, 0},
    {"sidecar-egress-proxy-registry-only", IN_YAML,
     SC_HDR "  outboundTrafficPolicy:\n    mode: REGISTRY_ONLY\n"
            "    egressProxy: {host: egress.example.com}\n",
     "spec.outboundTrafficPolicy.egressProxy", "needs mode ALLOW_ANY", WHO_SC, 0},
    {"ingress-port-0", IN_YAML,
     SC_HDR "  ingress:\n  - port: {number: 0, protocol: HTTP, name: h}\n"
            "    defaultEndpoint: 127.0.0.1:8080\n",
     "spec.ingress[0].port.number", "must be 1-65535", WHO_SC, 0},
    {"ingress-default-endpoint", IN_YAML,
     SC_HDR "  ingress:\n  - port: {number: 80, protocol: HTTP, name: h}\n"
            "    defaultEndpoint: localhost:8080\n",
     "spec.ingress[0].defaultEndpoint", "must be IP:PORT", WHO_SC, 9},
    {"egress-bind", IN_YAML, SC_HDR "  egress:\n  - bind: localhost\n    hosts: [\"./*\"]\n",
     "spec.egress[0].bind", "bind \"localhost\" must be an IP address", WHO_SC, 8},
    {"sidecar-port-70000", IN_YAML,
     SC_HDR "  egress:\n  - port: {number: 70000, protocol: HTTP, name: h}\n"
            "    hosts: [\"./*\"]\n",
     "spec.egress[0].port.number", "outside 0-65535", WHO_SC, 8},
    /* ---- ServiceEntry rules ---- */
    {"se-duplicate-ports", IN_YAML,
     SE_HDR "  hosts: [a.example.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n"
            "  - {number: 80, name: http2, protocol: HTTP2}\n",
     "spec.ports[1]", "duplicate port number or name", WHO_SE, 0},
    {"se-none-with-endpoints", IN_YAML,
     SE_HDR "  hosts: [a.example.com]\n  resolution: NONE\n  endpoints: [{address: 1.2.3.4}]\n",
     "spec.endpoints", "no endpoints may be given with resolution NONE", WHO_SE, 0},
    {"se-selector-and-endpoints", IN_YAML,
     SE_HDR "  hosts: [a.example.com]\n  resolution: STATIC\n  endpoints: [{address: 10.0.0.1}]\n"
            "  workloadSelector: {labels: {app: x}}\n",
     "spec.workloadSelector", "only one of workloadSelector and endpoints may be set", WHO_SE, 0},
    {"se-bad-cidr", IN_YAML,
     SE_HDR "  hosts: [a.example.com]\n  addresses:\n  - 10.0.0.0/8\n  - 10.0.0.0/33\n",
     "spec.addresses[1]", "\"10.0.0.0/33\" is not an IP address or CIDR block", WHO_SE, 10},
    {"se-bad-address", IN_YAML, SE_HDR "  hosts: [a.example.com]\n  addresses: [300.1.1.1]\n",
     "spec.addresses[0]", "is not an IP address or CIDR block", WHO_SE, 8},
    {"se-endpoint-address", IN_YAML,
     SE_HDR "  hosts: [a.example.com]\n  resolution: STATIC\n  endpoints:\n"
            "  - address: \"not an address\"\n",
     "spec.endpoints[0].address", "is not an IP address, hostname or unix:// path", WHO_SE, 10},
    {"se-endpoint-port-string", IN_YAML,
     SE_HDR "  hosts: [a.example.com]\n  resolution: STATIC\n  endpoints:\n"
            "  - address: 1.2.3.4\n    ports: {http: eighty}\n",
     "spec.endpoints[0].ports.http", "expected an integer, got a string", WHO_SE, 11},
    {"se-workload-selector-label", IN_YAML,
     SE_HDR "  hosts: [a.example.com]\n  workloadSelector:\n    labels: {app: \"a b\"}\n",
     "spec.workloadSelector.labels.app", "invalid label value", WHO_SE, 9},
    /* ---- exportTo ---- */
    {"export-to-invalid", IN_YAML, DR_HDR "  host: svc\n  exportTo: [\".\", Bad_NS]\n",
     "spec.exportTo[1]", "exportTo value \"Bad_NS\"", WHO_DR, 8},
    {"export-to-se", IN_YAML, SE_HDR "  hosts: [a.example.com]\n  exportTo: [\"*.ns\"]\n",
     "spec.exportTo[0]", "exportTo value", WHO_SE, 8},
    /* ---- VirtualService rules ---- */
    {"vs-route-missing", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - match: [{uri: {prefix: /}}]\n    timeout: 5s\n",
     "spec.http[0]", "needs one of route, redirect, directResponse or delegate", WHO_VS, 0},
    {"vs-route-and-redirect", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - route: [{destination: {host: svc}}]\n"
            "    redirect: {uri: /x}\n",
     "spec.http[0]", "cannot be combined with redirect", WHO_VS, 0},
    {"vs-tls-no-sni", IN_YAML,
     VS_HDR "  hosts: [svc]\n  tls:\n  - match: [{port: 443}]\n"
            "    route: [{destination: {host: svc}}]\n",
     "spec.tls[0].match[0].sniHosts", "is required for tls routes", WHO_VS, 0},
    {"vs-tcp-no-route", IN_YAML, VS_HDR "  hosts: [svc]\n  tcp:\n  - match: [{port: 3306}]\n",
     "spec.tcp[0]", "route must have at least one destination", WHO_VS, 0},
    /* Istio only rejects negative weights (validateWeight); weights are relative. */
    {"vs-weight-negative", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - route:\n    - destination: {host: svc}\n"
            "      weight: -1\n",
     "spec.http[0].route[0].weight", "-1 is outside", WHO_VS, 11},
    {"vs-destination-missing", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - route:\n    - weight: 100\n",
     "spec.http[0].route[0].destination", "is required", WHO_VS, 0},
    {"vs-match-two-kinds", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - match:\n    - uri: {exact: /a, prefix: /b}\n"
            "    route: [{destination: {host: svc}}]\n",
     "spec.http[0].match[0].uri.prefix", "only one of exact, prefix and regex", WHO_VS, 10},
    {"vs-redirect-code", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - redirect:\n      uri: /x\n      redirectCode: 200\n",
     "spec.http[0].redirect.redirectCode", "200 is outside 300-399", WHO_VS, 11},
    {"vs-fault-percentage", IN_YAML,
     VS_HDR "  hosts: [svc]\n  http:\n  - route: [{destination: {host: svc}}]\n"
            "    fault:\n      abort:\n        httpStatus: 503\n        percentage: {value: 150}\n",
     "spec.http[0].fault.abort.percentage", "150 is outside 0-100", WHO_VS, 0},
    {"vs-destination-subnet", IN_YAML,
     VS_HDR "  hosts: [svc]\n  tcp:\n  - match: [{destinationSubnets: [10.0.0.0/40]}]\n"
            "    route: [{destination: {host: svc}}]\n",
     "spec.tcp[0].match[0].destinationSubnets[0]", "is not an IP address or CIDR block", WHO_VS,
     0},
    /* ---- DestinationRule rules ---- */
    {"dr-duplicate-subsets", IN_YAML,
     DR_HDR "  host: svc\n  subsets:\n  - name: v1\n  - name: v2\n  - name: v1\n",
     "spec.subsets[2]", "duplicate subset name \"v1\"", WHO_DR, 0},
    {"dr-subset-name-missing", IN_YAML,
     DR_HDR "  host: svc\n  subsets:\n  - labels: {version: v1}\n", "spec.subsets[0].name",
     "is required", WHO_DR, 0},
    {"dr-duplicate-port-level", IN_YAML,
     DR_HDR "  host: svc\n  trafficPolicy:\n    portLevelSettings:\n"
            "    - port: {number: 80}\n      tls: {mode: SIMPLE}\n"
            "    - port: {number: 80}\n      tls: {mode: DISABLE}\n",
     "spec.trafficPolicy.portLevelSettings[1]", "duplicate port 80", WHO_DR, 0},
    {"dr-outlier-percent", IN_YAML,
     DR_HDR "  host: svc\n  trafficPolicy:\n    outlierDetection:\n"
            "      maxEjectionPercent: 101\n",
     "spec.trafficPolicy.outlierDetection.maxEjectionPercent", "101 is outside 0-100", WHO_DR,
     10},
    {"dr-workload-selector-key", IN_YAML,
     DR_HDR "  host: svc\n  workloadSelector:\n    matchLabels:\n      \"a/b/c\": x\n",
     "spec.workloadSelector.matchLabels.a/b/c", "invalid label key", WHO_DR, 10},
    /* ---- EndpointSlice ---- */
    {"slice-non-ip", IN_YAML, ES_HDR "addressType: IPv4\nendpoints:\n- addresses: [10.0.0.1, db.example.com]\n",
     "endpoints[0].addresses[1]", "\"db.example.com\" is not an IP address", WHO_ES, 0},
    {"slice-address-type", IN_YAML, ES_HDR "addressType: IPv5\n", "addressType",
     "unknown address type \"IPv5\"", WHO_ES, 6},
    {"slice-address-type-missing", IN_YAML, ES_HDR "endpoints: []\n", "addressType",
     "is required", WHO_ES, 0},
    {"slice-no-addresses", IN_YAML, ES_HDR "addressType: IPv4\nendpoints:\n- addresses: []\n",
     "endpoints[0].addresses", "must list at least one address", WHO_ES, 8},
    {"slice-conditions-type", IN_YAML,
     ES_HDR "addressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n  conditions: {ready: yes}\n",
     "endpoints[0].conditions.ready", "expected a boolean", WHO_ES, 9},
    /* ---- Pod ---- */
    {"pod-bad-ip", IN_YAML,
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod\nstatus:\n  podIP: 10.0.0.300\n",
     "status.podIP", "\"10.0.0.300\" is not an IP address", "Pod default/pod:", 6},
    /* ---- mesh config ---- */
    {"mesh-configmap-bad-duration", IN_YAML,
     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\n"
     "data:\n  mesh: |\n    rootNamespace: istio-config\n    connectTimeout: soon\n",
     "data.mesh.connectTimeout", "\"soon\" is not a duration", "ConfigMap istio-system/istio:",
     9},
    {"mesh-configmap-bad-mode", IN_YAML,
     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\n"
     "data:\n  mesh: |\n    outboundTrafficPolicy:\n      mode: DENY\n",
     "data.mesh.outboundTrafficPolicy.mode", "unknown value \"DENY\"",
     "ConfigMap istio-system/istio:", 9},
    {"mesh-configmap-syntax", IN_YAML,
     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\n"
     "data:\n  mesh: |\n    rootNamespace: [istio-config\n",
     "data.mesh", "YAML syntax error", "ConfigMap istio-system/istio:", 0},
    {"mesh-configmap-not-object", IN_YAML,
     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\n"
     "data:\n  mesh: just text\n",
     "data.mesh", "mesh config must be an object", "ConfigMap istio-system/istio:", 0},
    {"mesh-configmap-no-mesh-key", IN_YAML,
     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\n"
     "data:\n  meshNetworks: x\n",
     "data.mesh", "is required", "ConfigMap istio-system/istio:", 0},
    {"mesh-configmap-root-namespace", IN_JSON,
     J({"apiVersion" : "v1", "kind" : "ConfigMap",
        "metadata" : {"name" : "istio", "namespace" : "istio-system"},
        "data" : {"mesh" : "rootNamespace: Not_A_Namespace"}}),
     "data.mesh.rootNamespace", "must consist of lower case", "ConfigMap istio-system/istio:", 0},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static int run_case(const bad_case_t *k, collect_t *c) {
  sc_parse_opts_t o = {.source = "test"};
  for (size_t i = 0; i < sizeof(case_limits) / sizeof(case_limits[0]); i++) {
    if (strcmp(case_limits[i].id, k->id) == 0) {
      o.max_object_bytes = case_limits[i].max_object_bytes;
      o.max_depth = case_limits[i].max_depth;
    }
  }
  size_t len = strlen(k->input);
  switch (k->mode) {
  case IN_YAML:
    return sc_parse_yaml(k->input, len, &o, collect_cb, c);
  case IN_JSON:
    return sc_parse_json(k->input, len, &o, collect_cb, c);
  case IN_WATCH:
    return sc_parse_watch_event(k->input, len, &o, collect_cb, c);
  }
  return -1;
}

/* The kind a "Kind ns/name:" string names (ConfigMap istio is the MeshConfig). */
static int kind_of_who(const char *who) {
  static const struct {
    const char *prefix;
    sc_kind_t kind;
  } map[] = {{"Service ", SC_KIND_SERVICE},           {"EndpointSlice ", SC_KIND_ENDPOINT_SLICE},
             {"Namespace ", SC_KIND_NAMESPACE},       {"Pod ", SC_KIND_POD},
             {"ServiceEntry ", SC_KIND_SERVICE_ENTRY}, {"VirtualService ", SC_KIND_VIRTUAL_SERVICE},
             {"DestinationRule ", SC_KIND_DESTINATION_RULE}, {"Sidecar ", SC_KIND_SIDECAR},
             {"ConfigMap ", SC_KIND_MESH_CONFIG}};
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (strncmp(who, map[i].prefix, strlen(map[i].prefix)) == 0)
      return (int)map[i].kind;
  return -1;
}

/* Checks one case; returns without cleaning up only on failure. */
static void check_case(const bad_case_t *k, baseline_t *b) {
  collect_t c = {0};
  int rc = run_case(k, &c);
  if (c.n != 1 || c.items[0].status != SC_ITEM_REJECTED) {
    fprintf(stderr, "  case %s: expected one REJECTED item, got %zu:\n", k->id, c.n);
    for (size_t i = 0; i < c.n && i < 16; i++)
      fprintf(stderr, "    status %d %s\n", (int)c.items[i].status, c.items[i].text);
  }
  ASSERT_EQ_INT(rc, 0);
  ASSERT(!c.bad);
  ASSERT_EQ_INT(c.n, 1);
  const item_t *x = &c.items[0];
  if (getenv("SC_TEST_VERBOSE") != NULL)
    fprintf(stderr, "  %-36s %s\n", k->id, x->text);
  ASSERT_EQ_INT(x->status, SC_ITEM_REJECTED);
  ASSERT(x->obj == NULL);
  ASSERT_EQ_STR(x->diag.source, "test");
  if (strcmp(x->diag.field, k->field) != 0 || strstr(x->diag.reason, k->reason) == NULL)
    fprintf(stderr, "  case %s: %s\n", k->id, x->text);
  ASSERT_EQ_STR(x->diag.field, k->field);
  if (k->field[0] != '\0')
    ASSERT_CONTAINS(x->text, k->field);
  ASSERT_CONTAINS(x->diag.reason, k->reason);
  ASSERT_CONTAINS(x->text, k->reason);
  if (k->who != NULL) {
    char who[320];
    snprintf(who, sizeof(who), " %s", k->who);
    if (strstr(x->text, who) == NULL)
      fprintf(stderr, "  case %s: %s\n", k->id, x->text);
    ASSERT_CONTAINS(x->text, who);
  }
  /* The key is reported when the object's name was read. */
  if (x->key_known) {
    ASSERT(x->diag.name[0] != '\0');
    ASSERT(k->who != NULL);
    ASSERT(strstr(k->who, "(unnamed)") == NULL);
    ASSERT_EQ_INT(x->key_kind, kind_of_who(k->who));
  }
  if (k->who != NULL && strstr(k->who, "(unnamed)") == NULL && strstr(k->who, "List") == NULL)
    ASSERT(x->key_known);
  if (k->mode == IN_YAML) {
    /* YAML input always carries a line. */
    char pos[64];
    snprintf(pos, sizeof(pos), "test:%" PRIu64 ":", x->diag.line);
    ASSERT(x->diag.line >= 1);
    ASSERT_CONTAINS(x->text, pos);
    if (k->line != 0) {
      if (x->diag.line != k->line)
        fprintf(stderr, "  case %s: %s\n", k->id, x->text);
      ASSERT_EQ_U64(x->diag.line, k->line);
    }
  }
  /* The store keeps the last good versions. */
  ASSERT_EQ_INT(put_items(b->store, &c), 0);
  collect_free(&c);
  baseline_check(b, k->id);
}

TEST(malformed_cases_rejected) {
  ASSERT(NCASES >= 40);
  baseline_t b;
  ASSERT_EQ_INT(baseline_load(&b), 0);
  baseline_check(&b, "baseline");
  int failed_before = sc_test_failed;
  size_t failed = 0;
  for (size_t i = 0; i < NCASES; i++) {
    sc_test_failed = 0;
    check_case(&cases[i], &b);
    if (sc_test_failed) {
      fprintf(stderr, "  ^ case %s failed\n", cases[i].id);
      failed++;
    }
  }
  sc_test_failed = failed_before || failed > 0;
  sc_store_del(b.store);
  if (failed > 0)
    fprintf(stderr, "  %zu of %zu malformed cases failed\n", failed, NCASES);
}

TEST(malformed_case_ids_unique) {
  for (size_t i = 0; i < NCASES; i++)
    for (size_t j = 0; j < i; j++)
      ASSERT(strcmp(cases[i].id, cases[j].id) != 0);
}

/* Each case is also rejected when it arrives as the middle document of a stream, and the
 * documents around it are still accepted. */
TEST(malformed_yaml_in_a_stream) {
  size_t checked = 0;
  for (size_t i = 0; i < NCASES; i++) {
    const bad_case_t *k = &cases[i];
    if (k->mode != IN_YAML || strcmp(k->id, "deep-nesting") == 0)
      continue;
    const char *pre = "apiVersion: v1\nkind: Namespace\nmetadata: {name: before}\n---\n";
    const char *post = "\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: after}\n";
    size_t n = strlen(pre) + strlen(k->input) + strlen(post) + 1;
    char *buf = malloc(n);
    ASSERT(buf != NULL);
    snprintf(buf, n, "%s%s%s", pre, k->input, post);
    collect_t c = {0};
    sc_parse_opts_t o = {.source = "stream"};
    int rc = sc_parse_yaml(buf, strlen(buf), &o, collect_cb, &c);
    free(buf);
    bool shape = c.n == 3 && c.items[0].status == SC_ITEM_OBJECT &&
                 c.items[1].status == SC_ITEM_REJECTED && c.items[2].status == SC_ITEM_OBJECT &&
                 sc_str_eqz(c.items[2].obj->name, "after");
    uint64_t line = c.n >= 2 ? c.items[1].diag.line : 0;
    /* Lines are counted in the whole stream: the bad document starts after the "---" on
     * line 4. */
    bool line_ok = k->line != 0 ? line == k->line + 4 : line >= 4;
    if (!shape || !line_ok) {
      fprintf(stderr, "  case %s in a stream gave %zu items:\n", k->id, c.n);
      for (size_t j = 0; j < c.n && j < 16; j++)
        fprintf(stderr, "    status %d %s\n", (int)c.items[j].status, c.items[j].text);
    }
    collect_free(&c);
    ASSERT_EQ_INT(rc, 0);
    ASSERT(shape);
    ASSERT(line_ok);
    checked++;
  }
  ASSERT(checked >= 40);
}

TEST(malformed_mesh_config_document) {
  static const struct {
    const char *text, *field, *reason;
    unsigned line;
  } mesh[] = {
      {"rootNamespace: istio-system\nconnectTimeout: 5 s\n", "connectTimeout", "is not a duration",
       2},
      {"outboundTrafficPolicy:\n  mode: ALLOW_NONE\n", "outboundTrafficPolicy.mode",
       "unknown value \"ALLOW_NONE\"", 2},
      {"proxyListenPort: 99999\n", "proxyListenPort", "outside 0-65535", 1},
      {"enableAutoMtls: maybe\n", "enableAutoMtls", "expected a boolean", 1},
      {"defaultServiceExportTo: \"*\"\n", "defaultServiceExportTo", "expected a list of strings",
       1},
      {"- a\n- b\n", "", "mesh config must be an object", 1},
      {"rootNamespace: [\n", "", "YAML syntax error", 0},
      {"a: 1\na: 2\n", "", "duplicate key", 2},
  };
  for (size_t i = 0; i < sizeof(mesh) / sizeof(mesh[0]); i++) {
    sc_parse_opts_t o = {.source = "mesh.yaml"};
    sc_obj_t *obj = NULL;
    sc_diag_t diag;
    char text[1024];
    int rc = sc_parse_mesh_config(mesh[i].text, strlen(mesh[i].text), &o, &obj, &diag);
    sc_diag_format(&diag, text, sizeof(text));
    if (rc == 0)
      sc_obj_unref(obj);
    ASSERT(rc != 0);
    ASSERT(rc != SC_ENOMEM);
    ASSERT(obj == NULL);
    ASSERT_EQ_STR(diag.field, mesh[i].field);
    ASSERT_CONTAINS(diag.reason, mesh[i].reason);
    ASSERT_CONTAINS(text, "mesh.yaml:");
    ASSERT_CONTAINS(text, "MeshConfig");
    if (mesh[i].line != 0)
      ASSERT_EQ_U64(diag.line, mesh[i].line);
  }
}

TEST(unknown_kinds_skipped_not_rejected) {
  static const char *const docs[] = {
      "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: default}\n",
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n",
      "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {}\n",
      "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default}\n",
      /* a known kind in an unknown group or version is not that kind */
      "apiVersion: example.com/v1\nkind: Service\nmetadata: {name: svc}\n",
      "apiVersion: networking.istio.io/v2\nkind: Sidecar\nmetadata: {name: sc}\nspec: {}\n",
      "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: es}\n",
      /* even with an invalid body: its content is never looked at */
      "apiVersion: v1\nkind: Secret\nmetadata: {name: Not_Valid}\ndata: [1, 2]\n",
  };
  baseline_t b;
  ASSERT_EQ_INT(baseline_load(&b), 0);
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    collect_t c = {0};
    sc_parse_opts_t o = {.source = "test"};
    ASSERT_EQ_INT(sc_parse_yaml(docs[i], strlen(docs[i]), &o, collect_cb, &c), 0);
    ASSERT_EQ_INT(c.n, 1);
    if (c.items[0].status != SC_ITEM_SKIPPED)
      fprintf(stderr, "  doc %zu: %s\n", i, c.items[0].text);
    ASSERT_EQ_INT(c.items[0].status, SC_ITEM_SKIPPED);
    ASSERT(c.items[0].obj == NULL);
    ASSERT_CONTAINS(c.items[0].text, "test:1:");
    ASSERT(strstr(c.items[0].text, "unknown kind") != NULL ||
           strstr(c.items[0].text, "unsupported API version") != NULL);
    ASSERT_EQ_INT(put_items(b.store, &c), 0);
    collect_free(&c);
    baseline_check(&b, "unknown kind");
  }
  /* The same through a watch event and in a List. */
  collect_t c = {0};
  sc_parse_opts_t o = {.source = "test"};
  const char *ev = J({"type" : "ADDED", "object" : {"apiVersion" : "v1", "kind" : "Secret",
                                                    "metadata" : {"name" : "s"}}});
  ASSERT_EQ_INT(sc_parse_watch_event(ev, strlen(ev), &o, collect_cb, &c), 0);
  ASSERT_EQ_INT(c.n, 1);
  ASSERT_EQ_INT(c.items[0].status, SC_ITEM_SKIPPED);
  collect_free(&c);
  const char *list = "apiVersion: v1\nkind: List\nitems:\n"
                     "- {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: y}}\n"
                     "- {apiVersion: v1, kind: Secret, metadata: {name: x}}\n";
  ASSERT_EQ_INT(sc_parse_yaml(list, strlen(list), &o, collect_cb, &c), 0);
  ASSERT_EQ_INT(c.n, 2);
  ASSERT_EQ_INT(c.items[0].status, SC_ITEM_SKIPPED);
  ASSERT_EQ_INT(c.items[1].status, SC_ITEM_SKIPPED);
  ASSERT_CONTAINS(c.items[1].text, "test:5:");
  collect_free(&c);
  sc_store_del(b.store);
}

TEST(rejected_valid_mix_keeps_good_objects) {
  /* A stream where a good update and a bad update of the same objects arrive: the good
   * one replaces the stored version, the bad one changes nothing. */
  baseline_t b;
  ASSERT_EQ_INT(baseline_load(&b), 0);
  const char *text = SE_HDR "  hosts: [se.example.com, se2.example.com]\n  resolution: DNS\n"
                            "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
                            "---\n" SE_HDR "  hosts: [\"*\"]\n";
  collect_t c = {0};
  sc_parse_opts_t o = {.source = "test"};
  ASSERT_EQ_INT(sc_parse_yaml(text, strlen(text), &o, collect_cb, &c), 0);
  ASSERT_EQ_INT(c.n, 2);
  ASSERT_EQ_INT(c.items[0].status, SC_ITEM_OBJECT);
  ASSERT_EQ_INT(c.items[1].status, SC_ITEM_REJECTED);
  ASSERT_EQ_INT(put_items(b.store, &c), 0);
  collect_free(&c);
  const sc_obj_t *se =
      sc_store_get(b.store, SC_KIND_SERVICE_ENTRY, sc_str("default"), sc_str("se"));
  ASSERT(se != NULL);
  ASSERT_EQ_INT(se->u.service_entry.hosts.n, 2);
  ASSERT_EQ_INT(sc_store_count(b.store, SC_KIND_SERVICE_ENTRY), 1);
  ASSERT_EQ_INT(sc_store_list_hostname(b.store, SC_KIND_SERVICE_ENTRY, sc_str("se2.example.com")).n,
                1);
  sc_store_del(b.store);
}

/* A rejection names the object whenever its name can be read (docs/architecture.md
 * "Parse and validate": kind, namespace/name, field, reason), also when the bad field is in metadata itself. */
TEST(metadata_errors_name_the_object) {
  static const char *const docs[] = {
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: default\n"
      "  labels:\n    \"bad key!\": x\n",
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: default\n"
      "  labels:\n    app: -bad-\n",
      "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: sc\n"
      "  namespace: default\n  labels: [a]\nspec: {egress: [{hosts: [\"./*\"]}]}\n",
  };
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    collect_t c = {0};
    sc_parse_opts_t o = {.source = "test"};
    int rc = sc_parse_yaml(docs[i], strlen(docs[i]), &o, collect_cb, &c);
    char text[1024];
    snprintf(text, sizeof(text), "%s", c.n > 0 ? c.items[0].text : "");
    bool rejected = c.n == 1 && c.items[0].status == SC_ITEM_REJECTED;
    bool key_known = c.n == 1 && c.items[0].key_known;
    collect_free(&c);
    ASSERT_EQ_INT(rc, 0);
    ASSERT(rejected);
    ASSERT_CONTAINS(text, "metadata.labels");
    ASSERT_CONTAINS(text, i < 2 ? " Service default/svc:" : " Sidecar default/sc:");
    ASSERT(key_known);
  }
}

/* libyaml reports encoding errors by offset; the diagnostic must still carry the line of
 * the bad byte, not the first line of the document. */
/* A rejected object's key is exact or unknown, never cut down to another object's key:
 * diag's copies are truncated for display, key_namespace/key_name are not. */
TEST(rejected_keys_exact_or_unknown) {
  char ns64[65];
  memset(ns64, 'n', 64);
  ns64[64] = 0;
  char doc[600];
  snprintf(doc, sizeof(doc),
           "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"x\","
           "\"namespace\":\"%s\"},\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80}]}}",
           ns64);
  collect_t c = {0};
  sc_parse_opts_t o = {.source = "test"};
  ASSERT_EQ_INT(sc_parse_json(doc, strlen(doc), &o, collect_cb, &c), 0);
  ASSERT_EQ_INT((int)c.n, 1);
  ASSERT_EQ_INT(c.items[0].status, SC_ITEM_REJECTED);
  ASSERT(c.items[0].key_known);
  ASSERT_EQ_INT((int)c.items[0].key_ns_len, 64);
  ASSERT_EQ_STR(c.items[0].key_ns, ns64);
  ASSERT_EQ_STR(c.items[0].key_name, "x");
  ASSERT(strlen(c.items[0].diag.namespace_) < 64); /* the display copy is cut */
  collect_free(&c);

  static const char nul_name[] =
      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"a\\u0000evil\","
      "\"namespace\":\"default\"},\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80}]}}";
  ASSERT_EQ_INT(sc_parse_json(nul_name, strlen(nul_name), &o, collect_cb, &c), 0);
  ASSERT_EQ_INT((int)c.n, 1);
  ASSERT_EQ_INT(c.items[0].status, SC_ITEM_REJECTED);
  ASSERT(!c.items[0].key_known);
  collect_free(&c);

  static const char nul_ns[] =
      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"a\","
      "\"namespace\":\"ns1\\u0000x\"},\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80}]}}";
  ASSERT_EQ_INT(sc_parse_json(nul_ns, strlen(nul_ns), &o, collect_cb, &c), 0);
  ASSERT_EQ_INT((int)c.n, 1);
  ASSERT(!c.items[0].key_known);
  collect_free(&c);
}

TEST(invalid_utf8_yaml_line) {
  const char *text = SVC_HDR "  externalName: \"caf\xff\"\n";
  collect_t c = {0};
  sc_parse_opts_t o = {.source = "test"};
  int rc = sc_parse_yaml(text, strlen(text), &o, collect_cb, &c);
  bool rejected = c.n == 1 && c.items[0].status == SC_ITEM_REJECTED;
  uint64_t line = c.n == 1 ? c.items[0].diag.line : 0;
  if (line != 7)
    fprintf(stderr, "  %s\n", c.n == 1 ? c.items[0].text : "");
  collect_free(&c);
  ASSERT_EQ_INT(rc, 0);
  ASSERT(rejected);
  ASSERT_EQ_U64(line, 7);
}

/* Mapping keys that are not scalars (YAML "complex keys") are not valid in a Kubernetes
 * object: the object is rejected, nothing crashes (doc.c compares keys for duplicates),
 * and the store is unchanged. Kept last: a crash here would hide the other results. */
TEST(complex_yaml_keys_rejected) {
  static const char *const docs[] = {
      /* two sequence keys of the same length */
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: default\n"
      "  labels: {[a, b, c, d]: x, [e, f, g, h]: y}\n",
      /* two mapping keys with the same number of entries */
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: default\n"
      "spec:\n  selector:\n    ? {a: 1, b: 2, c: 3, d: 4}\n    : x\n"
      "    ? {e: 1, f: 2, g: 3, h: 4}\n    : y\n",
      /* one complex key */
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: default\n"
      "  labels:\n    ? [a]\n    : x\n",
      /* at the top level of the document */
      "? [apiVersion, kind]\n: [v1, Service]\nmetadata: {name: svc}\n",
  };
  baseline_t b;
  ASSERT_EQ_INT(baseline_load(&b), 0);
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    collect_t c = {0};
    sc_parse_opts_t o = {.source = "test"};
    int rc = sc_parse_yaml(docs[i], strlen(docs[i]), &o, collect_cb, &c);
    bool rejected = c.n == 1 && c.items[0].status == SC_ITEM_REJECTED;
    uint64_t line = c.n == 1 ? c.items[0].diag.line : 0;
    if (!rejected)
      fprintf(stderr, "  doc %zu: %zu items, first: %s\n", i, c.n, c.n ? c.items[0].text : "");
    ASSERT_EQ_INT(put_items(b.store, &c), 0);
    collect_free(&c);
    ASSERT_EQ_INT(rc, 0);
    ASSERT(rejected);
    ASSERT(line >= 1);
    baseline_check(&b, "complex key");
  }
  sc_store_del(b.store);
}

TEST_LIST = {
    TEST_ENTRY(malformed_case_ids_unique),
    TEST_ENTRY(malformed_cases_rejected),
    TEST_ENTRY(malformed_yaml_in_a_stream),
    TEST_ENTRY(malformed_mesh_config_document),
    TEST_ENTRY(unknown_kinds_skipped_not_rejected),
    TEST_ENTRY(rejected_valid_mix_keeps_good_objects),
    TEST_ENTRY(metadata_errors_name_the_object),
    TEST_ENTRY(rejected_keys_exact_or_unknown),
    TEST_ENTRY(invalid_utf8_yaml_line),
    TEST_ENTRY(complex_yaml_keys_rejected),
    TEST_LIST_END,
};
