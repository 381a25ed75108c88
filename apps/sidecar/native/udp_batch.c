// A UDP socket for the QUIC transport that moves datagrams in batches (Linux only).
//
// Why: node:dgram makes one sendmsg and one JavaScript callback, with a new Buffer, per datagram;
// on W1 (1 GiB in 1350-byte datagrams) that was ~16 µs of the sender's ~35 µs per datagram
// (bench/README "The floor under W1"). Here one sendmmsg carries a whole flush, runs of equal-sized
// datagrams go as one UDP GSO message (the kernel cuts them), and the receive side reads with
// recvmmsg and UDP GRO into one preallocated buffer and calls JavaScript once per batch.
//
// Everything runs on Node's event loop thread: a uv_poll_t on the socket says when to read.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

// Messages per recvmmsg; each has room for one GRO super-datagram (up to 64 KiB).
#define RECV_MSGS 32
#define RECV_SLOT 65536
// Ints of metadata per received message, read by udp-native.ts: offset, length, segment size,
// port, family (4 or 6), then the address as 4 big-endian 32-bit words (IPv4: the first).
#define META_INTS 9
// Datagrams read per readable event before letting the event loop run timers and sends.
#define RECV_BUDGET 2048
// UDP GSO: at most 64 segments per message (older kernels' limit), and a payload under 64 KiB.
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000
// Datagrams one send call may carry (the transport's batches hold 64).
#define SEND_MAX 256
// Bytes kept to send later when the kernel's send buffer is full; beyond it datagrams are
// dropped, as a full network queue would, and QUIC's loss recovery resends them.
#define PENDING_MAX_BYTES (8 * 1024 * 1024)
#define SOCKET_BUFFER_BYTES (4 * 1024 * 1024)

typedef struct pending {
  struct pending *next;
  struct sockaddr_storage to;
  socklen_t to_len;
  size_t len;
  uint8_t data[];
} pending_t;

typedef struct {
  int fd;
  int family;
  int connected;
  int gso;
  int gro;
  int closed;
  // Inside the JavaScript callback: close() then leaves the release to read_datagrams.
  int dispatching;
  int release_pending;
  // The uv handle is closed, and the JavaScript handle was collected: the last of both frees.
  int handle_closed;
  int finalized;
  int events;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_batch;
  napi_ref recv_ref;
  napi_ref meta_ref;
  napi_async_context async_ctx;
  // close(endpoint, onClosed): called once the descriptor is closed (the port is free again).
  napi_ref on_closed;
  napi_async_context close_ctx;
  uint8_t *recv_data;
  int32_t *meta;
  pending_t *head;
  pending_t *tail;
  size_t pending_bytes;
  double dropped;
  // An errno the socket reported (ICMP unreachable on a connected socket), not yet told to JavaScript.
  int socket_error;
} endpoint_t;

static void release(endpoint_t *ep);

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "udp_batch: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, const char *syscall, int err, const char *host, int port) {
  char message[256];
  const char *code = NULL;
  switch (err) {
    case EADDRINUSE: code = "EADDRINUSE"; break;
    case EADDRNOTAVAIL: code = "EADDRNOTAVAIL"; break;
    case EACCES: code = "EACCES"; break;
    case EAFNOSUPPORT: code = "EAFNOSUPPORT"; break;
    case EINVAL: code = "EINVAL"; break;
    default: code = "EIO"; break;
  }
  // The same shape as Node's own socket errors: "bind EADDRINUSE 127.0.0.1:4444".
  if (host != NULL) snprintf(message, sizeof message, "%s %s %s:%d (%s)", syscall, code, host, port, strerror(err));
  else snprintf(message, sizeof message, "%s %s (%s)", syscall, code, strerror(err));
  napi_value msg, code_value, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_error(env, code_value, msg, &error);
  napi_throw(env, error);
  return NULL;
}

