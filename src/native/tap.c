/*
 * tap.c - the TAP binding of tapstack: a small N-API addon in plain C.
 *
 * It opens a Linux TAP device (layer 2: whole Ethernet frames), waits for it with
 * libuv (uv_poll on the non-blocking file descriptor, on the main thread), and on
 * each wake-up reads every frame that is ready and hands them to JavaScript in ONE
 * call, as an array of Uint8Arrays (views into chunks, see "chunk pool"). Writes go
 * straight to the device from the calling thread: one frame, or a batch of frames in
 * one call into C.
 *
 * Why this shape (and not fs streams on the libuv thread pool): see
 * native-notes/README.md.
 *
 * JavaScript API (wrapped by src/link/tap.ts for the stack; the benchmark and the
 * link tests also call openFd() and pool() directly):
 *   open(name, options?)     -> { handle, name, mac, offload, txqueuelen }  throws
 *                            Error with .code; options: { offload: boolean,
 *                            txqueuelen: number } (see "offload" and "queue length")
 *   openFd(name, blocking)   -> { fd, name }  a bare fd, for the benchmark only
 *   start(handle, callback)  callback(frames: Uint8Array[]) per wake-up,
 *                            or callback(null, error) once if the device fails
 *   write(handle, frame, vnetHeader?)      -> true if the kernel took it, false if dropped
 *   writeBatch(handle, arr, vnetHeaders?)  -> how many frames the kernel took
 *                            (the headers: 10 bytes per frame, offload devices only)
 *   stats(handle)            -> { rxFrames, rxBatches, rxErrors, rxDrops,
 *                                 txFrames, txDrops, txErrors, rxSuperFrames,
 *                                 rxChecksumsCompleted, rxBadVnetHeaders, txSuperFrames }
 *   ref(handle, bool)        keep (or do not keep) the event loop alive
 *   pool()                   -> { free, reused, allocated } chunks of the pool
 *   close(handle)            stop polling, close the fd; idempotent
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

/* A frame can be as long as the largest MTU the kernel allows (65535) plus the
 * Ethernet header; reading with a smaller buffer would silently truncate. */
#define TAP_READ_BUFFER 65600
/* At most this many frames per wake-up, so one busy device cannot starve the
 * event loop. libuv polls level-triggered: what is left wakes us again next turn.
 * 1024 frames of 1514 bytes are about 1.5 ms of reading; fewer, larger batches
 * mean fewer JS calls and fewer ACK flushes when the kernel sends fast. */
#define TAP_MAX_BATCH 1024
/* Room for a full batch of 1514-byte frames, plus one largest frame (a batch of
 * 64 KiB offload super-frames stops earlier, when the room is used up). */
#define TAP_SLAB (TAP_MAX_BATCH * 1536 + TAP_READ_BUFFER)
/* Frames reach JS in chunks of up to this size, several frames per chunk; chunks
 * of at least TAP_CHUNK_MIN bytes come from a pool (see "chunk pool"). 72 KiB so
 * that one largest frame (an offload super-frame) fits a pooled chunk too. */
#define TAP_CHUNK (72 * 1024)
#define TAP_CHUNK_MIN (16 * 1024)
/* Free chunks kept for reuse: 9 MiB at most. */
#define TAP_POOL_MAX 128
/* The kernel's transmit queue towards us (txqueuelen) for a device the binding
 * creates: 1000 frames by default for a TAP, which a busy reader overflowed (4.5%
 * of the frames lost in a soak). 4096 frames hold a few ms more of a fast sender;
 * memory is only used while frames wait. */
#define TAP_TXQUEUELEN 4096
/* struct virtio_net_hdr (without num_buffers): 10 bytes before every frame of an
 * offload device, in both directions. src/wire/virtio-net.ts is its codec in JS. */
#define VNET_HDR_LEN 10

typedef struct {
  int fd;                /* -1 once closed */
  int closed;
  char name[IFNAMSIZ];
  uv_poll_t *poll;       /* NULL until start(); freed by its close callback */
  napi_env env;
  napi_ref callback;     /* the JS receiver */
  napi_async_context async_context;
  uint8_t *scratch;      /* TAP_SLAB bytes: a wake-up's frames land here first */
  uint32_t ends[TAP_MAX_BATCH]; /* where each frame of the batch ends in scratch */
  int offload;           /* IFF_VNET_HDR + TUNSETOFFLOAD: see "offload" */
  uint64_t rx_frames, rx_batches, rx_errors, rx_drops;
  uint64_t tx_frames, tx_drops, tx_errors;
  uint64_t rx_super_frames, rx_csum_completed, rx_bad_vnet, tx_super_frames;
} tap_device;

/* ---------------------------------------------------------------- helpers */

