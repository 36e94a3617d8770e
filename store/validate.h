/* Syntax checks shared by the decoders. Each *_invalid function returns NULL when the
 * text is valid and otherwise a short reason ("must be at most 63 characters"). */
#ifndef SC_VALIDATE_H
#define SC_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

bool sc__validate_utf8(const char *s, size_t n);

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. Namespaces, Service names. */
const char *sc__validate_dns_label(const char *s, size_t n);
/* RFC 1123 subdomain as Kubernetes checks it: parts of [a-z0-9]([-a-z0-9]*[a-z0-9])?
 * joined by ".", at most 253 in all (no limit per part). Object names. */
const char *sc__validate_dns_subdomain(const char *s, size_t n);
/* Kubernetes label key ([prefix/]name) and value. */
const char *sc__validate_label_key(const char *s, size_t n);
const char *sc__validate_label_value(const char *s, size_t n);
/* A hostname that may start with "*" (Istio's ValidateWildcardDomain): "*", "*.a.com",
 * "a.com", "reviews" (a short name, when allow_short). */
const char *sc__validate_wildcard_host(const char *s, size_t n, bool allow_short);
/* A Sidecar egress host "namespace/dnsName" (Istio's validateNamespaceSlashWildcardHostname). */
const char *sc__validate_egress_host(const char *s, size_t n);
/* An IPv4 or IPv6 literal. */
bool sc__validate_is_ip(const char *s, size_t n);
/* An IP or a CIDR block. */
bool sc__validate_is_ip_or_cidr(const char *s, size_t n);

#endif
