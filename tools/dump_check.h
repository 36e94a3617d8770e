/* scopecast-dump check: verifies a whole snapshot in one read transaction — the meta
 * record and the head's changelog record, every scope's index record, head and entries,
 * the selector records, every resource and endpoint assignment the records name (present,
 * matching their content hash, decoding as their type and name), and what each class of
 * proxy of every scope gets — and prints the counts and a content digest that is equal
 * for two snapshots of the same content (see `check` in `scopecast-dump --help`). */
#ifndef SC_DUMP_CHECK_H
#define SC_DUMP_CHECK_H

#include <stdbool.h>

#include "scopecast/snapshot.h"

/* Checks the snapshot r reads and prints the result, as text or (json) JSON; each
 * problem goes to stderr (text) or into "errors" (JSON). The exit status: 0 when it
 * checks, 1 when it does not or cannot be read. */
int sc_dump_check(sc_snapshot_reader_t *r, bool json);

#endif
