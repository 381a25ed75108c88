// lstat(2) of many paths in one call, for the folder scan (src/fs/lstat-many.ts); and a whole
// folder walked on the thread pool for a cheap pass's digest (walkPlain, further down).
//
// Why: node:fs's lstatSync builds a Stats object and four Dates for every call. The 10,110 lstats
// of bench W2's tree took 35-49 ms that way and 14-23 ms through this (find(1) walks the tree in
// ~10 ms); in a new `connect --once` process over an unchanged folder (bench W5, ~0.3 s in all)
// that scan is on the critical path. Here each path costs its system call and six numbers in one
// Float64Array.
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include "async_call.h"
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

// walkPlain: the listing a scan would make of a folder, walked on the thread pool, for the quick
// check that a folder is as the last pass left it (src/fs/walk-plain.ts).
//
// Why: in a new `connect --once` over an unchanged folder (bench W5, ~0.35 s in all), the scan's
// walk ran on the main thread after start-up and was the critical path: 60-90 ms for 10,110
// entries, two thirds of it JavaScript around the system calls. Only its digest is needed when
// nothing changed. Here the walk, the filtering and the sort run on a pool thread while the main
// thread does the handshake, and JavaScript hashes the two buffers it gets back.
//
// It handles only what needs no judgement: names of printable ASCII (valid everywhere and already
// NFC), regular files and directories. Anything else (another name, an unreadable directory, a
// file gone mid-walk, the rules file or an interrupted in-place update that a scan would act on)
// makes it give up, and the caller scans as before.

// Per entry, in this order (the same as the scan digest's): type (1 file, 0 directory), size,
// mtime in whole ms, ctime in ms, inode, permission bits.
#define WALK_FIELDS 6
#define NAME_MAX_BYTES 255

typedef struct {
  size_t path_at;
  double numbers[WALK_FIELDS];
} walk_entry_t;

typedef struct {
  async_call_t call;
  char *root;
  // Names never scanned, lower-case (compared case-insensitively), and a suffix that makes any name internal.
  char **internal_names;
  uint32_t internal_count;
  char *internal_suffix;
  // Root names whose presence means a scan would do more than list: the rules file, the staging directory.
  char *rules_file;
  char *staging_dir;
  char *journal_suffix;
  uint32_t max_entries;
  // What the walk found: every entry's path, NUL-terminated, in one arena.
  char *arena;
  size_t arena_len, arena_cap;
  walk_entry_t *entries;
  size_t count, cap;
  int plain;
} walk_t;

static int is_plain_name(const char *name, size_t len) {
  if (len == 0 || len > NAME_MAX_BYTES) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c < 0x20 || c > 0x7e || c == '\\') return 0;
  }
  return 1;
}

static int ends_with_ci(const char *s, size_t len, const char *suffix) {
  size_t n = strlen(suffix);
  return n <= len && strcasecmp(s + len - n, suffix) == 0;
}

static int is_internal(const walk_t *w, const char *name, size_t len) {
  for (uint32_t i = 0; i < w->internal_count; i++) {
    if (strcasecmp(name, w->internal_names[i]) == 0) return 1;
  }
  return ends_with_ci(name, len, w->internal_suffix);
}

// Whether the staging directory (an open fd) holds the journal of an in-place update a scan would undo.
static int holds_journal(const walk_t *w, int dirfd) {
  DIR *d = fdopendir(dirfd);
  if (d == NULL) {
    close(dirfd);
    return 1;
  }
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d)) != NULL) found = ends_with_ci(e->d_name, strlen(e->d_name), w->journal_suffix);
  closedir(d);
  return found;
}

