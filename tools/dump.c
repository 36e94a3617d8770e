/* scopecast-dump: reads a snapshot read-only (safe while the engine writes) and prints
 * it for people (aligned text) or for scripts (--json). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump_check.h"
#include "dump_common.h"
#include "dump_fetch.h"
#include "scopecast/reader.h"
#include "scopecast/snapshot.h"
#include "wire/registry.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: scopecast-dump --snapshot DIR [--json] COMMAND [ARGS]\n"
          "       scopecast-dump fetch --server ADDR --node ID --type TYPE [options]\n"
          "\n"
          "Prints what a scopecast engine published. Opens the snapshot read-only, with one\n"
          "short read transaction per command, so it is safe to run while the engine writes.\n"
          "fetch asks a running frontend instead, as a sidecar would.\n"
          "\n"
          "Options:\n"
          "  --snapshot DIR   the snapshot directory given to the engine; required\n"
          "  --json           print JSON instead of aligned text\n"
          "  --version        alone: print this program's version and exit (with a command,\n"
          "                   --version V selects a head version, below)\n"
          "  -h, --help       this text\n"
          "\n"
          "Commands:\n"
          "  info             the meta record: format version, head version, engine instance\n"
          "                   id, time of the last publish, accepted objects (in total and by\n"
          "                   kind), scopes, and the engine run's rejected/skipped counters\n"
          "                   (skipped also by kind: objects of kinds the engine does not\n"
          "                   process, such as AuthorizationPolicy or a misspelt kind).\n"
          "                   JSON: {\"formatVersion\", \"headVersion\", \"instanceId\",\n"
          "                   \"lastPublish\", \"lastPublishMs\", \"objects\", \"objectsByKind\",\n"
          "                   \"scopes\", \"rejected\", \"skipped\", \"skippedByKind\"}\n"
          "  scopes           every SidecarScope: id, config namespace, source Sidecar, version.\n"
          "                   JSON: {\"scopes\": [{\"id\", \"namespace\", \"sidecar\", \"version\"}]}\n"
          "  scope ID         one scope: its services, egress listeners, DestinationRules per\n"
          "                   host, outbound traffic policy and dependencies. JSON: {\"id\",\n"
          "                   \"namespace\", \"sidecar\", \"version\" (content hash), \"services\",\n"
          "                   \"egressListeners\", \"ingressListeners\", \"destinationRules\",\n"
          "                   \"outboundTrafficPolicy\", \"dependencies\", \"changedAt\" (head\n"
          "                   version of its last change), ...} (snapshot/FORMAT.md)\n"
          "  resolve --namespace NS [--label KEY=VALUE]...\n"
          "                   the scope a proxy in NS with these labels gets (its namespace\n"
          "                   need not be known to the engine), and the DestinationRules that\n"
          "                   make up the rule this proxy gets for each host.\n"
          "                   JSON: {\"scope\", \"namespace\", \"sidecar\", \"destinationRules\"}\n"
          "  resources ID --type clusters|endpoints|listeners|routes [--label KEY=VALUE]...\n"
          "            [--interception-mode REDIRECT|TPROXY|NONE] [--version V] [--raw]\n"
          "                   the Envoy resources of that type a proxy with these labels in\n"
          "                   scope ID receives, decoded (route configurations composed from\n"
          "                   their virtual hosts); NONE leaves out the virtual listeners;\n"
          "                   --version V puts the scope together as it was at head version V\n"
          "                   (one of the last --history versions the engine keeps; endpoint\n"
          "                   assignments are always the latest). JSON (Envoy's config_dump\n"
          "                   field names): {\"version_info\", \"resources\": [{\"name\",\n"
          "                   \"version\" (content hash), \"resource\": {\"@type\", ...}}]};\n"
          "                   --raw prints one JSON object per line instead: {\"name\",\n"
          "                   \"type_url\", \"bytes\" (base64)}.\n"
          "  diff ID --from V1 --to V2 [--label KEY=VALUE]... [--interception-mode M]\n"
          "                   what changed for such a proxy between two retained versions:\n"
          "                   per type, the names added (+), removed (-) and changed (~).\n"
          "                   JSON: {\"id\", \"from\", \"to\", \"clusters\": {\"added\",\n"
          "                   \"removed\", \"changed\"}, \"endpoints\", \"listeners\", \"routes\"}\n"
          "  changelog [--since V]\n"
          "                   what each head version after V (default: all kept) changed:\n"
          "                   scopes whose records changed or went, the base, selectors,\n"
          "                   resources added and removed; \"resync\" when everything was\n"
          "                   rewritten. JSON: {\"changes\": [{\"version\", \"resync\",\n"
          "                   \"scopes\", \"removed\", \"base\", \"types\", \"selectors\",\n"
          "                   \"resourcesAdded\", \"resourcesRemoved\", \"endpoints\",\n"
          "                   \"endpointsRemoved\"}]}\n"
          "  check            verifies the whole snapshot in one read transaction: the meta record\n"
          "                   and the head's changelog record; every scope of scope_index with its\n"
          "                   head and entries (its version is what they hash to) and the selector\n"
          "                   records (each parses, names what exists, nothing is left over);\n"
          "                   every resource and endpoint assignment a record names (present,\n"
          "                   bytes matching their content hash, decoding with protobuf-c as their\n"
          "                   type and name); and, per scope, every type as `resources` puts it\n"
          "                   together for the base proxy (no labels), for interception mode NONE\n"
          "                   and for the labels of each selector and variant recorded. Prints the\n"
          "                   head version, the scopes, the resources per type and the bytes the\n"
          "                   scopes' base proxies get, and a content digest (XXH3-128 of the\n"
          "                   selector records, the scope heads without version and changedAt, the\n"
          "                   entries, the assignments and what the base proxies get): equal for\n"
          "                   two snapshots of the same content, whatever their head versions,\n"
          "                   commit times and engine runs. A snapshot nothing was committed to\n"
          "                   yet checks, with head 0. Each problem names the scope (or record\n"
          "                   id), type, resource and why; exit status 1 when there is any. JSON:\n"
          "                   {\"headVersion\", \"scopes\", \"resources\": {\"clusters\", \"endpoints\",\n"
          "                   \"listeners\", \"routes\"}, \"bytes\", \"digest\", \"errors\": [{\"scope\",\n"
          "                   \"type\", \"resource\", \"error\"}]} (at most 100 listed)\n"
          "  fetch --server ADDR --node ID --type clusters|endpoints|listeners|routes\n"
          "        [--namespace NS] [--label KEY=VALUE]... [--interception-mode M] [--delta]\n"
          "        [--timeout-ms N] [--follow N] [--json] [--raw]\n"
          "                   asks the scopecast-xds frontend at ADDR (HOST:PORT, [IPV6]:PORT or\n"
          "                   unix:PATH) over gRPC ADS what a sidecar with this node receives,\n"
          "                   as Envoy asks: CDS first, then EDS for its EDS clusters, LDS, then\n"
          "                   RDS for the route configurations its listeners name, as far as\n"
          "                   TYPE needs, each response ACKed (one that does not decode is\n"
          "                   NACKed and fails the fetch). Prints that type as `resources` does,\n"
          "                   with the version_info. ID is Envoy's node id\n"
          "                   sidecar~IP~POD.NS~NS.svc.DOMAIN, or POD.NS for\n"
          "                   sidecar~127.0.0.1~POD.NS~NS.svc.cluster.local; the node carries\n"
          "                   the metadata NAMESPACE (--namespace, else the id's), INSTANCE_IPS\n"
          "                   (the id's IP), INTERCEPTION_MODE (default REDIRECT) and LABELS, as\n"
          "                   pilot-agent sends them. State of the world, or --delta (Delta xDS;\n"
          "                   versions per resource as sent; SotW carries none, so they are the\n"
          "                   content hashes the snapshot names resources by). --timeout-ms N\n"
          "                   (default 10000) bounds the wait for the answer. --follow N keeps\n"
          "                   the stream open and prints N further versions of the type as they\n"
          "                   are pushed, each after a line \"--- TYPE version_info V at TIME\n"
          "                   (push K of N)\" (on stderr with --json or --raw), within another\n"
          "                   --timeout-ms. Exit 1 when the connection fails, the stream ends\n"
          "                   (its grpc-status and message are shown), the time runs out or a\n"
          "                   response does not decode; 2 for a node the frontend would refuse\n"
          "                   or a gateway's (router~...), which scopecast does not serve.\n"
          "\n"
          "Scope ids: NS/NAME for a Sidecar resource, NS/NAME@ROOTNS for the root namespace's\n"
          "Sidecar applied to NS, NS/@default when there is no Sidecar at all; namespace \"*\"\n"
          "stands for every namespace the config does not mention.\n"
          "\n"
          "Exit status: 0 ok, 1 the snapshot cannot be read (check: or does not check), 2 usage.\n");
}

static void format_time(uint64_t ms, char *buf, size_t len) {
  time_t sec = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  char base[32];
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%03uZ", base, (unsigned)(ms % 1000));
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
    json_object_set_new(o, "resources", json_integer((json_int_t)m.resources));
    json_object_set_new(o, "endpoints", json_integer((json_int_t)m.endpoints));
    json_object_set_new(o, "historyVersions", json_integer((json_int_t)m.history_versions));
    json_object_set_new(o, "rejected", json_integer((json_int_t)m.rejected_total));
    json_object_set_new(o, "skipped", json_integer((json_int_t)m.skipped_total));
    json_object_set_new(o, "warnings", json_integer((json_int_t)m.warnings_total));
    json_t *skipped = json_object();
    for (size_t i = 0; i < m.nskipped_kinds; i++)
      json_object_set_new(skipped, m.skipped_by_kind[i].kind,
                          json_integer((json_int_t)m.skipped_by_kind[i].count));
    json_object_set_new(o, "skippedByKind", skipped);
    return sc_dump_print_json(o);
  }
  printf("%-18s %u\n", "format version", m.format_version);
  printf("%-18s %" PRIu64 "\n", "head version", m.head_version);
  printf("%-18s %s\n", "instance id", id);
  printf("%-18s %s\n", "last publish", when);
  printf("%-18s %" PRIu64 "\n", "objects", m.objects_total);
  for (int k = 0; k < SC_KIND__COUNT; k++)
    printf("  %-16s %" PRIu64 "\n", sc_kind_name((sc_kind_t)k), m.objects_by_kind[k]);
  printf("%-18s %" PRIu64 "\n", "scopes", m.scopes);
  printf("%-18s %" PRIu64 "\n", "resources", m.resources);
  printf("%-18s %" PRIu64 "\n", "endpoints", m.endpoints);
  printf("%-18s %" PRIu64 "\n", "history versions", m.history_versions);
  printf("%-18s %" PRIu64 "\n", "rejected", m.rejected_total);
  printf("%-18s %" PRIu64 "\n", "skipped", m.skipped_total);
  for (size_t i = 0; i < m.nskipped_kinds; i++)
    printf("  %-16s %" PRIu64 "\n", m.skipped_by_kind[i].kind, m.skipped_by_kind[i].count);
  printf("%-18s %" PRIu64 "\n", "warnings", m.warnings_total);
  return 0;
}

/* ---- scopes -------------------------------------------------------------------------- */

