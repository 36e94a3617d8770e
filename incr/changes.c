/* What a batch's changes emit (see changes.h). */
#include <string.h>

#include "incr/changes.h"
#include "store/mem.h"

static const sc_str_t none = {"", 0};

/* ---- a batch's changes ------------------------------------------------------------------ */

void sc__changes_init(sc_changes_t *c) {
  memset(c, 0, sizeof(*c));
  sc__strmap_init(&c->host_set);
  sc__strmap_init(&c->endpoint_ns);
  sc__strmap_init(&c->flip_set);
}

void sc__changes_finish(sc_changes_t *c) {
  sc__deps_keys_finish(&c->full);
  sc__deps_keys_finish(&c->patch);
}

void sc__changes_free(sc_changes_t *c) {
  sc__deps_keys_free(&c->full);
  sc__deps_keys_free(&c->patch);
  for (uint32_t i = 0; i < c->hosts.n; i++)
    sc__free(c->hosts.items[i]);
  sc__vec_free(&c->hosts);
  for (uint32_t i = 0; i < c->objects.n; i++)
    sc_obj_unref(c->objects.items[i]);
  sc__vec_free(&c->objects);
  sc__strmap_free(&c->host_set, NULL);
  for (uint32_t i = 0; i < c->endpoint_ns_names.n; i++)
    sc__free(c->endpoint_ns_names.items[i]);
  sc__vec_free(&c->endpoint_ns_names);
  sc__strmap_free(&c->endpoint_ns, NULL);
  for (uint32_t i = 0; i < c->flip_hosts.n; i++)
    sc__free(c->flip_hosts.items[i]);
  sc__vec_free(&c->flip_hosts);
  sc__strmap_free(&c->flip_set, NULL);
}

/* Adds s to a set of strings: the map holds owned copies, the vector owns them. */
static int add_to_set(sc_strmap_t *set, sc_vec_t *owned, sc_str_t s) {
  if (sc__strmap_get(set, s) != NULL)
    return 0;
  sc_str_t *copy = sc__malloc(sizeof(*copy) + s.len + 1);
  if (copy == NULL)
    return SC_ENOMEM;
  char *text = (char *)(copy + 1);
  memcpy(text, s.ptr, s.len);
  text[s.len] = '\0';
  *copy = (sc_str_t){text, s.len};
  if (sc__vec_push(owned, copy) != 0) {
    sc__free(copy);
    return SC_ENOMEM;
  }
  return sc__strmap_put(set, *copy, copy);
}

static int add_host(sc_changes_t *c, sc_str_t host) {
  return add_to_set(&c->host_set, &c->hosts, host);
}

/* ---- emitted keys ------------------------------------------------------------------------- */

/* Keys by visibility: "*" is public, "." the own namespace, a name that namespace; a set
 * with "~" and not "*" hides (docs/semantics.md "Visibility"). ns_kind/any_kind take (ns, N) and
 * (N); the public kinds take (ns) and nothing. */
static int emit_visibility(sc_keys_t *out, const sc_strlist_t *e, sc_str_t ns, bool tilde_hides,
                           sc_dep_kind_t ns_vis, sc_dep_kind_t ns_pub, sc_dep_kind_t any_vis,
                           sc_dep_kind_t any_pub) {
  if (sc_strlist_hasz(e, "*"))
    return sc__deps_keys_add(out, sc__deps_key(ns_pub, ns, none)) ||
           sc__deps_keys_add(out, sc__deps_key(any_pub, none, none));
  if (tilde_hides && sc_strlist_hasz(e, "~"))
    return 0;
  for (uint32_t i = 0; i < e->n; i++) {
    sc_str_t v = sc_str_eqz(e->items[i], ".") ? ns : e->items[i];
    if (sc__deps_keys_add(out, sc__deps_key(ns_vis, ns, v)) || sc__deps_keys_add(out, sc__deps_key(any_vis, v, none)))
      return SC_ENOMEM;
  }
  return 0;
}