#define NAPI_CALL(env, call)                                  \
  do {                                                        \
    if ((call) != napi_ok) {                                  \
      napi_throw_error((env), NULL, "tap: N-API call failed: " #call); \
      return NULL;                                            \
    }                                                         \
  } while (0)

static const char *errno_code(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EMFILE: return "EMFILE";
    case EBADFD: return "EBADFD";
    case EIO: return "EIO";
    default: return "EUNKNOWN";
  }
}

/* Turn an errno from opening the device into a message a user can act on. */
static void throw_open_error(napi_env env, const char *name, const char *step, int err) {
  char msg[512];
  if (err == EACCES && strcmp(step, "open /dev/net/tun") == 0) {
    snprintf(msg, sizeof msg,
             "tap %s: cannot open /dev/net/tun: permission denied (its file mode keeps this "
             "user out; most distributions make it 0666, or run as root)", name);
    napi_throw_error(env, errno_code(err), msg);
    return;
  }
  switch (err) {
    case EPERM:
    case EACCES:
      snprintf(msg, sizeof msg,
               "tap %s: %s: permission denied: needs CAP_NET_ADMIN (run as root, or create "
               "the device beforehand with `ip tuntap add dev %s mode tap user USER`)",
               name, step, name);
      break;
    case EBUSY:
      snprintf(msg, sizeof msg,
               "tap %s: device in use: another file descriptor already has it open "
               "(a TAP device without IFF_MULTI_QUEUE has one reader)", name);
      break;
    case ENOENT:
    case ENODEV:
      snprintf(msg, sizeof msg,
               "tap %s: /dev/net/tun is missing: the tun driver is not available "
               "(load it with `modprobe tun`, or give the container the device)", name);
      break;
    case EINVAL:
      snprintf(msg, sizeof msg,
               "tap %s: %s: invalid argument: the name exists as a different kind of "
               "device (a TUN device, or not a tun/tap device at all), or its flags differ",
               name, step);
      break;
    default:
      snprintf(msg, sizeof msg, "tap %s: %s: %s", name, step, strerror(err));
  }
  napi_throw_error(env, errno_code(err), msg);
}

/* Interface names: 1..15 bytes, no '/', ':' or whitespace (the kernel's
 * dev_valid_name rules; "%d" is allowed and lets the kernel pick a number). */
static int valid_ifname(const char *name, size_t len) {
  if (len == 0 || len >= IFNAMSIZ) return 0;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0') return 0;
  }
  return 1;
}

static tap_device *get_device(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "tap: expected a device handle");
    return NULL;
  }
  return (tap_device *)data;
}

/* The arguments of a call that takes a device handle first: fills argv[0..argc-1]
 * (N-API passes `undefined` for missing ones, which every later check refuses) and
 * returns the device, or NULL with a JS exception pending. */
static tap_device *device_args(napi_env env, napi_callback_info info, size_t argc,
                               napi_value *argv) {
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "tap: N-API call failed: napi_get_cb_info");
    return NULL;
  }
  return get_device(env, argv[0]);
}

/* The bytes of a Buffer / Uint8Array (any ArrayBufferView, in bytes). */
static int get_bytes(napi_env env, napi_value value, void **data, size_t *len) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) == napi_ok && is_typed) {
    napi_typedarray_type type;
    size_t count, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, value, &type, &count, data, &ab, &offset) != napi_ok)
      return 0;
    if (type != napi_uint8_array && type != napi_uint8_clamped_array && type != napi_int8_array)
      return 0;
    *len = count;
    return 1;
  }
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) == napi_ok && is_buffer)
    return napi_get_buffer_info(env, value, data, len) == napi_ok;
  return 0;
}

/* ------------------------------------------------------------- close/free */

static void on_poll_closed(uv_handle_t *handle) { free(handle); }

/* Stop polling first (libuv must not watch a closed fd), then close the fd.
 * After this no callback reaches JavaScript. Safe to call twice. */
static void device_close(tap_device *dev) {
  if (dev->closed) return;
  dev->closed = 1;
  if (dev->poll != NULL) {
    uv_poll_stop(dev->poll);
    uv_close((uv_handle_t *)dev->poll, on_poll_closed);
    dev->poll = NULL;
  }
  if (dev->fd >= 0) {
    close(dev->fd);
    dev->fd = -1;
  }
  if (dev->callback != NULL) {
    napi_delete_reference(dev->env, dev->callback);
    dev->callback = NULL;
  }
  if (dev->async_context != NULL) {
    napi_async_destroy(dev->env, dev->async_context);
    dev->async_context = NULL;
  }
}

/* The handle was garbage collected: close the device if JS forgot to. */
static void device_finalize(napi_env env, void *data, void *hint) {
  tap_device *dev = (tap_device *)data;
  device_close(dev);
  free(dev->scratch);
  free(dev);
}