/* Parses a document of the reader library (taken); NULL (with a message) when it is not
 * JSON, which the library does not hand out. */
static json_t *parse_text(char *text) {
  json_error_t err;
  json_t *o = json_loads(text, 0, &err);
  sc_reader_free(text);
  if (o == NULL)
    fprintf(stderr, "scopecast-dump: the reader library's document is not JSON: %s\n", err.text);
  return o;
}

/* Says why a read of the reader library failed: err when it says, else the snapshot's. */
static void say_failed(sc_snapshot_reader_t *r, const char *err) {
  fprintf(stderr, "scopecast-dump: %s\n", err[0] ? err : sc_snapshot_reader_errmsg(r));
}

static int cmd_scopes(sc_snapshot_reader_t *r, bool json) {
  sc_snapshot_view_t *v;
  char *text = NULL, err[512] = "";
  int rc = sc_snapshot_view_begin(r, &v);
  if (rc == 0) {
    rc = sc_reader_scopes_json(v, &text, err, sizeof(err));
    sc_snapshot_view_end(v);
  }
  if (rc != 0) {
    say_failed(r, err);
    return 1;
  }
  json_t *index = parse_text(text);
  if (index == NULL)
    return 1;
  json_t *rows = json_array(), *o;
  size_t i;
  json_array_foreach(index, i, o) {
    json_t *row = json_object();
    const char *fields[] = {"id", "namespace", "sidecar", "version"};
    for (int f = 0; f < 4; f++)
      json_object_set(row, fields[f], json_object_get(o, fields[f]));
    json_array_append_new(rows, row);
  }
  json_decref(index);
  if (json) {
    json_t *out = json_object();
    json_object_set_new(out, "scopes", rows);
    return sc_dump_print_json(out);
  }
  printf("%-44s %-20s %-36s %s\n", "ID", "NAMESPACE", "SIDECAR", "VERSION");
  json_t *row;
  json_array_foreach(rows, i, row) {
    printf("%-44s %-20s %-36s %s\n", sc_dump_or_none(json_object_get(row, "id")),
           sc_dump_or_none(json_object_get(row, "namespace")), sc_dump_or_none(json_object_get(row, "sidecar")),
           sc_dump_or_none(json_object_get(row, "version")));
  }
  json_decref(rows);
  return 0;
}

