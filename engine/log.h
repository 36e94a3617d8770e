/* The engine's logger: one line per message on a stream, with a UTC timestamp and level.
 * Passed explicitly to whoever logs; library code never logs. */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <stdio.h>

typedef enum { SC_LOG_DEBUG = 0, SC_LOG_INFO, SC_LOG_WARN, SC_LOG_ERROR } sc_log_level_t;

typedef struct {
  FILE *out;
  sc_log_level_t level; /* messages below it are dropped */
  const char *prog;
} sc_logger_t;

void sc_log(const sc_logger_t *log, sc_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
