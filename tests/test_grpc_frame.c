/* The gRPC deframer (wire/grpc_frame.c): messages split across DATA frames anywhere,
 * inside the 5-byte prefix too; several messages in one frame; empty messages; the size
 * limit (RESOURCE_EXHAUSTED before buffering); the compressed flag (INTERNAL); nothing
 * accepted after an error; a stream ending inside a message. */
#include <stdlib.h>
#include <string.h>

#include "wire/grpc_frame.h"
#include "harness.h"

typedef struct {
  size_t n;
  size_t lens[64];
  uint8_t bytes[64][300];
  int stop_after; /* stop (return 7) after this many, when > 0 */
} got_t;

static int collect(void *arg, const uint8_t *msg, size_t len) {
  got_t *g = arg;
  if (g->n < 64) {
    g->lens[g->n] = len;
    memcpy(g->bytes[g->n], msg, len < 300 ? len : 300);
  }
  g->n++;
  return g->stop_after > 0 && (int)g->n >= g->stop_after ? 7 : 0;
}

/* A stream of messages of the given lengths (message i filled with byte i + 1). */
static size_t stream_of(const size_t *lens, size_t n, uint8_t *out) {
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    sc__grpc_frame_prefix(out + at, (uint32_t)lens[i]);
    at += SC_GRPC_PREFIX_BYTES;
    memset(out + at, (int)(i + 1), lens[i]);
    at += lens[i];
  }
  return at;
}

static void check_got(const got_t *g, const size_t *lens, size_t n) {
  ASSERT_EQ_U64(g->n, n);
  for (size_t i = 0; i < n; i++) {
    ASSERT_EQ_U64(g->lens[i], lens[i]);
    for (size_t b = 0; b < lens[i] && b < 300; b++)
      ASSERT_EQ_INT(g->bytes[i][b], (int)(i + 1));
  }
}

TEST(several_messages_in_one_frame) {
  const size_t lens[] = {3, 0, 200, 1};
  uint8_t s[1024];
  size_t n = stream_of(lens, 4, s);
  sc_grpc_deframer_t d;
  sc__grpc_deframer_init(&d, 4096);
  got_t g = {0};
  ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s, n, collect, &g), 0);
  check_got(&g, lens, 4);
  ASSERT(!sc__grpc_deframer_partial(&d));
  sc__grpc_deframer_free(&d);
}

TEST(split_at_every_point_and_bytewise) {
  const size_t lens[] = {17, 0, 250, 5};
  uint8_t s[1024];
  size_t n = stream_of(lens, 4, s);
  for (size_t cut = 0; cut <= n; cut++) { /* two frames, cut anywhere (prefixes included) */
    sc_grpc_deframer_t d;
    sc__grpc_deframer_init(&d, 4096);
    got_t g = {0};
    ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s, cut, collect, &g), 0);
    ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s + cut, n - cut, collect, &g), 0);
    check_got(&g, lens, 4);
    sc__grpc_deframer_free(&d);
  }
  sc_grpc_deframer_t d;
  sc__grpc_deframer_init(&d, 4096);
  got_t g = {0};
  size_t boundary = 0, next = 0; /* where the messages end in the stream */
  for (size_t i = 0; i < n; i++) { /* one byte per frame */
    ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s + i, 1, collect, &g), 0);
    if (next < 4 && i + 1 == boundary + SC_GRPC_PREFIX_BYTES + lens[next])
      boundary = i + 1, next++;
    ASSERT_EQ_INT(sc__grpc_deframer_partial(&d), i + 1 != boundary); /* inside a message until its end */
  }
  check_got(&g, lens, 4);
  sc__grpc_deframer_free(&d);
}

