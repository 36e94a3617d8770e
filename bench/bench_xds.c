/* The xDS frontends under load: a connect storm of simulated Envoy proxies and the
 * fan-out of mesh-wide changes, against two scopecast-xds processes sharing one port.
 *
 *   bench_xds [quick] [proxies=N[,N...]] [events=E] [mesh=S|M] [window=W] [verify=K]
 *             [watch=file|unix] [delta=1] [modes=sotw,delta] [scopecast=PATH] [xds_log=LEVEL]
 *             [keep=1]
 *
 *   quick        200 proxies, 3 events, 10 classes verified: a run of a few seconds
 *   proxies      simulated proxies per round (default 1000,5000); one round each, with a
 *                fresh engine, snapshot and frontends
 *   events       fan-out events per round (default 20)
 *   mesh         the generated mesh (bench/meshgen.c): S = 100 services, 10 namespaces,
 *                10 Sidecars (default); M = 1,000 services, 100 namespaces, 100 Sidecars
 *   window       connections in progress at once during the storm (default 0: all)
 *   verify       proxy classes whose versions are compared with scopecast-dump (default 40)
 *   watch        how events reach the engine: appended to its --watch file (default; the
 *                engine polls a file every 200 ms once at its end) or written to a unix
 *                socket it follows (--watch unix:PATH), which it reads at once
 *   scopecast    the engine binary; scopecast-xds and scopecast-dump are taken beside it
 *                (default: the build directory above this program's)
 *   delta=1      the proxies use Delta ADS (DeltaAggregatedResources) instead of SotW
 *   modes        sotw, delta or both (sotw,delta): each round is run once per mode, with
 *                its own engine and frontends (default sotw)
 *   xds_log      the frontends' --log-level (default info; debug logs pushes and ACKs)
 *   keep=1       keep the work directory (snapshot, logs); it is kept anyway on failure
 *
 * Per round: generate the mesh as watch events, start the engine (its --watch file holds
 * the mesh), wait until it published every object, subscribe to its commit notifications
 * (DIR/notify.sock: head version and commit time, 16 bytes per commit), start two
 * frontends on one port (SO_REUSEPORT), then
 *  (a) connect storm: N proxies spread over the mesh's namespaces and workload labels
 *      (so over its scopes), each on its own HTTP/2 connection with one ADS stream (SotW
 *      or Delta), connect at once; the storm ends when every proxy has received and ACKed
 *      CDS, EDS (its EDS clusters), LDS and RDS (the route configurations its listeners
 *      name);
 *  (b) fan-out: events adding a Service to istio-system, which every scope imports;
 *      per stream, the time from the event's write and from the engine's commit to the
 *      stream's new CDS response (SotW: a new version; Delta: the one with the new
 *      cluster);
 *  (c) the frontends' CPU per response pushed over the fan-out, their resident memory
 *      per stream, and their own stats lines (SIGUSR1).
 * Versions received are compared with scopecast-dump's for a sample of proxy classes
 * (SotW: version_info and counts per type; Delta: the names and versions held per type).
 * Prints one JSON object.
 *
 *   bench_xds soak [seconds=S] [rate=R] [proxies=N] [seed=K] [restart=0|1] [batch_ms=B]
 *                  [reconnect_ms=M] [mesh=S|M] [window=W] [delta=1 | modes=sotw,delta] ...
 *
 * Soak (defaults: 2,000 proxies, every other one Delta, 60 s at 200 events/s, restart=1,
 * engine batches of at most 1,000 ms, reconnection backoff from 500 ms): after the
 * connect storm, churn written to the engine's watch socket at R events/s, of mixed kinds
 * over every namespace (sc_churn_next, seeded: Services added, modified and deleted,
 * EndpointSlices, Pods' labels, VirtualServices, DestinationRules, Sidecars, Namespace
 * labels); proxies whose stream ends connect again. With restart=1, a third of the way
 * in, the second frontend is SIGKILLed and another started on the same port. After the
 * churn, a last event (a Namespace) tells when the engine published everything; then
 * every stream must hold what scopecast-dump gives for its class at that head, every
 * type. RSS of the engine and the frontends is sampled every 2 s; the end must be within
 * 1.25 x the middle + 16 MB. The children are stopped with SIGTERM: exit 0, no sanitizer
 * report in their logs. The JSON's "checks" says which criterion held; exit status 0
 * when all did. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <uv.h>

#include "meshgen.h"
#include "wire/registry.h"
#include "xdsclient.h"

#define MAX_ROUNDS 8
#define NFRONTENDS 2

enum { MODE_SOTW = 0, MODE_DELTA, NMODES };
static const char *const mode_names[NMODES] = {"sotw", "delta"};

typedef struct {
  bool quick, keep, watch_unix;
  /* Soak mode: churn for seconds at rate events/s (seeded), one frontend killed and
   * started again a third of the way in when restart, proxies reconnecting after
   * reconnect_ms (backoff base), engine batches of at most batch_ms. */
  bool soak, restart;
  unsigned seconds, rate, batch_ms, reconnect_ms;
  uint64_t seed;
  bool modes[NMODES]; /* which ADS modes each round runs in */
  size_t proxies[MAX_ROUNDS];
  size_t rounds;
  unsigned events, window, verify;
  char mesh;
  char bindir[PATH_MAX];
  char xds_log[16]; /* the frontends' --log-level */
} opts_t;

typedef struct {
  uv_process_t proc;
  char name[16];
  char log[PATH_MAX + 32];
  bool started;          /* spawned in this round */
  bool spawned, running; /* spawned: watched for death (until stop_child) */
  int64_t exit_status;
  int term_signal;
} child_t;

typedef struct {
  uint64_t version, commit_ns;
} commit_t;

typedef struct {
  const opts_t *o;
  uv_loop_t loop;
  uv_timer_t tick;
  sc_meshgen_opts_t mesh;
  size_t mesh_lines;
  char work[PATH_MAX], snap[PATH_MAX + 16], events_path[PATH_MAX + 16];
  child_t engine, xds[NFRONTENDS];
  child_t xds_restarted; /* soak: the frontend started again in a killed one's place */
  child_t *fe[NFRONTENDS]; /* the frontends serving now (xds, or xds_restarted) */
  uint16_t port;
  /* Commit notifications. */
  uv_pipe_t notify;
  uv_connect_t notify_req;
  int notify_status; /* 1 connecting, 0 connected, < 0 failed */
  bool notify_handle;
  uint8_t nbuf[16];
  size_t nbuf_len;
  commit_t *commits;
  size_t ncommits, commits_cap;
  /* watch=unix: the engine's connection to us. */
  uv_pipe_t watch_server, watch_conn;
  bool watch_server_open, watch_connected;
  sc_xc_client_t client;
  bool client_open;
  size_t started;
  uint64_t t_storm0, t_all_connected;
  char failure[512];
} bench_t;

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double ms_between(uint64_t from, uint64_t to) {
  return ((double)to - (double)from) / 1e6;
}

/* Rounded, so the JSON carries no float noise. */
static json_t *jnum(double v, int decimals) {
  double f = pow(10, decimals);
  return json_real(round(v * f) / f);
}

static void set_failure(bench_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_failure(bench_t *b, const char *fmt, ...) {
  if (b->failure[0] != '\0')
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->failure, sizeof(b->failure), fmt, ap);
  va_end(ap);
  fprintf(stderr, "bench_xds: %s\n", b->failure);
}

/* ---- The loop --------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t) {
  (void)t; /* wakes the loop so that run_until sees its deadline */
}

/* A child that should be running and is not ends the round. */
static bool child_died(bench_t *b) {
  child_t *all[] = {&b->engine, b->fe[0], b->fe[1]};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    if (all[i] != NULL && all[i]->spawned && !all[i]->running) {
      set_failure(b, "%s exited (status %lld, signal %d); see %s", all[i]->name, (long long)all[i]->exit_status,
                  all[i]->term_signal, all[i]->log);
      return true;
    }
  return false;
}

/* Runs the loop until done(arg) or timeout_ms; false on timeout or a child's death. */
/* For run_until's predicates that are costly to evaluate: true at most every every_ms
 * (next_ns holds when next), with the time in *now when now is not NULL. */
static bool poll_due(uint64_t *next_ns, uint64_t every_ms, uint64_t *now) {
  uint64_t t = now_ns(CLOCK_MONOTONIC);
  if (now != NULL)
    *now = t;
  if (t < *next_ns)
    return false;
  *next_ns = t + every_ms * 1000000ull;
  return true;
}

static bool run_until(bench_t *b, bool (*done)(void *), void *arg, double timeout_ms) {
  uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)(timeout_ms * 1e6);
  while (done == NULL || !done(arg)) {
    if (child_died(b) || now_ns(CLOCK_MONOTONIC) > deadline)
      return false;
    uv_run(&b->loop, UV_RUN_ONCE);
  }
  return true;
}

static void pause_ms(bench_t *b, double ms) {
  run_until(b, NULL, NULL, ms);
}

/* ---- Children --------------------------------------------------------------------- */

static void on_child_exit(uv_process_t *proc, int64_t status, int sig) {
  child_t *ch = proc->data;
  ch->running = false;
  ch->exit_status = status;
  ch->term_signal = sig;
  uv_close((uv_handle_t *)proc, NULL);
}

/* Starts args[0] with stdout and stderr to WORK/NAME.log. */
static int spawn(bench_t *b, child_t *ch, const char *name, char **args) {
  snprintf(ch->name, sizeof(ch->name), "%s", name);
  snprintf(ch->log, sizeof(ch->log), "%s/%s.log", b->work, name);
  int fd = open(ch->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                   {.flags = UV_INHERIT_FD, .data.fd = fd},
                                   {.flags = UV_INHERIT_FD, .data.fd = fd}};
  uv_process_options_t po = {
      .exit_cb = on_child_exit, .file = args[0], .args = args, .stdio_count = 3, .stdio = stdio};
  ch->proc.data = ch;
  int rc = uv_spawn(&b->loop, &ch->proc, &po);
  close(fd);
  if (rc == 0)
    ch->started = ch->spawned = ch->running = true;
  return rc;
}

/* SIGTERM, then SIGKILL if it lingers (30 s: a sanitizer's leak check at exit takes
 * a while); the child is no longer watched for death. */
static void stop_child(bench_t *b, child_t *ch) {
  if (!ch->spawned)
    return;
  ch->spawned = false;
  if (ch->running) {
    uv_process_kill(&ch->proc, SIGTERM);
    uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 30000000000ull;
    while (ch->running && now_ns(CLOCK_MONOTONIC) < deadline)
      uv_run(&b->loop, UV_RUN_ONCE);
    if (ch->running) {
      uv_process_kill(&ch->proc, SIGKILL);
      while (ch->running)
        uv_run(&b->loop, UV_RUN_ONCE);
      ch->exit_status = -1;
    }
  }
}

/* ---- Files ------------------------------------------------------------------------ */

/* The bytes of a file from offset off (NUL-terminated, malloc'd), or NULL. */
static char *read_file_from(const char *path, size_t off, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (buf != NULL && fseek(f, (long)off, SEEK_SET) == 0) {
    size_t r;
    while (buf != NULL && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
      n += r;
      if (cap - n - 1 == 0) {
        char *nb = realloc(buf, cap * 2);
        if (nb == NULL) {
          free(buf);
          buf = NULL;
        }
        buf = nb;
        cap *= 2;
      }
    }
  }
  fclose(f);
  if (buf != NULL)
    buf[n] = '\0';
  if (len != NULL)
    *len = n;
  return buf;
}

static size_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static bool log_contains(const child_t *ch, const char *needle) {
  char *text = read_file_from(ch->log, 0, NULL);
  bool found = text != NULL && strstr(text, needle) != NULL;
  free(text);
  return found;
}

/* Lines of a log with a level marker (" warning: ", " error: "): counted, first kept. */
static json_t *log_lines_with(const child_t *ch, const char *marker, size_t keep) {
  json_t *out = json_object(), *first = json_array();
  char *text = read_file_from(ch->log, 0, NULL);
  size_t count = 0;
  for (char *line = text, *nl; line != NULL && *line != '\0'; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    if (nl != NULL)
      *nl = '\0';
    if (strstr(line, marker) == NULL)
      continue;
    if (count++ < keep)
      json_array_append_new(first, json_string(line));
  }
  free(text);
  json_object_set_new(out, "count", json_integer((json_int_t)count));
  json_object_set_new(out, "first", first);
  return out;
}

/* ---- /proc ------------------------------------------------------------------------ */

/* utime + stime of a process, in ms. */
static double proc_cpu_ms(int pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  char *text = read_file_from(path, 0, NULL);
  double ms = -1;
  const char *p = text ? strrchr(text, ')') : NULL;
  unsigned long long utime, stime;
  /* After the command name: fields 3 (state) to 13, then utime (14) and stime (15). */
  if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2)
    ms = (double)(utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
  free(text);
  return ms;
}

/* A "\nName:" field of /proc/PID/status in kB (VmRSS, RssAnon), or -1. */
static long proc_status_kb(int pid, const char *field) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  char *text = read_file_from(path, 0, NULL);
  const char *p = text ? strstr(text, field) : NULL;
  long kb = p ? strtol(p + strlen(field), NULL, 10) : -1;
  free(text);
  return kb;
}

