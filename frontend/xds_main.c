/* scopecast-xds: serves Envoy over gRPC ADS from a scopecast snapshot, read-only. Several
 * frontends may share a port (SO_REUSEPORT) and one snapshot; each follows the engine's
 * commit notifications (a unix socket beside the snapshot) and polls the head as a
 * fallback. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "frontend/ads.h"
#include "frontend/h2.h"
#include "obs/log.h"
#include "scopecast/error.h"
#include "scopecast/snapshot.h"
#include "frontend/views.h"
#include "frontend/xds_http.h"

#define WAKEUP_SAMPLES 4096
#define NOTICE_BYTES 16

typedef struct {
  const char *snapshot;
  char *notify_path; /* NULL: no notifications (--notify none) */
  bool notify_set;
  const char *listen[16];
  int nlisten;
  uint64_t poll_ms, stats_interval_ms;
  sc_h2_limits_t limits;
  sc_ads_opts_t ads;
  sc_log_level_t level;
  sc_log_format_t log_format;
  const char *http; /* --http HOST:PORT, or NULL */
} options_t;

typedef struct {
  options_t opt;
  uv_loop_t *loop;
  sc_logger_t log;
  char prog[48];
  sc_views_t *views;
  sc_ads_t *ads;
  sc_h2_server_t *server;
  uv_timer_t poll, stats;
  uv_signal_t sigterm, sigint, sigusr1, sighup;
  bool listening; /* bound once a head is served: never an empty answer, never a peer's
                     connections taken before there is something to serve */
  /* The engine's commit notifications. */
  uv_pipe_t notify;
  bool notify_open, notify_connecting;
  uv_connect_t notify_req;
  uint8_t notice[NOTICE_BYTES];
  size_t notice_have;
  uint64_t wakeups;
  uint32_t wakeup_us[WAKEUP_SAMPLES];
  size_t nwakeup;
  bool draining;
  int exit_code;
  sc__xds_http_t *http; /* --http */
} frontend_t;

