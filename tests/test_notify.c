/* Commit notifications (publish/notify.c) on a loop of their own, with plain client
 * sockets: the wire format, the notice on connect and per commit, the subscriber bound
 * (refused connections are closed, a freed slot is reused), a subscriber that does not
 * read (skipped, whole notices only), input discarded, the stale / live / not-a-socket
 * path rules, and everything freed on close. The end-to-end test is e2e/e2e_notify.sh. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "publish/notify.h"
#include "scopecast/error.h"

static char dir[64];
static char path[96];

static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/sc-notify-XXXXXX");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    exit(1);
  }
  snprintf(path, sizeof(path), "%s/notify.sock", dir);
}

static void teardown(void) {
  unlink(path);
  rmdir(dir);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int client_connect(const char *p) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(p) >= sizeof(sa.sun_path))
    return -1;
  memcpy(sa.sun_path, p, strlen(p) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* Runs the loop's ready work a few times (the clients are in this process). */
static void spin(uv_loop_t *loop) {
  for (int i = 0; i < 5; i++) {
    uv_run(loop, UV_RUN_NOWAIT);
    sleep_ms(2);
  }
}

/* Reads exactly n bytes within a second: n, or what was read before EOF / timeout. */
static size_t read_n(int fd, unsigned char *buf, size_t n) {
  size_t have = 0;
  while (have < n) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0)
      break;
    ssize_t r = read(fd, buf + have, n - have);
    if (r <= 0)
      break;
    have += (size_t)r;
  }
  return have;
}

static uint64_t be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

/* Reads one notice; false on EOF or timeout. */
static bool read_notice(int fd, uint64_t *version, uint64_t *ns) {
  unsigned char b[SC_NOTIFY_NOTICE_BYTES];
  if (read_n(fd, b, sizeof(b)) != sizeof(b))
    return false;
  *version = be64(b);
  *ns = be64(b + 8);
  return true;
}

/* True when the peer closed the connection (EOF within a second, nothing before it). */
static bool at_eof(int fd) {
  unsigned char b[1];
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 1000) == 1 && read(fd, b, 1) == 0;
}

/* Closes n and runs the loop until nothing is left; the loop must then close cleanly. */
static int finish(uv_loop_t *loop, sc_notify_t *n) {
  sc__notify_close(n);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop);
}

TEST(encode) {
  unsigned char b[SC_NOTIFY_NOTICE_BYTES];
  sc__notify_encode(b, 0x0102030405060708ull, 0x1112131415161718ull);
  static const unsigned char want[] = {1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14,
                                       0x15, 0x16, 0x17, 0x18};
  ASSERT(memcmp(b, want, sizeof(want)) == 0);
}

