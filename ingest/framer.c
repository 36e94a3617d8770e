#include <stdlib.h>
#include <string.h>

#include "ingest/framer.h"
#include "store/mem.h"
#include "scopecast/error.h"

void sc__framer_init(sc_framer_t *f, size_t max_bytes) {
  memset(f, 0, sizeof(*f));
  f->max_bytes = max_bytes;
  f->line = 1;
  f->line_start = true;
}

void sc__framer_free(sc_framer_t *f) {
  sc__free(f->buf);
  f->buf = NULL;
  f->len = f->cap = 0;
}

static void value_reset(sc_framer_t *f) {
  f->len = 0;
  f->depth = 0;
  f->in_value = f->in_string = f->escape = f->discarding = false;
}

void sc__framer_reset(sc_framer_t *f) {
  value_reset(f);
  f->garbage = false;
  f->line_start = true;
}

static int emit_error(sc_framer_t *f, const char *reason, sc_frame_cb cb, void *arg) {
  sc_frame_t fr = {true, NULL, 0, f->value_line, f->value_offset, reason};
  return cb(arg, &fr);
}

static int append(sc_framer_t *f, char c) {
  if (f->discarding)
    return 0;
  if (f->len + 1 > f->max_bytes) {
    f->discarding = true; /* keep following brackets to find where it ends */
    sc__free(f->buf);
    f->buf = NULL;
    f->cap = 0;
    return 0;
  }
  if (f->len == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 4096;
    if (cap > f->max_bytes)
      cap = f->max_bytes;
    char *p = sc__realloc(f->buf, cap);
    if (p == NULL)
      return SC_ENOMEM;
    f->buf = p;
    f->cap = cap;
  }
  f->buf[f->len++] = c;
  return 0;
}

static int start_value(sc_framer_t *f, char c, sc_frame_cb cb, void *arg) {
  int rc = 0;
  if (f->garbage) {
    f->garbage = false;
    rc = emit_error(f, "text that is not a JSON object was skipped", cb, arg);
    if (rc != 0)
      return rc;
  }
  value_reset(f);
  f->in_value = true;
  f->depth = 1;
  f->value_line = f->line;
  f->value_offset = f->offset;
  return append(f, c);
}

static int finish_value(sc_framer_t *f, sc_frame_cb cb, void *arg) {
  int rc;
  if (f->discarding) {
    rc = emit_error(f, "watch event exceeds the size limit (--max-object-bytes) and was dropped",
                    cb, arg);
  } else {
    sc_frame_t fr = {false, f->buf, f->len, f->value_line, f->value_offset, NULL};
    rc = cb(arg, &fr);
  }
  value_reset(f);
  return rc;
}

int sc__framer_push(sc_framer_t *f, const char *data, size_t n, sc_frame_cb cb, void *arg) {
  for (size_t i = 0; i < n; i++) {
    char c = data[i];
    bool at_line_start = f->line_start;
    int rc = 0;
    if (!f->in_value) {
      if (c == '{' && (at_line_start || !f->garbage)) {
        rc = start_value(f, c, cb, arg);
      } else if (c == '[' && !f->garbage) {
        rc = start_value(f, c, cb, arg);
      } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && !f->garbage) {
        f->garbage = true;
        f->value_line = f->line;
        f->value_offset = f->offset;
      }
    } else if (at_line_start && c == '{') {
      /* A new top-level value begins while the last one is unbalanced: give it up. */
      rc = emit_error(f, "malformed watch event (unbalanced or truncated JSON) was dropped", cb,
                      arg);
      if (rc == 0)
        rc = start_value(f, c, cb, arg);
    } else {
      rc = append(f, c);
      if (rc == 0) {
        if (f->in_string) {
          if (f->escape)
            f->escape = false;
          else if (c == '\\')
            f->escape = true;
          else if (c == '"')
            f->in_string = false;
        } else if (c == '"') {
          f->in_string = true;
        } else if (c == '{' || c == '[') {
          f->depth++;
        } else if (c == '}' || c == ']') {
          if (--f->depth == 0)
            rc = finish_value(f, cb, arg);
        }
      }
    }
    f->offset++;
    f->line_start = c == '\n';
    if (c == '\n')
      f->line++;
    if (rc != 0)
      return rc;
  }
  return 0;
}

int sc__framer_finish(sc_framer_t *f, sc_frame_cb cb, void *arg) {
  int rc = 0;
  if (f->in_value)
    rc = emit_error(f, "stream ended inside a watch event (truncated JSON)", cb, arg);
  else if (f->garbage)
    rc = emit_error(f, "text that is not a JSON object was skipped", cb, arg);
  sc__framer_reset(f);
  return rc;
}