static void usage(FILE *out) {
  fprintf(out,
          "Usage: scopecast-xds --snapshot DIR --listen ADDR [--listen ADDR]... [options]\n"
          "\n"
          "Serves Envoy over gRPC ADS (state of the world and Delta) from a scopecast snapshot,\n"
          "read-only. Several frontends may share one port and one snapshot.\n"
          "\n"
          "  --snapshot DIR             the engine's snapshot directory (may not exist yet)\n"
          "  --listen ADDR              HOST:PORT or [IPV6]:PORT (SO_REUSEPORT), or unix:PATH\n"
          "                             (repeatable, at most 16). Bound only once the frontend\n"
          "                             serves a head: started before the engine (or on a wrong\n"
          "                             directory) it takes no connection from its SO_REUSEPORT\n"
          "                             peers and never answers with an empty configuration\n"
          "  --notify PATH              the engine's commit notifications (default DIR/notify.sock);\n"
          "                             reconnected every --poll-ms while the engine is down\n"
          "  --poll-ms N                poll the snapshot head every N ms (default 1000)\n"
          "\n"
          "Limits:\n"
          "  --max-message-size N       largest request message (default 16777216); larger ones\n"
          "                             end the stream with RESOURCE_EXHAUSTED\n"
          "  --grpc-max-response N      largest response to a proxyless gRPC client (user agent\n"
          "                             \"gRPC...\" or metadata GENERATOR=grpc; default 4194304):\n"
          "                             EDS and RDS are split, larger LDS/CDS are not sent\n"
          "  --max-concurrent-streams N per connection (default 100)\n"
          "  --max-streams-per-second N streams a connection may open per second (default 1000);\n"
          "                             more ends it with GOAWAY ENHANCE_YOUR_CALM\n"
          "  --keepalive-ms N           PING idle connections every N ms (default 30000, 0: never)\n"
          "  --keepalive-timeout-ms N   close a connection whose PING is not answered (default 10000)\n"
          "  --max-connection-age-ms N  GOAWAY a connection after N ms +-10%% (default 0: never)\n"
          "  --max-connection-age-grace-ms N  then end its streams with UNAVAILABLE after N ms\n"
          "                             (default 10000; also the drain time on SIGTERM)\n"
          "  Back-pressure: requests are handled as they arrive, so HTTP/2 flow control paces\n"
          "  a client that sends faster; a stream has one response in flight, built from its\n"
          "  latest request and the current version when the previous one is written, and\n"
          "  only while the peer's windows and the socket's queue have room. Held per\n"
          "  connection: at most --max-concurrent-streams partial requests (each under\n"
          "  --max-message-size) and one response per stream.\n"
          "\n"
          "Metrics and health (HTTP/1.1, GET and HEAD; other methods 405, other paths 404):\n"
          "  --http HOST:PORT           serve on HOST:PORT or [IPV6]:PORT (port 0: any free one; the\n"
          "                             log says which); a port in use is an error at start:\n"
          "                             /metrics  Prometheus text format 0.0.4: scopecast_xds_*\n"
          "                                       head_version, connections, streams,\n"
          "                                       pushes_total{type}, nacks_total{type},\n"
          "                                       nacks_by_scope_total{scope,type} (every scope\n"
          "                                       with a NACK), acks_total, push_latency_seconds\n"
          "                                       {type}: a histogram of the time from the engine's\n"
          "                                       commit (the time in its notice) to the response\n"
          "                                       with the change queued on each stream open then;\n"
          "                                       alert on its high quantiles (slow or stuck\n"
          "                                       clients, a frontend behind). Commits seen only by\n"
          "                                       polling (no notice) are not measured.\n"
          "                             /healthz  200 while the process runs\n"
          "                             /ready    200 while it serves a snapshot head, 503 before\n"
          "                                       one exists and while draining\n"
          "\n"
          "Operation:\n"
          "  --stats-interval-ms N      print a stats line every N ms (default 60000; also on SIGUSR1)\n"
          "  --log-level L              debug, info, warning or error (default info)\n"
          "  --log-format F             text (default) or json: one object per line with time,\n"
          "                             level, program, pid and message\n"
          "  --version                  print the version and exit\n"
          "  -h, --help                 this text\n"
          "\n"
          "Nodes: sidecars are served; a gateway's stream (node id router~...) ends with\n"
          "UNIMPLEMENTED (12), logged and counted: gateway configuration is not generated.\n"
          "Requests for type URLs other than CDS, EDS, LDS and RDS are ignored, counted, and\n"
          "logged at warning once per stream and type.\n"
          "\n"
          "Signals: SIGTERM/SIGINT: GOAWAY, every stream ends with UNAVAILABLE (14), exit 0.\n"
          "SIGHUP: reads the snapshot's head again and reconnects to the commit notifications\n"
          "(the snapshot is the only file a frontend reads); it does not exit. SIGUSR1: a\n"
          "stats line.\n"
          "\n"
          "Exit status: 0 after SIGTERM/SIGINT, 1 when a listener cannot be bound, 2 usage.\n");
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (*s == 0 || *end != 0 || s[0] == '-')
    return false;
  *out = v;
  return true;
}