/* Says why scope id could not be read. */
static void say_no_scope(sc_snapshot_reader_t *r, int rc, const char *id, const char *err) {
  if (rc == SC_ENOTFOUND)
    fprintf(stderr, "scopecast-dump: no scope \"%s\" (see `scopecast-dump scopes`)\n", id);
  else
    say_failed(r, err);
}

/* The scope id with its content (sc_reader_scope_json), or NULL with a message. */
static json_t *get_scope(sc_snapshot_reader_t *r, const char *id) {
  sc_snapshot_view_t *v;
  char *text = NULL, err[512] = "";
  int rc = sc_snapshot_view_begin(r, &v);
  if (rc != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    return NULL;
  }
  rc = sc_reader_scope_json(v, id, &text, err, sizeof(err));
  sc_snapshot_view_end(v);
  if (rc != 0) {
    say_no_scope(r, rc, id, err);
    return NULL;
  }
  return parse_text(text);
}

/* Whether version can be put together: the latest, or within the retained history. */
static int check_version(sc_snapshot_reader_t *r, uint64_t version) {
  uint64_t oldest, head;
  if (version == 0)
    return 0;
  if (sc_reader_retained(r, &oldest, &head) != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    return 1;
  }
  if (version > head || version < oldest) {
    fprintf(stderr, "scopecast-dump: version %llu is not retained (the snapshot keeps %llu to %llu; "
                    "the engine's --history sets how many)\n",
            (unsigned long long)version, (unsigned long long)oldest, (unsigned long long)head);
    return 1;
  }
  return 0;
}

