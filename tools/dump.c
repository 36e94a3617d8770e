/* scopecast-dump: reads a snapshot read-only (safe while the engine writes) and prints
 * it for people (aligned text) or for scripts (--json). */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "compose.h"
#include "registry.h"
#include "resolve.h"
#include "scopecast/snapshot.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: scopecast-dump --snapshot DIR [--json] COMMAND [ARGS]\n"
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
          "\n"
          "Scope ids: NS/NAME for a Sidecar resource, NS/NAME@ROOTNS for the root namespace's\n"
          "Sidecar applied to NS, NS/@default when there is no Sidecar at all; namespace \"*\"\n"
          "stands for every namespace the config does not mention.\n"
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
    json_object_set_new(o, "resources", json_integer((json_int_t)m.resources));
    json_object_set_new(o, "endpoints", json_integer((json_int_t)m.endpoints));
    json_object_set_new(o, "historyVersions", json_integer((json_int_t)m.history_versions));
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
  printf("%-18s %" PRIu64 "\n", "resources", m.resources);
  printf("%-18s %" PRIu64 "\n", "endpoints", m.endpoints);
  printf("%-18s %" PRIu64 "\n", "history versions", m.history_versions);
  printf("%-18s %" PRIu64 "\n", "rejected", m.rejected_total);
  printf("%-18s %" PRIu64 "\n", "skipped", m.skipped_total);
  return 0;
}

/* ---- scopes -------------------------------------------------------------------------- */

/* Parses one stored JSON record; NULL (with a message) when it is not valid. */
static json_t *parse_record(const void *val, size_t vlen, const char *what) {
  json_error_t err;
  json_t *o = json_loadb(val, vlen, 0, &err);
  if (o == NULL)
    fprintf(stderr, "scopecast-dump: %s: stored record is not JSON: %s\n", what, err.text);
  return o;
}

static int load_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  json_t **out = arg;
  *out = parse_record(val, vlen, "record");
  return *out ? 0 : SC_ECORRUPT;
}

/* The base's head (its version and changedAt), or NULL when there is none. */
static json_t *get_base(sc_snapshot_view_t *v) {
  json_t *o = NULL;
  sc_snapshot_view_get(v, SC_TABLE_SCOPES, SC_BASE_KEY, strlen(SC_BASE_KEY), load_record, &o);
  return o;
}

/* A record whose content shares the base (FORMAT.md) shows the version and changedAt of
 * the whole: its own combined with the base's. */
static void apply_base(json_t *rec, json_t *base) {
  if (base == NULL || json_object_get(rec, "base") == NULL)
    return;
  const char *own = json_string_value(json_object_get(rec, "version"));
  const char *shared = json_string_value(json_object_get(base, "version"));
  if (own != NULL && shared != NULL) {
    char hex[17];
    snprintf(hex, sizeof(hex), "%016" PRIx64,
             sc_snapshot_effective_version(strtoull(own, NULL, 16), strtoull(shared, NULL, 16)));
    json_object_set_new(rec, "version", json_string(hex));
  }
  json_int_t at = json_integer_value(json_object_get(rec, "changedAt"));
  json_int_t base_at = json_integer_value(json_object_get(base, "changedAt"));
  if (base_at > at)
    json_object_set_new(rec, "changedAt", json_integer(base_at));
}

typedef struct {
  json_t *rows, *base;
} scope_rows_t;

static int collect_scope(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  scope_rows_t *sr = arg;
  json_t *o = parse_record(val, vlen, "scopes");
  if (o == NULL)
    return SC_ECORRUPT;
  apply_base(o, sr->base);
  json_t *row = json_object();
  const char *fields[] = {"id", "namespace", "sidecar", "version"};
  for (int i = 0; i < 4; i++)
    json_object_set(row, fields[i], json_object_get(o, fields[i]));
  json_array_append_new(sr->rows, row);
  json_decref(o);
  return 0;
}

static const char *or_none(json_t *v) { return json_is_string(v) ? json_string_value(v) : "-"; }

static int cmd_scopes(sc_snapshot_reader_t *r, bool json) {
  json_t *rows = json_array();
  sc_snapshot_view_t *v;
  int rc = sc_snapshot_view_begin(r, &v);
  if (rc == 0) {
    /* The index holds small summaries: no scope record is loaded. */
    scope_rows_t sr = {rows, get_base(v)};
    rc = sc_snapshot_view_scan(v, SC_TABLE_SCOPE_INDEX, NULL, 0, collect_scope, &sr);
    json_decref(sr.base);
    sc_snapshot_view_end(v);
  }
  if (rc != 0) {
    if (rc != SC_ECORRUPT)
      fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    json_decref(rows);
    return 1;
  }
  if (json) {
    json_t *o = json_object();
    json_object_set_new(o, "scopes", rows);
    return print_json(o);
  }
  printf("%-44s %-20s %-36s %s\n", "ID", "NAMESPACE", "SIDECAR", "VERSION");
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    printf("%-44s %-20s %-36s %s\n", or_none(json_object_get(row, "id")),
           or_none(json_object_get(row, "namespace")), or_none(json_object_get(row, "sidecar")),
           or_none(json_object_get(row, "version")));
  }
  json_decref(rows);
  return 0;
}

static json_t *get_head(sc_snapshot_reader_t *r, sc_snapshot_view_t *v, const char *id) {
  json_t *o = NULL;
  int rc = sc_snapshot_view_get(v, SC_TABLE_SCOPES, id, strlen(id), load_record, &o);
  if (rc == SC_ENOTFOUND)
    fprintf(stderr, "scopecast-dump: no scope \"%s\" (see `scopecast-dump scopes`)\n", id);
  else if (rc != 0 && rc != SC_ECORRUPT)
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
  return rc == 0 ? o : NULL;
}

