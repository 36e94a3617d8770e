#include <xxhash.h>

#include "store/mem.h"
#include "scopecast/error.h"
#include "store/strmap.h"

void sc__strmap_init(sc_strmap_t *m) {
  sc__hashmap_init(&m->map);
  m->n = 0;
}

void sc__strmap_free(sc_strmap_t *m, void (*free_value)(void *value)) {
  for (size_t i = 0; i < m->map.cap; i++) {
    sc_strmap_entry_t *e = m->map.values[i];
    while (e != NULL) {
      sc_strmap_entry_t *next = e->next;
      if (free_value != NULL)
        free_value(e->value);
      sc__free(e);
      e = next;
    }
  }
  sc__hashmap_free(&m->map);
  m->n = 0;
}

void *sc__strmap_get(const sc_strmap_t *m, sc_str_t key) {
  for (sc_strmap_entry_t *e = sc__hashmap_get(&m->map, XXH3_64bits(key.ptr, key.len)); e;
       e = e->next)
    if (sc_str_eq(e->key, key))
      return e->value;
  return NULL;
}

int sc__strmap_put(sc_strmap_t *m, sc_str_t key, void *value) {
  uint64_t h = XXH3_64bits(key.ptr, key.len);
  sc_strmap_entry_t *head = sc__hashmap_get(&m->map, h);
  for (sc_strmap_entry_t *e = head; e; e = e->next) {
    if (sc_str_eq(e->key, key)) {
      e->value = value;
      return 0;
    }
  }
  sc_strmap_entry_t *e = sc__malloc(sizeof(*e));
  if (e == NULL)
    return SC_ENOMEM;
  e->key = key;
  e->value = value;
  e->next = head;
  if (sc__hashmap_put(&m->map, h, e) != 0) {
    sc__free(e);
    return SC_ENOMEM;
  }
  m->n++;
  return 0;
}

void sc__strmap_foreach(const sc_strmap_t *m, void (*cb)(void *arg, sc_str_t key, void *value),
                        void *arg) {
  for (size_t i = 0; i < m->map.cap; i++)
    for (sc_strmap_entry_t *e = m->map.values[i]; e; e = e->next)
      cb(arg, e->key, e->value);
}

void *sc__strmap_remove(sc_strmap_t *m, sc_str_t key) {
  uint64_t h = XXH3_64bits(key.ptr, key.len);
  sc_strmap_entry_t *head = sc__hashmap_get(&m->map, h), *prev = NULL;
  for (sc_strmap_entry_t *e = head; e; prev = e, e = e->next) {
    if (!sc_str_eq(e->key, key))
      continue;
    void *value = e->value;
    if (prev != NULL)
      prev->next = e->next;
    else if (e->next != NULL)
      sc__hashmap_put(&m->map, h, e->next); /* replaces in place: cannot fail */
    else
      sc__hashmap_remove(&m->map, h);
    sc__free(e);
    m->n--;
    return value;
  }
  return NULL;
}
