/* scopecast-dump fetch (dump_fetch.h): one ADS stream over HTTP/2 (nghttp2's client
 * session over a blocking-style loop of poll(2) on one socket), driven the way Envoy
 * drives it, and the answer printed with the printing of `resources` (dump_common.h). */
#include "dump_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "dump_common.h"
#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "wire/grpc_frame.h"
#include "wire/registry.h"
#include "scopecast/error.h"
#include "scopecast/reader.h"
#include "store/strmap.h"

#define SOTW_PATH "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
#define DELTA_PATH "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
#define MAX_RESPONSE_BYTES (1024u * 1024 * 1024) /* a response's gRPC message, at most */
#define WINDOW_BYTES 268435456                 /* as Envoy: the frontend is never held by our windows */
#define READ_BYTES (256 * 1024)
#define GRPC_INVALID_ARGUMENT 3

/* ---- small things ------------------------------------------------------------------------ */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *grpc_status_name(int code) {
  static const char *const names[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};
  return code >= 0 && code < (int)(sizeof(names) / sizeof(names[0])) ? names[code] : "?";
}

/* A set of names: sorted and unique once sealed (owned strings). */
typedef struct {
  char **v;
  size_t n, cap;
} names_t;

static int names_add(names_t *s, const char *name) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    char **v = realloc(s->v, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    s->v = v;
    s->cap = cap;
  }
  if ((s->v[s->n] = strdup(name)) == NULL)
    return -1;
  s->n++;
  return 0;
}

static int cmp_strp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void names_seal(names_t *s) {
  if (s->n == 0)
    return;
  qsort(s->v, s->n, sizeof(*s->v), cmp_strp);
  size_t k = 1;
  for (size_t i = 1; i < s->n; i++) {
    if (strcmp(s->v[i], s->v[k - 1]) == 0)
      free(s->v[i]);
    else
      s->v[k++] = s->v[i];
  }
  s->n = k;
}

static bool names_has(const names_t *s, const char *name) {
  return s->n > 0 && bsearch(&name, s->v, s->n, sizeof(*s->v), cmp_strp) != NULL;
}

static bool names_equal(const names_t *a, const names_t *b) {
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->v[i], b->v[i]) != 0)
      return false;
  return true;
}

static void names_free(names_t *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  *s = (names_t){NULL, 0, 0};
}

/* ---- state ------------------------------------------------------------------------------- */

typedef enum {
  FETCH_WAITING,   /* for the first answer of the asked type */
  FETCH_FOLLOWING, /* printing further versions */
  FETCH_DONE,
  FETCH_FAILED
} fetch_state_t;

typedef struct {
  bool requested;           /* asked for on the stream */
  names_t subscribed;       /* EDS and RDS: the names asked for */
  sc_resource_list_t held;  /* what the client holds, in the order the frontend sent it */
  char *version_info;       /* of the last response accepted (Delta: system_version_info) */
  char *nonce;              /* of the last response */
  unsigned responses;
} type_state_t;

typedef struct {
  const sc_dump_fetch_opts_t *o;
  fetch_state_t state;
  int fd;
  nghttp2_session *h2;
  int32_t stream_id;
  /* The request body: gRPC messages not yet taken by nghttp2. */
  uint8_t *out;
  size_t out_len, out_off, out_cap;
  bool deferred;
  sc_grpc_deframer_t deframer;
  /* What the server said about the stream. */
  int http_status, grpc_status;
  char grpc_message[512];
  bool stream_closed, goaway, spoke; /* spoke: an HTTP/2 frame came */
  bool peer_gone, leaving;          /* it reads no more; we are saying goodbye */
  uint32_t close_error, goaway_error;
  /* The node, sent on the first request. */
  Envoy__Config__Core__V3__Node *node;
  bool node_sent;
  type_state_t types[SC_XDS__TYPES];
  char last_printed[64];
  unsigned printed;
  uint64_t deadline;
} fetch_t;

