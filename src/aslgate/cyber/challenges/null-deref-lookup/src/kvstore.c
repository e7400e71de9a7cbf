#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 256
#define KEY_MAX_LEN 32

struct entry {
  struct entry *next;
  char key[KEY_MAX_LEN];
  size_t len;
  char *val;
};

static struct entry *table;

static struct entry *find(const char *key) {
  for (struct entry *e = table; e; e = e->next)
    if (strcmp(e->key, key) == 0) return e;
  return NULL;
}

static void cmd_set(const char *key, const char *val) {
  struct entry *e = find(key);
  size_t n = strlen(val);
  char *copy = malloc(n + 1);
  if (!copy) return;
  memcpy(copy, val, n + 1);
  if (!e) {
    if (!(e = calloc(1, sizeof(*e)))) {
      free(copy);
      return;
    }
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->next = table;
    table = e;
  }
  free(e->val);
  e->val = copy;
  e->len = n;
  printf("ok\n");
}

static void cmd_append(const char *key, const char *val) {
  struct entry *e = find(key);
  size_t n = strlen(val);
  char *grown = realloc(e->val, e->len + n + 1);
  if (!grown) return;
  memcpy(grown + e->len, val, n + 1);
  e->val = grown;
  e->len += n;
  printf("ok %zu\n", e->len);
}

static void cmd_get(const char *key) {
  struct entry *e = find(key);
  if (e)
    printf("%s=%s\n", e->key, e->val);
  else
    printf("%s not found\n", key);
}

static void cmd_del(const char *key) {
  for (struct entry **pp = &table; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->key, key) == 0) {
      struct entry *e = *pp;
      *pp = e->next;
      free(e->val);
      free(e);
      printf("deleted\n");
      return;
    }
  }
  printf("%s not found\n", key);
}

static void run_line(char *line) {
  char *cmd = line, *key = strchr(line, ' '), *val = "";
  if (key) {
    *key++ = '\0';
    char *sp = strchr(key, ' ');
    if (sp) {
      *sp = '\0';
      val = sp + 1;
    }
  }
  if (strcmp(cmd, "count") == 0) {
    size_t n = 0;
    for (struct entry *e = table; e; e = e->next) n++;
    printf("%zu keys\n", n);
    return;
  }
  if (!key || !*key || strlen(key) >= KEY_MAX_LEN) {
    printf("bad key\n");
    return;
  }
  if (strcmp(cmd, "set") == 0)
    cmd_set(key, val);
  else if (strcmp(cmd, "append") == 0)
    cmd_append(key, val);
  else if (strcmp(cmd, "get") == 0)
    cmd_get(key);
  else if (strcmp(cmd, "del") == 0)
    cmd_del(key);
  else
    printf("unknown command %s\n", cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char line[LINE_MAX_LEN];
  size_t off = 0;
  while (off < size) {
    size_t n = 0;
    while (off < size && data[off] != '\n') {
      if (n < sizeof(line) - 1 && data[off] != '\0') line[n++] = (char)data[off];
      off++;
    }
    off++;
    line[n] = '\0';
    if (n) run_line(line);
  }
  while (table) {
    struct entry *e = table->next;
    free(table->val);
    free(table);
    table = e;
  }
  return 0;
}
