/* Simulated Envoy proxies over ADS, SotW or Delta (see xdsclient.h). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "wire/registry.h"
#include "xdsclient.h"

#define ADS_PATH "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
#define DELTA_PATH "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
#define READ_BUFFER_BYTES (256 * 1024)
#define MAX_RESPONSE_BYTES (64u * 1024 * 1024)
/* Envoy's defaults for its xDS connections: the frontend is never held by our windows. */
#define WINDOW_BYTES 268435456
/* Deferred decoding: responses wait while bytes keep arriving, at most this long; then
 * decoding runs for a bounded time per loop turn, so reading is never held long. */
#define MAX_DEFER_NS 20000000ull
#define DRAIN_IDLE_NS 5000000ull
#define DRAIN_BUSY_NS 1000000ull

typedef Envoy__Service__Discovery__V3__DiscoveryResponse response_t;
typedef Envoy__Service__Discovery__V3__DiscoveryRequest request_t;
typedef Envoy__Service__Discovery__V3__DeltaDiscoveryResponse delta_response_t;
typedef Envoy__Service__Discovery__V3__DeltaDiscoveryRequest delta_request_t;

struct sc_xc_msg {
  sc_xc_msg_t *next;
  sc_xc_proxy_t *p;
  uint32_t generation; /* the proxy's stream it came on */
  uint64_t t_real, t_mono;
  size_t len;
  uint8_t data[];
};

/* What a resource's bytes say, decoded once per distinct content. */
typedef struct {
  char *name;
  char **derived; /* CDS: its EDS service name; LDS: the route configurations it names */
  size_t nderived;
  bool undecodable;
} resource_t;

/* What a response's resources say, once per distinct set of resources. */
typedef struct {
  const char **names; /* sorted */
  size_t n;
  sc_xc_names_t derived; /* CDS: EDS names; LDS: RDS names (sorted, distinct) */
  char problem[200];     /* empty, or what is wrong with it */
} summary_t;

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Out of memory in a benchmark client: nothing sensible to measure any more. */
static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "bench_xds: out of memory\n");
    abort();
  }
  return p;
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "bench_xds: out of memory\n");
    abort();
  }
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

static void grow(uint8_t **buf, size_t *cap, size_t need) {
  if (need <= *cap)
    return;
  size_t cap2 = *cap ? *cap : 256;
  while (cap2 < need)
    cap2 *= 2;
  *buf = xrealloc(*buf, cap2);
  *cap = cap2;
}

static void record_error(sc_xc_client_t *c, const sc_xc_proxy_t *p, const char *fmt, va_list ap) {
  if (c->nerrors == sizeof(c->errors) / sizeof(c->errors[0]))
    return;
  char *e = c->errors[c->nerrors++];
  int n = snprintf(e, sizeof(c->errors[0]), "proxy %zu (%s): ", (size_t)(p - c->proxies), p->who.id);
  if (n >= 0 && (size_t)n < sizeof(c->errors[0]))
    vsnprintf(e + n, sizeof(c->errors[0]) - (size_t)n, fmt, ap);
}

/* A response that breaks the contract; the stream goes on (it is still ACKed as Envoy
 * would ACK what it can use), the error is counted and the first ones kept. */
static void protocol_error(sc_xc_proxy_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void protocol_error(sc_xc_proxy_t *p, const char *fmt, ...) {
  p->client->protocol_errors++;
  va_list ap;
  va_start(ap, fmt);
  record_error(p->client, p, fmt, ap);
  va_end(ap);
}

/* A stream ended, with reconnection on: counted, the first reasons kept. */
static void record_drop(sc_xc_client_t *c, const sc_xc_proxy_t *p, const char *fmt, va_list ap) {
  c->drops++;
  if (c->ndrop_reasons == sizeof(c->drop_reasons) / sizeof(c->drop_reasons[0]))
    return;
  char *e = c->drop_reasons[c->ndrop_reasons++];
  int n = snprintf(e, sizeof(c->drop_reasons[0]), "proxy %zu: ", (size_t)(p - c->proxies));
  if (n >= 0 && (size_t)n < sizeof(c->drop_reasons[0]))
    vsnprintf(e + n, sizeof(c->drop_reasons[0]) - (size_t)n, fmt, ap);
}

/* Ends the proxy's stream, its connection closed by settle(): counted as failed, or with
 * reconnection as a drop (on_closed schedules the reconnection). */
static void proxy_fail(sc_xc_proxy_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void proxy_fail(sc_xc_proxy_t *p, const char *fmt, ...) {
  sc_xc_client_t *c = p->client;
  if (p->state == SC_XC_FAILED || p->state == SC_XC_CLOSED)
    return;
  p->state = SC_XC_FAILED;
  if (c->reconnect_ms == 0) {
    c->failed++;
    if (!p->ever_synced)
      c->gave_up++;
  }
  if (!p->mark_done) {
    p->mark_done = true;
    p->t_mark_cds_ns = 0;
    c->marked_done++;
  }
  if (p->synced) {
    p->synced = false;
    c->synced_now--;
  }
  va_list ap;
  va_start(ap, fmt);
  if (c->reconnect_ms)
    record_drop(c, p, fmt, ap);
  else
    record_error(c, p, fmt, ap);
  va_end(ap);
}

static void on_reconnect_timer(uv_timer_t *t);

/* Forgets the stream: the next one starts as a new Envoy's would. */
static void reset_stream(sc_xc_proxy_t *p) {
  p->generation++;
  for (int t = 0; t < SC_XC_NTYPES; t++) {
    sc_xc_type_state_t *ts = &p->types[t];
    free(ts->version);
    free(ts->nonce);
    free(ts->have);
    free(ts->held);
    free(ts->delta_subscribed.v);
    memset(ts, 0, sizeof(*ts));
  }
  sc__grpc_deframer_free(&p->deframer);
  p->nnonces = 0;
  p->eds_warming = p->data_deferred = false;
  p->requests_sent = 0;
  p->out_len = p->out_off = p->wbuf_len = 0;
  p->http_status = p->grpc_status = 0;
  p->stream_id = 0;
  p->undecoded = 0;
  p->read_paused = false;
}

/* A bounded, jittered backoff: base doubled per attempt up to 8 times, +-50%; the jitter
 * is a hash of the proxy and attempt, so a run is repeatable. */
static uint64_t backoff_ns(const sc_xc_proxy_t *p) {
  const sc_xc_client_t *c = p->client;
  uint32_t shift = p->reconnect_attempts < 4 ? p->reconnect_attempts : 3;
  uint64_t ms = c->reconnect_ms << shift;
  uint64_t seed[2] = {(uint64_t)(p - c->proxies), p->reconnect_attempts};
  uint64_t jitter = XXH3_64bits(seed, sizeof(seed)) % (ms + 1);
  return (ms / 2 + jitter) * 1000000ull;
}

static void schedule_reconnect(sc_xc_proxy_t *p) {
  sc_xc_client_t *c = p->client;
  reset_stream(p);
  p->reconnect_at_ns = now_ns(CLOCK_MONOTONIC) + backoff_ns(p);
  p->reconnect_attempts++;
  if (c->reconnect_pending++ == 0)
    uv_timer_start(&c->reconnect_timer, on_reconnect_timer, 10, 10);
}

static void on_closed(uv_handle_t *h) {
  sc_xc_proxy_t *p = h->data;
  p->handle_open = false;
  p->client->handles_open--;
  p->client->closed++;
  nghttp2_session_del(p->h2);
  p->h2 = NULL;
  if (p->client->reconnect_ms && p->state == SC_XC_FAILED)
    schedule_reconnect(p);
}

/* Closes a failed proxy's connection (outside nghttp2's callbacks). */
static void settle(sc_xc_proxy_t *p) {
  if (p->state == SC_XC_FAILED && p->handle_open && !uv_is_closing((uv_handle_t *)&p->tcp))
    uv_close((uv_handle_t *)&p->tcp, on_closed);
}

/* ---- Decoding, cached by content ---------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether an Any holds a message of descriptor d. */
static bool any_is(const Google__Protobuf__Any *a, const ProtobufCMessageDescriptor *d) {
  const char *slash = a->type_url ? strrchr(a->type_url, '/') : NULL;
  return slash != NULL && strcmp(slash + 1, d->name) == 0;
}

static void add_derived(resource_t *e, const char *name) {
  e->derived = xrealloc(e->derived, (e->nderived + 1) * sizeof(char *));
  e->derived[e->nderived++] = xstrdup(name);
}

static void decode_cluster(resource_t *e, const ProtobufCBinaryData *v) {
  Envoy__Config__Cluster__V3__Cluster *m = envoy__config__cluster__v3__cluster__unpack(NULL, v->len, v->data);
  if (m == NULL) {
    e->undecodable = true;
    return;
  }
  e->name = xstrdup(m->name);
  if (m->cluster_discovery_type_case == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE &&
      m->type == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__EDS) {
    const char *sn = m->eds_cluster_config ? m->eds_cluster_config->service_name : NULL;
    add_derived(e, sn != NULL && sn[0] != '\0' ? sn : m->name);
  }
  envoy__config__cluster__v3__cluster__free_unpacked(m, NULL);
}

/* The route configuration an HTTP connection manager filter fetches over RDS, if any. */
static void filter_rds(resource_t *e, const Envoy__Config__Listener__V3__Filter *f) {
  const ProtobufCMessageDescriptor *hcm_d =
      &envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor;
  if (f->config_type_case != ENVOY__CONFIG__LISTENER__V3__FILTER__CONFIG_TYPE_TYPED_CONFIG ||
      f->typed_config == NULL || !any_is(f->typed_config, hcm_d))
    return;
  Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager *h =
      envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__unpack(
          NULL, f->typed_config->value.len, f->typed_config->value.data);
  if (h == NULL) {
    e->undecodable = true;
    return;
  }
  if (h->route_specifier_case ==
          ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_CONNECTION_MANAGER__ROUTE_SPECIFIER_RDS &&
      h->rds != NULL && h->rds->route_config_name != NULL && h->rds->route_config_name[0] != '\0')
    add_derived(e, h->rds->route_config_name);
  envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__free_unpacked(h, NULL);
}

static void chain_rds(resource_t *e, const Envoy__Config__Listener__V3__FilterChain *fc) {
  for (size_t i = 0; fc != NULL && i < fc->n_filters; i++)
    filter_rds(e, fc->filters[i]);
}

static void decode_listener(resource_t *e, const ProtobufCBinaryData *v) {
  Envoy__Config__Listener__V3__Listener *m = envoy__config__listener__v3__listener__unpack(NULL, v->len, v->data);
  if (m == NULL) {
    e->undecodable = true;
    return;
  }
  e->name = xstrdup(m->name);
  for (size_t i = 0; i < m->n_filter_chains; i++)
    chain_rds(e, m->filter_chains[i]);
  chain_rds(e, m->default_filter_chain);
  envoy__config__listener__v3__listener__free_unpacked(m, NULL);
}

static void decode_assignment(resource_t *e, const ProtobufCBinaryData *v) {
  Envoy__Config__Endpoint__V3__ClusterLoadAssignment *m =
      envoy__config__endpoint__v3__cluster_load_assignment__unpack(NULL, v->len, v->data);
  if (m == NULL) {
    e->undecodable = true;
    return;
  }
  e->name = xstrdup(m->cluster_name);
  envoy__config__endpoint__v3__cluster_load_assignment__free_unpacked(m, NULL);
}

static void decode_route(resource_t *e, const ProtobufCBinaryData *v) {
  Envoy__Config__Route__V3__RouteConfiguration *m =
      envoy__config__route__v3__route_configuration__unpack(NULL, v->len, v->data);
  if (m == NULL) {
    e->undecodable = true;
    return;
  }
  e->name = xstrdup(m->name);
  envoy__config__route__v3__route_configuration__free_unpacked(m, NULL);
}

/* The resource with these bytes (key: their hash and type), decoded on first sight.
 * 64-bit content hashes: a collision among a few thousand resources is not a concern. */
static const resource_t *resource(sc_xc_client_t *c, int t, uint64_t key, const ProtobufCBinaryData *v) {
  resource_t *e = sc__hashmap_get(&c->resources, key);
  if (e != NULL)
    return e;
  e = xmalloc(sizeof(*e));
  memset(e, 0, sizeof(*e));
  switch (t) {
  case SC_XC_CDS: decode_cluster(e, v); break;
  case SC_XC_EDS: decode_assignment(e, v); break;
  case SC_XC_LDS: decode_listener(e, v); break;
  default: decode_route(e, v); break;
  }
  if (e->name == NULL)
    e->name = xstrdup("");
  if (sc__hashmap_put(&c->resources, key, e) != 0) {
    fprintf(stderr, "bench_xds: out of memory\n");
    abort();
  }
  return e;
}

/* Sorts names and removes repeats; returns how many are left. */
static size_t sort_distinct(const char **v, size_t n) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof(v[0]), cmp_str);
  size_t k = 1;
  for (size_t i = 1; i < n; i++)
    if (strcmp(v[i], v[k - 1]) != 0)
      v[k++] = v[i];
  return k;
}

