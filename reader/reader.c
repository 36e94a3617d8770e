/* Scopes, the DestinationRules a proxy gets and the retained versions,
 * as the reader library hands them out (include/scopecast/reader.h): documents put
 * together from the records of one read transaction (snapshot/FORMAT.md). The changelog:
 * changelog.c. */
#include "store/mem.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/gather.h"
#include "reader/resolve.h"
#include "scopecast/reader.h"

void sc_reader_free(void *p) { sc__free(p); }


/* o (taken) as compact JSON text allocated with mem.h into *out. */
static int take_text(json_t *o, char **out) {
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(o);
  *out = text ? sc__strdup(text) : NULL;
  free(text); /* jansson's */
  return *out ? 0 : SC_ENOMEM;
}

/* ---- the base ------------------------------------------------------------------------- */

static int load_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  json_t **out = arg;
  *out = json_loadb(val, vlen, 0, NULL);
  return *out ? 0 : SC_ECORRUPT;
}

/* The base's head (its version and changedAt), or NULL when there is none (or it does not
 * parse: then nothing is combined with it). */
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

/* ---- the list of scopes ---------------------------------------------------------------- */

typedef struct {
  json_t *rows, *base;
  char *err;
  size_t errlen;
} scope_rows_t;

static int collect_scope(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  scope_rows_t *sr = arg;
  json_error_t jerr;
  json_t *o = json_loadb(val, vlen, 0, &jerr);
  if (o == NULL)
    return sc__gather_failf(sr->err, sr->errlen, SC_ECORRUPT, "scopes: stored record is not JSON: %s", jerr.text);
  apply_base(o, sr->base);
  json_array_append_new(sr->rows, o);
  return 0;
}

int sc_reader_scopes_json(sc_snapshot_view_t *v, char **json, char *err, size_t errlen) {
  *json = NULL;
  /* The index holds small summaries: no scope record is loaded. */
  scope_rows_t sr = {json_array(), get_base(v), err, errlen};
  int rc = sr.rows ? sc_snapshot_view_scan(v, SC_TABLE_SCOPE_INDEX, NULL, 0, collect_scope, &sr) : SC_ENOMEM;
  json_decref(sr.base);
  if (rc != 0) {
    json_decref(sr.rows);
    return rc;
  }
  return take_text(sr.rows, json);
}

/* ---- one scope --------------------------------------------------------------------------- */

/* A scope put together from its head and its entries (FORMAT.md). */
typedef struct {
  json_t *services, *listeners, *rules, *rule_entries, *deps;
} assembly_t;

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

static int cmp_cstrp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The entries in hostname order. */
static int add_entries(assembly_t *a, json_t *by_host) {
  size_t n = json_object_size(by_host), k = 0;
  const char **hosts = sc__calloc(n ? n : 1, sizeof(*hosts));
  if (hosts == NULL)
    return SC_ENOMEM;
  const char *host;
  json_t *e;
  json_object_foreach(by_host, host, e) hosts[k++] = host;
  qsort(hosts, n, sizeof(*hosts), cmp_cstrp);
  for (k = 0; k < n; k++)
    add_entry(a, hosts[k], json_object_get(by_host, hosts[k]));
  sc__free(hosts);
  return 0;
}