static int emit_service(const sc_obj_t *o, const sc_mesh_config_t *mesh, const sc_strlist_t *hosts,
                        const sc_strlist_t *export_to, sc_keys_t *out) {
  int rc = sc__deps_keys_add(out, sc__deps_key(SC_DEP_SVC_NS_ANY, o->namespace_, none));
  for (uint32_t i = 0; i < hosts->n && rc == 0; i++) {
    rc = sc__deps_keys_add(out, sc__deps_key(SC_DEP_SVC_EXACT, o->namespace_, hosts->items[i]));
    if (rc == 0)
      rc = sc__deps_keys_add(out, sc__deps_key(SC_DEP_SVC_HOST, hosts->items[i], none));
  }
  const sc_strlist_t *e = export_to->n ? export_to : &mesh->default_service_export_to;
  return rc ? rc
            : emit_visibility(out, e, o->namespace_, true, SC_DEP_SVC_NS_VIS, SC_DEP_SVC_NS_PUBLIC,
                              SC_DEP_SVC_ANY_VIS, SC_DEP_SVC_ANY_PUBLIC);
}

/* The keys of the DestinationRule indexes the rule is filed in (docs/semantics.md "Visibility"). */
static int emit_destination_rule(const sc_obj_t *o, const sc_mesh_config_t *mesh, sc_keys_t *out) {
  sc_dr_placement_t p;
  sc__world_dr_placement(o, mesh, &p);
  sc_str_t ns = o->namespace_, host = o->u.destination_rule.host;
  bool wild = host.len > 0 && host.ptr[0] == '*';
  int rc = 0;
  if (p.local)
    rc = sc__deps_keys_add(out, wild ? sc__deps_key(SC_DEP_DR_LOCAL_WILD, ns, none)
                               : sc__deps_key(SC_DEP_DR_LOCAL_HOST, ns, host));
  if (rc == 0 && p.exported)
    rc = sc__deps_keys_add(out, wild ? sc__deps_key(SC_DEP_DR_EXP_WILD, ns, none)
                               : sc__deps_key(SC_DEP_DR_EXP_HOST, ns, host));
  if (rc == 0 && p.root_local)
    rc = sc__deps_keys_add(out, wild ? sc__deps_key(SC_DEP_DR_ROOT_WILD, none, none)
                               : sc__deps_key(SC_DEP_DR_ROOT_HOST, host, none));
  if (rc == 0 && p.local)
    rc = sc__deps_keys_add(out, sc__deps_key(SC_DEP_DR_LOCAL_ANY, ns, none));
  for (uint32_t i = 0; p.exported && !sc_strlist_hasz(p.export_to, "*") && i < p.export_to->n && rc == 0; i++) {
    sc_str_t v = p.export_to->items[i];
    if (!sc_str_eqz(v, ".") && !sc_str_eqz(v, "~"))
      rc = sc__deps_keys_add(out, sc__deps_key(SC_DEP_DR_NAMED, v, none));
  }
  return rc;
}

/* The hostnames an object's effect on scopes is limited to: a Service or ServiceEntry
 * changes only the entries of its hostnames, a DestinationRule for an exact host only
 * that host's. NULL list: not limited (ExternalName services change the aliases of
 * other hostnames, wildcard rules cover many; VirtualServices, Sidecars and the mesh
 * config shape whole scopes). */
static const sc_strlist_t *hosts_of(const sc_obj_t *o, sc_strlist_t *one) {
  switch (o->kind) {
  case SC_KIND_SERVICE:
    if (o->u.service.external_name.len > 0)
      return NULL;
    *one = (sc_strlist_t){1, (sc_str_t *)&o->u.service.hostname};
    return one;
  case SC_KIND_SERVICE_ENTRY:
    return &o->u.service_entry.hosts;
  case SC_KIND_DESTINATION_RULE: {
    sc_str_t host = o->u.destination_rule.host;
    if (host.len == 0 || host.ptr[0] == '*')
      return NULL;
    *one = (sc_strlist_t){1, (sc_str_t *)&o->u.destination_rule.host};
    return one;
  }
  default:
    return NULL;
  }
}

