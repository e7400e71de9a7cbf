#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ARG_MAX 32

typedef void (*cmd_fn)(const char *arg, size_t len);

static unsigned commands_run;

static void cmd_echo(const char *arg, size_t len) {
  printf("%.*s\n", (int)len, arg);
}

static void cmd_upper(const char *arg, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) putchar(toupper((unsigned char)arg[i]));
  putchar('\n');
}

static void cmd_rev(const char *arg, size_t len) {
  while (len > 0) putchar(arg[--len]);
  putchar('\n');
}

static void cmd_sum(const char *arg, size_t len) {
  unsigned total = 0;
  size_t i;
  for (i = 0; i < len; i++) total += (unsigned char)arg[i];
  printf("sum=%u\n", total);
}

static void cmd_unknown(const char *arg, size_t len) {
  (void)arg;
  printf("unknown command (%zu byte argument)\n", len);
}

static const struct {
  const char *name;
  cmd_fn fn;
} command_table[] = {
    {"echo", cmd_echo}, {"upper", cmd_upper}, {"rev", cmd_rev}, {"sum", cmd_sum},
};

static cmd_fn lookup(const char *name, size_t n) {
  size_t i;
  for (i = 0; i < sizeof(command_table) / sizeof(command_table[0]); i++) {
    if (strlen(command_table[i].name) == n && memcmp(command_table[i].name, name, n) == 0)
      return command_table[i].fn;
  }
  return cmd_unknown;
}

static void run_line(const char *line, size_t n) {
  cmd_fn handler;
  char arg[ARG_MAX];
  size_t name_len = 0, arg_len = 0;

  while (name_len < n && line[name_len] != ' ') name_len++;
  if (name_len == 0) return;
  handler = lookup(line, name_len);
  if (name_len < n) {
    arg_len = n - name_len - 1;
    memcpy(arg, line + name_len + 1, arg_len);
  }
  commands_run++;
  handler(arg, arg_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  size_t start = 0, i;

  commands_run = 0;
  for (i = 0; i <= size; i++) {
    if (i == size || text[i] == '\n') {
      run_line(text + start, i - start);
      start = i + 1;
    }
  }
  printf("%u commands\n", commands_run);
  return 0;
}