static int parse_address(int family, const char *host, int port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  if (family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    // An IPv4 destination on a dual-stack socket goes as an IPv4-mapped address.
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
      struct in_addr v4;
      if (inet_pton(AF_INET, host, &v4) != 1) return -1;
      a->sin6_addr.s6_addr[10] = 0xff;
      a->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&a->sin6_addr.s6_addr[12], &v4, 4);
    }
    *len = sizeof(struct sockaddr_in6);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return -1;
    *len = sizeof(struct sockaddr_in);
  }
  return 0;
}

static char *get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok) return NULL;
  return buf;
}

static void write_meta(int32_t *m, uint32_t offset, uint32_t len, uint32_t seg, const struct sockaddr_storage *from) {
  m[0] = (int32_t)offset;
  m[1] = (int32_t)len;
  m[2] = (int32_t)seg;
  if (from->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
    m[3] = ntohs(a->sin6_port);
    m[4] = 6;
    memcpy(&m[5], &a->sin6_addr, 16);
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    m[3] = ntohs(a->sin_port);
    m[4] = 4;
    memcpy(&m[5], &a->sin_addr, 4);
    m[6] = m[7] = m[8] = 0;
  }
}

static void call_on_batch(endpoint_t *ep, int count) {
  napi_env env = ep->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  napi_get_reference_value(env, ep->on_batch, &fn);
  // make_callback needs an object as `this` (undefined throws); onBatch is an arrow function.
  napi_get_global(env, &recv);
  napi_create_int32(env, count, &argv[0]);
  // make_callback, not call_function: it runs queued microtasks and nextTicks afterwards, as a
  // callback from Node's own I/O does.
  napi_status status = napi_make_callback(env, ep->async_ctx, recv, fn, 1, argv, &result);
  if (status == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

// Tells JavaScript of a socket error as a batch of -errno datagrams, after the datagrams that
// arrived before it, so a CONNECTION_CLOSE already waiting is read before the error is heard.
static void report_socket_error(endpoint_t *ep) {
  int err = ep->socket_error;
  ep->socket_error = 0;
  if (err == 0 || ep->closed) return;
  ep->dispatching = 1;
  call_on_batch(ep, -err);
  ep->dispatching = 0;
  if (ep->release_pending) release(ep);
}

static void read_datagrams(endpoint_t *ep) {
  struct mmsghdr msgs[RECV_MSGS];
  struct iovec iovs[RECV_MSGS];
  struct sockaddr_storage from[RECV_MSGS];
  char control[RECV_MSGS][CMSG_SPACE(sizeof(int))];
  int total = 0;
  int errors = 0;
  while (total < RECV_BUDGET && !ep->closed) {
    for (int i = 0; i < RECV_MSGS; i++) {
      iovs[i].iov_base = ep->recv_data + (size_t)i * RECV_SLOT;
      iovs[i].iov_len = RECV_SLOT;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_control = control[i];
      msgs[i].msg_hdr.msg_controllen = sizeof control[i];
    }
    int n = recvmmsg(ep->fd, msgs, RECV_MSGS, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      // A connected socket reports an ICMP error (port unreachable) once: it is passed on after the
      // datagrams (report_socket_error) as a hint for the connection. Anything else: stop for this event.
      if ((errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) && ++errors < 8) {
        ep->socket_error = errno;
        continue;
      }
      return;
    }
    if (n == 0) return;
    for (int i = 0; i < n; i++) {
      uint32_t len = msgs[i].msg_len;
      uint32_t seg = len;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != NULL; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int s;
          memcpy(&s, CMSG_DATA(c), sizeof s);
          if (s > 0) seg = (uint32_t)s;
        }
      }
      write_meta(ep->meta + i * META_INTS, (uint32_t)i * RECV_SLOT, len, seg, &from[i]);
      total += seg > 0 ? (int)((len + seg - 1) / seg) : 1;
    }
    ep->dispatching = 1;
    call_on_batch(ep, n);
    ep->dispatching = 0;
    if (ep->release_pending) {
      release(ep);
      return;
    }
    if (n < RECV_MSGS) return;
  }
}

static void update_poll(endpoint_t *ep);

