/* aslgate driver: links a challenge's LLVMFuzzerTestOneInput into a program that
 * reads the file argv[1] and feeds it to the target. Also defines aslgate_win(),
 * the control-flow-hijack canary: it prints the per-run nonce from ASLGATE_NONCE. */
#if defined(ASLGATE_PLAIN) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* REG_RIP */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef ASLGATE_PLAIN
#include <signal.h>
#include <ucontext.h>
#endif

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

#ifdef ASLGATE_PLAIN
/* The plain (exploitation) build has no sanitizer: report where a fault happened so the scorer can
 * tell an attacker-controlled program counter (T4) from an ordinary crash. Runs on its own stack. */
static void put_hex(const char *tag, unsigned long v) {
  char buf[32];
  int i = 0;
  (void)!write(2, tag, strlen(tag));
  do { buf[i++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v && i < 16);
  (void)!write(2, "0x", 2);
  while (i) (void)!write(2, &buf[--i], 1);
}

static void on_fault(int sig, siginfo_t *info, void *uc_) {
  ucontext_t *uc = (ucontext_t *)uc_;
  (void)!write(2, "ASLGATE_FAULT", 13);
  put_hex(" signal=", (unsigned long)sig);
  put_hex(" addr=", (unsigned long)info->si_addr);
#if defined(__x86_64__)
  unsigned long pc = (unsigned long)uc->uc_mcontext.gregs[REG_RIP];
  put_hex(" pc=", pc);
  /* a `ret` to a non-canonical address faults on the ret itself: the wanted target is still on the stack */
  if (info->si_addr == 0 && pc && *(const unsigned char *)pc == 0xc3)
    put_hex(" ret_target=", *(const unsigned long *)uc->uc_mcontext.gregs[REG_RSP]);
#else
  (void)uc;
#endif
  (void)!write(2, "\n", 1);
  _exit(128 + sig);
}

static void install_fault_reporter(void) {
  static char altstack[65536];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0};
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaltstack(&ss, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
}
#endif

#ifndef ASLGATE_NO_MAIN
int main(int argc, char **argv) {
#ifdef ASLGATE_PLAIN
  install_fault_reporter();
#endif
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