static int emit(const sc_obj_t *o, const sc_mesh_config_t *mesh, sc_keys_t *out) {
  switch (o->kind) {
  case SC_KIND_SERVICE: {
    sc_strlist_t hosts = {1, (sc_str_t *)&o->u.service.hostname};
    int rc = emit_service(o, mesh, &hosts, &o->u.service.export_to, out);
    /* An ExternalName service changes the aliases of what it points at. */
    if (rc == 0 && o->u.service.external_name.len > 0)
      rc = sc__deps_keys_add(out, sc__deps_key(SC_DEP_SVC_HOST, o->u.service.external_name, none));
    return rc;
  }
  case SC_KIND_SERVICE_ENTRY:
    return emit_service(o, mesh, &o->u.service_entry.hosts, &o->u.service_entry.export_to, out);
  case SC_KIND_VIRTUAL_SERVICE: {
    /* Normalised at ingest: "." already means the own namespace. */
    const sc_strlist_t *e = o->u.virtual_service.export_to.n ? &o->u.virtual_service.export_to
                                                             : &mesh->default_virtual_service_export_to;
    return emit_visibility(out, e, o->namespace_, true, SC_DEP_VS_NS_VIS, SC_DEP_VS_NS_PUBLIC,
                           SC_DEP_VS_ANY_VIS, SC_DEP_VS_ANY_PUBLIC);
  }
  case SC_KIND_DESTINATION_RULE:
    return emit_destination_rule(o, mesh, out);
  case SC_KIND_SIDECAR:
    return sc__deps_keys_add(out, sc__deps_object(SC_KIND_SIDECAR, o->namespace_, o->name));
  case SC_KIND_MESH_CONFIG:
    return sc__deps_keys_add(out, sc__deps_key(SC_DEP_MESH, none, none));
  default: /* Namespaces only change which scopes exist; Pods and endpoints no scope */
    return 0;
  }
}

/* Objects that mention namespace ns: its Namespace object and everything in it. */
static size_t namespace_objects(const sc_store_t *store, sc_str_t ns) {
  size_t n = sc_store_get(store, SC_KIND_NAMESPACE, none, ns) != NULL;
  for (int k = 0; k < SC_KIND__COUNT; k++)
    if (k != SC_KIND_NAMESPACE)
      n += sc_store_list_namespace(store, (sc_kind_t)k, ns).n;
  return n;
}

/* Objects of the kinds that give a namespace content of its own (world.h rich_ns). */
static size_t content_objects(const sc_store_t *store, sc_str_t ns) {
  static const sc_kind_t kinds[] = {SC_KIND_SERVICE, SC_KIND_SERVICE_ENTRY,
                                    SC_KIND_VIRTUAL_SERVICE, SC_KIND_DESTINATION_RULE,
                                    SC_KIND_SIDECAR};
  size_t n = 0;
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    n += sc_store_list_namespace(store, kinds[i], ns).n;
  return n;
}

/* Whether every namespace o names (exportTo, sourceNamespace) other than its own has
 * content of its own, so that naming it changes neither which namespaces exist nor which
 * ones share content. */
static bool names_covered(const sc_store_t *store, const sc_obj_t *o) {
  const sc_strlist_t *exports = NULL;
  if (o->kind == SC_KIND_SERVICE)
    exports = &o->u.service.export_to;
  else if (o->kind == SC_KIND_SERVICE_ENTRY)
    exports = &o->u.service_entry.export_to;
  else if (o->kind == SC_KIND_DESTINATION_RULE)
    exports = &o->u.destination_rule.export_to;
  else if (o->kind == SC_KIND_VIRTUAL_SERVICE)
    exports = &o->u.virtual_service.export_to;
  for (uint32_t i = 0; exports && i < exports->n; i++) {
    sc_str_t x = exports->items[i];
    if (sc_str_eqz(x, "*") || sc_str_eqz(x, ".") || sc_str_eqz(x, "~") || sc_str_eq(x, o->namespace_))
      continue;
    if (content_objects(store, x) == 0)
      return false;
  }
  if (o->kind == SC_KIND_VIRTUAL_SERVICE)
    for (uint32_t r = 0; r < o->u.virtual_service.nhttp; r++)
      for (uint32_t m = 0; m < o->u.virtual_service.http[r].nmatch; m++) {
        sc_str_t x = o->u.virtual_service.http[r].match[m].source_namespace;
        if (x.len > 0 && !sc_str_eq(x, o->namespace_) && content_objects(store, x) == 0)
          return false;
      }
  return true;
}