static summary_t *build_summary(sc_xc_client_t *c, int t, const response_t *r, const uint64_t *keys) {
  summary_t *s = xmalloc(sizeof(*s));
  memset(s, 0, sizeof(*s));
  s->n = r->n_resources;
  s->names = xmalloc(s->n * sizeof(char *));
  size_t nd = 0, capd = 0;
  const char **derived = NULL;
  for (size_t i = 0; i < r->n_resources; i++) {
    const Google__Protobuf__Any *a = r->resources[i];
    if (a->type_url == NULL || strcmp(a->type_url, sc_xds_types[t].type_url) != 0)
      snprintf(s->problem, sizeof(s->problem), "a resource of type \"%s\" in a %s response",
               a->type_url ? a->type_url : "", sc_xds_types[t].name);
    const resource_t *e = resource(c, t, keys[i], &a->value);
    if (e->undecodable && s->problem[0] == '\0')
      snprintf(s->problem, sizeof(s->problem), "an undecodable resource in a %s response", sc_xds_types[t].name);
    s->names[i] = e->name;
    for (size_t k = 0; k < e->nderived; k++) {
      if (nd == capd) {
        capd = capd ? capd * 2 : 64;
        derived = xrealloc(derived, capd * sizeof(char *));
      }
      derived[nd++] = e->derived[k];
    }
  }
  qsort(s->names, s->n, sizeof(char *), cmp_str);
  for (size_t i = 1; i < s->n && s->problem[0] == '\0'; i++)
    if (strcmp(s->names[i], s->names[i - 1]) == 0)
      snprintf(s->problem, sizeof(s->problem), "%s response names \"%s\" twice", sc_xds_types[t].name, s->names[i]);
  s->derived.n = sort_distinct(derived, nd);
  s->derived.v = derived;
  return s;
}

/* What the response's resources say, from the cache when the same set was seen. */
static const summary_t *summarize(sc_xc_client_t *c, int t, const response_t *r) {
  uint64_t *keys = xmalloc((r->n_resources + 1) * sizeof(uint64_t));
  for (size_t i = 0; i < r->n_resources; i++) {
    const Google__Protobuf__Any *a = r->resources[i];
    /* The Any's type URL is part of the key: a mismatch must not hide behind a hit. */
    uint64_t ut = a->type_url ? XXH3_64bits(a->type_url, strlen(a->type_url)) : 0;
    keys[i] = XXH3_64bits_withSeed(a->value.data, a->value.len, ut ^ (uint64_t)t);
  }
  uint64_t key = XXH3_64bits_withSeed(keys, r->n_resources * sizeof(uint64_t), (uint64_t)t);
  summary_t *s = sc__hashmap_get(&c->responses, key);
  if (s == NULL) {
    s = build_summary(c, t, r, keys);
    if (sc__hashmap_put(&c->responses, key, s) != 0) {
      fprintf(stderr, "bench_xds: out of memory\n");
      abort();
    }
  }
  free(keys);
  return s;
}

/* ---- Requests ---------------------------------------------------------------------- */

/* The Node of the first request: Istio's id and the metadata the frontend reads. */
typedef struct {
  Envoy__Config__Core__V3__Node node;
  Google__Protobuf__Struct meta, labels;
  Google__Protobuf__Struct__FieldsEntry me[4], le[2];
  Google__Protobuf__Struct__FieldsEntry *mep[4], *lep[2];
  Google__Protobuf__Value mv[4], lv[2];
} node_parts_t;

static void string_entry(Google__Protobuf__Struct__FieldsEntry *e, Google__Protobuf__Value *v, const char *key,
                         const char *value) {
  google__protobuf__struct__fields_entry__init(e);
  google__protobuf__value__init(v);
  v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
  v->string_value = (char *)value;
  e->key = (char *)key;
  e->value = v;
}