static void fail(fetch_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(fetch_t *f, const char *fmt, ...) {
  if (f->state == FETCH_FAILED || f->leaving)
    return;
  f->state = FETCH_FAILED;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "scopecast-dump: fetch from %s: ", f->o->server);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

static bool wants(const fetch_t *f, int t) {
  int asked = f->o->type;
  switch (t) {
  case SC_XDS_CLUSTERS: return true; /* Envoy starts with CDS whatever follows */
  case SC_XDS_ENDPOINTS: return asked == SC_XDS_ENDPOINTS;
  case SC_XDS_LISTENERS: return asked == SC_XDS_LISTENERS || asked == SC_XDS_ROUTES;
  default: return asked == SC_XDS_ROUTES;
  }
}

/* ---- the node ------------------------------------------------------------------------------ */

typedef struct {
  Envoy__Config__Core__V3__Node node;
  Google__Protobuf__Struct meta, labels;
  Google__Protobuf__Struct__FieldsEntry me[4], *mep[4];
  Google__Protobuf__Value mv[4];
  Google__Protobuf__Struct__FieldsEntry *le;
  Google__Protobuf__Struct__FieldsEntry **lep;
  Google__Protobuf__Value *lv;
  char *id, *ns, *ip;
} node_t;

static void string_entry(Google__Protobuf__Struct__FieldsEntry *e, Google__Protobuf__Value *v, const char *key,
                         const char *value) {
  google__protobuf__struct__fields_entry__init(e);
  google__protobuf__value__init(v);
  v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
  v->string_value = (char *)value;
  e->key = (char *)key;
  e->value = v;
}

static void node_free(node_t *n) {
  free(n->le);
  free(n->lep);
  free(n->lv);
  free(n->id);
  free(n->ns);
  free(n->ip);
}

/* n's node as the frontend reads it (encoded, then read by the reader library) into *out.
 * 0; 2 (said why) when the frontend would refuse it; 1 when out of memory. */
static int node_read(const sc_dump_fetch_opts_t *o, node_t *n, sc_proxy_node_t **out) {
  size_t len = envoy__config__core__v3__node__get_packed_size(&n->node);
  uint8_t *bytes = malloc(len ? len : 1);
  if (bytes == NULL)
    return 1;
  envoy__config__core__v3__node__pack(&n->node, bytes);
  char err[256] = "";
  int rc = sc_proxy_node_parse(bytes, len, out, err, sizeof(err));
  free(bytes);
  if (rc == SC_ENOMEM)
    return 1;
  if (rc != 0) {
    fprintf(stderr, "scopecast-dump: --node %s: %s\n", o->node, err);
    return 2;
  }
  return 0;
}

/* The node a sidecar of o sends, as pilot-agent builds it: the id, and the metadata
 * NAMESPACE, INSTANCE_IPS, INTERCEPTION_MODE and LABELS. 0; 2 (said why) when the frontend
 * would refuse it or it is not a sidecar's; 1 when out of memory. */
static int node_build(const sc_dump_fetch_opts_t *o, node_t *n) {
  memset(n, 0, sizeof(*n));
  if (strchr(o->node, '~') == NULL) { /* POD.NAMESPACE */
    const char *dot = strchr(o->node, '.');
    if (dot == NULL || dot == o->node || dot[1] == '\0') {
      fprintf(stderr, "scopecast-dump: --node %s: expected TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.DOMAIN, or "
                      "POD.NAMESPACE\n", o->node);
      return 2;
    }
    size_t len = strlen(o->node) * 2 + 64;
    if ((n->id = malloc(len)) == NULL)
      return 1;
    snprintf(n->id, len, "sidecar~127.0.0.1~%s~%s.svc.cluster.local", o->node, dot + 1);
  } else if ((n->id = strdup(o->node)) == NULL) {
    return 1;
  }
  n->lv = calloc(o->nlabels + 1, sizeof(*n->lv));
  n->le = calloc(o->nlabels + 1, sizeof(*n->le));
  n->lep = calloc(o->nlabels + 1, sizeof(*n->lep));
  if (n->lv == NULL || n->le == NULL || n->lep == NULL)
    return 1;
  for (size_t i = 0; i < o->nlabels; i++) {
    string_entry(&n->le[i], &n->lv[i], o->labels[i].key.ptr, o->labels[i].value.ptr);
    n->lep[i] = &n->le[i];
  }
  google__protobuf__struct__init(&n->labels);
  n->labels.n_fields = o->nlabels;
  n->labels.fields = n->lep;
  envoy__config__core__v3__node__init(&n->node);
  n->node.id = n->id;
  n->node.user_agent_name = "scopecast-dump";
  google__protobuf__struct__init(&n->meta);
  n->meta.fields = n->mep;
  /* What the frontend reads (reader.h), checked here as it checks it: the id's parts. */
  sc_proxy_node_t *read = NULL;
  int rc = node_read(o, n, &read);
  if (rc != 0)
    return rc;
  const sc_proxy_t *proxy = sc_proxy_node_proxy(read);
  if (proxy->router) {
    sc_proxy_node_free(read);
    fprintf(stderr, "scopecast-dump: --node %s: a router (gateway) node; scopecast serves sidecars, and fetch "
                    "asks as one (sidecar~IP~POD.NAMESPACE~DOMAIN)\n", o->node);
    return 2;
  }
  n->ns = o->namespace_ ? strdup(o->namespace_) : strndup(proxy->namespace_.ptr, proxy->namespace_.len);
  n->ip = proxy->nips > 0 ? strndup(proxy->ips[0].ptr, proxy->ips[0].len) : strdup("");
  sc_proxy_node_free(read);
  if (n->ns == NULL || n->ip == NULL)
    return 1;
  size_t m = 0;
  string_entry(&n->me[m], &n->mv[m], "NAMESPACE", n->ns), m++;
  if (n->ip[0] != '\0')
    string_entry(&n->me[m], &n->mv[m], "INSTANCE_IPS", n->ip), m++;
  string_entry(&n->me[m], &n->mv[m], "INTERCEPTION_MODE", o->interception ? o->interception : "REDIRECT"), m++;
  google__protobuf__struct__fields_entry__init(&n->me[m]);
  google__protobuf__value__init(&n->mv[m]);
  n->mv[m].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
  n->mv[m].struct_value = &n->labels;
  n->me[m].key = "LABELS";
  n->me[m].value = &n->mv[m];
  m++;
  for (size_t i = 0; i < m; i++)
    n->mep[i] = &n->me[i];
  n->meta.n_fields = m;
  n->node.metadata = &n->meta;
  if ((rc = node_read(o, n, &read)) == 0) /* the metadata as the frontend reads it */
    sc_proxy_node_free(read);
  return rc;
}

/* ---- requests ------------------------------------------------------------------------------ */

/* Room for a message of len bytes at the end of the request body, after its gRPC prefix. */
static uint8_t *out_room(fetch_t *f, size_t len) {
  if (f->out_off > 0 && f->out_off == f->out_len)
    f->out_off = f->out_len = 0;
  size_t need = f->out_len + SC_GRPC_PREFIX_BYTES + len;
  if (need > f->out_cap) {
    size_t cap = f->out_cap ? f->out_cap : 4096;
    while (cap < need)
      cap *= 2;
    uint8_t *out = realloc(f->out, cap);
    if (out == NULL) {
      fail(f, "out of memory");
      return NULL;
    }
    f->out = out;
    f->out_cap = cap;
  }
  sc__grpc_frame_prefix(f->out + f->out_len, (uint32_t)len);
  uint8_t *at = f->out + f->out_len + SC_GRPC_PREFIX_BYTES;
  f->out_len = need;
  return at;
}

static void out_queued(fetch_t *f) {
  if (f->deferred && f->h2 != NULL) {
    f->deferred = false;
    nghttp2_session_resume_data(f->h2, f->stream_id);
  }
}

/* A SotW request of type t: the node on the first; an ACK (or with error, a NACK) of the
 * last response; names as subscribed (none: the wildcard of CDS and LDS). */
static void send_sotw(fetch_t *f, int t, const char *nack) {
  type_state_t *ts = &f->types[t];
  Envoy__Service__Discovery__V3__DiscoveryRequest r = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_REQUEST__INIT;
  Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
  r.node = f->node_sent ? NULL : f->node;
  r.type_url = (char *)sc_xds_types[t].type_url;
  r.version_info = ts->version_info ? ts->version_info : "";
  r.response_nonce = ts->nonce ? ts->nonce : "";
  r.n_resource_names = ts->subscribed.n;
  r.resource_names = ts->subscribed.v;
  if (nack != NULL) {
    status.code = GRPC_INVALID_ARGUMENT;
    status.message = (char *)nack;
    r.error_detail = &status;
  }
  uint8_t *at = out_room(f, envoy__service__discovery__v3__discovery_request__get_packed_size(&r));
  if (at == NULL)
    return;
  envoy__service__discovery__v3__discovery_request__pack(&r, at);
  f->node_sent = true;
  ts->requested = true;
  out_queued(f);
}

/* A Delta request of type t: the node on the first; names to subscribe and unsubscribe;
 * the ACK (NACK) of the last response when nonce is set. */
static void send_delta(fetch_t *f, int t, char **sub, size_t nsub, char **unsub, size_t nunsub, const char *nonce,
                       const char *nack) {
  Envoy__Service__Discovery__V3__DeltaDiscoveryRequest r =
      ENVOY__SERVICE__DISCOVERY__V3__DELTA_DISCOVERY_REQUEST__INIT;
  Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
  r.node = f->node_sent ? NULL : f->node;
  r.type_url = (char *)sc_xds_types[t].type_url;
  r.n_resource_names_subscribe = nsub;
  r.resource_names_subscribe = sub;
  r.n_resource_names_unsubscribe = nunsub;
  r.resource_names_unsubscribe = unsub;
  r.response_nonce = nonce ? (char *)nonce : "";
  if (nack != NULL) {
    status.code = GRPC_INVALID_ARGUMENT;
    status.message = (char *)nack;
    r.error_detail = &status;
  }
  uint8_t *at = out_room(f, envoy__service__discovery__v3__delta_discovery_request__get_packed_size(&r));
  if (at == NULL)
    return;
  envoy__service__discovery__v3__delta_discovery_request__pack(&r, at);
  f->node_sent = true;
  f->types[t].requested = true;
  out_queued(f);
}

/* The first request of a type: a wildcard for CDS and LDS ("*" on Delta), else the names. */
static void request(fetch_t *f, int t) {
  type_state_t *ts = &f->types[t];
  if (!f->o->delta) {
    send_sotw(f, t, NULL);
  } else if (t == SC_XDS_CLUSTERS || t == SC_XDS_LISTENERS) {
    char *star[] = {"*"};
    send_delta(f, t, star, 1, NULL, 0, NULL, NULL);
  } else {
    send_delta(f, t, ts->subscribed.v, ts->subscribed.n, NULL, 0, NULL, NULL);
  }
}

/* ---- resources ------------------------------------------------------------------------------ */

/* What a resource of type t names for the next type: an EDS cluster its assignment (the
 * EDS service name, else its own), a listener the route configurations its HTTP connection
 * managers fetch over RDS. */
static void derived_of_filter(const Envoy__Config__Listener__V3__Filter *flt, names_t *out, bool *ok) {
  const ProtobufCMessageDescriptor *d =
      &envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor;
  if (flt->config_type_case != ENVOY__CONFIG__LISTENER__V3__FILTER__CONFIG_TYPE_TYPED_CONFIG ||
      flt->typed_config == NULL || flt->typed_config->type_url == NULL)
    return;
  const char *slash = strrchr(flt->typed_config->type_url, '/');
  if (slash == NULL || strcmp(slash + 1, d->name) != 0)
    return;
  Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager *h =
      envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__unpack(
          NULL, flt->typed_config->value.len, flt->typed_config->value.data);
  if (h == NULL) {
    *ok = false;
    return;
  }
  if (h->route_specifier_case ==
          ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_CONNECTION_MANAGER__ROUTE_SPECIFIER_RDS &&
      h->rds != NULL && h->rds->route_config_name != NULL && h->rds->route_config_name[0] != '\0' &&
      names_add(out, h->rds->route_config_name) != 0)
    *ok = false;
  envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__free_unpacked(h, NULL);
}

static void derived_of_chain(const Envoy__Config__Listener__V3__FilterChain *fc, names_t *out, bool *ok) {
  for (size_t i = 0; fc != NULL && i < fc->n_filters; i++)
    derived_of_filter(fc->filters[i], out, ok);
}

/* Decodes bytes as a resource of type t: its name (malloc'd) and what it names for the
 * next type (added to derived, may be NULL). NULL when they do not decode. */
static char *decode_resource(int t, const uint8_t *bytes, size_t len, names_t *derived) {
  const ProtobufCMessageDescriptor *d = sc_xds_types[t].descriptor;
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, bytes);
  if (m == NULL)
    return NULL;
  /* Cluster.name, ClusterLoadAssignment.cluster_name, Listener.name and
   * RouteConfiguration.name are each field 1, a string. */
  const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(d, 1);
  const char *name = fd && fd->type == PROTOBUF_C_TYPE_STRING ? *(char *const *)((const char *)m + fd->offset) : NULL;
  char *out = name && name[0] ? strdup(name) : NULL;
  bool ok = out != NULL;
  if (ok && derived != NULL && t == SC_XDS_CLUSTERS) {
    const Envoy__Config__Cluster__V3__Cluster *c = (const Envoy__Config__Cluster__V3__Cluster *)m;
    if (c->cluster_discovery_type_case == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE &&
        c->type == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__EDS) {
      const char *sn = c->eds_cluster_config ? c->eds_cluster_config->service_name : NULL;
      ok = names_add(derived, sn != NULL && sn[0] != '\0' ? sn : c->name) == 0;
    }
  } else if (ok && derived != NULL && t == SC_XDS_LISTENERS) {
    const Envoy__Config__Listener__V3__Listener *l = (const Envoy__Config__Listener__V3__Listener *)m;
    for (size_t i = 0; i < l->n_filter_chains; i++)
      derived_of_chain(l->filter_chains[i], derived, &ok);
    derived_of_chain(l->default_filter_chain, derived, &ok);
  }
  protobuf_c_message_free_unpacked(m, NULL);
  if (!ok) {
    free(out);
    return NULL;
  }
  return out;
}

