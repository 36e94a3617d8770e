#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/decode.h"
#include "store/mem.h"
#include "store/validate.h"

/* ---- paths and errors -------------------------------------------------------------- */

static size_t path_append(sc_dec_t *d, const char *text) {
  size_t saved = d->path_len;
  size_t n = strlen(text);
  if (d->path_len + n >= sizeof(d->path))
    n = sizeof(d->path) - 1 - d->path_len;
  memcpy(d->path + d->path_len, text, n);
  d->path_len += n;
  d->path[d->path_len] = '\0';
  return saved;
}

size_t sc__decode_push_key(sc_dec_t *d, const char *key) {
  size_t saved = d->path_len;
  if (d->path_len > 0)
    path_append(d, ".");
  path_append(d, key);
  return saved;
}

size_t sc__decode_push_index(sc_dec_t *d, size_t index) {
  char buf[32];
  snprintf(buf, sizeof(buf), "[%zu]", index);
  return path_append(d, buf);
}

void sc__decode_pop(sc_dec_t *d, size_t saved_len) {
  d->path_len = saved_len;
  d->path[saved_len] = '\0';
}

int sc__decode_fail(sc_dec_t *d, const sc_node_t *node, const char *fmt, ...) {
  sc_diag_t *diag = d->diag;
  snprintf(diag->field, sizeof(diag->field), "%s", d->path);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(diag->reason, sizeof(diag->reason), fmt, ap);
  va_end(ap);
  if (node != NULL) {
    diag->line = node->line;
    diag->column = node->column;
    diag->offset = node->offset;
  }
  return SC_EINVALID;
}

void sc__decode_warn(sc_dec_t *d, const sc_node_t *node, const char *fmt, ...) {
  uint32_t i = d->nwarnings++;
  if (d->warnings == NULL || i >= d->max_warnings)
    return;
  sc_diag_t *w = &d->warnings[i];
  memset(w, 0, sizeof(*w));
  memcpy(w->source, d->diag->source, sizeof(w->source));
  memcpy(w->kind, d->diag->kind, sizeof(w->kind));
  memcpy(w->namespace_, d->diag->namespace_, sizeof(w->namespace_));
  memcpy(w->name, d->diag->name, sizeof(w->name));
  snprintf(w->field, sizeof(w->field), "%s", d->path);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->reason, sizeof(w->reason), fmt, ap);
  va_end(ap);
  if (node != NULL) {
    w->line = node->line;
    w->column = node->column;
    w->offset = node->offset;
  }
}

void sc__decode_hash(sc_dec_t *d, const void *p, size_t n) {
  if (d->hash != NULL)
    XXH3_64bits_update(d->hash, p, n);
}

static void hash_str(sc_dec_t *d, const char *p, size_t n) {
  uint32_t len = (uint32_t)n;
  sc__decode_hash(d, &len, sizeof(len));
  sc__decode_hash(d, p, n);
}

/* ---- scalar typing ----------------------------------------------------------------- */

static bool is_int_text(const char *s, size_t n) {
  size_t i = 0;
  if (n > 0 && (s[0] == '-' || s[0] == '+'))
    i = 1;
  if (i == n)
    return false;
  for (; i < n; i++)
    if (!isdigit((unsigned char)s[i]))
      return false;
  return true;
}

static bool is_float_text(const char *s, size_t n) {
  if (n == 0)
    return false;
  if (strcmp(s, ".inf") == 0 || strcmp(s, "-.inf") == 0 || strcmp(s, ".nan") == 0 ||
      strcmp(s, ".Inf") == 0 || strcmp(s, ".NaN") == 0)
    return true;
  char *end;
  errno = 0;
  (void)strtod(s, &end);
  return end == s + n && (isdigit((unsigned char)s[n - 1]) || s[n - 1] == '.');
}

static bool is_bool_text(const char *s) {
  return strcmp(s, "true") == 0 || strcmp(s, "false") == 0 || strcmp(s, "True") == 0 ||
         strcmp(s, "False") == 0 || strcmp(s, "TRUE") == 0 || strcmp(s, "FALSE") == 0;
}

const char *sc__decode_scalar_type_name(const sc_node_t *n) {
  if (n->type == SC_NODE_MAP)
    return "an object";
  if (n->type == SC_NODE_SEQ)
    return "a list";
  if (n->quoted)
    return "a string";
  if (sc__doc_node_is_null(n))
    return "null";
  if (is_bool_text(n->text))
    return "a boolean";
  if (is_int_text(n->text, n->len) || is_float_text(n->text, n->len))
    return "a number";
  return "a string";
}

