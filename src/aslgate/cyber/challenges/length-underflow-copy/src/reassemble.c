#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_HDR_SIZE 4
#define FRAG_HDR_SIZE 4

struct message {
  uint8_t *buf;
  size_t total;
  size_t filled;
  unsigned fragments;
  unsigned next_seq;
};

static size_t rd16(const uint8_t *p) { return (size_t)p[0] | (size_t)p[1] << 8; }

/* Fragment: [frag_len:u16 LE, includes this header][seq:u8][mask:u8][payload]. */
static int add_fragment(struct message *m, const uint8_t *frag, size_t avail) {
  size_t frag_len, payload_len, i;
  uint8_t seq, mask;

  if (avail < FRAG_HDR_SIZE) return -1;
  frag_len = rd16(frag);
  seq = frag[2];
  mask = frag[3];
  if (frag_len > avail) return -1;
  if (seq != (uint8_t)m->next_seq) return -1;
  payload_len = frag_len - FRAG_HDR_SIZE;
  if (m->filled + payload_len > m->total) return -1;
  for (i = 0; i < payload_len; i++) m->buf[m->filled + i] = frag[FRAG_HDR_SIZE + i] ^ mask;
  m->filled += payload_len;
  m->fragments++;
  m->next_seq++;
  return (int)frag_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct message m;
  size_t off, i;
  int used;

  if (size < FILE_HDR_SIZE || data[0] != 'R' || data[1] != 'M') {
    printf("not a message file\n");
    return 0;
  }
  memset(&m, 0, sizeof(m));
  m.total = rd16(data + 2);
  m.buf = malloc(m.total ? m.total : 1);
  if (!m.buf) return 0;

  off = FILE_HDR_SIZE;
  while (off < size && m.filled < m.total) {
    used = add_fragment(&m, data + off, size - off);
    if (used < 0) {
      printf("bad fragment at offset %zu\n", off);
      break;
    }
    off += (size_t)used;
  }
  printf("fragments=%u bytes=%zu/%zu\n", m.fragments, m.filled, m.total);
  if (m.filled == m.total) {
    printf("message: ");
    for (i = 0; i < m.filled; i++) putchar(m.buf[i] >= 0x20 && m.buf[i] < 0x7f ? m.buf[i] : '.');
    putchar('\n');
  } else {
    printf("incomplete\n");
  }
  free(m.buf);
  return 0;
}
