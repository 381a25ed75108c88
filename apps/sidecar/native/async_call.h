// A JavaScript callback called once, on the main thread, when work queued on libuv's thread pool
// is done: what the addons that work off the main thread share (fs_hash.c, fs_stat.c).
#ifndef LEAFSYNC_ASYNC_CALL_H
#define LEAFSYNC_ASYNC_CALL_H
#include <node_api.h>

typedef struct {
  napi_async_work work;
  napi_ref callback;
} async_call_t;

// Queues execute (on a pool thread) then complete (on the main thread) with data; complete must
// end with finish_call. Returns 0 if it could not be queued; release_call then frees what was made.
static inline int queue_call(napi_env env, async_call_t *c, napi_value callback, const char *name,
                             napi_async_execute_callback execute, napi_async_complete_callback complete, void *data) {
  napi_value resource_name;
  return napi_create_reference(env, callback, 1, &c->callback) == napi_ok &&
         napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) == napi_ok &&
         napi_create_async_work(env, NULL, resource_name, execute, complete, data, &c->work) == napi_ok &&
         napi_queue_async_work(env, c->work) == napi_ok;
}

static inline void release_call(napi_env env, async_call_t *c) {
  if (c->callback != NULL) napi_delete_reference(env, c->callback);
  if (c->work != NULL) napi_delete_async_work(env, c->work);
  c->callback = NULL;
  c->work = NULL;
}

// Calls the callback with argv (none: the work's results could not be made), then releases the call.
static inline void finish_call(napi_env env, async_call_t *c, size_t argc, napi_value *argv) {
  napi_value callback, global;
  if (napi_get_reference_value(env, c->callback, &callback) == napi_ok && napi_get_global(env, &global) == napi_ok) {
    napi_call_function(env, global, callback, argc, argv, NULL);
  }
  release_call(env, c);
}

#endif