static long proc_rss_kb(int pid) {
  return proc_status_kb(pid, "\nVmRSS:");
}

static double frontends_cpu_ms(bench_t *b) {
  double sum = 0;
  for (int i = 0; i < NFRONTENDS; i++)
    sum += proc_cpu_ms(b->fe[i]->proc.pid);
  return sum;
}

static long frontends_rss_kb(bench_t *b) {
  long sum = 0;
  for (int i = 0; i < NFRONTENDS; i++)
    sum += proc_rss_kb(b->fe[i]->proc.pid);
  return sum;
}

/* A TcpExt counter of /proc/net/netstat (system-wide), or -1. */
static long long tcpext_counter(const char *name) {
  char *text = read_file_from("/proc/net/netstat", 0, NULL);
  long long value = -1;
  char *names = text ? strstr(text, "TcpExt: ") : NULL;
  char *values = names ? strstr(names + 1, "TcpExt: ") : NULL;
  if (values != NULL) {
    char *save1, *save2, *nl = strchr(names, '\n');
    if (nl != NULL)
      *nl = '\0';
    char *n = strtok_r(names + 8, " ", &save1), *v = strtok_r(values + 8, " \n", &save2);
    for (; n != NULL && v != NULL; n = strtok_r(NULL, " ", &save1), v = strtok_r(NULL, " \n", &save2))
      if (strcmp(n, name) == 0) {
        value = atoll(v);
        break;
      }
  }
  free(text);
  return value;
}

static double self_cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* ---- scopecast-dump ----------------------------------------------------------------- */

/* Runs scopecast-dump --snapshot SNAP ARGS and parses its JSON output (NULL on failure). */
static json_t *dump_json(bench_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *dump_json(bench_t *b, const char *fmt, ...) {
  char args[1024], cmd[PATH_MAX * 3];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof(args), fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof(cmd), "'%s/scopecast-dump' --snapshot '%s' %s 2>/dev/null", b->o->bindir, b->snap, args);
  FILE *f = popen(cmd, "r");
  if (f == NULL)
    return NULL;
  json_t *j = json_loadf(f, JSON_DISABLE_EOF_CHECK, NULL);
  char sink[4096];
  while (fread(sink, 1, sizeof(sink), f) > 0) {
  }
  if (pclose(f) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}

typedef struct {
  bench_t *b;
  uint64_t next_ns;
} loaded_t;

/* Whether the engine published every object of the mesh (polled every 50 ms). */
static bool mesh_loaded(void *arg) {
  loaded_t *l = arg;
  if (!poll_due(&l->next_ns, 50, NULL))
    return false;
  json_t *info = dump_json(l->b, "info --json");
  json_int_t seen = json_integer_value(json_object_get(info, "objects")) +
                    json_integer_value(json_object_get(info, "rejected")) +
                    json_integer_value(json_object_get(info, "skipped"));
  json_decref(info);
  return seen >= (json_int_t)l->b->mesh_lines;
}

/* ---- Commit notifications ------------------------------------------------------------ */

static uint64_t be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

static void on_notify_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  bench_t *b = h->data;
  *buf = uv_buf_init((char *)b->nbuf + b->nbuf_len, (unsigned)(sizeof(b->nbuf) - b->nbuf_len));
}

/* 16 bytes per commit: head version and commit time (CLOCK_REALTIME ns), big-endian. */
static void on_notify_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  bench_t *b = s->data;
  if (nread < 0) {
    b->notify_status = (int)nread;
    uv_read_stop(s);
    return;
  }
  b->nbuf_len += (size_t)nread;
  if (b->nbuf_len < sizeof(b->nbuf))
    return;
  b->nbuf_len = 0;
  if (b->ncommits == b->commits_cap) {
    b->commits_cap = b->commits_cap ? b->commits_cap * 2 : 64;
    b->commits = realloc(b->commits, b->commits_cap * sizeof(commit_t));
    if (b->commits == NULL)
      abort();
  }
  b->commits[b->ncommits++] = (commit_t){be64(b->nbuf), be64(b->nbuf + 8)};
}

static void on_notify_connect(uv_connect_t *req, int status) {
  bench_t *b = req->data;
  b->notify_status = status;
  if (status == 0)
    uv_read_start((uv_stream_t *)&b->notify, on_notify_alloc, on_notify_read);
}

static bool notify_settled(void *arg) {
  return ((bench_t *)arg)->notify_status != 1;
}

static void on_notify_closed(uv_handle_t *h) {
  ((bench_t *)h->data)->notify_handle = false;
}

static void close_notify(bench_t *b) {
  if (b->notify_handle && !uv_is_closing((uv_handle_t *)&b->notify))
    uv_close((uv_handle_t *)&b->notify, on_notify_closed);
}

/* Subscribes to DIR/notify.sock, retrying while the engine has not created it. */
static bool subscribe_commits(bench_t *b) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof(path), "%s/notify.sock", b->snap);
  uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 5000000000ull;
  while (now_ns(CLOCK_MONOTONIC) < deadline) {
    uv_pipe_init(&b->loop, &b->notify, 0);
    b->notify.data = b->notify_req.data = b;
    b->notify_handle = true;
    b->notify_status = 1;
    uv_pipe_connect(&b->notify_req, &b->notify, path, on_notify_connect);
    run_until(b, notify_settled, b, 2000);
    if (b->notify_status == 0)
      return true;
    close_notify(b);
    pause_ms(b, 50);
  }
  return false;
}

static uint64_t head_version(const bench_t *b) {
  return b->ncommits ? b->commits[b->ncommits - 1].version : 0;
}

/* The first commit after head version v, or NULL. */
static const commit_t *commit_after(const bench_t *b, uint64_t v) {
  for (size_t i = 0; i < b->ncommits; i++)
    if (b->commits[i].version > v)
      return &b->commits[i];
  return NULL;
}

/* ---- watch=unix: the engine connects to us ---------------------------------------- */

static void on_watch_connection(uv_stream_t *server, int status) {
  bench_t *b = server->data;
  if (status != 0 || b->watch_connected)
    return;
  uv_pipe_init(&b->loop, &b->watch_conn, 0);
  if (uv_accept(server, (uv_stream_t *)&b->watch_conn) != 0) {
    uv_close((uv_handle_t *)&b->watch_conn, NULL);
    return;
  }
  b->watch_connected = true;
  /* The stream's initial state is empty (the mesh comes from the watch file): say so as
   * the Kubernetes API does, or the engine waits --sync-timeout-ms before publishing. */
  static const char initial_events_end[] =
      "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"resourceVersion\":\"1\","
      "\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n";
  uv_buf_t buf = uv_buf_init((char *)initial_events_end, sizeof(initial_events_end) - 1);
  if (uv_try_write((uv_stream_t *)&b->watch_conn, &buf, 1) != (int)buf.len)
    fprintf(stderr, "bench_xds: could not write the initial-events-end bookmark to the engine\n");
}

static int listen_watch(bench_t *b, const char *path) {
  uv_pipe_init(&b->loop, &b->watch_server, 0);
  b->watch_server.data = b;
  b->watch_server_open = true;
  int rc = uv_pipe_bind(&b->watch_server, path);
  return rc != 0 ? rc : uv_listen((uv_stream_t *)&b->watch_server, 4, on_watch_connection);
}

static bool watch_ready(void *arg) {
  return ((bench_t *)arg)->watch_connected;
}

/* One event: a public Service in istio-system, which every scope imports (the
 * namespace-wide Sidecars import all of istio-system, the others import everything); its
 * port 80 gives every proxy a new cluster (CDS), assignment (EDS) and virtual host in
 * route "80" (RDS). Returns 0 and when it was written (CLOCK_REALTIME). */
