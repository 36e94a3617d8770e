/* ADS, state of the world and Delta (see ads.h). */
#include "store/mem.h"
#include "frontend/ads.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "reader/proxy.h" /* sc__proxy_from_node: the Node is decoded within the request */
#include "scopecast/error.h"
#include "scopecast/reader.h"
#include "wire/registry.h"

/* A name subscribed, sent or known, with the version the client has (Delta). */
typedef struct {
  char version[SC_RESOURCE_VERSION_MAX]; /* "" : told it does not exist */
  char name[];
} name_t;

typedef struct {
  bool requested;          /* the client asked for this type on this stream */
  bool wildcard, named_ever;
  sc_strmap_t names;       /* explicit subscriptions -> name_t */
  bool dirty;              /* a response may be due: look when the call is free */
  bool force;              /* respond even when nothing changed (new names, first request) */
  bool always_respond;     /* EDS: answer the next request (a CDS response went before) */
  uint64_t sent_nonce;
  char sent_version[17], nacked_version[17];
  sc_strmap_t sent;        /* Delta: what the client has (name -> version) */
  /* SotW: the names of the last request, NUL-separated: most requests (ACKs) repeat them
   * in the same order, which one pass over this tells without hashing. */
  char *last_names;
  size_t last_names_len, last_n;
  uint64_t names_fp;       /* XXH3 of last_names: streams asking for the same share a subset */
  /* A response split for a gRPC client's size cap: the rest to send. */
  sc_resource_t **rest;
  size_t nrest;
  char rest_version[17];   /* the version the parts carry */
  sc_view_type_t *rest_of; /* the list they point into (a reference) */
  char sent_of[17];        /* the view's version the last whole response came from */
  char synced_of[17];      /* Delta: the view's version the client has all it wants of */
  uint64_t stale_since_ns; /* push latency: the commit of a change not yet pushed (0: none) */
} type_state_t;

/* A stream's lifecycle; stream_set_state is the only place it changes. */
typedef enum {
  STREAM_AWAITING_NODE = 0, /* open: its first request, which carries the node, not yet taken */
  STREAM_SERVING,           /* the node taken: responses follow the snapshot */
  STREAM_FINISHED           /* its status is sent: nothing more */
} stream_state_t;

typedef struct stream_s {
  struct stream_s *prev, *next;             /* all streams */
  struct stream_s *view_prev, *view_next;   /* the streams of one view */
  struct stream_s *next_pending;
  bool pending;
  sc_ads_t *ads;
  sc_h2_call_t *call;
  bool delta;
  stream_state_t state;
  /* Memory (or the snapshot) failed the stream: what it was owed is unsure, so it ends
   * with UNAVAILABLE and the client comes back for the whole state. */
  bool failed;
  ProtobufCMessage *first;                  /* the first request: it owns the node */
  sc_proxy_t proxy;
  bool grpc_client;
  char *scope;
  sc_view_t *view;
  uint64_t nonce;
  type_state_t types[SC_XDS__TYPES];
  /* Type URLs not served that this stream asked for, logged once each (hashes). */
  uint64_t unknown_types[8];
  unsigned nunknown_types;
  /* The types owed in the current push cycle (bit per type): those due when it began, each
   * sent once in ADS order before a new cycle begins, as Istio pushes every type of one
   * push in order; so clusters that change faster than a slow stream reads never keep its
   * listeners and routes waiting. */
  unsigned cycle;
} stream_t;

struct sc_ads_s {
  sc_views_t *views;
  sc_ads_opts_t opts;
  const sc_logger_t *log;
  stream_t *streams;
  stream_t *pending;
  bool reresolve;
  sc_ads_stats_t stats;
  json_t *nacks_by;
  uint64_t commit_ns;                              /* see sc__ads_set_commit */
  sc__metrics_hist_t push_latency[SC_XDS__TYPES]; /* seconds; bounds set at the first use */
};

int sc__ads_new(sc_views_t *views, const sc_ads_opts_t *opts, const sc_logger_t *log, sc_ads_t **out) {
  sc_ads_t *a = sc__calloc(1, sizeof(*a));
  if (a == NULL || (a->nacks_by = json_object()) == NULL) {
    sc__free(a);
    return SC_ENOMEM;
  }
  a->views = views;
  a->opts = *opts;
  a->log = log;
  *out = a;
  return 0;
}

void sc__ads_free(sc_ads_t *ads) {
  if (ads == NULL)
    return;
  json_decref(ads->nacks_by);
  sc__free(ads);
}

void sc__ads_stats(const sc_ads_t *ads, sc_ads_stats_t *out) { *out = ads->stats; }
json_t *sc__ads_nacks_by(const sc_ads_t *ads) { return ads->nacks_by; }

/* ---- push latency (see sc__ads_set_commit) ------------------------------------------------ */

void sc__ads_set_commit(sc_ads_t *ads, uint64_t commit_ns) { ads->commit_ns = commit_ns; }

static sc__metrics_hist_t *latency_hist(sc_ads_t *ads, int t) {
  sc__metrics_hist_t *h = &ads->push_latency[t];
  if (h->nbounds == 0)
    sc__metrics_hist_init(h, sc__metrics_latency_bounds, sc__metrics_latency_nbounds);
  return h;
}

const sc__metrics_hist_t *sc__ads_push_latency(const sc_ads_t *ads, int type) {
  return latency_hist((sc_ads_t *)ads, type);
}

/* The view of stream s changed in types: stamp them with the commit being followed. */
static void note_changed(stream_t *s, unsigned types) {
  for (int t = 0; t < SC_XDS__TYPES && s->ads->commit_ns != 0; t++)
    if ((types & (1u << t)) && s->types[t].requested && s->types[t].stale_since_ns == 0)
      s->types[t].stale_since_ns = s->ads->commit_ns;
}

/* serve() tried type t: count the push, observe the latency of a stamped change. */
static void note_served(stream_t *s, int t, bool sent) {
  type_state_t *ts = &s->types[t];
  if (sent)
    s->ads->stats.pushes_by_type[t]++;
  if (ts->stale_since_ns == 0)
    return;
  if (sent) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    sc__metrics_hist_observe(latency_hist(s->ads, t),
                             now_ns > ts->stale_since_ns ? (double)(now_ns - ts->stale_since_ns) / 1e9 : 0);
    ts->stale_since_ns = 0;
  } else if (!ts->dirty) {
    ts->stale_since_ns = 0; /* nothing to send for it */
  }
}

/* ---- names ----------------------------------------------------------------------------- */