/* A scope put together from its head and its entries (FORMAT.md). */
typedef struct {
  json_t *services, *listeners, *rules, *rule_entries, *deps;
} assembly_t;

/* Collects entries by hostname; a scope's own entries replace the base's. */
static int collect_entry(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  json_t *e = parse_record(val, vlen, "entry");
  if (e == NULL)
    return SC_ECORRUPT;
  const char *host = json_string_value(json_object_get(e, "hostname"));
  if (host == NULL) {
    json_decref(e);
    fprintf(stderr, "scopecast-dump: corrupt entry (no hostname)\n");
    return SC_ECORRUPT;
  }
  json_object_set_new(arg, host, e);
  return 0;
}

static void add_entry(assembly_t *a, const char *host, json_t *e) {
  json_t *svc = json_object();
  const char *fields[] = {"hostname", "namespace", "ports", "aliases", "registry"};
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
    if (json_object_get(e, fields[i]) != NULL)
      json_object_set(svc, fields[i], json_object_get(e, fields[i]));
  json_array_append_new(a->services, svc);
  size_t i;
  json_t *x;
  json_array_foreach(json_object_get(e, "listeners"), i, x) {
    json_t *l = json_array_get(a->listeners, (size_t)json_integer_value(x));
    if (l != NULL)
      json_array_append_new(json_object_get(l, "services"), json_string(host));
  }
  json_object_set(a->rules, host, json_object_get(e, "destinationRules"));
  if (json_object_get(e, "destinationRuleEntries") != NULL)
    json_object_set(a->rule_entries, host, json_object_get(e, "destinationRuleEntries"));
  json_array_foreach(json_object_get(e, "dependencies"), i, x) json_array_append(a->deps, x);
}

static int cmp_cstrp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The entries of content_id (and of the base it refers to), by hostname. */
static int scan_entries(sc_snapshot_view_t *v, const char *content_id, const char *base,
                        json_t *by_host) {
  const char *ids[2] = {base, content_id};
  int rc = 0;
  for (int i = 0; i < 2 && rc == 0; i++) {
    if (ids[i] == NULL)
      continue;
    char prefix[1200];
    size_t plen = strlen(ids[i]) + 1; /* the id and its NUL */
    if (plen > sizeof(prefix))
      return SC_EINVAL;
    memcpy(prefix, ids[i], plen);
    rc = sc_snapshot_view_scan(v, SC_TABLE_SCOPE_ENTRIES, prefix, plen, collect_entry, by_host);
  }
  return rc;
}

/* ---- history: a scope as it was at a retained version (FORMAT.md "history") ---------- */

typedef struct {
  const char *id;
  size_t idlen;
  uint64_t after; /* keep records of versions after this one */
  json_t *list;   /* [[version, kind, host | null, value | null], ...] */
} undo_scan_t;

/* Keys: version (8 bytes big-endian), id, NUL, kind, host (FORMAT.md "history"). */
static int collect_undo(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  undo_scan_t *u = arg;
  const uint8_t *k = key;
  if (klen < 8 + u->idlen + 2 || memcmp(k + 8, u->id, u->idlen) != 0 || k[8 + u->idlen] != 0)
    return 0; /* another record's */
  uint64_t version = 0;
  for (int i = 0; i < 8; i++)
    version = version << 8 | k[i];
  if (version <= u->after)
    return 0;
  size_t at = 8 + u->idlen + 1;
  char kind[2] = {(char)k[at], 0};
  json_t *host = klen > at + 1 ? json_stringn((const char *)k + at + 1, klen - at - 1) : json_null();
  json_t *value = vlen ? parse_record(val, vlen, "history") : json_null();
  if (value == NULL) {
    json_decref(host);
    return SC_ECORRUPT;
  }
  json_array_append_new(u->list, json_pack("[I, s, o, o]", (json_int_t)version, kind, host, value));
  return 0;
}

/* The undo records of id newer than version, newest first (the table is in version order;
 * it holds only the retained window). */
static int undo_records(sc_snapshot_view_t *v, const char *id, uint64_t version, json_t **out) {
  undo_scan_t u = {id, strlen(id), version, json_array()};
  int rc = sc_snapshot_view_scan(v, SC_TABLE_HISTORY, NULL, 0, collect_undo, &u);
  json_t *reversed = json_array();
  for (size_t i = json_array_size(u.list); i > 0; i--)
    json_array_append(reversed, json_array_get(u.list, i - 1));
  json_decref(u.list);
  *out = reversed;
  return rc;
}

/* The head of id at version (0: the latest), or NULL (said why). */
static json_t *get_head_at(sc_snapshot_reader_t *r, sc_snapshot_view_t *v, const char *id, uint64_t version) {
  if (version == 0)
    return get_head(r, v, id);
  json_t *head = NULL, *undo = NULL;
  int rc = sc_snapshot_view_get(v, SC_TABLE_SCOPES, id, strlen(id), load_record, &head);
  if (rc == SC_ENOTFOUND)
    rc = 0;
  if (rc == 0)
    rc = undo_records(v, id, version, &undo);
  size_t i;
  json_t *x;
  json_array_foreach(undo, i, x) {
    if (strcmp(json_string_value(json_array_get(x, 1)), "h") != 0)
      continue;
    json_decref(head);
    head = json_is_null(json_array_get(x, 3)) ? NULL : json_incref(json_array_get(x, 3));
  }
  json_decref(undo);
  if (rc == 0 && head == NULL)
    fprintf(stderr, "scopecast-dump: no scope \"%s\" at version %llu\n", id, (unsigned long long)version);
  else if (rc != 0)
    fprintf(stderr, "scopecast-dump: %s\n", rc == SC_ECORRUPT ? "corrupt history record" : sc_snapshot_reader_errmsg(r));
  if (rc != 0) {
    json_decref(head);
    return NULL;
  }
  return head;
}