static int write_event(bench_t *b, unsigned k, uint64_t *t_written) {
  char line[512];
  int n = snprintf(line, sizeof(line),
                   "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
                   "\"name\":\"fanout-%u\",\"namespace\":\"istio-system\"},\"spec\":{\"ports\":[{\"name\":"
                   "\"http\",\"port\":80}]}}}\n",
                   k);
  *t_written = now_ns(CLOCK_REALTIME);
  if (b->o->watch_unix) {
    uv_buf_t buf = uv_buf_init(line, (unsigned)n);
    return uv_try_write((uv_stream_t *)&b->watch_conn, &buf, 1) == n ? 0 : -1;
  }
  int fd = open(b->events_path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t w = write(fd, line, (size_t)n);
  close(fd);
  return w == n ? 0 : -1;
}

/* ---- Mesh and proxies ------------------------------------------------------------- */

static void mesh_options(char size, sc_meshgen_opts_t *m) {
  static const sc_meshgen_opts_t s = {100, 10, 10, 20, 20, 1, 3}, l = {1000, 100, 100, 200, 200, 2, 10};
  *m = size == 'M' ? l : s;
}

/* Writes the mesh's watch events to path; returns the number of lines, or 0. */
static size_t write_mesh(const sc_meshgen_opts_t *m, const char *path) {
  char *buf;
  size_t len, lines = 0;
  if (sc_meshgen(m, &buf, &len) != 0)
    return 0;
  for (size_t i = 0; i < len; i++)
    lines += buf[i] == '\n';
  FILE *f = fopen(path, "wb");
  bool ok = f != NULL && fwrite(buf, 1, len, f) == len;
  if (f != NULL && fclose(f) != 0)
    ok = false;
  free(buf);
  return ok ? lines : 0;
}

/* Proxy j: a pod of service svc-C in its namespace (labels app=svc-C, version=v1; the
 * workload-selector Sidecars select some of them), or a job in a client namespace;
 * one in twenty without traffic interception (INTERCEPTION_MODE NONE). */
static void identity(const sc_meshgen_opts_t *m, size_t j, sc_xc_identity_t *w) {
  size_t nclasses = m->services + m->client_namespaces, c = j % nclasses;
  unsigned nns = m->namespaces ? m->namespaces : 1;
  if (c < m->services) {
    snprintf(w->namespace_, sizeof(w->namespace_), "ns-%zu", c % nns);
    snprintf(w->app, sizeof(w->app), "svc-%zu", c);
  } else {
    snprintf(w->namespace_, sizeof(w->namespace_), "client-%zu", c - m->services);
    snprintf(w->app, sizeof(w->app), "job");
  }
  snprintf(w->version, sizeof(w->version), "v1");
  w->interception_none = j % 20 == 19;
  w->klass = (uint32_t)(c * 2 + w->interception_none);
  snprintf(w->ip, sizeof(w->ip), "10.%zu.%zu.%zu", 128 + j / 65536, j / 256 % 256, j % 256);
  snprintf(w->id, sizeof(w->id), "sidecar~%s~%s-%zu.%s~%s.svc.cluster.local", w->ip, w->app, j, w->namespace_,
           w->namespace_);
}

/* ---- Engine and frontends --------------------------------------------------------- */

static int start_engine(bench_t *b) {
  char watch_file[PATH_MAX + 32], watch_unix[PATH_MAX + 32], bin[PATH_MAX + 32];
  snprintf(bin, sizeof(bin), "%s/scopecast", b->o->bindir);
  snprintf(watch_file, sizeof(watch_file), "file:%s", b->events_path);
  snprintf(watch_unix, sizeof(watch_unix), "unix:%s/watch.sock", b->work);
  if (b->o->watch_unix) {
    int rc = listen_watch(b, watch_unix + 5);
    if (rc != 0)
      return rc;
  }
  /* Rounds: a batch closes 1 ms after its last event, so an event is its own batch.
   * Soak: sustained churn is debounced as istiod does, in batches of at most batch_ms. */
  char batch_max[24];
  snprintf(batch_max, sizeof(batch_max), "%u", b->o->soak ? b->o->batch_ms : 1000);
  char *args[] = {bin,         "--snapshot", b->snap,  "--watch",       watch_file, "--batch-quiet-ms",
                  b->o->soak ? "50" : "1",   "--batch-max-ms", batch_max, "--no-sync", "--watch",
                  watch_unix,  NULL};
  if (!b->o->watch_unix)
    args[10] = NULL;
  return spawn(b, &b->engine, "engine", args);
}

/* A port that was free a moment ago: both frontends bind it with SO_REUSEPORT. */
static uint16_t free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

static bool frontends_listening(void *arg) {
  bench_t *b = arg;
  for (int i = 0; i < NFRONTENDS; i++)
    if (!log_contains(b->fe[i], "listening on"))
      return false;
  return true;
}

/* A frontend on the round's port, logging to WORK/NAME.log. */
static int spawn_frontend(bench_t *b, child_t *ch, const char *name) {
  char bin[PATH_MAX + 32], listen[64];
  snprintf(bin, sizeof(bin), "%s/scopecast-xds", b->o->bindir);
  snprintf(listen, sizeof(listen), "127.0.0.1:%u", b->port);
  /* Stats only when asked (SIGUSR1), so that every line read is the one asked for. */
  char *args[] = {bin, "--snapshot", b->snap, "--listen", listen, "--stats-interval-ms", "86400000",
                  "--log-level", (char *)b->o->xds_log, NULL};
  int rc = spawn(b, ch, name, args);
  if (rc != 0)
    set_failure(b, "cannot start %s: %s", bin, uv_strerror(rc));
  return rc;
}

static int start_frontends(bench_t *b) {
  b->port = free_port();
  for (int i = 0; i < NFRONTENDS; i++) {
    char name[16];
    snprintf(name, sizeof(name), "xds-%d", i);
    b->fe[i] = &b->xds[i];
    int rc = spawn_frontend(b, b->fe[i], name);
    if (rc != 0)
      return rc;
  }
  return run_until(b, frontends_listening, b, 20000) ? 0 : -1;
}

typedef struct {
  const child_t *ch;
  size_t off;
  json_t *stats;
} stats_wait_t;

/* A `stats {JSON}` line in the log after off. */
static bool stats_line(void *arg) {
  stats_wait_t *w = arg;
  char *text = read_file_from(w->ch->log, w->off, NULL);
  const char *at = text ? strstr(text, " stats {") : NULL;
  if (at != NULL && strchr(at, '\n') != NULL)
    w->stats = json_loadb(at + 7, (size_t)(strchr(at, '\n') - at - 7), 0, NULL);
  free(text);
  return w->stats != NULL;
}

/* One frontend's stats line (SIGUSR1), or null when none came. */
static json_t *one_frontend_stats(bench_t *b, const child_t *ch) {
  stats_wait_t w = {ch, file_size(ch->log), NULL};
  uv_process_kill((uv_process_t *)&ch->proc, SIGUSR1);
  run_until(b, stats_line, &w, 3000);
  return w.stats ? w.stats : json_null();
}

/* Each frontend's stats line, as an array of objects (null when none came). */
static json_t *frontend_stats(bench_t *b) {
  json_t *all = json_array();
  for (int i = 0; i < NFRONTENDS; i++)
    json_array_append_new(all, one_frontend_stats(b, b->fe[i]));
  return all;
}

/* The sum of a counter over the frontends' stats; -1 when one of them has none. */
static json_int_t stats_sum(json_t *stats, const char *key) {
  json_int_t sum = 0;
  size_t i;
  json_t *s;
  json_array_foreach(stats, i, s) {
    json_t *v = json_object_get(s, key);
    if (!json_is_integer(v))
      return -1;
    sum += json_integer_value(v);
  }
  return sum;
}

/* What each frontend's stats say of its views: proxy classes, gathered lists, and how
 * long its last refresh took (null for a frontend without stats). */
static json_t *frontend_views(json_t *stats) {
  json_t *a = json_array(), *st;
  size_t i;
  json_array_foreach(stats, i, st) {
    json_t *v = json_null();
    if (json_is_object(st))
      v = json_pack("{s:O?, s:O?, s:O?}", "proxy_classes", json_object_get(st, "proxy_classes"), "lists",
                    json_object_get(st, "lists"), "last_refresh_ms", json_object_get(st, "last_refresh_ms"));
    json_array_append_new(a, v ? v : json_null());
  }
  return a;
}

/* ---- Figures ---------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static double pct(const double *v, size_t n, double q) {
  size_t rank = (size_t)ceil(q * (double)n);
  return n == 0 ? 0 : v[rank > 0 ? rank - 1 : 0];
}

/* {n, p50, p99, max} of v (sorted in place), in ms. */
static json_t *distribution(double *v, size_t n) {
  qsort(v, n, sizeof(double), cmp_double);
  if (n == 0)
    return json_null();
  return json_pack("{s:I, s:o, s:o, s:o}", "n", (json_int_t)n, "p50", jnum(pct(v, n, 0.5), 3), "p99",
                   jnum(pct(v, n, 0.99), 3), "max", jnum(v[n - 1], 3));
}

static json_t *per_type(const uint64_t *v) {
  json_t *o = json_object();
  for (int t = 0; t < SC_XC_NTYPES; t++)
    json_object_set_new(o, sc_xds_types[t].name, json_integer((json_int_t)v[t]));
  return o;
}

static uint64_t total_responses(const sc_xc_client_t *c) {
  uint64_t n = 0;
  for (int t = 0; t < SC_XC_NTYPES; t++)
    n += c->responses_by_type[t];
  return n;
}

static json_t *client_errors(const sc_xc_client_t *c) {
  json_t *a = json_array();
  for (size_t i = 0; i < c->nerrors; i++)
    json_array_append_new(a, json_string(c->errors[i]));
  return a;
}

/* Where a proxy stands, per type: for the report when streams do not sync. */
static json_t *proxy_state(const sc_xc_proxy_t *p) {
  json_t *o = json_pack("{s:s, s:b, s:b}", "id", p->who.id, "synced", p->synced, "eds_warming", p->eds_warming);
  for (int t = 0; t < SC_XC_NTYPES; t++) {
    const sc_xc_type_state_t *ts = &p->types[t];
    json_object_set_new(o, sc_xds_types[t].name,
                        json_pack("{s:s, s:s, s:b, s:i, s:i, s:i, s:i}", "version", ts->version ? ts->version : "",
                                  "nonce", ts->nonce ? ts->nonce : "", "requested", ts->requested, "responses",
                                  (int)ts->responses, "last_count", (int)ts->count, "subscribed",
                                  ts->subscribed ? (int)ts->subscribed->n : -1, "received", (int)ts->nhave));
  }
  return o;
}

/* The first few open proxies that are not synced. */
static json_t *unsynced_sample(const sc_xc_client_t *c) {
  json_t *a = json_array();
  for (size_t i = 0; i < c->n && json_array_size(a) < 3; i++)
    if (c->proxies[i].state == SC_XC_OPEN && !c->proxies[i].synced)
      json_array_append_new(a, proxy_state(&c->proxies[i]));
  return a;
}

/* ---- (a) Connect storm -------------------------------------------------------------- */

/* Starts connections (all at once, or window at a time); done when every proxy synced
 * or failed. */
static bool storm_step(void *arg) {
  bench_t *b = arg;
  sc_xc_client_t *c = &b->client;
  unsigned w = b->o->window;
  while (b->started < c->n && (w == 0 || b->started - (c->ever_synced + c->gave_up) < w))
    sc_xc_proxy_connect(&c->proxies[b->started++]);
  if (b->t_all_connected == 0 && c->connected == c->n)
    b->t_all_connected = now_ns(CLOCK_MONOTONIC);
  return c->ever_synced + c->gave_up == c->n;
}

typedef struct {
  sc_xc_client_t *c;
  uint64_t quiet_ns;
} settle_t;

/* Every open stream synced, nothing waiting to be decoded, nothing received lately. */
static bool settled(void *arg) {
  settle_t *s = arg;
  return s->c->queue_len == 0 && s->c->synced_now + s->c->failed == s->c->n &&
         now_ns(CLOCK_MONOTONIC) - s->c->last_response_ns >= s->quiet_ns;
}

static json_t *storm(bench_t *b, size_t n) {
  sc_xc_client_t *c = &b->client;
  double self0 = self_cpu_ms();
  long long overflows0 = tcpext_counter("ListenOverflows");
  b->t_storm0 = now_ns(CLOCK_MONOTONIC);
  bool done = run_until(b, storm_step, b, 30000 + 30.0 * (double)n);
  uint64_t t_last = 0;
  double *from_start = malloc(n * sizeof(double)), *own = malloc(n * sizeof(double));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const sc_xc_proxy_t *p = &c->proxies[i];
    if (!p->ever_synced)
      continue;
    t_last = p->t_synced_ns > t_last ? p->t_synced_ns : t_last;
    from_start[k] = ms_between(b->t_storm0, p->t_synced_ns);
    own[k++] = ms_between(p->t_connect_ns, p->t_synced_ns);
  }
  bool complete = done && c->gave_up == 0;
  if (!complete)
    set_failure(b, "connect storm: %zu of %zu proxies synced, %zu failed", c->ever_synced, n, c->gave_up);
  json_t *o = json_object();
  json_object_set_new(o, "complete", json_boolean(complete));
  json_object_set_new(o, "synced", json_integer((json_int_t)c->ever_synced));
  json_object_set_new(o, "failed", json_integer((json_int_t)c->gave_up));
  json_object_set_new(o, "storm_ms", complete ? jnum(ms_between(b->t_storm0, t_last), 1) : json_null());
  json_object_set_new(o, "all_connected_ms",
                      b->t_all_connected ? jnum(ms_between(b->t_storm0, b->t_all_connected), 1) : json_null());
  json_object_set_new(o, "synced_after_start_ms", distribution(from_start, k));
  json_object_set_new(o, "synced_after_own_connect_ms", distribution(own, k));
  json_object_set_new(o, "responses", per_type(c->responses_by_type));
  json_object_set_new(o, "response_bytes", per_type(c->bytes_by_type));
  json_object_set_new(o, "requests", json_integer((json_int_t)c->requests));
  json_object_set_new(o, "client_cpu_ms", jnum(self_cpu_ms() - self0, 1));
  json_object_set_new(o, "client_decode_ms", jnum((double)c->decode_ns / 1e6, 1));
  /* Accept queues that overflowed: those connections waited for a SYN retransmit (1 s). */
  long long overflows1 = tcpext_counter("ListenOverflows");
  json_object_set_new(o, "listen_overflows_systemwide",
                      overflows0 >= 0 && overflows1 >= 0 ? json_integer(overflows1 - overflows0) : json_null());
  free(from_start);
  free(own);
  return o;
}

/* ---- Versions against scopecast-dump ------------------------------------------------ */

/* SotW: the version_info and count of resources of a type against the dump's; what
 * differs is written to why. */
static bool sotw_matches(const sc_xc_type_state_t *ts, json_t *d, char *why, size_t len) {
  const char *want = json_string_value(json_object_get(d, "version_info"));
  size_t want_n = json_array_size(json_object_get(d, "resources"));
  size_t got_n = ts->subscribed ? ts->subscribed->n : ts->count;
  const char *got = ts->version ? ts->version : "";
  if (want != NULL && strcmp(want, got) == 0 && want_n == got_n)
    return true;
  snprintf(why, len, "got version %s with %zu resources, scopecast-dump says %s with %zu", got, got_n,
           want ? want : "(none)", want_n);
  return false;
}

typedef struct {
  const char *name, *version;
} named_version_t;

static int cmp_named_version(const void *a, const void *b) {
  return strcmp(((const named_version_t *)a)->name, ((const named_version_t *)b)->name);
}

/* The dump's resources as names and versions, sorted by name (n set; malloc'd). */
static named_version_t *dump_versions(json_t *d, size_t *n) {
  json_t *res = json_object_get(d, "resources"), *e;
  named_version_t *v = malloc((json_array_size(res) + 1) * sizeof(*v));
  size_t i;
  *n = 0;
  json_array_foreach(res, i, e) {
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *version = json_string_value(json_object_get(e, "version"));
    v[(*n)++] = (named_version_t){name ? name : "", version ? version : ""};
  }
  qsort(v, *n, sizeof(*v), cmp_named_version);
  return v;
}

/* Delta: the names and versions the proxy holds of a type (resources received minus
 * those removed) against the dump's resources (want, sorted by name); the first
 * difference is written to why. */
static bool delta_matches(const sc_xc_type_state_t *ts, const named_version_t *want, size_t nwant, char *why,
                          size_t len) {
  size_t i = 0, j = 0, ngot = ts->count;
  why[0] = '\0';
  while (why[0] == '\0' && (i < ts->nheld || j < nwant)) {
    const sc_xc_held_t *h = i < ts->nheld ? ts->held[i] : NULL;
    if (h != NULL && h->version == NULL) { /* known not to exist: nothing held */
      i++;
      continue;
    }
    int c = h == NULL ? 1 : j == nwant ? -1 : strcmp(h->name, want[j].name);
    if (c < 0)
      snprintf(why, len, "holds %s, which scopecast-dump does not list", h->name);
    else if (c > 0)
      snprintf(why, len, "lacks %s (version %s)", want[j].name, want[j].version);
    else if (strcmp(h->version, want[j].version) != 0)
      snprintf(why, len, "holds %s at version %s, scopecast-dump says %s", h->name, h->version, want[j].version);
    i += c <= 0;
    j += c >= 0;
  }
  if (why[0] != '\0') {
    size_t at = strlen(why);
    snprintf(why + at, len - at, " (%zu held, %zu listed)", ngot, nwant);
  }
  return why[0] == '\0';
}

/* scopecast-dump's resources of type t for a proxy of identity w in scope. */
static json_t *dump_resources(bench_t *b, const char *scope, int t, const sc_xc_identity_t *w) {
  return dump_json(b, "resources '%s' --type %s --label app=%s --label version=%s%s --json", scope,
                   sc_xds_types[t].name, w->app, w->version, w->interception_none ? " --interception-mode NONE" : "");
}

/* What scopecast-dump says of one type for a proxy class: its output, and for Delta its
 * resources' names and versions, sorted (pointing into the output). */
typedef struct {
  json_t *dump;
  named_version_t *want;
  size_t nwant;
} expected_t;

static void expected_set(expected_t *e, json_t *dump) {
  e->dump = dump;
  e->want = dump_versions(dump, &e->nwant);
}

static void expected_clear(expected_t *e) {
  json_decref(e->dump);
  free(e->want);
  memset(e, 0, sizeof(*e));
}

