#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STACK_MAX 8
#define STEP_MAX 4096

struct vm;
typedef void (*emit_fn)(struct vm *vm, int64_t v);

struct vm {
  uint32_t sp;
  uint32_t steps;
  int64_t stack[STACK_MAX];
  emit_fn emit;
};

static void emit_dec(struct vm *vm, int64_t v) { printf("%u: %" PRId64 "\n", vm->steps, v); }

static void emit_hex(struct vm *vm, int64_t v) {
  printf("%u: 0x%016" PRIx64 "\n", vm->steps, (uint64_t)v);
}

static int push(struct vm *vm, int64_t v) {
  if (vm->sp > STACK_MAX) {
    printf("error: stack full\n");
    return -1;
  }
  vm->stack[vm->sp++] = v;
  return 0;
}

static int pop(struct vm *vm, int64_t *v) {
  if (vm->sp == 0) {
    printf("error: stack empty\n");
    return -1;
  }
  *v = vm->stack[--vm->sp];
  return 0;
}

static int binop(struct vm *vm, uint8_t op) {
  int64_t a, b;
  uint64_t r;
  if (pop(vm, &b) || pop(vm, &a)) return -1;
  switch (op) {
  case '+': r = (uint64_t)a + (uint64_t)b; break;
  case '-': r = (uint64_t)a - (uint64_t)b; break;
  case '*': r = (uint64_t)a * (uint64_t)b; break;
  case '&': r = (uint64_t)a & (uint64_t)b; break;
  case '^': r = (uint64_t)a ^ (uint64_t)b; break;
  default:
    if (b == 0 || (a == INT64_MIN && b == -1)) {
      printf("error: bad divisor\n");
      return -1;
    }
    r = (uint64_t)(a / b);
    break;
  }
  return push(vm, (int64_t)r);
}

static int step(struct vm *vm, const uint8_t *code, size_t size, size_t *pc) {
  uint8_t op = code[(*pc)++];
  int64_t v;
  switch (op) {
  case 'i':
    if (*pc + 1 > size) break;
    v = (int8_t)code[(*pc)++];
    return push(vm, v);
  case 'q':
    if (*pc + 8 > size) break;
    memcpy(&v, code + *pc, 8);
    *pc += 8;
    return push(vm, v);
  case 'd':
    if (pop(vm, &v) || push(vm, v)) return -1;
    return push(vm, v);
  case 'x':
    return pop(vm, &v);
  case '+': case '-': case '*': case '/': case '&': case '^':
    return binop(vm, op);
  case '.':
    if (pop(vm, &v)) return -1;
    vm->emit(vm, v);
    return 0;
  case 'H':
    vm->emit = emit_hex;
    return 0;
  case 'D':
    vm->emit = emit_dec;
    return 0;
  case ' ': case '\n':
    return 0;
  default:
    printf("error: unknown opcode 0x%02x\n", op);
    return -1;
  }
  printf("error: truncated operand\n");
  return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct vm *vm = calloc(1, sizeof(*vm));
  size_t pc = 0;
  if (!vm) return 0;
  vm->emit = emit_dec;
  while (pc < size && vm->steps < STEP_MAX) {
    vm->steps++;
    if (step(vm, data, size, &pc)) {
      printf("halted at offset %zu\n", pc);
      break;
    }
  }
  printf("steps=%u depth=%u\n", vm->steps, vm->sp);
  free(vm);
  return 0;
}