static name_t *name_put(sc_strmap_t *m, const char *name, const char *version) {
  name_t *n = sc__strmap_get(m, sc_str(name));
  if (n == NULL) {
    size_t len = strlen(name);
    if ((n = sc__malloc(sizeof(*n) + len + 1)) == NULL)
      return NULL;
    memcpy(n->name, name, len + 1);
    if (sc__strmap_put(m, sc_str(n->name), n) != 0) {
      sc__free(n);
      return NULL;
    }
  }
  snprintf(n->version, sizeof(n->version), "%s", version ? version : "");
  return n;
}

static void name_del(sc_strmap_t *m, const char *name) { sc__free(sc__strmap_remove(m, sc_str(name))); }

static bool name_has(const sc_strmap_t *m, const char *name) { return sc__strmap_get(m, sc_str(name)) != NULL; }

typedef struct {
  name_t **items;
  size_t n;
} name_list_t;

static void collect_name(void *arg, sc_str_t key, void *value) {
  (void)key;
  name_list_t *l = arg;
  l->items[l->n++] = value;
}

/* The names of m (borrowed), so that m can change while they are visited. */
static name_list_t name_list(const sc_strmap_t *m) {
  name_list_t l = {sc__calloc(m->n ? m->n : 1, sizeof(name_t *)), 0};
  if (l.items != NULL)
    sc__strmap_foreach(m, collect_name, &l);
  return l;
}

static void names_clear(sc_strmap_t *m) {
  sc__strmap_free(m, sc__free);
  sc__strmap_init(m);
}

/* ---- streams ----------------------------------------------------------------------------- */

static const char *type_name(int t) { return sc_xds_types[t].name; }

static void queue(stream_t *s) {
  if (s->pending || s->state == STREAM_FINISHED)
    return;
  s->pending = true;
  s->next_pending = s->ads->pending;
  s->ads->pending = s;
}

static void unqueue(stream_t *s) {
  if (!s->pending)
    return;
  for (stream_t **p = &s->ads->pending; *p != NULL; p = &(*p)->next_pending)
    if (*p == s) {
      *p = s->next_pending;
      break;
    }
  s->pending = false;
}

static void detach_view(stream_t *s) {
  if (s->view == NULL)
    return;
  if (s->view_prev)
    s->view_prev->view_next = s->view_next;
  else
    s->view->watchers = s->view_next;
  if (s->view_next)
    s->view_next->view_prev = s->view_prev;
  s->view_prev = s->view_next = NULL;
  sc__views_release(s->ads->views, s->view);
  s->view = NULL;
}

static void attach_view(stream_t *s, sc_view_t *v) {
  s->view = v;
  s->view_prev = NULL;
  s->view_next = v->watchers;
  if (s->view_next)
    s->view_next->view_prev = s;
  v->watchers = s;
}

void *sc__ads_open(void *app, sc_h2_call_t *call, sc_h2_method_t method) {
  sc_ads_t *ads = app;
  stream_t *s = sc__calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->ads = ads;
  s->call = call;
  s->delta = method == SC_H2_DELTA;
  for (int t = 0; t < SC_XDS__TYPES; t++) {
    sc__strmap_init(&s->types[t].names);
    sc__strmap_init(&s->types[t].sent);
  }
  s->next = ads->streams;
  if (ads->streams)
    ads->streams->prev = s;
  ads->streams = s;
  ads->stats.streams++;
  ads->stats.streams_total++;
  return s;
}

void sc__ads_closed(void *app, void *state) {
  sc_ads_t *ads = app;
  stream_t *s = state;
  if (s->first != NULL) /* it had a node */
    sc__log(ads->log, SC_LOG_INFO, "%s: stream of %.*s ended", sc__h2_call_peer(s->call), (int)s->proxy.id.len,
           s->proxy.id.ptr);
  unqueue(s);
  detach_view(s);
  for (int t = 0; t < SC_XDS__TYPES; t++) {
    names_clear(&s->types[t].names);
    names_clear(&s->types[t].sent);
    sc__strmap_free(&s->types[t].names, NULL);
    sc__strmap_free(&s->types[t].sent, NULL);
    sc__free(s->types[t].rest);
    sc__views_list_unref(ads->views, s->types[t].rest_of);
    sc__free(s->types[t].last_names);
  }
  if (s->first != NULL)
    protobuf_c_message_free_unpacked(s->first, NULL);
  if (s->prev)
    s->prev->next = s->next;
  else
    ads->streams = s->next;
  if (s->next)
    s->next->prev = s->prev;
  ads->stats.streams--;
  sc__free(s->scope);
  sc__free(s);
}

static void stream_set_state(stream_t *s, stream_state_t to) {
  assert(to == STREAM_SERVING ? s->state == STREAM_AWAITING_NODE
                              : to == STREAM_FINISHED && s->state != STREAM_FINISHED);
  s->state = to;
}

static void finish(stream_t *s, int status, const char *message) {
  stream_set_state(s, STREAM_FINISHED);
  unqueue(s);
  sc__h2_call_finish(s->call, status, message);
}

/* Ends a stream whose state an allocation (or the snapshot) failed. */
static void end_failed(stream_t *s) {
  sc__log(s->ads->log, SC_LOG_ERROR, "%.*s: stream ended: out of memory or the snapshot failed", (int)s->proxy.id.len,
         s->proxy.id.ptr);
  finish(s, SC_GRPC_UNAVAILABLE, "out of memory");
}

/* The proxy's scope and view; the stream waits (nothing to serve) while the snapshot
 * cannot say. Returns whether the scope changed. */
static bool resolve(stream_t *s) {
  sc_ads_t *ads = s->ads;
  char *scope = NULL;
  int rc = sc__views_resolve(ads->views, s->proxy.namespace_, &s->proxy.label_set, &scope);
  if (rc != 0) {
    if (rc != SC_ENOTFOUND) {
      sc__log(ads->log, SC_LOG_ERROR, "%.*s: cannot resolve its scope: %s", (int)s->proxy.id.len, s->proxy.id.ptr,
             sc_strerror(rc));
      s->failed = true;
    }
    return false;
  }
  if (s->scope != NULL && strcmp(s->scope, scope) == 0) {
    sc__free(scope);
    return false;
  }
  sc_view_t *v;
  if (sc__views_acquire(ads->views, scope, &s->proxy.label_set, s->proxy.interception == SC_INTERCEPT_NONE, &v) != 0) {
    sc__free(scope);
    s->failed = true;
    return false;
  }
  if (s->scope != NULL)
    sc__log(ads->log, SC_LOG_INFO, "%.*s: scope %s -> %s", (int)s->proxy.id.len, s->proxy.id.ptr, s->scope, scope);
  detach_view(s);
  sc__free(s->scope);
  s->scope = scope;
  attach_view(s, v);
  for (int t = 0; t < SC_XDS__TYPES; t++)
    if (s->types[t].requested)
      s->types[t].dirty = true;
  return true;
}