/* ---- resources ---------------------------------------------------------------------------- */

/* A --label KEY=VALUE (strings borrowed from argv). */
typedef sc_label_t label_arg_t;

typedef struct {
  const char *id;
  int type;
  uint64_t version; /* 0: the latest */
  const label_arg_t *labels;
  size_t nlabels;
  bool no_capture, raw;
} query_t;

/* What a proxy of scope q->id with q->labels gets of q->type at q->version (reader.h),
 * appended to out, and the type's version_info into vi. 0, or 1 (said why). */
static int gather(sc_snapshot_reader_t *r, const query_t *q, json_t *out, char vi[17]) {
  sc_snapshot_view_t *v;
  if (sc_snapshot_view_begin(r, &v) != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    return 1;
  }
  sc_labels_t labels = {(uint32_t)q->nlabels, (sc_label_t *)q->labels};
  sc_gather_query_t gq = {q->id, (sc_xds_type_t)q->type, q->version, &labels, q->no_capture, NULL};
  sc_resource_list_t list = {NULL, 0, 0};
  char err[512] = "";
  int rc = sc_gather(v, &gq, &list, err, sizeof(err));
  sc_snapshot_view_end(v);
  if (rc == SC_ENOTFOUND && q->version == 0)
    fprintf(stderr, "scopecast-dump: no scope \"%s\" (see `scopecast-dump scopes`)\n", q->id);
  else if (rc == SC_ENOTFOUND)
    fprintf(stderr, "scopecast-dump: no scope \"%s\" at version %llu\n", q->id, (unsigned long long)q->version);
  else if (rc != 0)
    fprintf(stderr, "scopecast-dump: %s\n", err[0] ? err : sc_snapshot_reader_errmsg(r));
  for (size_t i = 0; i < list.n && rc == 0; i++) {
    json_t *o = sc_dump_resource_json(&list.items[i], q->type, q->raw);
    if (o == NULL)
      rc = SC_ECORRUPT;
    else
      json_array_append_new(out, o);
  }
  if (vi != NULL)
    sc_resource_list_version(&list, vi);
  sc_resource_list_free(&list);
  return rc != 0 ? 1 : 0;
}

static int cmd_resources(sc_snapshot_reader_t *r, const query_t *q, bool json) {
  if (check_version(r, q->version) != 0)
    return 1;
  json_t *out = json_array();
  char vi[17];
  if (gather(r, q, out, vi) != 0) {
    json_decref(out);
    return 1;
  }
  return sc_dump_print_resources(out, vi, json, q->raw);
}

/* What changed for a proxy of scope id between two retained versions, per type: names
 * added, removed, and whose version changed. */
static int cmd_diff(sc_snapshot_reader_t *r, query_t q, uint64_t from, uint64_t to, bool json) {
  if (check_version(r, from) != 0 || check_version(r, to) != 0)
    return 1;
  json_t *result = json_pack("{s:s, s:I, s:I}", "id", q.id, "from", (json_int_t)from, "to", (json_int_t)to);
  static const int types[] = {SC_XDS_CLUSTERS, SC_XDS_ENDPOINTS, SC_XDS_LISTENERS, SC_XDS_ROUTES};
  int status = 0;
  for (size_t t = 0; t < sizeof(types) / sizeof(types[0]) && status == 0; t++) {
    json_t *a = json_array(), *b = json_array();
    q.type = types[t];
    q.version = from;
    status = gather(r, &q, a, NULL);
    q.version = to;
    if (status == 0)
      status = gather(r, &q, b, NULL);
    json_t *va = json_object(), *vb = json_object(), *added = json_array(), *removed = json_array(),
           *changed = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) json_object_set(va, json_string_value(json_object_get(x, "name")), json_object_get(x, "version"));
    json_array_foreach(b, i, x) json_object_set(vb, json_string_value(json_object_get(x, "name")), json_object_get(x, "version"));
    json_array_foreach(b, i, x) {
      const char *name = json_string_value(json_object_get(x, "name"));
      json_t *before = json_object_get(va, name);
      if (before == NULL)
        json_array_append_new(added, json_string(name));
      else if (!json_equal(before, json_object_get(x, "version")))
        json_array_append_new(changed, json_string(name));
    }
    json_array_foreach(a, i, x) {
      const char *name = json_string_value(json_object_get(x, "name"));
      if (json_object_get(vb, name) == NULL)
        json_array_append_new(removed, json_string(name));
    }
    json_object_set_new(result, sc_xds_types[types[t]].name,
                        json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed, "changed", changed));
    json_decref(a);
    json_decref(b);
    json_decref(va);
    json_decref(vb);
  }
  if (status != 0) {
    json_decref(result);
    return 1;
  }
  if (json)
    return sc_dump_print_json(result);
  for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
    const char *tn = sc_xds_types[types[t]].name;
    json_t *d = json_object_get(result, tn);
    const char *marks[3][2] = {{"added", "+"}, {"removed", "-"}, {"changed", "~"}};
    for (int m = 0; m < 3; m++) {
      size_t i;
      json_t *x;
      json_array_foreach(json_object_get(d, marks[m][0]), i, x) printf("%s %-9s %s\n", marks[m][1], tn, json_string_value(x));
    }
  }
  json_decref(result);
  return 0;
}

