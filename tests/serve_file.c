/* Test helper: serves files over a socket the way a watch endpoint would.
 *
 *   serve_file unix:PATH|tcp:PORT FILE [FILE...]
 *
 * Listens, prints "ready" on stdout, and for each FILE accepts one connection, writes the
 * file and closes the connection; then exits. Used by the end-to-end tests of the
 * engine's socket watch sources (reconnects see the next file). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_on(const char *spec) {
  int fd;
  if (strncmp(spec, "unix:", 5) == 0) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", spec + 5);
    unlink(a.sun_path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
      return -1;
  } else if (strncmp(spec, "tcp:", 4) == 0) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(spec + 4))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
      return -1;
  } else {
    return -1;
  }
  return listen(fd, 4) == 0 ? fd : -1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: serve_file unix:PATH|tcp:PORT FILE...\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = listen_on(argv[1]);
  if (lfd < 0) {
    perror("serve_file: listen");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  for (int i = 2; i < argc; i++) {
    int c = accept(lfd, NULL, NULL);
    if (c < 0) {
      perror("serve_file: accept");
      return 1;
    }
    FILE *f = fopen(argv[i], "rb");
    if (f == NULL) {
      perror(argv[i]);
      return 1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
      if (write(c, buf, n) != (ssize_t)n)
        break;
    fclose(f);
    close(c);
  }
  close(lfd);
  return 0;
}