static void build_node(const sc_xc_identity_t *w, node_parts_t *n) {
  envoy__config__core__v3__node__init(&n->node);
  google__protobuf__struct__init(&n->meta);
  google__protobuf__struct__init(&n->labels);
  string_entry(&n->le[0], &n->lv[0], "app", w->app);
  string_entry(&n->le[1], &n->lv[1], "version", w->version);
  n->lep[0] = &n->le[0];
  n->lep[1] = &n->le[1];
  n->labels.n_fields = 2;
  n->labels.fields = n->lep;
  string_entry(&n->me[0], &n->mv[0], "NAMESPACE", w->namespace_);
  string_entry(&n->me[1], &n->mv[1], "INSTANCE_IPS", w->ip);
  string_entry(&n->me[2], &n->mv[2], "INTERCEPTION_MODE", w->interception_none ? "NONE" : "REDIRECT");
  google__protobuf__struct__fields_entry__init(&n->me[3]);
  google__protobuf__value__init(&n->mv[3]);
  n->mv[3].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
  n->mv[3].struct_value = &n->labels;
  n->me[3].key = "LABELS";
  n->me[3].value = &n->mv[3];
  for (int i = 0; i < 4; i++)
    n->mep[i] = &n->me[i];
  n->meta.n_fields = 4;
  n->meta.fields = n->mep;
  n->node.id = (char *)w->id;
  n->node.metadata = &n->meta;
  n->node.user_agent_name = "envoy";
  n->node.user_agent_version_type_case = ENVOY__CONFIG__CORE__V3__NODE__USER_AGENT_VERSION_TYPE_USER_AGENT_VERSION;
  n->node.user_agent_version = "1.31.0";
}

/* Room for a request message of len bytes at the end of the queue, after its gRPC
 * prefix: the caller packs the message there, then calls request_queued. */
static uint8_t *queue_room(sc_xc_proxy_t *p, size_t len) {
  if (p->out_off > 0 && p->out_off == p->out_len)
    p->out_off = p->out_len = 0;
  grow(&p->out, &p->out_cap, p->out_len + SC_GRPC_PREFIX_BYTES + len);
  sc__grpc_frame_prefix(p->out + p->out_len, (uint32_t)len);
  uint8_t *at = p->out + p->out_len + SC_GRPC_PREFIX_BYTES;
  p->out_len += SC_GRPC_PREFIX_BYTES + len;
  return at;
}

/* Counts a queued request of type t and wakes the request body if it waits for one. */
static void request_queued(sc_xc_proxy_t *p, int t) {
  p->requests_sent++;
  p->client->requests++;
  p->types[t].requested = true;
  if (p->data_deferred) {
    p->data_deferred = false;
    nghttp2_session_resume_data(p->h2, p->stream_id);
  }
}

/* Queues a DiscoveryRequest for type t from its state: the last version and nonce
 * received (so it ACKs the last response) and the names subscribed. The first request
 * of the stream carries the node. */
static void send_request(sc_xc_proxy_t *p, int t) {
  sc_xc_type_state_t *ts = &p->types[t];
  request_t rq;
  envoy__service__discovery__v3__discovery_request__init(&rq);
  rq.type_url = (char *)sc_xds_types[t].type_url;
  rq.version_info = ts->version ? ts->version : "";
  rq.response_nonce = ts->nonce ? ts->nonce : "";
  if (ts->subscribed != NULL) {
    rq.n_resource_names = ts->subscribed->n;
    rq.resource_names = (char **)ts->subscribed->v;
  }
  node_parts_t node;
  if (p->requests_sent == 0) {
    build_node(&p->who, &node);
    rq.node = &node.node;
  }
  size_t len = envoy__service__discovery__v3__discovery_request__get_packed_size(&rq);
  envoy__service__discovery__v3__discovery_request__pack(&rq, queue_room(p, len));
  request_queued(p, t);
}

/* Queues a DeltaDiscoveryRequest for type t: an ACK when nonce is set, and the names to
 * subscribe to and unsubscribe from (either may be NULL). The first request of the
 * stream carries the node. */
static void send_delta_request(sc_xc_proxy_t *p, int t, const char *nonce, const sc_xc_names_t *sub,
                               const sc_xc_names_t *unsub) {
  delta_request_t rq;
  envoy__service__discovery__v3__delta_discovery_request__init(&rq);
  rq.type_url = (char *)sc_xds_types[t].type_url;
  rq.response_nonce = (char *)(nonce ? nonce : "");
  if (sub != NULL) {
    rq.n_resource_names_subscribe = sub->n;
    rq.resource_names_subscribe = (char **)sub->v;
  }
  if (unsub != NULL) {
    rq.n_resource_names_unsubscribe = unsub->n;
    rq.resource_names_unsubscribe = (char **)unsub->v;
  }
  node_parts_t node;
  if (p->requests_sent == 0) {
    build_node(&p->who, &node);
    rq.node = &node.node;
  }
  size_t len = envoy__service__discovery__v3__delta_discovery_request__get_packed_size(&rq);
  envoy__service__discovery__v3__delta_discovery_request__pack(&rq, queue_room(p, len));
  request_queued(p, t);
}

/* Delta's explicit wildcard subscription. */
static const char *wildcard_name[] = {"*"};
static const sc_xc_names_t wildcard = {1, wildcard_name};

/* The first request of a stream: CDS wildcard, with the node. */
static void send_first_request(sc_xc_proxy_t *p) {
  if (p->delta)
    send_delta_request(p, SC_XC_CDS, NULL, &wildcard, NULL);
  else
    send_request(p, SC_XC_CDS);
}

/* The request body: the queued messages; the stream stays open (no EOF). */
static ssize_t body_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data) {
  (void)session, (void)stream_id, (void)data_flags, (void)user_data;
  sc_xc_proxy_t *p = source->ptr;
  size_t avail = p->out_len - p->out_off;
  if (avail == 0) {
    p->data_deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  size_t n = avail < length ? avail : length;
  memcpy(buf, p->out + p->out_off, n);
  p->out_off += n;
  return (ssize_t)n;
}

/* ---- Responses --------------------------------------------------------------------- */

static bool names_equal(const sc_xc_names_t *a, const sc_xc_names_t *b) {
  if (a == b)
    return true;
  if (a == NULL || b == NULL || a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->v[i], b->v[i]) != 0)
      return false;
  return true;
}

/* Subscribes type t to names; names still subscribed keep what was received of them. */
static void subscribe(sc_xc_proxy_t *p, int t, const sc_xc_names_t *names) {
  sc_xc_type_state_t *ts = &p->types[t];
  uint8_t *have = xmalloc(names->n);
  memset(have, 0, names->n);
  size_t nhave = 0;
  for (size_t i = 0, j = 0; ts->subscribed != NULL && i < ts->subscribed->n && j < names->n;) {
    int d = strcmp(ts->subscribed->v[i], names->v[j]);
    if (d == 0) {
      have[j] = ts->have[i];
      nhave += have[j];
    }
    i += d <= 0;
    j += d >= 0;
  }
  free(ts->have);
  ts->have = have;
  ts->nhave = nhave;
  ts->subscribed = names;
}

/* EDS/RDS: marks the names received; names not asked for are counted. */
static void mark_received(sc_xc_proxy_t *p, int t, const summary_t *s) {
  sc_xc_type_state_t *ts = &p->types[t];
  for (size_t i = 0; i < s->n; i++) {
    const char **hit =
        ts->subscribed ? bsearch(&s->names[i], ts->subscribed->v, ts->subscribed->n, sizeof(char *), cmp_str) : NULL;
    if (hit == NULL) {
      p->client->unrequested++;
      continue;
    }
    size_t k = (size_t)(hit - ts->subscribed->v);
    if (!ts->have[k]) {
      ts->have[k] = 1;
      ts->nhave++;
    }
  }
}

static bool satisfied(const sc_xc_proxy_t *p, int t) {
  const sc_xc_type_state_t *ts = &p->types[t];
  if (t == SC_XC_CDS || t == SC_XC_LDS)
    return ts->received;
  return ts->subscribed == NULL || ts->nhave == ts->subscribed->n;
}

/* Synced: every type received, every subscribed name received, clusters warm. */
static void update_synced(sc_xc_proxy_t *p) {
  sc_xc_client_t *c = p->client;
  bool now = p->state == SC_XC_OPEN && !p->eds_warming;
  for (int t = 0; t < SC_XC_NTYPES && now; t++)
    now = satisfied(p, t);
  if (now != p->synced) {
    p->synced = now;
    p->reconnect_attempts = now ? 0 : p->reconnect_attempts;
    if (now)
      c->synced_now++;
    else
      c->synced_now--;
  }
  if (now && !p->ever_synced) {
    p->ever_synced = true;
    p->t_synced_ns = now_ns(CLOCK_MONOTONIC);
    c->ever_synced++;
  }
}