static int parse_options(int argc, char **argv, options_t *o) {
  static const struct option long_opts[] = {
      {"snapshot", required_argument, NULL, 's'},
      {"listen", required_argument, NULL, 'l'},
      {"notify", required_argument, NULL, 'n'},
      {"poll-ms", required_argument, NULL, 'p'},
      {"max-message-size", required_argument, NULL, 'm'},
      {"grpc-max-response", required_argument, NULL, 'g'},
      {"max-concurrent-streams", required_argument, NULL, 'c'},
      {"max-streams-per-second", required_argument, NULL, 'r'},
      {"keepalive-ms", required_argument, NULL, 'k'},
      {"keepalive-timeout-ms", required_argument, NULL, 'K'},
      {"max-connection-age-ms", required_argument, NULL, 'a'},
      {"max-connection-age-grace-ms", required_argument, NULL, 'A'},
      {"stats-interval-ms", required_argument, NULL, 'S'},
      {"log-level", required_argument, NULL, 'L'},
      {"log-format", required_argument, NULL, 'F'},
      {"version", no_argument, NULL, 'V'},
      {"http", required_argument, NULL, 'H'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  *o = (options_t){.poll_ms = 1000, .stats_interval_ms = 60000, .level = SC_LOG_INFO};
  o->limits = (sc_h2_limits_t){16u << 20, 100, 1000, 30000, 10000, 0, 10000};
  o->ads.grpc_max_response = 4u << 20;
  int c, idx = 0;
  while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
    uint64_t v = 0;
    if (c != 's' && c != 'l' && c != 'n' && c != 'L' && c != 'F' && c != 'V' && c != 'H' && c != 'h' &&
        c != '?' && !parse_u64(optarg, &v)) {
      fprintf(stderr, "scopecast-xds: --%s wants a non-negative integer, got \"%s\"\n", long_opts[idx].name, optarg);
      return 2;
    }
    switch (c) {
    case 's': o->snapshot = optarg; break;
    case 'l':
      if (o->nlisten == 16) {
        fprintf(stderr, "scopecast-xds: at most 16 --listen addresses\n");
        return 2;
      }
      o->listen[o->nlisten++] = optarg;
      break;
    case 'n':
      free(o->notify_path);
      o->notify_path = strcmp(optarg, "none") == 0 ? NULL : strdup(optarg);
      o->notify_set = true;
      break;
    case 'p': o->poll_ms = v ? v : 1; break;
    case 'm': o->limits.max_message = (size_t)v; break;
    case 'g': o->ads.grpc_max_response = (size_t)v; break;
    case 'c': o->limits.max_concurrent_streams = (uint32_t)v; break;
    case 'r': o->limits.max_streams_per_second = (uint32_t)v; break;
    case 'k': o->limits.keepalive_ms = v; break;
    case 'K': o->limits.keepalive_timeout_ms = v; break;
    case 'a': o->limits.max_age_ms = v; break;
    case 'A': o->limits.max_age_grace_ms = v; break;
    case 'S': o->stats_interval_ms = v; break;
    case 'H': o->http = optarg; break;
    case 'L':
      if (strcmp(optarg, "debug") == 0) o->level = SC_LOG_DEBUG;
      else if (strcmp(optarg, "info") == 0) o->level = SC_LOG_INFO;
      else if (strcmp(optarg, "warning") == 0) o->level = SC_LOG_WARN;
      else if (strcmp(optarg, "error") == 0) o->level = SC_LOG_ERROR;
      else {
        fprintf(stderr, "scopecast-xds: --log-level: debug, info, warning or error\n");
        return 2;
      }
      break;
    case 'F': {
      int f = sc__log_format_parse(optarg);
      if (f < 0) {
        fprintf(stderr, "scopecast-xds: --log-format: \"%s\" is not text or json\n", optarg);
        return 2;
      }
      o->log_format = (sc_log_format_t)f;
      break;
    }
    case 'V':
      printf("scopecast-xds %s (snapshot format %u)\n", SC_VERSION, SC_SNAPSHOT_FORMAT_VERSION);
      return 1;
    case 'h': usage(stdout); return 1;
    default: usage(stderr); return 2;
    }
  }
  if (o->snapshot == NULL || o->nlisten == 0) {
    fprintf(stderr, "scopecast-xds: --snapshot and at least one --listen are required\n");
    usage(stderr);
    return 2;
  }
  return 0;
}

/* ---- following the snapshot ------------------------------------------------------------ */

static void nothing_left(void *arg) { (void)arg; }
static void on_drained(void *arg);

/* Binds every --listen address, once a head is served. A failure ends the frontend
 * (exit 1), as it would have at start. */
static void start_listening(frontend_t *f) {
  if (f->listening || f->draining || !sc__views_ready(f->views))
    return;
  f->listening = true;
  for (int i = 0; i < f->opt.nlisten; i++) {
    char err[512];
    if (sc__h2_server_listen(f->server, f->opt.listen[i], err, sizeof(err)) != 0) {
      sc__log(&f->log, SC_LOG_ERROR, "%s", err);
      f->exit_code = 1;
      f->draining = true;
      sc__h2_server_drain(f->server, SC_GRPC_UNAVAILABLE, "", on_drained, f); /* closes the listeners */
      return;
    }
    sc__log(&f->log, SC_LOG_INFO, "listening on %s (serving head version %" PRIu64 ")", f->opt.listen[i],
           sc__views_head(f->views));
  }
}

static void catch_up(frontend_t *f) {
  uint64_t before = sc__views_head(f->views);
  sc__views_refresh(f->views);
  sc__ads_service(f->ads);
  start_listening(f);
  if (sc__views_head(f->views) != before) {
    sc_views_stats_t vs;
    sc__views_stats(f->views, &vs);
    sc__log(&f->log, SC_LOG_DEBUG, "serving head version %" PRIu64 ": %" PRIu64 " proxy classes, %" PRIu64
           " lists, refreshed in %.3f ms", sc__views_head(f->views), vs.views, vs.lists, vs.last_refresh_ms);
  }
}

static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_notice(frontend_t *f) {
  uint64_t version = 0, commit_ns = 0;
  for (int i = 0; i < 8; i++) {
    version = version << 8 | f->notice[i];
    commit_ns = commit_ns << 8 | f->notice[8 + i];
  }
  uint64_t now = realtime_ns();
  if (version > sc__views_head(f->views) && commit_ns > 0 && now >= commit_ns) {
    f->wakeup_us[f->wakeups % WAKEUP_SAMPLES] = (uint32_t)((now - commit_ns) / 1000);
    f->wakeups++;
  }
  sc__ads_set_commit(f->ads, version > sc__views_head(f->views) ? commit_ns : 0); /* push latency */
  if (version != sc__views_head(f->views))
    catch_up(f);
  sc__ads_set_commit(f->ads, 0);
}

static void on_notify_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  frontend_t *f = h->data;
  buf->base = (char *)f->notice + f->notice_have;
  buf->len = NOTICE_BYTES - f->notice_have;
}