static bool is_string_node(const sc_node_t *n) {
  return n->type == SC_NODE_SCALAR && strcmp(sc__decode_scalar_type_name(n), "a string") == 0;
}

static int expect_string(sc_dec_t *d, const sc_node_t *n) {
  if (!is_string_node(n))
    return sc__decode_fail(d, n, "expected a string, got %s", sc__decode_scalar_type_name(n));
  if (!sc__validate_utf8(n->text, n->len))
    return sc__decode_fail(d, n, "string is not valid UTF-8");
  return 0;
}

static int copy_str(sc_dec_t *d, const sc_node_t *n, sc_str_t *out) {
  if (sc__arena_str(d->arena, n->text, n->len, out) != 0)
    return SC_ENOMEM;
  hash_str(d, n->text, n->len);
  return 0;
}

static int parse_int(sc_dec_t *d, const sc_node_t *n, int64_t min, int64_t max, int64_t *out) {
  if (n->type != SC_NODE_SCALAR || n->quoted || !is_int_text(n->text, n->len))
    return sc__decode_fail(d, n, "expected an integer, got %s", sc__decode_scalar_type_name(n));
  errno = 0;
  long long v = strtoll(n->text, NULL, 10);
  if (errno == ERANGE || v < min || v > max)
    return sc__decode_fail(d, n, "%.40s is outside %" PRId64 "-%" PRId64, n->text, min, max);
  *out = v;
  return 0;
}

/* ---- durations and timestamps --------------------------------------------------------- */

static int64_t parse_duration(const char *s, size_t n) {
  static const struct {
    const char *unit;
    double ns;
  } units[] = {{"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
               {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  if (n == 0 || n > 64)
    return -1;
  if (n == 1 && s[0] == '0')
    return 0;
  double total = 0;
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '.'))
      i++;
    if (i == start)
      return -1;
    char num[65];
    memcpy(num, s + start, i - start);
    num[i - start] = '\0';
    char *end;
    double v = strtod(num, &end);
    if (*end != '\0')
      return -1;
    size_t ustart = i;
    while (i < n && !isdigit((unsigned char)s[i]) && s[i] != '.')
      i++;
    size_t ulen = i - ustart;
    double mult = -1;
    for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++)
      if (strlen(units[k].unit) == ulen && memcmp(units[k].unit, s + ustart, ulen) == 0)
        mult = units[k].ns;
    if (mult < 0)
      return -1;
    total += v * mult;
  }
  if (total > 9.2e18)
    return -1;
  return (int64_t)llround(total);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

int64_t sc__decode_rfc3339(const char *s, size_t n, bool *ok) {
  unsigned Y, M, D, h, mi, sec;
  int used = 0;
  char buf[64];
  *ok = false;
  if (n < 20 || n >= sizeof(buf))
    return 0;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (sscanf(buf, "%4u-%2u-%2u%*[Tt]%2u:%2u:%2u%n", &Y, &M, &D, &h, &mi, &sec, &used) != 6 ||
      used != 19)
    return 0;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
    return 0;
  const char *p = buf + 19;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p))
      return 0;
    while (isdigit((unsigned char)*p))
      p++;
  }
  int64_t offset = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    unsigned oh, om;
    int k = 0;
    if (sscanf(p + 1, "%2u:%2u%n", &oh, &om, &k) != 2 || k != 5)
      return 0;
    offset = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return 0;
  }
  if (*p != '\0')
    return 0;
  *ok = true;
  return days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - offset;
}

/* ---- field decoders ------------------------------------------------------------------ */

static int decode_strlist(sc_dec_t *d, const sc_node_t *n, sc_strlist_t *out) {
  if (sc__doc_node_is_null(n))
    return 0;
  if (n->type != SC_NODE_SEQ)
    return sc__decode_fail(d, n, "expected a list of strings, got %s", sc__decode_scalar_type_name(n));
  out->items = sc__arena_alloc(d->arena, (n->len ? n->len : 1) * sizeof(sc_str_t));
  if (out->items == NULL)
    return SC_ENOMEM;
  sc__decode_hash(d, &n->len, sizeof(n->len));
  for (uint32_t i = 0; i < n->len; i++) {
    size_t saved = sc__decode_push_index(d, i);
    int rc = expect_string(d, n->items[i]);
    if (rc == 0)
      rc = copy_str(d, n->items[i], &out->items[i]);
    if (rc != 0)
      return rc;
    sc__decode_pop(d, saved);
  }
  out->n = n->len;
  return 0;
}

