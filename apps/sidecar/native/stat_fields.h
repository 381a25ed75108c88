// How the addons that stat files report what they saw to JavaScript (fs_stat.c, fs_hash.c), so
// src/fs reads every one the same way.
#ifndef LEAFSYNC_STAT_FIELDS_H
#define LEAFSYNC_STAT_FIELDS_H
#include <time.h>

// What a path is: missing (ENOENT, or a parent is not a directory), a regular file, a directory,
// or anything else (a symlink, which is never followed, or a special file).
enum { KIND_MISSING = 0, KIND_FILE = 1, KIND_DIR = 2, KIND_OTHER = 3 };

// Milliseconds as Node computes Stats#mtimeMs (sec * 1e3 + nsec / 1e6), so the numbers are equal
// to node:fs's for the same file.
static inline double ms_of(struct timespec t) {
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

#endif