static void on_notify_closed(uv_handle_t *h) {
  frontend_t *f = h->data;
  f->notify_open = false;
}

static void notify_close(frontend_t *f) {
  if (f->notify_open && !uv_is_closing((uv_handle_t *)&f->notify))
    uv_close((uv_handle_t *)&f->notify, on_notify_closed);
}

static void on_notify_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  frontend_t *f = s->data;
  if (n < 0) {
    sc__log(&f->log, SC_LOG_INFO, "commit notifications: engine gone (%s); polling every %" PRIu64 " ms",
           uv_strerror((int)n), f->opt.poll_ms);
    notify_close(f);
    catch_up(f);
    return;
  }
  f->notice_have += (size_t)n;
  if (f->notice_have == NOTICE_BYTES) {
    f->notice_have = 0;
    on_notice(f);
  }
}

static void on_notify_connect(uv_connect_t *req, int status) {
  frontend_t *f = req->data;
  f->notify_connecting = false;
  if (status != 0) {
    notify_close(f);
    return;
  }
  sc__log(&f->log, SC_LOG_INFO, "commit notifications: subscribed to %s", f->opt.notify_path);
  f->notice_have = 0;
  uv_read_start((uv_stream_t *)&f->notify, on_notify_alloc, on_notify_read);
}

static void notify_connect(frontend_t *f) {
  if (f->opt.notify_path == NULL || f->notify_open || f->draining)
    return;
  uv_pipe_init(f->loop, &f->notify, 0);
  f->notify.data = f;
  f->notify_open = f->notify_connecting = true;
  f->notify_req.data = f;
  uv_pipe_connect(&f->notify_req, &f->notify, f->opt.notify_path, on_notify_connect);
}

static void on_poll(uv_timer_t *t) {
  frontend_t *f = t->data;
  notify_connect(f);
  catch_up(f);
}

