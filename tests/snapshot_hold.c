/* Holds a read transaction on a snapshot until killed: the stand-in for a frontend that
 * dies (SIGKILL) in the middle of a read, for tests/e2e/e2e_growth.sh.
 *
 *   snapshot_hold DIR
 *
 * Prints the head version its transaction sees, then waits. While it lives, LMDB cannot
 * reuse the pages that version needs, so the writer's commits grow the file; once it is
 * killed, its reader slot is stale until the writer clears it. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "scopecast/snapshot.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: snapshot_hold DIR\n");
    return 2;
  }
  char err[512];
  sc_snapshot_reader_t *r;
  if (sc_snapshot_reader_open(argv[1], &r, err, sizeof(err)) != 0) {
    fprintf(stderr, "snapshot_hold: %s\n", err);
    return 1;
  }
  sc_snapshot_view_t *v;
  if (sc_snapshot_view_begin(r, &v) != 0) {
    fprintf(stderr, "snapshot_hold: %s\n", sc_snapshot_reader_errmsg(r));
    sc_snapshot_reader_close(r);
    return 1;
  }
  printf("%llu\n", (unsigned long long)sc_snapshot_view_head(v));
  fflush(stdout);
  for (;;)
    pause(); /* until a signal ends the process; the transaction stays open */
}
