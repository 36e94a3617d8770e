/* Protobuf messages as JSON (see pbjson.h). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"
#include "wire/pbjson.h"
#include "scopecast/error.h"

char *sc__pbjson_base64(const uint8_t *data, size_t len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = sc__malloc(4 * ((len + 2) / 3) + 1), *p = out;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16;
    if (i + 1 < len)
      v |= (uint32_t)data[i + 1] << 8;
    if (i + 2 < len)
      v |= data[i + 2];
    *p++ = alphabet[(v >> 18) & 63];
    *p++ = alphabet[(v >> 12) & 63];
    *p++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    *p++ = i + 2 < len ? alphabet[v & 63] : '=';
  }
  *p = '\0';
  return out;
}

static const ProtobufCMessageDescriptor *registry_find(const sc_pb_registry_t *reg, const char *full_name) {
  for (size_t i = 0; reg != NULL && i < reg->ntypes; i++)
    if (strcmp(reg->types[i]->name, full_name) == 0)
      return reg->types[i];
  return NULL;
}

static json_t *message_json(const ProtobufCMessage *m, const sc_pb_registry_t *reg);

static bool is_type(const ProtobufCMessageDescriptor *d, const char *name) {
  return strcmp(d->name, name) == 0;
}

/* Copies the field called name of m (of a well-known type: it is there) into out. */
static void field_value(const ProtobufCMessage *m, const char *name, void *out, size_t size) {
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
  if (f != NULL)
    memcpy(out, (const char *)m + f->offset, size);
}

/* Duration: seconds with 0, 3, 6 or 9 fractional digits and "s". */
static json_t *duration_json(const ProtobufCMessage *m) {
  int64_t seconds = 0;
  int32_t nanos = 0;
  field_value(m, "seconds", &seconds, sizeof(seconds));
  field_value(m, "nanos", &nanos, sizeof(nanos));
  char buf[64];
  bool negative = seconds < 0 || nanos < 0;
  uint64_t s = (uint64_t)(seconds < 0 ? -seconds : seconds);
  uint32_t n = (uint32_t)(nanos < 0 ? -nanos : nanos);
  if (n == 0)
    snprintf(buf, sizeof(buf), "%s%" PRIu64 "s", negative ? "-" : "", s);
  else if (n % 1000000 == 0)
    snprintf(buf, sizeof(buf), "%s%" PRIu64 ".%03us", negative ? "-" : "", s, n / 1000000);
  else if (n % 1000 == 0)
    snprintf(buf, sizeof(buf), "%s%" PRIu64 ".%06us", negative ? "-" : "", s, n / 1000);
  else
    snprintf(buf, sizeof(buf), "%s%" PRIu64 ".%09us", negative ? "-" : "", s, n);
  return json_string(buf);
}

static json_t *any_json(const ProtobufCMessage *m, const sc_pb_registry_t *reg) {
  const char *url = "";
  ProtobufCBinaryData value = {0, NULL};
  field_value(m, "type_url", &url, sizeof(url));
  field_value(m, "value", &value, sizeof(value));
  const char *slash = strrchr(url ? url : "", '/');
  const ProtobufCMessageDescriptor *t = registry_find(reg, slash ? slash + 1 : "");
  json_t *out = NULL;
  if (t == NULL || sc__pbjson_decode(t, value.data, value.len, reg, &out) != 0) {
    /* Unknown type: its bytes, so that nothing is lost. */
    char *b64 = sc__pbjson_base64(value.data, value.len);
    out = json_object();
    json_object_set_new(out, "value", json_string(b64 ? b64 : ""));
    sc__free(b64);
  }
  json_t *with_type = json_object();
  json_object_set_new(with_type, "@type", json_string(url ? url : ""));
  json_object_update(with_type, out);
  json_decref(out);
  return with_type;
}

/* One value of a field (an element of a repeated field), at address at. */
static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *at, const sc_pb_registry_t *reg) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    return json_integer(*(const int32_t *)at);
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
    return json_integer(*(const uint32_t *)at);
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: {
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)at);
    return json_string(buf);
  }
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: {
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)at);
    return json_string(buf);
  }
  case PROTOBUF_C_TYPE_FLOAT:
    return json_real(*(const float *)at);
  case PROTOBUF_C_TYPE_DOUBLE:
    return json_real(*(const double *)at);
  case PROTOBUF_C_TYPE_BOOL:
    return json_boolean(*(const protobuf_c_boolean *)at);
  case PROTOBUF_C_TYPE_ENUM: {
    int v = *(const int *)at;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
    return ev ? json_string(ev->name) : json_integer(v);
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(char *const *)at;
    return json_string(s ? s : "");
  }
  case PROTOBUF_C_TYPE_BYTES: {
    const ProtobufCBinaryData *b = at;
    char *b64 = sc__pbjson_base64(b->data, b->len);
    json_t *out = json_string(b64 ? b64 : "");
    sc__free(b64);
    return out;
  }
  case PROTOBUF_C_TYPE_MESSAGE: {
    const ProtobufCMessage *sub = *(ProtobufCMessage *const *)at;
    return sub ? message_json(sub, reg) : json_null();
  }
  }
  return json_null();
}