/* An index of a list's names (borrowed) -> position + 1. */
static int index_build(const sc_resource_list_t *l, sc_strmap_t *idx) {
  sc__strmap_init(idx);
  for (size_t i = 0; i < l->n; i++)
    if (sc__strmap_put(idx, sc_str(l->items[i].name), (void *)(uintptr_t)(i + 1)) != 0)
      return -1;
  return 0;
}

static ssize_t index_get(const sc_strmap_t *idx, const char *name) {
  return (ssize_t)(uintptr_t)sc__strmap_get(idx, sc_str(name)) - 1;
}

static int held_append(sc_resource_list_t *l, sc_resource_t *r) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    sc_resource_t *items = realloc(l->items, cap * sizeof(*items));
    if (items == NULL)
      return -1;
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = *r;
  return 0;
}

/* Drops the cleared resources (name NULL), keeping the order of the rest. */
static void held_compact(sc_resource_list_t *l) {
  size_t k = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->items[i].name != NULL)
      l->items[k++] = l->items[i];
  l->n = k;
}

/* Puts the resources of got (taken) in l, each in place of the one of its name, else at
 * the end, then drops those named by removed. -1 when out of memory. */
static int held_merge(sc_resource_list_t *l, sc_resource_list_t *got, char **removed, size_t nremoved) {
  sc_strmap_t idx;
  int rc = index_build(l, &idx);
  for (size_t i = 0; i < got->n; i++) {
    sc_resource_t *r = &got->items[i];
    ssize_t at = rc == 0 ? index_get(&idx, r->name) : -1;
    if (at >= 0) { /* the held name stays (the index borrows it); bytes and version are new */
      sc_resource_t *h = &l->items[at];
      free(h->bytes);
      h->bytes = r->bytes;
      h->len = r->len;
      memcpy(h->version, r->version, sizeof(h->version));
      free(r->name);
    } else if (rc == 0 && held_append(l, r) == 0) {
      rc = sc__strmap_put(&idx, sc_str(r->name), (void *)(uintptr_t)l->n) == 0 ? 0 : -1;
    } else {
      sc_resource_clear(r);
      rc = -1;
    }
  }
  free(got->items);
  *got = (sc_resource_list_t){NULL, 0, 0};
  ssize_t *gone = calloc(nremoved + 1, sizeof(*gone));
  for (size_t i = 0; gone != NULL && rc == 0 && i < nremoved; i++)
    gone[i] = index_get(&idx, removed[i]);
  for (size_t i = 0; gone != NULL && rc == 0 && i < nremoved; i++)
    if (gone[i] >= 0 && l->items[gone[i]].name != NULL)
      sc_resource_clear(&l->items[gone[i]]);
  held_compact(l);
  if (gone == NULL)
    rc = -1;
  free(gone);
  sc__strmap_free(&idx, NULL);
  return rc;
}

