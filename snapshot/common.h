/* snapshot/: the LMDB snapshot, the only thing the engine and the readers share. Owns the
 * file layout (FORMAT.md): the writer the engine publishes with (writer.c, one write
 * transaction per batch, the writer lock) and the read-only reader everyone else maps
 * (reader.c), behind include/scopecast/snapshot.h. May call store/ (errors, allocator) and
 * LMDB; knows nothing of scopes or Envoy.
 *
 * Shared by the snapshot writer and reader: table names, meta keys, encoding helpers. */
#ifndef SC_SNAPSHOT_COMMON_H
#define SC_SNAPSHOT_COMMON_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "scopecast/snapshot.h"

#define SC_TABLE_META "meta"
#define SC_SNAPSHOT_MAX_TABLES 32

/* Meta keys (snapshot/FORMAT.md). Integers are little-endian u64 unless noted. */
#define SC_META_MAGIC "magic"                   /* bytes: SC_SNAPSHOT_MAGIC */
#define SC_META_FORMAT_VERSION "format_version" /* u32 */
#define SC_META_HEAD_VERSION "head_version"
#define SC_META_INSTANCE_ID "instance_id"
#define SC_META_LAST_PUBLISH_MS "last_publish_ms"
#define SC_META_OBJECTS_TOTAL "objects"
#define SC_META_OBJECTS_PREFIX "objects/" /* + kind name */
#define SC_META_SCOPES "scopes"
#define SC_META_RESOURCES "resources"
#define SC_META_ENDPOINTS "endpoints"
#define SC_META_HISTORY "history_versions"
#define SC_META_REJECTED "rejected"
#define SC_META_SKIPPED "skipped"
#define SC_META_WARNINGS "warnings"
#define SC_META_SKIPPED_PREFIX "skipped/" /* + kind as written: u64 */

void sc__put_u64le(unsigned char *p, uint64_t v);
uint64_t sc__get_u64le(const unsigned char *p);

/* Maps an LMDB return code to an SC_E* code. */
int sc__mdb_error(int mdb_rc);

#endif
