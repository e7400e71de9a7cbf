#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_MAX 32

enum { OP_HELLO = 'H', OP_DATA = 'D', OP_QUIET = 'Q', OP_BYE = 'B' };

struct session {
  uint32_t id;
  uint32_t msgs;
  uint32_t bytes;
  uint32_t peer_len;
  char peer[PEER_MAX];
  void (*on_close)(struct session *s);
};

static uint32_t next_id;

static void close_verbose(struct session *s) {
  printf("session %u closed: peer=%.*s msgs=%u bytes=%u\n", s->id, (int)s->peer_len, s->peer,
         s->msgs, s->bytes);
}

static void close_quiet(struct session *s) { printf("session %u closed\n", s->id); }

static struct session *session_open(void) {
  struct session *s = malloc(sizeof(*s));
  if (!s) return NULL;
  memset(s, 0, sizeof(*s));
  s->id = ++next_id;
  s->on_close = close_verbose;
  printf("session %u opened\n", s->id);
  return s;
}

static void session_close(struct session *s) {
  s->on_close(s);
  free(s);
}

static void set_peer(struct session *s, const uint8_t *name, size_t len) {
  memcpy(s->peer, name, len);
  s->peer_len = (uint32_t)len;
  printf("session %u: peer is %.*s\n", s->id, (int)s->peer_len, s->peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct session *s = NULL;
  size_t off = 0;
  next_id = 0;
  while (off + 2 <= size) {
    uint8_t op = data[off];
    size_t len = data[off + 1];
    const uint8_t *payload = data + off + 2;
    if (len > size - off - 2) {
      printf("truncated message\n");
      break;
    }
    off += 2 + len;
    switch (op) {
    case OP_HELLO:
      if (!s && !(s = session_open())) return 0;
      set_peer(s, payload, len);
      break;
    case OP_DATA:
      if (!s) {
        printf("data without session\n");
        break;
      }
      s->msgs++;
      s->bytes += (uint32_t)len;
      printf("session %u: %zu bytes\n", s->id, len);
      break;
    case OP_QUIET:
      if (s) s->on_close = close_quiet;
      break;
    case OP_BYE:
      if (s) session_close(s);
      s = NULL;
      break;
    default:
      printf("unknown op 0x%02x\n", op);
      break;
    }
  }
  if (s) session_close(s);
  return 0;
}
