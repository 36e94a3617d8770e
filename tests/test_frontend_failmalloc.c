/* Out-of-memory paths of the xDS frontend's connections and streams: a real server
 * (sc__h2_server_new on a libuv loop, listening on a unix socket, over a snapshot the engine
 * wrote) takes an HTTP/2 connection from an nghttp2 client that opens an ADS stream and asks
 * for clusters. The whole connect/stream/request/response cycle is repeated with the Nth
 * allocation of the library code failing, for every N until a run meets no failure. Each
 * run must end (a response, an error status, a reset stream or a closed connection: never a
 * hang or a crash), leave no connection or stream behind (and, under ASan, nothing leaked),
 * and the server must then answer a new connection correctly. */
#include <inttypes.h>
#include <signal.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <execinfo.h>
#include <uv.h>

#include "frontend/ads.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "frontend/h2.h"
#include "harness.h"
#include "store/mem.h"
#include "scopecast/engine.h"
#include "scopecast/error.h"
#include "frontend/views.h"

#define CDS_TYPE "type.googleapis.com/envoy.config.cluster.v3.Cluster"

/* ---- the failing allocator ---------------------------------------------------------- */

static long fail_countdown = -1; /* < 0: never fail */
static long allocations;
static bool failure_injected;

static bool should_fail(void) {
  allocations++;
  if (fail_countdown < 0)
    return false;
  if (fail_countdown-- == 0) {
    failure_injected = true;
    if (getenv("FM_TRACE") != NULL) { /* where the failure is injected, to debug a failing run */
      void *bt[8];
      backtrace_symbols_fd(bt, backtrace(bt, 8), 2);
    }
    return true;
  }
  return false;
}
static void *fm_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
static void *fm_calloc(size_t c, size_t n) { return should_fail() ? NULL : calloc(c, n); }
static void *fm_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }

/* ---- a minimal ADS client (nghttp2, libc allocations only) --------------------------- */

typedef struct {
  bool delta; /* DeltaAggregatedResources, else StreamAggregatedResources */
  uv_pipe_t pipe;
  uv_connect_t connect;
  nghttp2_session *session;
  int32_t stream_id;
  uint8_t *request; /* one gRPC message: prefix + DiscoveryRequest */
  size_t request_len, request_off;
  uint8_t *in; /* the response stream's DATA */
  size_t in_len, in_cap;
  bool response_ok;     /* a DiscoveryResponse for clusters, with resources */
  long grpc_status;     /* -1: none seen */
  bool stream_closed;   /* ended or reset */
  bool connect_failed, peer_closed, done, handle_closed;
  size_t resources;
} client_t;

typedef struct {
  uv_write_t req;
  uv_buf_t buf;
} client_write_t;

static void client_finish(client_t *c);

static void on_client_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void client_flush(client_t *c) {
  if (c->done || c->session == NULL)
    return;
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(c->session, &data);
    if (n < 0) {
      client_finish(c);
      return;
    }
    if (n == 0)
      return;
    client_write_t *w = malloc(sizeof(*w) + (size_t)n);
    if (w == NULL)
      abort();
    memcpy(w + 1, data, (size_t)n);
    w->buf = uv_buf_init((char *)(w + 1), (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &w->buf, 1, on_client_written) != 0) {
      free(w);
      client_finish(c);
      return;
    }
  }
}

static void on_client_closed(uv_handle_t *h) { ((client_t *)h->data)->handle_closed = true; }