/* ---- changelog -------------------------------------------------------------------------- */

typedef struct {
  json_t *records;
} changelog_t;

/* Parses one record (sc_changelog_foreach); SC_ECORRUPT (said why) when it is not JSON. */
static int collect_change(void *arg, uint64_t version, const char *val, size_t vlen) {
  (void)version;
  json_error_t err;
  json_t *o = json_loadb(val, vlen, 0, &err);
  if (o == NULL) {
    fprintf(stderr, "scopecast-dump: changelog: stored record is not JSON: %s\n", err.text);
    return SC_ECORRUPT;
  }
  json_array_append_new(arg, o);
  return 0;
}

/* What each head version after since changed (FORMAT.md "changelog"). */
static int cmd_changelog(sc_snapshot_reader_t *r, uint64_t since, bool json) {
  changelog_t c = {json_array()};
  sc_snapshot_view_t *v;
  int rc = sc_snapshot_view_begin(r, &v);
  if (rc == 0) {
    rc = sc_changelog_foreach(v, since, collect_change, c.records);
    sc_snapshot_view_end(v);
  }
  if (rc != 0) {
    if (rc != SC_ECORRUPT)
      fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    json_decref(c.records);
    return 1;
  }
  if (json)
    return sc_dump_print_json(json_pack("{s:o}", "changes", c.records));
  size_t i;
  json_t *x;
  printf("%-10s %-7s %-6s %-10s %-9s %s\n", "VERSION", "RESYNC", "BASE", "RESOURCES", "SELECTORS", "SCOPES");
  json_array_foreach(c.records, i, x) {
    printf("%-10lld %-7s %-6s +%-4lld -%-4lld %-9s", (long long)json_integer_value(json_object_get(x, "version")),
           json_is_true(json_object_get(x, "resync")) ? "yes" : "-",
           json_is_true(json_object_get(x, "base")) ? "yes" : "-",
           (long long)json_integer_value(json_object_get(x, "resourcesAdded")),
           (long long)json_integer_value(json_object_get(x, "resourcesRemoved")),
           json_is_true(json_object_get(x, "selectors")) ? "yes" : "-");
    size_t j;
    json_t *id;
    json_array_foreach(json_object_get(x, "scopes"), j, id) printf(" %s", json_string_value(id));
    json_array_foreach(json_object_get(x, "removed"), j, id) printf(" -%s", json_string_value(id));
    printf("\n");
  }
  json_decref(c.records);
  return 0;
}