static int cmp_json_str(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The dependencies of the head and of every entry: sorted, each once. */
static json_t *sorted_unique(json_t *list) {
  size_t n = json_array_size(list);
  json_t **items = sc__calloc(n ? n : 1, sizeof(*items));
  json_t *out = json_array();
  for (size_t i = 0; items && i < n; i++)
    items[i] = json_array_get(list, i);
  if (items != NULL)
    qsort(items, n, sizeof(*items), cmp_json_str);
  for (size_t i = 0; items && i < n; i++)
    if (i == 0 || strcmp(json_string_value(items[i]), json_string_value(items[i - 1])) != 0)
      json_array_append(out, items[i]);
  sc__free(items);
  return out;
}

/* The scope whose head is head and whose content is content_id's, into *out. */
static int assemble(sc_snapshot_view_t *v, json_t *head, const char *content_id, json_t **out, char *err,
                    size_t errlen) {
  *out = NULL;
  assembly_t a = {json_array(), json_object_get(head, "egressListeners"), json_object(), json_object(), json_array()};
  size_t i;
  json_t *x;
  json_array_foreach(a.listeners, i, x) json_object_set_new(x, "services", json_array());
  json_array_foreach(json_object_get(head, "dependencies"), i, x) json_array_append(a.deps, x);
  json_t *by_host = json_object();
  int rc = sc__scope_entries_at(v, content_id, json_string_value(json_object_get(head, "base")), 0, by_host);
  if (rc == SC_ECORRUPT)
    sc__gather_failf(err, errlen, rc, "an entry of scope \"%s\" is not JSON", content_id);
  if (rc == 0)
    rc = add_entries(&a, by_host);
  json_decref(by_host);
  if (rc == 0) {
    json_t *o = *out = json_object();
    const char *order[] = {"id", "namespace", "sidecar", "version", "kind", "sameAs", "base"};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
      if (json_object_get(head, order[k]) != NULL)
        json_object_set(o, order[k], json_object_get(head, order[k]));
    json_object_set(o, "services", a.services);
    json_object_set(o, "egressListeners", a.listeners);
    json_object_set(o, "ingressListeners", json_object_get(head, "ingressListeners"));
    json_object_set(o, "destinationRules", a.rules);
    json_object_set(o, "destinationRuleEntries", a.rule_entries);
    json_object_set(o, "outboundTrafficPolicy", json_object_get(head, "outboundTrafficPolicy"));
    if (json_object_get(head, "egressProxy") != NULL)
      json_object_set(o, "egressProxy", json_object_get(head, "egressProxy"));
    json_object_set_new(o, "dependencies", sorted_unique(a.deps));
    if (json_object_get(head, "changedAt") != NULL)
      json_object_set(o, "changedAt", json_object_get(head, "changedAt"));
  }
  json_decref(a.services);
  json_decref(a.rules);
  json_decref(a.rule_entries);
  json_decref(a.deps);
  return rc;
}

static int head_of(sc_snapshot_view_t *v, const char *id, json_t **out, char *err, size_t errlen) {
  int rc = sc__scope_head_at(v, id, 0, out);
  if (rc == 0 && *out == NULL)
    return sc__gather_failf(err, errlen, SC_ENOTFOUND, "no scope \"%s\"", id);
  if (rc == SC_ECORRUPT)
    sc__gather_failf(err, errlen, rc, "the record of scope \"%s\" is not JSON", id);
  return rc;
}

/* Scope id with its content, into *out (sc_reader_scope_json). */
static int get_scope(sc_snapshot_view_t *v, const char *id, json_t **out, char *err, size_t errlen) {
  if (err != NULL && errlen > 0)
    err[0] = 0;
  *out = NULL;
  json_t *head = NULL;
  int rc = head_of(v, id, &head, err, errlen);
  const char *same = head ? json_string_value(json_object_get(head, "sameAs")) : NULL;
  if (rc == 0 && same == NULL) {
    rc = assemble(v, head, id, out, err, errlen);
  } else if (rc == 0) {
    json_t *target = NULL;
    rc = head_of(v, same, &target, err, errlen);
    if (rc == SC_ENOTFOUND)
      rc = sc__gather_failf(err, errlen, SC_ECORRUPT, "scope \"%s\" shares \"%s\", which does not exist", id, same);
    if (rc == 0)
      rc = assemble(v, target, same, out, err, errlen);
    const char *fields[] = {"id", "namespace", "changedAt", "sameAs"};
    for (int i = 0; i < 4 && *out != NULL; i++)
      json_object_set(*out, fields[i], json_object_get(head, fields[i]));
    json_decref(target);
  }
  if (*out != NULL) {
    json_t *base = get_base(v);
    apply_base(*out, base);
    json_decref(base);
  }
  json_decref(head);
  return rc;
}

int sc_reader_scope_json(sc_snapshot_view_t *v, const char *id, char **json, char *err, size_t errlen) {
  json_t *o = NULL;
  int rc = get_scope(v, id, &o, err, errlen);
  if (rc != 0) {
    *json = NULL;
    json_decref(o);
    return rc;
  }
  return take_text(o, json);
}

/* ---- the DestinationRules a proxy gets ------------------------------------------------- */

static const char *or_none(json_t *v) { return json_is_string(v) ? json_string_value(v) : "-"; }

/* The DestinationRule this proxy gets for a host (docs/semantics.md "DestinationRules for a service"): the first selector
 * entry of the scope's namespace that matches its labels, else the last one without a
 * selector. */
static json_t *rule_for_proxy(json_t *entries, const char *scope_ns, const sc_labels_t *labels) {
  json_t *catch_all = NULL, *e;
  size_t i;
  json_array_foreach(entries, i, e) {
    json_t *sel = json_object_get(e, "selector");
    if (!json_is_object(sel)) {
      catch_all = e;
      continue;
    }
    if (strcmp(or_none(json_object_get(e, "namespace")), scope_ns) == 0 && sc__resolve_selector_holds(sel, labels))
      return json_object_get(e, "from");
  }
  return catch_all ? json_object_get(catch_all, "from") : NULL;
}

int sc_reader_rules_for_proxy_json(sc_snapshot_view_t *v, const char *id, const sc_labels_t *labels, char **json,
                                   char *err, size_t errlen) {
  static const sc_labels_t none = {0, NULL};
  *json = NULL;
  json_t *scope = NULL;
  int rc = get_scope(v, id, &scope, err, errlen);
  if (rc != 0) {
    json_decref(scope);
    return rc;
  }
  const char *scope_ns = or_none(json_object_get(scope, "namespace"));
  /* Every service of the scope, with [] where no rule applies to this proxy. */
  json_t *drs = json_object(), *entries = json_object_get(scope, "destinationRuleEntries"), *svc;
  size_t i;
  json_array_foreach(json_object_get(scope, "services"), i, svc) {
    const char *host = json_string_value(json_object_get(svc, "hostname"));
    if (host == NULL)
      continue;
    json_t *from = rule_for_proxy(json_object_get(entries, host), scope_ns, labels ? labels : &none);
    json_object_set_new(drs, host, from ? json_deep_copy(from) : json_array());
  }
  json_decref(scope);
  return take_text(drs, json);
}

/* ---- versions ------------------------------------------------------- */

int sc_reader_retained(sc_snapshot_reader_t *r, uint64_t *oldest, uint64_t *head) {
  sc_snapshot_meta_t m;
  int rc = sc_snapshot_read_meta(r, &m);
  if (rc != 0)
    return rc;
  *head = m.head_version;
  *oldest = m.head_version > m.history_versions ? m.head_version - m.history_versions : 1;
  return 0;
}