static const Google__Protobuf__Value *node_meta(const Envoy__Config__Core__V3__Node *node, const char *key) {
  for (size_t i = 0; node->metadata != NULL && i < node->metadata->n_fields; i++)
    if (node->metadata->fields[i]->key != NULL && strcmp(node->metadata->fields[i]->key, key) == 0)
      return node->metadata->fields[i]->value;
  return NULL;
}

/* The first request: who the proxy is. False when the stream was ended. */
static bool start(stream_t *s, ProtobufCMessage *req, const Envoy__Config__Core__V3__Node *node) {
  sc_ads_t *ads = s->ads;
  char err[256];
  if (sc__proxy_from_node(node, &s->proxy, err, sizeof(err)) != 0) {
    ads->stats.invalid_nodes++;
    sc__log(ads->log, SC_LOG_WARN, "%s: invalid node: %s", sc__h2_call_peer(s->call), err);
    protobuf_c_message_free_unpacked(req, NULL);
    finish(s, SC_GRPC_INVALID_ARGUMENT, err);
    return false;
  }
  if (s->proxy.router) {
    /* A gateway given a sidecar's scope would serve the wrong listeners: refuse it, and
     * say so, until gateway configuration is generated. */
    ads->stats.gateways_refused++;
    sc__log(ads->log, SC_LOG_WARN, "%s: node %s is a gateway (router): not served, only sidecars are",
           sc__h2_call_peer(s->call), node->id);
    protobuf_c_message_free_unpacked(req, NULL);
    finish(s, SC_GRPC_UNIMPLEMENTED,
           "scopecast serves sidecars only: gateway (router) configuration is not implemented");
    return false;
  }
  s->first = req; /* the proxy's strings point into it */
  stream_set_state(s, STREAM_SERVING);
  const Google__Protobuf__Value *gen = node_meta(node, "GENERATOR");
  s->grpc_client = (node->user_agent_name != NULL && strstr(node->user_agent_name, "gRPC") != NULL) ||
                   (gen != NULL && gen->kind_case == GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE &&
                    strcmp(gen->string_value, "grpc") == 0);
  resolve(s);
  sc__log(ads->log, SC_LOG_INFO, "%s: %s stream of %s, scope %s", sc__h2_call_peer(s->call), s->delta ? "delta" : "sotw",
         node->id, s->scope ? s->scope : "(not resolved yet)");
  return true;
}

/* ---- responses ----------------------------------------------------------------------------- */

typedef struct {
  sc_body_t *body;
  size_t nonce_len;
  uint8_t nonce[40];
} send_t;

static void release_send(void *arg) {
  send_t *x = arg;
  sc__views_body_unref(x->body);
  sc__free(x);
}

static void hash_items(sc_resource_t *const *items, size_t n, char out[17]) {
  XXH3_state_t *st = XXH3_createState();
  if (st == NULL) {
    snprintf(out, 17, "%016x", 0);
    return;
  }
  XXH3_64bits_reset(st);
  for (size_t i = 0; i < n; i++) {
    XXH3_64bits_update(st, items[i]->name, strlen(items[i]->name) + 1);
    XXH3_64bits_update(st, items[i]->version, strlen(items[i]->version) + 1);
  }
  snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(st));
  XXH3_freeState(st);
}

/* Sends body (a DiscoveryResponse without nonce, taken) with the stream's next nonce as a
 * second encoded part: protobuf merges concatenated messages. */
static int send_body(stream_t *s, sc_body_t *body, uint64_t *nonce_out) {
  send_t *x = sc__calloc(1, sizeof(*x));
  if (x == NULL) {
    sc__views_body_unref(body);
    return SC_ENOMEM;
  }
  char nonce[24];
  snprintf(nonce, sizeof(nonce), "%" PRIu64, ++s->nonce);
  Envoy__Service__Discovery__V3__DiscoveryResponse r = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_RESPONSE__INIT;
  r.nonce = nonce;
  x->body = body;
  x->nonce_len = envoy__service__discovery__v3__discovery_response__pack(&r, x->nonce);
  sc_h2_part_t parts[2] = {{body->data, body->len}, {x->nonce, x->nonce_len}};
  int rc = sc__h2_call_send(s->call, parts, 2, release_send, x);
  if (rc != 0) {
    release_send(x);
    return rc;
  }
  *nonce_out = s->nonce;
  s->ads->stats.pushes++;
  return 0;
}

/* What a SotW response of type t carries: every resource for a wildcard, else those of
 * the subscribed names that exist, in the view's order. */
static size_t sotw_items(stream_t *s, int t, sc_view_type_t *vt, sc_resource_t **items) {
  type_state_t *ts = &s->types[t];
  size_t n = 0;
  for (size_t i = 0; i < vt->list.n; i++)
    if (ts->wildcard || name_has(&ts->names, vt->list.items[i].name))
      items[n++] = &vt->list.items[i];
  return n;
}

/* An upper bound of the encoded size of a response holding items: per resource its bytes,
 * its Any's type URL and tags; per response the version, type URL and nonce. */
enum { RESPONSE_OVERHEAD = 160 };

static size_t items_size(sc_resource_t *const *items, size_t n, int t) {
  size_t sum = RESPONSE_OVERHEAD;
  for (size_t i = 0; i < n; i++)
    sum += items[i]->len + strlen(sc_xds_types[t].type_url) + 16;
  return sum;
}

/* Sends items[0..n) as one SotW response (or the first part of a split one). */
typedef enum { SEND_WHOLE, SEND_CHANGES, SEND_PART } send_kind_t;

