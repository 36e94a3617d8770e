/* Helpers for writing field tables (see decode.h) and the per-kind decoders they feed. */
#ifndef SC_SCHEMA_H
#define SC_SCHEMA_H

#include <stddef.h>

#include "store/decode.h"

#define SC_FIELD_(k, t, T, m, pres, ...) \
  { .key = (k), .type = (t), .presence = (pres), .offset = offsetof(T, m), __VA_ARGS__ }
#define SC_NOPRES (-1)
#define SC_PRES(T, has) ((int32_t)offsetof(T, has))

#define F_STR(k, T, m) SC_FIELD_(k, SC_F_STR, T, m, SC_NOPRES, .flags = 0)
#define F_STR_REQ(k, T, m) SC_FIELD_(k, SC_F_STR, T, m, SC_NOPRES, .flags = SC_FF_REQUIRED)
#define F_STR_CHECK(k, T, m, fn) SC_FIELD_(k, SC_F_STR, T, m, SC_NOPRES, .check = (fn))
#define F_STR_REQ_CHECK(k, T, m, fn) \
  SC_FIELD_(k, SC_F_STR, T, m, SC_NOPRES, .flags = SC_FF_REQUIRED, .check = (fn))
#define F_U32(k, T, m, lo, hi, d) \
  SC_FIELD_(k, SC_F_U32, T, m, SC_NOPRES, .min = (lo), .max = (hi), .def = (d))
/* An optional count: absent means SC_UNSET_U32. */
#define F_U32_OPT(k, T, m) F_U32(k, T, m, 0, UINT32_MAX - 1, SC_UNSET_U32)
#define F_U32_REQ(k, T, m, lo, hi) \
  SC_FIELD_(k, SC_F_U32, T, m, SC_NOPRES, .flags = SC_FF_REQUIRED, .min = (lo), .max = (hi))
#define F_I32(k, T, m, lo, hi, d) \
  SC_FIELD_(k, SC_F_I32, T, m, SC_NOPRES, .min = (lo), .max = (hi), .def = (d))
#define F_BOOL(k, T, m) SC_FIELD_(k, SC_F_BOOL, T, m, SC_NOPRES, .flags = 0)
#define F_TRI(k, T, m) SC_FIELD_(k, SC_F_TRI, T, m, SC_NOPRES, .flags = 0)
#define F_PERCENT(k, T, m) SC_FIELD_(k, SC_F_PERCENT, T, m, SC_NOPRES, .flags = 0)
#define F_DURATION(k, T, m) SC_FIELD_(k, SC_F_DURATION, T, m, SC_NOPRES, .flags = 0)
#define F_ENUM(k, T, m, nm, d) SC_FIELD_(k, SC_F_ENUM, T, m, SC_NOPRES, .names = (nm), .def = (d))
#define F_STRLIST(k, T, m) SC_FIELD_(k, SC_F_STRLIST, T, m, SC_NOPRES, .flags = 0)
#define F_STRLIST_CHECK(k, T, m, fn) SC_FIELD_(k, SC_F_STRLIST, T, m, SC_NOPRES, .check = (fn))
#define F_STRLIST_REQ_CHECK(k, T, m, fn) \
  SC_FIELD_(k, SC_F_STRLIST, T, m, SC_NOPRES, .flags = SC_FF_REQUIRED, .check = (fn))
#define F_LABELS(k, T, m) SC_FIELD_(k, SC_F_LABELS, T, m, SC_NOPRES, .flags = 0)
#define F_LABELS_PRES(k, T, m, has) SC_FIELD_(k, SC_F_LABELS, T, m, SC_PRES(T, has), .flags = 0)
#define F_STRMAP(k, T, m) SC_FIELD_(k, SC_F_STRMAP, T, m, SC_NOPRES, .flags = 0)
/* A nested object decoded into the struct member m. */
#define F_STRUCT(k, T, m, schema) SC_FIELD_(k, SC_F_STRUCT, T, m, SC_NOPRES, .sub = &(schema))
#define F_STRUCT_PRES(k, T, m, has, schema) \
  SC_FIELD_(k, SC_F_STRUCT, T, m, SC_PRES(T, has), .sub = &(schema))
#define F_STRUCT_REQ(k, T, m, schema) \
  SC_FIELD_(k, SC_F_STRUCT, T, m, SC_NOPRES, .flags = SC_FF_REQUIRED, .sub = &(schema))
/* A nested object whose fields are members of T itself (flattened): schema's offsets are
 * relative to T. */
#define F_INLINE(k, T, schema) \
  { .key = (k), .type = SC_F_STRUCT, .presence = SC_NOPRES, .offset = 0, .sub = &(schema) }
#define F_INLINE_PRES(k, T, has, schema) \
  { .key = (k), .type = SC_F_STRUCT, .presence = SC_PRES(T, has), .offset = 0, .sub = &(schema) }
#define F_LIST(k, T, m, count, ET, schema)                                                    \
  SC_FIELD_(k, SC_F_LIST, T, m, SC_NOPRES, .aux = offsetof(T, count), .elem_size = sizeof(ET), \
            .sub = &(schema))
#define F_LIST_REQ(k, T, m, count, ET, schema)                                               \
  SC_FIELD_(k, SC_F_LIST, T, m, SC_NOPRES, .flags = SC_FF_REQUIRED, .aux = offsetof(T, count), \
            .elem_size = sizeof(ET), .sub = &(schema))
#define F_PROTOCOL(k, T, m, text) \
  SC_FIELD_(k, SC_F_PROTOCOL, T, m, SC_NOPRES, .aux = offsetof(T, text))
#define F_INT_OR_STRING(k, T, m, name, lo, hi) \
  SC_FIELD_(k, SC_F_INT_OR_STRING, T, m, SC_NOPRES, .aux = offsetof(T, name), .min = (lo), .max = (hi))
#define F_STRING_MATCH(k, T, m) SC_FIELD_(k, SC_F_STRING_MATCH, T, m, SC_NOPRES, .flags = 0)
#define F_KEYED_MATCHES(k, T, m) SC_FIELD_(k, SC_F_KEYED_MATCHES, T, m, SC_NOPRES, .flags = 0)
#define F_NAMED_PORTS(k, T, m, count) \
  SC_FIELD_(k, SC_F_NAMED_PORTS, T, m, SC_NOPRES, .aux = offsetof(T, count))
#define F_END {.type = SC_F_END}

/* Per-kind decoders: fill obj->u from the object's document (metadata already decoded).
 * `root` is the whole object; kinds that keep their data outside `spec` read it there. */
int sc__decode_service(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj);
int sc__decode_endpoint_slice(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj);
int sc__decode_namespace(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj);
int sc__decode_pod(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj);
int sc__decode_service_entry(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj);
int sc__decode_virtual_service(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj);
int sc__decode_destination_rule(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj);
int sc__decode_sidecar(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj);
/* `mesh` is the MeshConfig document itself (not an object). */
int sc__decode_mesh(sc_dec_t *d, const sc_node_t *mesh, sc_obj_t *obj);

/* Short-name resolution of docs/semantics.md "Inputs, normalised", into the arena. */
int sc__resolve_host(sc_dec_t *d, sc_str_t host, sc_str_t ns, sc_str_t *out);

#endif