static void client_finish(client_t *c) {
  if (c->done)
    return;
  c->done = true;
  if (c->session != NULL) {
    nghttp2_session_del(c->session);
    c->session = NULL;
  }
  uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

/* A complete message in the DATA so far: check it is what was asked for. */
static void client_check_response(client_t *c) {
  if (c->in_len < 5)
    return;
  size_t len = (size_t)c->in[1] << 24 | (size_t)c->in[2] << 16 | (size_t)c->in[3] << 8 | c->in[4];
  if (c->in_len < 5 + len)
    return;
  if (c->delta) {
    Envoy__Service__Discovery__V3__DeltaDiscoveryResponse *r =
        envoy__service__discovery__v3__delta_discovery_response__unpack(NULL, len, c->in + 5);
    if (r != NULL) {
      c->resources = r->n_resources;
      c->response_ok = c->in[0] == 0 && strcmp(r->type_url, CDS_TYPE) == 0 && r->n_resources > 0 &&
                       r->system_version_info[0] != '\0' && r->nonce[0] != '\0';
      envoy__service__discovery__v3__delta_discovery_response__free_unpacked(r, NULL);
    }
  } else {
    Envoy__Service__Discovery__V3__DiscoveryResponse *r =
        envoy__service__discovery__v3__discovery_response__unpack(NULL, len, c->in + 5);
    if (r != NULL) {
      c->resources = r->n_resources;
      c->response_ok = c->in[0] == 0 && strcmp(r->type_url, CDS_TYPE) == 0 && r->n_resources > 0 &&
                       r->version_info[0] != '\0' && r->nonce[0] != '\0';
      envoy__service__discovery__v3__discovery_response__free_unpacked(r, NULL);
    }
  }
  client_finish(c); /* one response is all this client wants */
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *arg) {
  (void)s;
  (void)frame;
  (void)flags;
  client_t *c = arg;
  if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
    char v[16] = {0};
    memcpy(v, value, valuelen < sizeof(v) - 1 ? valuelen : sizeof(v) - 1);
    c->grpc_status = strtol(v, NULL, 10);
  }
  return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                   void *arg) {
  (void)s;
  (void)flags;
  client_t *c = arg;
  if (stream_id != c->stream_id)
    return 0;
  if (c->in_len + len > c->in_cap) {
    size_t cap = (c->in_len + len) * 2;
    uint8_t *in = realloc(c->in, cap);
    if (in == NULL)
      abort();
    c->in = in;
    c->in_cap = cap;
  }
  memcpy(c->in + c->in_len, data, len);
  c->in_len += len;
  return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *arg) {
  (void)s;
  (void)error_code;
  client_t *c = arg;
  if (stream_id == c->stream_id)
    c->stream_closed = true;
  return 0;
}

static ssize_t read_request(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                            uint32_t *data_flags, nghttp2_data_source *source, void *arg) {
  (void)s;
  (void)stream_id;
  (void)data_flags;
  (void)source;
  client_t *c = arg;
  size_t n = c->request_len - c->request_off;
  if (n == 0)
    return NGHTTP2_ERR_DEFERRED; /* the stream stays open, as Envoy's does */
  if (n > length)
    n = length;
  memcpy(buf, c->request + c->request_off, n);
  c->request_off += n;
  return (ssize_t)n;
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = buf->base ? suggested : 0;
}

static void on_client_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  client_t *c = stream->data;
  if (nread < 0) {
    c->peer_closed = true;
    client_finish(c);
  } else if (nread > 0 && !c->done) {
    if (nghttp2_session_mem_recv(c->session, (const uint8_t *)buf->base, (size_t)nread) < 0)
      client_finish(c);
    else
      client_check_response(c);
    if (!c->done && c->stream_closed)
      client_finish(c);
    client_flush(c);
  }
  free(buf->base);
}

static void on_client_connect(uv_connect_t *req, int status) {
  client_t *c = req->data;
  if (status < 0) {
    c->connect_failed = true;
    client_finish(c);
    return;
  }
  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs) != 0)
    abort();
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  int rc = nghttp2_session_client_new(&c->session, cbs, c);
  nghttp2_session_callbacks_del(cbs);
  if (rc != 0)
    abort();
  nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, NULL, 0);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv sotw[] = {NV(":method", "POST"), NV(":scheme", "http"),
                       NV(":path", "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"),
                       NV(":authority", "xds"), NV("content-type", "application/grpc"), NV("te", "trailers")};
  nghttp2_nv delta[] = {NV(":method", "POST"), NV(":scheme", "http"),
                        NV(":path", "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"),
                        NV(":authority", "xds"), NV("content-type", "application/grpc"), NV("te", "trailers")};
