#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 4
#define CACHE_BUDGET 64

struct slot {
  uint8_t live;
  uint8_t key;
  uint16_t len;
  uint32_t stamp;
  char *val;
};

static struct slot cache[CACHE_SLOTS];
static size_t used, count;
static uint32_t tick;

static struct slot *find(uint8_t key) {
  for (size_t i = 0; i < CACHE_SLOTS; i++)
    if (cache[i].live && cache[i].key == key) return &cache[i];
  return NULL;
}

static struct slot *least_recent(void) {
  struct slot *victim = NULL;
  for (size_t i = 0; i < CACHE_SLOTS; i++)
    if (cache[i].live && (!victim || cache[i].stamp < victim->stamp)) victim = &cache[i];
  return victim;
}

static void drop(struct slot *s) {
  free(s->val);
  used -= s->len;
  count--;
  s->live = 0;
}

static void make_room(size_t len, int need_slot) {
  while (count && (used + len > CACHE_BUDGET || (need_slot && count == CACHE_SLOTS))) {
    struct slot *victim = least_recent();
    printf("evict %u (%u bytes)\n", victim->key, victim->len);
    drop(victim);
  }
}

static void put(uint8_t key, const uint8_t *v, size_t len) {
  if (len == 0 || len > CACHE_BUDGET) {
    printf("put %u: bad size %zu\n", key, len);
    return;
  }
  char *copy = malloc(len);
  if (!copy) return;
  memcpy(copy, v, len);
  struct slot *s = find(key);
  make_room(len, s == NULL);
  if (s) {
    used -= s->len;
    free(s->val);
  } else {
    for (s = cache; s->live; s++) {
    }
    s->live = 1;
    s->key = key;
    count++;
  }
  s->val = copy;
  s->len = (uint16_t)len;
  s->stamp = ++tick;
  used += len;
  printf("put %u (%zu bytes, %zu used)\n", key, len, used);
}

static void get(uint8_t key) {
  struct slot *s = find(key);
  if (!s) {
    printf("get %u: miss\n", key);
    return;
  }
  s->stamp = ++tick;
  printf("get %u: %.*s\n", key, (int)s->len, s->val);
}

static void del(uint8_t key) {
  struct slot *s = find(key);
  if (!s) {
    printf("del %u: miss\n", key);
    return;
  }
  drop(s);
  printf("del %u (%zu used)\n", key, used);
}

static void stats(void) {
  printf("stats: %zu entries, %zu bytes:", count, used);
  for (size_t i = 0; i < CACHE_SLOTS; i++)
    if (cache[i].live) printf(" %u", cache[i].key);
  printf("\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0;
  while (off + 2 <= size) {
    uint8_t op = data[off], key = data[off + 1];
    off += 2;
    if (op == 'P') {
      if (off >= size || data[off] > size - off - 1) break;
      put(key, data + off + 1, data[off]);
      off += 1 + data[off];
    } else if (op == 'G') {
      get(key);
    } else if (op == 'D') {
      del(key);
    } else if (op == 'S') {
      stats();
    } else {
      printf("bad op 0x%02x\n", op);
      break;
    }
  }
  for (size_t i = 0; i < CACHE_SLOTS; i++)
    if (cache[i].live) drop(&cache[i]);
  tick = 0;
  return 0;
}
