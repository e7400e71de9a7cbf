#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void greet(const uint8_t *rec, size_t avail) {
  char name[32];
  size_t len = rec[0];
  if (len + 1 > avail) return;
  memcpy(name, rec + 1, len);
  name[len < sizeof(name) ? len : sizeof(name) - 1] = '\0';
  printf("hello, %s\n", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0;
  while (off < size) {
    size_t len = data[off];
    greet(data + off, size - off);
    off += 1 + len;
  }
  return 0;
}