/* ---- stats ------------------------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static long rss_kb(void) {
  FILE *fp = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (fp != NULL) {
    if (fscanf(fp, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    fclose(fp);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void print_stats(frontend_t *f) {
  sc_h2_stats_t h;
  sc_ads_stats_t a;
  sc__h2_server_stats(f->server, &h);
  sc__ads_stats(f->ads, &a);
  size_t n = f->wakeups < WAKEUP_SAMPLES ? f->wakeups : WAKEUP_SAMPLES;
  uint32_t sorted[WAKEUP_SAMPLES];
  memcpy(sorted, f->wakeup_us, n * sizeof(*sorted));
  qsort(sorted, n, sizeof(*sorted), cmp_u32);
  sc_views_stats_t vs;
  sc__views_stats(f->views, &vs);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  uint64_t cpu_ms = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
  json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                        "head_version", (json_int_t)sc__views_head(f->views), "connections",
                        (json_int_t)h.connections, "connections_total", (json_int_t)h.connections_total,
                        "streams", (json_int_t)a.streams, "streams_total", (json_int_t)a.streams_total, "pushes",
                        (json_int_t)a.pushes, "acks", (json_int_t)a.acks, "nacks", (json_int_t)a.nacks,
                        "invalid_nodes", (json_int_t)a.invalid_nodes, "nacks_by", sc__ads_nacks_by(f->ads),
                        "oversize_skipped", (json_int_t)a.oversize_skipped, "wakeups", (json_int_t)f->wakeups,
                        "wakeup_p50_us", (json_int_t)(n ? sorted[n / 2] : 0), "wakeup_p99_us",
                        (json_int_t)(n ? sorted[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] : 0), "push_bytes",
                        (json_int_t)h.bytes_sent, "queued_bytes", (json_int_t)h.queued_bytes, "cpu_ms",
                        (json_int_t)cpu_ms, "rss_kb", (json_int_t)rss_kb());
  if (o != NULL) { /* what the snapshot costs to follow */
    json_object_set_new(o, "proxy_classes", json_integer((json_int_t)vs.views));
    json_object_set_new(o, "lists", json_integer((json_int_t)vs.lists));
    json_object_set_new(o, "gathers", json_integer((json_int_t)vs.gathers));
    json_object_set_new(o, "last_refresh_ms", json_real(vs.last_refresh_ms));
    json_object_set_new(o, "gateways_refused", json_integer((json_int_t)a.gateways_refused));
    json_object_set_new(o, "unknown_type_requests", json_integer((json_int_t)a.unknown_type_requests));
  }
  char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  if (line != NULL) {
    fprintf(stderr, "%s stats %s\n", f->prog, line);
    fflush(stderr);
  }
  free(line);
  json_decref(o);
}