/* The content hashes the snapshot names a resource by (reader.h): XXH3-128 of a stored
 * resource's bytes (clusters, listeners), XXH3-64 of one put together for the proxy
 * (route configurations, endpoint assignments, a virtualInbound with the inbound filter
 * chains of the services the proxy serves). */
static void hash128(const sc_resource_t *r, char out[SC_RESOURCE_VERSION_MAX]) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(r->bytes, r->len));
  for (int i = 0; i < 16; i++)
    snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
}

static void hash64(const sc_resource_t *r, char out[SC_RESOURCE_VERSION_MAX]) {
  snprintf(out, SC_RESOURCE_VERSION_MAX, "%016llx", (unsigned long long)XXH3_64bits(r->bytes, r->len));
}

static bool list_is(const sc_resource_list_t *l, const char *version_info) {
  char v[17];
  sc_resource_list_version(l, v);
  return strcmp(v, version_info) == 0;
}

/* SotW carries no version per resource: each is named by its content hash as the snapshot
 * names it, the kind the type usually has; the version_info (XXH3-64 of the names and
 * versions in order) tells the one resource put together where the type is usually
 * stored, or the other way round. */
static void name_versions(sc_resource_list_t *l, int t, const char *version_info) {
  bool stored = t == SC_XDS_CLUSTERS || t == SC_XDS_LISTENERS;
  for (size_t i = 0; i < l->n; i++)
    (stored ? hash128 : hash64)(&l->items[i], l->items[i].version);
  if (list_is(l, version_info))
    return;
  for (size_t i = l->n; i-- > 0;) { /* from the end, where a scope's own listeners are */
    (stored ? hash64 : hash128)(&l->items[i], l->items[i].version);
    if (list_is(l, version_info))
      return;
    (stored ? hash128 : hash64)(&l->items[i], l->items[i].version);
  }
}

/* ---- output ---------------------------------------------------------------------------------- */

static void format_time(char *buf, size_t len) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%.20s.%03uZ", base, (unsigned)(ts.tv_nsec / 1000000) % 1000);
}

/* The asked type as the client holds it now: printed first as `resources` prints it, then
 * each further version under a header line. */
static void deliver(fetch_t *f) {
  const sc_dump_fetch_opts_t *o = f->o;
  type_state_t *ts = &f->types[o->type];
  char empty[17];
  const char *vi = ts->version_info;
  if (vi == NULL) { /* nothing to ask for (no EDS clusters, no RDS names): what the frontend would say */
    sc_resource_list_version(&ts->held, empty);
    vi = empty;
  }
  if (f->state == FETCH_FOLLOWING) {
    if (strcmp(vi, f->last_printed) == 0)
      return; /* the same version again (a response re-sent for warming) */
    char when[40];
    format_time(when, sizeof(when));
    f->printed++;
    if (!o->json && !o->raw)
      printf("\n");
    fprintf(o->json || o->raw ? stderr : stdout, "--- %s version_info %s at %s (push %u of %u)\n",
            sc_xds_types[o->type].name, vi, when, f->printed, o->follow);
    fflush(stderr);
  }
  json_t *list = json_array();
  for (size_t i = 0; i < ts->held.n; i++) {
    json_t *x = sc_dump_resource_json(&ts->held.items[i], o->type, o->raw);
    if (x == NULL) {
      json_decref(list);
      fail(f, "the %s response (version_info %s) has a resource that does not decode", sc_xds_types[o->type].name,
           vi);
      return;
    }
    json_array_append_new(list, x);
  }
  if (sc_dump_print_resources(list, vi, o->json, o->raw) != 0) {
    fail(f, "cannot print the answer");
    return;
  }
  fflush(stdout);
  snprintf(f->last_printed, sizeof(f->last_printed), "%s", vi);
  if (f->state == FETCH_WAITING && o->follow > 0) {
    f->state = FETCH_FOLLOWING;
    f->deadline = now_ms() + o->timeout_ms;
  } else if (f->state == FETCH_WAITING || f->printed >= o->follow) {
    f->state = FETCH_DONE;
  }
}

