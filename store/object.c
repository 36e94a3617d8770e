#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "store/arena.h"
#include "store/object.h"
#include "scopecast/config.h"

static const char *const kind_names[SC_KIND__COUNT] = {
    [SC_KIND_SERVICE] = "Service",
    [SC_KIND_ENDPOINT_SLICE] = "EndpointSlice",
    [SC_KIND_NAMESPACE] = "Namespace",
    [SC_KIND_POD] = "Pod",
    [SC_KIND_SERVICE_ENTRY] = "ServiceEntry",
    [SC_KIND_VIRTUAL_SERVICE] = "VirtualService",
    [SC_KIND_DESTINATION_RULE] = "DestinationRule",
    [SC_KIND_SIDECAR] = "Sidecar",
    [SC_KIND_MESH_CONFIG] = "MeshConfig",
};

const char *sc_kind_name(sc_kind_t kind) {
  return (unsigned)kind < SC_KIND__COUNT ? kind_names[kind] : "Unknown";
}

bool sc_kind_is_namespaced(sc_kind_t kind) { return kind != SC_KIND_NAMESPACE; }

const char *sc_outbound_mode_name(sc_outbound_mode_t m) {
  switch (m) {
  case SC_OUTBOUND_REGISTRY_ONLY:
    return "REGISTRY_ONLY";
  case SC_OUTBOUND_ALLOW_ANY:
    return "ALLOW_ANY";
  case SC_OUTBOUND_ALLOW_ANY_DYNAMIC_DNS:
    return "ALLOW_ANY_DYNAMIC_DNS";
  }
  return "UNKNOWN";
}

uint64_t sc_config_key_hash(sc_kind_t kind, sc_str_t ns, sc_str_t name) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  uint8_t k = (uint8_t)kind;
  XXH3_64bits_update(&st, &k, 1);
  XXH3_64bits_update(&st, ns.ptr, ns.len);
  XXH3_64bits_update(&st, "", 1);
  XXH3_64bits_update(&st, name.ptr, name.len);
  return XXH3_64bits_digest(&st);
}

sc_obj_t *sc__obj_new(sc_kind_t kind, size_t size_hint) {
  sc_arena_t *arena = sc__arena_new(size_hint < 1024 ? 1024 : size_hint);
  if (arena == NULL)
    return NULL;
  sc_obj_t *obj = sc__arena_alloc(arena, sizeof(*obj));
  if (obj == NULL) {
    sc__arena_del(arena);
    return NULL;
  }
  obj->kind = kind;
  obj->name = (sc_str_t){"", 0};
  obj->namespace_ = (sc_str_t){"", 0};
  obj->refcount_ = 1;
  obj->arena_ = arena;
  return obj;
}

sc_obj_t *sc_obj_new_key(sc_kind_t kind, sc_str_t ns, sc_str_t name) {
  sc_obj_t *obj = sc__obj_new(kind, 256);
  if (obj == NULL)
    return NULL;
  if (sc__arena_str(obj->arena_, ns.ptr, ns.len, &obj->namespace_) != 0 ||
      sc__arena_str(obj->arena_, name.ptr, name.len, &obj->name) != 0) {
    sc_obj_unref(obj);
    return NULL;
  }
  obj->key_hash = sc_config_key_hash(kind, obj->namespace_, obj->name);
  return obj;
}

sc_obj_t *sc_obj_ref(sc_obj_t *obj) {
  if (obj != NULL)
    obj->refcount_++;
  return obj;
}

size_t sc_obj_bytes(const sc_obj_t *obj) { return sc__arena_bytes(obj->arena_); }

void sc_obj_unref(sc_obj_t *obj) {
  if (obj == NULL || --obj->refcount_ > 0)
    return;
  sc__arena_del(obj->arena_); /* the object lives in its own arena */
}

const sc_str_t *sc_labels_get(const sc_labels_t *labels, const char *key) {
  sc_str_t k = sc_str(key);
  /* Sorted by key: binary search. */
  uint32_t lo = 0, hi = labels->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    const sc_str_t *mk = &labels->items[mid].key;
    size_t n = mk->len < k.len ? mk->len : k.len;
    int c = memcmp(mk->ptr, k.ptr, n);
    if (c == 0)
      c = (mk->len > k.len) - (mk->len < k.len);
    if (c == 0)
      return &labels->items[mid].value;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

int sc_str_cmp(sc_str_t a, sc_str_t b) {
  size_t n = a.len < b.len ? a.len : b.len;
  int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
  return c ? c : (a.len > b.len) - (a.len < b.len);
}

bool sc_strlist_has(const sc_strlist_t *l, sc_str_t v) {
  for (uint32_t i = 0; i < l->n; i++)
    if (sc_str_eq(l->items[i], v))
      return true;
  return false;
}

bool sc_strlist_set_equal(const sc_strlist_t *a, const sc_strlist_t *b) {
  for (uint32_t i = 0; i < a->n; i++)
    if (!sc_strlist_has(b, a->items[i]))
      return false;
  for (uint32_t i = 0; i < b->n; i++)
    if (!sc_strlist_has(a, b->items[i]))
      return false;
  return true;
}

bool sc_labels_within(const sc_labels_t *want, const sc_labels_t *have) {
  for (uint32_t i = 0; want && i < want->n; i++) {
    bool found = false;
    for (uint32_t j = 0; have && j < have->n && !found; j++)
      found = sc_str_eq(want->items[i].key, have->items[j].key) &&
              sc_str_eq(want->items[i].value, have->items[j].value);
    if (!found)
      return false;
  }
  return true;
}

bool sc_labels_equal(const sc_labels_t *a, const sc_labels_t *b) {
  uint32_t an = a ? a->n : 0, bn = b ? b->n : 0;
  if (an != bn)
    return false;
  for (uint32_t i = 0; i < an; i++) /* both sorted by key */
    if (!sc_str_eq(a->items[i].key, b->items[i].key) ||
        !sc_str_eq(a->items[i].value, b->items[i].value))
      return false;
  return true;
}