/* Checks what every response must have, in both modes: a nonce never seen on the stream. */
static void check_nonce(sc_xc_proxy_t *p, int t, const char *nonce) {
  if (nonce == NULL || nonce[0] == '\0') {
    protocol_error(p, "%s response without nonce", sc_xds_types[t].name);
    return;
  }
  uint64_t h = XXH3_64bits(nonce, strlen(nonce));
  for (size_t i = 0; i < p->nnonces; i++)
    if (p->nonces[i] == h) {
      protocol_error(p, "%s response repeats nonce \"%s\"", sc_xds_types[t].name, nonce);
      return;
    }
  if (p->nnonces == p->nonces_cap) {
    p->nonces_cap = p->nonces_cap ? p->nonces_cap * 2 : 16;
    p->nonces = xrealloc(p->nonces, p->nonces_cap * sizeof(uint64_t));
  }
  p->nonces[p->nnonces++] = h;
}

/* SotW: a version_info and a nonce never seen on the stream. */
static void check_envelope(sc_xc_proxy_t *p, int t, const response_t *r) {
  if (r->version_info == NULL || r->version_info[0] == '\0')
    protocol_error(p, "%s response without version_info", sc_xds_types[t].name);
  check_nonce(p, t, r->nonce);
}

/* A CDS response that carries the event (SotW: a version other than the last one;
 * Delta: the event's cluster) ends a fan-out mark. */
static void note_cds(sc_xc_proxy_t *p, bool has_event, uint64_t t_real) {
  p->cds_since_mark++;
  if (has_event && !p->mark_done) {
    p->mark_done = true;
    p->t_mark_cds_ns = t_real;
    p->client->marked_done++;
  }
}

/* Takes a response of type t: remembers its version and nonce, ACKs it, and makes the
 * subscriptions that follow from it (EDS after CDS, RDS after LDS, LDS once warm). */
static void take_response(sc_xc_proxy_t *p, int t, const response_t *r, const summary_t *s, uint64_t t_real) {
  sc_xc_client_t *c = p->client;
  sc_xc_type_state_t *ts = &p->types[t];
  const char *version = r->version_info ? r->version_info : "";
  bool same_version = ts->version != NULL && strcmp(ts->version, version) == 0;
  if ((t == SC_XC_CDS || t == SC_XC_LDS) && same_version)
    c->redundant++;
  free(ts->version);
  free(ts->nonce);
  ts->version = xstrdup(version);
  ts->nonce = xstrdup(r->nonce ? r->nonce : "");
  ts->received = true;
  ts->responses++;
  ts->count = (uint32_t)r->n_resources;
  if (t == SC_XC_EDS || t == SC_XC_RDS)
    mark_received(p, t, s);
  if (t == SC_XC_EDS)
    p->eds_warming = false;
  /* Push order CDS, EDS, LDS, RDS: a route to a cluster must not come before it. */
  if ((t == SC_XC_LDS || t == SC_XC_RDS) && c->marking && !p->mark_done)
    c->routes_before_clusters++;
  send_request(p, t); /* the ACK */
  c->acks++;
  if (t == SC_XC_CDS) {
    note_cds(p, !same_version, t_real);
    /* Envoy re-warms its clusters after every CDS update: the EDS request follows,
     * whether or not the names changed. */
    if (s->derived.n > 0 || p->types[SC_XC_EDS].requested) {
      subscribe(p, SC_XC_EDS, &s->derived);
      p->eds_warming = s->derived.n > 0;
      send_request(p, SC_XC_EDS);
    }
  } else if (t == SC_XC_LDS && !names_equal(p->types[SC_XC_RDS].subscribed, &s->derived) &&
             (s->derived.n > 0 || p->types[SC_XC_RDS].requested)) {
    subscribe(p, SC_XC_RDS, &s->derived);
    send_request(p, SC_XC_RDS);
  }
  if (!p->types[SC_XC_LDS].requested && p->types[SC_XC_CDS].received && !p->eds_warming &&
      satisfied(p, SC_XC_EDS))
    send_request(p, SC_XC_LDS);
}

/* ---- Delta ------------------------------------------------------------------------- */

/* What a Delta response says, once per distinct content (its nonce aside). */
typedef struct {
  const sc_xc_held_t **items; /* its resources, sorted by name */
  size_t n;
  char **removed; /* removed_resources, sorted */
  size_t nremoved;
  char problem[200]; /* empty, or what is wrong with it */
} delta_summary_t;

static int cmp_held(const void *a, const void *b) {
  return strcmp((*(const sc_xc_held_t *const *)a)->name, (*(const sc_xc_held_t *const *)b)->name);
}

static uint64_t str_hash(const char *s) {
  return s != NULL ? XXH3_64bits(s, strlen(s)) : 0;
}

/* The held form of a resource (name, version, content), or of a name known not to exist
 * (value NULL), shared by every proxy that holds it. */
static const sc_xc_held_t *held_entry(sc_xc_client_t *c, int t, const char *name, const char *version,
                                      uint64_t content, const ProtobufCBinaryData *value) {
  uint64_t parts[3] = {content, str_hash(name), value ? str_hash(version) : 0};
  uint64_t key = XXH3_64bits_withSeed(parts, sizeof(parts), (uint64_t)t * 2 + (value == NULL));
  sc_xc_held_t *h = sc__hashmap_get(&c->held, key);
  if (h != NULL)
    return h;
  h = xmalloc(sizeof(*h));
  h->name = xstrdup(name);
  h->version = value ? xstrdup(version) : NULL;
  h->decoded = value ? resource(c, t, content, value) : NULL;
  if (sc__hashmap_put(&c->held, key, h) != 0) {
    fprintf(stderr, "bench_xds: out of memory\n");
    abort();
  }
  return h;
}

/* What is wrong with one resource of a type t response, if anything (written to out). */
static void check_resource(int t, const Envoy__Service__Discovery__V3__Resource *res, const resource_t *e,
                           char *out, size_t len) {
  const char *type = sc_xds_types[t].name, *name = res->name ? res->name : "";
  const Google__Protobuf__Any *a = res->resource;
  if (name[0] == '\0')
    snprintf(out, len, "a %s resource without a name", type);
  else if (a == NULL)
    snprintf(out, len, "%s resource \"%s\" without a body", type, name);
  else if (a->type_url == NULL || strcmp(a->type_url, sc_xds_types[t].type_url) != 0)
    snprintf(out, len, "a resource of type \"%s\" in a %s response", a->type_url ? a->type_url : "", type);
  else if (res->version == NULL || res->version[0] == '\0')
    snprintf(out, len, "%s resource \"%s\" without a version", type, name);
  else if (e->undecodable)
    snprintf(out, len, "an undecodable resource in a %s response", type);
  else if (strcmp(e->name, name) != 0)
    snprintf(out, len, "%s resource named \"%s\" holds \"%s\"", type, name, e->name);
}

/* Sorts the summary's names and reports the first name sent twice or both sent and removed. */
static void sort_delta_summary(int t, delta_summary_t *s) {
  qsort(s->items, s->n, sizeof(s->items[0]), cmp_held);
  qsort(s->removed, s->nremoved, sizeof(s->removed[0]), cmp_str);
  for (size_t i = 1; i < s->n && s->problem[0] == '\0'; i++)
    if (strcmp(s->items[i]->name, s->items[i - 1]->name) == 0)
      snprintf(s->problem, sizeof(s->problem), "%s response names \"%s\" twice", sc_xds_types[t].name,
               s->items[i]->name);
  for (size_t i = 0, j = 0; i < s->n && j < s->nremoved && s->problem[0] == '\0';) {
    int d = strcmp(s->items[i]->name, s->removed[j]);
    if (d == 0)
      snprintf(s->problem, sizeof(s->problem), "%s response sends and removes \"%s\"", sc_xds_types[t].name,
               s->removed[j]);
    i += d <= 0;
    j += d >= 0;
  }
}

static delta_summary_t *build_delta_summary(sc_xc_client_t *c, int t, const delta_response_t *r,
                                            const uint64_t *contents) {
  delta_summary_t *s = xmalloc(sizeof(*s));
  memset(s, 0, sizeof(*s));
  s->items = xmalloc((r->n_resources + 1) * sizeof(s->items[0]));
  for (size_t i = 0; i < r->n_resources; i++) {
    const Envoy__Service__Discovery__V3__Resource *res = r->resources[i];
    const Google__Protobuf__Any *a = res->resource;
    const char *name = res->name ? res->name : "";
    if (a == NULL || name[0] == '\0') { /* nothing to hold */
      if (s->problem[0] == '\0')
        check_resource(t, res, NULL, s->problem, sizeof(s->problem));
      continue;
    }
    const sc_xc_held_t *h = held_entry(c, t, name, res->version ? res->version : "", contents[i], &a->value);
    if (s->problem[0] == '\0')
      check_resource(t, res, h->decoded, s->problem, sizeof(s->problem));
    s->items[s->n++] = h;
  }
  s->removed = xmalloc((r->n_removed_resources + 1) * sizeof(char *));
  for (size_t i = 0; i < r->n_removed_resources; i++)
    s->removed[s->nremoved++] = xstrdup(r->removed_resources[i] ? r->removed_resources[i] : "");
  sort_delta_summary(t, s);
  return s;
}