/* A proxy's type t against the dump's, in the proxy's mode; what differs goes to why. */
static bool type_matches(const sc_xc_proxy_t *p, int t, const expected_t *e, char *why, size_t len) {
  if (json_object_get(e->dump, "resources") == NULL) {
    snprintf(why, len, "scopecast-dump printed no resources");
    return false;
  }
  return p->delta ? delta_matches(&p->types[t], e->want, e->nwant, why, len)
                  : sotw_matches(&p->types[t], e->dump, why, len);
}

/* One proxy's resources per type against what scopecast-dump says a proxy of its
 * namespace, labels and interception mode gets; mismatches are appended to errs. */
static size_t verify_proxy(bench_t *b, const sc_xc_proxy_t *p, json_t *errs) {
  const sc_xc_identity_t *w = &p->who;
  json_t *res = dump_json(b, "resolve --namespace %s --label app=%s --label version=%s --json", w->namespace_,
                          w->app, w->version);
  const char *scope = json_string_value(json_object_get(res, "scope"));
  size_t bad = 0;
  if (scope == NULL) {
    json_array_append_new(errs, json_sprintf("%s: scopecast-dump resolve failed", w->id));
    json_decref(res);
    return 1;
  }
  for (int t = 0; t < SC_XC_NTYPES; t++) {
    expected_t e;
    expected_set(&e, dump_resources(b, scope, t, w));
    char why[768];
    if (!type_matches(p, t, &e, why, sizeof(why))) {
      bad++;
      json_array_append_new(errs, json_sprintf("%s (scope %s) %s: %s", w->id, scope, sc_xds_types[t].name, why));
    }
    expected_clear(&e);
  }
  json_decref(res);
  return bad;
}

/* Checks one synced proxy of each of up to o->verify classes, spread over the classes. */
static json_t *verify(bench_t *b) {
  sc_xc_client_t *c = &b->client;
  size_t nclasses = 2 * (b->mesh.services + b->mesh.client_namespaces), nreps = 0;
  const sc_xc_proxy_t **rep = calloc(nclasses, sizeof(*rep)), **reps = calloc(nclasses, sizeof(*reps));
  for (size_t i = 0; i < c->n; i++) {
    const sc_xc_proxy_t *p = &c->proxies[i];
    if (p->synced && rep[p->who.klass] == NULL)
      rep[p->who.klass] = reps[nreps++] = p;
  }
  size_t want = b->o->verify < nreps ? b->o->verify : nreps, checked = 0, mismatches = 0;
  json_t *errs = json_array();
  for (size_t k = 0; k < want; k++) {
    mismatches += verify_proxy(b, reps[k * nreps / want], errs);
    checked++;
  }
  while (json_array_size(errs) > 5)
    json_array_remove(errs, 5);
  free(rep);
  free(reps);
  return json_pack("{s:I, s:I, s:I, s:o}", "classes", (json_int_t)nreps, "checked", (json_int_t)checked,
                   "mismatches", (json_int_t)mismatches, "first_mismatches", errs);
}

/* ---- (b) Fan-out -------------------------------------------------------------------- */

static bool all_marked(void *arg) {
  sc_xc_client_t *c = arg;
  return c->marked_done == c->n;
}

typedef struct {
  bench_t *b;
  uint64_t after;
} commit_wait_t;

static bool commit_seen(void *arg) {
  commit_wait_t *w = arg;
  return commit_after(w->b, w->after) != NULL;
}

typedef struct {
  double *after_write, *after_commit; /* per stream and event */
  size_t n, ncommit;
  double *last_write, *last_commit, *commit_after_write; /* per event */
  size_t events, events_commit;
  json_t *per_event;
} fanout_t;

/* One event: write it, wait for every stream's new CDS version, then for quiet. */
static bool fanout_event(bench_t *b, unsigned k, fanout_t *f) {
  sc_xc_client_t *c = &b->client;
  /* The event's host, which its clusters' names contain (outbound|80||HOST). */
  char host[64];
  snprintf(host, sizeof(host), "fanout-%u.istio-system.svc.cluster.local", k);
  sc_xc_client_mark(c, host);
  uint64_t v0 = head_version(b), t_written;
  if (write_event(b, k, &t_written) != 0) {
    set_failure(b, "event %u: cannot write it", k);
    return false;
  }
  /* Generous: at 0.5-1 ms of frontend CPU per push, 5,000 streams take seconds. */
  double timeout_ms = 15000 + 10.0 * (double)c->n;
  if (!run_until(b, all_marked, c, timeout_ms)) {
    set_failure(b, "event %u: %zu of %zu streams received the new cluster within %.0f s", k, c->marked_done, c->n,
                timeout_ms / 1e3);
    return false;
  }
  commit_wait_t cw = {b, v0};
  const commit_t *cm = b->notify_status == 0 && run_until(b, commit_seen, &cw, 2000) ? commit_after(b, v0) : NULL;
  double last_w = 0, last_c = -1e300, first_c = 1e300;
  for (size_t i = 0; i < c->n; i++) {
    uint64_t t = c->proxies[i].t_mark_cds_ns;
    if (t == 0)
      continue;
    double w = ms_between(t_written, t);
    f->after_write[f->n++] = w;
    last_w = w > last_w ? w : last_w;
    if (cm != NULL) {
      double x = ms_between(cm->commit_ns, t);
      f->after_commit[f->ncommit++] = x;
      last_c = x > last_c ? x : last_c;
      first_c = x < first_c ? x : first_c;
    }
  }
  f->last_write[f->events++] = last_w;
  json_t *e = json_pack("{s:I, s:o}", "event", (json_int_t)k, "last_stream_after_write_ms", jnum(last_w, 3));
  if (cm != NULL) {
    double cw_ms = ms_between(t_written, cm->commit_ns);
    f->commit_after_write[f->events_commit] = cw_ms;
    f->last_commit[f->events_commit++] = last_c;
    json_object_set_new(e, "head_version", json_integer((json_int_t)cm->version));
    json_object_set_new(e, "commit_after_write_ms", jnum(cw_ms, 3));
    json_object_set_new(e, "first_stream_after_commit_ms", jnum(first_c, 3));
    json_object_set_new(e, "last_stream_after_commit_ms", jnum(last_c, 3));
  }
  settle_t s = {c, 150000000ull};
  bool ok = run_until(b, settled, &s, timeout_ms);
  size_t extra = 0;
  for (size_t i = 0; i < c->n; i++)
    extra += c->proxies[i].cds_since_mark > 1;
  json_object_set_new(e, "streams_with_several_cds_responses", json_integer((json_int_t)extra));
  if (!ok)
    json_object_set_new(e, "unsynced_streams", unsynced_sample(c));
  json_array_append_new(f->per_event, e);
  if (!ok)
    set_failure(b, "event %u: the streams did not settle (%zu of %zu synced)", k, c->synced_now, c->n);
  return ok;
}

static json_t *fanout(bench_t *b) {
  sc_xc_client_t *c = &b->client;
  unsigned events = b->o->events;
  fanout_t f = {0};
  f.after_write = malloc((size_t)events * c->n * sizeof(double));
  f.after_commit = malloc((size_t)events * c->n * sizeof(double));
  f.last_write = malloc(events * sizeof(double) + 1);
  f.last_commit = malloc(events * sizeof(double) + 1);
  f.commit_after_write = malloc(events * sizeof(double) + 1);
  f.per_event = json_array();
  json_t *stats0 = frontend_stats(b);
  double cpu0 = frontends_cpu_ms(b), self0 = self_cpu_ms();
  uint64_t resp0 = total_responses(c), decode0 = c->decode_ns, by_type0[SC_XC_NTYPES];
  memcpy(by_type0, c->responses_by_type, sizeof(by_type0));
  for (unsigned k = 0; k < events; k++)
    if (!fanout_event(b, k, &f))
      break;
  double cpu = frontends_cpu_ms(b) - cpu0, self = self_cpu_ms() - self0;
  uint64_t pushed = total_responses(c) - resp0, by_type[SC_XC_NTYPES];
  for (int t = 0; t < SC_XC_NTYPES; t++)
    by_type[t] = c->responses_by_type[t] - by_type0[t];
  json_t *stats1 = frontend_stats(b);
  json_int_t pushes0 = stats_sum(stats0, "pushes"), pushes1 = stats_sum(stats1, "pushes");
  json_t *o = json_object();
  json_object_set_new(o, "events", json_integer((json_int_t)f.events));
  json_object_set_new(o, "streams", json_integer((json_int_t)c->n));
  json_object_set_new(o, "new_cds_after_commit_ms", distribution(f.after_commit, f.ncommit));
  json_object_set_new(o, "new_cds_after_write_ms", distribution(f.after_write, f.n));
  json_object_set_new(o, "last_stream_after_commit_ms", distribution(f.last_commit, f.events_commit));
  json_object_set_new(o, "last_stream_after_write_ms", distribution(f.last_write, f.events));
  json_object_set_new(o, "commit_after_write_ms", distribution(f.commit_after_write, f.events_commit));
  json_object_set_new(o, "responses", per_type(by_type));
  json_object_set_new(o, "frontend_cpu_ms", jnum(cpu, 1));
  json_object_set_new(o, "responses_received", json_integer((json_int_t)pushed));
  json_object_set_new(o, "frontend_pushes_counted",
                      pushes0 >= 0 && pushes1 >= 0 ? json_integer(pushes1 - pushes0) : json_null());
  json_object_set_new(o, "frontend_cpu_us_per_push", pushed ? jnum(cpu * 1e3 / (double)pushed, 2) : json_null());
  json_object_set_new(o, "client_cpu_ms", jnum(self, 1));
  json_object_set_new(o, "client_decode_ms", jnum((double)(c->decode_ns - decode0) / 1e6, 1));
  json_object_set_new(o, "per_event", f.per_event);
  json_object_set_new(o, "frontend_stats_after", stats1);
  json_decref(stats0);
  free(f.after_write);
  free(f.after_commit);
  free(f.last_write);
  free(f.last_commit);
  free(f.commit_after_write);
  return o;
}

/* ---- A round ---------------------------------------------------------------------- */

/* The client's counters over the round. Delta adds EDS/RDS responses that brought
 * nothing new and the requests that changed EDS/RDS subscriptions. */
static json_t *client_report(const sc_xc_client_t *c) {
  json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "failed", (json_int_t)c->failed, "protocol_errors",
                        (json_int_t)c->protocol_errors, "redundant_cds_lds_responses", (json_int_t)c->redundant,
                        "unrequested_resources", (json_int_t)c->unrequested, "lds_rds_before_new_cds",
                        (json_int_t)c->routes_before_clusters, "requests", (json_int_t)c->requests, "acks",
                        (json_int_t)c->acks);
  if (c->delta) {
    json_object_set_new(o, "redundant_eds_rds_responses", json_integer((json_int_t)c->redundant_named));
    json_object_set_new(o, "subscription_requests", json_integer((json_int_t)c->subscription_requests));
  }
  json_object_set_new(o, "first_errors", client_errors(c));
  return o;
}

static bool client_closed(void *arg) {
  return sc_xc_client_closed(arg);
}

static json_t *child_exit(const child_t *ch) {
  return json_pack("{s:I, s:i}", "status", (json_int_t)ch->exit_status, "signal", ch->term_signal);
}

/* Closes the proxies, stops the frontends (SIGTERM: they should drain and exit 0) and
 * the engine, and reports how they ended and what they logged as warnings and errors. */
static void teardown(bench_t *b, json_t *r) {
  if (b->client_open) {
    sc_xc_client_close(&b->client);
    uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 10000000000ull;
    while (!sc_xc_client_closed(&b->client) && now_ns(CLOCK_MONOTONIC) < deadline)
      uv_run(&b->loop, UV_RUN_ONCE);
    if (client_closed(&b->client))
      sc_xc_client_free(&b->client);
    b->client_open = false;
  }
  json_t *exits = json_array(), *logs = json_object();
  for (int i = 0; i < NFRONTENDS; i++) {
    child_t *fe = b->fe[i];
    if (fe == NULL || !fe->started)
      continue;
    stop_child(b, fe);
    json_array_append_new(exits, child_exit(fe));
    if (fe->exit_status != 0 || fe->term_signal != 0)
      set_failure(b, "%s did not exit 0 on SIGTERM (status %lld, signal %d); see %s", fe->name,
                  (long long)fe->exit_status, fe->term_signal, fe->log);
    json_t *l = json_object();
    json_object_set_new(l, "warnings", log_lines_with(fe, " warning: ", 5));
    json_object_set_new(l, "errors", log_lines_with(fe, " error: ", 5));
    json_object_set_new(logs, fe->name, l);
  }
  stop_child(b, &b->engine);
  close_notify(b);
  if (b->watch_server_open)
    uv_close((uv_handle_t *)&b->watch_server, NULL);
  if (b->watch_connected)
    uv_close((uv_handle_t *)&b->watch_conn, NULL);
  b->watch_server_open = b->watch_connected = false;
  uv_run(&b->loop, UV_RUN_NOWAIT);
  json_object_set_new(r, "frontend_exit", exits);
  json_object_set_new(r, "frontend_logs", logs);
  json_object_set_new(r, "engine_exit", child_exit(&b->engine));
}