/* ---- following the types ---------------------------------------------------------------------- */

/* What the held resources of t name for the next type, sorted. */
static int derive(fetch_t *f, int t, names_t *out) {
  const sc_resource_list_t *l = &f->types[t].held;
  for (size_t i = 0; i < l->n; i++) {
    char *name = decode_resource(t, l->items[i].bytes, l->items[i].len, out);
    if (name == NULL) {
      fail(f, "out of memory");
      return -1;
    }
    free(name);
  }
  names_seal(out);
  return 0;
}

/* Subscribes type t (EDS or RDS) to names (taken): a request when they differ from the
 * subscription or (SotW EDS, as Envoy re-warms its clusters after each CDS response)
 * always; resources no longer subscribed are dropped. With nothing to subscribe to, the
 * type holds nothing, which the frontend never sends: the client knows it. */
static void subscribe(fetch_t *f, int t, names_t *names) {
  type_state_t *ts = &f->types[t];
  bool same = ts->requested && names_equal(&ts->subscribed, names);
  names_t before = ts->subscribed;
  ts->subscribed = *names;
  *names = (names_t){NULL, 0, 0};
  for (size_t i = 0; i < ts->held.n; i++)
    if (!names_has(&ts->subscribed, ts->held.items[i].name))
      sc_resource_clear(&ts->held.items[i]);
  held_compact(&ts->held);
  if (!f->o->delta) {
    if (ts->subscribed.n > 0 || ts->requested)
      if (!same || t == SC_XDS_ENDPOINTS)
        send_sotw(f, t, NULL);
  } else if (!ts->requested) {
    if (ts->subscribed.n > 0)
      request(f, t);
  } else if (!same) {
    names_t add = {NULL, 0, 0}, del = {NULL, 0, 0};
    bool ok = true;
    for (size_t i = 0; i < ts->subscribed.n && ok; i++)
      if (!names_has(&before, ts->subscribed.v[i]))
        ok = names_add(&add, ts->subscribed.v[i]) == 0;
    for (size_t i = 0; i < before.n && ok; i++)
      if (!names_has(&ts->subscribed, before.v[i]))
        ok = names_add(&del, before.v[i]) == 0;
    if (ok)
      send_delta(f, t, add.v, add.n, del.v, del.n, NULL, NULL);
    else
      fail(f, "out of memory");
    names_free(&add);
    names_free(&del);
  }
  names_free(&before);
  if (ts->subscribed.n == 0) { /* no response will come: the answer is nothing */
    free(ts->version_info);
    ts->version_info = NULL;
    if (f->o->type == t && (f->state == FETCH_WAITING || f->state == FETCH_FOLLOWING))
      deliver(f);
  }
}

/* After a response of type t was taken: the next types it names, the asked type's answer. */
static void after_response(fetch_t *f, int t) {
  int next = t == SC_XDS_CLUSTERS ? SC_XDS_ENDPOINTS : t == SC_XDS_LISTENERS ? SC_XDS_ROUTES : -1;
  if (next >= 0 && wants(f, next)) {
    names_t names = {NULL, 0, 0};
    if (derive(f, t, &names) != 0) {
      names_free(&names);
      return;
    }
    subscribe(f, next, &names);
    names_free(&names);
  }
  if (t == SC_XDS_CLUSTERS && wants(f, SC_XDS_LISTENERS) && !f->types[SC_XDS_LISTENERS].requested)
    request(f, SC_XDS_LISTENERS);
  if (t == f->o->type && f->state != FETCH_FAILED && f->state != FETCH_DONE)
    deliver(f);
}

/* A response that Envoy would reject: NACKed (the reason in error_detail), and the fetch
 * fails saying why. */
static void reject(fetch_t *f, int t, const char *nonce, const char *version, const char *why) {
  if (f->o->delta) {
    send_delta(f, t, NULL, 0, NULL, 0, nonce, why);
  } else {
    type_state_t *ts = &f->types[t];
    char *keep = ts->nonce;
    ts->nonce = (char *)nonce;
    send_sotw(f, t, why);
    ts->nonce = keep;
  }
  fail(f, "the %s response (version_info %s) is invalid: %s; NACKed", sc_xds_types[t].name,
       version && version[0] ? version : "(none)", why);
}

/* The type a response is of, or -1 (the fetch failed) when not one that was asked for. */
static int response_type(fetch_t *f, const char *type_url) {
  int t = type_url ? sc_xds_type_by_name(type_url) : -1;
  if (t < 0 || strcmp(type_url, sc_xds_types[t].type_url) != 0 || !f->types[t].requested) {
    fail(f, "a response of type \"%s\", which was not asked for", type_url ? type_url : "");
    return -1;
  }
  return t;
}

static bool set_str(char **dst, const char *src) {
  char *copy = strdup(src ? src : "");
  if (copy == NULL)
    return false;
  free(*dst);
  *dst = copy;
  return true;
}

/* Decodes the Any of a resource of type t into r (name and bytes owned). */
static const char *take_any(int t, const Google__Protobuf__Any *any, sc_resource_t *r) {
  if (any == NULL)
    return "a resource without a body";
  if (any->type_url == NULL || strcmp(any->type_url, sc_xds_types[t].type_url) != 0)
    return "a resource of another type than the response";
  memset(r, 0, sizeof(*r));
  r->name = decode_resource(t, any->value.data, any->value.len, NULL);
  if (r->name == NULL)
    return t == SC_XDS_ENDPOINTS ? "a resource that does not decode as a ClusterLoadAssignment with a name"
                                 : "a resource that does not decode as its type, with a name";
  r->len = any->value.len;
  r->bytes = malloc(r->len ? r->len : 1);
  if (r->bytes == NULL) {
    free(r->name);
    r->name = NULL;
    return "out of memory";
  }
  memcpy(r->bytes, any->value.data, r->len);
  return NULL;
}

