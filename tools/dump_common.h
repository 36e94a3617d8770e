/* What the commands of scopecast-dump share: printing JSON, strings of records, and the
 * resources a proxy gets (`resources` reads them from the snapshot, `fetch` from a
 * frontend; both print them alike). */
#ifndef SC_DUMP_COMMON_H
#define SC_DUMP_COMMON_H

#include <jansson.h>
#include <stdbool.h>

#include "scopecast/reader.h"

/* Prints v indented, keys in their order, and releases it. 0, or 1 (said why). */
int sc_dump_print_json(json_t *v);

/* The string v, or "-" when it is not one. */
const char *sc_dump_or_none(json_t *v);

/* One resource of type (sc_xds_type_t) as printed: Envoy's config_dump shape ({"name",
 * "version", "resource": {"@type", ...}}, decoded with xds/pbjson), or with raw {"name",
 * "type_url", "bytes" (base64)}. NULL (said why) when the bytes do not decode as the type. */
json_t *sc_dump_resource_json(const sc_resource_t *res, int type, bool raw);

/* Prints a list of sc_dump_resource_json objects (taken) with the type's version_info:
 * aligned NAME and VERSION columns, or (json) {"version_info", "resources"}, or (raw) one
 * compact object per line. 0, or 1 (said why). */
int sc_dump_print_resources(json_t *list, const char *version_info, bool json, bool raw);

#endif