/* Whether a change can alter which scopes exist or which namespaces share content
 * (world.h: namespaces, rich_ns; Sidecars). A Service, ServiceEntry, VirtualService or
 * DestinationRule cannot when its namespace has content before and after it, and every
 * namespace its old and new versions name has content of its own. */
static bool dirties_plan(const sc_store_t *store, const sc_change_t *c, const sc_obj_t *o) {
  if (o->kind == SC_KIND_POD || o->kind == SC_KIND_ENDPOINT_SLICE) {
    if (c->op == SC_CHANGE_UPDATED)
      return false;
    /* The store already holds the change: a namespace came with its first object or
     * went with its last one. */
    size_t left = namespace_objects(store, o->namespace_);
    return (c->op == SC_CHANGE_ADDED && left == 1) || (c->op == SC_CHANGE_DELETED && left == 0);
  }
  if (o->kind == SC_KIND_SIDECAR && c->op == SC_CHANGE_UPDATED) {
    /* Which scopes exist and which proxies they select depend on a Sidecar's name,
     * namespace, selector and creation time, not on its listeners. */
    const sc_sidecar_t *a = &c->old_obj->u.sidecar, *b = &c->new_obj->u.sidecar;
    return a->has_workload_selector != b->has_workload_selector ||
           !sc_labels_equal(&a->workload_selector, &b->workload_selector) ||
           c->old_obj->creation_time != c->new_obj->creation_time;
  }
  if (o->kind != SC_KIND_SERVICE && o->kind != SC_KIND_SERVICE_ENTRY &&
      o->kind != SC_KIND_VIRTUAL_SERVICE && o->kind != SC_KIND_DESTINATION_RULE)
    return true;
  size_t own = content_objects(store, o->namespace_); /* after the change */
  if ((c->op == SC_CHANGE_ADDED && own < 2) || (c->op == SC_CHANGE_DELETED && own < 1))
    return true;
  return (c->old_obj != NULL && !names_covered(store, c->old_obj)) ||
         (c->new_obj != NULL && !names_covered(store, c->new_obj));
}

static bool same_strlist(const sc_strlist_t *a, const sc_strlist_t *b) {
  if (a->n != b->n)
    return false;
  for (uint32_t i = 0; i < a->n; i++)
    if (!sc_str_eq(a->items[i], b->items[i]))
      return false;
  return true;
}

/* Every hostname a Service or ServiceEntry makes (an ExternalName service's too). */
static const sc_strlist_t *service_hosts(const sc_obj_t *o, sc_strlist_t *one) {
  if (o->kind == SC_KIND_SERVICE_ENTRY)
    return &o->u.service_entry.hosts;
  *one = (sc_strlist_t){1, (sc_str_t *)&o->u.service.hostname};
  return one;
}

static const sc_strlist_t *export_of(const sc_obj_t *o) {
  return o->kind == SC_KIND_SERVICE ? &o->u.service.export_to : &o->u.service_entry.export_to;
}

/* Whether a Service or ServiceEntry version has port number `port`. */
static bool has_port_number(const sc_obj_t *o, uint32_t port) {
  bool se = o->kind == SC_KIND_SERVICE_ENTRY;
  uint32_t n = se ? o->u.service_entry.nports : o->u.service.nports;
  for (uint32_t i = 0; i < n; i++)
    if ((se ? o->u.service_entry.ports[i].number : o->u.service.ports[i].port) == port)
      return true;
  return false;
}

/* Whether the change of a service's ports can make it appear in or vanish from an egress
 * listener with a port (which imports a service only through that port): some Sidecar has
 * such a listener on a port one version has and the other has not. */
static bool ports_flip(const sc_store_t *store, const sc_obj_t *a, const sc_obj_t *b) {
  sc_obj_list_t sidecars = sc_store_list(store, SC_KIND_SIDECAR);
  for (size_t i = 0; i < sidecars.n; i++) {
    const sc_sidecar_t *sc = &sidecars.items[i]->u.sidecar;
    for (uint32_t l = 0; l < sc->negress; l++) {
      const sc_egress_listener_t *el = &sc->egress[l];
      if (el->has_port && has_port_number(a, el->port.number) != has_port_number(b, el->port.number))
        return true;
    }
  }
  return false;
}