static void print_scope_text(json_t *s) {
  printf("%-24s %s\n", "scope", sc_dump_or_none(json_object_get(s, "id")));
  printf("%-24s %s\n", "namespace", sc_dump_or_none(json_object_get(s, "namespace")));
  printf("%-24s %s\n", "sidecar", sc_dump_or_none(json_object_get(s, "sidecar")));
  printf("%-24s %s\n", "version", sc_dump_or_none(json_object_get(s, "version")));
  printf("%-24s %lld\n", "changed at", (long long)json_integer_value(json_object_get(s, "changedAt")));
  printf("%-24s %s\n", "outbound traffic policy", sc_dump_or_none(json_object_get(s, "outboundTrafficPolicy")));
  size_t i, j;
  json_t *v, *w;
  printf("\nEGRESS LISTENERS\n");
  json_array_foreach(json_object_get(s, "egressListeners"), i, v) {
    json_t *port = json_object_get(v, "port");
    char portbuf[16] = "-";
    if (json_is_integer(port))
      snprintf(portbuf, sizeof(portbuf), "%lld", (long long)json_integer_value(port));
    printf("  [%zu] port %s  bind %s\n", i, portbuf, sc_dump_or_none(json_object_get(v, "bind")));
    json_array_foreach(json_object_get(v, "hosts"), j, w) printf("      host     %s\n", json_string_value(w));
    json_array_foreach(json_object_get(v, "services"), j, w) printf("      service  %s\n", json_string_value(w));
    json_array_foreach(json_object_get(v, "virtualServices"), j, w)
        printf("      vs       %s\n", json_string_value(w));
  }
  printf("\nSERVICES\n");
  json_array_foreach(json_object_get(s, "services"), i, v) {
    printf("  %-56s %-16s", sc_dump_or_none(json_object_get(v, "hostname")), sc_dump_or_none(json_object_get(v, "namespace")));
    json_array_foreach(json_object_get(v, "ports"), j, w)
        printf(" %lld/%s", (long long)json_integer_value(json_object_get(w, "port")),
               sc_dump_or_none(json_object_get(w, "protocol")));
    printf("\n");
  }
  printf("\nDESTINATION RULES\n");
  const char *host;
  json_object_foreach(json_object_get(s, "destinationRules"), host, v) {
    if (json_array_size(v) == 0)
      continue;
    printf("  %-56s", host);
    json_array_foreach(v, j, w) printf(" %s", json_string_value(w));
    printf("\n");
  }
  printf("\nDEPENDENCIES\n");
  json_array_foreach(json_object_get(s, "dependencies"), i, v) printf("  %s\n", json_string_value(v));
}

static int cmd_scope(sc_snapshot_reader_t *r, const char *id, bool json) {
  json_t *s = get_scope(r, id);
  if (s == NULL)
    return 1;
  if (json)
    return sc_dump_print_json(s);
  print_scope_text(s);
  json_decref(s);
  return 0;
}

static int cmd_resolve(sc_snapshot_reader_t *r, const char *ns, const label_arg_t *labels,
                       size_t nlabels, bool json) {
  sc_labels_t set = {(uint32_t)nlabels, (sc_label_t *)labels};
  char *id = NULL;
  int rc = sc_resolve_scope(r, sc_str(ns), &set, &id);
  if (rc != 0) {
    fprintf(stderr, "scopecast-dump: %s\n",
            rc == SC_ENOTFOUND   ? "snapshot has no selector data"
            : rc == SC_ECORRUPT ? "the selector data names no scope for this proxy"
                                : sc_snapshot_reader_errmsg(r));
    return 1;
  }
  /* The scope and the rules this proxy gets in it, read in one transaction. */
  sc_snapshot_view_t *v;
  char *scope_text = NULL, *rules_text = NULL, err[512] = "";
  if ((rc = sc_snapshot_view_begin(r, &v)) != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    sc_reader_free(id);
    return 1;
  }
  rc = sc_reader_scope_json(v, id, &scope_text, err, sizeof(err));
  if (rc == 0)
    rc = sc_reader_rules_for_proxy_json(v, id, &set, &rules_text, err, sizeof(err));
  sc_snapshot_view_end(v);
  if (rc != 0) {
    say_no_scope(r, rc, id, err);
    sc_reader_free(scope_text);
    sc_reader_free(id);
    return 1;
  }
  sc_reader_free(id);
  json_t *scope = parse_text(scope_text), *drs = parse_text(rules_text);
  if (scope == NULL || drs == NULL) {
    json_decref(scope);
    json_decref(drs);
    return 1;
  }
  size_t i;
  json_t *e, *list;
  const char *host;
  json_t *out = json_object();
  json_object_set(out, "scope", json_object_get(scope, "id"));
  json_object_set_new(out, "namespace", json_string(ns));
  json_object_set(out, "sidecar", json_object_get(scope, "sidecar"));
  json_object_set_new(out, "destinationRules", drs);
  json_decref(scope);
  if (json)
    return sc_dump_print_json(out);
  printf("%-12s %s\n%-12s %s\n%-12s %s\n", "scope", sc_dump_or_none(json_object_get(out, "scope")),
         "namespace", ns, "sidecar", sc_dump_or_none(json_object_get(out, "sidecar")));
  printf("\nDESTINATION RULES FOR THIS PROXY\n");
  json_object_foreach(drs, host, list) {
    if (json_array_size(list) == 0)
      continue;
    printf("  %-56s", host);
    json_array_foreach(list, i, e) printf(" %s", json_string_value(e));
    printf("\n");
  }
  json_decref(out);
  return 0;
}