// Appends the arena's string at rel_at + "/" + name (just name when rel_at < 0) to the arena;
// returns its offset or -1. Offsets, not pointers: growing the arena moves it.
static ssize_t arena_add(walk_t *w, ssize_t rel_at, const char *name, size_t len) {
  size_t rel_len = rel_at < 0 ? 0 : strlen(w->arena + rel_at);
  size_t need = rel_len + (rel_len ? 1 : 0) + len + 1;
  if (w->arena_len + need > w->arena_cap) {
    size_t cap = w->arena_cap ? w->arena_cap : 1 << 16;
    while (cap < w->arena_len + need) cap *= 2;
    char *grown = realloc(w->arena, cap);
    if (grown == NULL) return -1;
    w->arena = grown;
    w->arena_cap = cap;
  }
  size_t at = w->arena_len;
  char *p = w->arena + at;
  if (rel_len) {
    memcpy(p, w->arena + rel_at, rel_len);
    p[rel_len] = '/';
    p += rel_len + 1;
  }
  memcpy(p, name, len);
  p[len] = '\0';
  w->arena_len += need;
  return (ssize_t)at;
}

// Lists the directory open as dirfd (closed here), whose path below the root is the arena's
// string at rel_at (or the root itself when is_root); clears w->plain on anything it cannot handle.
static void walk_dir(walk_t *w, int dirfd, ssize_t rel_at, int is_root) {
  DIR *d = fdopendir(dirfd);
  if (d == NULL) {
    close(dirfd);
    w->plain = 0;
    return;
  }
  struct dirent *e;
  while (w->plain && (e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    size_t len = strlen(name);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    if (!is_plain_name(name, len)) {
      w->plain = 0;
      break;
    }
    // A scan refuses a first name that looks like a drive letter ("c:x"), and reads the rules file.
    if (is_root && ((len >= 2 && isalpha((unsigned char)name[0]) && name[1] == ':') || strcmp(name, w->rules_file) == 0)) {
      w->plain = 0;
      break;
    }
    if (is_root && strcmp(name, w->staging_dir) == 0) {
      // Followed if a symlink, as the scan's recovery reads it; not a directory holds no journal.
      int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0 ? holds_journal(w, fd) : errno != ENOTDIR) {
        w->plain = 0;
        break;
      }
    }
    if (is_internal(w, name, len)) continue;
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      w->plain = 0;
      break;
    }
    int is_file = S_ISREG(st.st_mode), is_dir = S_ISDIR(st.st_mode);
    if (!is_file && !is_dir) continue; // symlinks and specials are never synced
    if (w->count == w->max_entries) {
      w->plain = 0;
      break;
    }
    if (w->count == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 1024;
      walk_entry_t *grown = realloc(w->entries, cap * sizeof *grown);
      if (grown == NULL) {
        w->plain = 0;
        break;
      }
      w->entries = grown;
      w->cap = cap;
    }
    ssize_t at = arena_add(w, rel_at, name, len);
    if (at < 0) {
      w->plain = 0;
      break;
    }
    walk_entry_t *entry = &w->entries[w->count++];
    entry->path_at = (size_t)at;
    double *n = entry->numbers;
    n[0] = is_file ? 1 : 0;
    n[1] = is_file ? (double)st.st_size : 0;
    n[2] = floor(ms_of(st.st_mtim));
    n[3] = ms_of(st.st_ctim);
    n[4] = (double)st.st_ino;
    n[5] = (double)(st.st_mode & 0777);
    if (is_dir) {
      int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        w->plain = 0;
        break;
      }
      walk_dir(w, fd, at, 0);
    }
  }
  closedir(d);
}

// The scan's order: by UTF-8 bytes, which strcmp gives for these names.
static int by_path(const void *a, const void *b, void *arena) {
  return strcmp((const char *)arena + ((const walk_entry_t *)a)->path_at, (const char *)arena + ((const walk_entry_t *)b)->path_at);
}

static void walk_execute(napi_env env, void *data) {
  walk_t *w = data;
  w->plain = 1;
  int fd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    w->plain = 0;
    return;
  }
  walk_dir(w, fd, -1, 1);
  if (w->plain) qsort_r(w->entries, w->count, sizeof *w->entries, by_path, w->arena);
}

static void free_walk(napi_env env, walk_t *w) {
  for (uint32_t i = 0; i < w->internal_count; i++) free(w->internal_names[i]);
  free(w->internal_names);
  free(w->root);
  free(w->internal_suffix);
  free(w->rules_file);
  free(w->staging_dir);
  free(w->journal_suffix);
  free(w->arena);
  free(w->entries);
  release_call(env, &w->call);
  free(w);
}

