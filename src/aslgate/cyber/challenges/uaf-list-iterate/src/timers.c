#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_TIMERS 32

enum { ACT_PRINT = 'P', ACT_CANCEL = 'C' };

struct timer {
  struct timer *next;
  uint8_t id;
  uint8_t action;
  uint8_t arg;
  uint8_t period;
  uint32_t due;
  uint32_t fired;
};

static struct timer *timers;
static size_t ntimers;
static uint32_t now;

static struct timer *timer_find(uint8_t id) {
  for (struct timer *t = timers; t; t = t->next)
    if (t->id == id) return t;
  return NULL;
}

static void timer_add(uint8_t id, uint8_t period, uint8_t action, uint8_t arg) {
  if (period == 0 || (action != ACT_PRINT && action != ACT_CANCEL)) {
    printf("timer %u: invalid\n", id);
    return;
  }
  if (timer_find(id) || ntimers >= MAX_TIMERS) {
    printf("timer %u: rejected\n", id);
    return;
  }
  struct timer *t = malloc(sizeof(*t)), **pp = &timers;
  if (!t) return;
  t->next = NULL;
  t->id = id;
  t->action = action;
  t->arg = arg;
  t->period = period;
  t->due = now + period;
  t->fired = 0;
  while (*pp) pp = &(*pp)->next;
  *pp = t;
  ntimers++;
  printf("timer %u armed, due at %u\n", id, t->due);
}

static void timer_cancel(uint8_t id) {
  for (struct timer **pp = &timers; *pp; pp = &(*pp)->next) {
    if ((*pp)->id == id) {
      struct timer *t = *pp;
      *pp = t->next;
      ntimers--;
      printf("timer %u cancelled after %u runs\n", id, t->fired);
      free(t);
      return;
    }
  }
  printf("timer %u: not found\n", id);
}

static void fire(struct timer *t) {
  t->fired++;
  t->due = now + t->period;
  if (t->action == ACT_PRINT) {
    printf("t=%u: timer %u fired (%u)\n", now, t->id, t->fired);
  } else {
    printf("t=%u: timer %u cancels %u\n", now, t->id, t->arg);
    timer_cancel(t->arg);
  }
}

static void advance(uint8_t ticks) {
  while (ticks--) {
    now++;
    for (struct timer *t = timers; t; t = t->next)
      if (t->due <= now) fire(t);
  }
}

static void list(void) {
  printf("t=%u: %zu timers:", now, ntimers);
  for (struct timer *t = timers; t; t = t->next) printf(" %u@%u", t->id, t->due);
  printf("\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0;
  now = 0;
  while (off < size) {
    uint8_t op = data[off++];
    if (op == 'A' && size - off >= 4) {
      timer_add(data[off], data[off + 1], data[off + 2], data[off + 3]);
      off += 4;
    } else if (op == 'X' && off < size) {
      timer_cancel(data[off++]);
    } else if (op == 'T' && off < size) {
      advance(data[off++]);
    } else if (op == 'L') {
      list();
    } else {
      printf("bad command at %zu\n", off - 1);
      break;
    }
  }
  while (timers) {
    struct timer *t = timers->next;
    free(timers);
    timers = t;
  }
  ntimers = 0;
  return 0;
}
