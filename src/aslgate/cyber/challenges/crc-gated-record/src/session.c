#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRC32_RESIDUE 0x2144df1cu
#define REC_OVERHEAD 6

enum state { ST_IDLE, ST_HELLO, ST_AUTH, ST_OPEN };
static const char *const state_names[] = {"idle", "hello", "auth", "open"};

struct session {
  enum state st;
  uint8_t version;
  char peer[32];
  uint32_t token;
  uint16_t win_size;
  uint16_t filled;
  uint8_t *win;
};

static uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  while (n--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
  }
  return ~c;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void close_window(struct session *s) {
  free(s->win);
  s->win = NULL;
  s->win_size = s->filled = 0;
}

static int on_record(struct session *s, uint8_t type, const uint8_t *p, size_t len) {
  switch (type) {
  case 'H':
    if (s->st != ST_IDLE || len < 1 || len > sizeof(s->peer) || (p[0] != 1 && p[0] != 2)) return -1;
    s->version = p[0];
    memcpy(s->peer, p + 1, len - 1);
    s->peer[len - 1] = '\0';
    s->st = ST_HELLO;
    printf("hello v%u from '%s'\n", s->version, s->peer);
    return 0;
  case 'A':
    if (s->st != ST_HELLO || len != 4) return -1;
    s->token = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (s->token == 0) return -1;
    s->st = ST_AUTH;
    printf("auth token=%08x\n", s->token);
    return 0;
  case 'C':
    if (s->st != ST_AUTH || len != 3 || get16(p) == 0) return -1;
    s->win_size = get16(p);
    s->win = calloc(s->win_size, 1);
    if (!s->win) return -1;
    s->st = ST_OPEN;
    printf("config window=%u mode=%u\n", s->win_size, p[2]);
    return 0;
  case 'D': {
    if (s->st != ST_OPEN || len < 2) return -1;
    uint16_t off = get16(p);
    uint16_t n = (uint16_t)(len - 2);
    uint16_t end = off + n;
    if (end > s->win_size) return -1;
    memcpy(s->win + off, p + 2, n);
    if (end > s->filled) s->filled = end;
    printf("data off=%u len=%u\n", off, n);
    return 0;
  }
  case 'F':
    if (s->st != ST_OPEN) return -1;
    printf("fin filled=%u/%u crc=%08x\n", s->filled, s->win_size, crc32(s->win, s->filled));
    close_window(s);
    s->st = ST_AUTH;
    return 0;
  case 'R':
    close_window(s);
    s->st = ST_IDLE;
    printf("reset\n");
    return 0;
  default:
    return -1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct session s;
  memset(&s, 0, sizeof(s));
  size_t off = 0;
  unsigned good = 0, bad = 0;
  while (size - off >= REC_OVERHEAD) {
    uint8_t type = data[off];
    size_t len = data[off + 1];
    if (len > size - off - REC_OVERHEAD) break;
    const uint8_t *rec = data + off;
    off += len + REC_OVERHEAD;
    if (crc32(rec, len + REC_OVERHEAD) != CRC32_RESIDUE) {
      printf("record '%c': crc mismatch\n", type >= 0x20 && type < 0x7f ? type : '?');
      bad++;
      continue;
    }
    if (on_record(&s, type, rec + 2, len) < 0) {
      printf("record '%c' rejected in state %s\n", type >= 0x20 && type < 0x7f ? type : '?',
             state_names[s.st]);
      bad++;
    } else {
      good++;
    }
  }
  printf("records ok=%u rejected=%u state=%s\n", good, bad, state_names[s.st]);
  close_window(&s);
  return 0;
}
