/* scopecast-dump: reads a snapshot read-only (safe while the engine writes) and prints
 * it for people (aligned text) or for scripts (--json). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scopecast/snapshot.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: scopecast-dump --snapshot DIR [--json] COMMAND\n"
          "\n"
          "Prints what a scopecast engine published. Opens the snapshot read-only, with one\n"
          "short read transaction per command, so it is safe to run while the engine writes.\n"
          "\n"
          "Options:\n"
          "  --snapshot DIR   the snapshot directory given to the engine; required\n"
          "  --json           print JSON instead of aligned text\n"
          "  -h, --help       this text\n"
          "\n"
          "Commands:\n"
          "  info             the meta record: format version, head version, engine instance\n"
          "                   id, time of the last publish, accepted objects (in total and by\n"
          "                   kind), scopes, and the engine run's rejected/skipped counters.\n"
          "                   JSON: {\"formatVersion\", \"headVersion\", \"instanceId\",\n"
          "                   \"lastPublish\", \"lastPublishMs\", \"objects\", \"objectsByKind\",\n"
          "                   \"scopes\", \"rejected\", \"skipped\"}\n"
          "\n"
          "Exit status: 0 ok, 1 the snapshot cannot be read, 2 usage.\n");
}

static void format_time(uint64_t ms, char *buf, size_t len) {
  time_t sec = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  char base[32];
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%03uZ", base, (unsigned)(ms % 1000));
}

static int print_json(json_t *v) {
  char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(v);
  if (text == NULL) {
    fprintf(stderr, "scopecast-dump: out of memory\n");
    return 1;
  }
  printf("%s\n", text);
  free(text);
  return 0;
}

static int cmd_info(sc_snapshot_reader_t *r, bool json) {
  sc_snapshot_meta_t m;
  int rc = sc_snapshot_read_meta(r, &m);
  if (rc != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    return 1;
  }
  char when[40], id[20];
  format_time(m.last_publish_ms, when, sizeof(when));
  snprintf(id, sizeof(id), "%016" PRIx64, m.instance_id);
  if (json) {
    json_t *by_kind = json_object();
    for (int k = 0; k < SC_KIND__COUNT; k++)
      json_object_set_new(by_kind, sc_kind_name((sc_kind_t)k),
                          json_integer((json_int_t)m.objects_by_kind[k]));
    json_t *o = json_object();
    json_object_set_new(o, "formatVersion", json_integer(m.format_version));
    json_object_set_new(o, "headVersion", json_integer((json_int_t)m.head_version));
    json_object_set_new(o, "instanceId", json_string(id));
    json_object_set_new(o, "lastPublish", json_string(when));
    json_object_set_new(o, "lastPublishMs", json_integer((json_int_t)m.last_publish_ms));
    json_object_set_new(o, "objects", json_integer((json_int_t)m.objects_total));
    json_object_set_new(o, "objectsByKind", by_kind);
    json_object_set_new(o, "scopes", json_integer((json_int_t)m.scopes));
    json_object_set_new(o, "rejected", json_integer((json_int_t)m.rejected_total));
    json_object_set_new(o, "skipped", json_integer((json_int_t)m.skipped_total));
    return print_json(o);
  }
  printf("%-18s %u\n", "format version", m.format_version);
  printf("%-18s %" PRIu64 "\n", "head version", m.head_version);
  printf("%-18s %s\n", "instance id", id);
  printf("%-18s %s\n", "last publish", when);
  printf("%-18s %" PRIu64 "\n", "objects", m.objects_total);
  for (int k = 0; k < SC_KIND__COUNT; k++)
    printf("  %-16s %" PRIu64 "\n", sc_kind_name((sc_kind_t)k), m.objects_by_kind[k]);
  printf("%-18s %" PRIu64 "\n", "scopes", m.scopes);
  printf("%-18s %" PRIu64 "\n", "rejected", m.rejected_total);
  printf("%-18s %" PRIu64 "\n", "skipped", m.skipped_total);
  return 0;
}

int main(int argc, char **argv) {
  static const struct option long_opts[] = {{"snapshot", required_argument, NULL, 's'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
  const char *dir = NULL;
  bool json = false;
  int c;
  /* "+" stops at the command, so each command can take its own options later. */
  while ((c = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
    switch (c) {
    case 's': dir = optarg; break;
    case 'j': json = true; break;
    case 'h': usage(stdout); return 0;
    default: fprintf(stderr, "Try 'scopecast-dump --help'.\n"); return 2;
    }
  }
  const char *cmd = optind < argc ? argv[optind++] : NULL;
  /* Allow --json after the command too. */
  for (int i = optind; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else {
      fprintf(stderr, "scopecast-dump: unexpected argument \"%s\"\nTry 'scopecast-dump --help'.\n",
              argv[i]);
      return 2;
    }
  }
  if (dir == NULL || cmd == NULL) {
    fprintf(stderr, "scopecast-dump: %s\nTry 'scopecast-dump --help'.\n",
            dir == NULL ? "--snapshot DIR is required" : "a command is required");
    return 2;
  }
  if (strcmp(cmd, "info") != 0) {
    fprintf(stderr, "scopecast-dump: unknown command \"%s\"\nTry 'scopecast-dump --help'.\n", cmd);
    return 2;
  }
  sc_snapshot_reader_t *r;
  char err[512];
  if (sc_snapshot_reader_open(dir, &r, err, sizeof(err)) != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", err);
    return 1;
  }
  int status = cmd_info(r, json);
  sc_snapshot_reader_close(r);
  return status;
}
