/* Whole-file reading, and the --mesh-config file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/source.h"
#include "store/mem.h"

int sc__filesrc_read(const char *path, size_t max, char **out, size_t *len, char *errbuf,
                  size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(err));
    return -err;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(errbuf, errlen, "%s is not a regular file", path);
    close(fd);
    return SC_EIO;
  }
  if ((uint64_t)st.st_size > max) {
    snprintf(errbuf, errlen, "%s is %lld bytes, over the limit of %zu (--max-file-bytes)", path,
             (long long)st.st_size, max);
    close(fd);
    return SC_ETOOBIG;
  }
  size_t cap = (size_t)st.st_size + 1, n = 0;
  char *buf = sc__malloc(cap);
  if (buf == NULL) {
    close(fd);
    return SC_ENOMEM;
  }
  for (;;) {
    if (n == cap) { /* the file grew while we read it */
      if (cap > max) {
        snprintf(errbuf, errlen, "%s grew past the limit of %zu bytes", path, max);
        sc__free(buf);
        close(fd);
        return SC_ETOOBIG;
      }
      char *p = sc__realloc(buf, cap * 2);
      if (p == NULL) {
        sc__free(buf);
        close(fd);
        return SC_ENOMEM;
      }
      buf = p;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int err = errno;
      snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(err));
      sc__free(buf);
      close(fd);
      return -err;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  *out = buf;
  *len = n;
  return 0;
}

int sc__filesrc_mesh_load(const sc__sink_t *sink, const char *path, bool initial) {
  char err[512];
  char *buf;
  size_t len;
  int rc = sc__filesrc_read(path, sink->opts.max_file_bytes, &buf, &len, err, sizeof(err));
  if (rc != 0) {
    sc__log(sink->log, SC_LOG_ERROR, "--mesh-config: %s%s", err,
           initial ? "" : " (the mesh config in force stays)");
    return rc;
  }
  char source[600];
  snprintf(source, sizeof(source), "mesh-config %s", path);
  sc_parse_opts_t po = sc__sink_parse_opts(sink, source);
  sc_obj_t *obj = NULL;
  sc_diag_t diag;
  rc = sc_parse_mesh_config(buf, len, &po, &obj, &diag);
  sc__free(buf);
  if (rc != 0) {
    char line[1200];
    sc_diag_format(&diag, line, sizeof(line));
    sc__log(sink->log, SC_LOG_ERROR, "invalid mesh config: %s%s", line,
           initial ? "" : " (the mesh config in force stays)");
    if (!initial)
      sc__sink_rejected(sink);
    return rc;
  }
  sc__sink_submit(sink, SC_EVENT_ADDED, obj);
  return 0;
}