static int prepare_round(bench_t *b) {
  snprintf(b->work, sizeof(b->work), "/tmp/sc-bench-xds-XXXXXX");
  if (mkdtemp(b->work) == NULL)
    return -1;
  snprintf(b->snap, sizeof(b->snap), "%s/snap", b->work);
  snprintf(b->events_path, sizeof(b->events_path), "%s/events.jsonl", b->work);
  b->mesh_lines = write_mesh(&b->mesh, b->events_path);
  return b->mesh_lines ? 0 : -1;
}

/* Engine, commit notifications, frontends; fills r with the set-up facts. */
static bool bring_up(bench_t *b, json_t *r) {
  int rc = start_engine(b);
  if (rc != 0) {
    set_failure(b, "cannot start %s/scopecast: %s", b->o->bindir, uv_strerror(rc));
    return false;
  }
  loaded_t l = {b, 0};
  if (!run_until(b, mesh_loaded, &l, 60000)) {
    set_failure(b, "the engine did not publish the mesh; see %s", b->engine.log);
    return false;
  }
  if (b->o->watch_unix && !run_until(b, watch_ready, b, 10000)) {
    set_failure(b, "the engine did not connect to the watch socket");
    return false;
  }
  bool notified = subscribe_commits(b);
  json_object_set_new(r, "commit_notifications", json_boolean(notified));
  json_t *info = dump_json(b, "info --json");
  json_object_set_new(r, "scopes", json_incref(json_object_get(info, "scopes")));
  json_object_set_new(r, "resources_stored", json_incref(json_object_get(info, "resources")));
  json_decref(info);
  if (start_frontends(b) != 0) {
    set_failure(b, "the frontends did not start listening; see %s/xds-*.log", b->work);
    return false;
  }
  json_object_set_new(r, "port", json_integer(b->port));
  return true;
}

/* The targets against what was measured: fan-out to 1,000 streams under 50 ms after the
 * commit (here: the slowest event's last stream, at this round's number of streams), and
 * the frontends' commit-to-wake-up p99 under 1 ms. */
static json_t *targets(json_t *fan) {
  json_t *last = json_object_get(json_object_get(fan, "last_stream_after_commit_ms"), "max");
  double wake = -1;
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(fan, "frontend_stats_after"), i, st) {
    json_t *w = json_object_get(st, "wakeup_p99_us");
    if (json_is_number(w) && json_number_value(w) > wake)
      wake = json_number_value(w);
  }
  json_t *o = json_object();
  json_object_set_new(o, "fanout_last_stream_after_commit_ms", last ? json_incref(last) : json_null());
  json_object_set_new(o, "fanout_target_ms", json_integer(50));
  json_object_set_new(o, "fanout_met", last ? json_boolean(json_number_value(last) < 50) : json_null());
  json_object_set_new(o, "wakeup_p99_us_worst_frontend", wake >= 0 ? json_real(wake) : json_null());
  json_object_set_new(o, "wakeup_target_us", json_integer(1000));
  json_object_set_new(o, "wakeup_met", wake >= 0 ? json_boolean(wake < 1000) : json_null());
  return o;
}

/* Storm, memory, checks, fan-out: the measurements of one round. */
static void measure(bench_t *b, size_t n, json_t *r) {
  sc_xc_client_t *c = &b->client;
  long rss0 = frontends_rss_kb(b);
  json_object_set_new(r, "storm", storm(b, n));
  if (b->failure[0] != '\0')
    return;
  settle_t s = {c, 300000000ull};
  if (!run_until(b, settled, &s, 30000 + 10.0 * (double)n)) {
    json_object_set_new(r, "unsynced_streams", unsynced_sample(c));
    set_failure(b, "after the storm the streams did not settle (%zu of %zu synced)", c->synced_now, n);
    return;
  }
  long rss1 = frontends_rss_kb(b);
  json_object_set_new(r, "memory", json_pack("{s:I, s:I, s:o}", "frontends_rss_kb_before", (json_int_t)rss0,
                                             "frontends_rss_kb_after", (json_int_t)rss1, "rss_bytes_per_stream",
                                             jnum((double)(rss1 - rss0) * 1024.0 / (double)n, 0)));
  json_t *stats = frontend_stats(b), *views = json_object();
  json_object_set_new(r, "frontend_stats_after_storm", stats);
  json_object_set_new(views, "after_storm", frontend_views(stats));
  json_object_set_new(r, "frontend_views", views);
  if (b->failure[0] != '\0')
    return;
  json_object_set_new(r, "verify_after_storm", verify(b));
  json_t *fan = fanout(b);
  json_object_set_new(r, "fanout", fan);
  json_object_set_new(views, "after_fanout", frontend_views(json_object_get(fan, "frontend_stats_after")));
  json_object_set_new(r, "targets", targets(fan));
  if (b->failure[0] != '\0')
    return;
  json_object_set_new(r, "verify_after_fanout", verify(b));
}

static json_t *run_round(bench_t *b, size_t n, int mode) {
  json_t *r = json_object();
  json_object_set_new(r, "proxies", json_integer((json_int_t)n));
  json_object_set_new(r, "mode", json_string(mode_names[mode]));
  b->failure[0] = '\0';
  b->started = 0;
  b->t_all_connected = 0;
  b->ncommits = 0;
  memset(&b->engine, 0, sizeof(b->engine));
  memset(b->xds, 0, sizeof(b->xds));
  memset(&b->xds_restarted, 0, sizeof(b->xds_restarted));
  memset(b->fe, 0, sizeof(b->fe));
  if (prepare_round(b) != 0) {
    set_failure(b, "cannot prepare a work directory with the mesh");
  } else if (bring_up(b, r)) {
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", b->port, &addr);
    if (sc_xc_client_init(&b->client, &b->loop, &addr, n, mode == MODE_DELTA) != 0) {
      set_failure(b, "cannot set up the client");
    } else {
      b->client_open = true;
      for (size_t i = 0; i < n; i++)
        identity(&b->mesh, i, &b->client.proxies[i].who);
      measure(b, n, r);
      json_object_set_new(r, "client", client_report(&b->client));
    }
  }
  teardown(b, r);
  bool keep = b->o->keep || b->failure[0] != '\0';
  json_object_set_new(r, "error", b->failure[0] ? json_string(b->failure) : json_null());
  json_object_set_new(r, "work_dir", keep ? json_string(b->work) : json_null());
  if (!keep && b->work[0] != '\0') {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->work);
    if (system(cmd) != 0)
      fprintf(stderr, "bench_xds: cannot remove %s\n", b->work);
  }
  return r;
}

/* ---- Soak --------------------------------------------------------------------------- */

#define SOAK_TICK_MS 10
#define SOAK_SAMPLE_MS 2000
#define SOAK_EVENT_BYTES 2048 /* room per churn event (the longest is under 1 kB) */
#define SOAK_CHECK_MS 250     /* how often convergence is checked */
#define SOAK_QUIET_MS 500     /* converged: every stream matches, nothing received for this long */
/* The RSS bound over the second half of the run, per process: at the end (converged)
 * at most RSS_RATIO times what it was at the middle of the churn, plus RSS_SLACK_KB. */
#define RSS_RATIO 1.25
#define RSS_SLACK_KB 16384

/* Processes whose memory is sampled: the engine and the frontends serving (the slot of
 * the frontend killed is taken by the one started in its place). */
enum { PROC_ENGINE = 0, PROC_XDS0, PROC_XDS1, NPROCS };

typedef struct {
  double t_s; /* since the churn began */
  long rss_kb[NPROCS], anon_kb[NPROCS];
} rss_sample_t;

typedef struct {
  bench_t *b;
  sc_churn_t churn;
  uv_timer_t tick, sampler;
  uint64_t t0, t_end;     /* the churn's start and end, CLOCK_MONOTONIC */
  uint64_t t0_real, t_end_real; /* the same, CLOCK_REALTIME (as commit times) */
  bool churning;
  uint64_t written, bytes, write_errors;
  size_t max_queue_bytes, max_burst;
  rss_sample_t *samples;
  size_t nsamples, samples_cap;
  uint64_t t_kill, t_recovered; /* the restart: the kill, every proxy served again */
  uint64_t drops_at_kill, victim_streams;
  double *served_ms;            /* see recovered_t */
} soak_t;

/* A write of churn events to the engine's watch socket. */
typedef struct {
  uv_write_t req;
  soak_t *s;
  char data[];
} watch_write_t;

static void on_watch_written(uv_write_t *req, int status) {
  watch_write_t *w = (watch_write_t *)req;
  if (status < 0)
    w->s->write_errors++;
  free(w);
}

/* Writes the next n churn events in one write (queued when the engine reads slower). */
static void write_churn(soak_t *s, uint64_t n) {
  size_t cap = (size_t)n * SOAK_EVENT_BYTES, len = 0;
  watch_write_t *w = malloc(sizeof(*w) + cap);
  if (w == NULL) {
    s->write_errors++;
    return;
  }
  for (uint64_t i = 0; i < n; i++)
    len += sc_churn_next(&s->churn, w->data + len, cap - len);
  w->s = s;
  uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&s->b->watch_conn, &buf, 1, on_watch_written) != 0) {
    s->write_errors++;
    free(w);
    return;
  }
  s->written += n;
  s->bytes += len;
  s->max_burst = n > s->max_burst ? (size_t)n : s->max_burst;
  size_t queued = s->b->watch_conn.write_queue_size;
  s->max_queue_bytes = queued > s->max_queue_bytes ? queued : s->max_queue_bytes;
}

/* Every tick: the events due by now at the rate (a late tick catches up). */
static void on_soak_tick(uv_timer_t *t) {
  soak_t *s = t->data;
  if (!s->churning)
    return;
  uint64_t now = now_ns(CLOCK_MONOTONIC), until = now < s->t_end ? now : s->t_end;
  uint64_t due = (uint64_t)((double)(until - s->t0) / 1e9 * s->b->o->rate);
  if (due > s->written)
    write_churn(s, due - s->written);
  if (now >= s->t_end) {
    s->churning = false;
    s->t_end_real = now_ns(CLOCK_REALTIME);
    uv_timer_stop(t);
  }
}

static void take_rss_sample(soak_t *s) {
  if (s->nsamples == s->samples_cap) {
    size_t cap = s->samples_cap ? s->samples_cap * 2 : 64;
    rss_sample_t *v = realloc(s->samples, cap * sizeof(*v));
    if (v == NULL)
      return;
    s->samples = v;
    s->samples_cap = cap;
  }
  const child_t *procs[NPROCS] = {&s->b->engine, s->b->fe[0], s->b->fe[1]};
  rss_sample_t *x = &s->samples[s->nsamples++];
  x->t_s = ((double)now_ns(CLOCK_MONOTONIC) - (double)s->t0) / 1e9;
  for (int i = 0; i < NPROCS; i++) {
    bool up = procs[i] != NULL && procs[i]->running;
    x->rss_kb[i] = up ? proc_status_kb(procs[i]->proc.pid, "\nVmRSS:") : -1;
    x->anon_kb[i] = up ? proc_status_kb(procs[i]->proc.pid, "\nRssAnon:") : -1;
  }
}

static void on_soak_sample(uv_timer_t *t) {
  take_rss_sample(t->data);
}

static const char *const proc_names[NPROCS] = {"engine", "xds-0", "xds-1"};

/* Per process: at the start of the churn, its middle, peak and end, and the bound. */
static json_t *rss_report(const soak_t *s, double middle_s, double restart_s) {
  json_t *procs = json_object(), *series = json_array();
  bool ok = s->nsamples > 0;
  for (int i = 0; i < NPROCS; i++) {
    long start = -1, middle = -1, peak = -1, end = -1, anon_mid = -1, anon_end = -1;
    for (size_t k = 0; k < s->nsamples; k++) {
      const rss_sample_t *x = &s->samples[k];
      if (x->rss_kb[i] < 0)
        continue;
      start = start < 0 ? x->rss_kb[i] : start;
      if (middle < 0 && x->t_s >= middle_s) {
        middle = x->rss_kb[i];
        anon_mid = x->anon_kb[i];
      }
      peak = x->rss_kb[i] > peak ? x->rss_kb[i] : peak;
      end = x->rss_kb[i];
      anon_end = x->anon_kb[i];
    }
    long bound = middle >= 0 ? (long)(RSS_RATIO * (double)middle) + RSS_SLACK_KB : -1;
    bool within = middle >= 0 && end >= 0 && end <= bound;
    ok &= within;
    json_object_set_new(procs, proc_names[i],
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "start_kb", (json_int_t)start,
                                  "middle_kb", (json_int_t)middle, "peak_kb", (json_int_t)peak, "end_kb",
                                  (json_int_t)end, "bound_kb", (json_int_t)bound, "anon_middle_kb",
                                  (json_int_t)anon_mid, "anon_end_kb", (json_int_t)anon_end, "within", within));
  }
  for (size_t k = 0; k < s->nsamples; k++) /* [t, engine, xds-0, xds-1] RSS in kB */
    json_array_append_new(series, json_pack("[f, I, I, I]", round(s->samples[k].t_s * 10) / 10,
                                            (json_int_t)s->samples[k].rss_kb[0], (json_int_t)s->samples[k].rss_kb[1],
                                            (json_int_t)s->samples[k].rss_kb[2]));
  char rule[160];
  snprintf(rule, sizeof(rule), "end <= %.2f x middle + %d kB, per process (middle: first sample at %.0f s)",
           RSS_RATIO, RSS_SLACK_KB, middle_s);
  json_t *o = json_pack("{s:s, s:b, s:o, s:f, s:o}", "rule", rule, "ok", ok, "processes", procs, "sample_every_s",
                        SOAK_SAMPLE_MS / 1000.0, "series", series);
  if (restart_s >= 0)
    json_object_set_new(o, "xds-1_restarted_at_s", jnum(restart_s, 1));
  return o;
}