static bool sotw_send(stream_t *s, int t, sc_view_type_t *vt, sc_resource_t **items, size_t n, const char *version,
                      send_kind_t kind) {
  type_state_t *ts = &s->types[t];
  /* Whole responses and changes are shared by version; the parts of a split one all
   * carry the same version, so they are built apart. */
  sc_body_t *body = kind == SEND_PART ? sc__views_body_encode((sc_xds_type_t)t, version, items, n)
                                      : sc__views_body(vt, (sc_xds_type_t)t, version, kind == SEND_CHANGES, items, n);
  if (body == NULL || send_body(s, body, &ts->sent_nonce) != 0) {
    sc__log(s->ads->log, SC_LOG_ERROR, "%.*s: cannot send %s: out of memory", (int)s->proxy.id.len, s->proxy.id.ptr,
           type_name(t));
    s->failed = true;
    return false;
  }
  snprintf(ts->sent_version, sizeof(ts->sent_version), "%s", version);
  /* A client with all of a version can take only what changes next; a split one cannot. */
  snprintf(ts->sent_of, sizeof(ts->sent_of), "%s", kind == SEND_PART ? "" : vt->version);
  sc__log(s->ads->log, SC_LOG_DEBUG, "%.*s: push %s version %s, %zu resources, nonce %" PRIu64, (int)s->proxy.id.len,
         s->proxy.id.ptr, type_name(t), version, n, ts->sent_nonce);
  return true;
}

/* Keeps a stream's subset in the list for the streams that ask for the same names. */
static void remember_subset(sc_view_type_t *vt, uint64_t fp, sc_resource_t **items, size_t n, const char *version) {
  sc_resource_t **copy = sc__malloc((n ? n : 1) * sizeof(*copy));
  if (copy == NULL)
    return;
  memcpy(copy, items, n * sizeof(*copy));
  sc__free(vt->subset);
  vt->subset = copy;
  vt->nsubset = n;
  vt->subset_fp = fp;
  memcpy(vt->subset_version, version, sizeof(vt->subset_version));
}

/* Forgets what is left of a split response. */
static void drop_rest(stream_t *s, type_state_t *ts) {
  ts->nrest = 0;
  sc__views_list_unref(s->ads->views, ts->rest_of);
  ts->rest_of = NULL;
}

/* The rest of a split response (gRPC size cap). True when something was sent. */
static bool sotw_send_rest(stream_t *s, int t, sc_view_type_t *vt) {
  type_state_t *ts = &s->types[t];
  size_t cap = s->ads->opts.grpc_max_response;
  while (ts->nrest > 0 && items_size(ts->rest, 1, t) > cap) { /* one resource alone is over the cap */
    s->ads->stats.oversize_skipped++;
    sc__log(s->ads->log, SC_LOG_WARN, "%.*s: %s %s is larger than the gRPC response cap (%zu bytes): not sent",
           (int)s->proxy.id.len, s->proxy.id.ptr, type_name(t), ts->rest[0]->name, cap);
    memmove(ts->rest, ts->rest + 1, (ts->nrest - 1) * sizeof(*ts->rest));
    ts->nrest--;
  }
  size_t n = 0, size = RESPONSE_OVERHEAD;
  while (n < ts->nrest && (n == 0 || size + items_size(&ts->rest[n], 1, t) - RESPONSE_OVERHEAD <= cap)) {
    size += items_size(&ts->rest[n], 1, t) - RESPONSE_OVERHEAD;
    n++;
  }
  if (n == 0)
    return false;
  bool sent = sotw_send(s, t, vt, ts->rest, n, ts->rest_version, SEND_PART);
  memmove(ts->rest, ts->rest + n, (ts->nrest - n) * sizeof(*ts->rest));
  ts->nrest -= n;
  return sent;
}

/* Of what changed in vt since the version the client has, what it subscribed to. */
static size_t changed_items(const type_state_t *ts, const sc_view_type_t *vt, sc_resource_t **items) {
  size_t n = 0;
  for (size_t i = 0; i < vt->nchanges; i++)
    if (name_has(&ts->names, vt->changes[i]->name))
      items[n++] = vt->changes[i];
  return n;
}

/* A SotW response of type t if one is due. True when something was sent. */
static bool serve_sotw(stream_t *s, int t) {
  sc_ads_t *ads = s->ads;
  type_state_t *ts = &s->types[t];
  sc_view_type_t *vt = s->view ? sc__views_type(ads->views, s->view, (sc_xds_type_t)t) : NULL;
  s->failed |= s->view != NULL && vt == NULL; /* the list could not be put together */
  if (vt == NULL || !vt->present)
    return false; /* nothing to serve yet; the stream is told when there is */
  if (ts->nrest > 0 && ts->rest_of == vt) { /* the rest of a split response */
    bool sent = sotw_send_rest(s, t, vt);
    ts->dirty = ts->nrest > 0;
    if (!ts->dirty)
      drop_rest(s, ts);
    return sent;
  }
  drop_rest(s, ts);
  sc_resource_t **items = sc__calloc(vt->list.n ? vt->list.n : 1, sizeof(*items));
  if (items == NULL) {
    s->failed = true;
    return false;
  }
  size_t n;
  char version[17];
  if (!ts->wildcard && ts->names_fp != 0 && ts->names_fp == vt->subset_fp) { /* as another stream asked */
    n = vt->nsubset;
    memcpy(items, vt->subset, n * sizeof(*items));
    memcpy(version, vt->subset_version, sizeof(version));
  } else {
    n = sotw_items(s, t, vt, items);
    if (n == vt->list.n)
      memcpy(version, vt->version, sizeof(version));
    else
      hash_items(items, n, version);
    if (!ts->wildcard && ts->names_fp != 0)
      remember_subset(vt, ts->names_fp, items, n, version);
  }
  bool full_state = t == SC_XDS_CLUSTERS || t == SC_XDS_LISTENERS;
  bool forced = ts->force;
  ts->dirty = ts->force = false;
  /* Only send what changed; never the version the client rejected; nothing for a type
   * that is not full state when the client asks for no names of it. */
  if ((!full_state && ts->names.n == 0) ||
      (!forced && (strcmp(version, ts->sent_version) == 0 || strcmp(version, ts->nacked_version) == 0))) {
    sc__free(items);
    return false;
  }
  bool sent = false;
  size_t cap = ads->opts.grpc_max_response;
  if (s->grpc_client && cap > 0 && items_size(items, n, t) > cap) {
    if (full_state) { /* LDS and CDS cannot be split: the client would delete the rest */
      ads->stats.oversize_skipped++;
      sc__log(ads->log, SC_LOG_WARN,
             "%.*s: %s response of %zu resources is larger than the gRPC response cap (%zu bytes): not sent",
             (int)s->proxy.id.len, s->proxy.id.ptr, type_name(t), n, cap);
      snprintf(ts->nacked_version, sizeof(ts->nacked_version), "%s", version); /* not again */
      sc__free(items);
      return false;
    }
    sc__free(ts->rest);
    ts->rest = items;
    ts->nrest = n;
    memcpy(ts->rest_version, version, sizeof(version));
    sc__views_list_unref(ads->views, ts->rest_of);
    sc__views_list_ref(vt);
    ts->rest_of = vt;
    sent = sotw_send_rest(s, t, vt);
    ts->dirty = ts->nrest > 0;
    if (!ts->dirty)
      drop_rest(s, ts);
    items = NULL;
  } else if (!full_state && !forced && vt->has_changes && strcmp(ts->sent_of, vt->prev_version) == 0) {
    n = changed_items(ts, vt, items);
    if (n > 0)
      sent = sotw_send(s, t, vt, items, n, version, SEND_CHANGES);
    else { /* only names went (their clusters went too): nothing to say, but what the client
            * holds is now this version, so that what comes back is sent again */
      memcpy(ts->sent_of, vt->version, sizeof(ts->sent_of));
      memcpy(ts->sent_version, version, sizeof(ts->sent_version));
    }
  } else {
    sent = sotw_send(s, t, vt, items, n, version, SEND_WHOLE);
  }
  sc__free(items);
  if (sent && t == SC_XDS_CLUSTERS)
    s->types[SC_XDS_ENDPOINTS].always_respond = true; /* warming needs a new assignment */
  if (sent && t == SC_XDS_ENDPOINTS)
    ts->always_respond = false;
  return sent;
}

