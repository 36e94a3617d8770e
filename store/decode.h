/* Schema-driven decoding of document trees into the typed structs of config.h.
 *
 * Each kind is described by tables of sc_field_t (schema_k8s.c, schema_istio.c,
 * schema_mesh.c). One walker checks types and ranges, runs per-field checks, fills the
 * struct, tracks the field path for error messages and feeds every decoded value into the
 * object's spec hash, so the hash covers exactly what scopecast reads and is independent
 * of key order and syntax. */
#ifndef SC_DECODE_H
#define SC_DECODE_H

#include <stddef.h>
#include <stdint.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "store/arena.h"
#include "store/doc.h"
#include "scopecast/store.h"

typedef enum {
  SC_F_END = 0,
  SC_F_STR,           /* sc_str_t */
  SC_F_U32,           /* uint32_t in [min,max]; absent: def */
  SC_F_I32,           /* int32_t in [min,max]; absent: def */
  SC_F_BOOL,          /* bool */
  SC_F_TRI,           /* sc_tri_t */
  SC_F_DOUBLE,        /* double in [min,max]; absent: SC_UNSET_DBL */
  SC_F_PERCENT,       /* {value: double} in [0,100]; absent: SC_UNSET_DBL */
  SC_F_DURATION,      /* int64_t ns, Go/protobuf syntax; absent: SC_UNSET_I64 */
  SC_F_ENUM,          /* int-sized enum from names[]; absent: def */
  SC_F_STRLIST,       /* sc_strlist_t */
  SC_F_LABELS,        /* sc_labels_t with Kubernetes label syntax */
  SC_F_STRMAP,        /* sc_labels_t, any strings */
  SC_F_STRUCT,        /* nested struct at offset */
  SC_F_LIST,          /* array of structs: pointer at offset, uint32_t count at aux */
  SC_F_PROTOCOL,      /* sc_protocol_t, text kept in the sc_str_t at aux; unknown rejected */
  SC_F_INT_OR_STRING, /* Kubernetes IntOrString: uint32_t at offset, name sc_str_t at aux */
  SC_F_STRING_MATCH,  /* {exact|prefix|regex} into sc_string_match_t */
  SC_F_KEYED_MATCHES, /* map name -> StringMatch into sc_keyed_matches_t */
  SC_F_NAMED_PORTS    /* map name -> port into (sc_named_port_t *, uint32_t count at aux) */
} sc_field_type_t;

#define SC_FF_REQUIRED 1u

typedef struct sc_dec_s sc_dec_t;
typedef struct sc_field_s sc_field_t;
typedef struct sc_schema_s sc_schema_t;

/* Extra validation of one decoded field; value points at the field in the struct. */
typedef int (*sc_field_check_fn)(sc_dec_t *d, const sc_node_t *node, const void *value);

struct sc_field_s {
  const char *key;
  uint8_t type;
  uint8_t flags;
  int32_t presence; /* offset of a bool set when the field is present, or -1 */
  size_t offset;
  size_t aux;
  size_t elem_size;
  const sc_schema_t *sub;
  int64_t min, max, def;
  const char *const *names; /* SC_F_ENUM, NULL-terminated */
  sc_field_check_fn check;
};

struct sc_schema_s {
  const sc_field_t *fields;
  /* Cross-field validation after all fields are decoded; may be NULL. */
  int (*finish)(sc_dec_t *d, const sc_node_t *node, void *value);
  /* Unknown fields. NULL: the object's keys are not checked (metadata, MeshConfig, parts
   * decoded by another schema's finish). Otherwise the NULL-terminated names of the API
   * type's valid fields that scopecast does not decode; any key that is neither one of
   * these nor a field of `fields` (or of `also`) is reported with sc__decode_warn. */
  const char *const *known;
  /* Another schema whose fields sit at the same level (decoded by finish); may be NULL. */
  const sc_schema_t *also;
};

struct sc_dec_s {
  sc_arena_t *arena;
  XXH3_state_t *hash;
  sc_diag_t *diag;
  const sc_parse_opts_t *opts;
  void *ctx; /* the object being decoded (sc_obj_t *) */
  char path[256];
  size_t path_len;
  /* Warnings about an object that is accepted all the same (unknown fields, names the
   * admission webhook would refuse): the first max_warnings are kept, all are counted. */
  sc_diag_t *warnings;
  uint32_t max_warnings;
  uint32_t nwarnings;
};

/* Path handling for messages: "spec.egress[0].hosts[1]". */
size_t sc__decode_push_key(sc_dec_t *d, const char *key);
size_t sc__decode_push_index(sc_dec_t *d, size_t index);
void sc__decode_pop(sc_dec_t *d, size_t saved_len);

/* Records a validation error at node (path = current path) and returns SC_EINVALID. */
int sc__decode_fail(sc_dec_t *d, const sc_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a warning at node (path = current path; source, kind and key from diag). */
void sc__decode_warn(sc_dec_t *d, const sc_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Decodes the fields of schema from map into value (a struct of the schema's type). */
int sc__decode_struct(sc_dec_t *d, const sc_node_t *map, const sc_schema_t *schema, void *value);

/* Feeds raw bytes into the spec hash. */
void sc__decode_hash(sc_dec_t *d, const void *p, size_t n);

/* Scalar typing per the YAML 1.2 core schema: a string field accepts quoted scalars and
 * plain scalars that are not null, bool or numbers. */
const char *sc__decode_scalar_type_name(const sc_node_t *n);

/* RFC 3339 timestamp to unix seconds; returns 0 and sets *ok=false when malformed. */
int64_t sc__decode_rfc3339(const char *text, size_t len, bool *ok);

#endif