/* What the Delta response says, from the cache when the same content was seen (nonce
 * and system_version_info aside: they do not change what a proxy holds). */
static const delta_summary_t *summarize_delta(sc_xc_client_t *c, int t, const delta_response_t *r) {
  size_t nk = 3 * r->n_resources + r->n_removed_resources;
  uint64_t *keys = xmalloc((nk + 1) * sizeof(uint64_t)), *contents = xmalloc((r->n_resources + 1) * sizeof(uint64_t));
  for (size_t i = 0; i < r->n_resources; i++) {
    const Envoy__Service__Discovery__V3__Resource *res = r->resources[i];
    const Google__Protobuf__Any *a = res->resource;
    /* As for SotW, the Any's type URL is part of the key. */
    uint64_t ut = a && a->type_url ? XXH3_64bits(a->type_url, strlen(a->type_url)) : 0;
    contents[i] = a ? XXH3_64bits_withSeed(a->value.data, a->value.len, ut ^ (uint64_t)t) : 0;
    keys[3 * i] = contents[i] ^ (a == NULL);
    keys[3 * i + 1] = str_hash(res->name);
    keys[3 * i + 2] = str_hash(res->version);
  }
  for (size_t i = 0; i < r->n_removed_resources; i++)
    keys[3 * r->n_resources + i] = str_hash(r->removed_resources[i]);
  /* Resources and removed names apart: the count of resources goes in the seed. */
  uint64_t key = XXH3_64bits_withSeed(keys, nk * sizeof(uint64_t), (uint64_t)t ^ ((uint64_t)r->n_resources << 8));
  delta_summary_t *s = sc__hashmap_get(&c->delta_responses, key);
  if (s == NULL) {
    s = build_delta_summary(c, t, r, contents);
    if (sc__hashmap_put(&c->delta_responses, key, s) != 0) {
      fprintf(stderr, "bench_xds: out of memory\n");
      abort();
    }
  }
  free(keys);
  free(contents);
  return s;
}

static bool names_have(const sc_xc_names_t *names, const char *name) {
  return names->n > 0 && bsearch(&name, names->v, names->n, sizeof(char *), cmp_str) != NULL;
}

static const char *const *derived_of(const sc_xc_held_t *h, size_t *n) {
  const resource_t *e = h->decoded;
  *n = e ? e->nderived : 0;
  return e ? (const char *const *)e->derived : NULL;
}

/* Whether now derives (names as EDS or RDS resources) every name before derived. */
static bool derives_all(const sc_xc_held_t *now, const sc_xc_held_t *before) {
  size_t nb, nn;
  const char *const *b = derived_of(before, &nb), *const *a = derived_of(now, &nn);
  for (size_t i = 0; i < nb; i++) {
    size_t k = 0;
    while (k < nn && strcmp(a[k], b[i]) != 0)
      k++;
    if (k == nn)
      return false;
  }
  return true;
}

/* Merges the response's resources into what the proxy holds (in: sorted, n; out: room
 * for n + s->n). EDS/RDS resources not subscribed are counted and not held. Sets *changed,
 * and *lost when a resource replaced stops deriving a name. Returns the count out. */
static size_t merge_resources(sc_xc_proxy_t *p, int t, const delta_summary_t *s, const sc_xc_held_t **in,
                              size_t n, const sc_xc_held_t **out, bool *changed, bool *lost) {
  const sc_xc_names_t *subs = &p->types[t].delta_subscribed;
  bool named = t == SC_XC_EDS || t == SC_XC_RDS;
  size_t k = 0, i = 0, j = 0;
  while (i < n || j < s->n) {
    int d = i == n ? 1 : j == s->n ? -1 : strcmp(in[i]->name, s->items[j]->name);
    if (d < 0) {
      out[k++] = in[i++];
      continue;
    }
    const sc_xc_held_t *theirs = s->items[j++];
    const sc_xc_held_t *mine = d == 0 ? in[i++] : NULL;
    if (named && !names_have(subs, theirs->name)) {
      p->client->unrequested++;
      if (mine != NULL)
        out[k++] = mine;
      continue;
    }
    *changed |= mine != theirs;
    *lost |= mine != NULL && !derives_all(theirs, mine);
    if (k > 0 && strcmp(out[k - 1]->name, theirs->name) == 0)
      k--; /* a name sent twice (a protocol error already counted): the last one holds */
    out[k++] = theirs;
  }
  return k;
}

/* Applies removed_resources to what the proxy holds (in: sorted, n; out: room for
 * n + s->nremoved): a name removed is dropped, or for EDS/RDS, when still subscribed,
 * kept as known not to exist (the server says so for subscribed names that do not exist).
 * Sets *changed, and *lost when a resource that derived names goes. Returns the count out. */
static size_t apply_removed(sc_xc_proxy_t *p, int t, const delta_summary_t *s, const sc_xc_held_t **in,
                            size_t n, const sc_xc_held_t **out, bool *changed, bool *lost) {
  const sc_xc_names_t *subs = &p->types[t].delta_subscribed;
  bool named = t == SC_XC_EDS || t == SC_XC_RDS;
  size_t k = 0, i = 0, j = 0;
  while (i < n || j < s->nremoved) {
    int d = i == n ? 1 : j == s->nremoved ? -1 : strcmp(in[i]->name, s->removed[j]);
    if (d < 0) {
      out[k++] = in[i++];
      continue;
    }
    const char *name = s->removed[j++];
    while (j < s->nremoved && strcmp(s->removed[j], name) == 0)
      j++;
    const sc_xc_held_t *mine = d == 0 ? in[i++] : NULL;
    size_t nd = 0;
    if (mine != NULL)
      derived_of(mine, &nd);
    *lost |= nd > 0;
    if (named && names_have(subs, name)) {
      const sc_xc_held_t *absent = held_entry(p->client, t, name, NULL, 0, NULL);
      *changed |= mine != absent;
      out[k++] = absent;
    } else {
      *changed |= mine != NULL; /* removing what it does not hold changes nothing */
    }
  }
  return k;
}

/* What the proxy holds of type t after response s. Returns whether anything changed;
 * *lost tells whether a name derived may have gone (subscriptions may shrink). */
static bool apply_delta(sc_xc_proxy_t *p, int t, const delta_summary_t *s, bool *lost) {
  sc_xc_type_state_t *ts = &p->types[t];
  bool changed = false;
  *lost = false;
  const sc_xc_held_t **merged = xmalloc((ts->nheld + s->n + 1) * sizeof(*merged));
  size_t nmerged = merge_resources(p, t, s, ts->held, ts->nheld, merged, &changed, lost);
  const sc_xc_held_t **out = xmalloc((nmerged + s->nremoved + 1) * sizeof(*out));
  size_t nout = apply_removed(p, t, s, merged, nmerged, out, &changed, lost);
  free(merged);
  free(ts->held);
  ts->held = out;
  ts->nheld = nout;
  ts->count = 0;
  for (size_t i = 0; i < nout; i++)
    ts->count += out[i]->version != NULL;
  return changed;
}

/* EDS/RDS: how many subscribed names the proxy has an answer for (held or known absent). */
static void count_answered(sc_xc_type_state_t *ts) {
  const sc_xc_names_t *subs = &ts->delta_subscribed;
  size_t n = 0;
  for (size_t i = 0, j = 0; i < subs->n && j < ts->nheld;) {
    int d = strcmp(subs->v[i], ts->held[j]->name);
    n += d == 0;
    i += d <= 0;
    j += d >= 0;
  }
  ts->nhave = n;
}

/* EDS/RDS: drops what the proxy holds of names no longer subscribed (Envoy forgets them). */
static void drop_unsubscribed(sc_xc_type_state_t *ts) {
  size_t k = 0;
  for (size_t i = 0; i < ts->nheld; i++)
    if (names_have(&ts->delta_subscribed, ts->held[i]->name))
      ts->held[k++] = ts->held[i];
  ts->nheld = k;
  ts->count = 0;
  for (size_t i = 0; i < k; i++)
    ts->count += ts->held[i]->version != NULL;
}

static void push_name(sc_xc_names_t *l, size_t *cap, const char *name) {
  if (l->n == *cap) {
    *cap = *cap ? *cap * 2 : 64;
    l->v = xrealloc(l->v, *cap * sizeof(char *));
  }
  l->v[l->n++] = name;
}

