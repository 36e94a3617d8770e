#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "store/array.h"
#include "store/doc.h"
#include "store/mem.h"

/* ---- building --------------------------------------------------------------------- */

/* A container under construction: children are gathered in a heap vector and copied into
 * the arena when the container closes. */
typedef struct {
  sc_node_t *node;
  sc_node_t **items;
  size_t n, cap;
} sc_frame_t;

typedef struct {
  sc_doc_t *doc;
  sc_frame_t *stack;
  size_t depth;
  unsigned max_depth;
  sc_doc_error_t *err;
} sc_builder_t;

static void set_err(sc_doc_error_t *err, uint64_t line, uint64_t col, uint64_t off,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_err(sc_doc_error_t *err, uint64_t line, uint64_t col, uint64_t off,
                    const char *fmt, ...) {
  err->line = line;
  err->column = col;
  err->offset = off;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
  va_end(ap);
}

static sc_node_t *new_node(sc_doc_t *doc, sc_node_type_t type, uint64_t line, uint64_t col,
                           uint64_t off) {
  sc_node_t *n = sc__arena_alloc(doc->arena, sizeof(*n));
  if (n == NULL)
    return NULL;
  n->type = (uint8_t)type;
  n->line = line;
  n->column = col;
  n->offset = off;
  n->text = "";
  return n;
}

static int frame_push_child(sc_frame_t *f, sc_node_t *child) {
  if (SC__ARRAY_PUSH(f, child) != 0)
    return SC_ENOMEM;
  return 0;
}

static int cmp_key(const void *a, const void *b) {
  const sc_node_t *x = *(sc_node_t *const *)a, *y = *(sc_node_t *const *)b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return memcmp(x->text, y->text, x->len);
}

/* Rejects duplicate keys (sorting a copy: a hostile map must not cost n^2). */
static int check_duplicate_keys(sc_builder_t *b, sc_frame_t *f) {
  size_t nkeys = f->n / 2;
  if (nkeys < 2)
    return 0;
  sc_node_t **keys = sc__malloc(nkeys * sizeof(*keys));
  if (keys == NULL)
    return SC_ENOMEM;
  for (size_t i = 0; i < nkeys; i++)
    keys[i] = f->items[2 * i];
  qsort(keys, nkeys, sizeof(*keys), cmp_key);
  int rc = 0;
  for (size_t i = 1; i < nkeys; i++) {
    if (cmp_key(&keys[i - 1], &keys[i]) == 0) {
      const sc_node_t *k = keys[i]->offset > keys[i - 1]->offset ? keys[i] : keys[i - 1];
      set_err(b->err, k->line, k->column, k->offset, "duplicate key \"%.200s\"", k->text);
      rc = SC_ESYNTAX;
      break;
    }
  }
  sc__free(keys);
  return rc;
}

static int open_container(sc_builder_t *b, sc_node_type_t type, uint64_t line, uint64_t col,
                          uint64_t off) {
  if (b->depth >= b->max_depth) {
    set_err(b->err, line, col, off, "nesting deeper than %u levels", b->max_depth);
    return SC_ETOOBIG;
  }
  sc_node_t *n = new_node(b->doc, type, line, col, off);
  if (n == NULL)
    return SC_ENOMEM;
  b->stack[b->depth++] = (sc_frame_t){n, NULL, 0, 0};
  return 0;
}

static int add_node(sc_builder_t *b, sc_node_t *n) {
  if (b->depth == 0) {
    b->doc->root = n;
    return 0;
  }
  return frame_push_child(&b->stack[b->depth - 1], n);
}

/* Kubernetes objects are JSON: mapping keys are strings, never lists or maps. */
static int check_scalar_keys(sc_builder_t *b, sc_frame_t *f) {
  for (size_t i = 0; i < f->n; i += 2) {
    const sc_node_t *k = f->items[i];
    if (k->type != SC_NODE_SCALAR) {
      set_err(b->err, k->line, k->column, k->offset, "mapping keys must be strings, not %s",
              k->type == SC_NODE_MAP ? "objects" : "lists");
      return SC_ESYNTAX;
    }
  }
  return 0;
}

static int close_container(sc_builder_t *b) {
  sc_frame_t *f = &b->stack[--b->depth];
  int rc = 0;
  if (f->node->type == SC_NODE_MAP) {
    rc = check_scalar_keys(b, f);
    if (rc == 0)
      rc = check_duplicate_keys(b, f);
  }
  if (rc == 0 && f->n > 0) {
    f->node->items = sc__arena_alloc(b->doc->arena, f->n * sizeof(sc_node_t *));
    if (f->node->items == NULL)
      rc = SC_ENOMEM;
    else
      memcpy(f->node->items, f->items, f->n * sizeof(sc_node_t *));
  }
  f->node->len = (uint32_t)(f->node->type == SC_NODE_MAP ? f->n / 2 : f->n);
  sc__free(f->items);
  f->items = NULL;
  if (rc != 0)
    return rc;
  return add_node(b, f->node);
}

static void builder_unwind(sc_builder_t *b) {
  while (b->depth > 0)
    sc__free(b->stack[--b->depth].items);
  sc__free(b->stack);
  b->stack = NULL;
}

static int builder_init(sc_builder_t *b, sc_doc_t *doc, unsigned max_depth,
                        sc_doc_error_t *err) {
  memset(b, 0, sizeof(*b));
  b->doc = doc;
  b->max_depth = max_depth ? max_depth : SC_PARSE_DEFAULT_MAX_DEPTH;
  b->err = err;
  b->stack = sc__calloc(b->max_depth, sizeof(*b->stack));
  return b->stack ? 0 : SC_ENOMEM;
}

void sc__doc_free(sc_doc_t *doc) {
  sc__arena_del(doc->arena);
  doc->arena = NULL;
  doc->root = NULL;
}

static int doc_init(sc_doc_t *doc, size_t len) {
  doc->root = NULL;
  doc->arena = sc__arena_new(len < 4096 ? 4096 : len * 2);
  return doc->arena ? 0 : SC_ENOMEM;
}

/* ---- YAML --------------------------------------------------------------------------- */

static int yaml_event_to_node(sc_builder_t *b, const yaml_event_t *ev, const sc_doc_opts_t *o) {
  uint64_t line = o->base_line + ev->start_mark.line;
  uint64_t col = ev->start_mark.column + 1;
  uint64_t off = o->base_offset + ev->start_mark.index;
  switch (ev->type) {
  case YAML_MAPPING_START_EVENT:
    return open_container(b, SC_NODE_MAP, line, col, off);
  case YAML_SEQUENCE_START_EVENT:
    return open_container(b, SC_NODE_SEQ, line, col, off);
  case YAML_MAPPING_END_EVENT:
  case YAML_SEQUENCE_END_EVENT:
    return close_container(b);
  case YAML_ALIAS_EVENT:
    set_err(b->err, line, col, off, "YAML aliases are not supported (%s)", "use plain values");
    return SC_ESYNTAX;
  case YAML_SCALAR_EVENT: {
    sc_node_t *n = new_node(b->doc, SC_NODE_SCALAR, line, col, off);
    if (n == NULL)
      return SC_ENOMEM;
    const yaml_char_t *tag = ev->data.scalar.tag;
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                (tag != NULL && strcmp((const char *)tag, YAML_STR_TAG) == 0);
    sc_str_t s;
    if (sc__arena_str(b->doc->arena, (const char *)ev->data.scalar.value,
                      ev->data.scalar.length, &s) != 0)
      return SC_ENOMEM;
    n->text = s.ptr;
    n->len = s.len;
    return add_node(b, n);
  }
  default:
    return 0;
  }
}

int sc__doc_parse_yaml(const char *buf, size_t len, const sc_doc_opts_t *opts, sc_doc_t *doc,
                       sc_doc_error_t *err) {
  sc_doc_opts_t o = *opts;
  if (o.base_line == 0)
    o.base_line = 1;
  int rc = doc_init(doc, len);
  if (rc != 0)
    return rc;
  sc_builder_t b;
  rc = builder_init(&b, doc, o.max_depth, err);
  if (rc != 0) {
    sc__doc_free(doc);
    return rc;
  }
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    builder_unwind(&b);
    sc__doc_free(doc);
    return SC_ENOMEM;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  int docs = 0;
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      const char *problem = parser.problem ? parser.problem : "malformed YAML";
      if (parser.error == YAML_READER_ERROR) {
        /* Encoding errors carry a byte offset, not a mark: count the lines up to it. */
        size_t at = parser.problem_offset < len ? parser.problem_offset : len;
        uint64_t line = o.base_line, col = 1;
        for (size_t i = 0; i < at; i++, col++)
          if (buf[i] == '\n')
            line++, col = 0;
        set_err(err, line, col, o.base_offset + at, "YAML syntax error: %s", problem);
      } else {
        set_err(err, o.base_line + parser.problem_mark.line, parser.problem_mark.column + 1,
                o.base_offset + parser.problem_mark.index, "YAML syntax error: %s", problem);
      }
      rc = parser.error == YAML_MEMORY_ERROR ? SC_ENOMEM : SC_ESYNTAX;
      break;
    }
    yaml_event_type_t type = ev.type;
    if (type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
      /* sc__doc_yaml_split hands us one document; a second one means a "---" we did not see. */
      set_err(err, o.base_line + ev.start_mark.line, ev.start_mark.column + 1,
              o.base_offset + ev.start_mark.index, "%s", "unexpected second YAML document");
      yaml_event_delete(&ev);
      rc = SC_ESYNTAX;
      break;
    }
    rc = yaml_event_to_node(&b, &ev, &o);
    yaml_event_delete(&ev);
    if (rc != 0 || type == YAML_STREAM_END_EVENT)
      break;
  }
  yaml_parser_delete(&parser);
  builder_unwind(&b);
  if (rc != 0)
    sc__doc_free(doc);
  return rc;
}

