/* Enumerating and rendering every scope, and the per-namespace selector records. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "scope.h"
#include "scopeset.h"

/* Internal stand-in for "any namespace the config does not mention": no object, exportTo
 * or Sidecar host can name it, so the scope computed for it is the one every such
 * namespace gets. */
static const sc_str_t other_ns = {"#other", 6};

static json_t *jstr(sc_str_t s) { return json_stringn(s.ptr, s.len); }

static json_t *obj_ref(const sc_obj_t *o) {
  char buf[600];
  snprintf(buf, sizeof(buf), "%s/%s", o->namespace_.ptr, o->name.ptr);
  return json_string(buf);
}

static json_t *labels_json(const sc_labels_t *l) {
  json_t *o = json_object();
  for (uint32_t i = 0; l && i < l->n; i++)
    json_object_set_new(o, l->items[i].key.ptr, jstr(l->items[i].value));
  return o;
}

static json_t *render_services(const sc_vec_t *svcs) {
  json_t *arr = json_array();
  for (uint32_t i = 0; i < svcs->n; i++) {
    const sc_svc_t *s = svcs->items[i];
    json_t *ports = json_array();
    for (uint32_t p = 0; p < s->nports; p++) {
      json_t *port = json_object();
      json_object_set_new(port, "port", json_integer(s->ports[p].port));
      json_object_set_new(port, "name", jstr(s->ports[p].name));
      json_object_set_new(port, "protocol", json_string(sc_protocol_name(s->ports[p].protocol)));
      json_array_append_new(ports, port);
    }
    json_t *o = json_object();
    json_object_set_new(o, "hostname", jstr(s->hostname));
    json_object_set_new(o, "namespace", jstr(s->namespace_));
    json_object_set_new(o, "ports", ports);
    if (s->naliases > 0) {
      json_t *aliases = json_array();
      for (uint32_t a = 0; a < s->naliases; a++) {
        char buf[600];
        snprintf(buf, sizeof(buf), "%s/%s", s->aliases[a].namespace_.ptr, s->aliases[a].hostname.ptr);
        json_array_append_new(aliases, json_string(buf));
      }
      json_object_set_new(o, "aliases", aliases);
    }
    json_object_set_new(o, "registry",
                        json_string(s->registry == SC_REGISTRY_KUBERNETES ? "Kubernetes" : "External"));
    json_array_append_new(arr, o);
  }
  return arr;
}

static json_t *render_listener(const sc_listener_t *l) {
  static const char *const default_hosts[] = {"*/*"};
  json_t *o = json_object();
  const sc_egress_listener_t *api = l->api;
  json_object_set_new(o, "port", api && api->has_port ? json_integer(api->port.number) : json_null());
  json_object_set_new(o, "bind", api && api->bind.len ? jstr(api->bind) : json_null());
  json_t *hosts = json_array();
  if (api != NULL)
    for (uint32_t i = 0; i < api->hosts.n; i++)
      json_array_append_new(hosts, jstr(api->hosts.items[i]));
  else
    json_array_append_new(hosts, json_string(default_hosts[0]));
  json_object_set_new(o, "hosts", hosts);
  json_t *svcs = json_array();
  for (uint32_t i = 0; i < l->services.n; i++)
    json_array_append_new(svcs, jstr(((const sc_svc_t *)l->services.items[i])->hostname));
  json_object_set_new(o, "services", svcs);
  json_t *vss = json_array();
  for (uint32_t i = 0; i < l->vss.n; i++)
    json_array_append_new(vss, obj_ref(l->vss.items[i]));
  json_object_set_new(o, "virtualServices", vss);
  return o;
}

/* "destinationRules": every rule found for each host; "destinationRuleEntries": the
 * consolidated entries with their selectors, which `resolve` needs (6.3). */