/* fetch: what a frontend serves a sidecar (dump_fetch.h). 0, 1, or 2 for usage (said why). */
static int fetch(const char *dir, const char *arg, const char *server, const char *node, const char *ns,
                 const char *mode, const label_arg_t *labels, size_t nlabels, const char *type, bool delta, bool json,
                 bool raw, uint64_t timeout_ms, uint64_t follow) {
  const char *why = dir ? "fetch asks a frontend: --snapshot is not for it"
                    : arg ? "fetch takes no argument (the proxy is --node, --namespace and --label)"
                    : server == NULL ? "fetch needs --server HOST:PORT, [IPV6]:PORT or unix:PATH"
                    : node == NULL ? "fetch needs --node ID (Envoy's node id, or POD.NAMESPACE)"
                    : type == NULL ? "fetch needs --type clusters|endpoints|listeners|routes"
                    : sc_xds_type_by_name(type) < 0 ? "--type must be clusters, endpoints, listeners or routes"
                                                    : NULL;
  if (why != NULL) {
    fprintf(stderr, "scopecast-dump: %s\nTry 'scopecast-dump --help'.\n", why);
    return 2;
  }
  sc_dump_fetch_opts_t o = {server, node, ns, mode, labels, nlabels, sc_xds_type_by_name(type), delta, json, raw,
                            timeout_ms, (unsigned)follow};
  int rc = sc_dump_fetch(&o);
  if (rc == 2)
    fprintf(stderr, "Try 'scopecast-dump --help'.\n");
  return rc;
}

