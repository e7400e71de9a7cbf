#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CAP 8
#define MAX_CAP 32

struct sample {
  uint32_t seq;
  int32_t value;
};

struct ring {
  struct sample *buf;
  unsigned cap, head, tail, count;
  uint32_t next_seq;
};

static int ring_init(struct ring *r, unsigned cap) {
  memset(r, 0, sizeof(*r));
  r->buf = calloc(cap, sizeof(*r->buf));
  r->cap = cap;
  return r->buf ? 0 : -1;
}

static void ring_push(struct ring *r, int32_t v) {
  r->buf[r->head].seq = r->next_seq++;
  r->buf[r->head].value = v;
  r->head = (r->head + 1) % r->cap;
  if (r->count == r->cap) r->tail = (r->tail + 1) % r->cap;
  else r->count++;
}

static void ring_drop(struct ring *r, unsigned n) {
  if (n > r->count) n = r->count;
  r->tail = (r->tail + n) % r->cap;
  r->count -= n;
}

static const struct sample *ring_at(const struct ring *r, unsigned k) {
  if (k >= r->count) return NULL;
  unsigned idx = r->tail + k;
  if (idx > r->cap) idx -= r->cap;
  return &r->buf[idx];
}

static void run(struct ring *r, const char *cmd, long arg, int has_arg) {
  if (strcmp(cmd, "push") == 0 && has_arg) {
    ring_push(r, (int32_t)arg);
  } else if (strcmp(cmd, "drop") == 0 && has_arg && arg >= 0) {
    ring_drop(r, (unsigned)arg);
  } else if (strcmp(cmd, "at") == 0 && has_arg && arg >= 0 && arg <= MAX_CAP) {
    const struct sample *s = ring_at(r, (unsigned)arg);
    if (s) printf("at %ld: #%u %d\n", arg, s->seq, s->value);
    else printf("at %ld: empty\n", arg);
  } else if (strcmp(cmd, "last") == 0) {
    if (!r->count) { printf("last: empty\n"); return; }
    const struct sample *s = &r->buf[(r->head + r->cap - 1) % r->cap];
    printf("last: #%u %d\n", s->seq, s->value);
  } else if (strcmp(cmd, "dump") == 0) {
    printf("dump (%u/%u):", r->count, r->cap);
    for (unsigned i = 0; i < r->count; i++) printf(" %d", r->buf[(r->tail + i) % r->cap].value);
    printf("\n");
  } else if (strcmp(cmd, "avg") == 0) {
    long long sum = 0;
    for (unsigned i = 0; i < r->count; i++) sum += r->buf[(r->tail + i) % r->cap].value;
    if (r->count) printf("avg: %lld (n=%u)\n", sum / r->count, r->count);
    else printf("avg: empty\n");
  } else {
    printf("?? %s\n", cmd);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ring r;
  unsigned cap = DEFAULT_CAP;
  size_t off = 0;
  int started = 0;
  while (off < size) {
    const uint8_t *nl = memchr(data + off, '\n', size - off);
    size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
    char line[64], cmd[16];
    long arg = 0;
    if (len >= sizeof(line)) { off += len + 1; continue; }
    memcpy(line, data + off, len);
    line[len] = '\0';
    off += len + 1;
    int n = sscanf(line, "%15s %ld", cmd, &arg);
    if (n < 1) continue;
    if (!started && strcmp(cmd, "cap") == 0) {
      if (n == 2 && arg >= 1 && arg <= MAX_CAP) cap = (unsigned)arg;
      continue;
    }
    if (!started) {
      if (ring_init(&r, cap) < 0) return 0;
      printf("ring capacity %u\n", cap);
      started = 1;
    }
    run(&r, cmd, arg, n == 2);
  }
  if (started) free(r.buf);
  return 0;
}
