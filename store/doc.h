/* A small document tree built from libyaml events or from jansson values, so that the
 * typed decoders do not care which syntax an object came in. Every node remembers where
 * it started (YAML nodes exactly; JSON nodes carry the position of the whole value). */
#ifndef SC_DOC_H
#define SC_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/arena.h"
#include "scopecast/store.h"

typedef enum { SC_NODE_SCALAR = 0, SC_NODE_MAP, SC_NODE_SEQ } sc_node_type_t;

typedef struct sc_node_s sc_node_t;
struct sc_node_s {
  uint8_t type;
  /* Scalars: a quoted YAML scalar or a JSON string is a string, never a number, bool or
   * null; a plain scalar's type follows from its text. */
  bool quoted;
  uint32_t len;      /* scalar length, or number of children */
  uint64_t line;     /* 1-based */
  uint64_t column;   /* 1-based, 0 when unknown */
  uint64_t offset;   /* byte offset in the source */
  const char *text;  /* scalar text, NUL-terminated */
  sc_node_t **items; /* seq: len items; map: 2*len items, key then value */
};

typedef struct {
  sc_arena_t *arena;
  sc_node_t *root;
} sc_doc_t;

typedef struct {
  uint64_t base_line;   /* line of buf[0] */
  uint64_t base_offset; /* offset of buf[0] */
  unsigned max_depth;
} sc_doc_opts_t;

/* Error position and message of a failed parse. */
typedef struct {
  uint64_t line, column, offset;
  char reason[256];
} sc_doc_error_t;

/* Parses exactly one YAML document from buf (no "---" separators inside; see
 * sc__doc_yaml_split). *doc->root is NULL for an empty document. */
int sc__doc_parse_yaml(const char *buf, size_t len, const sc_doc_opts_t *opts, sc_doc_t *doc,
                       sc_doc_error_t *err);
/* Parses one JSON value starting at buf; *consumed says how many bytes it used (trailing
 * whitespace excluded), so concatenated values can be parsed one after the other. */
int sc__doc_parse_json(const char *buf, size_t len, const sc_doc_opts_t *opts, sc_doc_t *doc,
                       size_t *consumed, sc_doc_error_t *err);
void sc__doc_free(sc_doc_t *doc);

/* Calls cb for each document of a YAML stream, split at lines that start with "---" or
 * "...", with the line and offset where each begins. Stops when cb returns non-zero. */
typedef int (*sc_yaml_chunk_cb)(void *arg, const char *p, size_t n, uint64_t line,
                                uint64_t offset);
int sc__doc_yaml_split(const char *buf, size_t len, sc_yaml_chunk_cb cb, void *arg);

/* Map lookup by key (NULL when absent). */
const sc_node_t *sc__doc_map_get(const sc_node_t *map, const char *key);
/* Whether a node is YAML/JSON null (plain "null", "~", "" or JSON null). */
bool sc__doc_node_is_null(const sc_node_t *n);

#endif