/* ------------------------------------------------------------------- open */

/* Whether an interface NAME exists in this process's network namespace. */
static int interface_exists(const char *name) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return 1; /* cannot tell: assume it does (we then leave it as it is) */
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1)); /* zeroed: stays terminated */
  int exists = ioctl(sock, SIOCGIFINDEX, &ifr) == 0;
  close(sock);
  return exists;
}

/* Open /dev/net/tun and attach the fd to the TAP device NAME (creating it if it
 * does not exist; *created says which). With `offload`, frames carry a virtio_net_hdr
 * and the kernel may exchange checksum-less and super-frames with us (see "offload").
 * Returns the fd, or -1 with a JS exception pending. */
static int tap_attach(napi_env env, const char *name, size_t len, int nonblocking, int offload,
                      struct ifreq *ifr, int *created) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
  if (fd < 0) {
    throw_open_error(env, name, "open /dev/net/tun", errno);
    return -1;
  }
  /* A name with "%d" always makes a new device; otherwise it is new if unknown. */
  *created = strchr(name, '%') != NULL || !interface_exists(name);

  /* TUNSETIFF attaches this fd to the device NAME, creating it if it does not exist
   * (then it lives as long as the fd, unless made persistent). IFF_TAP: Ethernet
   * frames; IFF_NO_PI: no 4-byte packet-information prefix before each frame;
   * IFF_VNET_HDR: a struct virtio_net_hdr before each frame instead. */
  memset(ifr, 0, sizeof *ifr);
  ifr->ifr_flags = IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
  memcpy(ifr->ifr_name, name, len);
  if (ioctl(fd, TUNSETIFF, ifr) < 0) {
    int err = errno;
    close(fd);
    throw_open_error(env, name, "TUNSETIFF", err);
    return -1;
  }
  /* TUNSETOFFLOAD says what WE can take: frames whose TCP/UDP checksum is left for
   * us to finish (TUN_F_CSUM) and TCP/IPv4 super-frames up to 64 KiB (TUN_F_TSO4).
   * The kernel then turns on checksum and segmentation offload for the interface
   * (ethtool -k shows tcp-segmentation-offload: on) and stops cutting and
   * checksumming what it sends to us. What we send may use the same offloads
   * whatever we set here: the virtio_net_hdr of each frame says so. */
  if (offload && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) {
    int err = errno;
    close(fd);
    throw_open_error(env, name, "TUNSETOFFLOAD", err);
    return -1;
  }
  return fd;
}

/* Set the interface's transmit queue length (frames the kernel holds for us while
 * we are busy). Through a socket of this process's namespace, where a device we
 * just created still is. Returns 0 or an errno; failure is not fatal. */
static int set_txqueuelen(const char *name, int qlen) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1)); /* zeroed: stays terminated */
  ifr.ifr_qlen = qlen;
  int rc = ioctl(sock, SIOCSIFTXQLEN, &ifr) < 0 ? errno : 0;
  close(sock);
  return rc;
}

/* The name argument of open()/openFd(), checked. Returns 0 with an exception pending. */
static int get_ifname(napi_env env, napi_value value, char *name, size_t size, size_t *len) {
  if (napi_get_value_string_utf8(env, value, name, size, len) != napi_ok) {
    napi_throw_type_error(env, NULL, "tap: open(name) needs the interface name as a string");
    return 0;
  }
  if (!valid_ifname(name, *len)) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "tap: bad interface name \"%.*s\": use 1 to 15 characters without '/', ':' "
             "or spaces", (int)(*len > 40 ? 40 : *len), name);
    napi_throw_error(env, "EINVAL", msg);
    return 0;
  }
  return 1;
}

/* A boolean or integer property of the options object (absent: `fallback`). */
static int64_t get_option(napi_env env, napi_value options, const char *key, int64_t fallback) {
  napi_valuetype type;
  if (options == NULL || napi_typeof(env, options, &type) != napi_ok || type != napi_object)
    return fallback;
  napi_value value;
  bool flag;
  int64_t number;
  if (napi_get_named_property(env, options, key, &value) != napi_ok) return fallback;
  if (napi_get_value_bool(env, value, &flag) == napi_ok) return flag;
  if (napi_get_value_int64(env, value, &number) == napi_ok) return number;
  return fallback;
}

