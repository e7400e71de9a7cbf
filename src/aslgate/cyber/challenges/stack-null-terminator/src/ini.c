#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SECTION_MAX 24
#define KEY_MAX 16
#define VALUE_MAX 48

struct ini_state {
  char section[SECTION_MAX];
  unsigned entries;
  unsigned errors;
};

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static void trim(const char **p, size_t *n) {
  while (*n > 0 && is_space((*p)[0])) {
    (*p)++;
    (*n)--;
  }
  while (*n > 0 && is_space((*p)[*n - 1])) (*n)--;
}

static void parse_section(struct ini_state *st, const char *p, size_t n) {
  size_t i;
  if (n < 2 || p[n - 1] != ']') {
    st->errors++;
    return;
  }
  for (i = 0; i + 2 < n && i < sizeof(st->section) - 1; i++) st->section[i] = p[i + 1];
  st->section[i] = '\0';
}

static void parse_entry(struct ini_state *st, const char *p, size_t n) {
  char key[KEY_MAX];
  char value[VALUE_MAX];
  const char *eq = memchr(p, '=', n);
  const char *v;
  size_t klen, vlen, i;

  if (!eq) {
    st->errors++;
    return;
  }
  klen = (size_t)(eq - p);
  v = eq + 1;
  vlen = n - klen - 1;
  trim(&p, &klen);
  trim(&v, &vlen);
  if (klen == 0) {
    st->errors++;
    return;
  }
  for (i = 0; i < klen && i < sizeof(key); i++) key[i] = p[i];
  key[i] = '\0';

  for (i = 0; i < vlen && i < sizeof(value) - 1; i++) value[i] = v[i];
  value[i] = '\0';

  st->entries++;
  if (st->section[0])
    printf("%s.%s = \"%s\"\n", st->section, key, value);
  else
    printf("%s = \"%s\"\n", key, value);
}

static void parse_line(struct ini_state *st, const char *p, size_t n) {
  trim(&p, &n);
  if (n == 0 || p[0] == ';' || p[0] == '#') return;
  if (p[0] == '[')
    parse_section(st, p, n);
  else
    parse_entry(st, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ini_state st;
  const char *text = (const char *)data;
  size_t start = 0, i;

  memset(&st, 0, sizeof(st));
  for (i = 0; i <= size; i++) {
    if (i == size || text[i] == '\n') {
      parse_line(&st, text + start, i - start);
      start = i + 1;
    }
  }
  printf("entries=%u errors=%u\n", st.entries, st.errors);
  return 0;
}