int sc__doc_yaml_split(const char *buf, size_t len, sc_yaml_chunk_cb cb, void *arg) {
  size_t start = 0, pos = 0;
  uint64_t line = 1, start_line = 1;
  while (pos < len) {
    const char *nl = memchr(buf + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - buf) + 1 : len;
    size_t n = end - pos;
    bool marker = n >= 3 && (memcmp(buf + pos, "---", 3) == 0 || memcmp(buf + pos, "...", 3) == 0) &&
                  (n == 3 || buf[pos + 3] == ' ' || buf[pos + 3] == '\n' || buf[pos + 3] == '\r' ||
                   buf[pos + 3] == '\t');
    if (marker) {
      if (pos > start) {
        int rc = cb(arg, buf + start, pos - start, start_line, start);
        if (rc != 0)
          return rc;
      }
      /* "--- " may carry content on the same line; keep it, blanking the marker. The
       * chunk then starts at the marker line with the marker itself skipped. */
      start = pos + 3;
      start_line = line;
    }
    pos = end;
    line++;
  }
  if (len > start)
    return cb(arg, buf + start, len - start, start_line, start);
  return 0;
}

/* ---- JSON --------------------------------------------------------------------------- */

static int json_to_node(sc_builder_t *b, json_t *v, uint64_t line, uint64_t off,
                        sc_node_t **out) {
  sc_doc_t *doc = b->doc;
  sc_node_t *n;
  char num[64];
  const char *text = NULL;
  size_t text_len = 0;
  bool quoted = false;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
  case JSON_ARRAY: {
    bool is_map = json_is_object(v);
    int rc = open_container(b, is_map ? SC_NODE_MAP : SC_NODE_SEQ, line, 0, off);
    if (rc != 0)
      return rc;
    sc_frame_t *f = &b->stack[b->depth - 1];
    if (is_map) {
      const char *key;
      json_t *child;
      json_object_foreach(v, key, child) {
        sc_node_t *k = new_node(doc, SC_NODE_SCALAR, line, 0, off), *c;
        sc_str_t s;
        if (k == NULL || sc__arena_str(doc->arena, key, strlen(key), &s) != 0)
          return SC_ENOMEM;
        k->text = s.ptr;
        k->len = s.len;
        k->quoted = true;
        if ((rc = json_to_node(b, child, line, off, &c)) != 0)
          return rc;
        f = &b->stack[b->depth - 1];
        if ((rc = frame_push_child(f, k)) != 0 || (rc = frame_push_child(f, c)) != 0)
          return rc;
      }
    } else {
      size_t i;
      json_t *child;
      json_array_foreach(v, i, child) {
        sc_node_t *c;
        if ((rc = json_to_node(b, child, line, off, &c)) != 0)
          return rc;
        if ((rc = frame_push_child(&b->stack[b->depth - 1], c)) != 0)
          return rc;
      }
    }
    /* close_container would attach the node to its parent; here the caller does. */
    f = &b->stack[--b->depth];
    n = f->node;
    n->len = (uint32_t)(is_map ? f->n / 2 : f->n);
    if (f->n > 0) {
      n->items = sc__arena_alloc(doc->arena, f->n * sizeof(sc_node_t *));
      if (n->items == NULL)
        return SC_ENOMEM;
      memcpy(n->items, f->items, f->n * sizeof(sc_node_t *));
    }
    sc__free(f->items);
    f->items = NULL;
    *out = n;
    return 0;
  }
  case JSON_STRING:
    text = json_string_value(v);
    text_len = json_string_length(v);
    quoted = true;
    break;
  case JSON_INTEGER:
    snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    text = num;
    text_len = strlen(num);
    break;
  case JSON_REAL:
    snprintf(num, sizeof(num), "%.17g", json_real_value(v));
    text = num;
    text_len = strlen(num);
    break;
  case JSON_TRUE:
    text = "true", text_len = 4;
    break;
  case JSON_FALSE:
    text = "false", text_len = 5;
    break;
  case JSON_NULL:
    text = "null", text_len = 4;
    break;
  }
  n = new_node(doc, SC_NODE_SCALAR, line, 0, off);
  sc_str_t s;
  if (n == NULL || sc__arena_str(doc->arena, text, text_len, &s) != 0)
    return SC_ENOMEM;
  n->text = s.ptr;
  n->len = s.len;
  n->quoted = quoted;
  *out = n;
  return 0;
}

