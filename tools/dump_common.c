/* What the commands of scopecast-dump share (dump_common.h). */
#include "dump_common.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/mem.h"
#include "wire/pbjson.h"
#include "wire/registry.h"

int sc_dump_print_json(json_t *v) {
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

const char *sc_dump_or_none(json_t *v) { return json_is_string(v) ? json_string_value(v) : "-"; }

json_t *sc_dump_resource_json(const sc_resource_t *res, int type, bool raw) {
  const sc_xds_type_info_t *t = &sc_xds_types[type];
  if (raw) {
    char *b64 = sc__pbjson_base64(res->bytes, res->len);
    json_t *o = json_pack("{s:s, s:s, s:s}", "name", res->name, "type_url", t->type_url, "bytes", b64 ? b64 : "");
    sc__free(b64);
    return o;
  }
  json_t *decoded = NULL;
  if (sc__pbjson_decode(t->descriptor, res->bytes, res->len, &sc_xds_registry, &decoded) != 0) {
    fprintf(stderr, "scopecast-dump: resource %s does not decode as %s\n", res->name, t->descriptor->name);
    return NULL;
  }
  json_t *typed = json_pack("{s:s}", "@type", t->type_url); /* first, as Envoy prints it */
  json_object_update(typed, decoded);
  json_decref(decoded);
  return json_pack("{s:s, s:s, s:o}", "name", res->name, "version", res->version, "resource", typed);
}

int sc_dump_print_resources(json_t *list, const char *version_info, bool json, bool raw) {
  size_t i;
  json_t *x;
  if (raw) { /* one object per line, for tools */
    json_array_foreach(list, i, x) {
      char *line = json_dumps(x, JSON_COMPACT | JSON_PRESERVE_ORDER);
      if (line != NULL)
        printf("%s\n", line);
      free(line);
    }
    json_decref(list);
    return 0;
  }
  if (json)
    return sc_dump_print_json(json_pack("{s:s, s:o}", "version_info", version_info, "resources", list));
  printf("%-72s %s\n", "NAME", "VERSION");
  json_array_foreach(list, i, x) printf("%-72s %s\n", sc_dump_or_none(json_object_get(x, "name")),
                                        sc_dump_or_none(json_object_get(x, "version")));
  json_decref(list);
  return 0;
}