static void on_stats(uv_timer_t *t) { print_stats(t->data); }
static void on_sigusr1(uv_signal_t *s, int signum) {
  (void)signum;
  print_stats(s->data);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static void on_drained(void *arg) {
  frontend_t *f = arg;
  sc__log(&f->log, SC_LOG_INFO, "drained: exiting");
  uv_timer_stop(&f->poll);
  uv_timer_stop(&f->stats);
  uv_close((uv_handle_t *)&f->poll, NULL);
  uv_close((uv_handle_t *)&f->stats, NULL);
  uv_close((uv_handle_t *)&f->sigterm, NULL);
  uv_close((uv_handle_t *)&f->sigint, NULL);
  uv_close((uv_handle_t *)&f->sigusr1, NULL);
  uv_close((uv_handle_t *)&f->sighup, NULL);
  notify_close(f);
  sc__xds_http_close(f->http); /* --http */
  f->http = NULL;
}

static void on_sighup(uv_signal_t *s, int signum) {
  (void)signum;
  frontend_t *f = s->data;
  sc__log(&f->log, SC_LOG_INFO, "SIGHUP: reading the snapshot head again (serving head version %" PRIu64 ")",
         sc__views_head(f->views));
  notify_connect(f);
  catch_up(f);
}

static void on_terminate(uv_signal_t *s, int signum) {
  frontend_t *f = s->data;
  if (f->draining)
    return;
  f->draining = true;
  sc__xds_http_draining(f->http); /* --http: /ready 503 */
  sc__log(&f->log, SC_LOG_INFO, "%s: draining (GOAWAY, streams end with UNAVAILABLE)", strsignal(signum));
  print_stats(f);
  sc__h2_server_drain(f->server, SC_GRPC_UNAVAILABLE, "server shutting down", on_drained, f);
}

/* --http: /metrics, /healthz, /ready (xds_http.c). */
static int start_http(frontend_t *f) {
  char err[512];
  int rc = sc__xds_http_start(f->loop, f->opt.http, f->views, f->ads, f->server, &f->http, err, sizeof(err));
  if (rc != 0)
    sc__log(&f->log, SC_LOG_ERROR, "--http %s", err);
  else
    sc__log(&f->log, SC_LOG_INFO, "http: serving /metrics, /healthz and /ready on %s (port %u)", f->opt.http,
           sc__xds_http_port(f->http));
  return rc;
}

int main(int argc, char **argv) {
  frontend_t *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return 1;
  int rc = parse_options(argc, argv, &f->opt);
  if (rc != 0) {
    free(f->opt.notify_path);
    free(f);
    return rc == 1 ? 0 : rc;
  }
  if (!f->opt.notify_set && (f->opt.notify_path = malloc(strlen(f->opt.snapshot) + 16)) != NULL)
    sprintf(f->opt.notify_path, "%s/notify.sock", f->opt.snapshot);
  signal(SIGPIPE, SIG_IGN);
  snprintf(f->prog, sizeof(f->prog), "scopecast-xds[%d]", (int)getpid());
  f->log = (sc_logger_t){stderr, f->opt.level, f->prog, f->opt.log_format};
  f->loop = uv_default_loop();
  srand((unsigned)(getpid() ^ time(NULL)));
  sc_h2_handlers_t handlers = {sc__ads_open, sc__ads_message, sc__ads_writable, sc__ads_closed};
  if (sc__views_new(f->opt.snapshot, &f->log, &f->views) != 0 ||
      sc__ads_new(f->views, &f->opt.ads, &f->log, &f->ads) != 0 ||
      sc__h2_server_new(f->loop, &f->opt.limits, &handlers, f->ads, &f->log, &f->server) != 0) {
    fprintf(stderr, "scopecast-xds: out of memory\n");
    return 1;
  }
  sc__views_set_listener(f->views, sc__ads_views_changed, f->ads);
  for (int i = 0; i < f->opt.nlisten; i++) { /* what can be told before binding */
    char err[512];
    if (sc__h2_server_check_address(f->opt.listen[i], err, sizeof(err)) != 0) {
      sc__log(&f->log, SC_LOG_ERROR, "%s", err);
      sc__h2_server_drain(f->server, SC_GRPC_UNAVAILABLE, "", nothing_left, NULL);
      rc = 2;
      goto done;
    }
  }
  if (f->opt.http != NULL && start_http(f) != 0) {
    sc__h2_server_drain(f->server, SC_GRPC_UNAVAILABLE, "", nothing_left, NULL); /* closes the listeners */
    rc = 1;
    goto done;
  }
  uv_timer_init(f->loop, &f->poll);
  uv_timer_init(f->loop, &f->stats);
  f->poll.data = f->stats.data = f;
  uv_signal_init(f->loop, &f->sigterm);
  uv_signal_init(f->loop, &f->sigint);
  uv_signal_init(f->loop, &f->sigusr1);
  uv_signal_init(f->loop, &f->sighup);
  f->sigterm.data = f->sigint.data = f->sigusr1.data = f->sighup.data = f;
  uv_signal_start(&f->sighup, on_sighup, SIGHUP);
  uv_signal_start(&f->sigterm, on_terminate, SIGTERM);
  uv_signal_start(&f->sigint, on_terminate, SIGINT);
  uv_signal_start(&f->sigusr1, on_sigusr1, SIGUSR1);
  catch_up(f);
  if (!sc__views_ready(f->views))
    sc__log(&f->log, SC_LOG_WARN, "no snapshot in %s yet: waiting for the engine before listening",
           f->opt.snapshot);
  notify_connect(f);
  uv_timer_start(&f->poll, on_poll, f->opt.poll_ms, f->opt.poll_ms);
  if (f->opt.stats_interval_ms > 0)
    uv_timer_start(&f->stats, on_stats, f->opt.stats_interval_ms, f->opt.stats_interval_ms);
  uv_run(f->loop, UV_RUN_DEFAULT);
  rc = f->exit_code;
done:
  sc__h2_server_free(f->server);
  uv_run(f->loop, UV_RUN_DEFAULT); /* the server's last handle */
  uv_loop_close(f->loop);
  sc__ads_free(f->ads);
  sc__views_free(f->views);
  free(f->opt.notify_path);
  free(f);
  return rc;
}