#undef NV
  nghttp2_data_provider provider = {.source.ptr = c, .read_callback = read_request};
  c->stream_id = nghttp2_submit_request(c->session, NULL, c->delta ? delta : sotw, sizeof(sotw) / sizeof(sotw[0]),
                                        &provider, c);
  if (c->stream_id < 0)
    abort();
  uv_read_start((uv_stream_t *)&c->pipe, on_client_alloc, on_client_read);
  client_flush(c);
}

/* ---- the server --------------------------------------------------------------------- */

typedef struct {
  char dir[64], snap[96], conf[96], sock[96], listen[128];
  uv_loop_t loop;
  sc_logger_t log;
  sc_views_t *views;
  sc_ads_t *ads;
  sc_h2_server_t *server;
  uv_timer_t tick;
  bool drained;
} world_t;

static const char config[] =
    "apiVersion: v1\nkind: Service\nmetadata: {name: cart, namespace: default, labels: {app: cart}}\n"
    "spec: {ports: [{name: http, port: 8080}], selector: {app: cart}}\n"
    "---\napiVersion: v1\nkind: Service\nmetadata: {name: pay, namespace: default, labels: {app: pay}}\n"
    "spec: {ports: [{name: http, port: 8080}], selector: {app: pay}}\n";

static uint8_t *make_request(bool delta, size_t *len) {
  Envoy__Config__Core__V3__Node node = ENVOY__CONFIG__CORE__V3__NODE__INIT;
  node.id = "sidecar~10.0.0.1~cart-1.default~default.svc.cluster.local";
  node.cluster = "cart.default";
  Envoy__Service__Discovery__V3__DiscoveryRequest req = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_REQUEST__INIT;
  Envoy__Service__Discovery__V3__DeltaDiscoveryRequest dreq =
      ENVOY__SERVICE__DISCOVERY__V3__DELTA_DISCOVERY_REQUEST__INIT;
  req.node = dreq.node = &node;
  req.type_url = dreq.type_url = CDS_TYPE;
  size_t n = delta ? envoy__service__discovery__v3__delta_discovery_request__get_packed_size(&dreq)
                   : envoy__service__discovery__v3__discovery_request__get_packed_size(&req);
  uint8_t *buf = malloc(5 + n);
  if (buf == NULL)
    abort();
  buf[0] = 0;
  buf[1] = (uint8_t)(n >> 24);
  buf[2] = (uint8_t)(n >> 16);
  buf[3] = (uint8_t)(n >> 8);
  buf[4] = (uint8_t)n;
  if (delta)
    envoy__service__discovery__v3__delta_discovery_request__pack(&dreq, buf + 5);
  else
    envoy__service__discovery__v3__discovery_request__pack(&req, buf + 5);
  *len = 5 + n;
  return buf;
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* One connect/stream/request/response cycle; the client closes its connection after the
 * first response. Returns false on a hang (the run did not end within 5 s). */
static bool run_cycle(world_t *w, client_t *c, bool delta) {
  *c = (client_t){.delta = delta, .grpc_status = -1};
  c->request = make_request(delta, &c->request_len);
  uv_pipe_init(&w->loop, &c->pipe, 0);
  c->pipe.data = c;
  c->connect.data = c;
  uv_pipe_connect(&c->connect, &c->pipe, w->sock, on_client_connect);
  uint64_t deadline = uv_now(&w->loop) + 5000;
  bool hung = false;
  for (;;) {
    uv_run(&w->loop, UV_RUN_ONCE);
    sc__ads_service(w->ads);
    sc_h2_stats_t st;
    sc__h2_server_stats(w->server, &st);
    if (c->handle_closed && st.connections == 0)
      break;
    if (!hung && uv_now(&w->loop) > deadline) {
      hung = true; /* close the client; still wait for the server to let go */
      client_finish(c);
      deadline = uv_now(&w->loop) + 5000;
    } else if (hung && uv_now(&w->loop) > deadline) {
      break;
    }
  }
  free(c->request);
  free(c->in);
  c->in = NULL;
  return !hung;
}

static void on_drained(void *arg) { ((world_t *)arg)->drained = true; }

/* The snapshot: the engine writes it once. */
static bool world_init(world_t *w) {
  snprintf(w->dir, sizeof(w->dir), "/tmp/sc-fefail-XXXXXX");
  if (mkdtemp(w->dir) == NULL)
    return false;
  snprintf(w->snap, sizeof(w->snap), "%s/snap", w->dir);
  snprintf(w->conf, sizeof(w->conf), "%s/conf", w->dir);
  snprintf(w->sock, sizeof(w->sock), "%s/xds.sock", w->dir);
  snprintf(w->listen, sizeof(w->listen), "unix:%s", w->sock);
  char path[128];
  snprintf(path, sizeof(path), "%s/mesh.yaml", w->conf);
  if (mkdir(w->conf, 0700) != 0 || mkdir(w->snap, 0700) != 0)
    return false;
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return false;
  fputs(config, f);
  fclose(f);
  if (uv_loop_init(&w->loop) != 0)
    return false;
  sc_engine_opts_t eo;
  sc_engine_opts_init(&eo);
  const char *dirs[] = {w->conf};
  eo.snapshot_dir = w->snap;
  eo.config_dirs = dirs;
  eo.nconfig_dirs = 1;
  eo.once = true;
  eo.snapshot_no_sync = true;
  eo.notify_disabled = true;
  eo.log_level = 3;
  sc_engine_t *e;
  char err[256] = "";
  if (sc_engine_new(&w->loop, &eo, &e, err, sizeof(err)) != 0 || sc_engine_start(e) != 0) {
    fprintf(stderr, "engine: %s\n", err);
    return false;
  }
  uv_run(&w->loop, UV_RUN_DEFAULT);
  int code = sc_engine_exit_code(e);
  sc_engine_del(e);
  w->log = (sc_logger_t){stderr, SC_LOG_ERROR, "test_frontend_failmalloc", SC_LOG_TEXT};
  uv_timer_init(&w->loop, &w->tick); /* so that UV_RUN_ONCE returns now and then */
  uv_timer_start(&w->tick, on_tick, 5, 5);
  return code == 0;
}

/* The frontend over the snapshot, as scopecast-xds sets it up: views, ADS, the HTTP/2
 * server listening on the unix socket. Returns 0 or the error of the step that failed,
 * with what was made undone. */
static int frontend_start(world_t *w) {
  sc_ads_opts_t ao = {4u << 20};
  sc_h2_limits_t limits = {16u << 20, 100, 1000, 0, 0, 0, 1000};
  sc_h2_handlers_t handlers = {sc__ads_open, sc__ads_message, sc__ads_writable, sc__ads_closed};
  w->views = NULL;
  w->ads = NULL;
  w->server = NULL;
  w->drained = false;
  int rc = sc__views_new(w->snap, &w->log, &w->views);
  if (rc == 0)
    rc = sc__views_refresh(w->views);
  if (rc == 0 && sc__views_head(w->views) == 0) /* not opened: scopecast-xds polls again */
    rc = sc__views_refresh(w->views);
  if (rc == 0 && sc__views_head(w->views) == 0)
    rc = SC_ENOTFOUND;
  if (rc == 0)
    rc = sc__ads_new(w->views, &ao, &w->log, &w->ads);
  if (rc == 0)
    rc = sc__h2_server_new(&w->loop, &limits, &handlers, w->ads, &w->log, &w->server);
  if (rc == 0) {
    sc__views_set_listener(w->views, sc__ads_views_changed, w->ads);
    char err[256] = "";
    if ((rc = sc__h2_server_listen(w->server, w->listen, err, sizeof(err))) != 0 && err[0] == '\0')
      rc = SC_EINVAL; /* a failure must say why */
  }
  if (rc != 0 && w->server != NULL) {
    sc__h2_server_drain(w->server, SC_GRPC_UNAVAILABLE, "", on_drained, w);
    sc__h2_server_free(w->server);
    uv_run(&w->loop, UV_RUN_NOWAIT);
  }
  if (rc != 0) {
    sc__ads_free(w->ads);
    sc__views_free(w->views);
  }
  return rc;
}

static void frontend_stop(world_t *w) {
  sc__h2_server_drain(w->server, SC_GRPC_UNAVAILABLE, "done", on_drained, w);
  while (!w->drained)
    uv_run(&w->loop, UV_RUN_ONCE);
  sc__h2_server_free(w->server);
  uv_run(&w->loop, UV_RUN_NOWAIT);
  sc__ads_free(w->ads);
  sc__views_free(w->views);
}

static bool world_done(world_t *w) {
  uv_close((uv_handle_t *)&w->tick, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  bool ok = uv_loop_close(&w->loop) == 0;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
  return system(cmd) == 0 && ok;
}

/* Every allocation of a frontend's start and its first connect/stream/request/response
 * cycle, on a SotW or a Delta stream, fails in turn. */
static void every_failure(world_t *w, bool delta) {
  client_t c;
  const char *method = delta ? "delta" : "sotw";
  /* A run without failures: the response, and how many allocations it takes. */
  allocations = 0;
  ASSERT_EQ_INT(frontend_start(w), 0);
  bool answered = run_cycle(w, &c, delta) && c.response_ok;
  frontend_stop(w);
  ASSERT(answered);
  long clean = allocations;
  ASSERT(clean > 20);

  long n, failed_runs = 0, failed_starts = 0, answered_anyway = 0, error_status = 0;
  for (n = 0; n < 100000; n++) {
    failure_injected = false;
    fail_countdown = n;
    int rc = frontend_start(w);
    if (rc != 0) {
      fail_countdown = -1;
      if (!failure_injected)
        SC__FAIL("%s: the frontend did not start (%d) with no allocation failing", method, rc);
      if (rc != SC_ENOMEM)
        SC__FAIL("%s: allocation %ld failing: the frontend did not start with %d, not SC_ENOMEM", method, n, rc);
      failed_runs++;
      failed_starts++;
      continue;
    }
    bool ended = run_cycle(w, &c, delta);
    fail_countdown = -1;
    client_t again;
    /* Nothing left behind, and the server still serves a new connection correctly. */
    sc_ads_stats_t as;
    sc__ads_stats(w->ads, &as);
    bool answers = ended && run_cycle(w, &again, delta) && again.response_ok;
    frontend_stop(w);
    if (!ended)
      SC__FAIL("%s: allocation %ld failing: the run hung (response %d, grpc-status %ld, stream closed %d)", method, n,
               c.response_ok, c.grpc_status, c.stream_closed);
    if (!failure_injected) {
      ASSERT(c.response_ok); /* past the last allocation: a normal run */
      break;
    }
    failed_runs++;
    answered_anyway += c.response_ok;
    error_status += c.grpc_status > 0;
    if (!c.response_ok && !(c.grpc_status > 0 || c.stream_closed || c.peer_closed))
      SC__FAIL("%s: allocation %ld failing: the run ended with neither a response nor an error", method, n);
    if (as.streams != 0)
      SC__FAIL("%s: allocation %ld failing: %" PRIu64 " streams left behind", method, n, as.streams);
    if (!answers)
      SC__FAIL("%s: after allocation %ld failed, a new connection was not answered (grpc-status %ld)", method, n,
               again.grpc_status);
  }
  fprintf(stderr, "  %s: %ld allocations in a clean run; %ld runs with a failure (%ld in the start, %ld answered "
                  "anyway, %ld with an error status)\n",
          method, clean, failed_runs, failed_starts, answered_anyway, error_status);
  ASSERT(failed_runs >= clean / 2);
}

TEST(connections_and_streams_survive_every_failed_allocation) {
  sc__allocator_t fm = {fm_malloc, fm_realloc, fm_calloc, free};
  sc__set_allocator(&fm);
  signal(SIGPIPE, SIG_IGN); /* as scopecast-xds: a peer gone is a write error */
  static world_t w;
  memset(&w, 0, sizeof(w));
  bool init = world_init(&w);
  if (init) {
    every_failure(&w, false);
    every_failure(&w, true);
  }
  fail_countdown = -1;
  bool done = world_done(&w);
  sc__set_allocator(NULL);
  ASSERT(init); /* the engine wrote the snapshot */
  ASSERT(done);
}

TEST_LIST = {TEST_ENTRY(connections_and_streams_survive_every_failed_allocation), TEST_LIST_END};