static napi_value tap_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));

  char name[IFNAMSIZ + 8];
  size_t len = 0;
  if (argc < 1 || !get_ifname(env, argv[0], name, sizeof name, &len)) return NULL;
  int offload = get_option(env, argc > 1 ? argv[1] : NULL, "offload", 0) != 0;
  int64_t qlen = get_option(env, argc > 1 ? argv[1] : NULL, "txqueuelen", 0);

  struct ifreq ifr;
  int created = 0;
  int fd = tap_attach(env, name, len, 1, offload, &ifr, &created);
  if (fd < 0) return NULL;
  /* Queue length: what the caller asked for, else ours for a device we created (a
   * device made beforehand with `ip tuntap add` keeps what its owner set). */
  int txqueuelen = -1;
  if (qlen <= 0 && created) qlen = TAP_TXQUEUELEN;
  if (qlen > 0 && qlen <= 1000000) {
    ifr.ifr_name[IFNAMSIZ - 1] = '\0';
    if (set_txqueuelen(ifr.ifr_name, (int)qlen) == 0) txqueuelen = (int)qlen;
  }

  /* The kernel side's MAC, asked through the tun fd itself (works even after the
   * device has moved to another network namespace). Optional: null if it fails. */
  struct ifreq hw;
  memset(&hw, 0, sizeof hw);
  int have_mac = ioctl(fd, SIOCGIFHWADDR, &hw) == 0;

  tap_device *dev = calloc(1, sizeof *dev);
  uint8_t *scratch = malloc(TAP_SLAB);
  if (dev == NULL || scratch == NULL) {
    free(dev);
    free(scratch);
    close(fd);
    napi_throw_error(env, "ENOMEM", "tap: out of memory");
    return NULL;
  }
  dev->fd = fd;
  dev->env = env;
  dev->scratch = scratch;
  dev->offload = offload;
  memcpy(dev->name, ifr.ifr_name, IFNAMSIZ);
  dev->name[IFNAMSIZ - 1] = '\0';

  napi_value result, handle, actual_name, mac;
  if (napi_create_external(env, dev, device_finalize, NULL, &handle) != napi_ok) {
    close(fd);
    free(scratch);
    free(dev);
    napi_throw_error(env, NULL, "tap: could not create the device handle");
    return NULL;
  }
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_string_utf8(env, dev->name, NAPI_AUTO_LENGTH, &actual_name));
  if (have_mac) {
    NAPI_CALL(env, napi_create_buffer_copy(env, 6, hw.ifr_hwaddr.sa_data, NULL, &mac));
  } else {
    NAPI_CALL(env, napi_get_null(env, &mac));
  }
  NAPI_CALL(env, napi_set_named_property(env, result, "handle", handle));
  NAPI_CALL(env, napi_set_named_property(env, result, "name", actual_name));
  NAPI_CALL(env, napi_set_named_property(env, result, "mac", mac));
  napi_value value;
  NAPI_CALL(env, napi_get_boolean(env, offload, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "offload", value));
  if (txqueuelen > 0) {
    NAPI_CALL(env, napi_create_int32(env, txqueuelen, &value));
  } else {
    NAPI_CALL(env, napi_get_null(env, &value));
  }
  NAPI_CALL(env, napi_set_named_property(env, result, "txqueuelen", value));
  return result;
}

/* openFd(name, blocking) -> { fd, name }: a bare fd on the device, owned by the
 * caller (close it with fs.closeSync). Not used by the stack: it exists so that the
 * benchmark can compare our reader with plain fs reads on the same kind of fd. */
static napi_value tap_open_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result, value;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 8];
  size_t len = 0;
  if (argc < 1 || !get_ifname(env, argv[0], name, sizeof name, &len)) return NULL;
  bool blocking = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &blocking);
  struct ifreq ifr;
  int created;
  int fd = tap_attach(env, name, len, !blocking, 0, &ifr, &created);
  if (fd < 0) return NULL;
  /* Like every fd of ours it is O_CLOEXEC: processes we spawn do not inherit it. */
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_int32(env, fd, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "fd", value));
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  NAPI_CALL(env, napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "name", value));
  return result;
}

/* --------------------------------------------------------------- callback */

