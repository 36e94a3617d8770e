#include "snapshot/common.h"

void sc__put_u64le(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t sc__get_u64le(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

int sc__mdb_error(int rc) {
  switch (rc) {
  case MDB_SUCCESS:
    return 0;
  case MDB_NOTFOUND:
    return SC_ENOTFOUND;
  case MDB_MAP_FULL:
    return SC_EMAPFULL;
  case MDB_VERSION_MISMATCH:
    return SC_EVERSION;
  case MDB_INVALID:
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
    return SC_ECORRUPT;
  case MDB_READERS_FULL:
  case MDB_MAP_RESIZED:
    return SC_EBUSY;
  default:
    return rc > 0 ? -rc : SC_ESNAPSHOT; /* errno values come back positive */
  }
}
