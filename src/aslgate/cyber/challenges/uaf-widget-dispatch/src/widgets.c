#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HANDLES 16
#define MAX_BLOBS 16
#define LABEL_MAX 16

struct widget;

struct widget_ops {
  void (*activate)(struct widget *w, uint8_t arg);
  void (*describe)(const struct widget *w);
};

struct widget {
  struct widget *next;
  uint32_t id;
  uint32_t kind;
  int32_t value;
  int32_t clicks;
  struct widget_ops ops;
  char label[LABEL_MAX];
};

static struct widget *live;
static struct widget *handles[MAX_HANDLES];
static size_t nhandles;
static uint8_t *blobs[MAX_BLOBS];
static size_t nblobs;

static void button_activate(struct widget *w, uint8_t arg) {
  (void)arg;
  printf("button '%s' clicked (%d)\n", w->label, ++w->clicks);
}
static void slider_activate(struct widget *w, uint8_t arg) {
  w->value = arg;
  printf("slider '%s' set to %d\n", w->label, w->value);
}
static void toggle_activate(struct widget *w, uint8_t arg) {
  (void)arg;
  w->value = !w->value;
  printf("toggle '%s' is %s\n", w->label, w->value ? "on" : "off");
}
static void describe_any(const struct widget *w) {
  static const char *const names[] = {"button", "slider", "toggle"};
  printf("#%u %s '%s' value=%d clicks=%d\n", w->id, names[w->kind], w->label, w->value, w->clicks);
}

static const struct widget_ops class_ops[] = {
    {button_activate, describe_any},
    {slider_activate, describe_any},
    {toggle_activate, describe_any},
};

static void widget_new(uint8_t kind, const uint8_t *label, size_t len) {
  if (kind >= sizeof(class_ops) / sizeof(class_ops[0]) || nhandles >= MAX_HANDLES) {
    printf("cannot create widget\n");
    return;
  }
  struct widget *w = calloc(1, sizeof(*w));
  if (!w) return;
  w->id = (uint32_t)nhandles;
  w->kind = kind;
  w->ops = class_ops[kind];
  if (len >= LABEL_MAX) len = LABEL_MAX - 1;
  memcpy(w->label, label, len);
  w->next = live;
  live = w;
  handles[nhandles++] = w;
  printf("widget #%u created\n", w->id);
}

static struct widget *lookup(uint8_t h) {
  if (h >= nhandles || !handles[h]) {
    printf("bad handle %u\n", h);
    return NULL;
  }
  return handles[h];
}

static void widget_close(uint8_t h) {
  struct widget *w = lookup(h), **pp;
  if (!w) return;
  for (pp = &live; *pp; pp = &(*pp)->next) {
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  }
  printf("widget #%u closed\n", w->id);
  free(w);
}

static void blob_store(const uint8_t *p, size_t len) {
  uint32_t sum = 0;
  if (nblobs >= MAX_BLOBS || !(blobs[nblobs] = malloc(len ? len : 1))) return;
  memcpy(blobs[nblobs], p, len);
  for (size_t i = 0; i < len; i++) sum = sum * 31 + p[i];
  printf("blob %zu: %zu bytes, sum %08x\n", nblobs++, len, sum);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0;
  struct widget *w;
  while (off + 2 <= size) {
    uint8_t op = data[off], a = data[off + 1];
    off += 2;
    switch (op) {
    case 'N':
      if (off >= size || data[off] > size - off - 1) { off = size; break; }
      widget_new(a, data + off + 1, data[off]);
      off += 1 + data[off];
      break;
    case 'B':
      if (a > size - off) { off = size; break; }
      blob_store(data + off, a);
      off += a;
      break;
    case 'A':
      if (off >= size) break;
      if ((w = lookup(a))) w->ops.activate(w, data[off]);
      off++;
      break;
    case 'D':
      if ((w = lookup(a))) w->ops.describe(w);
      break;
    case 'C':
      widget_close(a);
      break;
    default:
      printf("unknown op 0x%02x\n", op);
      break;
    }
  }
  for (w = live; w; w = live) {
    live = w->next;
    free(w);
  }
  for (size_t i = 0; i < nblobs; i++) free(blobs[i]);
  memset(handles, 0, sizeof(handles));
  nhandles = nblobs = 0;
  return 0;
}