TEST(connect_and_commit) {
  setup();
  uv_loop_t loop;
  uv_loop_init(&loop);
  sc_notify_t *n;
  char err[256];
  sc_notify_opts_t o = {.path = path, .head_version = 7, .commit_ns = 0};
  ASSERT_EQ_INT(sc__notify_new(&loop, &o, &n, err, sizeof(err)), 0);
  struct stat st;
  ASSERT(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
  int a = client_connect(path), b = client_connect(path);
  ASSERT(a >= 0 && b >= 0);
  spin(&loop);
  ASSERT_EQ_INT(sc__notify_subscribers(n), 2);
  uint64_t v, t;
  ASSERT(read_notice(a, &v, &t));
  ASSERT_EQ_U64(v, 7);
  ASSERT_EQ_U64(t, 0);
  ASSERT(read_notice(b, &v, &t));
  ASSERT_EQ_U64(v, 7);
  /* What a subscriber sends is discarded; it stays subscribed. */
  ASSERT_EQ_INT(write(b, "hello\n", 6), 6);
  sc__notify_commit(n, 8, 1700000000123456789ull);
  spin(&loop);
  ASSERT_EQ_INT(sc__notify_subscribers(n), 2);
  ASSERT(read_notice(a, &v, &t));
  ASSERT_EQ_U64(v, 8);
  ASSERT_EQ_U64(t, 1700000000123456789ull);
  ASSERT(read_notice(b, &v, &t));
  ASSERT_EQ_U64(v, 8);
  /* A later subscriber gets the last commit. */
  int c = client_connect(path);
  spin(&loop);
  ASSERT(read_notice(c, &v, &t));
  ASSERT_EQ_U64(v, 8);
  ASSERT_EQ_U64(t, 1700000000123456789ull);
  /* One that leaves is dropped. */
  close(a);
  spin(&loop);
  ASSERT_EQ_INT(sc__notify_subscribers(n), 2);
  sc__notify_commit(n, 9, 1);
  ASSERT_EQ_INT(finish(&loop, n), 0);
  ASSERT(read_notice(b, &v, &t));
  ASSERT_EQ_U64(v, 9);
  ASSERT(at_eof(b));
  ASSERT(read_notice(c, &v, &t));
  ASSERT_EQ_U64(v, 9);
  ASSERT(at_eof(c));
  ASSERT(lstat(path, &st) != 0 && errno == ENOENT);
  close(b);
  close(c);
  teardown();
}

TEST(subscriber_bound) {
  setup();
  uv_loop_t loop;
  uv_loop_init(&loop);
  FILE *log = tmpfile();
  sc_logger_t logger = {log, SC_LOG_WARN, "test", SC_LOG_TEXT};
  sc_notify_t *n;
  sc_notify_opts_t o = {.path = path, .max_subscribers = 2, .head_version = 3, .log = &logger};
  ASSERT_EQ_INT(sc__notify_new(&loop, &o, &n, NULL, 0), 0);
  int fds[5];
  for (int i = 0; i < 4; i++) {
    fds[i] = client_connect(path);
    ASSERT(fds[i] >= 0);
  }
  spin(&loop);
  ASSERT_EQ_INT(sc__notify_subscribers(n), 2);
  uint64_t v, t;
  int served = 0, refused = 0;
  for (int i = 0; i < 4; i++) {
    if (read_notice(fds[i], &v, &t)) {
      ASSERT_EQ_U64(v, 3);
      served++;
    } else {
      ASSERT(at_eof(fds[i])); /* accepted and closed, not left waiting */
      refused++;
    }
  }
  ASSERT_EQ_INT(served, 2);
  ASSERT_EQ_INT(refused, 2);
  /* A freed slot is taken by the next connection. */
  close(fds[0]);
  close(fds[1]);
  spin(&loop);
  fds[4] = client_connect(path);
  spin(&loop);
  ASSERT(read_notice(fds[4], &v, &t));
  ASSERT_EQ_U64(v, 3);
  ASSERT_EQ_INT(finish(&loop, n), 0);
  for (int i = 2; i < 5; i++)
    close(fds[i]);
  char text[1024] = "";
  rewind(log);
  size_t len = fread(text, 1, sizeof(text) - 1, log);
  text[len] = '\0';
  fclose(log);
  ASSERT_CONTAINS(text, "2 subscribers connected, the most allowed: refusing subscribers on");
  teardown();
}

TEST(slow_subscriber) {
  setup();
  uv_loop_t loop;
  uv_loop_init(&loop);
  sc_notify_t *n;
  sc_notify_opts_t o = {.path = path, .head_version = 0};
  ASSERT_EQ_INT(sc__notify_new(&loop, &o, &n, NULL, 0), 0);
  int slow = client_connect(path);
  ASSERT(slow >= 0);
  spin(&loop);
  ASSERT_EQ_INT(sc__notify_subscribers(n), 1);
  /* Far more notices than a socket buffer holds, never read meanwhile. */
  enum { COMMITS = 20000 };
  for (uint64_t h = 1; h <= COMMITS; h++)
    sc__notify_commit(n, h, h * 10);
  ASSERT_EQ_INT(sc__notify_subscribers(n), 1);
  int flags = fcntl(slow, F_GETFL);
  fcntl(slow, F_SETFL, flags | O_NONBLOCK);
  static unsigned char buf[COMMITS * SC_NOTIFY_NOTICE_BYTES];
  size_t have = 0;
  ssize_t r;
  while ((r = read(slow, buf + have, sizeof(buf) - have)) > 0)
    have += (size_t)r;
  ASSERT(have > 0);
  ASSERT_EQ_INT(have % SC_NOTIFY_NOTICE_BYTES, 0);
  ASSERT(have < sizeof(buf)); /* skipped, not buffered */
  uint64_t prev = 0;
  for (size_t i = 0; i < have; i += SC_NOTIFY_NOTICE_BYTES) {
    uint64_t v = be64(buf + i), t = be64(buf + i + 8);
    ASSERT(v > prev || (i == 0 && v == 0));
    ASSERT_EQ_U64(t, v * 10);
    prev = v;
  }
  /* Once it reads again, it gets the next commit. */
  fcntl(slow, F_SETFL, flags);
  sc__notify_commit(n, COMMITS + 1, 5);
  uint64_t v, t;
  ASSERT(read_notice(slow, &v, &t));
  ASSERT_EQ_U64(v, COMMITS + 1);
  ASSERT_EQ_INT(finish(&loop, n), 0);
  close(slow);
  teardown();
}

TEST(paths) {
  setup();
  uv_loop_t loop;
  uv_loop_init(&loop);
  sc_notify_t *n, *m;
  char err[512];
  sc_notify_opts_t o = {.path = path};
  /* Not a socket: an error, the file stays. */
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs("keep", f);
  fclose(f);
  ASSERT_EQ_INT(sc__notify_new(&loop, &o, &n, err, sizeof(err)), SC_EEXISTS);
  ASSERT(n == NULL);
  ASSERT_CONTAINS(err, "exists and is not a socket");
  ASSERT_CONTAINS(err, path);
  struct stat st;
  ASSERT(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
  unlink(path);
  /* A stale socket (bound, nobody listening) is replaced. */
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  close(fd);
  ASSERT(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
  ASSERT_EQ_INT(sc__notify_new(&loop, &o, &n, err, sizeof(err)), 0);
  /* A live one is not taken over, and stays. */
  ASSERT_EQ_INT(sc__notify_new(&loop, &o, &m, err, sizeof(err)), SC_EBUSY);
  ASSERT_CONTAINS(err, "is in use");
  spin(&loop); /* the probe connection comes and goes */
  int c = client_connect(path);
  ASSERT(c >= 0);
  spin(&loop);
  uint64_t v, t;
  ASSERT(read_notice(c, &v, &t));
  close(c);
  /* Too long for sun_path; a directory that does not exist. */
  char longp[200];
  memset(longp, 'x', sizeof(longp) - 1);
  longp[sizeof(longp) - 1] = '\0';
  sc_notify_opts_t lo = {.path = longp};
  ASSERT_EQ_INT(sc__notify_new(&loop, &lo, &m, err, sizeof(err)), UV_ENAMETOOLONG);
  ASSERT_CONTAINS(err, "a unix socket path has at most");
  sc_notify_opts_t no = {.path = "/nonexistent-dir/notify.sock"};
  ASSERT(sc__notify_new(&loop, &no, &m, err, sizeof(err)) != 0);
  ASSERT_CONTAINS(err, "/nonexistent-dir/notify.sock");
  ASSERT_EQ_INT(finish(&loop, n), 0);
  ASSERT(lstat(path, &st) != 0);
  teardown();
}

TEST_LIST = {TEST_ENTRY(encode), TEST_ENTRY(connect_and_commit), TEST_ENTRY(subscriber_bound),
             TEST_ENTRY(slow_subscriber), TEST_ENTRY(paths), TEST_LIST_END};
