// flock(2) for src/engine/folder-lock.ts. Node has no file locks of its own, and a lock file that
// goes stale by age would keep a restarted session out for seconds after a crash; the kernel
// drops a flock the moment its holder dies, however it died.
#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <node_api.h>

// tryLockExclusive(fd): true if this descriptor now holds an exclusive lock, false if another
// open file description holds one (in this process or another); throws on anything else.
static napi_value try_lock_exclusive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "tryLockExclusive(fd) needs a file descriptor");
    return NULL;
  }
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EWOULDBLOCK) {
    napi_throw_error(env, "ELOCK", strerror(errno));
    return NULL;
  }
  napi_get_boolean(env, rc == 0, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "tryLockExclusive", NULL, try_lock_exclusive, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 1, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