static int cmp_label(const void *a, const void *b) {
  const sc_label_t *x = a, *y = b;
  size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
  int c = memcmp(x->key.ptr, y->key.ptr, n);
  if (c != 0)
    return c;
  return (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

static int decode_map(sc_dec_t *d, const sc_node_t *n, sc_labels_t *out, bool k8s_labels) {
  if (sc__doc_node_is_null(n))
    return 0;
  if (n->type != SC_NODE_MAP)
    return sc__decode_fail(d, n, "expected a map of strings, got %s", sc__decode_scalar_type_name(n));
  out->items = sc__arena_alloc(d->arena, (n->len ? n->len : 1) * sizeof(sc_label_t));
  if (out->items == NULL)
    return SC_ENOMEM;
  for (uint32_t i = 0; i < n->len; i++) {
    const sc_node_t *k = n->items[2 * i], *v = n->items[2 * i + 1];
    size_t saved = sc__decode_push_key(d, k->text);
    int rc = expect_string(d, k);
    if (rc == 0)
      rc = sc__doc_node_is_null(v) ? 0 : expect_string(d, v);
    if (rc != 0)
      return rc;
    if (k8s_labels) {
      const char *why = sc__validate_label_key(k->text, k->len);
      if (why != NULL)
        return sc__decode_fail(d, k, "invalid label key \"%.100s\": %s", k->text, why);
      why = sc__validate_label_value(v->text, sc__doc_node_is_null(v) ? 0 : v->len);
      if (why != NULL)
        return sc__decode_fail(d, v, "invalid label value \"%.100s\": %s", v->text, why);
    }
    sc_label_t *l = &out->items[i];
    if (sc__arena_str(d->arena, k->text, k->len, &l->key) != 0 ||
        sc__arena_str(d->arena, v->text, sc__doc_node_is_null(v) ? 0 : v->len, &l->value) != 0)
      return SC_ENOMEM;
    sc__decode_pop(d, saved);
  }
  out->n = n->len;
  qsort(out->items, out->n, sizeof(sc_label_t), cmp_label);
  sc__decode_hash(d, &out->n, sizeof(out->n));
  for (uint32_t i = 0; i < out->n; i++) {
    hash_str(d, out->items[i].key.ptr, out->items[i].key.len);
    hash_str(d, out->items[i].value.ptr, out->items[i].value.len);
  }
  return 0;
}

static int decode_string_match(sc_dec_t *d, const sc_node_t *n, sc_string_match_t *out) {
  static const char *const kinds[] = {"exact", "prefix", "regex"};
  if (sc__doc_node_is_null(n))
    return 0;
  if (n->type != SC_NODE_MAP)
    return sc__decode_fail(d, n, "expected an object with exact, prefix or regex, got %s",
                        sc__decode_scalar_type_name(n));
  for (int k = 0; k < 3; k++) {
    const sc_node_t *v = sc__doc_map_get(n, kinds[k]);
    if (sc__doc_node_is_null(v))
      continue;
    size_t saved = sc__decode_push_key(d, kinds[k]);
    if (out->kind != SC_MATCH_NONE)
      return sc__decode_fail(d, v, "only one of exact, prefix and regex may be set");
    int rc = expect_string(d, v);
    if (rc != 0)
      return rc;
    out->kind = (sc_match_kind_t)(k + 1);
    sc__decode_hash(d, &out->kind, sizeof(out->kind));
    if ((rc = copy_str(d, v, &out->value)) != 0)
      return rc;
    sc__decode_pop(d, saved);
  }
  return 0;
}

static int cmp_keyed(const void *a, const void *b) {
  const sc_keyed_match_t *x = a, *y = b;
  return strcmp(x->name.ptr, y->name.ptr);
}

static int decode_keyed_matches(sc_dec_t *d, const sc_node_t *n, sc_keyed_matches_t *out) {
  if (sc__doc_node_is_null(n))
    return 0;
  if (n->type != SC_NODE_MAP)
    return sc__decode_fail(d, n, "expected a map of string matches, got %s", sc__decode_scalar_type_name(n));
  out->items = sc__arena_alloc(d->arena, (n->len ? n->len : 1) * sizeof(sc_keyed_match_t));
  if (out->items == NULL)
    return SC_ENOMEM;
  /* Hash after sorting so key order does not matter: decode without hashing first. */
  XXH3_state_t *h = d->hash;
  d->hash = NULL;
  for (uint32_t i = 0; i < n->len; i++) {
    const sc_node_t *k = n->items[2 * i];
    size_t saved = sc__decode_push_key(d, k->text);
    int rc = expect_string(d, k);
    if (rc == 0 && sc__arena_str(d->arena, k->text, k->len, &out->items[i].name) != 0)
      rc = SC_ENOMEM;
    if (rc == 0)
      rc = decode_string_match(d, n->items[2 * i + 1], &out->items[i].match);
    if (rc != 0) {
      d->hash = h;
      return rc;
    }
    sc__decode_pop(d, saved);
  }
  d->hash = h;
  out->n = n->len;
  qsort(out->items, out->n, sizeof(*out->items), cmp_keyed);
  sc__decode_hash(d, &out->n, sizeof(out->n));
  for (uint32_t i = 0; i < out->n; i++) {
    hash_str(d, out->items[i].name.ptr, out->items[i].name.len);
    sc__decode_hash(d, &out->items[i].match.kind, sizeof(out->items[i].match.kind));
    hash_str(d, out->items[i].match.value.ptr, out->items[i].match.value.len);
  }
  return 0;
}

static int decode_named_ports(sc_dec_t *d, const sc_node_t *n, sc_named_port_t **items,
                              uint32_t *count) {
  if (sc__doc_node_is_null(n))
    return 0;
  if (n->type != SC_NODE_MAP)
    return sc__decode_fail(d, n, "expected a map of port names to numbers, got %s",
                        sc__decode_scalar_type_name(n));
  sc_named_port_t *ports = sc__arena_alloc(d->arena, (n->len ? n->len : 1) * sizeof(*ports));
  if (ports == NULL)
    return SC_ENOMEM;
  for (uint32_t i = 0; i < n->len; i++) {
    const sc_node_t *k = n->items[2 * i];
    size_t saved = sc__decode_push_key(d, k->text);
    int64_t v;
    int rc = expect_string(d, k);
    if (rc == 0)
      rc = parse_int(d, n->items[2 * i + 1], 0, 65535, &v);
    if (rc == 0 && sc__arena_str(d->arena, k->text, k->len, &ports[i].name) != 0)
      rc = SC_ENOMEM;
    if (rc != 0)
      return rc;
    ports[i].port = (uint32_t)v;
    sc__decode_pop(d, saved);
  }
  /* Sorted by name so the hash does not depend on key order. */
  qsort(ports, n->len, sizeof(*ports), cmp_label);
  for (uint32_t i = 0; i < n->len; i++) {
    hash_str(d, ports[i].name.ptr, ports[i].name.len);
    sc__decode_hash(d, &ports[i].port, sizeof(ports[i].port));
  }
  *items = ports;
  *count = n->len;
  return 0;
}

static int decode_enum(sc_dec_t *d, const sc_field_t *f, const sc_node_t *n, int *out) {
  size_t count = 0;
  while (f->names[count] != NULL)
    count++;
  if (n->type == SC_NODE_SCALAR && !n->quoted && is_int_text(n->text, n->len)) {
    int64_t v;
    int rc = parse_int(d, n, 0, (int64_t)count - 1, &v);
    if (rc != 0)
      return rc;
    *out = (int)v;
    return 0;
  }
  int rc = expect_string(d, n);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < count; i++) {
    if (strcmp(f->names[i], n->text) == 0) {
      *out = (int)i;
      return 0;
    }
  }
  char allowed[200] = "";
  for (size_t i = 0; i < count; i++) {
    if (f->names[i][0] == '\0')
      continue;
    size_t used = strlen(allowed);
    snprintf(allowed + used, sizeof(allowed) - used, "%s%s", used ? ", " : "", f->names[i]);
  }
  return sc__decode_fail(d, n, "unknown value \"%.60s\" (one of %s)", n->text, allowed);
}

static int decode_list(sc_dec_t *d, const sc_field_t *f, const sc_node_t *n, void *base) {
  if (sc__doc_node_is_null(n))
    return 0;
  if (n->type != SC_NODE_SEQ)
    return sc__decode_fail(d, n, "expected a list, got %s", sc__decode_scalar_type_name(n));
  char *items = sc__arena_alloc(d->arena, (n->len ? n->len : 1) * f->elem_size);
  if (items == NULL)
    return SC_ENOMEM;
  sc__decode_hash(d, &n->len, sizeof(n->len));
  for (uint32_t i = 0; i < n->len; i++) {
    size_t saved = sc__decode_push_index(d, i);
    const sc_node_t *item = n->items[i];
    if (item->type != SC_NODE_MAP)
      return sc__decode_fail(d, item, "expected an object, got %s", sc__decode_scalar_type_name(item));
    int rc = sc__decode_struct(d, item, f->sub, items + i * f->elem_size);
    if (rc != 0)
      return rc;
    sc__decode_pop(d, saved);
  }
  memcpy((char *)base + f->offset, &items, sizeof(items));
  memcpy((char *)base + f->aux, &n->len, sizeof(uint32_t));
  return 0;
}

/* Every field gets a defined value when absent, so decoding into uninitialised memory
 * (a struct on the stack) is safe. */
static void set_default(const sc_field_t *f, char *base) {
  void *p = base + f->offset;
  static const sc_str_t empty = {"", 0};
  if (f->presence >= 0)
    *(bool *)(base + f->presence) = false;
  switch ((sc_field_type_t)f->type) {
  case SC_F_END:
  case SC_F_STRUCT: /* its own fields are set by the recursion */
    break;
  case SC_F_U32:
    *(uint32_t *)p = (uint32_t)f->def;
    break;
  case SC_F_I32:
    *(int32_t *)p = (int32_t)f->def;
    break;
  case SC_F_ENUM:
    *(int *)p = (int)f->def;
    break;
  case SC_F_BOOL:
    *(bool *)p = false;
    break;
  case SC_F_TRI:
    *(sc_tri_t *)p = SC_TRI_UNSET;
    break;
  case SC_F_DOUBLE:
  case SC_F_PERCENT:
    *(double *)p = SC_UNSET_DBL;
    break;
  case SC_F_DURATION:
    *(int64_t *)p = SC_UNSET_I64;
    break;
  case SC_F_STR:
    *(sc_str_t *)p = empty;
    break;
  case SC_F_STRLIST:
    *(sc_strlist_t *)p = (sc_strlist_t){0, NULL};
    break;
  case SC_F_LABELS:
  case SC_F_STRMAP:
    *(sc_labels_t *)p = (sc_labels_t){0, NULL};
    break;
  case SC_F_LIST:
    memset(p, 0, sizeof(void *));
    memset(base + f->aux, 0, sizeof(uint32_t));
    break;
  case SC_F_PROTOCOL:
    *(sc_protocol_t *)p = SC_PROTO_UNSUPPORTED;
    *(sc_str_t *)(base + f->aux) = empty;
    break;
  case SC_F_INT_OR_STRING:
    *(uint32_t *)p = 0;
    *(sc_str_t *)(base + f->aux) = empty;
    break;
  case SC_F_STRING_MATCH:
    *(sc_string_match_t *)p = (sc_string_match_t){SC_MATCH_NONE, empty};
    break;
  case SC_F_KEYED_MATCHES:
    *(sc_keyed_matches_t *)p = (sc_keyed_matches_t){0, NULL};
    break;
  case SC_F_NAMED_PORTS:
    memset(p, 0, sizeof(void *));
    memset(base + f->aux, 0, sizeof(uint32_t));
    break;
  }
}

/* Struct fields that are absent still need their sentinels, recursively. */
static void set_struct_defaults(const sc_schema_t *schema, char *base) {
  for (const sc_field_t *f = schema->fields; f->type != SC_F_END; f++) {
    set_default(f, base);
    if (f->type == SC_F_STRUCT)
      set_struct_defaults(f->sub, base + f->offset);
  }
}

/* Integers of the field's range, stored as uint32_t or int32_t. */
static int decode_int(sc_dec_t *d, const sc_field_t *f, const sc_node_t *n, void *p) {
  int64_t v;
  int rc = parse_int(d, n, f->min, f->max, &v);
  if (rc != 0)
    return rc;
  if (f->type == SC_F_I32) {
    *(int32_t *)p = (int32_t)v;
    sc__decode_hash(d, p, sizeof(int32_t));
  } else {
    *(uint32_t *)p = (uint32_t)v;
    sc__decode_hash(d, p, sizeof(uint32_t));
  }
  return 0;
}

/* An unquoted true/false, stored as bool (SC_F_BOOL) or as a set sc_tri_t (SC_F_TRI). */
static int decode_bool(sc_dec_t *d, const sc_field_t *f, const sc_node_t *n, void *p) {
  if (n->type != SC_NODE_SCALAR || n->quoted || !is_bool_text(n->text))
    return sc__decode_fail(d, n, "expected a boolean, got %s", sc__decode_scalar_type_name(n));
  bool b = n->text[0] == 't' || n->text[0] == 'T';
  if (f->type == SC_F_BOOL)
    *(bool *)p = b;
  else
    *(sc_tri_t *)p = b ? SC_TRI_TRUE : SC_TRI_FALSE;
  sc__decode_hash(d, &b, sizeof(b));
  return 0;
}

/* A number within the field's range (SC_F_DOUBLE), or a percentage {value: 0-100}
 * (SC_F_PERCENT; an absent value is 0). */
static int decode_number(sc_dec_t *d, const sc_field_t *f, const sc_node_t *n, double *p) {
  if (f->type == SC_F_PERCENT) {
    if (n->type != SC_NODE_MAP)
      return sc__decode_fail(d, n, "expected an object {value: number}, got %s",
                          sc__decode_scalar_type_name(n));
    n = sc__doc_map_get(n, "value");
    if (sc__doc_node_is_null(n)) {
      *p = 0;
      sc__decode_hash(d, p, sizeof(double));
      return 0;
    }
  }
  if (n->type != SC_NODE_SCALAR || n->quoted ||
      !(is_int_text(n->text, n->len) || is_float_text(n->text, n->len)))
    return sc__decode_fail(d, n, "expected a number, got %s", sc__decode_scalar_type_name(n));
  double x = strtod(n->text, NULL);
  double lo = f->type == SC_F_PERCENT ? 0 : (double)f->min;
  double hi = f->type == SC_F_PERCENT ? 100 : (double)f->max;
  if (!(x >= lo && x <= hi))
    return sc__decode_fail(d, n, "%.40s is outside %g-%g", n->text, lo, hi);
  *p = x;
  sc__decode_hash(d, p, sizeof(double));
  return 0;
}

/* A protobuf Duration string ("10s", "1.5s", "100ms"), stored in nanoseconds. */
static int decode_duration(sc_dec_t *d, const sc_node_t *n, int64_t *p) {
  int rc = expect_string(d, n);
  if (rc != 0)
    return rc;
  int64_t ns = parse_duration(n->text, n->len);
  if (ns < 0)
    return sc__decode_fail(d, n, "\"%.40s\" is not a duration (e.g. \"10s\", \"1.5s\", \"100ms\")",
                        n->text);
  *p = ns;
  sc__decode_hash(d, p, sizeof(int64_t));
  return 0;
}

/* A protocol name: the parsed protocol, and the text as given into the field's aux. */
static int decode_protocol(sc_dec_t *d, const sc_field_t *f, const sc_node_t *n, char *base) {
  int rc = expect_string(d, n);
  if (rc != 0)
    return rc;
  sc_protocol_t proto = sc_protocol_parse(n->text, n->len);
  if (proto == SC_PROTO_UNSUPPORTED)
    return sc__decode_fail(d, n, "unknown protocol \"%.40s\"", n->text);
  *(sc_protocol_t *)(base + f->offset) = proto;
  return copy_str(d, n, (sc_str_t *)(base + f->aux));
}

/* A number (into the field, as uint32_t) or a name (into the field's aux). */
static int decode_int_or_string(sc_dec_t *d, const sc_field_t *f, const sc_node_t *n, char *base) {
  if (n->type == SC_NODE_SCALAR && !n->quoted && is_int_text(n->text, n->len))
    return decode_int(d, f, n, base + f->offset);
  int rc = expect_string(d, n);
  return rc != 0 ? rc : copy_str(d, n, (sc_str_t *)(base + f->aux));
}

static int decode_field(sc_dec_t *d, const sc_field_t *f, const sc_node_t *n, char *base) {
  void *p = base + f->offset;
  int rc = 0;
  switch ((sc_field_type_t)f->type) {
  case SC_F_END:
    break;
  case SC_F_STR:
    if ((rc = expect_string(d, n)) == 0)
      rc = copy_str(d, n, p);
    break;
  case SC_F_U32:
  case SC_F_I32:
    rc = decode_int(d, f, n, p);
    break;
  case SC_F_BOOL:
  case SC_F_TRI:
    rc = decode_bool(d, f, n, p);
    break;
  case SC_F_PERCENT:
  case SC_F_DOUBLE:
    rc = decode_number(d, f, n, p);
    break;
  case SC_F_DURATION:
    rc = decode_duration(d, n, p);
    break;
  case SC_F_ENUM: {
    int e = 0;
    if ((rc = decode_enum(d, f, n, &e)) == 0) {
      *(int *)p = e;
      sc__decode_hash(d, &e, sizeof(e));
    }
    break;
  }
  case SC_F_STRLIST:
    rc = decode_strlist(d, n, p);
    break;
  case SC_F_LABELS:
  case SC_F_STRMAP:
    rc = decode_map(d, n, p, f->type == SC_F_LABELS);
    break;
  case SC_F_STRUCT:
    if (n->type != SC_NODE_MAP)
      return sc__decode_fail(d, n, "expected an object, got %s", sc__decode_scalar_type_name(n));
    rc = sc__decode_struct(d, n, f->sub, p);
    break;
  case SC_F_LIST:
    rc = decode_list(d, f, n, base);
    break;
  case SC_F_PROTOCOL:
    rc = decode_protocol(d, f, n, base);
    break;
  case SC_F_INT_OR_STRING:
    rc = decode_int_or_string(d, f, n, base);
    break;
  case SC_F_STRING_MATCH:
    rc = decode_string_match(d, n, p);
    break;
  case SC_F_KEYED_MATCHES:
    rc = decode_keyed_matches(d, n, p);
    break;
  case SC_F_NAMED_PORTS:
    rc = decode_named_ports(d, n, p, (uint32_t *)(base + f->aux));
    break;
  }
  if (rc == 0 && f->check != NULL)
    rc = f->check(d, n, p);
  return rc;
}

static bool schema_has_key(const sc_schema_t *schema, const char *key) {
  for (; schema != NULL; schema = schema->also) {
    for (const sc_field_t *f = schema->fields; f->type != SC_F_END; f++)
      if (strcmp(f->key, key) == 0)
        return true;
    for (const char *const *k = schema->known; k != NULL && *k != NULL; k++)
      if (strcmp(*k, key) == 0)
        return true;
  }
  return false;
}

/* Keys that are not fields of the API type: accepted, as istiod does, with a warning
 * (Kubernetes warns "unknown field" the same way). */
static void warn_unknown_keys(sc_dec_t *d, const sc_node_t *map, const sc_schema_t *schema) {
  if (schema->known == NULL || map->type != SC_NODE_MAP)
    return;
  for (uint32_t i = 0; i < map->len; i++) {
    const sc_node_t *k = map->items[2 * i];
    if (k->type != SC_NODE_SCALAR || schema_has_key(schema, k->text))
      continue;
    size_t saved = sc__decode_push_key(d, k->text);
    sc__decode_warn(d, k, "unknown field \"%.100s\" (ignored)", k->text);
    sc__decode_pop(d, saved);
  }
}

int sc__decode_struct(sc_dec_t *d, const sc_node_t *map, const sc_schema_t *schema, void *value) {
  char *base = value;
  warn_unknown_keys(d, map, schema);
  set_struct_defaults(schema, base);
  for (const sc_field_t *f = schema->fields; f->type != SC_F_END; f++) {
    const sc_node_t *n = sc__doc_map_get(map, f->key);
    if (sc__doc_node_is_null(n)) {
      if (f->flags & SC_FF_REQUIRED) {
        size_t saved = sc__decode_push_key(d, f->key);
        int rc = sc__decode_fail(d, n ? n : map, "is required");
        sc__decode_pop(d, saved);
        return rc;
      }
      continue;
    }
    size_t saved = sc__decode_push_key(d, f->key);
    hash_str(d, f->key, strlen(f->key));
    int rc = decode_field(d, f, n, base);
    if (rc != 0)
      return rc;
    if (f->presence >= 0)
      *(bool *)(base + f->presence) = true;
    sc__decode_pop(d, saved);
  }
  if (schema->finish != NULL)
    return schema->finish(d, map, value);
  return 0;
}