TEST(random_frames) {
  uint64_t rng = 12345;
  for (int round = 0; round < 200; round++) {
    size_t lens[12], count = 1 + (size_t)(round % 12);
    for (size_t i = 0; i < count; i++) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      lens[i] = (size_t)(rng >> 33) % 280;
    }
    uint8_t s[12 * 300];
    size_t n = stream_of(lens, count, s), at = 0;
    sc_grpc_deframer_t d;
    sc__grpc_deframer_init(&d, 300);
    got_t g = {0};
    while (at < n) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      size_t piece = 1 + (size_t)(rng >> 33) % 40;
      if (piece > n - at)
        piece = n - at;
      ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s + at, piece, collect, &g), 0);
      at += piece;
    }
    check_got(&g, lens, count);
    sc__grpc_deframer_free(&d);
  }
}

TEST(oversized_is_resource_exhausted_from_the_prefix) {
  uint8_t prefix[SC_GRPC_PREFIX_BYTES];
  sc__grpc_frame_prefix(prefix, 4u << 20 | 1); /* 4 MiB + 1 */
  sc_grpc_deframer_t d;
  sc__grpc_deframer_init(&d, 4u << 20);
  got_t g = {0};
  ASSERT_EQ_INT(sc__grpc_deframer_push(&d, prefix, 3, collect, &g), 0);
  ASSERT_EQ_INT(sc__grpc_deframer_push(&d, prefix + 3, 2, collect, &g), SC_GRPC_RESOURCE_EXHAUSTED);
  ASSERT(d.buf == NULL); /* nothing buffered for it */
  uint8_t more[8] = {0};
  ASSERT_EQ_INT(sc__grpc_deframer_push(&d, more, sizeof(more), collect, &g), SC_GRPC_RESOURCE_EXHAUSTED);
  ASSERT_EQ_U64(g.n, 0);
  sc__grpc_deframer_free(&d);
  /* exactly at the limit is fine */
  uint8_t s[64];
  const size_t lens[] = {40};
  size_t n = stream_of(lens, 1, s);
  sc__grpc_deframer_init(&d, 40);
  ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s, n, collect, &g), 0);
  ASSERT_EQ_U64(g.n, 1);
  sc__grpc_deframer_free(&d);
}

TEST(compressed_flag_is_internal) {
  const size_t lens[] = {4, 4};
  uint8_t s[64];
  size_t n = stream_of(lens, 2, s);
  s[SC_GRPC_PREFIX_BYTES + 4] = 1; /* the second message claims compression */
  sc_grpc_deframer_t d;
  sc__grpc_deframer_init(&d, 4096);
  got_t g = {0};
  ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s, n, collect, &g), SC_GRPC_INTERNAL);
  ASSERT_EQ_U64(g.n, 1); /* the first was delivered */
  ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s, n, collect, &g), SC_GRPC_INTERNAL);
  sc__grpc_deframer_free(&d);
}

TEST(callback_stops_the_push) {
  const size_t lens[] = {1, 2, 3};
  uint8_t s[64];
  size_t n = stream_of(lens, 3, s);
  sc_grpc_deframer_t d;
  sc__grpc_deframer_init(&d, 4096);
  got_t g = {.stop_after = 2};
  ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s, n, collect, &g), 7);
  ASSERT_EQ_U64(g.n, 2);
  sc__grpc_deframer_free(&d);
}

TEST(partial_at_the_end) {
  const size_t lens[] = {10};
  uint8_t s[64];
  size_t n = stream_of(lens, 1, s);
  sc_grpc_deframer_t d;
  sc__grpc_deframer_init(&d, 4096);
  got_t g = {0};
  ASSERT_EQ_INT(sc__grpc_deframer_push(&d, s, n - 3, collect, &g), 0);
  ASSERT(sc__grpc_deframer_partial(&d));
  ASSERT_EQ_U64(g.n, 0);
  sc__grpc_deframer_free(&d); /* frees the half message */
}

TEST_LIST = {
    TEST_ENTRY(several_messages_in_one_frame),
    TEST_ENTRY(split_at_every_point_and_bytewise),
    TEST_ENTRY(random_frames),
    TEST_ENTRY(oversized_is_resource_exhausted_from_the_prefix),
    TEST_ENTRY(compressed_flag_is_internal),
    TEST_ENTRY(callback_stops_the_push),
    TEST_ENTRY(partial_at_the_end),
    TEST_LIST_END,
};