int main(int argc, char **argv) {
  static const struct option long_opts[] = {{"snapshot", required_argument, NULL, 's'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"namespace", required_argument, NULL, 'n'},
                                            {"label", required_argument, NULL, 'l'},
                                            {"type", required_argument, NULL, 't'},
                                            {"raw", no_argument, NULL, 'r'},
                                            {"since", required_argument, NULL, 'S'},
                                            {"interception-mode", required_argument, NULL, 'I'},
                                            {"version", required_argument, NULL, 'V'},
                                            {"from", required_argument, NULL, 'F'},
                                            {"to", required_argument, NULL, 'T'},
                                            {"server", required_argument, NULL, 'A'},
                                            {"node", required_argument, NULL, 'N'},
                                            {"delta", no_argument, NULL, 'D'},
                                            {"timeout-ms", required_argument, NULL, 'O'},
                                            {"follow", required_argument, NULL, 'W'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
  const char *dir = NULL, *ns = NULL, *cmd = NULL, *arg = NULL, *type = NULL;
  const char *server = NULL, *node = NULL, *mode = NULL;
  bool json = false, raw = false, no_capture = false, delta = false, fetch_only = false;
  uint64_t timeout_ms = 10000, follow = 0;
  uint64_t since = 0, version = 0, from = 0, to = 0;
  /* Alone, --version is this program's version; with a command it selects a head version. */
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("scopecast-dump %s (snapshot format %u)\n", SC_VERSION, SC_SNAPSHOT_FORMAT_VERSION);
    return 0;
  }
  label_arg_t *labels = calloc((size_t)argc, sizeof(*labels));
  size_t nlabels = 0;
  int c, status = 2;
  if (labels == NULL)
    return 1;
  /* Options may come before or after the command; the first two operands are the
   * command and its argument. */
  while (optind < argc) {
    c = getopt_long(argc, argv, "-h", long_opts, NULL);
    if (c == -1)
      break;
    switch (c) {
    case 1:
      if (cmd == NULL)
        cmd = optarg;
      else if (arg == NULL)
        arg = optarg;
      else {
        fprintf(stderr, "scopecast-dump: unexpected argument \"%s\"\n", optarg);
        goto usage;
      }
      break;
    case 's': dir = optarg; break;
    case 'j': json = true; break;
    case 'n': ns = optarg; break;
    case 't': type = optarg; break;
    case 'r': raw = true; break;
    case 'S': since = strtoull(optarg, NULL, 10); break;
    case 'V':
    case 'F':
    case 'T': {
      char *end;
      uint64_t n = strtoull(optarg, &end, 10);
      if (*optarg == '\0' || *end != '\0' || n == 0) {
        fprintf(stderr, "scopecast-dump: --%s %s: expected a head version (1 or more)\n",
                c == 'V' ? "version" : c == 'F' ? "from" : "to", optarg);
        goto usage;
      }
      *(c == 'V' ? &version : c == 'F' ? &from : &to) = n;
      break;
    }
    case 'I':
      if (strcmp(optarg, "REDIRECT") != 0 && strcmp(optarg, "TPROXY") != 0 && strcmp(optarg, "NONE") != 0) {
        fprintf(stderr, "scopecast-dump: --interception-mode must be REDIRECT, TPROXY or NONE\n");
        goto usage;
      }
      no_capture = strcmp(optarg, "NONE") == 0;
      mode = optarg;
      break;
    case 'A': server = optarg; fetch_only = true; break;
    case 'N': node = optarg; fetch_only = true; break;
    case 'D': delta = fetch_only = true; break;
    case 'O':
    case 'W': {
      char *end;
      uint64_t n = strtoull(optarg, &end, 10);
      if (*optarg < '0' || *optarg > '9' || *end != '\0' || (c == 'O' && n == 0) || (c == 'W' && n > 1000000)) {
        fprintf(stderr, "scopecast-dump: --%s %s: expected %s\n", c == 'O' ? "timeout-ms" : "follow", optarg,
                c == 'O' ? "milliseconds (1 or more)" : "a count of further versions (0 to 1000000)");
        goto usage;
      }
      *(c == 'O' ? &timeout_ms : &follow) = n;
      fetch_only = true;
      break;
    }
    case 'l': {
      char *eq = strchr(optarg, '=');
      if (eq == NULL || eq == optarg) {
        fprintf(stderr, "scopecast-dump: --label %s: expected KEY=VALUE\n", optarg);
        goto usage;
      }
      *eq = '\0';
      labels[nlabels++] = (label_arg_t){sc_str(optarg), sc_str(eq + 1)};
      break;
    }
    case 'h':
      usage(stdout);
      status = 0;
      goto done;
    default:
      goto usage;
    }
  }
  if (cmd != NULL && strcmp(cmd, "fetch") == 0) {
    status = fetch(dir, arg, server, node, ns, mode, labels, nlabels, type, delta, json, raw, timeout_ms, follow);
    goto done;
  }
  if (fetch_only) {
    fprintf(stderr, "scopecast-dump: --server, --node, --delta, --timeout-ms and --follow are for fetch\n");
    goto usage;
  }
  if (dir == NULL || cmd == NULL) {
    fprintf(stderr, "scopecast-dump: %s\n",
            dir == NULL ? "--snapshot DIR is required" : "a command is required");
    goto usage;
  }
  bool known = strcmp(cmd, "info") == 0 || strcmp(cmd, "scopes") == 0 ||
               strcmp(cmd, "scope") == 0 || strcmp(cmd, "resolve") == 0 ||
               strcmp(cmd, "resources") == 0 || strcmp(cmd, "changelog") == 0 ||
               strcmp(cmd, "diff") == 0 || strcmp(cmd, "check") == 0;
  if (!known) {
    fprintf(stderr, "scopecast-dump: unknown command \"%s\"\n", cmd);
    goto usage;
  }
  bool takes_id = strcmp(cmd, "scope") == 0 || strcmp(cmd, "resources") == 0 || strcmp(cmd, "diff") == 0;
  if (takes_id != (arg != NULL)) {
    fprintf(stderr, "scopecast-dump: %s\n",
            arg ? "unexpected argument" : "this command needs a scope ID (see `scopecast-dump scopes`)");
    goto usage;
  }
  if (strcmp(cmd, "resources") == 0 && type == NULL) {
    fprintf(stderr, "scopecast-dump: resources needs --type clusters|listeners|routes|endpoints\n");
    goto usage;
  }
  if (strcmp(cmd, "diff") == 0 && (from == 0 || to == 0)) {
    fprintf(stderr, "scopecast-dump: diff needs --from V1 --to V2\n");
    goto usage;
  }
  int type_id = type ? sc_xds_type_by_name(type) : -1;
  if (strcmp(cmd, "resources") == 0 && type_id < 0) {
    fprintf(stderr, "scopecast-dump: --type must be clusters, listeners, routes or endpoints\n");
    goto usage;
  }
  if (strcmp(cmd, "resolve") == 0 && ns == NULL) {
    fprintf(stderr, "scopecast-dump: resolve needs --namespace NS\n");
    goto usage;
  }
  sc_snapshot_reader_t *r;
  char err[512];
  if (sc_snapshot_reader_open(dir, &r, err, sizeof(err)) != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", err);
    status = 1;
    goto done;
  }
  if (strcmp(cmd, "info") == 0)
    status = cmd_info(r, json);
  else if (strcmp(cmd, "scopes") == 0)
    status = cmd_scopes(r, json);
  else if (strcmp(cmd, "scope") == 0)
    status = cmd_scope(r, arg, json);
  else if (strcmp(cmd, "resources") == 0)
    status = cmd_resources(r, &(query_t){arg, type_id, version, labels, nlabels, no_capture, raw}, json);
  else if (strcmp(cmd, "diff") == 0)
    status = cmd_diff(r, (query_t){arg, 0, 0, labels, nlabels, no_capture, false}, from, to, json);
  else if (strcmp(cmd, "changelog") == 0)
    status = cmd_changelog(r, since, json);
  else if (strcmp(cmd, "check") == 0)
    status = sc_dump_check(r, json);
  else
    status = cmd_resolve(r, ns, labels, nlabels, json);
  sc_snapshot_reader_close(r);
  goto done;
usage:
  fprintf(stderr, "Try 'scopecast-dump --help'.\n");
  status = 2;
done:
  free(labels);
  return status;
}