static void render_drs(const sc_scope_t *s, json_t *root) {
  json_t *flat = json_object(), *entries = json_object();
  for (uint32_t i = 0; i < s->services.n; i++) {
    const sc_svc_t *svc = s->services.items[i];
    const sc_vec_t *list = s->drs[i];
    json_t *names = json_array(), *ents = json_array();
    for (uint32_t j = 0; list && j < list->n; j++) {
      const sc_cdr_t *c = list->items[j];
      json_t *from = json_array();
      for (uint32_t k = 0; k < c->from.n; k++) {
        json_t *ref = obj_ref(c->from.items[k]);
        bool seen = false;
        for (size_t x = 0; x < json_array_size(names) && !seen; x++)
          seen = json_equal(json_array_get(names, x), ref);
        if (!seen)
          json_array_append(names, ref);
        json_array_append_new(from, ref);
      }
      json_t *e = json_object();
      json_object_set_new(e, "namespace", jstr(c->rule->namespace_));
      json_object_set_new(e, "selector", c->selector ? labels_json(c->selector) : json_null());
      json_object_set_new(e, "from", from);
      json_array_append_new(ents, e);
    }
    json_object_set_new(flat, svc->hostname.ptr, names);
    json_object_set_new(entries, svc->hostname.ptr, ents);
  }
  json_object_set_new(root, "destinationRules", flat);
  json_object_set_new(root, "destinationRuleEntries", entries);
}

static const char *const kind_names[] = {"resource", "root-derived", "default"};

static json_t *render_scope(const sc_scope_t *s, const char *id, sc_str_t shown_ns) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(id));
  json_object_set_new(o, "namespace", jstr(shown_ns));
  json_object_set_new(o, "sidecar", s->sidecar ? obj_ref(s->sidecar) : json_null());
  json_object_set_new(o, "version", json_string(""));
  json_object_set_new(o, "kind", json_string(kind_names[s->kind]));
  json_object_set_new(o, "services", render_services(&s->services));
  json_t *ls = json_array();
  for (uint32_t i = 0; i < s->nlisteners; i++)
    json_array_append_new(ls, render_listener(&s->listeners[i]));
  json_object_set_new(o, "egressListeners", ls);
  render_drs(s, o);
  json_object_set_new(o, "outboundTrafficPolicy", json_string(sc_outbound_mode_name(s->outbound_mode)));
  if (s->egress_proxy != NULL) {
    json_t *ep = json_object();
    json_object_set_new(ep, "host", jstr(s->egress_proxy->host));
    json_object_set_new(ep, "subset", jstr(s->egress_proxy->subset));
    json_object_set_new(ep, "port", json_integer(s->egress_proxy->port));
    json_object_set_new(o, "egressProxy", ep);
  }
  json_t *deps = json_array();
  for (uint32_t i = 0; i < s->deps.n; i++) {
    const char *d = s->deps.items[i];
    /* The stand-in namespace never names a dependency, but keep output clean anyway. */
    json_array_append_new(deps, json_string(d));
  }
  json_object_set_new(o, "dependencies", deps);
  return o;
}

/* Renders compactly; the version is the content hash of the record rendered with an
 * empty version, spliced into that text (rendering twice would double the cost). */
static int finish_record(json_t *o, const char *key, sc_record_t *out) {
  char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (text == NULL)
    return SC_ENOMEM;
  size_t len = strlen(text);
  uint64_t h = XXH3_64bits(text, len);
  static const char placeholder[] = "\"version\":\"\"";
  char *at = json_object_get(o, "version") ? strstr(text, placeholder) : NULL;
  if (at != NULL) {
    char *with = malloc(len + 17);
    if (with == NULL) {
      free(text);
      return SC_ENOMEM;
    }
    size_t head = (size_t)(at - text) + sizeof(placeholder) - 2; /* up to the opening quote */
    memcpy(with, text, head);
    snprintf(with + head, 17, "%016" PRIx64, h);
    memcpy(with + head + 16, text + head, len - head + 1);
    free(text);
    text = with;
    len += 16;
  }
  out->json = text;
  out->key = strdup(key);
  if (out->key == NULL)
    return SC_ENOMEM;
  out->len = len;
  out->hash = h;
  return 0;
}

typedef struct {
  const sc_world_t *w;
  sc_scopeset_t *set;
  size_t cap_scopes, cap_selectors;
} build_t;

static sc_record_t *next_record(sc_record_t **arr, size_t *n, size_t *cap) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 64;
    sc_record_t *p = realloc(*arr, c * sizeof(*p));
    if (p == NULL)
      return NULL;
    *arr = p;
    *cap = c;
  }
  sc_record_t *r = &(*arr)[(*n)++];
  memset(r, 0, sizeof(*r));
  return r;
}

