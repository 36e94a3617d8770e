/* notify_client PATH: connects to the engine's commit-notification socket and prints each
 * notice as a line "VERSION NANOS" (flushed per line) until EOF, then exits 0. Decodes the
 * wire format on its own (16 bytes: u64 big-endian head version, u64 big-endian commit
 * time in ns), so that it checks the protocol rather than shares the engine's code.
 * Exit status: 0 at EOF, 1 when it cannot connect or read, 3 when the stream ends in the
 * middle of a notice (framing broken). */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define NOTICE_BYTES 16

static uint64_t get_u64be(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: notify_client SOCKET-PATH\n");
    return 2;
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
    fprintf(stderr, "notify_client: %s: path too long\n", argv[1]);
    return 1;
  }
  strcpy(sa.sun_path, argv[1]);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    fprintf(stderr, "notify_client: cannot connect to %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  unsigned char buf[NOTICE_BYTES];
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof(buf) - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fprintf(stderr, "notify_client: read: %s\n", strerror(errno));
      return 1;
    }
    if (n == 0) {
      if (have != 0) {
        fprintf(stderr, "notify_client: EOF after %zu bytes of a notice\n", have);
        return 3;
      }
      return 0;
    }
    have += (size_t)n;
    if (have == NOTICE_BYTES) {
      printf("%" PRIu64 " %" PRIu64 "\n", get_u64be(buf), get_u64be(buf + 8));
      fflush(stdout);
      have = 0;
    }
  }
}
