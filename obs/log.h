/* The processes' logger: one line per message on a stream, as text (a UTC timestamp,
 * program, level, message) or as one JSON object per line (--log-format json). Passed
 * explicitly to whoever logs; library code never logs. */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { SC_LOG_DEBUG = 0, SC_LOG_INFO, SC_LOG_WARN, SC_LOG_ERROR } sc_log_level_t;

typedef enum {
  SC_LOG_TEXT = 0, /* 2026-01-02T03:04:05.678Z prog level: message */
  SC_LOG_JSON      /* {"time":…,"level":…,"program":…,"pid":…,"message":…, fields…} */
} sc_log_format_t;

typedef struct {
  FILE *out;
  sc_log_level_t level; /* messages below it are dropped */
  const char *prog;
  sc_log_format_t format;
} sc_logger_t;

/* A named value a JSON line carries besides the message (the text line has it in the
 * message already). */
typedef struct {
  const char *key;
  const char *value;
} sc_log_field_t;

void sc__log(const sc_logger_t *log, sc_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* sc__log with fields for the JSON format. */
void sc__log_fields(const sc_logger_t *log, sc_log_level_t level, const sc_log_field_t *fields,
                   size_t nfields, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Parses "text" or "json"; -1 for anything else. */
int sc__log_format_parse(const char *name);

#endif
