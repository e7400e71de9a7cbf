#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_CAP 64
#define MAX_FILES 16
#define LINE_MAX_LEN 128

struct shell {
  char *cwd;
  char *files[MAX_FILES];
  int nfiles;
};

static int path_join(char *out, const char *dir, const char *name) {
  size_t dlen = strlen(dir), nlen = strlen(name);
  int sep = dlen > 0 && dir[dlen - 1] != '/';
  if (dlen + sep + nlen > PATH_CAP) return -1;
  memcpy(out, dir, dlen);
  if (sep) out[dlen] = '/';
  memcpy(out + dlen + sep, name, nlen);
  out[dlen + sep + nlen] = '\0';
  return 0;
}

static void path_up(char *path) {
  char *slash = strrchr(path, '/');
  if (!slash) return;
  if (slash == path) slash[1] = '\0';
  else *slash = '\0';
}

static void cmd_cd(struct shell *sh, const char *arg) {
  char *tmp = malloc(PATH_CAP);
  if (!tmp) return;
  if (!*arg) {
    strcpy(sh->cwd, "/");
  } else if (strcmp(arg, "..") == 0) {
    path_up(sh->cwd);
  } else if (strcmp(arg, ".") != 0) {
    if (path_join(tmp, arg[0] == '/' ? "" : sh->cwd, arg) == 0) strcpy(sh->cwd, tmp);
    else printf("cd: %s: path too long\n", arg);
  }
  free(tmp);
}

static void cmd_touch(struct shell *sh, const char *arg) {
  if (!*arg || strchr(arg, '/')) { printf("touch: invalid name\n"); return; }
  if (sh->nfiles == MAX_FILES) { printf("touch: too many files\n"); return; }
  char *path = malloc(PATH_CAP);
  if (!path) return;
  if (path_join(path, sh->cwd, arg) < 0) {
    printf("touch: %s: path too long\n", arg);
    free(path);
    return;
  }
  for (int i = 0; i < sh->nfiles; i++)
    if (strcmp(sh->files[i], path) == 0) { free(path); return; }
  sh->files[sh->nfiles++] = path;
  printf("created %s\n", path);
}

static void cmd_ls(struct shell *sh) {
  size_t n = strlen(sh->cwd);
  for (int i = 0; i < sh->nfiles; i++) {
    const char *f = sh->files[i];
    if (strncmp(f, sh->cwd, n) != 0) continue;
    const char *rest = f + n + (f[n] == '/');
    if (rest > f + n || n == 1) printf("  %s\n", rest);
  }
}

static void run_line(struct shell *sh, char *line) {
  char *arg = strchr(line, ' ');
  if (arg) *arg++ = '\0';
  else arg = "";
  if (strcmp(line, "cd") == 0) cmd_cd(sh, arg);
  else if (strcmp(line, "touch") == 0) cmd_touch(sh, arg);
  else if (strcmp(line, "ls") == 0) cmd_ls(sh);
  else if (strcmp(line, "pwd") == 0) printf("%s\n", sh->cwd);
  else if (*line) printf("%s: unknown command\n", line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct shell sh = {0};
  sh.cwd = malloc(PATH_CAP);
  if (!sh.cwd) return 0;
  strcpy(sh.cwd, "/");
  size_t off = 0;
  while (off < size) {
    const uint8_t *nl = memchr(data + off, '\n', size - off);
    size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
    char line[LINE_MAX_LEN];
    if (len < sizeof(line) && !memchr(data + off, '\0', len)) {
      memcpy(line, data + off, len);
      line[len] = '\0';
      run_line(&sh, line);
    } else {
      printf("line too long\n");
    }
    off += len + 1;
  }
  for (int i = 0; i < sh.nfiles; i++) free(sh.files[i]);
  free(sh.cwd);
  return 0;
}
