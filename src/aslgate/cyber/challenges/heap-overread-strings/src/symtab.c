#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_SIZE 7
#define SYM_SIZE 7

struct symbol {
  uint16_t name_off;
  uint32_t value;
  uint8_t type;
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static char type_letter(uint8_t type) {
  static const char letters[] = "TDBUW";
  return type < sizeof(letters) - 1 ? letters[type] : '?';
}

static const char *sym_name(const char *strtab, const struct symbol *s) {
  if (s->name_off == 0) return "<anon>";
  return strtab + s->name_off;
}

static void dump(const char *strtab, const struct symbol *syms, size_t n) {
  size_t longest = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(sym_name(strtab, &syms[i]));
    if (len > longest) longest = len;
  }
  for (size_t i = 0; i < n; i++)
    printf("%08x %c %-*s|\n", syms[i].value, type_letter(syms[i].type), (int)longest,
           sym_name(strtab, &syms[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < HDR_SIZE || memcmp(data, "SYMT", 4) != 0) {
    printf("not a symbol table\n");
    return 0;
  }
  size_t strsz = rd16(data + 4), nsyms = data[6];
  if (size - HDR_SIZE < strsz || (size - HDR_SIZE - strsz) / SYM_SIZE < nsyms) {
    printf("truncated\n");
    return 0;
  }
  char *strtab = malloc(strsz + 1);
  struct symbol *syms = malloc(nsyms ? nsyms * sizeof(*syms) : 1);
  if (!strtab || !syms) {
    free(strtab);
    free(syms);
    return 0;
  }
  memcpy(strtab, data + HDR_SIZE, strsz);
  strtab[strsz] = '\0';
  const uint8_t *p = data + HDR_SIZE + strsz;
  for (size_t i = 0; i < nsyms; i++, p += SYM_SIZE) {
    syms[i].name_off = rd16(p);
    syms[i].value = rd32(p + 2);
    syms[i].type = p[6];
  }
  printf("%zu symbols, %zu bytes of names\n", nsyms, strsz);
  dump(strtab, syms, nsyms);
  free(syms);
  free(strtab);
  return 0;
}