/* ---- Delta responses -------------------------------------------------------------------------- */

static bool delta_wants(const type_state_t *ts, const char *name) {
  return ts->wildcard || name_has(&ts->names, name);
}

/* A Delta response being put together: the resources the client lacks and the names it is
 * told are gone, pointing into the view and into the stream's names. */
typedef struct {
  Envoy__Service__Discovery__V3__Resource *res, **res_ptrs;
  Google__Protobuf__Any *anys;
  char **removed;
  size_t nres, nremoved;
} delta_response_t;

static void delta_response_free(delta_response_t *d) {
  sc__free(d->res);
  sc__free(d->res_ptrs);
  sc__free(d->anys);
  sc__free(d->removed);
}

/* Resources: of the candidates (the view's changes, or its whole list), those the client
 * wants and lacks in that version. */
static void delta_add_resources(delta_response_t *d, const type_state_t *ts, int t, const sc_view_type_t *vt,
                                bool fast) {
  size_t ncandidates = fast ? vt->nchanges : vt->list.n;
  for (size_t i = 0; i < ncandidates; i++) {
    sc_resource_t *r = fast ? vt->changes[i] : &vt->list.items[i];
    if (!delta_wants(ts, r->name))
      continue;
    name_t *have = sc__strmap_get(&ts->sent, sc_str(r->name));
    if (have != NULL && strcmp(have->version, r->version) == 0)
      continue;
    size_t k = d->nres++;
    google__protobuf__any__init(&d->anys[k]);
    d->anys[k].type_url = (char *)sc_xds_types[t].type_url;
    d->anys[k].value = (ProtobufCBinaryData){r->len, r->bytes};
    envoy__service__discovery__v3__resource__init(&d->res[k]);
    d->res[k].name = r->name;
    d->res[k].version = r->version;
    d->res[k].resource = &d->anys[k];
    d->res_ptrs[k] = &d->res[k];
  }
}

/* Gone: what the client has that no longer exists (of what went since, when fast; else of
 * known, what it has); and subscribed names (subs) that do not exist, once (it need not
 * wait for its timer; the subscription stays). */
static void delta_add_removed(delta_response_t *d, const type_state_t *ts, const sc_view_type_t *vt, bool fast,
                              const name_list_t *known, const name_list_t *subs) {
  for (size_t i = 0; fast && i < vt->ngone; i++) {
    name_t *have = sc__strmap_get(&ts->sent, sc_str(vt->gone[i]));
    if (have != NULL && have->version[0])
      d->removed[d->nremoved++] = have->name;
  }
  for (size_t i = 0; i < known->n; i++)
    if (known->items[i]->version[0] && sc__strmap_get(&vt->by_name, sc_str(known->items[i]->name)) == NULL)
      d->removed[d->nremoved++] = known->items[i]->name;
  for (size_t i = 0; i < subs->n; i++) {
    name_t *have = sc__strmap_get(&ts->sent, sc_str(subs->items[i]->name));
    if (have == NULL && sc__strmap_get(&vt->by_name, sc_str(subs->items[i]->name)) == NULL)
      d->removed[d->nremoved++] = subs->items[i]->name;
  }
}

/* What the client lacks of type t in vt: false when memory failed (d is then empty, to
 * be freed all the same). */
static bool delta_collect(delta_response_t *d, const type_state_t *ts, int t, const sc_view_type_t *vt, bool fast) {
  size_t cap = fast ? vt->nchanges + vt->ngone + 1 : vt->list.n + ts->names.n + ts->sent.n + 1;
  *d = (delta_response_t){sc__calloc(cap, sizeof(*d->res)), sc__calloc(cap, sizeof(*d->res_ptrs)),
                          sc__calloc(cap, sizeof(*d->anys)), sc__calloc(cap, sizeof(*d->removed)), 0, 0};
  name_list_t known = {NULL, 0}, subs = {NULL, 0};
  if (!fast) {
    known = name_list(&ts->sent);
    subs = name_list(&ts->names);
  }
  bool ok = d->res && d->res_ptrs && d->anys && d->removed && (fast || (known.items && subs.items));
  if (ok) {
    delta_add_resources(d, ts, t, vt, fast);
    delta_add_removed(d, ts, vt, fast, &known, &subs);
  }
  sc__free(known.items);
  sc__free(subs.items);
  return ok;
}

/* Sends d as the Delta response of type t with the stream's next nonce. True when it was
 * queued; memory failing fails the stream. */