/* Call the JS receiver with `arg0` (frames or null) and optional `arg1` (error). */
static void call_js(tap_device *dev, napi_value arg0, napi_value arg1) {
  napi_env env = dev->env;
  napi_value fn, recv, ignored;
  if (napi_get_reference_value(env, dev->callback, &fn) != napi_ok || fn == NULL) return;
  /* napi_make_callback wants an object as `this`; the global object will do. */
  napi_get_global(env, &recv);
  napi_value args[2] = {arg0, arg1};
  napi_make_callback(env, dev->async_context, recv, fn, arg1 ? 2 : 1, args, &ignored);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    /* The receiver threw: report it like any uncaught exception. */
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

/* ------------------------------------------------------------ chunk pool
 *
 * Frames reach JS in chunks: memory holding several frames of one wake-up, each frame
 * a Uint8Array view into its chunk. JS may keep any frame for as long as it likes, so
 * a chunk is never written again while a view of it is alive.
 *
 * Big chunks (a busy wake-up: TAP_CHUNK_MIN bytes or more) use blocks of TAP_CHUNK
 * bytes from a pool: a block returns to the pool only when V8 has collected every
 * view of it and run its finalizer (chunk_release). Reuse matters under load: fresh
 * memory for every batch costs page faults and cache misses that add up to about as
 * much as the read() itself. V8 is told the full block size (napi_adjust_external_
 * memory), so that it collects often enough to refill the pool and to keep memory in
 * check. Small chunks (a quiet wake-up, e.g. one frame) are plain exact-size Buffers,
 * so a single kept frame never pins a whole block.
 *
 * The pool is process-wide (chunks can outlive their device) and locked, because each
 * worker thread that loads the addon has its own JS thread. */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void *pool_free[TAP_POOL_MAX];
static int pool_count = 0;
static uint64_t pool_reused = 0, pool_allocated = 0; /* for tests and curious readers */

static void *chunk_acquire(void) {
  void *block = NULL;
  pthread_mutex_lock(&pool_lock);
  if (pool_count > 0) {
    block = pool_free[--pool_count];
    pool_reused++;
  } else {
    pool_allocated++;
  }
  pthread_mutex_unlock(&pool_lock);
  return block != NULL ? block : malloc(TAP_CHUNK);
}

static void chunk_recycle(void *block) {
  pthread_mutex_lock(&pool_lock);
  if (pool_count < TAP_POOL_MAX) {
    pool_free[pool_count++] = block;
    block = NULL;
  }
  pthread_mutex_unlock(&pool_lock);
  free(block);
}

/* Finalizer of a pooled chunk's ArrayBuffer: no view of it is left anywhere. */
static void chunk_release(napi_env env, void *block, void *hint) {
  int64_t ignored;
  napi_adjust_external_memory(env, -(int64_t)TAP_CHUNK, &ignored);
  chunk_recycle(block);
}

/* An ArrayBuffer (and the offset of our bytes in it) holding a copy of `size` bytes. */
static int chunk_to_js(napi_env env, const uint8_t *bytes, size_t size, napi_value *arraybuffer,
                       size_t *base) {
  *base = 0;
  if (size < TAP_CHUNK_MIN || size > TAP_CHUNK) {
    /* A quiet wake-up, or one jumbo frame: an exact-size Buffer of its own. */
    void *data;
    napi_value buffer;
    napi_typedarray_type type;
    size_t length;
    if (napi_create_buffer_copy(env, size, bytes, &data, &buffer) != napi_ok) return 0;
    return napi_get_typedarray_info(env, buffer, &type, &length, NULL, arraybuffer, base) ==
           napi_ok;
  }
  void *block = chunk_acquire();
  if (block == NULL) return 0;
  memcpy(block, bytes, size);
  if (napi_create_external_arraybuffer(env, block, size, chunk_release, NULL, arraybuffer) !=
      napi_ok) {
    chunk_recycle(block);
    return 0;
  }
  int64_t ignored;
  napi_adjust_external_memory(env, TAP_CHUNK, &ignored);
  return 1;
}

/* Hand the frames of one wake-up (in dev->scratch, ending at dev->ends[]) to JS as
 * an array of Uint8Array views, several frames per chunk. NULL if allocation failed. */
static napi_value batch_to_js(tap_device *dev, uint32_t count) {
  napi_env env = dev->env;
  napi_value frames;
  if (napi_create_array_with_length(env, count, &frames) != napi_ok) return NULL;
  uint32_t i = 0;
  size_t start = 0;
  while (i < count) {
    /* The chunk: frames i..j-1, at least one, as many as fit in TAP_CHUNK. */
    uint32_t j = i + 1;
    while (j < count && dev->ends[j] - start <= TAP_CHUNK) j++;
    napi_value arraybuffer;
    size_t base;
    if (!chunk_to_js(env, dev->scratch + start, dev->ends[j - 1] - start, &arraybuffer, &base))
      return NULL;
    size_t offset = 0;
    for (; i < j; i++) {
      size_t len = dev->ends[i] - start - offset;
      napi_value view;
      if (napi_create_typedarray(env, napi_uint8_array, len, arraybuffer, base + offset, &view) !=
              napi_ok ||
          napi_set_element(env, frames, i, view) != napi_ok)
        return NULL;
      offset += len;
    }
    start = dev->ends[j - 1];
  }
  return frames;
}

/* ---------------------------------------------------------------- offload
 *
 * With open(name, { offload: true }) the device has IFF_VNET_HDR: every frame, read
 * or written, is preceded by a 10-byte struct virtio_net_hdr (<linux/virtio_net.h>;
 * little-endian fields on x86, as the legacy virtio layout is host-endian):
 *
 *   0 flags (u8)        VIRTIO_NET_HDR_F_NEEDS_CSUM (1): the TCP/UDP checksum is
 *                       not finished: the field holds only the pseudo-header sum
 *   1 gso_type (u8)     0 NONE, 1 TCPV4 (a super-frame to be cut into segments),
 *                       3 UDP, 4 TCPV6; | 0x80 ECN
 *   2 hdr_len (u16)     Ethernet + IP + TCP header bytes (a hint)
 *   4 gso_size (u16)    payload bytes per segment when it is cut (the MSS)
 *   6 csum_start (u16)  where the checksummed part starts (from the Ethernet header)
 *   8 csum_offset (u16) where the checksum field is, counted from csum_start
 *
 * Receiving, the binding finishes a NEEDS_CSUM checksum here in C, so the stack above
 * sees an ordinary frame whose checksum verifies; a super-frame (gso_type TCPV4) is a
 * valid TCP segment of up to 64 KiB and is passed on as it is. Sending, JS gives a
 * header per frame (src/link/tap.ts builds it with src/wire/virtio-net.ts). */

/* The Internet checksum (RFC 1071) of p[0..len), complemented, in the byte order of
 * memory: RFC 1071 2(B), the ones' complement sum does not care which byte of a
 * word is the high one, so native words are summed and the result stored natively. */
static uint16_t internet_checksum(const uint8_t *p, size_t len) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    uint32_t word;
    memcpy(&word, p + i, 4);
    acc += word;
  }
  if (i + 2 <= len) {
    uint16_t half;
    memcpy(&half, p + i, 2);
    acc += half;
    i += 2;
  }
  if (i < len) {
    uint8_t last[2] = {p[i], 0}; /* an odd byte is padded with a zero (RFC 1071) */
    uint16_t half;
    memcpy(&half, last, 2);
    acc += half;
  }
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

