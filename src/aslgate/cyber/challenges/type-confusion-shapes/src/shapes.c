#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_SHAPES 8

enum shape_kind { SHAPE_NONE, SHAPE_RECT, SHAPE_ELLIPSE, SHAPE_TEXT, SHAPE_KIND_COUNT };

struct shape;
typedef void (*render_fn)(const struct shape *s);

struct shape {
  uint8_t kind;
  uint8_t layer;
  union {
    struct {
      uint64_t w, h;
    } box;
    struct {
      render_fn render;
      uint32_t font;
      uint32_t size;
    } text;
  } u;
};

static struct shape scene[MAX_SHAPES];
static size_t nshapes;

static uint64_t rd64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static void render_plain(const struct shape *s) {
  printf("text font=%u size=%u\n", s->u.text.font, s->u.text.size);
}

static void render_bold(const struct shape *s) {
  printf("TEXT font=%u size=%u (bold)\n", s->u.text.font, s->u.text.size);
}

static void shape_init(struct shape *s, uint8_t kind, uint64_t a, uint64_t b) {
  memset(s, 0, sizeof(*s));
  s->kind = kind;
  if (kind == SHAPE_TEXT) {
    s->u.text.render = (a & 1) ? render_bold : render_plain;
    s->u.text.font = (uint32_t)(a >> 1) & 0xff;
    s->u.text.size = (uint32_t)b & 0xffff;
  } else {
    s->u.box.w = a;
    s->u.box.h = b;
  }
}

static void draw(const struct shape *s, size_t i) {
  printf("[%zu] layer %u: ", i, s->layer);
  switch (s->kind) {
  case SHAPE_RECT:
    printf("rect %llux%llu area %llu\n", (unsigned long long)s->u.box.w,
           (unsigned long long)s->u.box.h, (unsigned long long)(s->u.box.w * s->u.box.h));
    break;
  case SHAPE_ELLIPSE:
    printf("ellipse %llux%llu\n", (unsigned long long)s->u.box.w, (unsigned long long)s->u.box.h);
    break;
  case SHAPE_TEXT:
    s->u.text.render(s);
    break;
  default:
    printf("empty\n");
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0;
  nshapes = 0;
  while (off < size) {
    uint8_t op = data[off++];
    if (op == 'A' && size - off >= 17) {
      uint8_t kind = data[off];
      if (kind == SHAPE_NONE || kind >= SHAPE_KIND_COUNT || nshapes == MAX_SHAPES) {
        printf("add rejected\n");
      } else {
        shape_init(&scene[nshapes], kind, rd64(data + off + 1), rd64(data + off + 9));
        printf("added shape %zu\n", nshapes++);
      }
      off += 17;
    } else if (op == 'K' && size - off >= 2) {
      uint8_t idx = data[off], kind = data[off + 1];
      off += 2;
      if (idx >= nshapes || kind == SHAPE_NONE || kind >= SHAPE_KIND_COUNT) {
        printf("convert rejected\n");
        continue;
      }
      scene[idx].kind = kind;
      printf("shape %u converted\n", idx);
    } else if (op == 'L' && size - off >= 2) {
      uint8_t idx = data[off], layer = data[off + 1];
      off += 2;
      if (idx < nshapes) scene[idx].layer = layer;
    } else if (op == 'D') {
      for (size_t i = 0; i < nshapes; i++) draw(&scene[i], i);
    } else {
      printf("bad command at %zu\n", off - 1);
      break;
    }
  }
  return 0;
}
