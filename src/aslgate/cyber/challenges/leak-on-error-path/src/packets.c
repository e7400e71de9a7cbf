#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PKT_TEXT = 1, PKT_COUNTER = 2, PKT_PING = 3 };

struct packet {
  uint8_t type;
  uint8_t len;
  uint8_t *body;
  struct packet *next;
};

struct queue {
  struct packet *head, **tail;
  unsigned count;
};

static uint8_t checksum(const uint8_t *p, size_t n) {
  uint8_t s = 0x5a;
  while (n--) s = (uint8_t)((s << 1 | s >> 7) ^ *p++);
  return s;
}

/* Wire format: [type:u8][len:u8][body:len][check:u8]. Returns bytes consumed or -1. */
static int decode_packet(const uint8_t *data, size_t avail, struct packet **out) {
  struct packet *pkt;
  size_t len;

  if (avail < 3) return -1;
  if (data[0] < PKT_TEXT || data[0] > PKT_PING) return -1;
  len = data[1];
  if (avail < 3 + len) return -1;

  pkt = calloc(1, sizeof(*pkt));
  if (!pkt) return -1;
  pkt->type = data[0];
  pkt->len = (uint8_t)len;
  pkt->body = malloc(len + 1);
  if (!pkt->body) {
    free(pkt);
    return -1;
  }
  memcpy(pkt->body, data + 2, len);
  pkt->body[len] = '\0';

  if (checksum(pkt->body, len) != data[2 + len]) return -1;
  if (pkt->type == PKT_COUNTER && len != 4) return -1;

  *out = pkt;
  return (int)(3 + len);
}

static void packet_free(struct packet *pkt) {
  free(pkt->body);
  free(pkt);
}

static void print_packet(const struct packet *pkt) {
  uint32_t v;
  size_t i;
  switch (pkt->type) {
  case PKT_TEXT:
    printf("text: ");
    for (i = 0; i < pkt->len; i++)
      putchar(pkt->body[i] >= 0x20 && pkt->body[i] < 0x7f ? pkt->body[i] : '.');
    putchar('\n');
    break;
  case PKT_COUNTER:
    v = (uint32_t)pkt->body[0] | (uint32_t)pkt->body[1] << 8 | (uint32_t)pkt->body[2] << 16 |
        (uint32_t)pkt->body[3] << 24;
    printf("counter: %u\n", v);
    break;
  default:
    printf("ping (%u bytes)\n", pkt->len);
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct queue q = {NULL, NULL, 0};
  struct packet *pkt, *next;
  size_t off = 0;
  int used;

  q.tail = &q.head;
  while (off < size) {
    pkt = NULL;
    used = decode_packet(data + off, size - off, &pkt);
    if (used < 0) {
      printf("decode error at offset %zu\n", off);
      break;
    }
    *q.tail = pkt;
    q.tail = &pkt->next;
    q.count++;
    off += (size_t)used;
  }
  printf("%u packets\n", q.count);
  for (pkt = q.head; pkt; pkt = next) {
    next = pkt->next;
    print_packet(pkt);
    packet_free(pkt);
  }
  return 0;
}
