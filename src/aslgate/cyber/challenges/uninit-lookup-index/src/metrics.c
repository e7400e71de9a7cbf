#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 24

enum { KIND_COUNTER = 'C', KIND_GAUGE = 'G', KIND_TIMER = 'T' };
enum { UNIT_NONE, UNIT_MS, UNIT_S, UNIT_BYTES, UNIT_KIB, UNIT_PERCENT, UNIT_COUNT };

static const char *const unit_names[UNIT_COUNT] = {"", "ms", "s", "B", "KiB", "%"};

struct metric {
  struct metric *next;
  char name[NAME_MAX_LEN];
  uint8_t kind;
  uint8_t unit;
  uint16_t window;
  uint32_t value;
};

static struct metric *metric_new(uint8_t kind, const uint8_t *name, size_t len, uint32_t value) {
  struct metric *m = malloc(sizeof(*m));
  if (!m) return NULL;
  m->next = NULL;
  if (len >= NAME_MAX_LEN) len = NAME_MAX_LEN - 1;
  memcpy(m->name, name, len);
  m->name[len] = '\0';
  m->kind = kind;
  m->window = 1;
  m->value = value;
  return m;
}

static void apply_option(struct metric *m, uint8_t opt, uint8_t val) {
  switch (opt) {
  case 'u':
    if (val < UNIT_COUNT)
      m->unit = val;
    else
      printf("%s: unknown unit %u\n", m->name, val);
    break;
  case 'w':
    if (val) m->window = val;
    break;
  default:
    printf("%s: unknown option '%c'\n", m->name, opt);
    break;
  }
}

static void report(const struct metric *m) {
  const char *u;
  switch (m->kind) {
  case KIND_COUNTER:
    printf("counter %s = %u\n", m->name, m->value);
    break;
  case KIND_GAUGE:
    u = unit_names[m->unit];
    printf("gauge %s = %u%s%s\n", m->name, m->value, *u ? " " : "", u);
    break;
  case KIND_TIMER:
    u = unit_names[m->unit];
    printf("timer %s = %u%s%s avg over %u\n", m->name, m->value / m->window, *u ? " " : "", u,
           m->window);
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct metric *head = NULL, **tail = &head, *m;
  size_t off = 0, n = 0;
  while (off + 2 <= size) {
    uint8_t kind = data[off], nlen = data[off + 1];
    if (kind != KIND_COUNTER && kind != KIND_GAUGE && kind != KIND_TIMER) {
      printf("bad record kind 0x%02x\n", kind);
      break;
    }
    if (size - off - 2 < (size_t)nlen + 5) break;
    const uint8_t *p = data + off + 2 + nlen;
    uint32_t value = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    size_t nopts = p[4];
    off += 2 + nlen + 5;
    if (size - off < nopts * 2) break;
    if (!(m = metric_new(kind, data + off - 5 - nlen, nlen, value))) break;
    for (size_t i = 0; i < nopts; i++) apply_option(m, data[off + 2 * i], data[off + 2 * i + 1]);
    off += nopts * 2;
    *tail = m;
    tail = &m->next;
    n++;
  }
  printf("%zu metrics\n", n);
  for (m = head; m; m = m->next) report(m);
  while (head) {
    m = head->next;
    free(head);
    head = m;
  }
  return 0;
}
