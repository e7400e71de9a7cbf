#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MAGIC 0xc5
#define MSG_HDR 5
#define OP_SET 1
#define OP_GET 2
#define OP_DEL 3
#define OP_LIST 4
#define MAX_ENTRIES 8
#define MAX_KEY 16
#define MAX_VALUE 64

struct entry {
  char key[MAX_KEY];
  char value[MAX_VALUE];
  int16_t vlen;
  uint8_t used;
};

struct msg {
  uint8_t op;
  uint8_t klen;
  int16_t vlen;
  const uint8_t *key, *value;
};

static struct entry *lookup(struct entry *tab, const struct msg *m, int create) {
  struct entry *free_slot = NULL;
  for (int i = 0; i < MAX_ENTRIES; i++) {
    if (!tab[i].used) {
      if (!free_slot) free_slot = &tab[i];
      continue;
    }
    if (strlen(tab[i].key) == m->klen && memcmp(tab[i].key, m->key, m->klen) == 0) return &tab[i];
  }
  if (!create || !free_slot) return NULL;
  memcpy(free_slot->key, m->key, m->klen);
  free_slot->key[m->klen] = '\0';
  free_slot->used = 1;
  return free_slot;
}

static void handle(struct entry *tab, const struct msg *m) {
  struct entry *e;
  switch (m->op) {
  case OP_SET:
    if (m->vlen > MAX_VALUE) { printf("SET %.*s: value too long\n", m->klen, m->key); return; }
    if (!(e = lookup(tab, m, 1))) { printf("SET %.*s: store full\n", m->klen, m->key); return; }
    memcpy(e->value, m->value, m->vlen);
    e->vlen = m->vlen;
    printf("SET %s (%d bytes)\n", e->key, e->vlen);
    break;
  case OP_GET:
    if ((e = lookup(tab, m, 0))) printf("GET %s = '%.*s'\n", e->key, e->vlen, e->value);
    else printf("GET %.*s: not found\n", m->klen, m->key);
    break;
  case OP_DEL:
    if ((e = lookup(tab, m, 0))) { printf("DEL %s\n", e->key); memset(e, 0, sizeof(*e)); }
    else printf("DEL %.*s: not found\n", m->klen, m->key);
    break;
  case OP_LIST:
    for (int i = 0; i < MAX_ENTRIES; i++)
      if (tab[i].used) printf("  %s = '%.*s'\n", tab[i].key, tab[i].vlen, tab[i].value);
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct entry *tab = calloc(MAX_ENTRIES, sizeof(*tab));
  if (!tab) return 0;
  size_t off = 0;
  unsigned n = 0;
  while (size - off >= MSG_HDR) {
    const uint8_t *p = data + off;
    struct msg m;
    if (p[0] != MSG_MAGIC) { printf("bad magic at %zu\n", off); break; }
    m.op = p[1];
    m.klen = p[2];
    m.vlen = (int16_t)(p[3] << 8 | p[4]);
    int avail = (int)(size - off - MSG_HDR);
    if (m.op < OP_SET || m.op > OP_LIST || m.klen >= MAX_KEY || (m.op != OP_SET && m.vlen != 0) ||
        m.klen + m.vlen > avail) {
      printf("malformed message at %zu\n", off);
      break;
    }
    m.key = p + MSG_HDR;
    m.value = m.key + m.klen;
    handle(tab, &m);
    off += MSG_HDR + m.klen + m.vlen;
    n++;
  }
  printf("%u messages\n", n);
  free(tab);
  return 0;
}