/* As scan_entries, at version (0: the latest): each id's entries with its undo records
 * applied, newest first. */
static int scan_entries_at(sc_snapshot_view_t *v, const char *content_id, const char *base, uint64_t version,
                           json_t *by_host) {
  if (version == 0)
    return scan_entries(v, content_id, base, by_host);
  const char *ids[2] = {base, content_id};
  int rc = 0;
  for (int i = 0; i < 2 && rc == 0; i++) {
    if (ids[i] == NULL)
      continue;
    json_t *own = json_object(), *undo = NULL;
    rc = scan_entries(v, ids[i], NULL, own);
    if (rc == 0)
      rc = undo_records(v, ids[i], version, &undo);
    size_t k;
    json_t *x;
    json_array_foreach(undo, k, x) {
      const char *host = json_string_value(json_array_get(x, 2));
      if (strcmp(json_string_value(json_array_get(x, 1)), "e") != 0 || host == NULL)
        continue;
      if (json_is_null(json_array_get(x, 3)))
        json_object_del(own, host);
      else
        json_object_set(own, host, json_array_get(x, 3));
    }
    json_decref(undo);
    json_object_update(by_host, own);
    json_decref(own);
  }
  return rc;
}

/* Whether version can be put together: the latest, or within the retained history. */
static int check_version(sc_snapshot_reader_t *r, uint64_t version) {
  sc_snapshot_meta_t m;
  if (version == 0)
    return 0;
  if (sc_snapshot_read_meta(r, &m) != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    return 1;
  }
  uint64_t oldest = m.head_version > m.history_versions ? m.head_version - m.history_versions : 1;
  if (version > m.head_version || version < oldest) {
    fprintf(stderr, "scopecast-dump: version %llu is not retained (the snapshot keeps %llu to %llu; "
                    "the engine's --history sets how many)\n",
            (unsigned long long)version, (unsigned long long)oldest, (unsigned long long)m.head_version);
    return 1;
  }
  return 0;
}

static int add_entries(assembly_t *a, json_t *by_host) {
  size_t n = json_object_size(by_host), k = 0;
  const char **hosts = calloc(n ? n : 1, sizeof(*hosts));
  if (hosts == NULL)
    return SC_ENOMEM;
  const char *host;
  json_t *e;
  json_object_foreach(by_host, host, e) hosts[k++] = host;
  qsort(hosts, n, sizeof(*hosts), cmp_cstrp);
  for (k = 0; k < n; k++)
    add_entry(a, hosts[k], json_object_get(by_host, hosts[k]));
  free(hosts);
  return 0;
}