/* Every name the held resources of type t derive (sorted, distinct; the array malloc'd). */
static sc_xc_names_t all_derived(const sc_xc_type_state_t *ts) {
  sc_xc_names_t l = {0, NULL};
  size_t cap = 0;
  for (size_t i = 0; i < ts->nheld; i++) {
    size_t nd;
    const char *const *d = derived_of(ts->held[i], &nd);
    for (size_t k = 0; k < nd; k++)
      push_name(&l, &cap, d[k]);
  }
  l.n = sort_distinct(l.v, l.n);
  return l;
}

/* The names the response's resources derive that subs lacks (sorted, distinct; the
 * array malloc'd): usually none or one, so the subscriptions are never re-sorted. */
static sc_xc_names_t new_derived(const sc_xc_names_t *subs, const delta_summary_t *s) {
  sc_xc_names_t l = {0, NULL};
  size_t cap = 0;
  for (size_t i = 0; i < s->n; i++) {
    size_t nd;
    const char *const *d = derived_of(s->items[i], &nd);
    for (size_t k = 0; k < nd; k++)
      if (!names_have(subs, d[k]))
        push_name(&l, &cap, d[k]);
  }
  l.n = sort_distinct(l.v, l.n);
  return l;
}

/* The names in a or b (both sorted, distinct from each other), sorted (array malloc'd). */
static sc_xc_names_t names_union(const sc_xc_names_t *a, const sc_xc_names_t *b) {
  sc_xc_names_t out = {0, xmalloc((a->n + b->n + 1) * sizeof(char *))};
  size_t i = 0, j = 0;
  while (i < a->n || j < b->n)
    out.v[out.n++] = j == b->n || (i < a->n && strcmp(a->v[i], b->v[j]) < 0) ? a->v[i++] : b->v[j++];
  return out;
}

/* The names in a and not in b (both sorted), into out (an array malloc'd). */
static sc_xc_names_t names_minus(const sc_xc_names_t *a, const sc_xc_names_t *b) {
  sc_xc_names_t out = {0, xmalloc((a->n + 1) * sizeof(char *))};
  for (size_t i = 0, j = 0; i < a->n;) {
    int d = j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
    if (d < 0)
      out.v[out.n++] = a->v[i];
    i += d <= 0;
    j += d >= 0;
  }
  return out;
}

/* After a CDS (LDS) response: subscribes EDS (RDS) to the names the clusters (listeners)
 * held now derive, with one request naming just the names added and removed, as Envoy
 * does. New EDS names make the clusters warm until they are answered. */
static void follow_derived(sc_xc_proxy_t *p, int from, int to, const delta_summary_t *s, bool lost) {
  sc_xc_type_state_t *ts = &p->types[to];
  sc_xc_names_t want = {0, NULL}, added, gone = {0, NULL};
  if (lost) { /* rare: recompute from everything held */
    want = all_derived(&p->types[from]);
    added = names_minus(&want, &ts->delta_subscribed);
    gone = names_minus(&ts->delta_subscribed, &want);
  } else {
    added = new_derived(&ts->delta_subscribed, s);
  }
  if (added.n > 0 || gone.n > 0) {
    if (!lost)
      want = names_union(&ts->delta_subscribed, &added);
    free(ts->delta_subscribed.v);
    ts->delta_subscribed = want;
    ts->subscribed = &ts->delta_subscribed;
    want.v = NULL;
    drop_unsubscribed(ts);
    count_answered(ts);
    send_delta_request(p, to, NULL, added.n ? &added : NULL, gone.n ? &gone : NULL);
    p->client->subscription_requests++;
    if (to == SC_XC_EDS && added.n > 0)
      p->eds_warming = true;
  }
  free(want.v);
  free(added.v);
  free(gone.v);
}

/* Whether the response names the fan-out event's cluster. */
static bool has_event(const sc_xc_client_t *c, const delta_summary_t *s) {
  for (size_t i = 0; c->mark_needle[0] != '\0' && i < s->n; i++)
    if (strstr(s->items[i]->name, c->mark_needle) != NULL)
      return true;
  return false;
}

/* Takes a Delta response of type t: updates what the proxy holds, ACKs it (type and
 * nonce alone), and makes the subscriptions that follow (EDS after CDS, RDS after LDS,
 * LDS once the clusters are warm). */
static void take_delta(sc_xc_proxy_t *p, int t, const delta_response_t *r, const delta_summary_t *s,
                       uint64_t t_real) {
  sc_xc_client_t *c = p->client;
  sc_xc_type_state_t *ts = &p->types[t];
  free(ts->version);
  free(ts->nonce);
  ts->version = xstrdup(r->system_version_info ? r->system_version_info : "");
  ts->nonce = xstrdup(r->nonce ? r->nonce : "");
  ts->received = true;
  ts->responses++;
  bool lost, changed = apply_delta(p, t, s, &lost);
  if (!changed && (t == SC_XC_CDS || t == SC_XC_LDS))
    c->redundant++;
  else if (!changed)
    c->redundant_named++;
  /* Push order CDS, EDS, LDS, RDS: a route to a cluster must not come before it. */
  if ((t == SC_XC_LDS || t == SC_XC_RDS) && c->marking && !p->mark_done)
    c->routes_before_clusters++;
  send_delta_request(p, t, ts->nonce, NULL, NULL); /* the ACK */
  c->acks++;
  if (t == SC_XC_CDS) {
    note_cds(p, c->marking && !p->mark_done && has_event(c, s), t_real);
    follow_derived(p, SC_XC_CDS, SC_XC_EDS, s, lost);
  } else if (t == SC_XC_LDS) {
    follow_derived(p, SC_XC_LDS, SC_XC_RDS, s, lost);
  } else {
    count_answered(ts);
  }
  if (p->eds_warming && satisfied(p, SC_XC_EDS))
    p->eds_warming = false;
  if (!p->types[SC_XC_LDS].requested && p->types[SC_XC_CDS].received && !p->eds_warming &&
      satisfied(p, SC_XC_EDS))
    send_delta_request(p, SC_XC_LDS, NULL, &wildcard, NULL);
}

static int type_of(const char *type_url) {
  for (int t = 0; t < SC_XC_NTYPES; t++)
    if (type_url != NULL && strcmp(type_url, sc_xds_types[t].type_url) == 0)
      return t;
  return -1;
}

static void flush(sc_xc_proxy_t *p);

/* The type of a response's type_url, one the proxy asked for; -1 (a protocol error) else. */
static int requested_type(sc_xc_proxy_t *p, const char *type_url) {
  int t = type_of(type_url);
  if (t < 0)
    protocol_error(p, "response with type_url \"%s\"", type_url ? type_url : "");
  else if (!p->types[t].requested)
    protocol_error(p, "%s response before any %s request", sc_xds_types[t].name, sc_xds_types[t].name);
  return t >= 0 && p->types[t].requested ? t : -1;
}

/* SotW: decodes, checks and answers one DiscoveryResponse. */
static void process_sotw(sc_xc_proxy_t *p, const sc_xc_msg_t *m) {
  sc_xc_client_t *c = p->client;
  response_t *r = envoy__service__discovery__v3__discovery_response__unpack(NULL, m->len, m->data);
  if (r == NULL) {
    protocol_error(p, "undecodable DiscoveryResponse (%zu bytes)", m->len);
    proxy_fail(p, "undecodable DiscoveryResponse (%zu bytes)", m->len);
    return;
  }
  int t = requested_type(p, r->type_url);
  if (t >= 0) {
    check_envelope(p, t, r);
    const summary_t *s = summarize(c, t, r);
    if (s->problem[0] != '\0')
      protocol_error(p, "%s", s->problem);
    c->responses_by_type[t]++;
    c->bytes_by_type[t] += m->len;
    take_response(p, t, r, s, m->t_real);
  }
  envoy__service__discovery__v3__discovery_response__free_unpacked(r, NULL);
}

/* Delta: decodes, checks and answers one DeltaDiscoveryResponse. */
static void process_delta(sc_xc_proxy_t *p, const sc_xc_msg_t *m) {
  sc_xc_client_t *c = p->client;
  delta_response_t *r = envoy__service__discovery__v3__delta_discovery_response__unpack(NULL, m->len, m->data);
  if (r == NULL) {
    protocol_error(p, "undecodable DeltaDiscoveryResponse (%zu bytes)", m->len);
    proxy_fail(p, "undecodable DeltaDiscoveryResponse (%zu bytes)", m->len);
    return;
  }
  int t = requested_type(p, r->type_url);
  if (t >= 0) {
    check_nonce(p, t, r->nonce);
    const delta_summary_t *s = summarize_delta(c, t, r);
    if (s->problem[0] != '\0')
      protocol_error(p, "%s", s->problem);
    c->responses_by_type[t]++;
    c->bytes_by_type[t] += m->len;
    take_delta(p, t, r, s, m->t_real);
  }
  envoy__service__discovery__v3__delta_discovery_response__free_unpacked(r, NULL);
}

