#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "scope/json.h"
#include "store/mem.h"
#include "scopecast/error.h"

/* JSON record text (see json.h). Records are written with yajl's streaming generator: scopes can hold thousands of
 * services, and building a document tree first would cost more than computing them. */
void sc__json_str(yajl_gen g, sc_str_t s) { yajl_gen_string(g, (const unsigned char *)s.ptr, s.len); }
void sc__json_cstr(yajl_gen g, const char *s) {
  yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}
void sc__json_key(yajl_gen g, const char *k) { sc__json_cstr(g, k); }

void sc__json_ref(yajl_gen g, sc_str_t ns, sc_str_t name) {
  char buf[600];
  int n = snprintf(buf, sizeof(buf), "%s/%s", ns.ptr, name.ptr);
  yajl_gen_string(g, (const unsigned char *)buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
}

void sc__json_obj_ref(yajl_gen g, const sc_obj_t *o) { sc__json_ref(g, o->namespace_, o->name); }

void sc__json_labels(yajl_gen g, const sc_labels_t *l) {
  yajl_gen_map_open(g);
  for (uint32_t i = 0; l && i < l->n; i++) {
    sc__json_str(g, l->items[i].key);
    sc__json_str(g, l->items[i].value);
  }
  yajl_gen_map_close(g);
}
yajl_gen sc__json_new(void) {
  yajl_gen g = yajl_gen_alloc(NULL);
  if (g != NULL)
    yajl_gen_config(g, yajl_gen_validate_utf8, 0); /* inputs were validated at ingest */
  return g;
}

/* A malloc'd, NUL-terminated copy of the generated text, with room for extra bytes. */
char *sc__json_text(yajl_gen g, size_t extra, size_t *len) {
  const unsigned char *text;
  if (yajl_gen_get_buf(g, &text, len) != yajl_gen_status_ok)
    return NULL;
  char *out = sc__malloc(*len + extra + 1);
  if (out != NULL) {
    memcpy(out, text, *len);
    out[*len] = '\0';
  }
  return out;
}


int sc__json_record(yajl_gen g, const char *key, char **key_out, char **json, size_t *len,
                    uint64_t *hash) {
  *json = sc__json_text(g, 0, len);
  *key_out = sc__strdup(key);
  if (*json == NULL || *key_out == NULL) {
    sc__free(*json);
    sc__free(*key_out);
    *json = *key_out = NULL;
    *len = 0;
    return SC_ENOMEM;
  }
  *hash = XXH3_64bits(*json, *len);
  return 0;
}