/* ---- Soak: restart ---- */

typedef struct {
  bench_t *b;
  uint64_t next_ns;
  double *served_ms; /* per proxy that reconnected: from its new connection to every type
                        received (to 50 ms), or -1 */
  uint64_t min_drops; /* the client's drops once every stream of the killed frontend ended
                         (a proxy not reading, see max_undecoded, sees it late) */
} recovered_t;

/* Every proxy has a stream again and has received every type on it (checked every
 * 50 ms). Being synced at some instant is not asked: under sustained churn a stream of
 * a loaded frontend is often a response behind; convergence is checked at the end. */
static bool recovered(void *arg) {
  recovered_t *r = arg;
  uint64_t now;
  if (!poll_due(&r->next_ns, 50, &now))
    return false;
  const sc_xc_client_t *c = &r->b->client;
  bool all = c->reconnect_pending == 0 && c->drops >= r->min_drops;
  for (size_t i = 0; i < c->n; i++) {
    const sc_xc_proxy_t *p = &c->proxies[i];
    bool served = p->state == SC_XC_OPEN;
    for (int t = 0; t < SC_XC_NTYPES && served; t++)
      served = p->types[t].received;
    if (served && p->generation > 0 && r->served_ms[i] < 0)
      r->served_ms[i] = ms_between(p->t_connect_ns, now);
    all &= served;
  }
  return all;
}

static bool listening(void *arg) {
  return log_contains(arg, "listening on");
}

static bool exited(void *arg) {
  return !((child_t *)arg)->running;
}

/* SIGKILL the second frontend under load and start another on the same port; its
 * clients reconnect to either (soak_phases waits for them while the churn goes on). */
static json_t *restart_frontend(soak_t *s) {
  bench_t *b = s->b;
  child_t *victim = b->fe[1];
  json_t *o = json_object();
  json_object_set_new(o, "at_s", jnum(((double)now_ns(CLOCK_MONOTONIC) - (double)s->t0) / 1e9, 1));
  json_t *stats = one_frontend_stats(b, victim);
  json_object_set_new(o, "stats_before_kill", stats);
  s->drops_at_kill = b->client.drops;
  s->victim_streams = (uint64_t)json_integer_value(json_object_get(stats, "streams"));
  victim->spawned = false; /* its death is wanted */
  uint64_t t_kill = now_ns(CLOCK_MONOTONIC);
  uv_process_kill(&victim->proc, SIGKILL);
  if (!run_until(b, exited, victim, 10000)) {
    set_failure(b, "the killed frontend did not exit");
    return o;
  }
  if (spawn_frontend(b, &b->xds_restarted, "xds-1-restarted") != 0)
    return o;
  b->fe[1] = &b->xds_restarted;
  if (!run_until(b, listening, &b->xds_restarted, 20000)) {
    set_failure(b, "the restarted frontend did not listen; see %s", b->xds_restarted.log);
    return o;
  }
  json_object_set_new(o, "listening_after_ms", jnum(ms_between(t_kill, now_ns(CLOCK_MONOTONIC)), 1));
  s->t_kill = t_kill;
  return o;
}

/* ---- Soak: the end of churn and convergence ---- */

typedef struct {
  bench_t *b;
  json_int_t namespaces;
  uint64_t next_ns;
  json_int_t head;
} sentinel_t;

/* Whether the engine published the sentinel Namespace (polled every 100 ms). */
static bool sentinel_published(void *arg) {
  sentinel_t *w = arg;
  if (!poll_due(&w->next_ns, 100, NULL))
    return false;
  json_t *info = dump_json(w->b, "info --json");
  json_int_t ns = json_integer_value(json_object_get(json_object_get(info, "objectsByKind"), "Namespace"));
  w->head = json_integer_value(json_object_get(info, "headVersion"));
  json_decref(info);
  return ns == w->namespaces;
}

/* After the churn: a Namespace nothing else adds, the last event; once the engine has
 * published it, it has published everything. Returns the final head version, or 0. */
static json_int_t finish_churn(soak_t *s, json_t *o) {
  bench_t *b = s->b;
  json_t *info = dump_json(b, "info --json");
  sentinel_t w = {b, json_integer_value(json_object_get(json_object_get(info, "objectsByKind"), "Namespace")) + 1, 0,
                  0};
  json_decref(info);
  static const char line[] = "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
                             "\"metadata\":{\"name\":\"soak-end\"}}}\n";
  watch_write_t *ww = malloc(sizeof(*ww) + sizeof(line));
  if (ww == NULL)
    return 0;
  memcpy(ww->data, line, sizeof(line));
  ww->s = s;
  uv_buf_t buf = uv_buf_init(ww->data, (unsigned)(sizeof(line) - 1));
  uint64_t t = now_ns(CLOCK_MONOTONIC);
  if (uv_write(&ww->req, (uv_stream_t *)&b->watch_conn, &buf, 1, on_watch_written) != 0) {
    free(ww);
    set_failure(b, "cannot write the last event");
    return 0;
  }
  if (!run_until(b, sentinel_published, &w, 120000)) {
    set_failure(b, "the engine did not publish the churn's last event within 120 s");
    return 0;
  }
  json_object_set_new(o, "engine_published_last_event_after_ms", jnum(ms_between(t, now_ns(CLOCK_MONOTONIC)), 1));
  return w.head;
}

/* What scopecast-dump says each class of proxies gets, per type. */
typedef struct {
  bool have;
  expected_t t[SC_XC_NTYPES];
} class_expected_t;

/* For every class with streams, from its first proxy's identity. The loop runs a little
 * before each dump call, so that streams answer PINGs meanwhile. */
static class_expected_t *expectations(bench_t *b, size_t nclasses) {
  class_expected_t *ex = calloc(nclasses, sizeof(*ex));
  const sc_xc_client_t *c = &b->client;
  for (size_t i = 0; ex != NULL && i < c->n; i++) {
    const sc_xc_identity_t *w = &c->proxies[i].who;
    if (w->klass >= nclasses || ex[w->klass].have)
      continue;
    class_expected_t *e = &ex[w->klass];
    e->have = true;
    uv_run(&b->loop, UV_RUN_NOWAIT);
    json_t *res = dump_json(b, "resolve --namespace %s --label app=%s --label version=%s --json", w->namespace_,
                            w->app, w->version);
    const char *scope = json_string_value(json_object_get(res, "scope"));
    for (int t = 0; t < SC_XC_NTYPES; t++) {
      uv_run(&b->loop, UV_RUN_NOWAIT);
      expected_set(&e->t[t], scope ? dump_resources(b, scope, t, w) : NULL);
    }
    json_decref(res);
  }
  return ex;
}

static void free_expectations(class_expected_t *ex, size_t nclasses) {
  for (size_t k = 0; ex != NULL && k < nclasses; k++)
    for (int t = 0; t < SC_XC_NTYPES; t++)
      expected_clear(&ex[k].t[t]);
  free(ex);
}

/* Streams not synced or holding other than scopecast-dump says, with the first few
 * reasons appended to errs (when not NULL). */
static size_t stream_mismatches(const sc_xc_client_t *c, const class_expected_t *ex, json_t *errs) {
  size_t bad = 0;
  char why[768];
  for (size_t i = 0; i < c->n; i++) {
    const sc_xc_proxy_t *p = &c->proxies[i];
    int t = 0;
    if (p->state != SC_XC_OPEN || !p->synced)
      snprintf(why, sizeof(why), "not synced (state %d)", (int)p->state);
    else
      while (t < SC_XC_NTYPES && type_matches(p, t, &ex[p->who.klass].t[t], why, sizeof(why)))
        t++;
    if (t == SC_XC_NTYPES)
      continue;
    if (bad++ < 5 && errs != NULL)
      json_array_append_new(errs, json_sprintf("%s (%s) %s: %s", p->who.id, p->delta ? "delta" : "sotw",
                                               t < SC_XC_NTYPES ? sc_xds_types[t].name : "", why));
  }
  return bad;
}

typedef struct {
  bench_t *b;
  const class_expected_t *ex;
  uint64_t next_ns;
} converge_t;

/* Every stream holds what scopecast-dump says, and nothing came for a while. */
static bool converged(void *arg) {
  converge_t *v = arg;
  uint64_t now;
  if (!poll_due(&v->next_ns, SOAK_CHECK_MS, &now))
    return false;
  const sc_xc_client_t *c = &v->b->client;
  return c->queue_len == 0 && c->reconnect_pending == 0 && now - c->last_response_ns >= SOAK_QUIET_MS * 1000000ull &&
         stream_mismatches(c, v->ex, NULL) == 0;
}

/* Waits until every stream holds the final head's resources, then checks each. */
static json_t *converge(soak_t *s, json_int_t head, uint64_t t_last_event) {
  bench_t *b = s->b;
  size_t nclasses = 2 * (b->mesh.services + b->mesh.client_namespaces);
  uint64_t t_dump = now_ns(CLOCK_MONOTONIC);
  class_expected_t *ex = expectations(b, nclasses);
  double dump_ms = ms_between(t_dump, now_ns(CLOCK_MONOTONIC));
  size_t classes = 0;
  for (size_t k = 0; ex != NULL && k < nclasses; k++)
    classes += ex[k].have;
  converge_t v = {b, ex, 0};
  bool ok = ex != NULL && run_until(b, converged, &v, 60000 + 20.0 * (double)b->client.n);
  json_t *errs = json_array();
  size_t bad = ex != NULL ? stream_mismatches(&b->client, ex, errs) : b->client.n;
  free_expectations(ex, nclasses);
  /* Convergence is first checked once the dump's answers are in: after_last_event_ms is
   * at least the dump's time (dump_ms). */
  json_t *o = json_pack("{s:I, s:b, s:o, s:o, s:I, s:I, s:I, s:o}", "head_version", head, "converged",
                        ok && bad == 0, "after_last_event_ms",
                        ok ? jnum(ms_between(t_last_event, now_ns(CLOCK_MONOTONIC)), 1) : json_null(), "dump_ms",
                        jnum(dump_ms, 1), "classes",
                        (json_int_t)classes, "streams_checked", (json_int_t)b->client.n, "streams_mismatched",
                        (json_int_t)bad, "first_mismatches", errs);
  if (!ok || bad > 0)
    set_failure(b, "%zu of %zu streams do not hold head version %lld's resources", bad, b->client.n,
                (long long)head);
  return o;
}

/* ---- Soak: reports ---- */

/* Lines of a child's log that a sanitizer wrote. */
static json_int_t sanitizer_lines(const child_t *ch) {
  static const char *const markers[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"};
  json_int_t n = 0;
  for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
    json_t *l = log_lines_with(ch, markers[i], 0);
    n += json_integer_value(json_object_get(l, "count"));
    json_decref(l);
  }
  return n;
}

static json_t *soak_client(const sc_xc_client_t *c) {
  json_t *reasons = json_array();
  for (size_t i = 0; i < c->ndrop_reasons; i++)
    json_array_append_new(reasons, json_string(c->drop_reasons[i]));
  size_t delta = 0;
  for (size_t i = 0; i < c->n; i++)
    delta += c->proxies[i].delta;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return json_pack("{s:o, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:o, s:o}", "cpu_ms",
                   jnum(self_cpu_ms(), 0), "max_rss_kb", (json_int_t)ru.ru_maxrss, "max_undecoded_responses",
                   (json_int_t)c->max_queue_len,
                   "max_decode_wait_ms", jnum((double)c->max_queue_wait_ns / 1e6, 1), "read_pauses",
                   (json_int_t)c->read_pauses, "streams", (json_int_t)c->n,
                   "delta_streams", (json_int_t)delta, "drops", (json_int_t)c->drops, "reconnects",
                   (json_int_t)c->reconnects, "drop_reasons", reasons, "protocol_errors",
                   (json_int_t)c->protocol_errors, "requests", (json_int_t)c->requests, "acks", (json_int_t)c->acks,
                   "responses", per_type(c->responses_by_type), "first_errors", client_errors(c));
}

/* Each frontend's streams now, from its stats (-1 without). */
static json_t *streams_of(json_t *stats) {
  json_t *a = json_array(), *st;
  size_t i;
  json_array_foreach(stats, i, st) {
    json_t *v = json_object_get(st, "streams");
    json_array_append_new(a, json_integer(json_is_integer(v) ? json_integer_value(v) : -1));
  }
  return a;
}

static bool all_positive(json_t *a) {
  json_t *v;
  size_t i;
  json_array_foreach(a, i, v) if (json_integer_value(v) <= 0) return false;
  return json_array_size(a) > 0;
}