static int add_scope(build_t *b, sc_scope_kind_t kind, const sc_obj_t *sidecar, sc_str_t ns,
                     const char *id) {
  sc_scope_t *s;
  bool other = sc_str_eqz(ns, SC_OTHER_NAMESPACES);
  int rc = sc_scope_compute(b->w, kind, sidecar, other ? other_ns : ns, &s);
  if (rc != 0)
    return rc;
  json_t *o = render_scope(s, id, ns);
  sc_scope_free(s);
  sc_record_t *r = next_record(&b->set->scopes, &b->set->nscopes, &b->cap_scopes);
  rc = o && r ? finish_record(o, id, r) : SC_ENOMEM;
  json_decref(o);
  return rc;
}

/* The fallback of a namespace without an applicable selector-less Sidecar (4.3). */
static void fallback_id(const sc_world_t *w, sc_str_t ns, char *buf, size_t len) {
  if (w->root_sidecar != NULL)
    snprintf(buf, len, "%s/%s@%s", ns.ptr, w->root_sidecar->name.ptr, w->root_sidecar->namespace_.ptr);
  else
    snprintf(buf, len, "%s/@default", ns.ptr);
}

static int add_fallback(build_t *b, sc_str_t ns, const char *id) {
  const sc_world_t *w = b->w;
  if (w->root_sidecar != NULL)
    return add_scope(b, SC_SCOPE_ROOT_DERIVED, w->root_sidecar, ns, id);
  return add_scope(b, SC_SCOPE_DEFAULT, NULL, ns, id);
}

/* The selector record of ns: its Sidecars in precedence order, then the fallback. */
static int add_selectors(build_t *b, sc_str_t ns, const sc_vec_t *sidecars) {
  json_t *list = json_array();
  bool catch_all = false;
  char id[600];
  for (uint32_t i = 0; sidecars && i < sidecars->n && !catch_all; i++) {
    const sc_obj_t *sc = sidecars->items[i];
    json_t *e = json_object();
    snprintf(id, sizeof(id), "%s/%s", sc->namespace_.ptr, sc->name.ptr);
    json_object_set_new(e, "scope", json_string(id));
    json_object_set_new(e, "selector", sc->u.sidecar.has_workload_selector
                                           ? labels_json(&sc->u.sidecar.workload_selector)
                                           : json_null());
    json_array_append_new(list, e);
    catch_all = !sc->u.sidecar.has_workload_selector; /* later ones are never reached */
  }
  int rc = 0;
  if (!catch_all) {
    fallback_id(b->w, ns, id, sizeof(id));
    json_t *e = json_object();
    json_object_set_new(e, "scope", json_string(id));
    json_object_set_new(e, "selector", json_null());
    json_array_append_new(list, e);
    rc = add_fallback(b, ns, id);
  }
  json_t *o = json_object();
  json_object_set_new(o, "namespace", jstr(ns));
  json_object_set_new(o, "scopes", list);
  sc_record_t *r = next_record(&b->set->selectors, &b->set->nselectors, &b->cap_selectors);
  char key[300];
  snprintf(key, sizeof(key), "%s", ns.ptr);
  if (rc == 0)
    rc = r ? finish_record(o, key, r) : SC_ENOMEM;
  json_decref(o);
  return rc;
}

int sc_scopeset_compute(const sc_world_t *w, sc_scopeset_t *out) {
  memset(out, 0, sizeof(*out));
  build_t b = {w, out, 0, 0};
  int rc = 0;
  char id[600];
  for (uint32_t i = 0; i < w->sidecars.n && rc == 0; i++) {
    const sc_obj_t *sc = w->sidecars.items[i];
    snprintf(id, sizeof(id), "%s/%s", sc->namespace_.ptr, sc->name.ptr);
    rc = add_scope(&b, SC_SCOPE_RESOURCE, sc, sc->namespace_, id);
  }
  for (uint32_t i = 0; i < w->namespaces.n && rc == 0; i++) {
    sc_str_t ns = *(const sc_str_t *)w->namespaces.items[i];
    rc = add_selectors(&b, ns, sc__strmap_get(&w->sidecars_by_ns, ns));
  }
  if (rc == 0)
    rc = add_selectors(&b, sc_str(SC_OTHER_NAMESPACES), NULL);
  if (rc != 0)
    sc_scopeset_free(out);
  return rc;
}

static void free_records(sc_record_t *r, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(r[i].key);
    free(r[i].json);
  }
  free(r);
}

void sc_scopeset_free(sc_scopeset_t *set) {
  free_records(set->scopes, set->nscopes);
  free_records(set->selectors, set->nselectors);
  memset(set, 0, sizeof(*set));
}