// Calls back with (paths: Buffer, numbers: Float64Array): the sorted paths joined by NUL and each
// entry's numbers; or with nothing if the walk gave up or its results could not be made.
static void walk_complete(napi_env env, napi_status status, void *data) {
  walk_t *w = data;
  napi_value paths, buffer, numbers;
  napi_value argv[2];
  size_t argc = 0;
  size_t paths_len = 0;
  for (size_t i = 0; i < w->count; i++) paths_len += strlen(w->arena + w->entries[i].path_at) + (i ? 1 : 0);
  void *paths_data = NULL, *numbers_data = NULL;
  if (status == napi_ok && w->plain && napi_create_buffer(env, paths_len, &paths_data, &paths) == napi_ok &&
      napi_create_arraybuffer(env, w->count * WALK_FIELDS * sizeof(double), &numbers_data, &buffer) == napi_ok &&
      napi_create_typedarray(env, napi_float64_array, w->count * WALK_FIELDS, buffer, 0, &numbers) == napi_ok) {
    char *p = paths_data;
    double *n = numbers_data;
    for (size_t i = 0; i < w->count; i++, n += WALK_FIELDS) {
      const char *path = w->arena + w->entries[i].path_at;
      size_t len = strlen(path);
      if (i) *p++ = '\0';
      memcpy(p, path, len);
      p += len;
      memcpy(n, w->entries[i].numbers, sizeof w->entries[i].numbers);
    }
    argv[0] = paths;
    argv[1] = numbers;
    argc = 2;
  }
  finish_call(env, &w->call, argc, argv);
  free_walk(env, w);
}

// A copy of the string argument, or NULL (with *ok cleared) if it is not one or holds a NUL.
static char *string_arg(napi_env env, napi_value value, int *ok) {
  size_t len = 0;
  char *s = NULL;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) == napi_ok && (s = malloc(len + 1)) != NULL) {
    napi_get_value_string_utf8(env, value, s, len + 1, &len);
    if (strlen(s) == len) return s;
  }
  free(s);
  *ok = 0;
  return NULL;
}

// walkPlain(root, internalNames, internalSuffix, rulesFile, stagingDir, journalSuffix, maxEntries, callback)
static napi_value walk_plain(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_valuetype type;
  uint32_t count = 0;
  int ok = napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 8 &&
           napi_get_array_length(env, argv[1], &count) == napi_ok && napi_typeof(env, argv[7], &type) == napi_ok && type == napi_function;
  walk_t *w = ok ? calloc(1, sizeof *w) : NULL;
  if (w != NULL) {
    w->root = string_arg(env, argv[0], &ok);
    w->internal_suffix = string_arg(env, argv[2], &ok);
    w->rules_file = string_arg(env, argv[3], &ok);
    w->staging_dir = string_arg(env, argv[4], &ok);
    w->journal_suffix = string_arg(env, argv[5], &ok);
    ok = ok && napi_get_value_uint32(env, argv[6], &w->max_entries) == napi_ok;
    w->internal_names = calloc(count ? count : 1, sizeof *w->internal_names);
    ok = ok && w->internal_names != NULL;
    for (uint32_t i = 0; ok && i < count; i++) {
      napi_value item;
      ok = napi_get_element(env, argv[1], i, &item) == napi_ok;
      if (ok) w->internal_names[w->internal_count++] = string_arg(env, item, &ok);
    }
  }
  if (w == NULL || !ok || !queue_call(env, &w->call, argv[7], "leafsync.walkPlain", walk_execute, walk_complete, w)) {
    if (w != NULL) free_walk(env, w);
    napi_throw_type_error(env, NULL, "walkPlain(root, internalNames, internalSuffix, rulesFile, stagingDir, journalSuffix, maxEntries, callback) needs strings without NUL, a count and a function");
    return NULL;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "lstatMany", NULL, lstat_many, NULL, NULL, NULL, napi_default, NULL },
    { "walkPlain", NULL, walk_plain, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
