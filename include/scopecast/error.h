/* scopecast error codes.
 *
 * One error space for every module: 0 is success, errors are negative SC_E* codes in a
 * band (-32100 .. -32000) that collides neither with -errno nor with LMDB's MDB_* codes.
 * Library code returns these; it never prints. Codes below SC_EFATAL mean the object that
 * returned them may only be closed.
 */
#ifndef SCOPECAST_ERROR_H
#define SCOPECAST_ERROR_H

#define SC_ERRNO_MAP(XX)                                                              \
  XX(NOMEM,      -32001, "out of memory")                                            \
  XX(INVAL,      -32002, "invalid argument")                                         \
  XX(SYNTAX,     -32003, "syntax error")                                             \
  XX(INVALID,    -32004, "invalid object")                                           \
  XX(TOOBIG,     -32005, "input exceeds a size limit")                               \
  XX(UNKNOWNKIND,-32006, "unknown kind")                                             \
  XX(NOTFOUND,   -32007, "not found")                                                \
  XX(IO,         -32008, "input/output error")                                       \
  XX(EXISTS,     -32009, "already exists")                                           \
  XX(SNAPSHOT,   -32010, "snapshot store error")                                     \
  XX(MAPFULL,    -32011, "snapshot map is full")                                     \
  XX(BUSY,       -32012, "resource busy")                                            \
  XX(FATAL,      -32050, "fatal error")                                              \
  XX(VERSION,    -32051, "snapshot format version mismatch")                         \
  XX(CORRUPT,    -32052, "snapshot is corrupt")

typedef enum {
  SC_OK = 0,
#define SC__ERR_ENUM(name, code, msg) SC_E##name = (code),
  SC_ERRNO_MAP(SC__ERR_ENUM)
#undef SC__ERR_ENUM
} sc_errno_t;

/* A message for any SC_E* code, or for a negative errno value. Never NULL. */
const char *sc_strerror(int err);
/* The symbolic name ("SC_EINVALID"), or "SC_E?" for a code outside the map. */
const char *sc_err_name(int err);
/* Non-zero when err means the returning object may only be closed. */
int sc_is_fatal(int err);

#endif
