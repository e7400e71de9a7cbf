#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_CALL 0
#define RPC_VERSION 2
#define AUTH_NONE 0
#define AUTH_UNIX 1
#define MAX_AUTH_BYTES 400
#define MAX_MACHINE_NAME 64
#define NGRPS 16
#define NFS_PROGRAM 100003
#define NFS_VERSION 3

struct xdr {
  const uint8_t *p;
  size_t left;
};

struct authunix_parms {
  uint32_t aup_time;
  char aup_machname[MAX_MACHINE_NAME];
  uint32_t aup_uid;
  uint32_t aup_gid;
  uint32_t aup_len;
  uint32_t aup_gids[NGRPS];
};

struct svc_req {
  uint32_t rq_xid, rq_prog, rq_vers, rq_proc;
  struct authunix_parms rq_cred;
  void (*rq_dispatch)(struct svc_req *);
  struct xdr rq_args;
};

static int xdr_u32(struct xdr *x, uint32_t *v) {
  if (x->left < 4) return -1;
  *v = (uint32_t)x->p[0] << 24 | (uint32_t)x->p[1] << 16 | (uint32_t)x->p[2] << 8 | x->p[3];
  x->p += 4;
  x->left -= 4;
  return 0;
}

static int xdr_opaque(struct xdr *x, size_t len, struct xdr *body) {
  size_t padded = (len + 3) & ~(size_t)3;
  if (padded > x->left) return -1;
  body->p = x->p;
  body->left = len;
  x->p += padded;
  x->left -= padded;
  return 0;
}

static int authunix_decode(struct xdr *body, struct authunix_parms *aup) {
  uint32_t namelen;
  struct xdr name;
  if (xdr_u32(body, &aup->aup_time) || xdr_u32(body, &namelen)) return -1;
  if (namelen >= MAX_MACHINE_NAME || xdr_opaque(body, namelen, &name)) return -1;
  memcpy(aup->aup_machname, name.p, namelen);
  aup->aup_machname[namelen] = '\0';
  if (xdr_u32(body, &aup->aup_uid) || xdr_u32(body, &aup->aup_gid)) return -1;
  if (xdr_u32(body, &aup->aup_len)) return -1;
  for (uint32_t i = 0; i < aup->aup_len; i++)
    if (xdr_u32(body, &aup->aup_gids[i])) return -1;
  return 0;
}

static void nfsproc_null(struct svc_req *rq) { printf("xid=%u NULL ok\n", rq->rq_xid); }

static void nfsproc_whoami(struct svc_req *rq) {
  struct authunix_parms *c = &rq->rq_cred;
  printf("xid=%u WHOAMI host=%s uid=%u gid=%u groups=", rq->rq_xid, c->aup_machname, c->aup_uid,
         c->aup_gid);
  for (uint32_t i = 0; i < c->aup_len; i++) printf(i ? ",%u" : "%u", c->aup_gids[i]);
  printf("%s\n", c->aup_len ? "" : "-");
}

static void nfsproc_access(struct svc_req *rq) {
  struct authunix_parms *c = &rq->rq_cred;
  uint32_t fileid, owner_gid;
  if (xdr_u32(&rq->rq_args, &fileid) || xdr_u32(&rq->rq_args, &owner_gid)) {
    printf("xid=%u ACCESS GARBAGE_ARGS\n", rq->rq_xid);
    return;
  }
  int ok = c->aup_uid == 0 || c->aup_gid == owner_gid;
  for (uint32_t i = 0; i < c->aup_len && !ok; i++) ok = c->aup_gids[i] == owner_gid;
  printf("xid=%u ACCESS file=%u %s\n", rq->rq_xid, fileid, ok ? "granted" : "denied");
}

static void (*const nfs_procs[])(struct svc_req *) = {nfsproc_null, nfsproc_whoami, nfsproc_access};

static void svc_handle(struct xdr *msg) {
  uint32_t mtype, rpcvers, flavor, len;
  struct xdr cred, verf;
  struct svc_req *rq = calloc(1, sizeof(*rq));
  if (!rq) return;
  if (xdr_u32(msg, &rq->rq_xid) || xdr_u32(msg, &mtype) || mtype != RPC_CALL ||
      xdr_u32(msg, &rpcvers) || rpcvers != RPC_VERSION || xdr_u32(msg, &rq->rq_prog) ||
      xdr_u32(msg, &rq->rq_vers) || xdr_u32(msg, &rq->rq_proc)) {
    printf("xid=%u GARBAGE\n", rq->rq_xid);
    goto out;
  }
  if (rq->rq_prog != NFS_PROGRAM || rq->rq_vers != NFS_VERSION) {
    printf("xid=%u PROG_UNAVAIL\n", rq->rq_xid);
    goto out;
  }
  if (rq->rq_proc >= sizeof(nfs_procs) / sizeof(nfs_procs[0])) {
    printf("xid=%u PROC_UNAVAIL\n", rq->rq_xid);
    goto out;
  }
  rq->rq_dispatch = nfs_procs[rq->rq_proc];
  if (xdr_u32(msg, &flavor) || xdr_u32(msg, &len) || len > MAX_AUTH_BYTES ||
      xdr_opaque(msg, len, &cred)) {
    printf("xid=%u AUTH_BADCRED\n", rq->rq_xid);
    goto out;
  }
  if (flavor == AUTH_UNIX) {
    if (authunix_decode(&cred, &rq->rq_cred) < 0) {
      printf("xid=%u AUTH_BADCRED\n", rq->rq_xid);
      goto out;
    }
  } else if (flavor != AUTH_NONE || rq->rq_proc != 0) {
    printf("xid=%u AUTH_TOOWEAK\n", rq->rq_xid);
    goto out;
  }
  if (xdr_u32(msg, &flavor) || xdr_u32(msg, &len) || len > MAX_AUTH_BYTES ||
      xdr_opaque(msg, len, &verf)) {
    printf("xid=%u AUTH_BADVERF\n", rq->rq_xid);
    goto out;
  }
  rq->rq_args = *msg;
  rq->rq_dispatch(rq);
out:
  free(rq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct xdr in = {data, size};
  uint32_t mark;
  while (xdr_u32(&in, &mark) == 0) {
    struct xdr msg;
    if (xdr_opaque(&in, mark & 0x7fffffff, &msg) < 0) break;
    svc_handle(&msg);
  }
  return 0;
}