/* Whether a singular proto3 field holds its default (and is therefore left out). */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *at) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
    return *(const uint64_t *)at == 0;
  case PROTOBUF_C_TYPE_FLOAT:
    return *(const float *)at == 0;
  case PROTOBUF_C_TYPE_DOUBLE:
    return *(const double *)at == 0;
  case PROTOBUF_C_TYPE_BOOL:
    return *(const protobuf_c_boolean *)at == 0;
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(char *const *)at;
    return s == NULL || s[0] == '\0';
  }
  case PROTOBUF_C_TYPE_BYTES:
    return ((const ProtobufCBinaryData *)at)->len == 0;
  case PROTOBUF_C_TYPE_MESSAGE:
    return *(ProtobufCMessage *const *)at == NULL;
  default: /* 32-bit integers and enums */
    return *(const uint32_t *)at == 0;
  }
}

static size_t value_size(const ProtobufCFieldDescriptor *f) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL:
    return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_MESSAGE:
    return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES:
    return sizeof(ProtobufCBinaryData);
  default:
    return 4;
  }
}

/* A map field: protobuf-c keeps it as repeated "...Entry" messages of key and value. */
static bool is_map(const ProtobufCFieldDescriptor *f) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
    return false;
  const ProtobufCMessageDescriptor *d = f->descriptor;
  size_t n = strlen(d->short_name);
  return n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 && d->n_fields == 2 &&
         strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static json_t *map_json(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *const *entries,
                        size_t n, const sc_pb_registry_t *reg) {
  json_t *out = json_object();
  const ProtobufCMessageDescriptor *d = f->descriptor;
  for (size_t i = 0; i < n; i++) {
    const char *base = (const char *)entries[i];
    json_t *key = value_json(&d->fields[0], base + d->fields[0].offset, reg);
    json_t *value = value_json(&d->fields[1], base + d->fields[1].offset, reg);
    const char *k = json_is_string(key) ? json_string_value(key) : NULL;
    char buf[32];
    if (k == NULL && json_is_integer(key))
      snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(key)), k = buf;
    if (k == NULL && json_is_boolean(key))
      k = json_is_true(key) ? "true" : "false";
    json_object_set_new(out, k ? k : "", value);
    json_decref(key);
  }
  return out;
}

static json_t *struct_value_json(const ProtobufCMessage *m, const sc_pb_registry_t *reg);

/* google.protobuf.Struct / Value / ListValue in their JSON forms. */
static json_t *struct_json(const ProtobufCMessage *m, const sc_pb_registry_t *reg) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  if (is_type(d, "google.protobuf.Value"))
    return struct_value_json(m, reg);
  const ProtobufCFieldDescriptor *f = &d->fields[0]; /* fields / values */
  size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
  void *const *items = *(void *const *const *)((const char *)m + f->offset);
  if (is_type(d, "google.protobuf.ListValue")) {
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(out, struct_value_json(items[i], reg));
    return out;
  }
  json_t *out = json_object();
  const ProtobufCMessageDescriptor *e = f->descriptor;
  for (size_t i = 0; i < n; i++) {
    const char *base = items[i];
    const char *key = *(char *const *)(base + e->fields[0].offset);
    const ProtobufCMessage *value = *(ProtobufCMessage *const *)(base + e->fields[1].offset);
    json_object_set_new(out, key ? key : "", value ? struct_value_json(value, reg) : json_null());
  }
  return out;
}

static json_t *struct_value_json(const ProtobufCMessage *m, const sc_pb_registry_t *reg) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    uint32_t which = *(const uint32_t *)((const char *)m + f->quantifier_offset);
    if (which != f->id)
      continue;
    const void *at = (const char *)m + f->offset;
    if (strcmp(f->name, "null_value") == 0)
      return json_null();
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
      return struct_json(*(ProtobufCMessage *const *)at, reg);
    return value_json(f, at, reg);
  }
  return json_null();
}

static json_t *message_json(const ProtobufCMessage *m, const sc_pb_registry_t *reg) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  if (is_type(d, "google.protobuf.Any"))
    return any_json(m, reg);
  if (is_type(d, "google.protobuf.Duration"))
    return duration_json(m);
  if (is_type(d, "google.protobuf.Struct") || is_type(d, "google.protobuf.Value") ||
      is_type(d, "google.protobuf.ListValue"))
    return struct_json(m, reg);
  if (strncmp(d->name, "google.protobuf.", 16) == 0 && strstr(d->name, "Value") != NULL &&
      d->n_fields == 1) /* a wrapper: its value */
    return value_json(&d->fields[0], (const char *)m + d->fields[0].offset, reg);
  json_t *out = json_object();
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const char *base = (const char *)m;
    const void *at = base + f->offset;
    json_t *v = NULL;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(base + f->quantifier_offset);
      const char *items = *(const char *const *)at;
      if (n == 0)
        continue;
      if (is_map(f)) {
        v = map_json(f, (const ProtobufCMessage *const *)items, n, reg);
      } else {
        v = json_array();
        for (size_t k = 0; k < n; k++)
          json_array_append_new(v, value_json(f, items + k * value_size(f), reg));
      }
    } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
        continue;
      v = value_json(f, at, reg);
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
               f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
      if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset)) /* proto2 "has" */
        continue;
      v = value_json(f, at, reg);
    } else {
      if (is_default(f, at))
        continue;
      v = value_json(f, at, reg);
    }
    json_object_set_new(out, f->name, v);
  }
  return out;
}

int sc__pbjson_decode(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                     const sc_pb_registry_t *reg, json_t **out) {
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data);
  if (m == NULL)
    return SC_ECORRUPT;
  *out = message_json(m, reg);
  protobuf_c_message_free_unpacked(m, NULL);
  return *out ? 0 : SC_ENOMEM;
}
