/* Composed resources (see compose.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
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

int sc_xds_compose_routes(const char *name, const sc_xds_part_t *vhosts, size_t n, uint8_t **out,
                          size_t *len) {
  Envoy__Config__Route__V3__RouteConfiguration rc = ENVOY__CONFIG__ROUTE__V3__ROUTE_CONFIGURATION__INIT;
  Google__Protobuf__BoolValue validate = GOOGLE__PROTOBUF__BOOL_VALUE__INIT; /* false */
  Google__Protobuf__UInt32Value max_body = GOOGLE__PROTOBUF__UINT32_VALUE__INIT;
  max_body.value = 1048576;
  rc.name = (char *)name;
  rc.validate_clusters = &validate;
  rc.max_direct_response_body_size_bytes = &max_body;
  rc.ignore_port_in_host_matching = true;
  size_t head = protobuf_c_message_get_packed_size(&rc.base), total = head;
  for (size_t i = 0; i < n; i++)
    total += 1 + varint_len(vhosts[i].len) + vhosts[i].len;
  uint8_t *buf = malloc(total ? total : 1);
  if (buf == NULL)
    return SC_ENOMEM;
  protobuf_c_message_pack(&rc.base, buf);
  uint8_t *p = buf + head;
  for (size_t i = 0; i < n; i++) {
    *p++ = (2 << 3) | 2; /* field 2 (virtual_hosts), length-delimited */
    p = put_varint(p, vhosts[i].len);
    memcpy(p, vhosts[i].bytes, vhosts[i].len);
    p += vhosts[i].len;
  }
  *out = buf;
  *len = total;
  return 0;
}
