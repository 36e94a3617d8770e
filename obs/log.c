#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "obs/log.h"

static const char *const level_names[] = {"debug", "info", "warning", "error"};

int sc__log_format_parse(const char *name) {
  if (strcmp(name, "text") == 0)
    return SC_LOG_TEXT;
  if (strcmp(name, "json") == 0)
    return SC_LOG_JSON;
  return -1;
}

/* The program's name without a "[pid]" suffix (the JSON line has the pid of its own). */
static void program_name(const char *prog, char *buf, size_t len) {
  snprintf(buf, len, "%s", prog ? prog : "scopecast");
  buf[strcspn(buf, "[")] = 0;
}

/* A JSON string of s; bytes that are not valid UTF-8 (a name as it came in) become '?'
 * rather than losing the line. */
static json_t *string_value(const char *s) {
  json_t *v = json_string(s);
  if (v != NULL)
    return v;
  char copy[2048];
  size_t i = 0;
  for (; s[i] != 0 && i < sizeof(copy) - 1; i++)
    copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
  copy[i] = 0;
  return json_string(copy);
}

/* One JSON object; jansson escapes. A line that cannot be built falls back to text. */
static int write_json(FILE *out, const char *stamp, sc_log_level_t level, const char *prog,
                      const sc_log_field_t *fields, size_t nfields, const char *message) {
  char name[64];
  program_name(prog, name, sizeof(name));
  json_t *o = json_object();
  if (o == NULL)
    return -1;
  json_object_set_new(o, "time", json_string(stamp));
  json_object_set_new(o, "level", json_string(level_names[level]));
  json_object_set_new(o, "program", json_string(name));
  json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
  json_object_set_new(o, "message", string_value(message));
  for (size_t i = 0; i < nfields; i++)
    if (fields[i].key != NULL && fields[i].value != NULL && fields[i].value[0] != 0)
      json_object_set_new(o, fields[i].key, string_value(fields[i].value));
  char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
  json_decref(o);
  if (line == NULL)
    return -1;
  fprintf(out, "%s\n", line);
  free(line);
  return 0;
}

__attribute__((format(printf, 5, 0))) static void log_v(const sc_logger_t *log, sc_log_level_t level,
                                                       const sc_log_field_t *fields, size_t nfields,
                                                       const char *fmt, va_list ap) {
  struct timespec ts;
  struct tm tm;
  char stamp[64], sec[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(stamp, sizeof(stamp), "%.31s.%03dZ", sec, (int)(ts.tv_nsec / 1000000L));
  char message[2048];
  vsnprintf(message, sizeof(message), fmt, ap);
  FILE *out = log->out ? log->out : stderr;
  /* Each line is written whole, so that several processes on one terminal do not
   * interleave within a line. */
  if (log->format != SC_LOG_JSON ||
      write_json(out, stamp, level, log->prog, fields, nfields, message) != 0)
    fprintf(out, "%s %s %s: %s\n", stamp, log->prog ? log->prog : "scopecast", level_names[level],
            message);
  fflush(out);
}

void sc__log(const sc_logger_t *log, sc_log_level_t level, const char *fmt, ...) {
  if (log == NULL || level < log->level)
    return;
  va_list ap;
  va_start(ap, fmt);
  log_v(log, level, NULL, 0, fmt, ap);
  va_end(ap);
}

void sc__log_fields(const sc_logger_t *log, sc_log_level_t level, const sc_log_field_t *fields,
                   size_t nfields, const char *fmt, ...) {
  if (log == NULL || level < log->level)
    return;
  va_list ap;
  va_start(ap, fmt);
  log_v(log, level, fields, nfields, fmt, ap);
  va_end(ap);
}
