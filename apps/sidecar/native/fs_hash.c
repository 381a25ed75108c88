// Small files read and hashed whole on libuv's thread pool, many per call, for a folder summary
// with nothing cached (src/fs/hash-small-files.ts).
//
// Why: a `serve` that starts on a folder of many small files must hash all of them before it can
// answer its first client (bench W2: 10,000 files of 1-64 KiB). On the main thread each file cost
// ~70 us (open, fstat, read, SHA-256, close, lstat, and a promise per step), ~0.7 s in all while
// the first client waited. Worker threads did not pay: a message each way per file cost about
// what the file's own hashing did. Here one call takes a batch of paths and does all of a file's
// system calls and its hash on a pool thread; the main thread pays once per batch.
//
// SHA-256 is OpenSSL's, the same library (and the same SHA-NI code) node:crypto uses: Node exports
// its symbols to addons.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include "async_call.h"
#include "stat_fields.h"
#include <openssl/evp.h>

// Per file, in this order (src/fs/hash-small-files.ts reads them): status, size read, and the
// file's lstat after the read: kind, size, mtimeMs, ctimeMs, ino.
#define FIELDS 7
// status: hashed, or why not. A negative status is -errno from open, fstat, read or lstat.
enum { STATUS_HASHED = 0, STATUS_NOT_REGULAR = 1, STATUS_TOO_BIG = 2 };
#define DIGEST_BYTES 32

typedef struct {
  async_call_t call;
  size_t count;
  size_t limit;
  char **paths;
  unsigned char *digests;
  double *table;
} batch_t;

// Reads all of fd into buf (at most cap bytes); returns the bytes read or -errno.
static ssize_t read_all(int fd, unsigned char *buf, size_t cap) {
  size_t got = 0;
  while (got < cap) {
    ssize_t r = read(fd, buf + got, cap - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

// The status of one file; its size and digest are written on success.
static int hash_one(const char *path, unsigned char *buf, size_t limit, double *out, unsigned char *digest) {
  // Never follows a symlink swapped in since the scan; O_NONBLOCK so a FIFO cannot block the pool.
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno == ELOOP ? STATUS_NOT_REGULAR : -errno;
  struct stat st;
  int status = STATUS_HASHED;
  if (fstat(fd, &st) != 0) status = -errno;
  else if (!S_ISREG(st.st_mode)) status = STATUS_NOT_REGULAR;
  else {
    // One byte past the limit tells a file that grew beyond it from one exactly that long.
    ssize_t n = read_all(fd, buf, limit + 1);
    if (n < 0) status = (int)n;
    else if ((size_t)n > limit) status = STATUS_TOO_BIG;
    else {
      out[1] = (double)n;
      if (n > 0 && EVP_Digest(buf, (size_t)n, digest, NULL, EVP_sha256(), NULL) != 1) status = -EIO;
    }
  }
  close(fd);
  return status;
}

static void execute(napi_env env, void *data) {
  batch_t *b = data;
  unsigned char *buf = malloc(b->limit + 1);
  for (size_t i = 0; i < b->count; i++) {
    double *out = b->table + i * FIELDS;
    memset(out, 0, FIELDS * sizeof(double));
    if (buf == NULL) {
      out[0] = -ENOMEM;
      continue;
    }
    int status = hash_one(b->paths[i], buf, b->limit, out, b->digests + i * DIGEST_BYTES);
    out[0] = status;
    if (status != STATUS_HASHED) continue;
    // What the file is after the read: the caller trusts the hash only if it did not change.
    struct stat st;
    if (lstat(b->paths[i], &st) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) out[0] = -errno;
      out[2] = KIND_MISSING;
      continue;
    }
    out[2] = S_ISREG(st.st_mode) ? KIND_FILE : KIND_OTHER;
    out[3] = (double)st.st_size;
    out[4] = ms_of(st.st_mtim);
    out[5] = ms_of(st.st_ctim);
    out[6] = (double)st.st_ino;
  }
  free(buf);
}

static void free_batch(napi_env env, batch_t *b) {
  for (size_t i = 0; i < b->count; i++) free(b->paths[i]);
  free(b->paths);
  free(b->digests);
  free(b->table);
  release_call(env, &b->call);
  free(b);
}

// Calls back with (digests: Buffer, table: Float64Array), or with nothing if they could not be made.
static void complete(napi_env env, napi_status status, void *data) {
  batch_t *b = data;
  napi_value digests, buffer, table;
  void *table_data = NULL;
  napi_value argv[2];
  size_t argc = 0;
  if (status == napi_ok && napi_create_buffer_copy(env, b->count * DIGEST_BYTES, b->digests, NULL, &digests) == napi_ok &&
      napi_create_arraybuffer(env, b->count * FIELDS * sizeof(double), &table_data, &buffer) == napi_ok &&
      napi_create_typedarray(env, napi_float64_array, b->count * FIELDS, buffer, 0, &table) == napi_ok) {
    memcpy(table_data, b->table, b->count * FIELDS * sizeof(double));
    argv[0] = digests;
    argv[1] = table;
    argc = 2;
  }
  finish_call(env, &b->call, argc, argv);
  free_batch(env, b);
}

// hashSmallFiles(paths, limit, callback): reads and hashes each absolute path on the thread pool,
// if it is a regular file of at most `limit` bytes, then calls back (see complete).
static napi_value hash_small_files(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  uint32_t count = 0, limit = 0;
  napi_valuetype type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_array_length(env, argv[0], &count) != napi_ok || napi_get_value_uint32(env, argv[1], &limit) != napi_ok ||
      napi_typeof(env, argv[2], &type) != napi_ok || type != napi_function || limit > 64 * 1024 * 1024) {
    napi_throw_type_error(env, NULL, "hashSmallFiles(paths, limit, callback) needs an array of strings, a size and a function");
    return NULL;
  }
  batch_t *b = calloc(1, sizeof *b);
  if (b == NULL) goto oom;
  b->limit = limit;
  b->paths = calloc(count ? count : 1, sizeof *b->paths);
  b->digests = calloc(count ? count : 1, DIGEST_BYTES);
  b->table = calloc(count ? count : 1, FIELDS * sizeof(double));
  if (b->paths == NULL || b->digests == NULL || b->table == NULL) goto oom;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    size_t len = 0;
    if (napi_get_element(env, argv[0], i, &item) != napi_ok || napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok) {
      free_batch(env, b);
      napi_throw_type_error(env, NULL, "hashSmallFiles: every path must be a string");
      return NULL;
    }
    b->count = i + 1;
    if ((b->paths[i] = malloc(len + 1)) == NULL) goto oom;
    napi_get_value_string_utf8(env, item, b->paths[i], len + 1, &len);
    // A NUL inside the string would open a shorter path; node:fs refuses such a path too.
    if (strlen(b->paths[i]) != len) {
      free_batch(env, b);
      napi_throw_type_error(env, NULL, "hashSmallFiles: a path holds a NUL byte");
      return NULL;
    }
  }
  b->count = count;
  if (!queue_call(env, &b->call, argv[2], "leafsync.hashSmallFiles", execute, complete, b)) {
    free_batch(env, b);
    napi_throw_error(env, NULL, "hashSmallFiles: could not queue the work");
    return NULL;
  }
  return NULL;
oom:
  if (b != NULL) free_batch(env, b);
  napi_throw_error(env, NULL, "hashSmallFiles: out of memory");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "hashSmallFiles", NULL, hash_small_files, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 1, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
