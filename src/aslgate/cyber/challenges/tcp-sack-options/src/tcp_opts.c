#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WINDOW 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TIMESTAMP 8

#define TCP_DEFAULT_MSS 536
#define TCP_MIN_MSS 8
#define TCP_MAX_WSCALE 14

struct sack_block {
  uint32_t start_seq;
  uint32_t end_seq;
};

struct tcp_opts {
  uint16_t mss;
  uint8_t wscale;
  uint8_t sack_ok;
  uint32_t tsval, tsecr;
  uint8_t num_sacks;
  struct sack_block *sacks;
};

struct sacked_seg {
  uint32_t seq;
  uint16_t len;
  uint16_t flags;
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int parse_options(const uint8_t *p, size_t len, struct tcp_opts *o, int syn) {
  size_t i = 0;
  while (i < len) {
    uint8_t kind = p[i];
    if (kind == TCPOPT_EOL) break;
    if (kind == TCPOPT_NOP) { i++; continue; }
    if (i + 1 >= len) return -1;
    uint8_t olen = p[i + 1];
    if (olen < 2 || olen > len - i) return -1;
    const uint8_t *v = p + i + 2;
    switch (kind) {
    case TCPOPT_MSS:
      if (olen == 4 && syn) o->mss = get16(v);
      break;
    case TCPOPT_WINDOW:
      if (olen == 3 && syn) o->wscale = v[0] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : v[0];
      break;
    case TCPOPT_SACK_PERM:
      if (olen == 2 && syn) o->sack_ok = 1;
      break;
    case TCPOPT_TIMESTAMP:
      if (olen == 10) { o->tsval = get32(v); o->tsecr = get32(v + 4); }
      break;
    case TCPOPT_SACK:
      if (olen >= 10 && (olen - 2) % 8 == 0 && !syn && !o->sacks) {
        o->num_sacks = (olen - 2) / 8;
        o->sacks = malloc(o->num_sacks * sizeof(struct sack_block));
        for (int k = 0; k < o->num_sacks; k++) {
          o->sacks[k].start_seq = get32(v + 8 * k);
          o->sacks[k].end_seq = get32(v + 8 * k + 4);
        }
      }
      break;
    default:
      break;
    }
    i += olen;
  }
  return 0;
}

static int block_valid(const struct sack_block *b, uint32_t ack) {
  uint32_t span = b->end_seq - b->start_seq;
  return span != 0 && span <= 0xffff && (int32_t)(b->start_seq - ack) >= 0;
}

static void tcp_sacktag(const struct tcp_opts *o, uint32_t ack, uint16_t mss) {
  uint16_t pcount = 0;
  for (int k = 0; k < o->num_sacks; k++) {
    const struct sack_block *b = &o->sacks[k];
    if (block_valid(b, ack)) pcount += (b->end_seq - b->start_seq + mss - 1) / mss;
  }
  struct sacked_seg *segs = calloc(pcount ? pcount : 1, sizeof(*segs));
  size_t n = 0;
  uint32_t bytes = 0, highest = ack;
  for (int k = 0; k < o->num_sacks; k++) {
    const struct sack_block *b = &o->sacks[k];
    if (!block_valid(b, ack)) { printf("  block %d rejected\n", k); continue; }
    uint32_t span = b->end_seq - b->start_seq;
    for (uint32_t off = 0; off < span; off += mss) {
      segs[n].seq = b->start_seq + off;
      segs[n].len = (uint16_t)(span - off < mss ? span - off : mss);
      segs[n].flags = 1;
      bytes += segs[n].len;
      n++;
    }
    if ((int32_t)(b->end_seq - highest) > 0) highest = b->end_seq;
  }
  printf("  sacked segs=%zu bytes=%u highest=%u\n", n, bytes, highest);
  free(segs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tcp_opts syn = {0};
  if (size < 1 || (size_t)data[0] + 1 > size) return 0;
  if (parse_options(data + 1, data[0], &syn, 1) < 0) { printf("bad syn options\n"); return 0; }
  uint16_t mss = syn.mss ? syn.mss : TCP_DEFAULT_MSS;
  if (mss < TCP_MIN_MSS) mss = TCP_MIN_MSS;
  printf("syn: mss=%u wscale=%u sack=%s\n", mss, syn.wscale, syn.sack_ok ? "yes" : "no");
  size_t off = 1 + data[0];
  while (off + 5 <= size) {
    uint32_t ack = get32(data + off);
    size_t olen = data[off + 4];
    off += 5;
    if (olen > size - off) break;
    struct tcp_opts o = {0};
    int rc = parse_options(data + off, olen, &o, 0);
    off += olen;
    printf("ack=%u", ack);
    if (o.tsval) printf(" ts=%u/%u", o.tsval, o.tsecr);
    printf(" sacks=%u\n", o.num_sacks);
    if (rc == 0 && syn.sack_ok && o.num_sacks) tcp_sacktag(&o, ack, mss);
    else if (rc < 0) printf("  bad options\n");
    free(o.sacks);
  }
  return 0;
}
