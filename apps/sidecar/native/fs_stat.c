// lstat(2) of many paths in one call, for the folder scan (src/fs/lstat-many.ts).
//
// Why: node:fs's lstatSync builds a Stats object and four Dates for every call. The 10,110 lstats
// of bench W2's tree took 35-49 ms that way and 14-23 ms through this (find(1) walks the tree in
// ~10 ms); in a new `connect --once` process over an unchanged folder (bench W5, ~0.3 s in all)
// that scan is on the critical path. Here each path costs its system call and six numbers in one
// Float64Array.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <node_api.h>
#include "stat_fields.h"

// Per path, in this order (src/fs/lstat-many.ts reads them): kind, mode, size, mtimeMs, ctimeMs, ino.
#define FIELDS 6

// lstatMany(prefix, paths, start, end): a Float64Array of FIELDS numbers for each of
// paths[start..end), each stat'ed as prefix + path. Kind is KIND_MISSING for a path that does not
// exist (ENOENT, or ENOTDIR: a parent is not a directory), -errno for any other failure.
static napi_value lstat_many(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t start = 0, end = 0, length = 0;
  char path[PATH_MAX];
  size_t prefix_len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &prefix_len) != napi_ok ||
      napi_get_array_length(env, argv[1], &length) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &start) != napi_ok || napi_get_value_uint32(env, argv[3], &end) != napi_ok ||
      start > end || end > length) {
    napi_throw_type_error(env, NULL, "lstatMany(prefix, paths, start, end) needs a string, an array of strings and a range inside it");
    return NULL;
  }
  size_t count = end - start;
  void *data = NULL;
  napi_value buffer, result;
  if (napi_create_arraybuffer(env, count * FIELDS * sizeof(double), &data, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, count * FIELDS, buffer, 0, &result) != napi_ok) {
    napi_throw_error(env, NULL, "lstatMany: out of memory");
    return NULL;
  }
  double *out = data;
  for (size_t i = 0; i < count; i++, out += FIELDS) {
    napi_value item;
    size_t len = 0;
    // A path too long for PATH_MAX is reported as lstat would: ENAMETOOLONG.
    if (napi_get_element(env, argv[1], (uint32_t)(start + i), &item) != napi_ok ||
        napi_get_value_string_utf8(env, item, path + prefix_len, sizeof path - prefix_len, &len) != napi_ok) {
      napi_throw_type_error(env, NULL, "lstatMany: every path must be a string");
      return NULL;
    }
    struct stat st;
    int err = 0;
    if (prefix_len + len + 1 >= sizeof path) err = ENAMETOOLONG;
    // A NUL inside the string would stat a shorter path; node:fs refuses such a path (EINVAL here).
    else if (strlen(path + prefix_len) != len) err = EINVAL;
    else if (lstat(path, &st) != 0) err = errno;
    memset(out, 0, FIELDS * sizeof(double));
    if (err != 0) {
      out[0] = err == ENOENT || err == ENOTDIR ? KIND_MISSING : -(double)err;
      continue;
    }
    out[0] = S_ISREG(st.st_mode) ? KIND_FILE : S_ISDIR(st.st_mode) ? KIND_DIR : KIND_OTHER;
    out[1] = (double)st.st_mode;
    out[2] = (double)st.st_size;
    out[3] = ms_of(st.st_mtim);
    out[4] = ms_of(st.st_ctim);
    out[5] = (double)st.st_ino;
  }
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "lstatMany", NULL, lstat_many, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 1, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