static int cmp_json_str(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The dependencies of the head and of every entry: sorted, each once. */
static json_t *sorted_unique(json_t *list) {
  size_t n = json_array_size(list);
  json_t **items = calloc(n ? n : 1, sizeof(*items));
  json_t *out = json_array();
  for (size_t i = 0; items && i < n; i++)
    items[i] = json_array_get(list, i);
  if (items != NULL)
    qsort(items, n, sizeof(*items), cmp_json_str);
  for (size_t i = 0; items && i < n; i++)
    if (i == 0 || strcmp(json_string_value(items[i]), json_string_value(items[i - 1])) != 0)
      json_array_append(out, items[i]);
  free(items);
  return out;
}

static json_t *assemble(sc_snapshot_reader_t *r, sc_snapshot_view_t *v, json_t *head,
                        const char *content_id) {
  assembly_t a = {json_array(), json_object_get(head, "egressListeners"), json_object(),
                  json_object(), json_array()};
  size_t i;
  json_t *x;
  json_array_foreach(a.listeners, i, x) json_object_set_new(x, "services", json_array());
  json_array_foreach(json_object_get(head, "dependencies"), i, x) json_array_append(a.deps, x);
  json_t *by_host = json_object();
  int rc = scan_entries(v, content_id, json_string_value(json_object_get(head, "base")), by_host);
  if (rc == 0)
    rc = add_entries(&a, by_host);
  json_decref(by_host);
  json_t *out = NULL;
  if (rc == 0) {
    out = json_object();
    const char *order[] = {"id", "namespace", "sidecar", "version", "kind", "sameAs", "base"};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
      if (json_object_get(head, order[k]) != NULL)
        json_object_set(out, order[k], json_object_get(head, order[k]));
    json_object_set(out, "services", a.services);
    json_object_set(out, "egressListeners", a.listeners);
    json_object_set(out, "ingressListeners", json_object_get(head, "ingressListeners"));
    json_object_set(out, "destinationRules", a.rules);
    json_object_set(out, "destinationRuleEntries", a.rule_entries);
    json_object_set(out, "outboundTrafficPolicy", json_object_get(head, "outboundTrafficPolicy"));
    if (json_object_get(head, "egressProxy") != NULL)
      json_object_set(out, "egressProxy", json_object_get(head, "egressProxy"));
    json_object_set_new(out, "dependencies", sorted_unique(a.deps));
    if (json_object_get(head, "changedAt") != NULL)
      json_object_set(out, "changedAt", json_object_get(head, "changedAt"));
  } else if (rc != SC_ECORRUPT) {
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
  }
  json_decref(a.services);
  json_decref(a.rules);
  json_decref(a.rule_entries);
  json_decref(a.deps);
  return out;
}

/* The scope id with its content, read in one transaction, or NULL with a message. A
 * scope that shares the content of another ("sameAs", FORMAT.md) shows that content
 * under its own id, namespace and changedAt. */
static json_t *get_scope(sc_snapshot_reader_t *r, const char *id) {
  sc_snapshot_view_t *v;
  int rc = sc_snapshot_view_begin(r, &v);
  if (rc != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    return NULL;
  }
  json_t *head = get_head(r, v, id), *out = NULL;
  const char *same = head ? json_string_value(json_object_get(head, "sameAs")) : NULL;
  if (same == NULL) {
    out = head ? assemble(r, v, head, id) : NULL;
  } else {
    json_t *target = get_head(r, v, same);
    out = target ? assemble(r, v, target, same) : NULL;
    const char *fields[] = {"id", "namespace", "changedAt", "sameAs"};
    for (int i = 0; i < 4 && out != NULL; i++)
      json_object_set(out, fields[i], json_object_get(head, fields[i]));
    json_decref(target);
  }
  json_t *base = out ? get_base(v) : NULL;
  if (out != NULL)
    apply_base(out, base);
  json_decref(base);
  json_decref(head);
  sc_snapshot_view_end(v);
  return out;
}

/* ---- resources ---------------------------------------------------------------------------- */

/* A --label KEY=VALUE (strings borrowed from argv). */
typedef sc_label_t label_arg_t;

static bool selector_matches(json_t *selector, const label_arg_t *labels, size_t nlabels);

static int hex16(const char *hex, uint8_t out[16]) {
  if (hex == NULL || strlen(hex) != 32)
    return -1;
  for (int i = 0; i < 16; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1)
      return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

typedef struct {
  json_t *out;        /* the resource as printed */
  const char *name;
  int type;
  bool raw;
  char version[17]; /* XXH3-64 of the bytes, hex */
} resource_t;

static int load_resource(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  resource_t *res = arg;
  const sc_xds_type_info_t *t = &sc_xds_types[res->type];
  snprintf(res->version, sizeof(res->version), "%016llx", (unsigned long long)XXH3_64bits(val, vlen));
  if (res->raw) {
    char *b64 = sc_base64(val, vlen);
    res->out = json_pack("{s:s, s:s, s:s}", "name", res->name, "type_url", t->type_url, "bytes", b64 ? b64 : "");
    free(b64);
    return res->out ? 0 : SC_ENOMEM;
  }
  json_t *decoded = NULL;
  int rc = sc_pbjson_decode(t->descriptor, val, vlen, &sc_xds_registry, &decoded);
  if (rc != 0) {
    fprintf(stderr, "scopecast-dump: resource %s does not decode as %s\n", res->name, t->descriptor->name);
    return SC_ECORRUPT;
  }
  json_t *typed = json_pack("{s:s}", "@type", t->type_url); /* first, as Envoy prints it */
  json_object_update(typed, decoded);
  json_decref(decoded);
  res->out = json_object();
  json_object_set_new(res->out, "resource", typed);
  return 0;
}

/* The resources a [["name", "hash"(, "eds id")], ...] cluster list names, appended to out:
 * the clusters, or for type endpoints the assignments of its EDS clusters (table
 * endpoints, key "name#id"; their version is the XXH3-64 of the bytes). */
static int add_resources(sc_snapshot_reader_t *r, sc_snapshot_view_t *v, json_t *refs, int type, bool raw,
                         bool past, json_t *out) {
  size_t i;
  json_t *ref;
  json_array_foreach(refs, i, ref) {
    const char *name = json_string_value(json_array_get(ref, 0));
    const char *hash = json_string_value(json_array_get(ref, 1));
    const char *eds = json_string_value(json_array_get(ref, 2));
    uint8_t key[16];
    if (name == NULL || hex16(hash, key) != 0) {
      fprintf(stderr, "scopecast-dump: corrupt resource reference\n");
      return SC_ECORRUPT;
    }
    resource_t res = {NULL, name, type, raw, {0}};
    int rc;
    char ekey[1300];
    if (type == SC_XDS_ENDPOINTS) {
      if (eds == NULL)
        continue; /* not an EDS cluster */
      snprintf(ekey, sizeof(ekey), "%s#%s", name, eds);
      hash = ekey;
      rc = sc_snapshot_view_get(v, SC_TABLE_ENDPOINTS, ekey, strlen(ekey), load_resource, &res);
      if (rc == SC_ENOTFOUND && past)
        continue; /* assignments are not versioned: one no cluster names now is gone */
    } else {
      rc = sc_snapshot_view_get(v, SC_TABLE_RESOURCES, key, 16, load_resource, &res);
    }
    if (rc == SC_ENOTFOUND)
      fprintf(stderr, "scopecast-dump: resource %s (%s) is missing from the snapshot\n", name, hash);
    else if (rc != 0 && rc != SC_ECORRUPT && rc != SC_ENOMEM)
      fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    if (rc != 0)
      return rc;
    if (!raw) { /* config_dump's shape: name, version, resource */
      json_t *o = json_pack("{s:s, s:s}", "name", name, "version", type == SC_XDS_ENDPOINTS ? res.version : hash);
      json_object_set(o, "resource", json_object_get(res.out, "resource"));
      json_decref(res.out);
      res.out = o;
    }
    json_array_append_new(out, res.out);
  }
  return 0;
}

/* Appends one resource given its bytes (decoded, or raw) to out; its version is the
 * XXH3-64 of the bytes. */
static int add_bytes(const char *name, int type, bool raw, const void *bytes, size_t len, json_t *out) {
  resource_t res = {NULL, name, type, raw, {0}};
  int rc = load_resource(&res, NULL, 0, bytes, len);
  if (rc != 0)
    return rc;
  if (!raw) {
    json_t *o = json_pack("{s:s, s:s}", "name", name, "version", res.version);
    json_object_set(o, "resource", json_object_get(res.out, "resource"));
    json_decref(res.out);
    res.out = o;
  }
  json_array_append_new(out, res.out);
  return 0;
}

typedef struct {
  const char *vhost;  /* "HOSTNAME:PORT", or a catch-all's name */
  const char *config; /* the route configuration: what follows the last ':'; NULL: every one */
  const char *hash;
  size_t at;          /* position: head first, then entries by hostname */
} route_ref_t;

static int cmp_route_ref(const void *pa, const void *pb) {
  const route_ref_t *a = pa, *b = pb;
  int c = strcmp(a->vhost, b->vhost);
  return c ? c : (a->at > b->at) - (a->at < b->at);
}

static int cmp_config(const void *pa, const void *pb) {
  const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
  long x = strtol(a, NULL, 10), y = strtol(b, NULL, 10);
  return x != y ? (x > y) - (x < y) : strcmp(a, b);
}

typedef struct {
  const uint8_t *bytes;
  size_t len;
  uint8_t *copy;
} part_load_t;

static int load_part(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  part_load_t *p = arg;
  if ((p->copy = malloc(vlen ? vlen : 1)) == NULL)
    return SC_ENOMEM;
  memcpy(p->copy, val, vlen);
  p->bytes = p->copy;
  p->len = vlen;
  return 0;
}

/* The route configurations of a scope (FORMAT.md "Composed resources"): for each name,
 * the head's VirtualService virtual hosts and the entries' service virtual hosts of that
 * port, the first of each name kept, sorted by name, then the catch-all. */
static int add_route_configs(sc_snapshot_view_t *v, json_t *head_refs, json_t *entry_refs, bool raw, json_t *out) {
  size_t n = json_array_size(head_refs) + json_array_size(entry_refs), nrefs = 0, nconfigs = 0;
  route_ref_t *refs = calloc(n ? n : 1, sizeof(*refs));
  const char **configs = calloc(n ? n : 1, sizeof(*configs));
  sc_xds_part_t *parts = calloc(n ? n : 1, sizeof(*parts));
  uint8_t **copies = calloc(n ? n : 1, sizeof(*copies));
  int rc = refs && configs && parts && copies ? 0 : SC_ENOMEM;
  json_t *lists[2] = {head_refs, entry_refs};
  for (int l = 0; l < 2 && rc == 0; l++) {
    size_t i;
    json_t *ref;
    json_array_foreach(lists[l], i, ref) {
      const char *name = json_string_value(json_array_get(ref, 0)), *hash = json_string_value(json_array_get(ref, 1));
      if (name == NULL || hash == NULL) {
        rc = SC_ECORRUPT;
        break;
      }
      const char *colon = strrchr(name, ':');
      refs[nrefs] = (route_ref_t){name, colon ? colon + 1 : NULL, hash, nrefs};
      nrefs++;
      bool seen = colon == NULL;
      for (size_t k = 0; k < nconfigs && !seen; k++)
        seen = strcmp(configs[k], colon + 1) == 0;
      if (!seen)
        configs[nconfigs++] = colon + 1;
    }
  }
  if (rc == 0) {
    qsort(refs, nrefs, sizeof(*refs), cmp_route_ref);
    qsort(configs, nconfigs, sizeof(*configs), cmp_config);
  }
  for (size_t c = 0; c < nconfigs && rc == 0; c++) {
    size_t nparts = 0;
    for (int catch_all = 0; catch_all < 2 && rc == 0; catch_all++)
      for (size_t i = 0; i < nrefs && rc == 0; i++) {
        const route_ref_t *x = &refs[i];
        if ((x->config == NULL) != catch_all || (x->config != NULL && strcmp(x->config, configs[c]) != 0))
          continue;
        if (i > 0 && x->config != NULL && strcmp(refs[i - 1].vhost, x->vhost) == 0)
          continue; /* a name already taken: the first wins */
        uint8_t key[16];
        part_load_t p = {NULL, 0, NULL};
        if (hex16(x->hash, key) != 0)
          rc = SC_ECORRUPT;
        else if ((rc = sc_snapshot_view_get(v, SC_TABLE_RESOURCES, key, 16, load_part, &p)) == SC_ENOTFOUND)
          fprintf(stderr, "scopecast-dump: virtual host %s (%s) is missing from the snapshot\n", x->vhost, x->hash);
        if (rc == 0) {
          copies[nparts] = p.copy;
          parts[nparts++] = (sc_xds_part_t){p.bytes, p.len};
        }
      }
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (rc == 0 && (rc = sc_xds_compose_routes(configs[c], parts, nparts, &bytes, &len)) == 0)
      rc = add_bytes(configs[c], SC_XDS_ROUTES, raw, bytes, len, out);
    free(bytes);
    for (size_t k = 0; k < nparts; k++)
      free(copies[k]);
  }
  free(refs);
  free(configs);
  free(parts);
  free(copies);
  return rc;
}

/* Appends to list the references of refs whose name it has none of yet (the first of each
 * name wins: an older service's target port over a newer one's). */
static void add_unnamed(json_t *list, json_t *refs) {
  size_t i, j;
  json_t *x, *y;
  json_array_foreach(refs, i, x) {
    bool have = false;
    json_array_foreach(list, j, y) have |= json_equal(json_array_get(x, 0), json_array_get(y, 0));
    if (!have)
      json_array_append(list, x);
  }
}

/* A listener ["name", "hash"] with these filter chains ["name", "hash"] appended (field 3,
 * filter_chains): a proxy's virtualInbound with the chains of the services it serves. */
static int add_composed_listener(sc_snapshot_view_t *v, json_t *ref, json_t *chains, bool raw, json_t *out) {
  size_t n = json_array_size(chains) + 1;
  part_load_t *loads = calloc(n, sizeof(*loads));
  sc_xds_part_t *parts = calloc(n, sizeof(*parts));
  int rc = loads && parts ? 0 : SC_ENOMEM;
  for (size_t i = 0; i < n && rc == 0; i++) {
    json_t *x = i == 0 ? ref : json_array_get(chains, i - 1);
    uint8_t key[16];
    if (hex16(json_string_value(json_array_get(x, 1)), key) != 0)
      rc = SC_ECORRUPT;
    else if ((rc = sc_snapshot_view_get(v, SC_TABLE_RESOURCES, key, 16, load_part, &loads[i])) == SC_ENOTFOUND)
      fprintf(stderr, "scopecast-dump: %s is missing from the snapshot\n", json_string_value(json_array_get(x, 0)));
    if (rc == 0 && i > 0)
      parts[i - 1] = (sc_xds_part_t){loads[i].bytes, loads[i].len};
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  if (rc == 0 && (rc = sc_xds_compose_append(loads[0].bytes, loads[0].len, 3, parts, n - 1, &bytes, &len)) == 0)
    rc = add_bytes(json_string_value(json_array_get(ref, 0)), SC_XDS_LISTENERS, raw, bytes, len, out);
  free(bytes);
  for (size_t i = 0; loads && i < n; i++)
    free(loads[i].copy);
  free(loads);
  free(parts);
  return rc;
}

typedef struct {
  json_t *ref; /* ["name", "hash", egress listener index] */
  size_t at;   /* position among the entries, by hostname */
} listener_ref_t;

static int cmp_listener_ref(const void *pa, const void *pb) {
  const listener_ref_t *a = pa, *b = pb;
  json_int_t x = json_integer_value(json_array_get(a->ref, 2)), y = json_integer_value(json_array_get(b->ref, 2));
  return x != y ? (x > y) - (x < y) : (a->at > b->at) - (a->at < b->at);
}

static int cmp_listener_name(const void *pa, const void *pb) {
  const listener_ref_t *a = pa, *b = pb;
  return strcmp(json_string_value(json_array_get(a->ref, 0)), json_string_value(json_array_get(b->ref, 0)));
}

/* The listeners of a scope (lds.h): the entries' outbound listeners, the first of each name
 * with egress listeners in order, sorted by name; then the head's virtual listeners,
 * unless the proxy does not capture traffic. */
static int add_listeners(sc_snapshot_reader_t *r, sc_snapshot_view_t *v, json_t *head_refs, json_t *no_capture_refs,
                         json_t *entry_refs, json_t *inbound_chains, bool no_capture, bool raw, json_t *out) {
  size_t n = json_array_size(entry_refs), kept = 0;
  listener_ref_t *refs = calloc(n ? n : 1, sizeof(*refs));
  if (refs == NULL)
    return SC_ENOMEM;
  for (size_t i = 0; i < n; i++)
    refs[i] = (listener_ref_t){json_array_get(entry_refs, i), i};
  qsort(refs, n, sizeof(*refs), cmp_listener_ref);
  for (size_t i = 0; i < n; i++) {
    bool taken = false;
    for (size_t k = 0; k < kept && !taken; k++)
      taken = cmp_listener_name(&refs[k], &refs[i]) == 0;
    if (!taken)
      refs[kept++] = refs[i];
  }
  qsort(refs, kept, sizeof(*refs), cmp_listener_name);
  json_t *list = json_array();
  for (size_t i = 0; i < kept; i++)
    json_array_append(list, refs[i].ref);
  free(refs);
  int rc = add_resources(r, v, list, SC_XDS_LISTENERS, raw, false, out);
  json_decref(list);
  /* The head's: the virtual listeners (not for a proxy capturing nothing) and the ingress
   * ports that are sockets; such a proxy also gets the rest of the ingress ports. */
  size_t i;
  json_t *x;
  json_array_foreach(head_refs, i, x) {
    const char *name = json_string_value(json_array_get(x, 0));
    if (no_capture && name != NULL && strncmp(name, "virtual", 7) == 0)
      continue;
    if (rc == 0 && name != NULL && strcmp(name, "virtualInbound") == 0 && json_array_size(inbound_chains) > 0) {
      rc = add_composed_listener(v, x, inbound_chains, raw, out);
      continue;
    }
    json_t *one = json_pack("[O]", x);
    if (rc == 0)
      rc = add_resources(r, v, one, SC_XDS_LISTENERS, raw, false, out);
    json_decref(one);
  }
  if (no_capture && rc == 0)
    rc = add_resources(r, v, no_capture_refs, SC_XDS_LISTENERS, raw, false, out);
  return rc;
}

/* The version of one type of a proxy's configuration (Envoy's version_info): the XXH3-64
 * of its resources' names and versions in order, 16 hex digits. It changes exactly when
 * what the proxy gets of that type does. */
static const char *type_version(json_t *resources, char out[17]) {
  XXH3_state_t *st = XXH3_createState();
  XXH3_64bits_reset(st);
  size_t i;
  json_t *x;
  json_array_foreach(resources, i, x) {
    const char *name = json_string_value(json_object_get(x, "name"));
    const char *version = json_string_value(json_object_get(x, "version"));
    XXH3_64bits_update(st, name ? name : "", strlen(name ? name : "") + 1);
    XXH3_64bits_update(st, version ? version : "", strlen(version ? version : "") + 1);
  }
  snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(st));
  XXH3_freeState(st);
  return out;
}

/* The clusters of a proxy with these labels in scope id: the static ones of the head, then
 * per hostname the variant of the first selector rule its labels match, else the
 * default (FORMAT.md). */
typedef struct {
  const char *id;
  int type;
  uint64_t version; /* 0: the latest */
  const label_arg_t *labels;
  size_t nlabels;
  bool no_capture, raw;
} query_t;

/* What a proxy of scope q->id with q->labels gets of q->type at q->version, appended to
 * out, in one read transaction. 0, or 1 (said why). */
static int gather(sc_snapshot_reader_t *r, const query_t *q, json_t *out) {
  const char *id = q->id;
  int type = q->type;
  const label_arg_t *labels = q->labels;
  size_t nlabels = q->nlabels;
  bool no_capture = q->no_capture, raw = q->raw;
  sc_snapshot_view_t *v;
  if (sc_snapshot_view_begin(r, &v) != 0) {
    fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    return 1;
  }
  json_t *head = get_head_at(r, v, id, q->version), *content = head, *by_host = json_object();
  json_t *entry_routes = json_array(), *entry_listeners = json_array();
  json_t *inbound_clusters = json_array(), *inbound_chains = json_array();
  const char *same = head ? json_string_value(json_object_get(head, "sameAs")) : NULL;
  if (same != NULL)
    content = get_head_at(r, v, same, q->version);
  int rc = content ? 0 : 1;
  if (rc == 0)
    rc = scan_entries_at(v, same ? same : id, json_string_value(json_object_get(content, "base")), q->version,
                         by_host);
  if (rc == 0 && type != SC_XDS_ROUTES && type != SC_XDS_LISTENERS)
    rc = add_resources(r, v, json_object_get(content, "clusters"), type, raw, q->version != 0, out);
  size_t n = json_object_size(by_host), k = 0;
  const char **hosts = calloc(n ? n : 1, sizeof(*hosts));
  const char *host;
  json_t *e;
  json_object_foreach(by_host, host, e) hosts[k++] = host;
  if (hosts != NULL)
    qsort(hosts, n, sizeof(*hosts), cmp_cstrp);
  for (k = 0; hosts && k < n && rc == 0; k++) {
    e = json_object_get(by_host, hosts[k]);
    json_t *refs = json_object_get(e, "clusters"), *variant;
    size_t i;
    json_array_foreach(json_object_get(e, "clusterVariants"), i, variant) {
      if (selector_matches(json_object_get(variant, "selector"), labels, nlabels)) {
        refs = json_object_get(variant, "clusters");
        break;
      }
    }
    json_t *in = json_object_get(e, "inbound"); /* the proxy is a target of this service */
    if (in != NULL && nlabels > 0 && selector_matches(json_object_get(in, "selector"), labels, nlabels)) {
      add_unnamed(inbound_clusters, json_object_get(in, "clusters"));
      add_unnamed(inbound_chains, json_object_get(in, "chains"));
    }
    if (type == SC_XDS_ROUTES) { /* the first label class the proxy is in, else the default */
      json_t *routes = json_object_get(e, "routes");
      json_array_foreach(json_object_get(e, "routeVariants"), i, variant) {
        if (selector_matches(json_object_get(variant, "selector"), labels, nlabels)) {
          routes = json_object_get(variant, "routes");
          break;
        }
      }
      json_array_extend(entry_routes, routes);
    }
    else if (type == SC_XDS_LISTENERS)
      json_array_extend(entry_listeners,
                        json_object_get(e, no_capture ? "outboundListenersNoCapture" : "outboundListeners"));
    else
      rc = add_resources(r, v, refs, type, raw, q->version != 0, out);
  }
  if (rc == 0 && type == SC_XDS_CLUSTERS)
    rc = add_resources(r, v, inbound_clusters, type, raw, q->version != 0, out);
  if (rc == 0 && type == SC_XDS_ROUTES)
    rc = add_route_configs(v, json_object_get(content, "routes"), entry_routes, raw, out);
  if (rc == 0 && type == SC_XDS_LISTENERS)
    rc = add_listeners(r, v, json_object_get(content, "listeners"), json_object_get(content, "listenersNoCapture"),
                       entry_listeners, no_capture ? NULL : inbound_chains, no_capture, raw, out);
  json_decref(inbound_clusters);
  json_decref(inbound_chains);
  json_decref(entry_routes);
  json_decref(entry_listeners);
  free(hosts);
  if (content != head)
    json_decref(content);
  json_decref(head);
  json_decref(by_host);
  sc_snapshot_view_end(v);
  return rc != 0 ? 1 : 0;
}

static int cmd_resources(sc_snapshot_reader_t *r, const query_t *q, bool json) {
  if (check_version(r, q->version) != 0)
    return 1;
  json_t *out = json_array();
  if (gather(r, q, out) != 0) {
    json_decref(out);
    return 1;
  }
  if (q->raw) { /* one object per line, for tools */
    size_t i;
    json_t *x;
    json_array_foreach(out, i, x) {
      char *line = json_dumps(x, JSON_COMPACT | JSON_PRESERVE_ORDER);
      if (line != NULL)
        printf("%s\n", line);
      free(line);
    }
    json_decref(out);
    return 0;
  }
  char vi[17];
  if (json)
    return print_json(json_pack("{s:s, s:o}", "version_info", type_version(out, vi), "resources", out));
  size_t i;
  json_t *x;
  printf("%-72s %s\n", "NAME", "VERSION");
  json_array_foreach(out, i, x) printf("%-72s %s\n", or_none(json_object_get(x, "name")),
                                       or_none(json_object_get(x, "version")));
  json_decref(out);
  return 0;
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
    status = gather(r, &q, a);
    q.version = to;
    if (status == 0)
      status = gather(r, &q, b);
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
    return print_json(result);
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
  uint64_t since;
  json_t *records;
} changelog_t;

static int collect_change(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  changelog_t *c = arg;
  uint64_t version = 0;
  for (size_t i = 0; i < klen && i < 8; i++)
    version = version << 8 | ((const uint8_t *)key)[i];
  if (version <= c->since)
    return 0;
  json_t *o = parse_record(val, vlen, "changelog");
  if (o == NULL)
    return SC_ECORRUPT;
  json_array_append_new(c->records, o);
  return 0;
}

/* What each head version after since changed (FORMAT.md "changelog"). */
static int cmd_changelog(sc_snapshot_reader_t *r, uint64_t since, bool json) {
  changelog_t c = {since, json_array()};
  int rc = sc_snapshot_foreach(r, SC_TABLE_CHANGELOG, collect_change, &c);
  if (rc != 0) {
    if (rc != SC_ECORRUPT)
      fprintf(stderr, "scopecast-dump: %s\n", sc_snapshot_reader_errmsg(r));
    json_decref(c.records);
    return 1;
  }
  if (json)
    return print_json(json_pack("{s:o}", "changes", c.records));
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
  printf("%-24s %s\n", "scope", or_none(json_object_get(s, "id")));
  printf("%-24s %s\n", "namespace", or_none(json_object_get(s, "namespace")));
  printf("%-24s %s\n", "sidecar", or_none(json_object_get(s, "sidecar")));
  printf("%-24s %s\n", "version", or_none(json_object_get(s, "version")));
  printf("%-24s %lld\n", "changed at", (long long)json_integer_value(json_object_get(s, "changedAt")));
  printf("%-24s %s\n", "outbound traffic policy", or_none(json_object_get(s, "outboundTrafficPolicy")));
  size_t i, j;
  json_t *v, *w;
  printf("\nEGRESS LISTENERS\n");
  json_array_foreach(json_object_get(s, "egressListeners"), i, v) {
    json_t *port = json_object_get(v, "port");
    char portbuf[16] = "-";
    if (json_is_integer(port))
      snprintf(portbuf, sizeof(portbuf), "%lld", (long long)json_integer_value(port));
    printf("  [%zu] port %s  bind %s\n", i, portbuf, or_none(json_object_get(v, "bind")));
    json_array_foreach(json_object_get(v, "hosts"), j, w) printf("      host     %s\n", json_string_value(w));
    json_array_foreach(json_object_get(v, "services"), j, w) printf("      service  %s\n", json_string_value(w));
    json_array_foreach(json_object_get(v, "virtualServices"), j, w)
        printf("      vs       %s\n", json_string_value(w));
  }
  printf("\nSERVICES\n");
  json_array_foreach(json_object_get(s, "services"), i, v) {
    printf("  %-56s %-16s", or_none(json_object_get(v, "hostname")), or_none(json_object_get(v, "namespace")));
    json_array_foreach(json_object_get(v, "ports"), j, w)
        printf(" %lld/%s", (long long)json_integer_value(json_object_get(w, "port")),
               or_none(json_object_get(w, "protocol")));
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
    return print_json(s);
  print_scope_text(s);
  json_decref(s);
  return 0;
}

static bool selector_matches(json_t *selector, const label_arg_t *labels, size_t nlabels) {
  return sc_selector_holds(selector, &(sc_labels_t){(uint32_t)nlabels, (sc_label_t *)labels});
}

/* The DestinationRule this proxy gets for a host (semantics 6.3): the first selector
 * entry of the scope's namespace that matches its labels, else the last one without a
 * selector. */
static json_t *rule_for_proxy(json_t *entries, const char *scope_ns, const label_arg_t *labels,
                              size_t nlabels) {
  json_t *catch_all = NULL, *e;
  size_t i;
  json_array_foreach(entries, i, e) {
    json_t *sel = json_object_get(e, "selector");
    if (!json_is_object(sel)) {
      catch_all = e;
      continue;
    }
    if (strcmp(or_none(json_object_get(e, "namespace")), scope_ns) == 0 &&
        selector_matches(sel, labels, nlabels))
      return json_object_get(e, "from");
  }
  return catch_all ? json_object_get(catch_all, "from") : NULL;
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
  json_t *scope = get_scope(r, id);
  free(id);
  if (scope == NULL)
    return 1;
  size_t i;
  json_t *e;
  json_t *out = json_object();
  json_object_set(out, "scope", json_object_get(scope, "id"));
  json_object_set_new(out, "namespace", json_string(ns));
  json_object_set(out, "sidecar", json_object_get(scope, "sidecar"));
  const char *scope_ns = or_none(json_object_get(scope, "namespace"));
  /* Every service of the scope, with [] where no rule applies to this proxy. */
  json_t *drs = json_object(), *entries = json_object_get(scope, "destinationRuleEntries");
  json_t *svc, *list;
  const char *host;
  json_array_foreach(json_object_get(scope, "services"), i, svc) {
    host = json_string_value(json_object_get(svc, "hostname"));
    if (host == NULL)
      continue;
    json_t *from = rule_for_proxy(json_object_get(entries, host), scope_ns, labels, nlabels);
    json_object_set_new(drs, host, from ? json_deep_copy(from) : json_array());
  }
  json_object_set_new(out, "destinationRules", drs);
  json_decref(scope);
  if (json)
    return print_json(out);
  printf("%-12s %s\n%-12s %s\n%-12s %s\n", "scope", or_none(json_object_get(out, "scope")),
         "namespace", ns, "sidecar", or_none(json_object_get(out, "sidecar")));
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
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
  const char *dir = NULL, *ns = NULL, *cmd = NULL, *arg = NULL, *type = NULL;
  bool json = false, raw = false, no_capture = false;
  uint64_t since = 0, version = 0, from = 0, to = 0;
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
      break;
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
  if (dir == NULL || cmd == NULL) {
    fprintf(stderr, "scopecast-dump: %s\n",
            dir == NULL ? "--snapshot DIR is required" : "a command is required");
    goto usage;
  }
  bool known = strcmp(cmd, "info") == 0 || strcmp(cmd, "scopes") == 0 ||
               strcmp(cmd, "scope") == 0 || strcmp(cmd, "resolve") == 0 ||
               strcmp(cmd, "resources") == 0 || strcmp(cmd, "changelog") == 0 ||
               strcmp(cmd, "diff") == 0;
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