static unsigned le16(const uint8_t *p) { return p[0] | (unsigned)p[1] << 8; }

/* Handle the virtio_net_hdr of a received frame. Returns 0 when the header does not
 * fit the frame (the frame is dropped). */
static int vnet_receive(tap_device *dev, const uint8_t *vnet, uint8_t *frame, size_t len) {
  if (vnet[1] != VIRTIO_NET_HDR_GSO_NONE) dev->rx_super_frames++;
  if (vnet[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    size_t start = le16(vnet + 6), field = start + le16(vnet + 8);
    if (field + 2 > len) return 0;
    /* The field already holds the pseudo-header sum: summing from csum_start over
     * everything, that field included, gives the finished checksum. */
    uint16_t sum = internet_checksum(frame + start, len - start);
    /* RFC 768: a UDP checksum that computes to 0 is sent as all ones (0 = none). */
    if (sum == 0 && le16(vnet + 8) == 6) sum = 0xffff;
    memcpy(frame + field, &sum, 2);
    dev->rx_csum_completed++;
  }
  return 1;
}

/* ------------------------------------------------------------------- read */

static void on_readable(uv_poll_t *poll, int status, int events) {
  tap_device *dev = (tap_device *)poll->data;
  if (dev == NULL || dev->closed) return;
  napi_env env = dev->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  /* Drain: every ready frame, up to TAP_MAX_BATCH, one after the other into
   * dev->scratch (one read() is one frame). Each read is offered at least TAP_READ_BUFFER
   * bytes, so no frame can be truncated. */
  uint32_t count = 0;
  size_t used = 0;
  int fatal = status < 0 ? -status : 0;
  while (!fatal && count < TAP_MAX_BATCH && TAP_SLAB - used >= TAP_READ_BUFFER) {
    uint8_t *frame = dev->scratch + used;
    uint8_t vnet[VNET_HDR_LEN];
    ssize_t n;
    if (dev->offload) {
      /* The header goes aside, the frame where it belongs: one readv. */
      struct iovec iov[2] = {{vnet, VNET_HDR_LEN}, {frame, TAP_SLAB - used}};
      n = readv(dev->fd, iov, 2);
    } else {
      n = read(dev->fd, frame, TAP_SLAB - used);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      fatal = errno; /* e.g. EBADFD: the interface was deleted under us */
      break;
    }
    if (n == 0) break;
    if (dev->offload) {
      if (n < VNET_HDR_LEN || !vnet_receive(dev, vnet, frame, (size_t)n - VNET_HDR_LEN)) {
        dev->rx_bad_vnet++; /* dropped, like a frame with a bad checksum */
        continue;
      }
      n -= VNET_HDR_LEN;
    }
    dev->ends[count++] = (uint32_t)(used += (size_t)n);
  }

  napi_value frames = count > 0 ? batch_to_js(dev, count) : NULL;
  if (frames != NULL) {
    dev->rx_frames += count;
    dev->rx_batches++;
    call_js(dev, frames, NULL);
  } else if (count > 0) {
    /* Out of memory: the frames are lost, like a full queue would lose them. */
    dev->rx_drops += count;
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
      napi_get_and_clear_last_exception(env, &ignored);
  }

  /* The receiver may have closed the device; otherwise report a failure once. */
  if (fatal && !dev->closed) {
    dev->rx_errors++;
    if (dev->poll != NULL) uv_poll_stop(dev->poll);
    char msg[256];
    snprintf(msg, sizeof msg, "tap %s: reading the device failed: %s", dev->name,
             strerror(fatal));
    napi_value code, text, error, null_value;
    napi_create_string_utf8(env, errno_code(fatal), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, code, text, &error);
    napi_get_null(env, &null_value);
    call_js(dev, null_value, error);
  }
  napi_close_handle_scope(env, scope);
}

static napi_value tap_start(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tap_device *dev = device_args(env, info, 2, argv);
  if (dev == NULL) return NULL;
  napi_valuetype type;
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "tap: start(handle, callback) needs a function");
    return NULL;
  }
  if (dev->closed) {
    napi_throw_error(env, "ERR_CLOSED", "tap: the device is closed");
    return NULL;
  }
  if (dev->poll != NULL) {
    napi_throw_error(env, "ERR_STARTED", "tap: start() was already called");
    return NULL;
  }

  NAPI_CALL(env, napi_create_reference(env, argv[1], 1, &dev->callback));
  napi_value resource, resource_name;
  NAPI_CALL(env, napi_create_object(env, &resource));
  NAPI_CALL(env, napi_create_string_utf8(env, "tapstack:tap", NAPI_AUTO_LENGTH, &resource_name));
  NAPI_CALL(env, napi_async_init(env, resource, resource_name, &dev->async_context));

  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  dev->poll = calloc(1, sizeof(uv_poll_t));
  if (dev->poll == NULL) {
    napi_throw_error(env, "ENOMEM", "tap: out of memory");
    return NULL;
  }
  int rc = uv_poll_init(loop, dev->poll, dev->fd);
  if (rc == 0) {
    dev->poll->data = dev;
    rc = uv_poll_start(dev->poll, UV_READABLE, on_readable);
    if (rc != 0) {
      uv_close((uv_handle_t *)dev->poll, on_poll_closed);
      dev->poll = NULL;
    }
  } else {
    free(dev->poll);
    dev->poll = NULL;
  }
  if (rc != 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "tap %s: cannot poll the device: %s", dev->name, uv_strerror(rc));
    napi_throw_error(env, uv_err_name(rc), msg);
    return NULL;
  }
  return NULL;
}

