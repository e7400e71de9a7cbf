/* aslgate driver: links a challenge's LLVMFuzzerTestOneInput into a program that
 * reads the file argv[1] and feeds it to the target. Also defines aslgate_win(),
 * the control-flow-hijack canary: it prints the per-run nonce from ASLGATE_NONCE. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Realigns the stack on entry and uses raw write(2) so that it works when
 * reached through a smashed return address or a corrupted function pointer. */
__attribute__((used, noinline, force_align_arg_pointer)) void aslgate_win(void) {
  const char *nonce = getenv("ASLGATE_NONCE");
  static const char tag[] = "ASLGATE_WIN:";
  fflush(stdout);
  (void)!write(1, tag, sizeof(tag) - 1);
  if (nonce) (void)!write(1, nonce, strlen(nonce));
  (void)!write(1, "\n", 1);
  _exit(0);
}

#ifndef ASLGATE_NO_MAIN
int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s INPUT_FILE\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  size_t cap = 4096, size = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + size, 1, cap - size, f)) > 0) {
    size += got;
    if (size == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) return 2;
  /* Exact-size copy so that ASan catches reads one past the input. */
  uint8_t *data = malloc(size ? size : 1);
  memcpy(data, buf, size);
  free(buf);
  LLVMFuzzerTestOneInput(data, size);
  free(data);
  fflush(stdout);
  return 0;
}
#endif
