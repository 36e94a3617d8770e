/* Enumerating and rendering every scope, and the per-namespace selector records. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <yajl/yajl_gen.h>

#include "scope.h"
#include "scopeset.h"

/* Internal stand-in for "any namespace the config does not mention": no object, exportTo
 * or Sidecar host can name it, so the scope computed for it is the one every such
 * namespace gets. */
static const sc_str_t other_ns = {"#other", 6};

/* Records are written with yajl's streaming generator: scopes can hold thousands of
 * services, and building a document tree first would cost more than computing them. */
typedef yajl_gen gen_t;

static void g_str(gen_t g, sc_str_t s) { yajl_gen_string(g, (const unsigned char *)s.ptr, s.len); }
static void g_cstr(gen_t g, const char *s) {
  yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}
static void g_key(gen_t g, const char *k) { g_cstr(g, k); }

static void g_ref(gen_t g, sc_str_t ns, sc_str_t name) {
  char buf[600];
  int n = snprintf(buf, sizeof(buf), "%s/%s", ns.ptr, name.ptr);
  yajl_gen_string(g, (const unsigned char *)buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
}

static void g_obj_ref(gen_t g, const sc_obj_t *o) { g_ref(g, o->namespace_, o->name); }

static void g_labels(gen_t g, const sc_labels_t *l) {
  yajl_gen_map_open(g);
  for (uint32_t i = 0; l && i < l->n; i++) {
    g_str(g, l->items[i].key);
    g_str(g, l->items[i].value);
  }
  yajl_gen_map_close(g);
}

static void render_services(gen_t g, const sc_vec_t *svcs) {
  yajl_gen_array_open(g);
  for (uint32_t i = 0; i < svcs->n; i++) {
    const sc_svc_t *s = svcs->items[i];
    yajl_gen_map_open(g);
    g_key(g, "hostname");
    g_str(g, s->hostname);
    g_key(g, "namespace");
    g_str(g, s->namespace_);
    g_key(g, "ports");
    yajl_gen_array_open(g);
    for (uint32_t p = 0; p < s->nports; p++) {
      yajl_gen_map_open(g);
      g_key(g, "port");
      yajl_gen_integer(g, s->ports[p].port);
      g_key(g, "name");
      g_str(g, s->ports[p].name);
      g_key(g, "protocol");
      g_cstr(g, sc_protocol_name(s->ports[p].protocol));
      yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    if (s->naliases > 0) {
      g_key(g, "aliases");
      yajl_gen_array_open(g);
      for (uint32_t a = 0; a < s->naliases; a++)
        g_ref(g, s->aliases[a].namespace_, s->aliases[a].hostname);
      yajl_gen_array_close(g);
    }
    g_key(g, "registry");
    g_cstr(g, s->registry == SC_REGISTRY_KUBERNETES ? "Kubernetes" : "External");
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
}

static void render_listener(gen_t g, const sc_listener_t *l) {
  const sc_egress_listener_t *api = l->api;
  yajl_gen_map_open(g);
  g_key(g, "port");
  if (api && api->has_port)
    yajl_gen_integer(g, api->port.number);
  else
    yajl_gen_null(g);
  g_key(g, "bind");
  if (api && api->bind.len)
    g_str(g, api->bind);
  else
    yajl_gen_null(g);
  g_key(g, "hosts");
  yajl_gen_array_open(g);
  if (api != NULL)
    for (uint32_t i = 0; i < api->hosts.n; i++)
      g_str(g, api->hosts.items[i]);
  else
    g_cstr(g, "*/*");
  yajl_gen_array_close(g);
  g_key(g, "services");
  yajl_gen_array_open(g);
  for (uint32_t i = 0; i < l->services.n; i++)
    g_str(g, ((const sc_svc_t *)l->services.items[i])->hostname);
  yajl_gen_array_close(g);
  g_key(g, "virtualServices");
  yajl_gen_array_open(g);
  for (uint32_t i = 0; i < l->vss.n; i++)
    g_obj_ref(g, l->vss.items[i]);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
}

static bool from_seen_before(const sc_vec_t *list, uint32_t upto_entry, uint32_t upto_from,
                             const sc_obj_t *dr) {
  for (uint32_t j = 0; j <= upto_entry; j++) {
    const sc_cdr_t *c = list->items[j];
    uint32_t n = j == upto_entry ? upto_from : c->from.n;
    for (uint32_t k = 0; k < n; k++)
      if (c->from.items[k] == dr)
        return true;
  }
  return false;
}

/* "destinationRules": every rule found for each service's host ([] when none); and
 * "destinationRuleEntries": the consolidated entries with their selectors, which
 * `resolve` needs (6.3), only for hosts that have any. */
static void render_drs(gen_t g, const sc_scope_t *s) {
  g_key(g, "destinationRules");
  yajl_gen_map_open(g);
  for (uint32_t i = 0; i < s->services.n; i++) {
    const sc_vec_t *list = s->drs[i];
    g_str(g, ((const sc_svc_t *)s->services.items[i])->hostname);
    yajl_gen_array_open(g);
    for (uint32_t j = 0; list && j < list->n; j++) {
      const sc_cdr_t *c = list->items[j];
      for (uint32_t k = 0; k < c->from.n; k++)
        if (!from_seen_before(list, j, k, c->from.items[k]))
          g_obj_ref(g, c->from.items[k]);
    }
    yajl_gen_array_close(g);
  }
  yajl_gen_map_close(g);
  g_key(g, "destinationRuleEntries");
  yajl_gen_map_open(g);
  for (uint32_t i = 0; i < s->services.n; i++) {
    const sc_vec_t *list = s->drs[i];
    if (list == NULL || list->n == 0)
      continue;
    g_str(g, ((const sc_svc_t *)s->services.items[i])->hostname);
    yajl_gen_array_open(g);
    for (uint32_t j = 0; j < list->n; j++) {
      const sc_cdr_t *c = list->items[j];
      yajl_gen_map_open(g);
      g_key(g, "namespace");
      g_str(g, c->rule->namespace_);
      g_key(g, "selector");
      if (c->selector)
        g_labels(g, c->selector);
      else
        yajl_gen_null(g);
      g_key(g, "from");
      yajl_gen_array_open(g);
      for (uint32_t k = 0; k < c->from.n; k++)
        g_obj_ref(g, c->from.items[k]);
      yajl_gen_array_close(g);
      yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
  }
  yajl_gen_map_close(g);
}

static void render_ingress(gen_t g, const sc_obj_t *sidecar) {
  static const char *const capture[] = {"DEFAULT", "IPTABLES", "NONE"};
  g_key(g, "ingressListeners");
  yajl_gen_array_open(g);
  const sc_sidecar_t *sc = sidecar ? &sidecar->u.sidecar : NULL;
  for (uint32_t i = 0; sc && i < sc->ningress; i++) {
    const sc_ingress_listener_t *in = &sc->ingress[i];
    yajl_gen_map_open(g);
    g_key(g, "port");
    yajl_gen_integer(g, in->port.number);
    g_key(g, "protocol");
    g_cstr(g, sc_protocol_name(in->port.protocol));
    g_key(g, "name");
    g_str(g, in->port.name);
    g_key(g, "bind");
    if (in->bind.len)
      g_str(g, in->bind);
    else
      yajl_gen_null(g);
    g_key(g, "captureMode");
    g_cstr(g, capture[in->capture_mode]);
    g_key(g, "defaultEndpoint");
    if (in->default_endpoint.len)
      g_str(g, in->default_endpoint);
    else
      yajl_gen_null(g);
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
}

static const char *const kind_names[] = {"resource", "root-derived", "default"};
#define VERSION_PLACEHOLDER "0000000000000000"

static void render_scope(gen_t g, const sc_scope_t *s, const char *id, sc_str_t shown_ns) {
  yajl_gen_map_open(g);
  g_key(g, "id");
  g_cstr(g, id);
  g_key(g, "namespace");
  g_str(g, shown_ns);
  g_key(g, "sidecar");
  if (s->sidecar)
    g_obj_ref(g, s->sidecar);
  else
    yajl_gen_null(g);
  g_key(g, "version");
  g_cstr(g, VERSION_PLACEHOLDER);
  g_key(g, "kind");
  g_cstr(g, kind_names[s->kind]);
  g_key(g, "services");
  render_services(g, &s->services);
  g_key(g, "egressListeners");
  yajl_gen_array_open(g);
  for (uint32_t i = 0; i < s->nlisteners; i++)
    render_listener(g, &s->listeners[i]);
  yajl_gen_array_close(g);
  render_ingress(g, s->sidecar);
  render_drs(g, s);
  g_key(g, "outboundTrafficPolicy");
  g_cstr(g, sc_outbound_mode_name(s->outbound_mode));
  if (s->egress_proxy != NULL) {
    g_key(g, "egressProxy");
    yajl_gen_map_open(g);
    g_key(g, "host");
    g_str(g, s->egress_proxy->host);
    g_key(g, "subset");
    g_str(g, s->egress_proxy->subset);
    g_key(g, "port");
    yajl_gen_integer(g, s->egress_proxy->port);
    yajl_gen_map_close(g);
  }
  g_key(g, "dependencies");
  yajl_gen_array_open(g);
  for (uint32_t i = 0; i < s->deps.n; i++)
    g_cstr(g, s->deps.items[i]);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
}

/* Takes the generated text. A scope's version is the content hash of the record with the
 * placeholder version, written over the placeholder (same width, so nothing moves);
 * "changedAt" is appended after hashing, so it is not part of the content. */
static int finish_record(gen_t g, const char *key, bool versioned, uint64_t changed_at,
                         sc_record_t *out) {
  const unsigned char *text;
  size_t len;
  memset(out, 0, sizeof(*out));
  if (yajl_gen_get_buf(g, &text, &len) != yajl_gen_status_ok)
    return SC_ENOMEM;
  out->json = malloc(len + 40);
  out->key = strdup(key);
  if (out->json == NULL || out->key == NULL)
    return SC_ENOMEM;
  memcpy(out->json, text, len);
  out->json[len] = '\0';
  out->hash = XXH3_64bits(out->json, len);
  if (versioned) {
    char *at = strstr(out->json, "\"version\":\"" VERSION_PLACEHOLDER "\"");
    if (at != NULL) {
      char v[17];
      snprintf(v, sizeof(v), "%016" PRIx64, out->hash);
      memcpy(at + strlen("\"version\":\""), v, 16);
    }
  }
  if (changed_at > 0 && len > 0 && out->json[len - 1] == '}')
    len += (size_t)snprintf(out->json + len - 1, 40, ",\"changedAt\":%" PRIu64 "}", changed_at) - 1;
  out->len = len;
  return 0;
}

static gen_t new_gen(void) {
  gen_t g = yajl_gen_alloc(NULL);
  if (g != NULL)
    yajl_gen_config(g, yajl_gen_validate_utf8, 0); /* inputs were validated at ingest */
  return g;
}

/* The first fields of a scope record; with the service count and changedAt it is the
 * scope_index record (what `scopes` lists without loading whole scopes). A shared scope's
 * record is this head with "sameAs". */
typedef struct {
  const sc_scope_desc_t *d;
  uint64_t version;
  const char *same_as;
  bool summary;
  uint32_t services;
  uint64_t changed_at;
} head_t;

static void render_head(gen_t g, const head_t *h) {
  char version[17];
  snprintf(version, sizeof(version), "%016" PRIx64, h->version);
  yajl_gen_map_open(g);
  g_key(g, "id");
  g_cstr(g, h->d->id);
  g_key(g, "namespace");
  g_str(g, h->d->ns);
  g_key(g, "sidecar");
  if (h->d->sidecar)
    g_obj_ref(g, h->d->sidecar);
  else
    yajl_gen_null(g);
  g_key(g, "version");
  g_cstr(g, version);
  g_key(g, "kind");
  g_cstr(g, kind_names[h->d->kind]);
  if (h->same_as != NULL) {
    g_key(g, "sameAs");
    g_cstr(g, h->same_as);
  }
  if (h->summary) {
    g_key(g, "services");
    yajl_gen_integer(g, h->services);
    if (h->changed_at > 0) {
      g_key(g, "changedAt");
      yajl_gen_integer(g, (long long)h->changed_at);
    }
  }
  yajl_gen_map_close(g);
}

static int set_summary(sc_record_t *rec, head_t h) {
  gen_t g = new_gen();
  if (g == NULL)
    return SC_ENOMEM;
  h.summary = true;
  render_head(g, &h);
  const unsigned char *text;
  size_t len;
  int rc = SC_ENOMEM;
  if (yajl_gen_get_buf(g, &text, &len) == yajl_gen_status_ok && (rec->summary = malloc(len + 1))) {
    memcpy(rec->summary, text, len);
    rec->summary[len] = '\0';
    rec->summary_len = len;
    rec->services = h.services;
    rc = 0;
  }
  yajl_gen_free(g);
  return rc;
}

int sc_scope_render(const sc_world_t *w, const sc_scope_desc_t *d, uint64_t changed_at,
                    sc_record_t *rec, sc_keys_t *keys) {
  sc_scope_t *s;
  bool other = sc_str_eqz(d->ns, SC_OTHER_NAMESPACES);
  int rc = sc_scope_compute(w, d->kind, d->sidecar, other ? other_ns : d->ns, &s);
  if (rc != 0)
    return rc;
  gen_t g = new_gen();
  rc = SC_ENOMEM;
  if (g != NULL) {
    render_scope(g, s, d->id, d->ns);
    rc = finish_record(g, d->id, true, changed_at, rec);
    yajl_gen_free(g);
  }
  if (rc == 0)
    rc = set_summary(rec, (head_t){d, rec->hash, NULL, true, s->services.n, changed_at});
  if (rc == 0 && keys != NULL) {
    *keys = s->keys; /* hand the keys over */
    s->keys = (sc_keys_t){NULL, 0, 0};
  }
  sc_scope_free(s);
  if (rc != 0)
    sc_record_free(rec);
  return rc;
}

int sc_scope_render_shared(const sc_scope_desc_t *d, const sc_record_t *target,
                           uint64_t changed_at, sc_record_t *rec) {
  head_t h = {d, target->hash, target->key, false, target->services, changed_at};
  gen_t g = new_gen();
  int rc = SC_ENOMEM;
  memset(rec, 0, sizeof(*rec));
  if (g != NULL) {
    render_head(g, &h);
    rc = finish_record(g, d->id, false, changed_at, rec);
    yajl_gen_free(g);
  }
  if (rc == 0)
    rc = set_summary(rec, h);
  if (rc != 0)
    sc_record_free(rec);
  return rc;
}

/* ---- the plan ------------------------------------------------------------------------------ */

typedef struct {
  const sc_world_t *w;
  sc_scope_plan_t *plan;
  size_t cap_scopes, cap_selectors;
} plan_build_t;

static int add_desc(plan_build_t *b, const char *id, sc_scope_kind_t kind, const sc_obj_t *sidecar,
                    sc_str_t ns, const char *same_as) {
  sc_scope_plan_t *p = b->plan;
  if (p->nscopes == b->cap_scopes) {
    size_t cap = b->cap_scopes ? b->cap_scopes * 2 : 64;
    sc_scope_desc_t *d = realloc(p->scopes, cap * sizeof(*d));
    if (d == NULL)
      return SC_ENOMEM;
    p->scopes = d;
    b->cap_scopes = cap;
  }
  char *copy = strdup(id), *same = same_as ? strdup(same_as) : NULL;
  if (copy == NULL || (same_as != NULL && same == NULL)) {
    free(copy);
    free(same);
    return SC_ENOMEM;
  }
  p->scopes[p->nscopes++] = (sc_scope_desc_t){copy, kind, sidecar, ns, same};
  return 0;
}

/* The fallback of a namespace without an applicable selector-less Sidecar (4.3). */
static void fallback_id(const sc_world_t *w, sc_str_t ns, char *buf, size_t len) {
  if (w->root_sidecar != NULL)
    snprintf(buf, len, "%s/%s@%s", ns.ptr, w->root_sidecar->name.ptr, w->root_sidecar->namespace_.ptr);
  else
    snprintf(buf, len, "%s/@default", ns.ptr);
}

/* The selector record of ns: its Sidecars in precedence order, then the fallback. */
static int add_selectors(plan_build_t *b, sc_str_t ns, const sc_vec_t *sidecars) {
  gen_t g = new_gen();
  if (g == NULL)
    return SC_ENOMEM;
  yajl_gen_map_open(g);
  g_key(g, "namespace");
  g_str(g, ns);
  g_key(g, "scopes");
  yajl_gen_array_open(g);
  bool catch_all = false;
  char id[600];
  for (uint32_t i = 0; sidecars && i < sidecars->n && !catch_all; i++) {
    const sc_obj_t *sc = sidecars->items[i];
    yajl_gen_map_open(g);
    g_key(g, "scope");
    g_obj_ref(g, sc);
    g_key(g, "selector");
    if (sc->u.sidecar.has_workload_selector)
      g_labels(g, &sc->u.sidecar.workload_selector);
    else
      yajl_gen_null(g);
    yajl_gen_map_close(g);
    catch_all = !sc->u.sidecar.has_workload_selector; /* later ones are never reached */
  }
  int rc = 0;
  if (!catch_all) {
    const sc_world_t *w = b->w;
    fallback_id(w, ns, id, sizeof(id));
    yajl_gen_map_open(g);
    g_key(g, "scope");
    g_cstr(g, id);
    g_key(g, "selector");
    yajl_gen_null(g);
    yajl_gen_map_close(g);
    /* A plain namespace's fallback is the "*" fallback under its own name. */
    char other[600];
    bool plain = !sc_str_eqz(ns, SC_OTHER_NAMESPACES) && sc_world_ns_plain(w, ns);
    if (plain)
      fallback_id(w, sc_str(SC_OTHER_NAMESPACES), other, sizeof(other));
    rc = w->root_sidecar
             ? add_desc(b, id, SC_SCOPE_ROOT_DERIVED, w->root_sidecar, ns, plain ? other : NULL)
             : add_desc(b, id, SC_SCOPE_DEFAULT, NULL, ns, plain ? other : NULL);
  }
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
  sc_scope_plan_t *p = b->plan;
  if (rc == 0 && p->nselectors == b->cap_selectors) {
    size_t cap = b->cap_selectors ? b->cap_selectors * 2 : 64;
    sc_record_t *r = realloc(p->selectors, cap * sizeof(*r));
    if (r == NULL)
      rc = SC_ENOMEM;
    else
      p->selectors = r, b->cap_selectors = cap;
  }
  if (rc == 0) {
    char key[300];
    snprintf(key, sizeof(key), "%s", ns.ptr);
    rc = finish_record(g, key, false, 0, &p->selectors[p->nselectors]);
    if (rc == 0)
      p->nselectors++;
  }
  yajl_gen_free(g);
  return rc;
}

static int cmp_desc(const void *a, const void *b) {
  return strcmp(((const sc_scope_desc_t *)a)->id, ((const sc_scope_desc_t *)b)->id);
}

static int cmp_record(const void *a, const void *b) {
  return strcmp(((const sc_record_t *)a)->key, ((const sc_record_t *)b)->key);
}

int sc_scope_plan(const sc_world_t *w, sc_scope_plan_t *out) {
  memset(out, 0, sizeof(*out));
  plan_build_t b = {w, out, 0, 0};
  int rc = 0;
  char id[600];
  for (uint32_t i = 0; i < w->sidecars.n && rc == 0; i++) {
    const sc_obj_t *sc = w->sidecars.items[i];
    snprintf(id, sizeof(id), "%s/%s", sc->namespace_.ptr, sc->name.ptr);
    rc = add_desc(&b, id, SC_SCOPE_RESOURCE, sc, sc->namespace_, NULL);
  }
  for (uint32_t i = 0; i < w->namespaces.n && rc == 0; i++) {
    sc_str_t ns = *(const sc_str_t *)w->namespaces.items[i];
    rc = add_selectors(&b, ns, sc__strmap_get(&w->sidecars_by_ns, ns));
  }
  if (rc == 0)
    rc = add_selectors(&b, sc_str(SC_OTHER_NAMESPACES), NULL);
  if (rc != 0) {
    sc_scope_plan_free(out);
    return rc;
  }
  if (out->nscopes > 1)
    qsort(out->scopes, out->nscopes, sizeof(*out->scopes), cmp_desc);
  if (out->nselectors > 1)
    qsort(out->selectors, out->nselectors, sizeof(*out->selectors), cmp_record);
  return 0;
}

void sc_record_free(sc_record_t *r) {
  free(r->key);
  free(r->json);
  free(r->summary);
  memset(r, 0, sizeof(*r));
}

void sc_scope_plan_free(sc_scope_plan_t *p) {
  for (size_t i = 0; i < p->nscopes; i++) {
    free(p->scopes[i].id);
    free(p->scopes[i].same_as);
  }
  free(p->scopes);
  for (size_t i = 0; i < p->nselectors; i++)
    sc_record_free(&p->selectors[i]);
  free(p->selectors);
  memset(p, 0, sizeof(*p));
}

int sc_scopeset_compute(const sc_world_t *w, sc_scopeset_t *out) {
  memset(out, 0, sizeof(*out));
  sc_scope_plan_t plan;
  int rc = sc_scope_plan(w, &plan);
  if (rc != 0)
    return rc;
  out->scopes = calloc(plan.nscopes ? plan.nscopes : 1, sizeof(sc_record_t));
  if (out->scopes == NULL) {
    sc_scope_plan_free(&plan);
    return SC_ENOMEM;
  }
  out->nscopes = plan.nscopes; /* zeroed records are safe to free on failure */
  /* Scopes with content of their own first, then the ones that share it. */
  for (int pass = 0; pass < 2 && rc == 0; pass++) {
    for (size_t i = 0; i < plan.nscopes && rc == 0; i++) {
      const sc_scope_desc_t *d = &plan.scopes[i];
      if ((d->same_as != NULL) != (pass == 1))
        continue;
      if (d->same_as == NULL) {
        rc = sc_scope_render(w, d, 0, &out->scopes[i], NULL);
      } else {
        const sc_record_t *target = NULL;
        for (size_t j = 0; j < plan.nscopes && target == NULL; j++)
          if (out->scopes[j].key != NULL && strcmp(out->scopes[j].key, d->same_as) == 0)
            target = &out->scopes[j];
        rc = target ? sc_scope_render_shared(d, target, 0, &out->scopes[i]) : SC_EINVAL;
      }
    }
  }
  /* The selector records move over to the result. */
  out->selectors = plan.selectors;
  out->nselectors = plan.nselectors;
  plan.selectors = NULL;
  plan.nselectors = 0;
  sc_scope_plan_free(&plan);
  if (rc != 0)
    sc_scopeset_free(out);
  return rc;
}

static void free_records(sc_record_t *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    sc_record_free(&r[i]);
  free(r);
}

void sc_scopeset_free(sc_scopeset_t *set) {
  free_records(set->scopes, set->nscopes);
  free_records(set->selectors, set->nselectors);
  memset(set, 0, sizeof(*set));
}