/* Appends x (taken) to got unless the response is bad: why says then. */
static void collect(sc_resource_list_t *got, sc_strmap_t *names, sc_resource_t *x, size_t i, const names_t *subscribed,
                    char *why, size_t whylen) {
  if (sc__strmap_get(names, sc_str(x->name)) != NULL)
    snprintf(why, whylen, "resource %zu: the name %s appears twice", i, x->name);
  else if (subscribed != NULL && !names_has(subscribed, x->name))
    snprintf(why, whylen, "resource %zu: %s was not asked for", i, x->name);
  else if (held_append(got, x) != 0 || sc__strmap_put(names, sc_str(x->name), x->name) != 0)
    snprintf(why, whylen, "out of memory");
  else
    return;
  if (got->n == 0 || got->items[got->n - 1].name != x->name)
    sc_resource_clear(x);
}

static void on_sotw(fetch_t *f, const uint8_t *msg, size_t len) {
  Envoy__Service__Discovery__V3__DiscoveryResponse *r =
      envoy__service__discovery__v3__discovery_response__unpack(NULL, len, msg);
  if (r == NULL) {
    fail(f, "a response is not a DiscoveryResponse");
    return;
  }
  int t = response_type(f, r->type_url);
  if (t < 0) {
    envoy__service__discovery__v3__discovery_response__free_unpacked(r, NULL);
    return;
  }
  type_state_t *ts = &f->types[t];
  bool full_state = t == SC_XDS_CLUSTERS || t == SC_XDS_LISTENERS;
  sc_resource_list_t got = {NULL, 0, 0};
  sc_strmap_t names;
  sc__strmap_init(&names);
  char why[600] = "";
  for (size_t i = 0; i < r->n_resources && why[0] == '\0'; i++) {
    sc_resource_t x;
    const char *bad = take_any(t, r->resources[i], &x);
    if (bad != NULL)
      snprintf(why, sizeof(why), "resource %zu: %s", i, bad);
    else
      collect(&got, &names, &x, i, full_state ? NULL : &ts->subscribed, why, sizeof(why));
  }
  if (why[0] == '\0' && (r->nonce == NULL || r->nonce[0] == '\0'))
    snprintf(why, sizeof(why), "no nonce");
  /* CDS and LDS are the whole state; EDS and RDS say what they hold: all of the names
   * subscribed (the order is the frontend's), or those that changed. */
  bool whole = full_state;
  if (!whole && why[0] == '\0') {
    whole = true;
    for (size_t i = 0; i < ts->held.n && whole; i++)
      whole = sc__strmap_get(&names, sc_str(ts->held.items[i].name)) != NULL;
  }
  sc__strmap_free(&names, NULL);
  if (why[0] != '\0') {
    sc_resource_list_free(&got);
    reject(f, t, r->nonce, r->version_info, why);
    envoy__service__discovery__v3__discovery_response__free_unpacked(r, NULL);
    return;
  }
  bool ok = true;
  if (whole) {
    sc_resource_list_free(&ts->held);
    ts->held = got;
  } else {
    ok = held_merge(&ts->held, &got, NULL, 0) == 0;
  }
  ts->responses++;
  if (!ok || !set_str(&ts->version_info, r->version_info) || !set_str(&ts->nonce, r->nonce)) {
    fail(f, "out of memory");
  } else {
    name_versions(&ts->held, t, ts->version_info);
    send_sotw(f, t, NULL); /* the ACK */
    after_response(f, t);
  }
  envoy__service__discovery__v3__discovery_response__free_unpacked(r, NULL);
}

static void on_delta(fetch_t *f, const uint8_t *msg, size_t len) {
  Envoy__Service__Discovery__V3__DeltaDiscoveryResponse *r =
      envoy__service__discovery__v3__delta_discovery_response__unpack(NULL, len, msg);
  if (r == NULL) {
    fail(f, "a response is not a DeltaDiscoveryResponse");
    return;
  }
  int t = response_type(f, r->type_url);
  if (t < 0) {
    envoy__service__discovery__v3__delta_discovery_response__free_unpacked(r, NULL);
    return;
  }
  type_state_t *ts = &f->types[t];
  bool full_state = t == SC_XDS_CLUSTERS || t == SC_XDS_LISTENERS;
  sc_resource_list_t got = {NULL, 0, 0};
  sc_strmap_t names;
  sc__strmap_init(&names);
  char why[600] = "";
  for (size_t i = 0; i < r->n_resources && why[0] == '\0'; i++) {
    const Envoy__Service__Discovery__V3__Resource *res = r->resources[i];
    sc_resource_t x;
    const char *bad = take_any(t, res->resource, &x);
    if (bad != NULL) {
      snprintf(why, sizeof(why), "resource %zu (%s): %s", i, res->name ? res->name : "", bad);
      continue;
    }
    if (res->name == NULL || strcmp(res->name, x.name) != 0)
      snprintf(why, sizeof(why), "resource %zu: named %s, its body names %s", i, res->name ? res->name : "",
               x.name);
    else if (res->version == NULL || res->version[0] == '\0' || strlen(res->version) >= sizeof(x.version))
      snprintf(why, sizeof(why), "resource %zu (%s): no version, or one longer than a content hash", i, x.name);
    if (why[0] != '\0') {
      sc_resource_clear(&x);
      continue;
    }
    snprintf(x.version, sizeof(x.version), "%s", res->version);
    collect(&got, &names, &x, i, full_state ? NULL : &ts->subscribed, why, sizeof(why));
  }
  sc__strmap_free(&names, NULL);
  if (why[0] == '\0' && (r->nonce == NULL || r->nonce[0] == '\0'))
    snprintf(why, sizeof(why), "no nonce");
  if (why[0] != '\0') {
    sc_resource_list_free(&got);
    reject(f, t, r->nonce, r->system_version_info, why);
    envoy__service__discovery__v3__delta_discovery_response__free_unpacked(r, NULL);
    return;
  }
  ts->responses++;
  if (held_merge(&ts->held, &got, r->removed_resources, r->n_removed_resources) != 0 ||
      !set_str(&ts->version_info, r->system_version_info) || !set_str(&ts->nonce, r->nonce)) {
    fail(f, "out of memory");
  } else {
    send_delta(f, t, NULL, 0, NULL, 0, ts->nonce, NULL); /* the ACK */
    after_response(f, t);
  }
  envoy__service__discovery__v3__delta_discovery_response__free_unpacked(r, NULL);
}