static json_t *churn_report(const soak_t *s) {
  const sc_churn_t *ch = &s->churn;
  json_t *kinds = json_object();
  for (int k = 0; k < SC_CHURN_NKINDS; k++)
    json_object_set_new(kinds, sc_churn_kind_name((sc_churn_kind_t)k), json_integer((json_int_t)ch->by_kind[k]));
  double secs = ((double)s->t_end - (double)s->t0) / 1e9;
  size_t commits = 0; /* the engine's, while the churn ran */
  for (size_t i = 0; i < s->b->ncommits; i++)
    commits += s->b->commits[i].commit_ns >= s->t0_real && s->b->commits[i].commit_ns <= s->t_end_real;
  return json_pack("{s:I, s:o, s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "events", (json_int_t)s->written,
                   "events_per_s", jnum((double)s->written / secs, 1), "commits", (json_int_t)commits,
                   "commits_per_s", jnum((double)commits / secs, 1), "by_kind", kinds, "added",
                   (json_int_t)ch->added, "modified", (json_int_t)ch->modified, "deleted", (json_int_t)ch->deleted,
                   "bytes", (json_int_t)s->bytes, "max_events_per_write", (json_int_t)s->max_burst,
                   "max_watch_queue_bytes", (json_int_t)s->max_queue_bytes, "write_errors",
                   (json_int_t)s->write_errors);
}

/* ---- Soak: the run ---- */

static void soak_start(soak_t *s) {
  bench_t *b = s->b;
  sc_churn_init(&s->churn, &b->mesh, b->o->seed);
  uv_timer_init(&b->loop, &s->tick);
  uv_timer_init(&b->loop, &s->sampler);
  s->tick.data = s->sampler.data = s;
  s->t0 = now_ns(CLOCK_MONOTONIC);
  s->t0_real = now_ns(CLOCK_REALTIME);
  s->t_end = s->t0 + (uint64_t)b->o->seconds * 1000000000ull;
  s->churning = true;
  b->client.max_queue_len = 0; /* from here on: the churn's */
  b->client.max_queue_wait_ns = 0;
  take_rss_sample(s);
  uv_timer_start(&s->tick, on_soak_tick, SOAK_TICK_MS, SOAK_TICK_MS);
  uv_timer_start(&s->sampler, on_soak_sample, SOAK_SAMPLE_MS, SOAK_SAMPLE_MS);
}

typedef struct {
  soak_t *s;
  recovered_t r;
} churn_wait_t;

/* The churn is over; meanwhile, after a restart, notes when every proxy is served again. */
static bool churn_over(void *arg) {
  churn_wait_t *w = arg;
  w->r.min_drops = w->s->drops_at_kill + w->s->victim_streams;
  if (w->s->t_kill != 0 && w->s->t_recovered == 0 && recovered(&w->r))
    w->s->t_recovered = now_ns(CLOCK_MONOTONIC);
  return !w->s->churning;
}

/* After the churn: waits for the restart's recovery if it is not there yet. */
static void restart_outcome(soak_t *s, json_t *rs, json_t *checks) {
  recovered_t r = {s->b, 0, s->served_ms, s->drops_at_kill + s->victim_streams};
  if (s->t_recovered == 0 && run_until(s->b, recovered, &r, 60000 + 10.0 * (double)s->b->client.n))
    s->t_recovered = now_ns(CLOCK_MONOTONIC);
  bool ok = s->t_recovered != 0;
  json_object_set_new(rs, "streams_dropped", json_integer((json_int_t)(s->b->client.drops - s->drops_at_kill)));
  json_object_set_new(rs, "streams_of_killed_frontend", json_integer((json_int_t)s->victim_streams));
  json_object_set_new(rs, "every_stream_served_again_after_ms", ok ? jnum(ms_between(s->t_kill, s->t_recovered), 1)
                                                                   : json_null());
  size_t n = 0;
  for (size_t i = 0; i < s->b->client.n; i++)
    if (s->served_ms[i] >= 0)
      s->served_ms[n++] = s->served_ms[i];
  /* Per stream, its new connection to CDS, EDS, LDS and RDS received on it. */
  json_object_set_new(rs, "reconnected_stream_served_ms", distribution(s->served_ms, n));
  json_object_set_new(checks, "restart_recovered", json_boolean(ok));
  if (!ok)
    set_failure(s->b, "after the frontend restart some proxies were not served again");
}

typedef struct {
  soak_t *s;
  double at_s;
} churn_at_t;

static bool churn_reached(void *arg) {
  churn_at_t *a = arg;
  return (double)now_ns(CLOCK_MONOTONIC) >= (double)a->s->t0 + a->at_s * 1e9;
}

/* Storm, churn (with the restart), the end of churn, convergence; fills r. */
static void soak_phases(soak_t *s, json_t *r, json_t *checks) {
  bench_t *b = s->b;
  sc_xc_client_t *c = &b->client;
  json_object_set_new(r, "storm", storm(b, c->n));
  json_object_set_new(checks, "storm_complete", json_boolean(b->failure[0] == '\0'));
  if (b->failure[0] != '\0')
    return;
  json_t *stats0 = frontend_stats(b), *streams = streams_of(stats0);
  json_object_set_new(r, "frontend_stats_after_storm", stats0);
  json_object_set_new(r, "streams_per_frontend_after_storm", streams);
  json_object_set_new(checks, "both_frontends_had_streams", json_boolean(all_positive(streams)));
  soak_start(s);
  double restart_s = -1, seconds = b->o->seconds;
  json_t *killed_stats = NULL, *rs = NULL;
  if (b->o->restart) {
    churn_at_t at = {s, seconds / 3};
    run_until(b, churn_reached, &at, seconds * 1000 + 10000);
    restart_s = ((double)now_ns(CLOCK_MONOTONIC) - (double)s->t0) / 1e9;
    rs = restart_frontend(s);
    killed_stats = json_incref(json_object_get(rs, "stats_before_kill"));
    json_object_set_new(r, "restart", rs);
  }
  churn_wait_t cw = {s, {b, 0, s->served_ms, 0}};
  if (b->failure[0] == '\0' && !run_until(b, churn_over, &cw, seconds * 1000 + 60000))
    set_failure(b, "the churn did not end");
  uint64_t t_last = now_ns(CLOCK_MONOTONIC);
  json_object_set_new(r, "client_during_churn",
                      json_pack("{s:I, s:o}", "max_undecoded_responses", (json_int_t)c->max_queue_len,
                                "max_decode_wait_ms", jnum((double)c->max_queue_wait_ns / 1e6, 1)));
  if (rs != NULL && b->failure[0] == '\0')
    restart_outcome(s, rs, checks);
  json_t *churn = churn_report(s);
  json_object_set_new(r, "churn", churn);
  json_object_set_new(checks, "churn_rate_sustained",
                      json_boolean(s->written >= (uint64_t)(0.95 * b->o->rate * seconds) && s->write_errors == 0));
  json_int_t head = b->failure[0] == '\0' ? finish_churn(s, churn) : 0;
  if (head > 0)
    json_object_set_new(r, "final", converge(s, head, t_last));
  json_object_set_new(checks, "every_stream_converged",
                      json_boolean(json_is_true(json_object_get(json_object_get(r, "final"), "converged"))));
  take_rss_sample(s);
  uv_timer_stop(&s->sampler);
  json_object_set_new(r, "rss", rss_report(s, seconds / 2, restart_s));
  json_object_set_new(checks, "rss_bounded",
                      json_boolean(json_is_true(json_object_get(json_object_get(r, "rss"), "ok"))));
  json_t *stats = frontend_stats(b);
  json_t *end_streams = streams_of(stats);
  json_object_set_new(r, "frontend_stats_end", stats);
  json_object_set_new(r, "streams_per_frontend_end", end_streams);
  json_object_set_new(checks, "both_frontends_have_streams_at_end", json_boolean(all_positive(end_streams)));
  bool heads = head > 0;
  json_t *st;
  size_t i;
  json_array_foreach(stats, i, st) heads &= json_integer_value(json_object_get(st, "head_version")) == head;
  json_object_set_new(checks, "frontends_at_final_head", json_boolean(heads));
  json_int_t nacks = stats_sum(stats, "nacks"), invalid = stats_sum(stats, "invalid_nodes");
  if (killed_stats != NULL) {
    nacks = json_is_integer(json_object_get(killed_stats, "nacks")) && nacks >= 0
                ? nacks + json_integer_value(json_object_get(killed_stats, "nacks"))
                : -1;
    json_decref(killed_stats);
  }
  json_object_set_new(r, "frontend_nacks", json_integer(nacks));
  json_object_set_new(r, "frontend_invalid_nodes", json_integer(invalid));
  json_object_set_new(checks, "no_nacks", json_boolean(nacks == 0));
  json_object_set_new(checks, "no_protocol_errors", json_boolean(c->protocol_errors == 0 && invalid == 0));
}

/* After teardown: exit statuses and sanitizer reports of every child. */
static void soak_exits(bench_t *b, json_t *r, json_t *checks) {
  bool clean = b->engine.exit_status == 0 && b->engine.term_signal == 0;
  json_t *exits = json_object_get(r, "frontend_exit"), *e;
  size_t i;
  json_array_foreach(exits, i, e) clean &= json_integer_value(json_object_get(e, "status")) == 0 &&
                                          json_integer_value(json_object_get(e, "signal")) == 0;
  json_object_set_new(checks, "clean_exit_on_sigterm", json_boolean(clean && json_array_size(exits) == NFRONTENDS));
  json_t *san = json_object();
  json_int_t total = 0;
  const child_t *all[] = {&b->engine, &b->xds[0], &b->xds[1], &b->xds_restarted};
  for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
    if (!all[k]->started)
      continue;
    json_int_t n = sanitizer_lines(all[k]);
    total += n;
    json_object_set_new(san, all[k]->name, json_integer(n));
  }
  json_object_set_new(r, "sanitizer_report_lines", san);
  json_object_set_new(checks, "no_sanitizer_reports", json_boolean(total == 0));
}

static json_t *run_soak(bench_t *b) {
  const opts_t *o = b->o;
  size_t n = o->proxies[0];
  json_t *r = json_object(), *checks = json_object();
  soak_t s = {.b = b};
  s.served_ms = malloc((n + 1) * sizeof(double));
  for (size_t i = 0; s.served_ms != NULL && i < n; i++)
    s.served_ms[i] = -1;
  b->failure[0] = '\0';
  if (s.served_ms == NULL)
    set_failure(b, "out of memory");
  if (b->failure[0] != '\0') {
  } else if (prepare_round(b) != 0) {
    set_failure(b, "cannot prepare a work directory with the mesh");
  } else if (bring_up(b, r)) {
    char data_mdb[PATH_MAX + 32];
    snprintf(data_mdb, sizeof(data_mdb), "%s/data.mdb", b->snap);
    json_int_t mdb0 = (json_int_t)file_size(data_mdb);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", b->port, &addr);
    if (sc_xc_client_init(&b->client, &b->loop, &addr, n, o->modes[MODE_DELTA] && !o->modes[MODE_SOTW]) != 0) {
      set_failure(b, "cannot set up the client");
    } else {
      b->client_open = true;
      sc_xc_client_set_reconnect(&b->client, o->reconnect_ms);
      /* Answers before time stamps: a backlog of undecoded responses would delay every
       * ACK and request (seconds at thousands of streams) and measure the client. */
      b->client.drain_busy_ns = 20000000ull;
      b->client.max_undecoded = 2;
      for (size_t i = 0; i < n; i++) {
        identity(&b->mesh, i, &b->client.proxies[i].who);
        /* Both modes: every other proxy is Delta (classes hold both: their count is odd). */
        if (o->modes[MODE_DELTA] && o->modes[MODE_SOTW])
          b->client.proxies[i].delta = i % 2 == 1;
      }
      soak_phases(&s, r, checks);
      json_object_set_new(r, "client", soak_client(&b->client));
      json_t *info = dump_json(b, "info --json");
      json_object_set_new(r, "engine", json_pack("{s:O?, s:O?, s:O?, s:O?}", "objects",
                                                 json_object_get(info, "objects"), "rejected",
                                                 json_object_get(info, "rejected"), "skipped",
                                                 json_object_get(info, "skipped"), "head_version",
                                                 json_object_get(info, "headVersion")));
      json_object_set_new(checks, "engine_rejected_nothing",
                          json_boolean(json_integer_value(json_object_get(info, "rejected")) == 0 &&
                                       json_integer_value(json_object_get(info, "skipped")) == 0 &&
                                       json_object_get(info, "rejected") != NULL));
      json_decref(info);
      json_object_set_new(r, "snapshot_bytes", json_pack("{s:I, s:I}", "start", mdb0, "end",
                                                         (json_int_t)file_size(data_mdb)));
    }
  }
  if (s.t0 != 0) {
    uv_close((uv_handle_t *)&s.tick, NULL);
    uv_close((uv_handle_t *)&s.sampler, NULL);
  }
  teardown(b, r);
  soak_exits(b, r, checks);
  free(s.samples);
  free(s.served_ms);
  bool ok = b->failure[0] == '\0';
  const char *key;
  json_t *v;
  json_object_foreach(checks, key, v) ok &= json_is_true(v);
  json_object_set_new(r, "checks", checks);
  json_object_set_new(r, "ok", json_boolean(ok));
  json_object_set_new(r, "error", b->failure[0] ? json_string(b->failure) : json_null());
  bool keep = o->keep || !ok;
  json_object_set_new(r, "work_dir", keep ? json_string(b->work) : json_null());
  if (!keep && b->work[0] != '\0') {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->work);
    if (system(cmd) != 0)
      fprintf(stderr, "bench_xds: cannot remove %s\n", b->work);
  }
  if (!ok && b->failure[0] == '\0')
    set_failure(b, "a soak check failed");
  return r;
}

