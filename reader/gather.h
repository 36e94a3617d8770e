/* The reader library's internals (its public side is include/scopecast/reader.h, which
 * says what it owns). The reader folder reads the snapshot and nothing else: it may call
 * store/ (mem.h, hashmap, strmap, the config types), snapshot/ (read transactions) and
 * wire/ (Envoy types, protobuf composition); never model/, scope/, xds/, publish/,
 * engine/ or frontend/. proxy.c reads who a proxy is from its Node, resolve.c picks its
 * scope, gather.c puts together what it gets (compose.c appends stored parts), reader.c
 * hands out scopes, versions and the changelog.
 *
 * This header: the records of a scope as gather.c parses them (JSON), for the rest of
 * the folder. */
#ifndef SC_GATHER_H
#define SC_GATHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scopecast/reader.h"
#include "wire/registry.h"

/* Formats a message into err (when given) and returns rc: the folder's error reports. */
int sc__gather_failf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));



/* A scope's head at version (0: the latest), NULL in *out when it has none; 0, SC_ECORRUPT,
 * or an LMDB failure. */
int sc__scope_head_at(sc_snapshot_view_t *v, const char *id, uint64_t version, json_t **out);

/* The entries of content_id and of the base it refers to (may be NULL) at version (0: the
 * latest), added to by_host by hostname; a scope's own entries replace the base's. */
int sc__scope_entries_at(sc_snapshot_view_t *v, const char *content_id, const char *base, uint64_t version,
                        json_t *by_host);

#endif