static bool delta_send(stream_t *s, int t, sc_view_type_t *vt, const delta_response_t *d) {
  type_state_t *ts = &s->types[t];
  char nonce[24];
  snprintf(nonce, sizeof(nonce), "%" PRIu64, s->nonce + 1);
  Envoy__Service__Discovery__V3__DeltaDiscoveryResponse r = ENVOY__SERVICE__DISCOVERY__V3__DELTA_DISCOVERY_RESPONSE__INIT;
  r.system_version_info = vt->version;
  r.nonce = nonce;
  r.type_url = (char *)sc_xds_types[t].type_url;
  r.n_resources = d->nres;
  r.resources = d->res_ptrs;
  r.n_removed_resources = d->nremoved;
  r.removed_resources = d->removed;
  size_t len = envoy__service__discovery__v3__delta_discovery_response__get_packed_size(&r);
  sc_body_t *body = sc__malloc(sizeof(*body) + len);
  send_t *x = sc__calloc(1, sizeof(*x));
  if (body == NULL || x == NULL) {
    sc__free(body);
    sc__free(x);
    s->failed = true;
    return false;
  }
  body->refs = 1;
  body->len = envoy__service__discovery__v3__delta_discovery_response__pack(&r, body->data);
  x->body = body;
  sc_h2_part_t part = {body->data, body->len};
  if (sc__h2_call_send(s->call, &part, 1, release_send, x) != 0) {
    release_send(x);
    return false;
  }
  s->nonce++;
  ts->sent_nonce = s->nonce;
  snprintf(ts->sent_version, sizeof(ts->sent_version), "%s", vt->version);
  s->ads->stats.pushes++;
  return true;
}

/* d was sent: what the client has now. */
static void delta_note_sent(stream_t *s, int t, const delta_response_t *d) {
  type_state_t *ts = &s->types[t];
  for (size_t i = 0; i < d->nres; i++)
    s->failed |= name_put(&ts->sent, d->res[i].name, d->res[i].version) == NULL;
  for (size_t i = 0; i < d->nremoved; i++) {
    char *name = d->removed[i];
    if (name_has(&ts->names, name))
      s->failed |= name_put(&ts->sent, name, "") == NULL; /* told: does not exist */
    else
      name_del(&ts->sent, name);
  }
  sc__log(s->ads->log, SC_LOG_DEBUG, "%.*s: delta push %s: %zu resources, %zu removed, nonce %" PRIu64,
         (int)s->proxy.id.len, s->proxy.id.ptr, type_name(t), d->nres, d->nremoved, ts->sent_nonce);
}

/* A Delta response of type t with what the client lacks, if anything. */
static bool serve_delta(stream_t *s, int t) {
  sc_ads_t *ads = s->ads;
  type_state_t *ts = &s->types[t];
  sc_view_type_t *vt = s->view ? sc__views_type(ads->views, s->view, (sc_xds_type_t)t) : NULL;
  s->failed |= s->view != NULL && vt == NULL; /* the list could not be put together */
  if (vt == NULL || !vt->present)
    return false;
  bool forced = ts->force;
  ts->dirty = ts->force = false;
  /* A client with all it wants of the list this one replaced needs only its changes. */
  bool fast = !forced && vt->has_changes && strcmp(ts->synced_of, vt->prev_version) == 0;
  delta_response_t d;
  bool ok = delta_collect(&d, ts, t, vt, fast), sent = false;
  if (ok && (d.nres > 0 || d.nremoved > 0) && (sent = delta_send(s, t, vt, &d)))
    delta_note_sent(s, t, &d);
  bool complete = ok && (sent || (d.nres == 0 && d.nremoved == 0));
  snprintf(ts->synced_of, sizeof(ts->synced_of), "%s", complete ? vt->version : "");
  if (!ok) {
    sc__log(ads->log, SC_LOG_ERROR, "%.*s: cannot build a %s response: out of memory", (int)s->proxy.id.len,
           s->proxy.id.ptr, type_name(t));
    s->failed = true;
  }
  delta_response_free(&d);
  return sent;
}

/* ---- push order ------------------------------------------------------------------------------ */

/* Whether clusters go in the pending CDS response: then listeners and routes that may
 * name them are updated first (SotW: the view knows names went at its last change; Delta:
 * the client holds names the view no longer has). */
static bool clusters_go(stream_t *s) {
  type_state_t *ts = &s->types[SC_XDS_CLUSTERS];
  sc_view_type_t *vt = s->view->types[SC_XDS_CLUSTERS];
  if (!ts->dirty || vt == NULL || !vt->present || strcmp(ts->sent_version, vt->version) == 0)
    return false;
  if (!s->delta)
    return vt->dropped;
  if (vt->has_changes && strcmp(ts->synced_of, vt->prev_version) == 0) { /* what went since */
    for (size_t i = 0; i < vt->ngone; i++)
      if (name_has(&ts->sent, vt->gone[i]))
        return true;
    return false;
  }
  name_list_t l = name_list(&ts->sent);
  s->failed |= l.items == NULL;
  bool gone = false;
  for (size_t i = 0; i < l.n && !gone; i++)
    gone = l.items[i]->version[0] && sc__strmap_get(&vt->by_name, sc_str(l.items[i]->name)) == NULL;
  sc__free(l.items);
  return gone;
}

#define TYPE_BIT(t) (1u << (t))

/* The types a response may be due for. */
static unsigned due_types(const stream_t *s) {
  unsigned due = 0;
  for (int t = 0; t < SC_XDS__TYPES; t++)
    if (s->types[t].requested && s->types[t].dirty)
      due |= TYPE_BIT(t);
  return due;
}

/* Sends the next response due, in ADS order, while the call can take one; a type due
 * again waits for the end of the cycle (stream_t.cycle). */
static void serve(stream_t *s) {
  static const int order[] = {SC_XDS_CLUSTERS, SC_XDS_ENDPOINTS, SC_XDS_LISTENERS, SC_XDS_ROUTES};
  static const int removal_order[] = {SC_XDS_LISTENERS, SC_XDS_ROUTES, SC_XDS_CLUSTERS, SC_XDS_ENDPOINTS};
  if (s->failed && s->state != STREAM_FINISHED)
    end_failed(s);
  if (s->state != STREAM_SERVING || s->view == NULL)
    return;
  while (!sc__h2_call_busy(s->call)) {
    unsigned due = due_types(s);
    if ((s->cycle & due) == 0)
      s->cycle = due;
    bool removal = clusters_go(s);
    if (removal) /* listeners and routes that may name the clusters going are updated first */
      s->cycle |= due & (TYPE_BIT(SC_XDS_LISTENERS) | TYPE_BIT(SC_XDS_ROUTES));
    const int *o = removal ? removal_order : order;
    bool sent = false;
    for (int i = 0; i < SC_XDS__TYPES && !sent; i++) {
      int t = o[i];
      if ((s->cycle & due & TYPE_BIT(t)) == 0)
        continue;
      s->cycle &= ~TYPE_BIT(t);
      sent = s->delta ? serve_delta(s, t) : serve_sotw(s, t);
      note_served(s, t, sent); /* metrics */
      if (s->failed) {
        end_failed(s);
        return;
      }
      if (sent && t == SC_XDS_CLUSTERS) /* the EDS request that follows is this cycle's */
        s->cycle |= TYPE_BIT(SC_XDS_ENDPOINTS);
    }
    if (!sent && (s->cycle & due_types(s)) == 0)
      return;
  }
}

