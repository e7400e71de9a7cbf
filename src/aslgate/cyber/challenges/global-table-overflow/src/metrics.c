#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_COUNTERS 8
#define NAME_MAX_LEN 12

struct counter {
  char name[NAME_MAX_LEN];
  uint32_t value;
};

static struct counter counters[MAX_COUNTERS];
static unsigned rejected;

static const char *next_word(const char *p, const char *end, const char **wend) {
  while (p < end && *p == ' ') p++;
  *wend = p;
  while (*wend < end && **wend != ' ') (*wend)++;
  return p;
}

static int parse_uint(const char *p, const char *end, uint32_t *out) {
  uint32_t v = 0;
  if (p == end) return -1;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9' || v > 100000000u) return -1;
    v = v * 10 + (uint32_t)(*p - '0');
  }
  *out = v;
  return 0;
}

static struct counter *counter_at(uint32_t id) {
  if (id > MAX_COUNTERS) return NULL;
  return &counters[id];
}

static void dump(void) {
  int i;
  for (i = 0; i < MAX_COUNTERS; i++) {
    if (counters[i].name[0] || counters[i].value)
      printf("  #%d %-11s %u\n", i, counters[i].name[0] ? counters[i].name : "-", counters[i].value);
  }
}

static void run(const char *p, const char *end) {
  const char *we, *arg, *ae, *val, *ve;
  struct counter *c;
  uint32_t id, v = 0;
  size_t n;

  p = next_word(p, end, &we);
  if (p == we) return;
  if ((size_t)(we - p) == 4 && memcmp(p, "dump", 4) == 0) {
    printf("dump:\n");
    dump();
    return;
  }
  arg = next_word(we, end, &ae);
  val = next_word(ae, end, &ve);
  if (parse_uint(arg, ae, &id) != 0 || (c = counter_at(id)) == NULL) {
    rejected++;
    return;
  }
  if ((size_t)(we - p) == 4 && memcmp(p, "name", 4) == 0) {
    n = (size_t)(ve - val);
    if (n >= NAME_MAX_LEN) n = NAME_MAX_LEN - 1;
    memcpy(c->name, val, n);
    c->name[n] = '\0';
  } else if ((size_t)(we - p) == 3 && memcmp(p, "add", 3) == 0 && parse_uint(val, ve, &v) == 0) {
    c->value += v;
  } else if ((size_t)(we - p) == 3 && memcmp(p, "set", 3) == 0 && parse_uint(val, ve, &v) == 0) {
    c->value = v;
  } else {
    rejected++;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  size_t start = 0, i;

  memset(counters, 0, sizeof(counters));
  rejected = 0;
  for (i = 0; i <= size; i++) {
    if (i == size || text[i] == '\n') {
      run(text + start, text + i);
      start = i + 1;
    }
  }
  printf("final:\n");
  dump();
  printf("rejected=%u\n", rejected);
  return 0;
}
