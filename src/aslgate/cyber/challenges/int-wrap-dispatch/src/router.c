#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAX 192

struct packet;
typedef void (*route_fn)(const struct packet *p);

struct packet {
  uint16_t seq;
  uint8_t route;
  uint8_t hdr_len;
  uint8_t body_len;
  uint8_t total;
  uint8_t frame[FRAME_MAX];
  route_fn handler;
};

struct route {
  uint8_t id;
  const char *name;
  route_fn fn;
};

static void route_echo(const struct packet *p) {
  printf("[%u] echo %.*s: %.*s\n", p->seq, p->hdr_len, (const char *)p->frame, p->body_len,
         (const char *)p->frame + p->hdr_len);
}

static void route_sum(const struct packet *p) {
  uint32_t sum = 0;
  for (unsigned i = 0; i < p->body_len; i++) sum += p->frame[p->hdr_len + i];
  printf("[%u] sum %.*s: n=%u sum=%u\n", p->seq, p->hdr_len, (const char *)p->frame, p->body_len,
         sum);
}

static void route_hex(const struct packet *p) {
  unsigned n = p->body_len < 16 ? p->body_len : 16;
  printf("[%u] hex %.*s:", p->seq, p->hdr_len, (const char *)p->frame);
  for (unsigned i = 0; i < n; i++) printf(" %02x", p->frame[p->hdr_len + i]);
  printf("%s\n", n < p->body_len ? " ..." : "");
}

static const struct route routes[] = {
    {'E', "echo", route_echo},
    {'S', "sum", route_sum},
    {'X', "hex", route_hex},
};

static const struct route *find_route(uint8_t id) {
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    if (routes[i].id == id) return &routes[i];
  return NULL;
}

static struct packet *packet_build(const uint8_t *msg, uint16_t seq, const struct route *r) {
  struct packet *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->seq = seq;
  p->route = msg[0];
  p->hdr_len = msg[1];
  p->body_len = msg[2];
  p->total = p->hdr_len + p->body_len;
  if (p->total > FRAME_MAX) {
    printf("[%u] %s: frame too large (%u bytes)\n", seq, r->name, p->total);
    free(p);
    return NULL;
  }
  p->handler = r->fn;
  memcpy(p->frame, msg + 3, p->hdr_len);
  memcpy(p->frame + p->hdr_len, msg + 3 + p->hdr_len, p->body_len);
  return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned routed = 0, dropped = 0;
  uint16_t seq = 0;
  size_t off = 0;
  while (size - off >= 3) {
    const uint8_t *msg = data + off;
    size_t len = 3 + (size_t)msg[1] + msg[2];
    const struct route *r;
    struct packet *p;
    if (len > size - off) {
      printf("truncated frame at offset %zu\n", off);
      break;
    }
    off += len;
    seq++;
    r = find_route(msg[0]);
    if (!r) {
      printf("[%u] no route for 0x%02x\n", seq, msg[0]);
      dropped++;
      continue;
    }
    p = packet_build(msg, seq, r);
    if (!p) {
      dropped++;
      continue;
    }
    p->handler(p);
    routed++;
    free(p);
  }
  printf("routed=%u dropped=%u\n", routed, dropped);
  return 0;
}