/* ------------------------------------------------------------------ write */

/* One write() is one frame. The fd is non-blocking: if the kernel cannot take the
 * frame now (EAGAIN) it is dropped and counted, never waited for. On an offload
 * device the frame goes out behind its virtio_net_hdr (`vnet`; NULL: all zeros, a
 * finished frame that needs nothing done), in one writev. */
static int write_frame(tap_device *dev, const uint8_t *vnet, const void *data, size_t len) {
  static const uint8_t plain[VNET_HDR_LEN];
  for (;;) {
    ssize_t n;
    if (dev->offload) {
      struct iovec iov[2] = {{(void *)(vnet ? vnet : plain), VNET_HDR_LEN}, {(void *)data, len}};
      n = writev(dev->fd, iov, 2);
    } else {
      n = write(dev->fd, data, len);
    }
    if (n >= 0) {
      dev->tx_frames++;
      if (vnet != NULL && vnet[1] != VIRTIO_NET_HDR_GSO_NONE) dev->tx_super_frames++;
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      dev->tx_drops++;
    } else {
      dev->tx_errors++; /* e.g. EINVAL for a frame shorter than an Ethernet header */
    }
    return 0;
  }
}

/* The optional virtio_net_hdr argument of write()/writeBatch(): `count` headers of
 * VNET_HDR_LEN bytes, one per frame. *vnet stays NULL when absent (undefined).
 * Returns 0 with an exception pending when it is there but unusable. */
static int get_vnet_headers(napi_env env, napi_value value, uint32_t count, const uint8_t **vnet) {
  napi_valuetype type;
  *vnet = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type == napi_undefined || type == napi_null)
    return 1;
  void *data;
  size_t len;
  if (!get_bytes(env, value, &data, &len) || len < (size_t)count * VNET_HDR_LEN) {
    napi_throw_type_error(env, NULL, "tap: the virtio_net_hdr argument needs 10 bytes per frame");
    return 0;
  }
  *vnet = data;
  return 1;
}

