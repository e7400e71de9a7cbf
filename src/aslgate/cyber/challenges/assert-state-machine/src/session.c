#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum state { ST_INIT, ST_READY, ST_AUTHED, ST_TRANSFER, ST_DONE };
enum cmd { CMD_HELO, CMD_AUTH, CMD_BEGIN, CMD_DATA, CMD_END, CMD_QUIT, CMD_BAD };

struct session {
  enum state state;
  char user[16];
  unsigned blocks;
  unsigned block_bytes;
  unsigned total_bytes;
};

static enum cmd parse_cmd(const char *p, size_t n, size_t *arg) {
  static const char *const names[] = {"HELO", "AUTH", "BEGIN", "DATA", "END", "QUIT"};
  size_t w = 0;
  int i;
  while (w < n && p[w] != ' ') w++;
  *arg = w < n ? w + 1 : n;
  for (i = 0; i < CMD_BAD; i++)
    if (strlen(names[i]) == w && memcmp(names[i], p, w) == 0) return (enum cmd)i;
  return CMD_BAD;
}

static int allowed(const struct session *s, enum cmd c) {
  switch (c) {
  case CMD_HELO: return s->state == ST_INIT;
  case CMD_AUTH: return s->state == ST_READY;
  case CMD_BEGIN: return s->state == ST_AUTHED;
  case CMD_DATA: return s->state == ST_TRANSFER;
  case CMD_END: return s->state >= ST_AUTHED;
  case CMD_QUIT: return 1;
  default: return 0;
  }
}

static void finish_block(struct session *s) {
  assert(s->state == ST_TRANSFER);
  s->blocks++;
  s->total_bytes += s->block_bytes;
  printf("250 block %u stored (%u bytes)\n", s->blocks, s->block_bytes);
  s->block_bytes = 0;
  s->state = ST_AUTHED;
}

static void handle(struct session *s, const char *p, size_t n) {
  size_t a;
  enum cmd c = parse_cmd(p, n, &a);

  if (c == CMD_BAD) {
    printf("500 unknown command\n");
    return;
  }
  if (!allowed(s, c)) {
    printf("503 bad sequence\n");
    return;
  }
  switch (c) {
  case CMD_HELO:
    snprintf(s->user, sizeof(s->user), "%.*s", (int)(n - a), p + a);
    printf("220 hello %s\n", s->user[0] ? s->user : "anonymous");
    s->state = ST_READY;
    break;
  case CMD_AUTH:
    if (n - a == 6 && memcmp(p + a, "secret", 6) == 0) {
      printf("235 authenticated\n");
      s->state = ST_AUTHED;
    } else {
      printf("535 authentication failed\n");
    }
    break;
  case CMD_BEGIN:
    printf("354 go ahead\n");
    s->state = ST_TRANSFER;
    break;
  case CMD_DATA:
    s->block_bytes += (unsigned)(n - a);
    break;
  case CMD_END:
    finish_block(s);
    break;
  case CMD_QUIT:
    printf("221 bye %s: %u blocks, %u bytes\n", s->user[0] ? s->user : "anonymous", s->blocks,
           s->total_bytes);
    s->state = ST_DONE;
    break;
  default:
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct session s;
  const char *text = (const char *)data;
  size_t start = 0, i, n;

  memset(&s, 0, sizeof(s));
  for (i = 0; i <= size && s.state != ST_DONE; i++) {
    if (i == size || text[i] == '\n') {
      n = i - start;
      if (n > 0 && text[start + n - 1] == '\r') n--;
      if (n > 0) handle(&s, text + start, n);
      start = i + 1;
    }
  }
  if (s.state != ST_DONE) printf("421 connection closed without QUIT\n");
  return 0;
}
