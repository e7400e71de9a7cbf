#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MB_DIM 16
#define MB_SIZE 4
#define DEBLOCK_ALL 0
#define DEBLOCK_OFF 1
#define DEBLOCK_SLICE 2
#define SLICE_SKIP 0x04

enum { EDGE_LEFT, EDGE_TOP, EDGE_RIGHT, EDGE_BOTTOM };

struct decoder {
  int mb_w, mb_h, mb_stride;
  unsigned current_slice;
  uint16_t *slice_table_base, *slice_table;
  uint8_t *dc_base, *dc;
  uint8_t (*bs)[4];
  uint8_t *pix;
  int pix_stride;
};

struct slice {
  uint16_t slice_num;
  int first_mb, num_mbs;
  int deblock_idc, qp, skip;
};

static int init_decoder(struct decoder *d, int mb_w, int mb_h) {
  d->mb_w = mb_w;
  d->mb_h = mb_h;
  d->mb_stride = mb_w + 1;
  size_t tab = (size_t)(mb_h + 1) * d->mb_stride + 1;
  d->slice_table_base = malloc(tab * sizeof(uint16_t));
  d->dc_base = calloc(tab, 1);
  d->bs = calloc((size_t)mb_w * mb_h, sizeof(*d->bs));
  d->pix_stride = mb_w * MB_SIZE;
  d->pix = calloc((size_t)d->pix_stride * mb_h * MB_SIZE, 1);
  if (!d->slice_table_base || !d->dc_base || !d->bs || !d->pix) return -1;
  memset(d->slice_table_base, 0xff, tab * sizeof(uint16_t));
  d->slice_table = d->slice_table_base + d->mb_stride + 1;
  d->dc = d->dc_base + d->mb_stride + 1;
  d->current_slice = 0;
  return 0;
}

static void free_decoder(struct decoder *d) {
  free(d->slice_table_base);
  free(d->dc_base);
  free(d->bs);
  free(d->pix);
}

static void decode_mb(struct decoder *d, const struct slice *sl, int mb_x, int mb_y, int res) {
  int mb_xy = mb_x + mb_y * d->mb_stride;
  int idx = mb_x + mb_y * d->mb_w;
  int left_xy = mb_xy - 1, top_xy = mb_xy - d->mb_stride;
  int left_ok = d->slice_table[left_xy] == sl->slice_num;
  int top_ok = d->slice_table[top_xy] == sl->slice_num;

  int pred = 128;
  if (left_ok && top_ok) pred = (d->dc[left_xy] + d->dc[top_xy] + 1) >> 1;
  else if (left_ok) pred = d->dc[left_xy];
  else if (top_ok) pred = d->dc[top_xy];
  int v = sl->skip ? pred : pred + res;
  v = v < 0 ? 0 : v > 255 ? 255 : v;
  d->dc[mb_xy] = (uint8_t)v;
  d->slice_table[mb_xy] = sl->slice_num;
  for (int r = 0; r < MB_SIZE; r++)
    memset(d->pix + (mb_y * MB_SIZE + r) * d->pix_stride + mb_x * MB_SIZE, v, MB_SIZE);

  memset(d->bs[idx], 0, sizeof(d->bs[idx]));
  if (sl->deblock_idc == DEBLOCK_OFF) return;
  uint8_t s = sl->skip ? 1 : 2;
  if (sl->deblock_idc == DEBLOCK_ALL) {
    left_ok = mb_x > 0 && d->slice_table[left_xy] != 0xffff;
    top_ok = mb_y > 0 && d->slice_table[top_xy] != 0xffff;
  }
  if (left_ok) { d->bs[idx][EDGE_LEFT] = s; d->bs[idx - 1][EDGE_RIGHT] = s; }
  if (top_ok) { d->bs[idx][EDGE_TOP] = s; d->bs[idx - d->mb_w][EDGE_BOTTOM] = s; }
}

static void filter_edge(uint8_t *p, uint8_t *q, int alpha) {
  int diff = *p - *q;
  if (diff > -alpha && diff < alpha) {
    int np = (3 * *p + *q + 2) >> 2, nq = (*p + 3 * *q + 2) >> 2;
    *p = (uint8_t)np;
    *q = (uint8_t)nq;
  }
}

static unsigned loop_filter(struct decoder *d, int alpha) {
  unsigned edges = 0;
  for (int y = 0; y < d->mb_h; y++)
    for (int x = 0; x < d->mb_w; x++) {
      uint8_t *bs = d->bs[x + y * d->mb_w];
      uint8_t *q = d->pix + y * MB_SIZE * d->pix_stride + x * MB_SIZE;
      for (int i = 0; bs[EDGE_LEFT] && i < MB_SIZE; i++)
        filter_edge(q + i * d->pix_stride - 1, q + i * d->pix_stride, alpha * bs[EDGE_LEFT]);
      for (int i = 0; bs[EDGE_TOP] && i < MB_SIZE; i++)
        filter_edge(q + i - d->pix_stride, q + i, alpha * bs[EDGE_TOP]);
      edges += (bs[EDGE_LEFT] != 0) + (bs[EDGE_TOP] != 0);
    }
  return edges;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  int mb_w = data[0], mb_h = data[1], alpha = data[2] & 0x3f;
  if (mb_w < 1 || mb_h < 1 || mb_w > MAX_MB_DIM || mb_h > MAX_MB_DIM) {
    printf("unsupported frame size %dx%d\n", mb_w, mb_h);
    return 0;
  }
  struct decoder d;
  if (init_decoder(&d, mb_w, mb_h) < 0) { free_decoder(&d); return 0; }
  size_t off = 3;
  unsigned decoded = 0, errors = 0;
  while (off + 3 <= size) {
    struct slice sl;
    sl.first_mb = data[off];
    sl.num_mbs = data[off + 1];
    sl.deblock_idc = data[off + 2] & 3;
    sl.skip = (data[off + 2] & SLICE_SKIP) != 0;
    sl.qp = data[off + 2] >> 3;
    off += 3;
    size_t need = sl.skip ? 0 : (size_t)sl.num_mbs;
    if (need > size - off) break;
    const uint8_t *res = data + off;
    off += need;
    if (sl.num_mbs == 0 || sl.first_mb + sl.num_mbs > mb_w * mb_h || sl.deblock_idc > 2) {
      errors++;
      continue;
    }
    sl.slice_num = (uint16_t)++d.current_slice;
    for (int i = 0; i < sl.num_mbs; i++) {
      int mb = sl.first_mb + i;
      decode_mb(&d, &sl, mb % mb_w, mb / mb_w, sl.skip ? 0 : ((int8_t)res[i] * (sl.qp + 4)) / 4);
      decoded++;
    }
  }
  unsigned edges = loop_filter(&d, alpha);
  printf("frame %dx%d slices=%u mbs=%u errors=%u edges=%u\n", mb_w, mb_h, d.current_slice,
         decoded, errors, edges);
  for (int y = 0; y < mb_h * MB_SIZE; y += MB_SIZE / 2) {
    unsigned sum = 0;
    for (int x = 0; x < d.pix_stride; x++) sum = sum * 31 + d.pix[y * d.pix_stride + x];
    printf("row %2d: %08x\n", y, sum);
  }
  free_decoder(&d);
  return 0;
}