void sc__ads_writable(void *app, void *state) {
  (void)app;
  serve(state);
}

void sc__ads_views_changed(void *app, sc_view_t *view, unsigned types) {
  sc_ads_t *ads = app;
  if (view == NULL) { /* selector records changed: proxies may have other scopes now */
    ads->reresolve = true;
    return;
  }
  for (stream_t *s = view->watchers; s != NULL; s = s->view_next) {
    for (int t = 0; t < SC_XDS__TYPES; t++)
      if ((types & (1u << t)) && s->types[t].requested)
        s->types[t].dirty = true;
    note_changed(s, types); /* metrics */
    queue(s);
  }
}

void sc__ads_service(sc_ads_t *ads) {
  bool all = ads->reresolve;
  ads->reresolve = false;
  for (stream_t *s = ads->streams; s != NULL; s = s->next)
    if (s->state == STREAM_SERVING && (all || s->view == NULL) && (resolve(s) || s->failed))
      queue(s); /* a failed one to be ended */
  while (ads->pending != NULL) {
    stream_t *s = ads->pending;
    ads->pending = s->next_pending;
    s->pending = false;
    serve(s);
  }
}

/* ---- requests ---------------------------------------------------------------------------------- */

static void record_nack(stream_t *s, int t, const char *version, const Google__Rpc__Status *detail, bool current) {
  sc_ads_t *ads = s->ads;
  type_state_t *ts = &s->types[t];
  ads->stats.nacks++;
  char key[1100];
  snprintf(key, sizeof(key), "%s %s", s->scope ? s->scope : "-", type_name(t));
  json_t *n = json_object_get(ads->nacks_by, key);
  json_object_set_new(ads->nacks_by, key, json_integer(json_integer_value(n) + 1));
  if (current) /* the response it answers is the latest: that version is not sent again */
    memcpy(ts->nacked_version, ts->sent_version, sizeof(ts->nacked_version));
  ts->sent_of[0] = 0; /* what it holds is unsure: the next response is whole */
  sc__log(ads->log, SC_LOG_WARN, "NACK scope %s type %s version %s node %.*s: %d %s", s->scope ? s->scope : "-",
         type_name(t), current ? ts->sent_version : version, (int)s->proxy.id.len, s->proxy.id.ptr,
         detail->code, detail->message ? detail->message : "");
}

/* Whether nonce names the latest response of type t. */
static bool nonce_current(const type_state_t *ts, const char *nonce) {
  if (nonce == NULL || nonce[0] == 0 || ts->sent_nonce == 0)
    return false;
  char want[24];
  snprintf(want, sizeof(want), "%" PRIu64, ts->sent_nonce);
  return strcmp(nonce, want) == 0;
}

/* Whether names are those of the last request, in the same order. */
static bool same_names(const type_state_t *ts, char **names, size_t n) {
  if (ts->last_names == NULL || n != ts->last_n)
    return false;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(names[i]) + 1;
    if (at + len > ts->last_names_len || memcmp(ts->last_names + at, names[i], len) != 0)
      return false;
    at += len;
  }
  return at == ts->last_names_len;
}

static void remember_names(type_state_t *ts, char **names, size_t n) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += strlen(names[i]) + 1;
  sc__free(ts->last_names);
  ts->last_names = sc__malloc(len ? len : 1);
  ts->last_names_len = ts->last_n = 0;
  ts->names_fp = 0;
  if (ts->last_names == NULL)
    return; /* the next request takes the long way */
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(names[i]) + 1;
    memcpy(ts->last_names + ts->last_names_len, names[i], l);
    ts->last_names_len += l;
  }
  ts->last_n = n;
  ts->names_fp = XXH3_64bits_withSeed(ts->last_names, ts->last_names_len, n) | 1; /* 0: none */
}

/* SotW subscriptions (docs/xds.md, SotW): returns whether a response is due for them. */
static bool sotw_subscribe(stream_t *s, type_state_t *ts, int t, char **names, size_t n) {
  bool full_state = t == SC_XDS_CLUSTERS || t == SC_XDS_LISTENERS;
  /* Legacy wildcard: empty means everything until the client names something. */
  bool wildcard = full_state && n == 0 && !ts->named_ever, added = false;
  if (same_names(ts, names, n))
    return false;
  remember_names(ts, names, n);
  sc_strmap_t next;
  sc__strmap_init(&next);
  for (size_t i = 0; i < n; i++) {
    if (full_state && strcmp(names[i], "*") == 0) {
      wildcard = true;
      continue;
    }
    s->failed |= name_put(&next, names[i], NULL) == NULL;
    added |= !name_has(&ts->names, names[i]);
  }
  if (n > 0)
    ts->named_ever = true;
  bool removed = (ts->wildcard && !wildcard);
  /* Every new name was counted in added; the rest were there before. */
  name_list_t before = name_list(&ts->names);
  s->failed |= before.items == NULL;
  for (size_t i = 0; i < before.n && !removed; i++)
    removed = !name_has(&next, before.items[i]->name);
  sc__free(before.items);
  added |= wildcard && !ts->wildcard;
  names_clear(&ts->names);
  ts->names = next;
  ts->wildcard = wildcard;
  /* LDS and CDS are full state: any change is answered; EDS and RDS only new names. */
  return added || (full_state && removed);
}

/* A request for a type this frontend does not serve: ignored, counted, and logged at
 * warning once per stream and type (the first few types a stream asks for). */
static void unknown_type(stream_t *s, const char *type_url) {
  s->ads->stats.unknown_type_requests++;
  uint64_t h = XXH3_64bits(type_url, strlen(type_url));
  for (unsigned i = 0; i < s->nunknown_types; i++)
    if (s->unknown_types[i] == h)
      return;
  size_t cap = sizeof(s->unknown_types) / sizeof(s->unknown_types[0]);
  if (s->nunknown_types == cap)
    return; /* logged enough for one stream; still counted */
  s->unknown_types[s->nunknown_types++] = h;
  sc__log(s->ads->log, SC_LOG_WARN, "%.*s: type %s is not served: its requests are ignored%s",
         (int)s->proxy.id.len, s->proxy.id.ptr, type_url,
         s->nunknown_types == cap ? " (further types of this stream are not logged)" : "");
}

