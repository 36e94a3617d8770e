/* The watch-stream framer: values per line, pretty-printed values, values split across
 * reads, resynchronisation after malformed input, and the size limit. */
#include "ingest/framer.h"
#include "harness.h"

typedef struct {
  int values, errors;
  char texts[16][256];
  uint64_t lines[16];
  const char *reasons[16];
} collected_t;

static int collect(void *arg, const sc_frame_t *fr) {
  collected_t *c = arg;
  int i = c->values + c->errors;
  if (i < 16) {
    c->lines[i] = fr->line;
    c->reasons[i] = fr->reason;
    if (!fr->is_error)
      snprintf(c->texts[i], sizeof(c->texts[i]), "%.*s", (int)fr->len, fr->data);
    else
      c->texts[i][0] = '\0';
  }
  if (fr->is_error)
    c->errors++;
  else
    c->values++;
  return 0;
}

/* Feeds text one byte at a time when bytewise, else in one piece. */
static void run(const char *text, size_t max, bool bytewise, collected_t *c) {
  sc_framer_t f;
  sc__framer_init(&f, max);
  memset(c, 0, sizeof(*c));
  size_t n = strlen(text);
  if (bytewise)
    for (size_t i = 0; i < n; i++)
      sc__framer_push(&f, text + i, 1, collect, c);
  else
    sc__framer_push(&f, text, n, collect, c);
  sc__framer_finish(&f, collect, c);
  sc__framer_free(&f);
}

TEST(one_value_per_line) {
  collected_t c;
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    run("{\"a\":1}\n{\"b\":\"}\"}\n{\"c\":[1,{\"d\":2}]}\n", 1024, bytewise, &c);
    ASSERT_EQ_INT(c.values, 3);
    ASSERT_EQ_INT(c.errors, 0);
    ASSERT_EQ_STR(c.texts[1], "{\"b\":\"}\"}");
    ASSERT_EQ_U64(c.lines[2], 3);
  }
}

TEST(pretty_printed_values) {
  collected_t c;
  const char *text = "{\n  \"type\": \"ADDED\",\n  \"object\": {\n    \"x\": \"a\\\"{\"\n  }\n}\n"
                     "{\n  \"type\": \"DELETED\"\n}\n";
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    run(text, 1024, bytewise, &c);
    ASSERT_EQ_INT(c.values, 2);
    ASSERT_EQ_INT(c.errors, 0);
    ASSERT_EQ_U64(c.lines[0], 1);
    ASSERT_EQ_U64(c.lines[1], 7);
    ASSERT_CONTAINS(c.texts[1], "DELETED");
  }
}

TEST(concatenated_on_one_line) {
  collected_t c;
  run("{\"a\":1}{\"b\":2} {\"c\":3}", 1024, false, &c);
  ASSERT_EQ_INT(c.values, 3);
  ASSERT_EQ_STR(c.texts[2], "{\"c\":3}");
}

TEST(resync_after_unbalanced_value) {
  collected_t c;
  /* The first event lost its closing braces; the next line starts a new value. */
  run("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\"\n{\"ok\":1}\n{\"ok\":2}\n", 1024, false,
      &c);
  ASSERT_EQ_INT(c.errors, 1);
  ASSERT_EQ_INT(c.values, 2);
  ASSERT_CONTAINS(c.reasons[0], "unbalanced");
  ASSERT_EQ_U64(c.lines[0], 1);
  ASSERT_EQ_STR(c.texts[1], "{\"ok\":1}");
  ASSERT_EQ_STR(c.texts[2], "{\"ok\":2}");
}

TEST(resync_after_unterminated_string) {
  collected_t c;
  run("{\"a\":\"no end\n{\"ok\":1}\n", 1024, false, &c);
  ASSERT_EQ_INT(c.errors, 1);
  ASSERT_EQ_INT(c.values, 1);
  ASSERT_EQ_STR(c.texts[1], "{\"ok\":1}");
}

TEST(garbage_between_values) {
  collected_t c;
  run("{\"a\":1}\nnot json at all {\"x\":1}\n{\"b\":2}\n}}\n{\"c\":3}\n", 1024, false, &c);
  ASSERT_EQ_INT(c.values, 3);
  ASSERT_EQ_INT(c.errors, 2);
  ASSERT_EQ_STR(c.texts[0], "{\"a\":1}");
  ASSERT_CONTAINS(c.reasons[1], "not a JSON object");
  ASSERT_EQ_U64(c.lines[1], 2);
  ASSERT_EQ_STR(c.texts[2], "{\"b\":2}");
  ASSERT_EQ_STR(c.texts[4], "{\"c\":3}");
}

TEST(oversized_value_dropped_bounded) {
  collected_t c;
  char big[4096];
  memset(big, 'x', sizeof(big));
  char text[4200];
  snprintf(text, sizeof(text), "{\"a\":\"%.3000s\"}\n{\"b\":1}\n", big);
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    run(text, 100, bytewise, &c);
    ASSERT_EQ_INT(c.errors, 1);
    ASSERT_CONTAINS(c.reasons[0], "size limit");
    ASSERT_EQ_INT(c.values, 1);
    ASSERT_EQ_STR(c.texts[1], "{\"b\":1}");
  }
}

TEST(truncated_at_end_of_stream) {
  collected_t c;
  run("{\"a\":1}\n{\"b\":", 1024, false, &c);
  ASSERT_EQ_INT(c.values, 1);
  ASSERT_EQ_INT(c.errors, 1);
  ASSERT_CONTAINS(c.reasons[1], "truncated");
}

TEST(reset_forgets_partial_value) {
  collected_t c;
  memset(&c, 0, sizeof(c));
  sc_framer_t f;
  sc__framer_init(&f, 1024);
  sc__framer_push(&f, "{\"a\":", 5, collect, &c);
  sc__framer_reset(&f);
  sc__framer_push(&f, "{\"b\":1}", 7, collect, &c);
  sc__framer_finish(&f, collect, &c);
  sc__framer_free(&f);
  ASSERT_EQ_INT(c.values, 1);
  ASSERT_EQ_INT(c.errors, 0);
  ASSERT_EQ_STR(c.texts[0], "{\"b\":1}");
}

TEST_LIST = {TEST_ENTRY(one_value_per_line),
             TEST_ENTRY(pretty_printed_values),
             TEST_ENTRY(concatenated_on_one_line),
             TEST_ENTRY(resync_after_unbalanced_value),
             TEST_ENTRY(resync_after_unterminated_string),
             TEST_ENTRY(garbage_between_values),
             TEST_ENTRY(oversized_value_dropped_bounded),
             TEST_ENTRY(truncated_at_end_of_stream),
             TEST_ENTRY(reset_forgets_partial_value),
             TEST_LIST_END};