static void count_lines(const char *p, size_t n, uint64_t *line, uint64_t *col) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\n') {
      (*line)++;
      *col = 1;
    } else {
      (*col)++;
    }
  }
}

int sc__doc_parse_json(const char *buf, size_t len, const sc_doc_opts_t *opts, sc_doc_t *doc,
                       size_t *consumed, sc_doc_error_t *err) {
  uint64_t base_line = opts->base_line ? opts->base_line : 1;
  /* Skip leading whitespace so positions name the value itself. */
  size_t skip = 0;
  uint64_t line = base_line, col = 1;
  while (skip < len && (buf[skip] == ' ' || buf[skip] == '\t' || buf[skip] == '\n' ||
                        buf[skip] == '\r')) {
    count_lines(buf + skip, 1, &line, &col);
    skip++;
  }
  json_error_t jerr;
  json_t *v = json_loadb(buf + skip, len - skip,
                         JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &jerr);
  if (v == NULL) {
    /* jansson counts lines and columns from 1 within what it was given. */
    uint64_t eline = line + (jerr.line > 0 ? (uint64_t)jerr.line - 1 : 0);
    uint64_t ecol = jerr.line > 1 ? (uint64_t)(jerr.column > 0 ? jerr.column : 1)
                                  : col + (uint64_t)(jerr.column > 0 ? jerr.column - 1 : 0);
    set_err(err, eline, ecol, opts->base_offset + skip + (uint64_t)(jerr.position > 0 ? jerr.position : 0),
            "JSON syntax error: %s", jerr.text);
    *consumed = len;
    return SC_ESYNTAX;
  }
  *consumed = skip + (size_t)jerr.position;
  int rc = doc_init(doc, *consumed);
  sc_builder_t b;
  if (rc == 0)
    rc = builder_init(&b, doc, opts->max_depth, err);
  else
    b.stack = NULL;
  if (rc == 0) {
    sc_node_t *root = NULL;
    rc = json_to_node(&b, v, line, opts->base_offset + skip, &root);
    if (rc == SC_ETOOBIG)
      err->line = line, err->column = col, err->offset = opts->base_offset + skip;
    doc->root = root;
    builder_unwind(&b);
  }
  json_decref(v);
  if (rc != 0)
    sc__doc_free(doc);
  return rc;
}

/* ---- access ------------------------------------------------------------------------- */

const sc_node_t *sc__doc_map_get(const sc_node_t *map, const char *key) {
  if (map == NULL || map->type != SC_NODE_MAP)
    return NULL;
  size_t klen = strlen(key);
  for (uint32_t i = 0; i < map->len; i++) {
    const sc_node_t *k = map->items[2 * i];
    if (k->type == SC_NODE_SCALAR && k->len == klen && memcmp(k->text, key, klen) == 0)
      return map->items[2 * i + 1];
  }
  return NULL;
}

bool sc__doc_node_is_null(const sc_node_t *n) {
  if (n == NULL)
    return true;
  if (n->type != SC_NODE_SCALAR || n->quoted)
    return false;
  return n->len == 0 || strcmp(n->text, "null") == 0 || strcmp(n->text, "~") == 0 ||
         strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}
