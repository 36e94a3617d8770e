/* Which scopes exist and the selector records (see plan.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scope/json.h"
#include "scope/plan.h"
#include "store/array.h"
#include "store/mem.h"
#include "scopecast/error.h"

const sc_scope_desc_t sc_base_desc = {(char *)SC_BASE_ID, SC_SCOPE_DEFAULT, NULL,
                                      {SC_OTHER_NAMESPACES, 1}, NULL};

/* A selector record from the generated text. */
static int finish_selector(yajl_gen g, const char *key, sc_selector_t *out) {
  memset(out, 0, sizeof(*out));
  return sc__json_record(g, key, &out->key, &out->json, &out->len, &out->hash);
}

void sc__plan_selector_free(sc_selector_t *s) {
  sc__free(s->key);
  sc__free(s->json);
  memset(s, 0, sizeof(*s));
}

typedef struct {
  const sc_world_t *w;
  sc_scope_plan_t *plan;
  size_t cap_scopes, cap_selectors;
} plan_build_t;

static int add_desc(plan_build_t *b, const char *id, sc_scope_kind_t kind, const sc_obj_t *sidecar,
                    sc_str_t ns, const char *same_as) {
  sc_scope_plan_t *p = b->plan;
  if (sc__array_reserve((void **)&p->scopes, &b->cap_scopes, p->nscopes, 1, sizeof(*p->scopes)) != 0)
    return SC_ENOMEM;
  char *copy = sc__strdup(id), *same = same_as ? sc__strdup(same_as) : NULL;
  char *ns_copy = sc__strndup(ns.ptr, ns.len);
  if (copy == NULL || ns_copy == NULL || (same_as != NULL && same == NULL)) {
    sc__free(copy);
    sc__free(same);
    sc__free(ns_copy);
    return SC_ENOMEM;
  }
  p->scopes[p->nscopes++] =
      (sc_scope_desc_t){copy, kind, sidecar, (sc_str_t){ns_copy, ns.len}, same};
  return 0;
}

/* The fallback of a namespace without an applicable selector-less Sidecar. */
static void fallback_id(const sc_world_t *w, sc_str_t ns, char *buf, size_t len) {
  if (w->root_sidecar != NULL)
    snprintf(buf, len, "%s/%s@%s", ns.ptr, w->root_sidecar->name.ptr, w->root_sidecar->namespace_.ptr);
  else
    snprintf(buf, len, "%s/@default", ns.ptr);
}

/* The selector record of ns: its Sidecars in precedence order, then the fallback. */
static int add_selectors(plan_build_t *b, sc_str_t ns, const sc_vec_t *sidecars) {
  yajl_gen g = sc__json_new();
  if (g == NULL)
    return SC_ENOMEM;
  yajl_gen_map_open(g);
  sc__json_key(g, "namespace");
  sc__json_str(g, ns);
  sc__json_key(g, "scopes");
  yajl_gen_array_open(g);
  bool catch_all = false;
  char id[600];
  for (uint32_t i = 0; sidecars && i < sidecars->n && !catch_all; i++) {
    const sc_obj_t *sc = sidecars->items[i];
    yajl_gen_map_open(g);
    sc__json_key(g, "scope");
    sc__json_obj_ref(g, sc);
    sc__json_key(g, "selector");
    if (sc->u.sidecar.has_workload_selector)
      sc__json_labels(g, &sc->u.sidecar.workload_selector);
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
    sc__json_key(g, "scope");
    sc__json_cstr(g, id);
    sc__json_key(g, "selector");
    yajl_gen_null(g);
    yajl_gen_map_close(g);
    /* A plain namespace's fallback is the "*" fallback under its own name. */
    char other[600];
    bool plain = !sc_str_eqz(ns, SC_OTHER_NAMESPACES) && sc__world_ns_plain(w, ns);
    if (plain)
      fallback_id(w, sc_str(SC_OTHER_NAMESPACES), other, sizeof(other));
    rc = w->root_sidecar
             ? add_desc(b, id, SC_SCOPE_ROOT_DERIVED, w->root_sidecar, ns, plain ? other : NULL)
             : add_desc(b, id, SC_SCOPE_DEFAULT, NULL, ns, plain ? other : NULL);
  }
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
  sc_scope_plan_t *p = b->plan;
  if (rc == 0)
    rc = sc__array_reserve((void **)&p->selectors, &b->cap_selectors, p->nselectors, 1,
                           sizeof(*p->selectors));
  if (rc == 0) {
    char key[300];
    snprintf(key, sizeof(key), "%s", ns.ptr);
    rc = finish_selector(g, key, &p->selectors[p->nselectors]);
    if (rc == 0)
      p->nselectors++;
  }
  yajl_gen_free(g);
  return rc;
}

static int cmp_desc(const void *a, const void *b) {
  return strcmp(((const sc_scope_desc_t *)a)->id, ((const sc_scope_desc_t *)b)->id);
}

static int cmp_selector(const void *a, const void *b) {
  return strcmp(((const sc_selector_t *)a)->key, ((const sc_selector_t *)b)->key);
}

int sc__plan_compute(const sc_world_t *w, sc_scope_plan_t *out) {
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
    sc__plan_free(out);
    return rc;
  }
  if (out->nscopes > 1)
    qsort(out->scopes, out->nscopes, sizeof(*out->scopes), cmp_desc);
  if (out->nselectors > 1)
    qsort(out->selectors, out->nselectors, sizeof(*out->selectors), cmp_selector);
  return 0;
}

void sc__plan_free(sc_scope_plan_t *p) {
  for (size_t i = 0; i < p->nscopes; i++) {
    sc__free(p->scopes[i].id);
    sc__free(p->scopes[i].same_as);
    sc__free((char *)p->scopes[i].ns.ptr);
  }
  sc__free(p->scopes);
  for (size_t i = 0; i < p->nselectors; i++)
    sc__plan_selector_free(&p->selectors[i]);
  sc__free(p->selectors);
  memset(p, 0, sizeof(*p));
}