static napi_value tap_write(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  tap_device *dev = device_args(env, info, 3, argv);
  if (dev == NULL) return NULL;
  void *data;
  size_t len;
  const uint8_t *vnet;
  if (!get_bytes(env, argv[1], &data, &len)) {
    napi_throw_type_error(env, NULL, "tap: write(handle, frame) needs a Buffer or Uint8Array");
    return NULL;
  }
  if (!get_vnet_headers(env, argv[2], 1, &vnet)) return NULL;
  int ok = 0;
  if (dev->closed) {
    dev->tx_errors++;
  } else {
    ok = write_frame(dev, vnet, data, len);
  }
  NAPI_CALL(env, napi_get_boolean(env, ok, &result));
  return result;
}

static napi_value tap_write_batch(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  tap_device *dev = device_args(env, info, 3, argv);
  if (dev == NULL) return NULL;
  bool is_array = false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "tap: writeBatch(handle, frames) needs an array");
    return NULL;
  }
  uint32_t length = 0, written = 0;
  const uint8_t *vnet;
  NAPI_CALL(env, napi_get_array_length(env, argv[1], &length));
  if (!get_vnet_headers(env, argv[2], length, &vnet)) return NULL;
  for (uint32_t i = 0; i < length; i++) {
    napi_value element;
    void *data;
    size_t len;
    NAPI_CALL(env, napi_get_element(env, argv[1], i, &element));
    if (!get_bytes(env, element, &data, &len)) {
      napi_throw_type_error(env, NULL, "tap: writeBatch: every frame must be a Uint8Array");
      return NULL;
    }
    if (dev->closed) {
      dev->tx_errors++;
      continue;
    }
    written += write_frame(dev, vnet ? vnet + (size_t)i * VNET_HDR_LEN : NULL, data, len);
  }
  NAPI_CALL(env, napi_create_uint32(env, written, &result));
  return result;
}

/* ------------------------------------------------------- stats, ref, close */

static napi_value tap_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, value;
  tap_device *dev = device_args(env, info, 1, argv);
  if (dev == NULL) return NULL;
  NAPI_CALL(env, napi_create_object(env, &result));
#define STAT(js_name, field)                                              \
  NAPI_CALL(env, napi_create_double(env, (double)dev->field, &value));    \
  NAPI_CALL(env, napi_set_named_property(env, result, js_name, value));
  STAT("rxFrames", rx_frames)
  STAT("rxBatches", rx_batches)
  STAT("rxErrors", rx_errors)
  STAT("rxDrops", rx_drops)
  STAT("txFrames", tx_frames)
  STAT("txDrops", tx_drops)
  STAT("txErrors", tx_errors)
  STAT("rxSuperFrames", rx_super_frames)
  STAT("rxChecksumsCompleted", rx_csum_completed)
  STAT("rxBadVnetHeaders", rx_bad_vnet)
  STAT("txSuperFrames", tx_super_frames)
#undef STAT
  return result;
}

/* pool() -> { free, reused, allocated }: the chunk pool, process-wide. */
static napi_value tap_pool(napi_env env, napi_callback_info info) {
  napi_value result, value;
  pthread_mutex_lock(&pool_lock);
  double numbers[3] = {pool_count, (double)pool_reused, (double)pool_allocated};
  pthread_mutex_unlock(&pool_lock);
  const char *names[3] = {"free", "reused", "allocated"};
  NAPI_CALL(env, napi_create_object(env, &result));
  for (int i = 0; i < 3; i++) {
    NAPI_CALL(env, napi_create_double(env, numbers[i], &value));
    NAPI_CALL(env, napi_set_named_property(env, result, names[i], value));
  }
  return result;
}

static napi_value tap_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tap_device *dev = device_args(env, info, 2, argv);
  if (dev == NULL) return NULL;
  bool keep = true; /* stays true when the argument is not a boolean */
  napi_get_value_bool(env, argv[1], &keep);
  if (dev->poll != NULL) {
    if (keep)
      uv_ref((uv_handle_t *)dev->poll);
    else
      uv_unref((uv_handle_t *)dev->poll);
  }
  return NULL;
}

static napi_value tap_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tap_device *dev = device_args(env, info, 1, argv);
  if (dev == NULL) return NULL;
  device_close(dev);
  return NULL;
}

/* ------------------------------------------------------------------- init */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, tap_open, NULL, NULL, NULL, napi_default, NULL},
      {"openFd", NULL, tap_open_fd, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, tap_start, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, tap_write, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, tap_write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, tap_stats, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, tap_ref, NULL, NULL, NULL, napi_default, NULL},
      {"pool", NULL, tap_pool, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, tap_close, NULL, NULL, NULL, napi_default, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