/* The type a request is for; -1 when it names none the frontend serves (ignored, the
 * stream stays) or none at all (the stream ends: ADS needs it). */
static int request_type(stream_t *s, const char *type_url) {
  if (type_url[0] == 0) {
    finish(s, SC_GRPC_INVALID_ARGUMENT, "type_url is required on ADS");
    return -1;
  }
  int t = sc_xds_type_by_name(type_url);
  if (t < 0)
    unknown_type(s, type_url);
  return t;
}

/* What a request says about the last response of type t: a NACK when it carries an
 * error, an ACK when it names that response's nonce. Returns whether it is the first
 * request of the type on the stream. */
static bool account(stream_t *s, int t, const char *nonce, const Google__Rpc__Status *error, const char *version) {
  type_state_t *ts = &s->types[t];
  bool first = !ts->requested, current = nonce_current(ts, nonce);
  ts->requested = true;
  if (error != NULL) {
    record_nack(s, t, version, error, current);
  } else if (current) {
    s->ads->stats.acks++;
    /* A NACK blocks its version only until the client takes a later one: versions are
     * content hashes, so that content (and version) can come back and must then be sent. */
    ts->nacked_version[0] = 0;
    sc__log(s->ads->log, SC_LOG_DEBUG, "%.*s: ACK %s version %s", (int)s->proxy.id.len, s->proxy.id.ptr, type_name(t),
           ts->sent_version);
  }
  return first;
}

static void handle_sotw(stream_t *s, const uint8_t *msg, size_t len) {
  Envoy__Service__Discovery__V3__DiscoveryRequest *req =
      envoy__service__discovery__v3__discovery_request__unpack(NULL, len, msg);
  if (req == NULL) {
    finish(s, SC_GRPC_INVALID_ARGUMENT, "the request is not a DiscoveryRequest");
    return;
  }
  if (s->state == STREAM_AWAITING_NODE && !start(s, &req->base, req->node))
    return;
  int t = request_type(s, req->type_url);
  if (t >= 0) {
    type_state_t *ts = &s->types[t];
    bool first = account(s, t, req->response_nonce, req->error_detail, req->version_info);
    bool due = sotw_subscribe(s, ts, t, req->resource_names, req->n_resource_names);
    if (t == SC_XDS_ENDPOINTS && ts->always_respond && req->error_detail == NULL)
      due = true; /* clusters warm only on a new assignment */
    if (first || due)
      ts->dirty = ts->force = true;
    serve(s);
  }
  if (&req->base != s->first)
    envoy__service__discovery__v3__discovery_request__free_unpacked(req, NULL);
}

/* Delta subscriptions (docs/xds.md, Delta). Returns whether the request changed any
 * (a plain ACK does not: what is due then is already marked). */
static bool delta_subscribe(stream_t *s, int t, const Envoy__Service__Discovery__V3__DeltaDiscoveryRequest *req,
                            bool first) {
  type_state_t *ts = &s->types[t];
  bool full_state = t == SC_XDS_CLUSTERS || t == SC_XDS_LISTENERS;
  if (first && full_state && req->n_resource_names_subscribe == 0 && req->n_resource_names_unsubscribe == 0)
    ts->wildcard = true; /* legacy wildcard */
  if (first && t != SC_XDS_ENDPOINTS) /* EDS is always resent (envoy#22418) */
    for (size_t i = 0; i < req->n_initial_resource_versions; i++)
      s->failed |= name_put(&ts->sent, req->initial_resource_versions[i]->key,
                            req->initial_resource_versions[i]->value) == NULL;
  for (size_t i = 0; i < req->n_resource_names_subscribe; i++) {
    const char *name = req->resource_names_subscribe[i];
    if (strcmp(name, "*") == 0) {
      ts->wildcard = true;
      continue;
    }
    bool initial = false;
    for (size_t k = 0; first && t != SC_XDS_ENDPOINTS && k < req->n_initial_resource_versions && !initial; k++)
      initial = strcmp(req->initial_resource_versions[k]->key, name) == 0;
    s->failed |= name_put(&ts->names, name, NULL) == NULL;
    if (!initial) /* the client may have forgotten it: send it again */
      name_del(&ts->sent, name);
  }
  for (size_t i = 0; i < req->n_resource_names_unsubscribe; i++) {
    const char *name = req->resource_names_unsubscribe[i];
    if (strcmp(name, "*") == 0) {
      ts->wildcard = false;
      continue;
    }
    name_del(&ts->names, name); /* unknown names: nothing happens */
    /* Still wanted through the wildcard: send it again; else the client dropped it. */
    name_del(&ts->sent, name);
  }
  if (req->n_resource_names_unsubscribe > 0 && !ts->wildcard) { /* what only the wildcard brought goes */
    name_list_t l = name_list(&ts->sent);
    s->failed |= l.items == NULL;
    for (size_t i = 0; i < l.n; i++)
      if (!name_has(&ts->names, l.items[i]->name))
        name_del(&ts->sent, l.items[i]->name);
    sc__free(l.items);
  }
  return first || req->n_resource_names_subscribe > 0 || req->n_resource_names_unsubscribe > 0;
}

static void handle_delta(stream_t *s, const uint8_t *msg, size_t len) {
  Envoy__Service__Discovery__V3__DeltaDiscoveryRequest *req =
      envoy__service__discovery__v3__delta_discovery_request__unpack(NULL, len, msg);
  if (req == NULL) {
    finish(s, SC_GRPC_INVALID_ARGUMENT, "the request is not a DeltaDiscoveryRequest");
    return;
  }
  if (s->state == STREAM_AWAITING_NODE && !start(s, &req->base, req->node))
    return;
  int t = request_type(s, req->type_url);
  if (t >= 0) {
    type_state_t *ts = &s->types[t];
    bool first = account(s, t, req->response_nonce, req->error_detail, ts->sent_version);
    if (delta_subscribe(s, t, req, first)) /* whatever the nonce; the diff says what is due */
      ts->dirty = ts->force = true;
    serve(s);
  }
  if (&req->base != s->first)
    envoy__service__discovery__v3__delta_discovery_request__free_unpacked(req, NULL);
}

void sc__ads_message(void *app, void *state, const uint8_t *msg, size_t len) {
  (void)app;
  stream_t *s = state;
  if (s->state == STREAM_FINISHED)
    return;
  if (s->delta)
    handle_delta(s, msg, len);
  else
    handle_sotw(s, msg, len);
  if (s->failed && s->state != STREAM_FINISHED) /* also when no response was due */
    end_failed(s);
}
