/* Composed resources (see compose.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"
#include "reader/compose.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "scopecast/error.h"

/* The size of v as a varint, and v written at p. */
static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* msg followed by parts as length-delimited elements of field. */
int sc__compose_append(const uint8_t *msg, size_t len, uint32_t field, const sc_xds_part_t *parts, size_t n,
                          uint8_t **out, size_t *outlen) {
  size_t tag = varint_len((uint64_t)field << 3 | 2), total = len;
  for (size_t i = 0; i < n; i++)
    total += tag + varint_len(parts[i].len) + parts[i].len;
  uint8_t *buf = sc__malloc(total ? total : 1);
  if (buf == NULL)
    return SC_ENOMEM;
  if (len)
    memcpy(buf, msg, len);
  uint8_t *p = buf + len;
  for (size_t i = 0; i < n; i++) {
    p = put_varint(p, (uint64_t)field << 3 | 2); /* length-delimited */
    p = put_varint(p, parts[i].len);
    memcpy(p, parts[i].bytes, parts[i].len);
    p += parts[i].len;
  }
  *out = buf;
  *outlen = total;
  return 0;
}

int sc__compose_routes(const char *name, const sc_xds_part_t *vhosts, size_t n, uint8_t **out,
                          size_t *len) {
  Envoy__Config__Route__V3__RouteConfiguration rc = ENVOY__CONFIG__ROUTE__V3__ROUTE_CONFIGURATION__INIT;
  Google__Protobuf__BoolValue validate = GOOGLE__PROTOBUF__BOOL_VALUE__INIT; /* false */
  Google__Protobuf__UInt32Value max_body = GOOGLE__PROTOBUF__UINT32_VALUE__INIT;
  max_body.value = 1048576;
  rc.name = (char *)name;
  rc.validate_clusters = &validate;
  rc.max_direct_response_body_size_bytes = &max_body;
  rc.ignore_port_in_host_matching = true;
  size_t head = protobuf_c_message_get_packed_size(&rc.base);
  uint8_t *buf = sc__malloc(head ? head : 1);
  if (buf == NULL)
    return SC_ENOMEM;
  protobuf_c_message_pack(&rc.base, buf);
  int r = sc__compose_append(buf, head, 2, vhosts, n, out, len); /* field 2: virtual_hosts */
  sc__free(buf);
  return r;
}