/* ---- main ------------------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr, "usage: bench_xds [quick] [proxies=N[,N...]] [events=E] [mesh=S|M] [window=W] [verify=K]\n"
                  "                 [watch=file|unix] [delta=1] [modes=sotw,delta] [scopecast=PATH]\n"
                  "                 [xds_log=LEVEL] [keep=1]\n"
                  "       bench_xds soak [seconds=S] [rate=R] [proxies=N] [seed=K] [restart=0|1] [batch_ms=B]\n"
                  "                 [reconnect_ms=M] [mesh=S|M] [window=W] [delta=1 | modes=sotw,delta]\n"
                  "                 [scopecast=PATH] [xds_log=LEVEL] [keep=1]\n");
}

/* The build directory: the parent of the directory holding this program. */
static void default_bindir(char *out, size_t len) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  self[n > 0 ? n : 0] = '\0';
  for (int up = 0; up < 2; up++) {
    char *slash = strrchr(self, '/');
    if (slash != NULL)
      *slash = '\0';
  }
  snprintf(out, len, "%s", self);
}

static int parse_proxies(const char *list, opts_t *o) {
  o->rounds = 0;
  for (const char *p = list; *p != '\0' && o->rounds < MAX_ROUNDS;) {
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p || v == 0)
      return -1;
    o->proxies[o->rounds++] = v;
    p = *end == ',' ? end + 1 : end;
    if (*end != ',' && *end != '\0')
      return -1;
  }
  return o->rounds ? 0 : -1;
}

/* modes=sotw, modes=delta or modes=sotw,delta (either order). */
static int parse_modes(const char *list, opts_t *o) {
  memset(o->modes, 0, sizeof(o->modes));
  for (const char *p = list; *p != '\0';) {
    size_t len = strcspn(p, ",");
    int m = 0;
    while (m < NMODES && !(strlen(mode_names[m]) == len && strncmp(p, mode_names[m], len) == 0))
      m++;
    if (m == NMODES)
      return -1;
    o->modes[m] = true;
    p += len + (p[len] == ',');
  }
  return o->modes[MODE_SOTW] || o->modes[MODE_DELTA] ? 0 : -1;
}

/* Soak's defaults: 2,000 proxies of both modes, 60 s at 200 events/s with a restart. */
static void soak_defaults(opts_t *o) {
  o->soak = o->restart = o->watch_unix = true;
  o->proxies[0] = 2000;
  o->rounds = 1;
  o->modes[MODE_SOTW] = o->modes[MODE_DELTA] = true;
  o->seconds = 60;
  o->rate = 200;
  o->seed = 1;
  o->batch_ms = 1000; /* the engine's default */
  o->reconnect_ms = 500;
}

/* Soak's own options (seconds=, rate=, seed=, restart=, batch_ms=, reconnect_ms=):
 * 1 when a is one of them, -1 when its value is bad, 0 when it is none of them. */
static int parse_soak_arg(const char *a, const char *v, opts_t *o) {
  char *end;
  unsigned long long x = strtoull(v, &end, 10);
  bool num = *v != '\0' && *end == '\0';
  if (strncmp(a, "seconds=", 8) == 0 && num && x > 0)
    o->seconds = (unsigned)x;
  else if (strncmp(a, "rate=", 5) == 0 && num && x > 0)
    o->rate = (unsigned)x;
  else if (strncmp(a, "seed=", 5) == 0 && num)
    o->seed = x;
  else if (strncmp(a, "restart=", 8) == 0 && num && x <= 1)
    o->restart = x == 1;
  else if (strncmp(a, "batch_ms=", 9) == 0 && num && x > 0)
    o->batch_ms = (unsigned)x;
  else if (strncmp(a, "reconnect_ms=", 13) == 0 && num && x > 0)
    o->reconnect_ms = (unsigned)x;
  else
    return strncmp(a, "seconds=", 8) == 0 || strncmp(a, "rate=", 5) == 0 || strncmp(a, "seed=", 5) == 0 ||
                   strncmp(a, "restart=", 8) == 0 || strncmp(a, "batch_ms=", 9) == 0 ||
                   strncmp(a, "reconnect_ms=", 13) == 0
               ? -1
               : 0;
  return 1;
}

static int parse_args(int argc, char **argv, opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->proxies[0] = 1000;
  o->proxies[1] = 5000;
  o->rounds = 2;
  o->events = 20;
  o->verify = 40;
  o->mesh = 'S';
  o->modes[MODE_SOTW] = true;
  snprintf(o->xds_log, sizeof(o->xds_log), "info");
  default_bindir(o->bindir, sizeof(o->bindir));
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "soak") == 0)
      soak_defaults(o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *eq = strchr(a, '=');
    const char *v = eq ? eq + 1 : "";
    int soak_arg = o->soak ? parse_soak_arg(a, v, o) : 0;
    if (soak_arg != 0) {
      if (soak_arg < 0)
        return -1;
    } else if (strcmp(a, "soak") == 0) {
      /* its defaults are set above, whatever the order of the arguments */
    } else if (strcmp(a, "quick") == 0 && !o->soak) {
      o->quick = true;
      o->proxies[0] = 200;
      o->rounds = 1;
      o->events = 3;
      o->verify = 10;
    } else if (strncmp(a, "proxies=", 8) == 0) {
      if (parse_proxies(v, o) != 0)
        return -1;
    } else if (strncmp(a, "events=", 7) == 0) {
      o->events = (unsigned)strtoul(v, NULL, 10);
    } else if (strncmp(a, "window=", 7) == 0) {
      o->window = (unsigned)strtoul(v, NULL, 10);
    } else if (strncmp(a, "verify=", 7) == 0) {
      o->verify = (unsigned)strtoul(v, NULL, 10);
    } else if (strncmp(a, "mesh=", 5) == 0 && (strcmp(v, "S") == 0 || strcmp(v, "M") == 0)) {
      o->mesh = v[0];
    } else if (strncmp(a, "watch=", 6) == 0 && (strcmp(v, "file") == 0 || strcmp(v, "unix") == 0)) {
      o->watch_unix = strcmp(v, "unix") == 0;
    } else if (strncmp(a, "delta=", 6) == 0 && (strcmp(v, "0") == 0 || strcmp(v, "1") == 0)) {
      o->modes[MODE_SOTW] = v[0] == '0';
      o->modes[MODE_DELTA] = v[0] == '1';
    } else if (strncmp(a, "modes=", 6) == 0) {
      if (parse_modes(v, o) != 0)
        return -1;
    } else if (strncmp(a, "xds_log=", 8) == 0) {
      snprintf(o->xds_log, sizeof(o->xds_log), "%s", v);
    } else if (strncmp(a, "keep=", 5) == 0) {
      o->keep = strcmp(v, "0") != 0;
    } else if (strncmp(a, "scopecast=", 10) == 0) {
      snprintf(o->bindir, sizeof(o->bindir), "%s", v);
      char *slash = strrchr(o->bindir, '/');
      if (slash != NULL)
        *slash = '\0';
      else
        snprintf(o->bindir, sizeof(o->bindir), ".");
    } else {
      return -1;
    }
  }
  if (o->soak && (o->rounds != 1 || o->watch_unix == false))
    return -1; /* one number of proxies; events go to the unix socket */
  return 0;
}

/* Every proxy holds a socket here and one in a frontend, which inherit our limit. */
static rlim_t raise_nofile(size_t proxies) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  rlim_t want = (rlim_t)proxies + 1024;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

static json_t *params_json(const opts_t *o, const sc_meshgen_opts_t *m, rlim_t nofile) {
  json_t *proxies = json_array();
  for (size_t i = 0; i < o->rounds; i++)
    json_array_append_new(proxies, json_integer((json_int_t)o->proxies[i]));
  json_t *mesh = json_pack("{s:s#, s:i, s:i, s:i, s:i, s:i, s:i}", "size", &o->mesh, (size_t)1, "services",
                           (int)m->services, "namespaces", (int)m->namespaces, "sidecars", (int)m->sidecars,
                           "virtual_services", (int)m->virtual_services, "destination_rules",
                           (int)m->destination_rules, "client_namespaces", (int)m->client_namespaces);
  /* "sotw", "delta", or "sotw,delta" when a round runs in both (each run says its own). */
  const char *mode = o->modes[MODE_SOTW] && o->modes[MODE_DELTA] ? "sotw,delta"
                     : o->modes[MODE_DELTA]                      ? "delta"
                                                                 : "sotw";
  return json_pack("{s:b, s:s, s:o, s:i, s:o, s:i, s:i, s:s, s:i, s:s, s:I}", "quick", o->quick, "mode", mode,
                   "proxies", proxies, "events", (int)o->events, "mesh", mesh, "frontends", NFRONTENDS,
                   "connect_window", (int)o->window, "watch", o->watch_unix ? "unix" : "file", "verify_classes",
                   (int)o->verify, "event", "ADDED Service istio-system/fanout-K port 80 (imported by every scope)",
                   "nofile_limit", (json_int_t)nofile);
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static json_t *soak_params(const opts_t *o, const sc_meshgen_opts_t *m, rlim_t nofile) {
  const char *mode = o->modes[MODE_SOTW] && o->modes[MODE_DELTA] ? "sotw,delta (every other proxy Delta)"
                     : o->modes[MODE_DELTA]                      ? "delta"
                                                                 : "sotw";
  return json_pack("{s:I, s:s, s:i, s:i, s:I, s:b, s:i, s:i, s:{s:s#, s:i, s:i, s:i}, s:i, s:i, s:I}", "proxies",
                   (json_int_t)o->proxies[0], "mode", mode, "seconds", (int)o->seconds, "rate", (int)o->rate,
                   "seed", (json_int_t)o->seed, "restart", o->restart, "batch_max_ms", (int)o->batch_ms,
                   "reconnect_ms", (int)o->reconnect_ms, "mesh", "size", &o->mesh, (size_t)1, "services",
                   (int)m->services, "namespaces", (int)m->namespaces, "client_namespaces",
                   (int)m->client_namespaces, "frontends", NFRONTENDS, "connect_window", (int)o->window,
                   "nofile_limit", (json_int_t)nofile);
}

/* bench_xds soak: one JSON object; exit status 0 when every check passed. */
static int soak_main(bench_t *b, rlim_t nofile) {
  const opts_t *o = b->o;
  fprintf(stderr, "bench_xds: soak with %zu proxies, %u s at %u events/s%s\n", o->proxies[0], o->seconds, o->rate,
          o->restart ? ", a frontend restarted" : "");
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  json_t *root = json_pack("{s:s, s:i, s:o}", "bench", "xds_soak", "nproc", (int)sysconf(_SC_NPROCESSORS_ONLN),
                           "params", soak_params(o, &b->mesh, nofile));
  json_object_update_new(root, run_soak(b));
  json_object_set_new(root, "wall_s", jnum(((double)now_ns(CLOCK_MONOTONIC) - (double)t0) / 1e9, 1));
  int failed = !json_is_true(json_object_get(root, "ok"));
  json_dumpf(root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(12));
  putchar('\n');
  json_decref(root);
  return failed;
}

int main(int argc, char **argv) {
  opts_t o;
  if (parse_args(argc, argv, &o) != 0) {
    usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  size_t most = 0;
  for (size_t i = 0; i < o.rounds; i++)
    most = o.proxies[i] > most ? o.proxies[i] : most;
  rlim_t nofile = raise_nofile(most);
  bench_t *b = calloc(1, sizeof(*b));
  b->o = &o;
  mesh_options(o.mesh, &b->mesh);
  uv_loop_init(&b->loop);
  uv_timer_init(&b->loop, &b->tick);
  uv_timer_start(&b->tick, on_tick, 10, 10);
  int failed = 0;
  if (o.soak) {
    failed = soak_main(b, nofile);
  } else {
    json_t *root = json_pack("{s:s, s:i, s:o}", "bench", "xds", "nproc", (int)sysconf(_SC_NPROCESSORS_ONLN),
                             "params", params_json(&o, &b->mesh, nofile));
    json_t *runs = json_array();
    for (size_t i = 0; i < o.rounds; i++)
      for (int m = 0; m < NMODES; m++) {
        if (!o.modes[m])
          continue;
        fprintf(stderr, "bench_xds: round with %zu proxies (%s)\n", o.proxies[i], mode_names[m]);
        json_array_append_new(runs, run_round(b, o.proxies[i], m));
        failed |= b->failure[0] != '\0';
      }
    json_object_set_new(root, "runs", runs);
    json_dumpf(root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(12));
    putchar('\n');
    json_decref(root);
  }
  uv_walk(&b->loop, close_any, NULL);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  uv_loop_close(&b->loop);
  free(b->commits);
  free(b);
  return failed;
}
