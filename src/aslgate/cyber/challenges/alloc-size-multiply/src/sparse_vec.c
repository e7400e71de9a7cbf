#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPV_MAGIC "SPV1"
#define SPV_HDR 19
#define MAX_VECTOR_BYTES (16u << 20)

struct sparse_vec {
  uint32_t count;
  uint8_t width;
  uint8_t *data;
};

static uint64_t load_le(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void store_le(uint8_t *p, unsigned n, uint64_t v) {
  uint8_t tmp[8];
  for (unsigned i = 0; i < 8; i++) tmp[i] = (uint8_t)(v >> (8 * i));
  memcpy(p, tmp, n);
}

static int vec_init(struct sparse_vec *v, uint32_t count, uint8_t width, uint64_t dflt) {
  uint32_t bytes = count * width;
  if (bytes > MAX_VECTOR_BYTES) return -1;
  v->data = malloc(bytes ? bytes : 1);
  if (!v->data) return -1;
  v->count = count;
  v->width = width;
  for (uint32_t i = 0; i < count; i++) store_le(v->data + (size_t)i * width, width, dflt);
  return 0;
}

static uint64_t vec_get(const struct sparse_vec *v, uint32_t i) {
  return load_le(v->data + (size_t)i * v->width, v->width);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < SPV_HDR || memcmp(data, SPV_MAGIC, 4) != 0) {
    printf("not a sparse vector\n");
    return 0;
  }
  uint8_t width = data[4];
  uint32_t count = (uint32_t)load_le(data + 5, 4);
  uint64_t dflt = load_le(data + 9, 8);
  uint16_t nent = (uint16_t)load_le(data + 17, 2);
  if (width != 1 && width != 2 && width != 4 && width != 8) {
    printf("bad element width %u\n", width);
    return 0;
  }
  if (width < 8) dflt &= (1ull << (8 * width)) - 1;
  struct sparse_vec v;
  if (vec_init(&v, count, width, dflt) < 0) {
    printf("vector too large\n");
    return 0;
  }
  printf("vector count=%u width=%u default=%llu\n", count, width, (unsigned long long)dflt);
  size_t off = SPV_HDR, esz = 4 + (size_t)width;
  unsigned applied = 0;
  for (unsigned e = 0; e < nent && size - off >= esz; e++, off += esz) {
    uint32_t idx = (uint32_t)load_le(data + off, 4);
    if (idx >= v.count) {
      printf("entry %u: index %u out of range\n", e, idx);
      continue;
    }
    store_le(v.data + (size_t)idx * width, width, load_le(data + off + 4, width));
    applied++;
  }
  uint64_t sum = 0;
  uint32_t nondefault = 0;
  for (uint32_t i = 0; i < v.count; i++) {
    uint64_t x = vec_get(&v, i);
    sum += x;
    nondefault += x != dflt;
  }
  printf("applied=%u nondefault=%u sum=%llu\n", applied, nondefault, (unsigned long long)sum);
  free(v.data);
  return 0;
}