/* Decodes, checks and answers one response, and sends what it calls for. */
static void process(sc_xc_client_t *c, const sc_xc_msg_t *m) {
  sc_xc_proxy_t *p = m->p;
  if (p->state != SC_XC_OPEN || m->generation != p->generation)
    return;
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  if (p->delta)
    process_delta(p, m);
  else
    process_sotw(p, m);
  flush(p);
  update_synced(p);
  c->decode_ns += now_ns(CLOCK_MONOTONIC) - t0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* A response of the proxy's is decoded: it reads again once half its backlog is. */
static void decoded(const sc_xc_msg_t *m) {
  sc_xc_proxy_t *p = m->p;
  if (m->generation != p->generation)
    return; /* counted on a stream that is gone (reset_stream cleared the count) */
  p->undecoded--;
  if (p->read_paused && p->undecoded <= p->client->max_undecoded / 2) {
    p->read_paused = false;
    if (p->state == SC_XC_OPEN && uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0)
      proxy_fail(p, "read: cannot resume");
  }
}

/* Decodes queued responses, oldest first, for at most budget_ns. */
static void drain(sc_xc_client_t *c, uint64_t budget_ns) {
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  while (c->queue_head != NULL) {
    sc_xc_msg_t *m = c->queue_head;
    c->queue_head = m->next;
    if (c->queue_head == NULL)
      c->queue_tail = NULL;
    c->queue_len--;
    uint64_t waited = now_ns(CLOCK_MONOTONIC) - m->t_mono;
    c->max_queue_wait_ns = waited > c->max_queue_wait_ns ? waited : c->max_queue_wait_ns;
    process(c, m);
    decoded(m);
    settle(m->p);
    free(m);
    if (now_ns(CLOCK_MONOTONIC) - t0 >= budget_ns)
      break;
  }
}

static void on_idle(uv_idle_t *h) {
  (void)h; /* only keeps the poll from blocking while responses wait */
}

/* After each poll: decode waiting responses when nothing was read in this turn (the
 * burst is over), or when the oldest has waited too long. */
static void on_check(uv_check_t *h) {
  sc_xc_client_t *c = h->data;
  if (c->queue_head != NULL) {
    bool quiet = c->reads_this_turn == 0;
    if (quiet || now_ns(CLOCK_MONOTONIC) - c->queue_head->t_mono > MAX_DEFER_NS)
      drain(c, quiet ? DRAIN_IDLE_NS : c->drain_busy_ns ? c->drain_busy_ns : DRAIN_BUSY_NS);
  }
  c->reads_this_turn = 0;
  if (c->queue_head != NULL)
    uv_idle_start(&c->idle, on_idle);
  else
    uv_idle_stop(&c->idle);
}

/* A complete response message: time-stamped now, decoded later. */
static int on_message(void *arg, const uint8_t *msg, size_t len) {
  sc_xc_proxy_t *p = arg;
  sc_xc_client_t *c = p->client;
  sc_xc_msg_t *m = xmalloc(sizeof(*m) + len);
  m->next = NULL;
  m->p = p;
  m->generation = p->generation;
  m->t_real = now_ns(CLOCK_REALTIME);
  m->t_mono = now_ns(CLOCK_MONOTONIC);
  m->len = len;
  memcpy(m->data, msg, len);
  if (c->queue_tail != NULL)
    c->queue_tail->next = m;
  else
    c->queue_head = m;
  c->queue_tail = m;
  c->queue_len++;
  if (++p->undecoded == c->max_undecoded && !p->read_paused) {
    p->read_paused = true;
    c->read_pauses++;
    uv_read_stop((uv_stream_t *)&p->tcp);
  }
  c->max_queue_len = c->queue_len > c->max_queue_len ? c->queue_len : c->max_queue_len;
  c->last_response_ns = m->t_mono;
  return 0;
}

/* ---- HTTP/2 ------------------------------------------------------------------------ */

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user_data) {
  (void)session, (void)flags;
  sc_xc_proxy_t *p = user_data;
  if (stream_id != p->stream_id || p->state != SC_XC_OPEN)
    return 0;
  int rc = sc__grpc_deframer_push(&p->deframer, data, len, on_message, p);
  if (rc != 0) {
    protocol_error(p, "gRPC framing error %d in the response", rc);
    proxy_fail(p, "gRPC framing error %d in the response", rc);
  }
  return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data) {
  (void)session, (void)flags, (void)valuelen;
  sc_xc_proxy_t *p = user_data;
  if (frame->hd.stream_id != p->stream_id)
    return 0;
  if (namelen == 7 && memcmp(name, ":status", 7) == 0)
    p->http_status = atoi((const char *)value);
  else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
    p->grpc_status = atoi((const char *)value);
  return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data) {
  (void)session;
  sc_xc_proxy_t *p = user_data;
  if (stream_id == p->stream_id && p->state == SC_XC_OPEN)
    proxy_fail(p, "ADS stream closed: :status %d, grpc-status %d, HTTP/2 error %u", p->http_status,
               p->grpc_status, error_code);
  return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
  (void)session;
  sc_xc_proxy_t *p = user_data;
  if (frame->hd.type == NGHTTP2_GOAWAY && p->state == SC_XC_OPEN)
    proxy_fail(p, "GOAWAY from the frontend (error %u)", frame->goaway.error_code);
  return 0;
}

static void on_written(uv_write_t *req, int status) {
  sc_xc_proxy_t *p = req->data;
  p->writing = false;
  if (status < 0) {
    if (p->state == SC_XC_OPEN)
      proxy_fail(p, "write: %s", uv_strerror(status));
  } else {
    flush(p);
  }
  settle(p);
}

/* Writes what nghttp2 has to send; one write at a time (the buffer is the write's). */
static void flush(sc_xc_proxy_t *p) {
  if (p->writing || p->h2 == NULL || p->state != SC_XC_OPEN)
    return;
  p->wbuf_len = 0;
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(p->h2, &data);
    if (n < 0) {
      proxy_fail(p, "nghttp2: %s", nghttp2_strerror((int)n));
      return;
    }
    if (n == 0)
      break;
    grow(&p->wbuf, &p->wbuf_cap, p->wbuf_len + (size_t)n);
    memcpy(p->wbuf + p->wbuf_len, data, (size_t)n);
    p->wbuf_len += (size_t)n;
  }
  if (p->wbuf_len == 0)
    return;
  uv_buf_t b = uv_buf_init((char *)p->wbuf, (unsigned)p->wbuf_len);
  p->write.data = p;
  int rc = uv_write(&p->write, (uv_stream_t *)&p->tcp, &b, 1, on_written);
  if (rc != 0)
    proxy_fail(p, "write: %s", uv_strerror(rc));
  else
    p->writing = true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  sc_xc_proxy_t *p = h->data;
  *buf = uv_buf_init((char *)p->client->rbuf, READ_BUFFER_BYTES);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  sc_xc_proxy_t *p = s->data;
  p->client->reads_this_turn++;
  if (nread < 0) {
    if (p->state == SC_XC_OPEN)
      proxy_fail(p, "%s", nread == UV_EOF ? "the frontend closed the connection" : uv_strerror((int)nread));
  } else if (nread > 0 && p->state == SC_XC_OPEN) {
    ssize_t rv = nghttp2_session_mem_recv(p->h2, (const uint8_t *)buf->base, (size_t)nread);
    if (rv < 0)
      proxy_fail(p, "nghttp2: %s", nghttp2_strerror((int)rv));
    else
      flush(p);
  }
  settle(p);
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

/* The HTTP/2 session and the ADS stream, with Envoy's flow-control windows. */
static int open_stream(sc_xc_proxy_t *p) {
  sc_xc_client_t *c = p->client;
  if (nghttp2_session_client_new(&p->h2, c->callbacks, p) != 0)
    return -1;
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW_BYTES}};
  if (nghttp2_submit_settings(p->h2, NGHTTP2_FLAG_NONE, settings, 2) != 0 ||
      nghttp2_session_set_local_window_size(p->h2, NGHTTP2_FLAG_NONE, 0, WINDOW_BYTES) != 0)
    return -1;
  nghttp2_nv hdrs[] = {NV(":method", "POST"),        NV(":scheme", "http"),
                       NV(":path", p->delta ? DELTA_PATH : ADS_PATH), NV(":authority", c->authority),
                       NV("content-type", "application/grpc"), NV("te", "trailers"),
                       NV("user-agent", "bench_xds")};
  nghttp2_data_provider body = {.source = {.ptr = p}, .read_callback = body_read};
  p->stream_id = nghttp2_submit_request(p->h2, NULL, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), &body, p);
  return p->stream_id < 0 ? -1 : 0;
}

