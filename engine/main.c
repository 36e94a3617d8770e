/* scopecast: the engine daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/log.h"
#include "publish/notify.h"
#include "scopecast/engine.h"
#include "scopecast/error.h"
#include "scopecast/snapshot.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static void usage(FILE *out) {
  fprintf(out,
          "Usage: scopecast --snapshot DIR [options]\n"
          "\n"
          "Ingests Kubernetes and Istio config (Service, EndpointSlice, Namespace, Pod,\n"
          "ServiceEntry, VirtualService, DestinationRule, Sidecar, mesh config), keeps it in\n"
          "a typed store and publishes it into an LMDB snapshot, one write transaction per\n"
          "batch of events.\n"
          "\n"
          "Inputs:\n"
          "  --snapshot DIR           snapshot directory (created if missing); required\n"
          "  --config-dir DIR         load every .yaml/.yml/.json manifest in DIR, then follow\n"
          "                           it: added/changed/removed files become ADDED/MODIFIED/\n"
          "                           DELETED events (repeatable)\n"
          "  --watch SRC              a stream of Kubernetes watch events (repeatable):\n"
          "                           -            standard input\n"
          "                           file:PATH    a file, followed for appended events\n"
          "                           unix:PATH    a unix socket (reconnects with backoff)\n"
          "                           tcp:HOST:PORT a TCP address (reconnects with backoff)\n"
          "                           One JSON event per line or concatenated pretty-printed\n"
          "                           events; after a malformed event reading resumes at the\n"
          "                           next line that starts with '{'.\n"
          "  --mesh-config FILE       MeshConfig YAML, read at start; without it the istio\n"
          "                           ConfigMap's 'mesh' key in the system namespace is used\n"
          "                           (and followed), else Istio's defaults\n"
          "  --default-namespace NS   namespace for objects that name none (default: default)\n"
          "  --system-namespace NS    where the istio ConfigMap lives (default: istio-system)\n"
          "  --domain-suffix S        cluster DNS suffix (default: cluster.local)\n"
          "\n"
          "Batching (a batch is one snapshot transaction):\n"
          "  --batch-quiet-ms N       close a batch after N ms without events (default 50)\n"
          "  --batch-max-ms N         close a batch N ms after its first event (default 1000)\n"
          "  --batch-max-events N     close a batch at N events (default 10000; 1 makes every\n"
          "                           event its own batch)\n"
          "  --batch-max-bytes N      close a batch when its events hold N bytes of memory\n"
          "                           (default 67108864)\n"
          "  --once                   read every input to its end, publish, exit 0 (also when\n"
          "                           objects were rejected; non-zero only when an input is\n"
          "                           unreadable or the snapshot cannot be written); needs at\n"
          "                           least one --config-dir, --watch or --mesh-config\n"
          "  --strict                 with --once: exit 3 when any object was rejected (the\n"
          "                           accepted ones are still published): a CI gate\n"
          "\n"
          "Initial sync (no proxy is ever served a partial mesh):\n"
          "  Nothing is published until every input has delivered its initial state: a\n"
          "  config dir its first scan, the mesh file its content, a file: source its size at\n"
          "  start, a stream (-, unix:, tcp:) a BOOKMARK event whose\n"
          "  metadata.annotations[\"k8s.io/initial-events-end\"] is \"true\" (what the\n"
          "  Kubernetes API sends after a watch's initial events) or its end. A snapshot an\n"
          "  earlier engine left is served meanwhile.\n"
          "  --sync-timeout-ms N       publish anyway N ms after start, with a warning naming\n"
          "                           each input not yet synced (default 30000; 0: at once)\n"
          "\n"
          "Limits (no input can make the engine allocate without bound):\n"
          "  --max-object-bytes N     largest watch event (default 4194304)\n"
          "  --max-file-bytes N       largest manifest file (default 268435456)\n"
          "  --max-depth N            deepest nesting in one document (default 64)\n"
          "  --reconnect-max-ms N     cap of the socket reconnect backoff (default 5000)\n"
          "  --rescan-ms N            also rescan config dirs every N ms; 0 relies on inotify\n"
          "                           only (default 5000)\n"
          "  Back-pressure: a batch is applied and published as soon as it reaches\n"
          "  --batch-max-events or --batch-max-bytes, before anything more is read from any\n"
          "  source, so a watch stream or socket that sends faster than the engine applies\n"
          "  waits in its pipe or socket buffer. Held meanwhile: one batch (under\n"
          "  --batch-max-bytes plus one event) and, per source, one partial event (under\n"
          "  --max-object-bytes) or the manifest file being read (under --max-file-bytes).\n"
          "\n"
          "Snapshot:\n"
          "  --snapshot-map-size N    initial LMDB map size in bytes (default 67108864); the\n"
          "                           map doubles whenever it is full\n"
          "  --snapshot-max-size N    largest map size in bytes (default 68719476736)\n"
          "  --history N              keep what the last N head versions replaced, so that\n"
          "                           `scopecast-dump resources ID --version V` and `diff`\n"
          "                           can put a scope together as it was (default 16; 0: none)\n"
          "  --no-sync                do not fsync each commit (faster, not crash-durable)\n"
          "\n"
          "Commit notifications (for the xDS frontends; snapshot/FORMAT.md):\n"
          "  --notify PATH            tell frontends about each commit on the unix socket PATH\n"
          "                           (default SNAPSHOT_DIR/" SC_NOTIFY_SOCKET_NAME "; 'none': no socket): every\n"
          "                           subscriber gets a 16-byte notice (head version, then commit\n"
          "                           time in ns since the epoch, both u64 big-endian) on connect\n"
          "                           and after each commit. One that does not read misses notices\n"
          "                           (the latest wins); at most " STR(SC_NOTIFY_MAX_SUBSCRIBERS) " subscribers (fixed), more\n"
          "                           are refused. A socket left by a dead engine is replaced; when\n"
          "                           PATH cannot be used the engine logs a warning and runs\n"
          "                           without notifications. The socket is removed at exit.\n"
          "\n"
          "Metrics and health (HTTP/1.1, GET and HEAD; other methods 405, other paths 404):\n"
          "  --http HOST:PORT         serve on HOST:PORT or [IPV6]:PORT (port 0: any free one;\n"
          "                           the log says which); a port in use is a fatal error:\n"
          "                           /metrics  Prometheus text format 0.0.4: scopecast_engine_*\n"
          "                                     (head_version, events_total, batches_total,\n"
          "                                     rejected_total{kind}, skipped_total,\n"
          "                                     warnings_total,\n"
          "                                     publish_failures_total, scopes, objects{kind},\n"
          "                                     last_publish_timestamp_seconds,\n"
          "                                     batch_duration_seconds histogram, ...)\n"
          "                           /healthz  200 while the engine runs\n"
          "                           /ready    200 once it has published since it started,\n"
          "                                     503 before\n"
          "\n"
          "Other:\n"
          "  --log-level LEVEL        debug, info, warning or error (default info); logs go to\n"
          "                           stderr, one line each\n"
          "  --log-format FORMAT      text (default) or json: one object per line with time,\n"
          "                           level, program, pid, message (and for a rejection: source,\n"
          "                           line, column, kind, namespace, name, field, reason)\n"
          "  --version                print the version and exit\n"
          "  -h, --help               this text\n"
          "\n"
          "Rejected objects are logged with source, line, kind, namespace/name, field and\n"
          "reason; the last accepted version of the object stays in force.\n"
          "\n"
          "Signals: SIGINT/SIGTERM publish the current batch and exit 0. SIGHUP rescans the\n"
          "config directories and reads the mesh config file again (a file that no longer\n"
          "reads keeps what is in force).\n"
          "\n"
          "One engine per snapshot directory: it holds DIR/" SC_SNAPSHOT_LOCK_NAME " locked for\n"
          "its life; another engine on DIR exits 1 at once, naming the holder's pid.\n"
          "\n"
          "Exit status: 0 ok, 1 fatal error (another engine holds the snapshot, an input\n"
          "unreadable in --once, the snapshot unwritable), 2 usage, 3 --strict and an object\n"
          "was rejected.\n");
}

static int parse_u64(const char *opt, const char *arg, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-') {
    fprintf(stderr, "scopecast: %s: \"%s\" is not a non-negative integer\n", opt, arg);
    return -1;
  }
  *out = v;
  return 0;
}

enum {
  OPT_SNAPSHOT = 256, OPT_CONFIG_DIR, OPT_WATCH, OPT_MESH, OPT_DEFAULT_NS, OPT_SYSTEM_NS,
  OPT_DOMAIN, OPT_QUIET, OPT_MAX_MS, OPT_MAX_EVENTS, OPT_ONCE, OPT_MAX_OBJECT, OPT_MAX_FILE,
  OPT_MAX_DEPTH, OPT_RECONNECT, OPT_RESCAN, OPT_MAP_SIZE, OPT_MAX_SIZE, OPT_NO_SYNC,
  OPT_LOG_LEVEL, OPT_HISTORY, OPT_NOTIFY, OPT_MAX_BYTES, OPT_STRICT, OPT_SYNC_TIMEOUT,
  OPT_LOG_FORMAT, OPT_VERSION, OPT_HTTP
};

static void close_left_over(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

int main(int argc, char **argv) {
  static const struct option long_opts[] = {
      {"snapshot", required_argument, NULL, OPT_SNAPSHOT},
      {"config-dir", required_argument, NULL, OPT_CONFIG_DIR},
      {"watch", required_argument, NULL, OPT_WATCH},
      {"mesh-config", required_argument, NULL, OPT_MESH},
      {"default-namespace", required_argument, NULL, OPT_DEFAULT_NS},
      {"system-namespace", required_argument, NULL, OPT_SYSTEM_NS},
      {"domain-suffix", required_argument, NULL, OPT_DOMAIN},
      {"batch-quiet-ms", required_argument, NULL, OPT_QUIET},
      {"batch-max-ms", required_argument, NULL, OPT_MAX_MS},
      {"batch-max-events", required_argument, NULL, OPT_MAX_EVENTS},
      {"batch-max-bytes", required_argument, NULL, OPT_MAX_BYTES},
      {"once", no_argument, NULL, OPT_ONCE},
      {"strict", no_argument, NULL, OPT_STRICT},
      {"sync-timeout-ms", required_argument, NULL, OPT_SYNC_TIMEOUT},
      {"max-object-bytes", required_argument, NULL, OPT_MAX_OBJECT},
      {"max-file-bytes", required_argument, NULL, OPT_MAX_FILE},
      {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
      {"reconnect-max-ms", required_argument, NULL, OPT_RECONNECT},
      {"rescan-ms", required_argument, NULL, OPT_RESCAN},
      {"snapshot-map-size", required_argument, NULL, OPT_MAP_SIZE},
      {"snapshot-max-size", required_argument, NULL, OPT_MAX_SIZE},
      {"no-sync", no_argument, NULL, OPT_NO_SYNC},
      {"history", required_argument, NULL, OPT_HISTORY},
      {"notify", required_argument, NULL, OPT_NOTIFY},
      {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
      {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
      {"version", no_argument, NULL, OPT_VERSION},
      {"http", required_argument, NULL, OPT_HTTP},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  sc_engine_opts_t o;
  sc_engine_opts_init(&o);
  const char **dirs = calloc((size_t)argc, sizeof(char *));
  const char **watches = calloc((size_t)argc, sizeof(char *));
  if (dirs == NULL || watches == NULL) {
    fprintf(stderr, "scopecast: out of memory\n");
    return 1;
  }
  uint64_t v;
  int c, bad = 0;
  while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_SNAPSHOT: o.snapshot_dir = optarg; break;
    case OPT_CONFIG_DIR: dirs[o.nconfig_dirs++] = optarg; break;
    case OPT_WATCH: watches[o.nwatch_sources++] = optarg; break;
    case OPT_MESH: o.mesh_config_file = optarg; break;
    case OPT_DEFAULT_NS: o.default_namespace = optarg; break;
    case OPT_SYSTEM_NS: o.system_namespace = optarg; break;
    case OPT_DOMAIN: o.domain_suffix = optarg; break;
    case OPT_ONCE: o.once = true; break;
    case OPT_STRICT: o.strict = true; break;
    case OPT_SYNC_TIMEOUT: bad |= parse_u64("--sync-timeout-ms", optarg, &o.sync_timeout_ms); break;
    case OPT_LOG_FORMAT: {
      int f = sc__log_format_parse(optarg);
      if (f < 0) {
        fprintf(stderr, "scopecast: --log-format: \"%s\" is not text or json\n", optarg);
        bad = 1;
      }
      o.log_json = f == SC_LOG_JSON;
      break;
    }
    case OPT_VERSION:
      printf("scopecast %s (snapshot format %u)\n", SC_VERSION, SC_SNAPSHOT_FORMAT_VERSION);
      free(dirs);
      free(watches);
      return 0;
    case OPT_NO_SYNC: o.snapshot_no_sync = true; break;
    case OPT_HTTP: o.http_listen = optarg; break;
    case OPT_NOTIFY:
      o.notify_disabled = strcmp(optarg, "none") == 0;
      o.notify_socket = o.notify_disabled ? NULL : optarg;
      break;
    case OPT_QUIET: bad |= parse_u64("--batch-quiet-ms", optarg, &o.batch_quiet_ms); break;
    case OPT_MAX_MS: bad |= parse_u64("--batch-max-ms", optarg, &o.batch_max_ms); break;
    case OPT_RECONNECT: bad |= parse_u64("--reconnect-max-ms", optarg, &o.reconnect_max_ms); break;
    case OPT_RESCAN: bad |= parse_u64("--rescan-ms", optarg, &o.rescan_ms); break;
    case OPT_MAX_EVENTS:
      bad |= parse_u64("--batch-max-events", optarg, &v);
      o.batch_max_events = (size_t)v;
      break;
    case OPT_MAX_BYTES:
      bad |= parse_u64("--batch-max-bytes", optarg, &v);
      o.batch_max_bytes = (size_t)v;
      break;
    case OPT_MAX_OBJECT:
      bad |= parse_u64("--max-object-bytes", optarg, &v);
      o.max_object_bytes = (size_t)v;
      break;
    case OPT_MAX_FILE:
      bad |= parse_u64("--max-file-bytes", optarg, &v);
      o.max_file_bytes = (size_t)v;
      break;
    case OPT_MAX_DEPTH:
      bad |= parse_u64("--max-depth", optarg, &v);
      o.max_depth = (unsigned)(v > 1024 ? 1024 : v);
      break;
    case OPT_HISTORY:
      bad |= parse_u64("--history", optarg, &v);
      o.history_versions = (uint32_t)(v > 65536 ? 65536 : v);
      break;
    case OPT_MAP_SIZE:
      bad |= parse_u64("--snapshot-map-size", optarg, &v);
      o.snapshot_map_size = (size_t)v;
      break;
    case OPT_MAX_SIZE:
      bad |= parse_u64("--snapshot-max-size", optarg, &v);
      o.snapshot_max_map_size = (size_t)v;
      break;
    case OPT_LOG_LEVEL: {
      static const char *const levels[] = {"debug", "info", "warning", "error"};
      int found = -1;
      for (int i = 0; i < 4; i++)
        if (strcmp(optarg, levels[i]) == 0)
          found = i;
      if (found < 0) {
        fprintf(stderr, "scopecast: --log-level: \"%s\" is not debug, info, warning or error\n",
                optarg);
        bad = 1;
      }
      o.log_level = found;
      break;
    }
    case 'h':
      usage(stdout);
      free(dirs);
      free(watches);
      return 0;
    default:
      bad = 1;
    }
  }
  if (!bad && o.snapshot_dir == NULL) {
    fprintf(stderr, "scopecast: --snapshot DIR is required\n");
    bad = 1;
  }
  if (!bad && optind < argc) {
    fprintf(stderr, "scopecast: unexpected argument \"%s\"\n", argv[optind]);
    bad = 1;
  }
  if (!bad && o.once && o.nconfig_dirs == 0 && o.nwatch_sources == 0 &&
      o.mesh_config_file == NULL) {
    fprintf(stderr, "scopecast: --once needs an input: --config-dir, --watch or --mesh-config\n");
    bad = 1;
  }
  if (!bad && o.strict && !o.once) {
    fprintf(stderr, "scopecast: --strict goes with --once\n");
    bad = 1;
  }
  if (!bad && (o.batch_max_events == 0 || o.batch_max_bytes == 0 || o.max_object_bytes == 0 ||
               o.max_depth == 0)) {
    fprintf(stderr, "scopecast: --batch-max-events, --batch-max-bytes, --max-object-bytes and "
                    "--max-depth must be > 0\n");
    bad = 1;
  }
  if (bad) {
    fprintf(stderr, "Try 'scopecast --help'.\n");
    free(dirs);
    free(watches);
    return 2;
  }
  o.config_dirs = dirs;
  o.watch_sources = watches;

  uv_loop_t loop;
  uv_loop_init(&loop);
  sc_engine_t *engine = NULL;
  char err[512] = "";
  int rc = sc_engine_new(&loop, &o, &engine, err, sizeof(err));
  int status = 1;
  if (rc != 0) {
    fprintf(stderr, "scopecast: cannot open snapshot: %s\n", err[0] ? err : sc_strerror(rc));
  } else {
    rc = sc_engine_start(engine);
    if (rc != 0)
      sc_engine_stop(engine);
    uv_run(&loop, UV_RUN_DEFAULT);
    status = rc != 0 ? 1 : sc_engine_exit_code(engine);
    sc_engine_del(engine);
  }
  uv_walk(&loop, close_left_over, NULL); /* none should be left; never leave one open */
  uv_run(&loop, UV_RUN_DEFAULT);          /* let any last close callbacks run */
  uv_loop_close(&loop);
  free(dirs);
  free(watches);
  return status;
}
