/* Splits a byte stream of Kubernetes watch events into JSON values, without I/O
 * (feed it bytes, it calls back with complete values).
 *
 * Accepts one value per line (the API server's ?watch=true output) and concatenated,
 * pretty-printed values (kubectl get -w -o json). A value is complete when its brackets
 * balance outside strings. After a malformed value, framing resumes at the next line
 * that begins with "{": a value left unbalanced is reported and dropped there, so
 * nothing after it is lost. Values longer than max_bytes are dropped and reported;
 * memory use is bounded by max_bytes. */
#ifndef SC_FRAMER_H
#define SC_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  bool is_error;      /* false: data/len hold one value */
  const char *data;
  size_t len;
  uint64_t line;      /* 1-based line where the value (or the bad text) starts */
  uint64_t offset;    /* its byte offset in the stream */
  const char *reason; /* is_error */
} sc_frame_t;

/* Return non-zero to stop; the value is returned by sc__framer_push. */
typedef int (*sc_frame_cb)(void *arg, const sc_frame_t *frame);

typedef struct {
  size_t max_bytes;
  char *buf;
  size_t len, cap;
  int depth;
  bool in_value, in_string, escape, discarding, garbage, line_start;
  uint64_t line, offset;             /* position of the next byte */
  uint64_t value_line, value_offset; /* where the current value or garbage began */
} sc_framer_t;

void sc__framer_init(sc_framer_t *f, size_t max_bytes);
void sc__framer_free(sc_framer_t *f);
/* Forgets any partial value (a reconnected stream starts afresh); positions continue. */
void sc__framer_reset(sc_framer_t *f);
int sc__framer_push(sc_framer_t *f, const char *data, size_t n, sc_frame_cb cb, void *arg);
/* End of stream: an unfinished value is reported as an error. */
int sc__framer_finish(sc_framer_t *f, sc_frame_cb cb, void *arg);

#endif