/* The hostnames of a Service or ServiceEntry change whose service may appear in or vanish
 * from a scope (or from one of its port-specific egress listeners): all of them unless
 * only the spec's details changed. */
static int note_flips(const sc_store_t *store, const sc_change_t *c, sc_changes_t *out) {
  const sc_obj_t *objs[2] = {c->old_obj, c->new_obj};
  const sc_obj_t *o = c->new_obj ? c->new_obj : c->old_obj;
  if (o->kind != SC_KIND_SERVICE && o->kind != SC_KIND_SERVICE_ENTRY)
    return 0;
  if (c->old_obj != NULL && c->new_obj != NULL) {
    sc_strlist_t a1, b1;
    const sc_strlist_t *ha = service_hosts(c->old_obj, &a1), *hb = service_hosts(c->new_obj, &b1);
    if (same_strlist(ha, hb) && same_strlist(export_of(c->old_obj), export_of(c->new_obj)) &&
        !ports_flip(store, c->old_obj, c->new_obj))
      return 0;
  }
  int rc = sc__deps_keys_add(&out->patch, sc__deps_key(SC_DEP_SVC_PRESENCE_ANY, none, none));
  for (int k = 0; k < 2 && rc == 0; k++) {
    sc_strlist_t one;
    const sc_strlist_t *hosts = objs[k] ? service_hosts(objs[k], &one) : NULL;
    for (uint32_t i = 0; hosts && i < hosts->n && rc == 0; i++) {
      rc = add_to_set(&out->flip_set, &out->flip_hosts, hosts->items[i]);
      if (rc == 0)
        rc = sc__deps_keys_add(&out->patch, sc__deps_key(SC_DEP_SVC_PRESENCE, hosts->items[i], none));
    }
  }
  return rc;
}

static int note_object(const sc_obj_t *o, const sc_mesh_config_t *mesh, sc_changes_t *out) {
  sc_strlist_t one;
  const sc_strlist_t *hosts = hosts_of(o, &one);
  int rc = emit(o, mesh, hosts ? &out->patch : &out->full);
  for (uint32_t i = 0; hosts && i < hosts->n && rc == 0; i++)
    rc = add_host(out, hosts->items[i]);
  return rc;
}

int sc__changes_note(const sc_store_t *store, const sc_change_t *c, sc_changes_t *out) {
  const sc_mesh_config_t *mesh = sc_store_mesh(store);
  const sc_obj_t *o = c->new_obj ? c->new_obj : c->old_obj;
  if (o == NULL)
    return 0; /* a no-op */
  int rc = 0;
  if (c->old_obj != NULL)
    rc = note_object(c->old_obj, mesh, out);
  if (rc == 0 && c->new_obj != NULL)
    rc = note_object(c->new_obj, mesh, out);
  out->world_parts |= sc__world_parts_of_kind(o->kind);
  if (rc == 0)
    rc = note_flips(store, c, out);
  if (rc == 0 && (o->kind == SC_KIND_SERVICE || o->kind == SC_KIND_SERVICE_ENTRY ||
                  o->kind == SC_KIND_ENDPOINT_SLICE || o->kind == SC_KIND_POD))
    rc = add_to_set(&out->endpoint_ns, &out->endpoint_ns_names, o->namespace_);
  if (rc == 0 && (o->kind == SC_KIND_SERVICE || o->kind == SC_KIND_SERVICE_ENTRY ||
                  o->kind == SC_KIND_VIRTUAL_SERVICE || o->kind == SC_KIND_DESTINATION_RULE)) {
    rc = sc__vec_push(&out->objects, (void *)o);
    if (rc == 0)
      sc_obj_ref((sc_obj_t *)o);
  }
  if (dirties_plan(store, c, o)) {
    out->plan_dirty = true;
    out->world_parts |= 1u << SC_WORLD_PART_NAMESPACES;
  }
  return rc;
}