/* ---- HTTP/2 --------------------------------------------------------------------------------- */

static int on_message(void *arg, const uint8_t *msg, size_t len) {
  fetch_t *f = arg;
  if (f->state == FETCH_FAILED || f->state == FETCH_DONE)
    return 0;
  if (f->o->delta)
    on_delta(f, msg, len);
  else
    on_sotw(f, msg, len);
  return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                   void *arg) {
  (void)s;
  (void)flags;
  fetch_t *f = arg;
  if (stream_id != f->stream_id)
    return 0;
  int rc = sc__grpc_deframer_push(&f->deframer, data, len, on_message, f);
  if (rc == SC_GRPC_RESOURCE_EXHAUSTED)
    fail(f, "a response is larger than %u bytes", MAX_RESPONSE_BYTES);
  else if (rc == SC_GRPC_INTERNAL)
    fail(f, "a response is compressed, though no encoding was negotiated");
  else if (rc != 0)
    fail(f, "out of memory");
  return 0;
}

/* grpc-message is percent-encoded. */
static void percent_decode(const uint8_t *in, size_t len, char *out, size_t outlen) {
  size_t k = 0;
  for (size_t i = 0; i < len && k + 1 < outlen; i++) {
    unsigned v;
    if (in[i] == '%' && i + 2 < len && sscanf((const char *)in + i + 1, "%2x", &v) == 1) {
      out[k++] = (char)v;
      i += 2;
    } else {
      out[k++] = (char)in[i];
    }
  }
  out[k] = '\0';
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *arg) {
  (void)s;
  (void)flags;
  fetch_t *f = arg;
  if (frame->hd.stream_id != f->stream_id)
    return 0;
  char v[32];
  size_t n = valuelen < sizeof(v) - 1 ? valuelen : sizeof(v) - 1;
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
    memcpy(v, value, n);
    v[n] = '\0';
    f->http_status = atoi(v);
  } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
    memcpy(v, value, n);
    v[n] = '\0';
    f->grpc_status = atoi(v);
  } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
    percent_decode(value, valuelen, f->grpc_message, sizeof(f->grpc_message));
  }
  return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *frame, void *arg) {
  (void)s;
  fetch_t *f = arg;
  f->spoke = true;
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    f->goaway = true;
    f->goaway_error = frame->goaway.error_code;
  }
  return 0;
}

static int on_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *arg) {
  (void)s;
  fetch_t *f = arg;
  if (stream_id == f->stream_id) {
    f->stream_closed = true;
    f->close_error = error_code;
  }
  return 0;
}

/* The request body: the queued messages; deferred while there are none. */
static ssize_t body_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *arg) {
  (void)s;
  (void)stream_id;
  (void)data_flags;
  (void)source;
  fetch_t *f = arg;
  size_t avail = f->out_len - f->out_off;
  if (avail == 0) {
    f->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  size_t n = avail < length ? avail : length;
  memcpy(buf, f->out + f->out_off, n);
  f->out_off += n;
  return (ssize_t)n;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static int open_stream(fetch_t *f, const char *authority) {
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb) != 0)
    return -1;
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
  int rc = nghttp2_session_client_new(&f->h2, cb, f);
  nghttp2_session_callbacks_del(cb);
  if (rc != 0)
    return -1;
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW_BYTES}};
  if (nghttp2_submit_settings(f->h2, NGHTTP2_FLAG_NONE, settings, 2) != 0 ||
      nghttp2_session_set_local_window_size(f->h2, NGHTTP2_FLAG_NONE, 0, WINDOW_BYTES) != 0)
    return -1;
  nghttp2_nv hdrs[] = {NV(":method", "POST"),
                       NV(":scheme", "http"),
                       NV(":path", f->o->delta ? DELTA_PATH : SOTW_PATH),
                       NV(":authority", authority),
                       NV("content-type", "application/grpc"),
                       NV("te", "trailers"),
                       NV("user-agent", "scopecast-dump")};
  nghttp2_data_provider body = {.source = {.ptr = f}, .read_callback = body_read};
  f->stream_id = nghttp2_submit_request(f->h2, NULL, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), &body, f);
  return f->stream_id < 0 ? -1 : 0;
}

/* ---- the socket ----------------------------------------------------------------------------- */

/* Waits until fd is ready for events or the deadline; 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline) {
  for (;;) {
    uint64_t now = now_ms();
    if (now >= deadline)
      return 0;
    uint64_t left = deadline - now;
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
    if (n > 0)
      return 1;
    if (n < 0 && errno != EINTR)
      return -1;
  }
}

/* Connects to ADDR (HOST:PORT, [IPV6]:PORT or unix:PATH) within the deadline; the socket
 * is non-blocking. -1 (said why) when it cannot. */
static int connect_to(fetch_t *f, uint64_t deadline) {
  const char *addr = f->o->server;
  if (strncmp(addr, "unix:", 5) == 0) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(addr + 5) == 0 || strlen(addr + 5) >= sizeof(sun.sun_path)) {
      fail(f, "not a unix socket path of 1 to %zu bytes", sizeof(sun.sun_path) - 1);
      return -1;
    }
    memcpy(sun.sun_path, addr + 5, strlen(addr + 5) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
      fail(f, "cannot connect: %s", strerror(errno));
      if (fd >= 0)
        close(fd);
      return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
  }
  char host[256];
  const char *colon = strrchr(addr, ':');
  size_t hlen = colon ? (size_t)(colon - addr) : 0;
  const char *h = addr;
  if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
    h++;
    hlen -= 2;
  }
  if (colon == NULL || hlen == 0 || hlen >= sizeof(host) || colon[1] == '\0') {
    fail(f, "not HOST:PORT, [IPV6]:PORT or unix:PATH");
    return -1;
  }
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  int gai = getaddrinfo(host, colon + 1, &hints, &res);
  if (gai != 0) {
    fail(f, "cannot resolve: %s", gai_strerror(gai));
    return -1;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        int ready = wait_fd(fd, POLLOUT, deadline);
        socklen_t elen = sizeof(err);
        if (ready <= 0)
          err = ready == 0 ? ETIMEDOUT : errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
          err = errno;
      }
      if (err != 0) {
        close(fd);
        fd = -1;
      }
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    fail(f, "cannot connect: %s", strerror(err));
  else {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

/* Writes what nghttp2 has to send; once the peer stopped reading (it closed), what is
 * left to read still tells why. -1 (said why) when nothing more can be done. */
static int flush(fetch_t *f, uint64_t deadline) {
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(f->h2, &data);
    if (n < 0) {
      fail(f, "HTTP/2: %s", nghttp2_strerror((int)n));
      return -1;
    }
    if (n == 0)
      return 0;
    size_t off = f->peer_gone ? (size_t)n : 0;
    while (off < (size_t)n) {
      ssize_t w = send(f->fd, data + off, (size_t)n - off, MSG_NOSIGNAL);
      if (w > 0) {
        off += (size_t)w;
      } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (wait_fd(f->fd, POLLOUT, deadline) <= 0) {
          fail(f, "the server does not read (nothing written for %llu ms)",
               (unsigned long long)f->o->timeout_ms);
          return -1;
        }
      } else if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
        f->peer_gone = true;
        off = (size_t)n;
      } else {
        fail(f, "the connection was lost: %s", strerror(errno));
        return -1;
      }
    }
  }
}

