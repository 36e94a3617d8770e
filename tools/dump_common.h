/* What the commands of scopecast-dump share: printing JSON and strings of records. */
#ifndef SC_DUMP_COMMON_H
#define SC_DUMP_COMMON_H

#include <jansson.h>

/* Prints v indented, keys in their order, and releases it. 0, or 1 (said why). */
int sc_dump_print_json(json_t *v);

/* The string v, or "-" when it is not one. */
const char *sc_dump_or_none(json_t *v);

#endif
