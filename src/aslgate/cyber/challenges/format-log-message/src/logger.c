#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_NLEVELS };

struct logger {
  void (*emit)(struct logger *lg, int level, const char *line);
  const char *name;
  int min_level;
  unsigned written[LOG_NLEVELS];
  unsigned dropped;
};

static const char *const level_names[LOG_NLEVELS] = {"DEBUG", "INFO", "WARN", "ERROR"};

static void emit_stdout(struct logger *lg, int level, const char *line) {
  printf("[%s] %-5s %s\n", lg->name, level_names[level], line);
  lg->written[level]++;
}

static struct logger app_log = {emit_stdout, "app", LOG_INFO, {0}, 0};

static void log_message(struct logger *lg, int level, const char *msg) {
  char line[128];
  if (level < lg->min_level) {
    lg->dropped++;
    return;
  }
  snprintf(line, sizeof(line), msg);
  lg->emit(lg, level, line);
}

static int parse_level(char c) {
  switch (c) {
  case 'D': return LOG_DEBUG;
  case 'I': return LOG_INFO;
  case 'W': return LOG_WARN;
  case 'E': return LOG_ERROR;
  default: return -1;
  }
}

static void handle_line(struct logger *lg, const uint8_t *p, size_t n) {
  char text[256];
  size_t i, j = 0;
  int level;

  if (n == 0) return;
  if (n >= 2 && p[0] == '#' && p[1] == ' ') {
    if (n - 2 == 1 && parse_level((char)p[2]) >= 0) lg->min_level = parse_level((char)p[2]);
    return;
  }
  level = parse_level((char)p[0]);
  if (level < 0 || n < 2 || p[1] != ' ') {
    printf("malformed record\n");
    return;
  }
  for (i = 2; i < n && j < sizeof(text) - 1; i++) {
    uint8_t c = p[i];
    if (c == '\r') continue;
    text[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  text[j] = '\0';
  log_message(lg, level, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct logger *lg = &app_log;
  size_t start = 0, i;
  int k;

  memset(lg->written, 0, sizeof(lg->written));
  lg->dropped = 0;
  lg->min_level = LOG_INFO;
  for (i = 0; i <= size; i++) {
    if (i == size || data[i] == '\n') {
      handle_line(lg, data + start, i - start);
      start = i + 1;
    }
  }
  printf("summary:");
  for (k = 0; k < LOG_NLEVELS; k++) printf(" %s=%u", level_names[k], lg->written[k]);
  printf(" dropped=%u\n", lg->dropped);
  return 0;
}
