#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scopecast/config.h"
#include "store/validate.h"

bool sc__validate_utf8(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= n)
      return false;
    for (size_t k = 1; k <= extra; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return false;
    i += extra + 1;
  }
  return true;
}

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool is_alnum(char c) { return isalnum((unsigned char)c) != 0; }

const char *sc__validate_dns_label(const char *s, size_t n) {
  if (n == 0)
    return "must not be empty";
  if (n > 63)
    return "must be at most 63 characters";
  for (size_t i = 0; i < n; i++)
    if (!is_lower_alnum(s[i]) && s[i] != '-')
      return "must consist of lower case letters, digits and '-'";
  if (s[0] == '-' || s[n - 1] == '-')
    return "must start and end with a letter or digit";
  return NULL;
}

const char *sc__validate_dns_subdomain(const char *s, size_t n) {
  if (n == 0)
    return "must not be empty";
  if (n > 253)
    return "must be at most 253 characters";
  /* Kubernetes' IsDNS1123Subdomain: no length limit per dot-separated part, only the
   * total (a 64-character name without dots is a valid object name). */
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '.') {
      bool ok = i > start && s[start] != '-' && s[i - 1] != '-';
      for (size_t k = start; ok && k < i; k++)
        ok = is_lower_alnum(s[k]) || s[k] == '-';
      if (!ok)
        return "must be lower case letters, digits, '-' and '.', each part starting and "
               "ending with a letter or digit";
      start = i + 1;
    }
  }
  return NULL;
}

static const char *qualified_name_invalid(const char *s, size_t n) {
  if (n == 0)
    return "name part must not be empty";
  if (n > 63)
    return "name part must be at most 63 characters";
  for (size_t i = 0; i < n; i++)
    if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
      return "must consist of letters, digits, '-', '_' or '.'";
  if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
    return "must start and end with a letter or digit";
  return NULL;
}

const char *sc__validate_label_key(const char *s, size_t n) {
  const char *slash = memchr(s, '/', n);
  if (slash == NULL)
    return qualified_name_invalid(s, n);
  size_t plen = (size_t)(slash - s);
  if (memchr(slash + 1, '/', n - plen - 1) != NULL)
    return "must contain at most one '/'";
  if (sc__validate_dns_subdomain(s, plen) != NULL)
    return "prefix must be a DNS subdomain";
  return qualified_name_invalid(slash + 1, n - plen - 1);
}

const char *sc__validate_label_value(const char *s, size_t n) {
  if (n == 0)
    return NULL;
  return qualified_name_invalid(s, n);
}

static const char *host_label_invalid(const char *s, size_t n) {
  if (n == 0)
    return "has an empty label";
  if (n > 63)
    return "has a label longer than 63 characters";
  for (size_t i = 0; i < n; i++)
    if (!is_alnum(s[i]) && s[i] != '-')
      return "may only contain letters, digits, '-' and '.'";
  if (s[0] == '-' || s[n - 1] == '-')
    return "has a label that starts or ends with '-'";
  return NULL;
}

const char *sc__validate_wildcard_host(const char *s, size_t n, bool allow_short) {
  if (n == 0)
    return "must not be empty";
  if (n > 255)
    return "must be at most 255 characters";
  if (n == 1 && s[0] == '*')
    return NULL;
  size_t start = 0;
  if (s[0] == '*') {
    if (n < 3 || s[1] != '.')
      return "wildcard must be \"*\" or a leading \"*.\"";
    start = 2;
  }
  if (!allow_short && start == 0 && memchr(s, '.', n) == NULL)
    return "must be a fully qualified domain name";
  size_t label = start;
  for (size_t i = start; i <= n; i++) {
    if (i == n || s[i] == '.') {
      /* One trailing dot is allowed (absolute name). */
      if (i == n && label == n && n > start && s[n - 1] == '.')
        break;
      const char *why = host_label_invalid(s + label, i - label);
      if (why != NULL)
        return why;
      label = i + 1;
    }
  }
  return NULL;
}

const char *sc__validate_egress_host(const char *s, size_t n) {
  const char *slash = memchr(s, '/', n);
  if (slash == NULL || memchr(slash + 1, '/', n - (size_t)(slash - s) - 1) != NULL)
    return "must be of the form namespace/dnsName";
  size_t nslen = (size_t)(slash - s);
  const char *ns = s;
  if (nslen > 0 && ns[0] == '~')
    ns++, nslen--;
  if (nslen == 0 && ns == s)
    return "namespace must not be empty (use \"*\", \".\" or a namespace)";
  if (!(nslen == 0 || (nslen == 1 && (ns[0] == '*' || ns[0] == '.')) ||
        sc__validate_dns_label(ns, nslen) == NULL))
    return "namespace must be \"*\", \".\", \"~\" or a DNS label";
  const char *host = slash + 1;
  size_t hlen = n - nslen - (size_t)(ns - s) - 1;
  if (hlen == 0)
    return "dnsName must not be empty";
  if (sc__validate_wildcard_host(host, hlen, true) != NULL)
    return "dnsName must be \"*\" or a hostname, optionally starting with \"*.\"";
  return NULL;
}

bool sc__validate_is_ip(const char *s, size_t n) {
  char buf[64];
  unsigned char addr[16];
  if (n == 0 || n >= sizeof(buf))
    return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

bool sc__validate_is_ip_or_cidr(const char *s, size_t n) {
  const char *slash = memchr(s, '/', n);
  if (slash == NULL)
    return sc__validate_is_ip(s, n);
  size_t alen = (size_t)(slash - s);
  if (!sc__validate_is_ip(s, alen))
    return false;
  bool v6 = memchr(s, ':', alen) != NULL;
  size_t plen = n - alen - 1;
  if (plen == 0 || plen > 3)
    return false;
  unsigned bits = 0;
  for (size_t i = 0; i < plen; i++) {
    if (!isdigit((unsigned char)slash[1 + i]))
      return false;
    bits = bits * 10 + (unsigned)(slash[1 + i] - '0');
  }
  return bits <= (v6 ? 128u : 32u);
}

/* ---- protocols ---------------------------------------------------------------------- */

static const char *const protocol_names[SC_PROTO__COUNT] = {
    [SC_PROTO_UNSUPPORTED] = "UnsupportedProtocol",
    [SC_PROTO_HTTP] = "HTTP",
    [SC_PROTO_HTTP2] = "HTTP2",
    [SC_PROTO_GRPC] = "GRPC",
    [SC_PROTO_GRPC_WEB] = "GRPC-Web",
    [SC_PROTO_HTTP_PROXY] = "HTTP_PROXY",
    [SC_PROTO_HTTPS] = "HTTPS",
    [SC_PROTO_TLS] = "TLS",
    [SC_PROTO_TCP] = "TCP",
    [SC_PROTO_MONGO] = "Mongo",
    [SC_PROTO_REDIS] = "Redis",
    [SC_PROTO_MYSQL] = "MySQL",
    [SC_PROTO_UDP] = "UDP",
};

const char *sc_protocol_name(sc_protocol_t p) {
  return (unsigned)p < SC_PROTO__COUNT ? protocol_names[p] : "UnsupportedProtocol";
}

sc_protocol_t sc_protocol_parse(const char *text, size_t len) {
  for (int p = 1; p < SC_PROTO__COUNT; p++) {
    const char *name = protocol_names[p];
    if (strlen(name) == len && strncasecmp(name, text, len) == 0)
      return (sc_protocol_t)p;
  }
  return SC_PROTO_UNSUPPORTED;
}