static void on_connect(uv_connect_t *req, int status) {
  sc_xc_proxy_t *p = req->data;
  if (p->state != SC_XC_CONNECTING)
    return;
  if (status < 0) {
    proxy_fail(p, "connect: %s", uv_strerror(status));
    settle(p);
    return;
  }
  p->state = SC_XC_OPEN;
  p->client->connected++;
  uv_tcp_nodelay(&p->tcp, 1);
  if (open_stream(p) != 0) {
    proxy_fail(p, "cannot open the HTTP/2 session");
  } else {
    int rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    if (rc != 0)
      proxy_fail(p, "read: %s", uv_strerror(rc));
    else {
      send_first_request(p);
      flush(p);
    }
  }
  settle(p);
}

/* ---- Client ------------------------------------------------------------------------ */

int sc_xc_proxy_connect(sc_xc_proxy_t *p) {
  sc_xc_client_t *c = p->client;
  int rc = uv_tcp_init(c->loop, &p->tcp);
  if (rc != 0) {
    proxy_fail(p, "socket: %s", uv_strerror(rc));
    return rc;
  }
  p->tcp.data = p;
  p->handle_open = true;
  c->handles_open++;
  sc__grpc_deframer_init(&p->deframer, MAX_RESPONSE_BYTES);
  p->state = SC_XC_CONNECTING;
  p->t_connect_ns = now_ns(CLOCK_MONOTONIC);
  p->connect.data = p;
  rc = uv_tcp_connect(&p->connect, &p->tcp, (const struct sockaddr *)&c->addr, on_connect);
  if (rc != 0) {
    proxy_fail(p, "connect: %s", uv_strerror(rc));
    settle(p);
  }
  return rc;
}

static void on_handle_closed(uv_handle_t *h) {
  sc_xc_client_t *c = h->data;
  c->handles_open--;
}

int sc_xc_client_init(sc_xc_client_t *c, uv_loop_t *loop, const struct sockaddr_in *addr, size_t n, bool delta) {
  memset(c, 0, sizeof(*c));
  c->loop = loop;
  c->delta = delta;
  c->addr = *addr;
  char ip[INET_ADDRSTRLEN];
  uv_ip4_name(addr, ip, sizeof(ip));
  snprintf(c->authority, sizeof(c->authority), "%s:%u", ip, ntohs(addr->sin_port));
  c->n = n;
  c->proxies = xmalloc(n * sizeof(sc_xc_proxy_t));
  memset(c->proxies, 0, n * sizeof(sc_xc_proxy_t));
  for (size_t i = 0; i < n; i++) {
    c->proxies[i].client = c;
    c->proxies[i].delta = delta;
  }
  c->rbuf = xmalloc(READ_BUFFER_BYTES);
  sc__hashmap_init(&c->resources);
  sc__hashmap_init(&c->responses);
  sc__hashmap_init(&c->held);
  sc__hashmap_init(&c->delta_responses);
  if (nghttp2_session_callbacks_new(&c->callbacks) != 0)
    return -1;
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c->callbacks, on_data_chunk);
  nghttp2_session_callbacks_set_on_header_callback(c->callbacks, on_header);
  nghttp2_session_callbacks_set_on_stream_close_callback(c->callbacks, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_recv_callback(c->callbacks, on_frame_recv);
  uv_check_init(loop, &c->check);
  uv_idle_init(loop, &c->idle);
  c->check.data = c->idle.data = c;
  c->handles_open += 2;
  uv_check_start(&c->check, on_check);
  return 0;
}

/* Connects the proxies whose backoff is over. */
static void on_reconnect_timer(uv_timer_t *t) {
  sc_xc_client_t *c = t->data;
  uint64_t now = now_ns(CLOCK_MONOTONIC);
  for (size_t i = 0; i < c->n && c->reconnect_pending > 0; i++) {
    sc_xc_proxy_t *p = &c->proxies[i];
    if (p->reconnect_at_ns == 0 || p->reconnect_at_ns > now)
      continue;
    p->reconnect_at_ns = 0;
    c->reconnect_pending--;
    c->reconnects++;
    sc_xc_proxy_connect(p);
  }
  if (c->reconnect_pending == 0)
    uv_timer_stop(t);
}

void sc_xc_client_set_reconnect(sc_xc_client_t *c, uint64_t base_ms) {
  if (c->reconnect_ms == 0 && base_ms > 0) {
    uv_timer_init(c->loop, &c->reconnect_timer);
    c->reconnect_timer.data = c;
    c->handles_open++;
  }
  c->reconnect_ms = base_ms ? base_ms : c->reconnect_ms;
}

void sc_xc_client_mark(sc_xc_client_t *c, const char *needle) {
  c->marked_done = 0;
  c->marking = true;
  snprintf(c->mark_needle, sizeof(c->mark_needle), "%s", needle ? needle : "");
  for (size_t i = 0; i < c->n; i++) {
    sc_xc_proxy_t *p = &c->proxies[i];
    p->mark_done = p->state != SC_XC_OPEN;
    c->marked_done += p->mark_done;
    p->t_mark_cds_ns = 0;
    p->cds_since_mark = 0;
  }
}

void sc_xc_client_close(sc_xc_client_t *c) {
  for (size_t i = 0; i < c->n; i++) {
    sc_xc_proxy_t *p = &c->proxies[i];
    /* A failed proxy waiting to reconnect (or about to) is closed for good too. */
    if (p->state == SC_XC_OPEN || p->state == SC_XC_CONNECTING || (c->reconnect_ms && p->state == SC_XC_FAILED))
      p->state = SC_XC_CLOSED;
    p->reconnect_at_ns = 0;
    if (p->handle_open && !uv_is_closing((uv_handle_t *)&p->tcp))
      uv_close((uv_handle_t *)&p->tcp, on_closed);
  }
  c->reconnect_pending = 0;
  if (!uv_is_closing((uv_handle_t *)&c->check)) {
    uv_close((uv_handle_t *)&c->check, on_handle_closed);
    uv_close((uv_handle_t *)&c->idle, on_handle_closed);
    if (c->reconnect_ms)
      uv_close((uv_handle_t *)&c->reconnect_timer, on_handle_closed);
  }
}

bool sc_xc_client_closed(const sc_xc_client_t *c) {
  return c->handles_open == 0;
}

static void free_caches(sc_xc_client_t *c) {
  for (size_t i = 0; i < c->resources.cap; i++) {
    resource_t *e = c->resources.values[i];
    if (e == NULL)
      continue;
    for (size_t k = 0; k < e->nderived; k++)
      free(e->derived[k]);
    free(e->derived);
    free(e->name);
    free(e);
  }
  for (size_t i = 0; i < c->responses.cap; i++) {
    summary_t *s = c->responses.values[i];
    if (s == NULL)
      continue;
    free(s->names);
    free(s->derived.v);
    free(s);
  }
  for (size_t i = 0; i < c->held.cap; i++) {
    sc_xc_held_t *h = c->held.values[i];
    if (h == NULL)
      continue;
    free(h->name);
    free(h->version);
    free(h);
  }
  for (size_t i = 0; i < c->delta_responses.cap; i++) {
    delta_summary_t *s = c->delta_responses.values[i];
    if (s == NULL)
      continue;
    for (size_t k = 0; k < s->nremoved; k++)
      free(s->removed[k]);
    free(s->removed);
    free(s->items);
    free(s);
  }
  sc__hashmap_free(&c->resources);
  sc__hashmap_free(&c->responses);
  sc__hashmap_free(&c->held);
  sc__hashmap_free(&c->delta_responses);
}

void sc_xc_client_free(sc_xc_client_t *c) {
  while (c->queue_head != NULL) {
    sc_xc_msg_t *m = c->queue_head;
    c->queue_head = m->next;
    free(m);
  }
  for (size_t i = 0; i < c->n; i++) {
    sc_xc_proxy_t *p = &c->proxies[i];
    nghttp2_session_del(p->h2);
    sc__grpc_deframer_free(&p->deframer);
    for (int t = 0; t < SC_XC_NTYPES; t++) {
      free(p->types[t].version);
      free(p->types[t].nonce);
      free(p->types[t].have);
      free(p->types[t].held);
      free(p->types[t].delta_subscribed.v);
    }
    free(p->out);
    free(p->wbuf);
    free(p->nonces);
  }
  free(c->proxies);
  free_caches(c);
  nghttp2_session_callbacks_del(c->callbacks);
  free(c->rbuf);
  memset(c, 0, sizeof(*c));
}
