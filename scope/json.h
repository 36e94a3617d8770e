/* Helpers for the JSON records the snapshot stores (scope heads, entries, selectors),
 * written with yajl's streaming generator. Shared by the plan (scope/plan.c) and the
 * rendering of scopes (publish/render.c). */
#ifndef SC_JSON_H
#define SC_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "scopecast/config.h"

/* A generator that does not re-validate UTF-8 (inputs were validated at ingest). */
yajl_gen sc__json_new(void);
/* A malloc'd, NUL-terminated copy of the generated text, with room for extra bytes. */
char *sc__json_text(yajl_gen g, size_t extra, size_t *len);
/* A keyed record of the generated text: the text (*json, *len), a copy of key (*key_out)
 * and the text's XXH3-64 (*hash); SC_ENOMEM with *json and *key_out NULL. */
int sc__json_record(yajl_gen g, const char *key, char **key_out, char **json, size_t *len,
                    uint64_t *hash);

void sc__json_str(yajl_gen g, sc_str_t s);
void sc__json_cstr(yajl_gen g, const char *s);
void sc__json_key(yajl_gen g, const char *k);
/* "ns/name" */
void sc__json_ref(yajl_gen g, sc_str_t ns, sc_str_t name);
void sc__json_obj_ref(yajl_gen g, const sc_obj_t *o);
/* {"key": "value", ...} */
void sc__json_labels(yajl_gen g, const sc_labels_t *l);

#endif
