/* scopecast-xds's /metrics, /healthz and /ready (see xds_http.h). */
#include "frontend/xds_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "obs/http.h"
#include "store/mem.h"
#include "obs/metrics.h"
#include "scopecast/error.h"
#include "wire/registry.h"

typedef enum { SC_XDS_HTTP_SERVING = 0, SC_XDS_HTTP_DRAINING } sc__xds_http_state_t;

struct sc__xds_http_s {
  sc__xds_http_state_t state;
  sc__http_t *http;
  sc_views_t *views;
  sc_ads_t *ads;
  sc_h2_server_t *server;
};

#define COUNTER(name, help, v) sc__metrics_single(w, "scopecast_xds_" name, help, SC_METRICS_COUNTER, (double)(v))
#define GAUGE(name, help, v) sc__metrics_single(w, "scopecast_xds_" name, help, SC_METRICS_GAUGE, (double)(v))

/* Splits a sc__ads_nacks_by key, "SCOPE TYPE", at its last space. */
static bool split_key(const char *key, char *scope, size_t n, const char **type) {
  const char *sp = strrchr(key, ' ');
  if (sp == NULL || (size_t)(sp - key) >= n)
    return false;
  memcpy(scope, key, (size_t)(sp - key));
  scope[sp - key] = 0;
  *type = sp + 1;
  return true;
}

static void write_nacks(sc__xds_http_t *x, sc__metrics_writer_t *w) {
  json_t *by = sc__ads_nacks_by(x->ads), *by_type = json_object(), *count;
  const char *key, *type;
  char scope[1100];
  if (by_type == NULL) {
    if (w->err == 0)
      w->err = SC_ENOMEM;
    return;
  }
  for (int t = 0; t < SC_XDS__TYPES; t++) /* every type, so that none appears only at its first NACK */
    json_object_set_new(by_type, sc_xds_types[t].name, json_integer(0));
  json_object_foreach(by, key, count) {
    if (split_key(key, scope, sizeof(scope), &type))
      json_object_set_new(by_type, type, json_integer(json_integer_value(json_object_get(by_type, type)) +
                                                      json_integer_value(count)));
  }
  sc__metrics_family(w, "scopecast_xds_nacks_total", "Responses the clients rejected (NACK), by type.",
                     SC_METRICS_COUNTER);
  json_object_foreach(by_type, key, count) {
    sc__metrics_label_t l = {"type", key};
    sc__metrics_sample(w, "scopecast_xds_nacks_total", &l, 1, (double)json_integer_value(count));
  }
  json_decref(by_type);
  /* Every scope with a NACK: scopes are few (one per namespace and Sidecar), times 4 types. */
  sc__metrics_family(w, "scopecast_xds_nacks_by_scope_total",
                     "NACKs by scope (\"-\": a stream without one) and type; only pairs with a NACK appear.",
                     SC_METRICS_COUNTER);
  json_object_foreach(by, key, count) {
    if (!split_key(key, scope, sizeof(scope), &type))
      continue;
    sc__metrics_label_t l[] = {{"scope", scope}, {"type", type}};
    sc__metrics_sample(w, "scopecast_xds_nacks_by_scope_total", l, 2, (double)json_integer_value(count));
  }
}