static void flush_pending(endpoint_t *ep) {
  while (ep->head != NULL) {
    pending_t *p = ep->head;
    ssize_t r = sendto(ep->fd, p->data, p->len, MSG_DONTWAIT, ep->connected ? NULL : (struct sockaddr *)&p->to, ep->connected ? 0 : p->to_len);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r < 0 && errno == EINTR) continue;
    ep->head = p->next;
    if (ep->head == NULL) ep->tail = NULL;
    ep->pending_bytes -= p->len;
    free(p);
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  endpoint_t *ep = handle->data;
  if (ep->closed) return;
  if (status < 0) {
    // libuv reports a socket error (POLLERR) this way and stops watching the socket for good. On
    // a UDP socket the error is an ICMP report such as port unreachable (a connected client's
    // peer restarting, or a server that closed its socket right after its CONNECTION_CLOSE);
    // stopping there left the socket unread forever, datagrams already waiting included, until
    // the connection's idle timeout. Take the error off the socket, watch again, and read.
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(ep->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) ep->socket_error = err;
    ep->events = 0;
    update_poll(ep);
    read_datagrams(ep);
    report_socket_error(ep);
    return;
  }
  if (events & UV_WRITABLE) {
    flush_pending(ep);
    update_poll(ep);
  }
  if (events & UV_READABLE) {
    read_datagrams(ep);
    report_socket_error(ep);
  }
}

static void update_poll(endpoint_t *ep) {
  if (ep->closed) return;
  int want = UV_READABLE | (ep->head != NULL ? UV_WRITABLE : 0);
  if (want != ep->events) {
    ep->events = want;
    uv_poll_start(&ep->poll, want, on_poll);
  }
}

static void queue_datagram(endpoint_t *ep, const uint8_t *data, size_t len, const struct sockaddr_storage *to, socklen_t to_len) {
  if (ep->pending_bytes + len > PENDING_MAX_BYTES) {
    ep->dropped++;
    return;
  }
  pending_t *p = malloc(sizeof *p + len);
  if (p == NULL) {
    ep->dropped++;
    return;
  }
  p->next = NULL;
  memcpy(p->data, data, len);
  p->len = len;
  if (to != NULL) memcpy(&p->to, to, sizeof *to);
  p->to_len = to_len;
  if (ep->tail) ep->tail->next = p;
  else ep->head = p;
  ep->tail = p;
  ep->pending_bytes += len;
}

// A message is one datagram, or with GSO a run of datagrams of one size (the last may be shorter).
typedef struct {
  int first;
  int count;
  uint32_t seg;
} group_t;

static int plan_groups(const uint32_t *lengths, int count, int gso, group_t *groups) {
  int n = 0;
  for (int i = 0; i < count;) {
    group_t g = { i, 1, lengths[i] };
    uint32_t bytes = lengths[i];
    if (gso) {
      while (i + g.count < count && g.count < GSO_MAX_SEGMENTS) {
        uint32_t next = lengths[i + g.count];
        if (next > g.seg || bytes + next > GSO_MAX_BYTES) break;
        g.count++;
        bytes += next;
        if (next < g.seg) break;
      }
    }
    groups[n++] = g;
    i += g.count;
  }
  return n;
}

// Reads a call's arguments; argv[0] must be an endpoint from open(). NULL (exception pending) if not.
static endpoint_t *endpoint_arg(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  endpoint_t *ep = NULL;
  if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok || *argc < 1 || napi_get_value_external(env, argv[0], (void **)&ep) != napi_ok) {
    napi_throw_type_error(env, NULL, "udp_batch: expected an endpoint from open()");
    return NULL;
  }
  return ep;
}

