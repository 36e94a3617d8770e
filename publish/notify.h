/* Commit notifications: a unix stream socket on which the engine tells every connected
 * frontend (a subscriber) about each snapshot commit, so that it need not poll.
 *
 * The protocol (snapshot/FORMAT.md, "Commit notifications") is a stream of notices of
 * SC_NOTIFY_NOTICE_BYTES bytes each: the committed head version (u64 big-endian), then the
 * commit time in nanoseconds since the Unix epoch (CLOCK_REALTIME, u64 big-endian; 0 when
 * unknown). A subscriber gets one notice with the current head when it connects, then one
 * per commit. Notices are self-contained (the latest head wins), so a subscriber that has
 * not read what it was sent is skipped rather than buffered for; a write that would break
 * the framing (partial) closes the subscriber instead. What subscribers send is discarded.
 *
 * Single-threaded, on the engine's loop. Errors are returned (with a message in errbuf);
 * what happens to subscribers later is logged on the logger given, if any. */
#ifndef SC_NOTIFY_H
#define SC_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "obs/log.h"

#define SC_NOTIFY_NOTICE_BYTES 16
#define SC_NOTIFY_MAX_SUBSCRIBERS 1024 /* the default bound on connected subscribers */
#define SC_NOTIFY_SOCKET_NAME "notify.sock" /* the default socket, in the snapshot dir */

typedef struct sc_notify_s sc_notify_t;

typedef struct {
  const char *path;          /* where to listen (copied); required */
  size_t max_subscribers;    /* 0: SC_NOTIFY_MAX_SUBSCRIBERS; more are accepted and closed */
  uint64_t head_version;     /* what a subscriber is told until the first sc__notify_commit */
  uint64_t commit_ns;        /* ... and its commit time (0: unknown) */
  const sc_logger_t *log;    /* subscribers refused or dropped; NULL: silent. Must outlive
                                the notifier (until its last close callback has run) */
} sc_notify_opts_t;

/* Listens on opts->path. A socket file there that nobody listens on (left by an engine
 * that died) is removed first; a live socket (SC_EBUSY) or anything that is not a socket
 * (SC_EEXISTS) is left alone and fails. Other failures return a negative errno (libuv's
 * codes). On failure *out is NULL, errbuf says why (naming the path), and nothing is left
 * open on the loop except what closes itself on the next run. */
int sc__notify_new(uv_loop_t *loop, const sc_notify_opts_t *opts, sc_notify_t **out,
                  char *errbuf, size_t errlen);

/* A commit of head_version at commit_ns: remembered for subscribers that connect later,
 * and sent now to every subscriber that has nothing queued. Never blocks. */
void sc__notify_commit(sc_notify_t *n, uint64_t head_version, uint64_t commit_ns);

/* Subscribers connected now. */
size_t sc__notify_subscribers(const sc_notify_t *n);

/* Stops listening, closes every subscriber (they read EOF after what they were sent) and
 * removes the socket file if it is still the one bound. n frees itself once its handles
 * have closed (run the loop); do not use it afterwards. NULL is a no-op. */
void sc__notify_close(sc_notify_t *n);

/* The 16 bytes of a notice. */
void sc__notify_encode(unsigned char out[SC_NOTIFY_NOTICE_BYTES], uint64_t head_version,
                      uint64_t commit_ns);

#endif