static void write_metrics(void *arg, sc__metrics_writer_t *w) {
  sc__xds_http_t *x = arg;
  sc_h2_stats_t h;
  sc_ads_stats_t a;
  sc_views_stats_t vs;
  sc__h2_server_stats(x->server, &h);
  sc__ads_stats(x->ads, &a);
  sc__views_stats(x->views, &vs);
  GAUGE("head_version", "The snapshot head version served (0: none yet).", sc__views_head(x->views));
  GAUGE("ready", "1 while a head is served and the frontend is not draining (/ready), else 0.",
        sc__views_ready(x->views) && x->state == SC_XDS_HTTP_SERVING ? 1 : 0);
  GAUGE("connections", "Open HTTP/2 connections.", h.connections);
  COUNTER("connections_accepted_total", "HTTP/2 connections accepted.", h.connections_total);
  GAUGE("streams", "Open ADS streams.", a.streams);
  COUNTER("streams_opened_total", "ADS streams opened.", a.streams_total);
  COUNTER("acks_total", "Responses the clients accepted (ACK).", a.acks);
  COUNTER("invalid_nodes_total", "Streams ended for a node without the metadata to place it.", a.invalid_nodes);
  COUNTER("oversize_skipped_total", "LDS/CDS responses over a gRPC client's size cap, not sent.",
          a.oversize_skipped);
  COUNTER("sent_bytes_total", "Bytes of gRPC messages sent.", h.bytes_sent);
  GAUGE("queued_bytes", "Bytes waiting to be framed or written to sockets.", h.queued_bytes);
  GAUGE("proxy_classes", "Proxy classes (views) the frontend keeps.", vs.views);

  sc__metrics_family(w, "scopecast_xds_pushes_total", "Responses queued on streams, by type (split parts each).",
                     SC_METRICS_COUNTER);
  for (int t = 0; t < SC_XDS__TYPES; t++) {
    sc__metrics_label_t l = {"type", sc_xds_types[t].name};
    sc__metrics_sample(w, "scopecast_xds_pushes_total", &l, 1, (double)a.pushes_by_type[t]);
  }
  write_nacks(x, w);
  sc__metrics_family(w, "scopecast_xds_push_latency_seconds",
                     "From the engine's commit (its notice's time) to the response carrying the change being "
                     "queued on a stream open at the time, by type.",
                     SC_METRICS_HISTOGRAM);
  for (int t = 0; t < SC_XDS__TYPES; t++) {
    sc__metrics_label_t l = {"type", sc_xds_types[t].name};
    sc__metrics_histogram(w, "scopecast_xds_push_latency_seconds", &l, 1, sc__ads_push_latency(x->ads, t));
  }
}

static int on_metrics(void *arg, sc__http_response_t *res) {
  return sc__http_metrics(res, write_metrics, arg);
}

static int on_healthz(void *arg, sc__http_response_t *res) {
  (void)arg;
  return sc__http_text(res, 200, "ok\n");
}

static int on_ready(void *arg, sc__http_response_t *res) {
  sc__xds_http_t *x = arg;
  char text[128];
  if (x->state == SC_XDS_HTTP_DRAINING)
    return sc__http_text(res, 503, "not ready: draining\n");
  if (!sc__views_ready(x->views))
    return sc__http_text(res, 503, "not ready: no snapshot head to serve yet\n");
  snprintf(text, sizeof(text), "ready: serving head version %" PRIu64 "\n", sc__views_head(x->views));
  return sc__http_text(res, 200, text);
}

int sc__xds_http_start(uv_loop_t *loop, const char *addr, sc_views_t *views, sc_ads_t *ads, sc_h2_server_t *server,
                       sc__xds_http_t **out, char *err, size_t errlen) {
  sc__xds_http_t *x = sc__calloc(1, sizeof(*x));
  if (x == NULL) {
    snprintf(err, errlen, "%s: out of memory", addr);
    return SC_ENOMEM;
  }
  *x = (sc__xds_http_t){SC_XDS_HTTP_SERVING, NULL, views, ads, server};
  const sc__http_route_t routes[] = {
      {"/metrics", on_metrics, x}, {"/healthz", on_healthz, x}, {"/ready", on_ready, x}};
  int rc = sc__http_start(loop, addr, routes, 3, &x->http, err, errlen);
  if (rc != 0) {
    sc__free(x);
    return rc;
  }
  *out = x;
  return 0;
}

unsigned sc__xds_http_port(const sc__xds_http_t *x) { return sc__http_port(x->http); }

void sc__xds_http_draining(sc__xds_http_t *x) {
  if (x != NULL)
    x->state = SC_XDS_HTTP_DRAINING;
}

void sc__xds_http_close(sc__xds_http_t *x) {
  if (x == NULL)
    return;
  sc__http_close(x->http); /* no handler runs after this */
  sc__free(x);
}