/* Why the stream ended before the fetch was done. */
static void say_ended(fetch_t *f) {
  if (f->grpc_status >= 0)
    fail(f, "the stream ended with grpc-status %d (%s)%s%s", f->grpc_status, grpc_status_name(f->grpc_status),
         f->grpc_message[0] ? ": " : "", f->grpc_message);
  else if (f->http_status != 0 && f->http_status != 200)
    fail(f, "the server answered HTTP status %d: not a gRPC server", f->http_status);
  else if (f->stream_closed)
    fail(f, "the stream was reset (%s)", nghttp2_http2_strerror(f->close_error));
  else if (f->goaway)
    fail(f, "the server closed the connection (GOAWAY %s)", nghttp2_http2_strerror(f->goaway_error));
  else if (!f->spoke)
    fail(f, "the server closed the connection without a word of HTTP/2 (is it a scopecast-xds frontend?)");
  else
    fail(f, "the server closed the connection%s", f->peer_gone ? " (and read nothing more)" : "");
}

/* Says what was missing when the deadline passed. */
static void say_timeout(fetch_t *f) {
  const char *asked = sc_xds_types[f->o->type].name;
  if (f->state == FETCH_FOLLOWING) {
    fail(f, "%u of %u further %s versions within %llu ms", f->printed, f->o->follow, asked,
         (unsigned long long)f->o->timeout_ms);
    return;
  }
  char got[128] = "";
  for (int t = 0; t < SC_XDS__TYPES; t++)
    if (f->types[t].responses > 0)
      snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", got[0] ? ", " : "", sc_xds_types[t].name);
  if (got[0] == '\0')
    fail(f, "no response within %llu ms (the frontend may serve no snapshot yet, or the snapshot has no scope "
            "for this proxy)", (unsigned long long)f->o->timeout_ms);
  else
    fail(f, "no %s response within %llu ms (got %s)", asked, (unsigned long long)f->o->timeout_ms, got);
}

/* Reads and answers until the fetch is done, failed or the deadline passed. */
static void run(fetch_t *f) {
  uint8_t *buf = malloc(READ_BYTES);
  if (buf == NULL) {
    fail(f, "out of memory");
    return;
  }
  while (f->state == FETCH_WAITING || f->state == FETCH_FOLLOWING) {
    if (flush(f, f->deadline) != 0)
      break;
    if (f->stream_closed || (!nghttp2_session_want_read(f->h2) && !nghttp2_session_want_write(f->h2))) {
      say_ended(f);
      break;
    }
    int ready = wait_fd(f->fd, POLLIN, f->deadline);
    if (ready == 0) {
      say_timeout(f);
      break;
    }
    ssize_t n = ready < 0 ? -1 : read(f->fd, buf, READ_BYTES);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      say_ended(f);
      break;
    }
    if (n < 0) {
      fail(f, "the connection was lost: %s", strerror(errno));
      break;
    }
    ssize_t rc = nghttp2_session_mem_recv(f->h2, buf, (size_t)n);
    if (rc < 0) {
      fail(f, "%s: %s (is it a scopecast-xds frontend?)", f->spoke ? "HTTP/2" : "the server does not speak HTTP/2",
           nghttp2_strerror((int)rc));
      break;
    }
  }
  /* Leaves as Envoy leaves: what is queued (a NACK) and GOAWAY, best effort. */
  if (f->h2 != NULL && nghttp2_session_terminate_session(f->h2, NGHTTP2_NO_ERROR) == 0) {
    f->leaving = true; /* a failure to say goodbye is not one */
    flush(f, now_ms() + 1000);
  }
  free(buf);
}

int sc_dump_fetch(const sc_dump_fetch_opts_t *o) {
  node_t node;
  int rc = node_build(o, &node);
  if (rc != 0) {
    if (rc == 1)
      fprintf(stderr, "scopecast-dump: out of memory\n");
    node_free(&node);
    return rc;
  }
  fetch_t f;
  memset(&f, 0, sizeof(f));
  f.o = o;
  f.state = FETCH_WAITING;
  f.grpc_status = -1;
  f.node = &node.node;
  f.deadline = now_ms() + o->timeout_ms;
  sc__grpc_deframer_init(&f.deframer, MAX_RESPONSE_BYTES);
  f.fd = connect_to(&f, f.deadline);
  if (f.fd >= 0) {
    const char *authority = strncmp(o->server, "unix:", 5) == 0 ? "localhost" : o->server;
    if (open_stream(&f, authority) != 0)
      fail(&f, "cannot start an HTTP/2 session: out of memory");
    else {
      request(&f, SC_XDS_CLUSTERS);
      run(&f);
    }
    close(f.fd);
  }
  nghttp2_session_del(f.h2);
  sc__grpc_deframer_free(&f.deframer);
  for (int t = 0; t < SC_XDS__TYPES; t++) {
    names_free(&f.types[t].subscribed);
    sc_resource_list_free(&f.types[t].held);
    free(f.types[t].version_info);
    free(f.types[t].nonce);
  }
  free(f.out);
  node_free(&node);
  return f.state == FETCH_DONE ? 0 : 1;
}
