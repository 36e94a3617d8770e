/* Protobuf messages as JSON, generically over protobuf-c descriptors: the proto3 JSON
 * mapping with the proto field names (as Envoy's config_dump prints them), the
 * well-known types in their JSON forms (Any with "@type", Duration as "1.5s", wrappers as
 * bare values, Struct as an object), maps as objects, 64-bit integers as strings, bytes
 * as base64, enums by name; fields at their default value are left out, except members
 * of a oneof, which say which member is set. */
#ifndef SC_PBJSON_H
#define SC_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* The message types an Any may hold, found by full name. */
typedef struct {
  const ProtobufCMessageDescriptor *const *types;
  size_t ntypes;
} sc_pb_registry_t;

/* Decodes data as a message of type d and converts it; SC_ECORRUPT when the bytes are not
 * such a message. */
int sc__pbjson_decode(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                     const sc_pb_registry_t *reg, json_t **out);

/* Base64 (RFC 4648, padded) of data, NUL-terminated; sc__free() it (NULL when out of memory). */
char *sc__pbjson_base64(const uint8_t *data, size_t len);

#endif