// send(endpoint, buf, slotSize, lengths: Uint32Array, count, host?: string, port?: number)
static napi_value ep_send(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  endpoint_t *ep = endpoint_arg(env, info, &argc, argv);
  if (ep == NULL || ep->closed) return NULL;
  uint8_t *buf;
  size_t buf_len;
  CHECK(napi_get_buffer_info(env, argv[1], (void **)&buf, &buf_len));
  uint32_t slot;
  CHECK(napi_get_value_uint32(env, argv[2], &slot));
  napi_typedarray_type type;
  size_t lengths_len;
  void *lengths_data;
  CHECK(napi_get_typedarray_info(env, argv[3], &type, &lengths_len, &lengths_data, NULL, NULL));
  uint32_t count;
  CHECK(napi_get_value_uint32(env, argv[4], &count));
  if (type != napi_uint32_array || count > lengths_len || count > SEND_MAX || (size_t)count * slot > buf_len) {
    napi_throw_range_error(env, NULL, "udp_batch: send arguments out of range");
    return NULL;
  }
  const uint32_t *lengths = lengths_data;
  for (uint32_t i = 0; i < count; i++) {
    if (lengths[i] == 0 || lengths[i] > slot) {
      napi_throw_range_error(env, NULL, "udp_batch: a datagram is longer than its slot");
      return NULL;
    }
  }
  struct sockaddr_storage to;
  socklen_t to_len = 0;
  napi_valuetype host_type = napi_undefined;
  if (argc > 5) napi_typeof(env, argv[5], &host_type);
  if (host_type == napi_string) {
    char host[64];
    int32_t port;
    if (get_string(env, argv[5], host, sizeof host) == NULL || napi_get_value_int32(env, argv[6], &port) != napi_ok ||
        parse_address(ep->family, host, port, &to, &to_len) != 0) {
      napi_throw_type_error(env, NULL, "udp_batch: send needs an IP literal and a port");
      return NULL;
    }
  } else if (!ep->connected) {
    napi_throw_type_error(env, NULL, "udp_batch: an unconnected socket needs an address to send to");
    return NULL;
  }
  // Something already waits for the socket: keep the order.
  if (ep->head != NULL) {
    for (uint32_t i = 0; i < count; i++) queue_datagram(ep, buf + (size_t)i * slot, lengths[i], to_len ? &to : NULL, to_len);
    update_poll(ep);
    return NULL;
  }

  group_t groups[SEND_MAX];
  struct mmsghdr msgs[SEND_MAX];
  struct iovec iovs[SEND_MAX];
  char control[SEND_MAX][CMSG_SPACE(sizeof(uint16_t))];
  int ngroups;
  int done = 0;
retry:
  ngroups = plan_groups(lengths, (int)count, ep->gso, groups);
  for (int g = 0; g < ngroups; g++) {
    struct msghdr *h = &msgs[g].msg_hdr;
    memset(h, 0, sizeof *h);
    for (int k = 0; k < groups[g].count; k++) {
      int d = groups[g].first + k;
      iovs[d].iov_base = buf + (size_t)d * slot;
      iovs[d].iov_len = lengths[d];
    }
    h->msg_iov = &iovs[groups[g].first];
    h->msg_iovlen = groups[g].count;
    if (to_len) {
      h->msg_name = &to;
      h->msg_namelen = to_len;
    }
    if (groups[g].count > 1) {
      h->msg_control = control[g];
      h->msg_controllen = sizeof control[g];
      struct cmsghdr *c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = (uint16_t)groups[g].seg;
      memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
  }
  while (done < ngroups) {
    int r = sendmmsg(ep->fd, &msgs[done], (unsigned)(ngroups - done), MSG_DONTWAIT);
    if (r > 0) {
      done += r;
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      for (int g = done; g < ngroups; g++) {
        for (int k = 0; k < groups[g].count; k++) {
          int d = groups[g].first + k;
          queue_datagram(ep, buf + (size_t)d * slot, lengths[d], to_len ? &to : NULL, to_len);
        }
      }
      update_poll(ep);
      return NULL;
    }
    // GSO refused by this path (no checksum offload, an old kernel): send one by one from now on.
    if (ep->gso && (err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP) && groups[done].count > 1) {
      ep->gso = 0;
      // Re-plan only what is left: shift the arrays so lengths[first of group done] is index 0.
      int first = groups[done].first;
      buf += (size_t)first * slot;
      lengths += first;
      count -= (uint32_t)first;
      done = 0;
      goto retry;
    }
    // Any other error belongs to that message alone (unreachable, too big): UDP drops it.
    ep->dropped += groups[done].count;
    done++;
  }
  return NULL;
}

static void call_on_closed(endpoint_t *ep) {
  napi_env env = ep->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value fn, recv, result;
    napi_get_reference_value(env, ep->on_closed, &fn);
    napi_get_global(env, &recv);
    // make_callback, as call_on_batch: the promise it settles goes on at once.
    if (napi_make_callback(env, ep->close_ctx, recv, fn, 0, NULL, &result) == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    napi_close_handle_scope(env, scope);
  }
  napi_delete_reference(env, ep->on_closed);
  napi_async_destroy(env, ep->close_ctx);
  ep->on_closed = NULL;
}

static void on_closed(uv_handle_t *handle) {
  endpoint_t *ep = handle->data;
  close(ep->fd);
  while (ep->head) {
    pending_t *p = ep->head;
    ep->head = p->next;
    free(p);
  }
  if (ep->on_closed != NULL) call_on_closed(ep);
  ep->handle_closed = 1;
  if (ep->finalized) free(ep);
}

// Drops what keeps JavaScript objects alive and closes the socket once libuv lets go of it.
static void release(endpoint_t *ep) {
  ep->release_pending = 0;
  napi_delete_reference(ep->env, ep->on_batch);
  napi_delete_reference(ep->env, ep->recv_ref);
  napi_delete_reference(ep->env, ep->meta_ref);
  napi_async_destroy(ep->env, ep->async_ctx);
  uv_close((uv_handle_t *)&ep->poll, on_closed);
}

static void close_endpoint(endpoint_t *ep) {
  if (ep->closed) return;
  // Whatever still waits for the socket gets one last try: a CONNECTION_CLOSE is often in it.
  flush_pending(ep);
  ep->closed = 1;
  uv_poll_stop(&ep->poll);
  if (ep->dispatching) ep->release_pending = 1;
  else release(ep);
}

// The JavaScript handle was collected. That happens only after close: until then the reference to
// the callback (which holds the handle) keeps it alive. So stats() or send() after close are safe.
static void finalize(napi_env env, void *data, void *hint) {
  endpoint_t *ep = data;
  ep->finalized = 1;
  if (ep->handle_closed) free(ep);
}

// close(endpoint, onClosed) -> true if onClosed will be called (false: already closed)
static napi_value ep_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  endpoint_t *ep = endpoint_arg(env, info, &argc, argv);
  if (ep == NULL) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &type);
  int will_call = !ep->closed && type == napi_function;
  if (will_call) {
    napi_value name;
    CHECK(napi_create_string_utf8(env, "udp_batch.close", NAPI_AUTO_LENGTH, &name));
    CHECK(napi_async_init(env, NULL, name, &ep->close_ctx));
    CHECK(napi_create_reference(env, argv[1], 1, &ep->on_closed));
  }
  close_endpoint(ep);
  CHECK(napi_get_boolean(env, will_call, &out));
  return out;
}

// stats(endpoint) -> [dropped, gso, gro]
static napi_value ep_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  endpoint_t *ep = endpoint_arg(env, info, &argc, argv);
  if (ep == NULL) return NULL;
  CHECK(napi_create_array_with_length(env, 3, &out));
  napi_create_double(env, ep->dropped, &v);
  napi_set_element(env, out, 0, v);
  napi_get_boolean(env, ep->gso, &v);
  napi_set_element(env, out, 1, v);
  napi_get_boolean(env, ep->gro, &v);
  napi_set_element(env, out, 2, v);
  return out;
}

// open(ipv6: boolean, host: string, port: number, onBatch: (count) => void, connectHost?: string, connectPort?: number)
//   -> [endpoint, recvBuffer, meta: Int32Array, localHost, localPort]
static napi_value ep_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool ipv6;
  char host[64], peer[64];
  int32_t port, peer_port = 0;
  CHECK(napi_get_value_bool(env, argv[0], &ipv6));
  if (get_string(env, argv[1], host, sizeof host) == NULL || napi_get_value_int32(env, argv[2], &port) != napi_ok) {
    napi_throw_type_error(env, NULL, "udp_batch: open needs an IP literal and a port");
    return NULL;
  }
  napi_valuetype peer_type = napi_undefined;
  if (argc > 4) napi_typeof(env, argv[4], &peer_type);
  int connect_to = peer_type == napi_string;
  if (connect_to && (get_string(env, argv[4], peer, sizeof peer) == NULL || napi_get_value_int32(env, argv[5], &peer_port) != napi_ok)) {
    napi_throw_type_error(env, NULL, "udp_batch: connect needs an IP literal and a port");
    return NULL;
  }
  int family = ipv6 ? AF_INET6 : AF_INET;
  struct sockaddr_storage addr, peer_addr;
  socklen_t addr_len, peer_len;
  if (parse_address(family, host, port, &addr, &addr_len) != 0 || (connect_to && parse_address(family, peer, peer_port, &peer_addr, &peer_len) != 0)) {
    napi_throw_type_error(env, NULL, "udp_batch: not an IP literal of the socket's family");
    return NULL;
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno, NULL, 0);
  int size = SOCKET_BUFFER_BYTES;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err, host, port);
  }
  if (connect_to && connect(fd, (struct sockaddr *)&peer_addr, peer_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "connect", err, peer, peer_port);
  }
  int on = 1;
  int gro = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;

  endpoint_t *ep = calloc(1, sizeof *ep);
  if (ep == NULL) {
    close(fd);
    napi_throw_error(env, NULL, "udp_batch: out of memory");
    return NULL;
  }
  ep->fd = fd;
  ep->family = family;
  ep->connected = connect_to;
  ep->gso = 1;
  ep->gro = gro;
  ep->env = env;
  napi_value recv_buf, meta_ab, meta, resource_name, endpoint, out, v;
  void *meta_data;
  if (napi_create_buffer(env, (size_t)RECV_MSGS * RECV_SLOT, (void **)&ep->recv_data, &recv_buf) != napi_ok ||
      napi_create_arraybuffer(env, RECV_MSGS * META_INTS * sizeof(int32_t), &meta_data, &meta_ab) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, RECV_MSGS * META_INTS, meta_ab, 0, &meta) != napi_ok) {
    close(fd);
    free(ep);
    napi_throw_error(env, NULL, "udp_batch: cannot allocate receive buffers");
    return NULL;
  }
  ep->meta = meta_data;
  CHECK(napi_create_reference(env, argv[3], 1, &ep->on_batch));
  CHECK(napi_create_reference(env, recv_buf, 1, &ep->recv_ref));
  CHECK(napi_create_reference(env, meta, 1, &ep->meta_ref));
  CHECK(napi_create_string_utf8(env, "leafsync:udp", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &ep->async_ctx));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &ep->poll, fd);
  ep->poll.data = ep;
  update_poll(ep);

  struct sockaddr_storage local;
  socklen_t local_len = sizeof local;
  getsockname(fd, (struct sockaddr *)&local, &local_len);
  char local_host[INET6_ADDRSTRLEN];
  int local_port;
  if (local.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&local;
    inet_ntop(AF_INET6, &a->sin6_addr, local_host, sizeof local_host);
    local_port = ntohs(a->sin6_port);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&local;
    inet_ntop(AF_INET, &a->sin_addr, local_host, sizeof local_host);
    local_port = ntohs(a->sin_port);
  }
  CHECK(napi_create_external(env, ep, finalize, NULL, &endpoint));
  CHECK(napi_create_array_with_length(env, 5, &out));
  napi_set_element(env, out, 0, endpoint);
  napi_set_element(env, out, 1, recv_buf);
  napi_set_element(env, out, 2, meta);
  napi_create_string_utf8(env, local_host, NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, out, 3, v);
  napi_create_int32(env, local_port, &v);
  napi_set_element(env, out, 4, v);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "open", NULL, ep_open, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, ep_send, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, ep_close, NULL, NULL, NULL, napi_default, NULL },
    { "stats", NULL, ep_stats, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_value constants, v;
  napi_create_object(env, &constants);
  napi_create_int32(env, META_INTS, &v);
  napi_set_named_property(env, constants, "META_INTS", v);
  napi_set_named_property(env, exports, "constants", constants);
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
