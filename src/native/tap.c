/*
 * tap.c - the TAP binding of tapstack: a small N-API addon in plain C.
 *
 * It opens a Linux TAP device (layer 2: whole Ethernet frames) and moves frames
 * between it and JavaScript, with three pieces of work done here, in C, so that the
 * JS thread has more time for the stack:
 *
 *   reading   libuv tells the JS thread when the non-blocking fd is readable
 *             (uv_poll); every frame that is ready is read and handed to JS in ONE
 *             call, as an array of Uint8Arrays (views into chunks, see "chunk pool").
 *             (A reader thread was tried and measured slower on two cores; see
 *             native-notes/README.md.)
 *   writing   write()/writeBatch() copy the frames into a ring and return; a writer
 *             thread of ours, one per device, does the write() syscalls, inside which
 *             the kernel runs its own receive path (see "writer thread").
 *             writerThread: false writes from the JS thread instead.
 *   checksums checksum offload, as a NIC does it: the TCP checksum of outgoing
 *             frames is filled in (on the writer thread), and each received frame
 *             gets a verdict on its IPv4 and TCP/UDP checksums (see "checksums").
 *
 * The writer thread never calls N-API: only the JS thread does. The two share the
 * ring and the tx counters, through atomics (see "writer thread").
 * Why this shape (and not fs streams on the libuv thread pool): native-notes/README.md.
 *
 * JavaScript API (wrapped by src/link/tap.ts for the stack; the benchmark and the
 * link tests also call openFd() and pool() directly):
 *   open(name, options?)     -> { handle, name, mac, offload, txqueuelen, txChecksum,
 *                            rxChecksum, writerThread }  throws Error with .code;
 *                            options: { offload, txqueuelen, txChecksum (default
 *                            true), rxChecksum (default true), writerThread (default
 *                            true) }
 *   openFd(name, blocking)   -> { fd, name }  a bare fd, for the benchmark only
 *   start(handle, callback)  callback(frames: Uint8Array[], verdicts?: Uint8Array) per
 *                            wake-up (verdicts: one RX_CHECKSUM_* per frame, with
 *                            rxChecksum), or callback(null, error) once if the device fails
 *   start(handle, callback, true) -> slices: a Uint32Array; the callback gets the
 *                            wake-up's chunks (ArrayBuffer[]) instead of frames, and
 *                            slices, rewritten before each call, says where the frames
 *                            are: [0] their count, then (chunk index, byteOffset,
 *                            length) per frame; JS makes the views (TapLink does).
 *                            Detaching its ArrayBuffer drops every later batch
 *                            (rxDrops): the binding never writes memory JS gave away
 *   write(handle, frame, vnetHeader?)      -> true if taken (queued for the writer
 *                            thread, or written without it), false if dropped
 *   writeBatch(handle, arr, vnetHeaders?, finishChecksums?)  -> how many frames were
 *                            taken (the headers: 10 bytes per frame, offload devices
 *                            only; finishChecksums: fill in their TCP checksums)
 *   writeSlices(handle, buffers, slices, count, vnetHeaders?, finishChecksums?)
 *                            -> the same as writeBatch for `count` frames given as
 *                            (index in `buffers`, byteOffset, length) triples in the
 *                            Uint32Array `slices`: `buffers` are the batch's distinct
 *                            ArrayBuffers (at most 16). A few N-API calls per batch
 *                            instead of several per frame; TapLink.sendBatch uses it.
 *   stats(handle)            -> { rxFrames, rxBatches, rxErrors, rxDrops, rxChecksumGood,
 *                                 rxChecksumBad, rxSuperFrames, rxChecksumsCompleted,
 *                                 rxBadVnetHeaders, txFrames (the kernel took them),
 *                                 txDrops, txErrors, txSuperFrames, txQueued }
 *   ref(handle, bool)        keep (or do not keep) the event loop alive
 *   pool()                   -> { free, reused, allocated } chunks of the pool
 *   close(handle)            stop polling, let the writer thread write what is queued
 *                            (a second at most), join it, close the fd;
 *                            idempotent. Also run when the environment ends (process
 *                            exit, a worker's end) with the device still open.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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
/* The writer thread's ring (see "writer thread"): 4 MiB hold about 2,700 full-size
 * frames or 64 offload super-frames, a few ms of the kernel's pace. Like the
 * kernel's own queue, a full ring drops: TCP above sees a loss and slows down. */
#define TAP_RING_BYTES (4u << 20)
/* close() waits at most this long for the writer thread to hand the ring's frames to
 * a kernel that keeps saying EAGAIN; what is left then is dropped and counted. */
#define TAP_FLUSH_MS 1000
/* Checksum verdicts, as src/link/link.ts numbers them (RX_CHECKSUM_*). */
#define RX_CHECKSUM_NOT_CHECKED 0
#define RX_CHECKSUM_GOOD 1
#define RX_CHECKSUM_BAD 2

/* The writer thread's state: a ring of frames (bytes) that the JS thread fills and the
 * writer thread empties, with positions that only grow (the offset is pos % size). */
typedef struct {
  uint8_t *bytes;        /* TAP_RING_BYTES */
  uint64_t head;         /* written by the JS thread: end of the last queued record */
  uint64_t tail;         /* written by the writer thread: start of the next record */
  uint32_t frames;       /* frames queued and not yet written (both threads, atomic) */
  int sleeping;          /* the writer waits on `wake` and must be woken (atomic) */
  int stop;              /* close(): flush, then exit (atomic) */
  int wake;              /* eventfd: the JS thread's doorbell */
  int started;           /* a thread runs and must be joined */
  pthread_t thread;
} tap_writer;

/* One wake-up's frames, one after the other in `bytes` (TAP_SLAB bytes; one read()
 * is one frame), with where each ends and its checksum verdict. */
typedef struct {
  uint8_t *bytes;
  uint32_t count;
  int fatal;                       /* errno of a read that failed after them, or 0 */
  uint32_t ends[TAP_MAX_BATCH];
  uint8_t verdicts[TAP_MAX_BATCH]; /* RX_CHECKSUM_* (with rx checksum offload) */
} rx_batch;

typedef struct tap_device {
  int fd;                /* -1 once closed */
  int closed;
  char name[IFNAMSIZ];
  uv_poll_t *poll;       /* NULL until start(); freed by its close callback */
  napi_env env;
  napi_ref callback;     /* the JS receiver */
  napi_ref rx_slices_ref; /* start(..., true): the Uint32Array JS reads each batch from
                          * (count, then chunk, offset, length per frame); see rx_slices */
  napi_async_context async_context;
  uint8_t *scratch;      /* TAP_SLAB bytes: polled.bytes */
  rx_batch polled;       /* a wake-up's frames land here first */
  int offload;           /* IFF_VNET_HDR + TUNSETOFFLOAD: see "offload" */
  int tx_csum, rx_csum;  /* checksum offload: see "checksums" */
  tap_writer *writer;    /* NULL: writes go out from the JS thread (writerThread: false) */
  napi_async_cleanup_hook_handle cleanup_hook; /* see device_cleanup; NULL once it ran */
  uint8_t *tx_scratch;   /* TAP_READ_BUFFER bytes: a frame to finish without a writer */
  /* The tx_* counters are written by the writer thread and read by the JS thread:
   * always through __atomic builtins (stat_add, stat_get). The rx_* ones have one thread. */
  uint64_t rx_frames, rx_batches, rx_errors, rx_drops;
  uint64_t tx_frames, tx_drops, tx_errors;
  uint64_t rx_super_frames, rx_csum_completed, rx_bad_vnet, tx_super_frames;
  uint64_t rx_csum_good, rx_csum_bad;
} tap_device;

static void stat_add(uint64_t *counter, uint64_t n) { __atomic_fetch_add(counter, n, __ATOMIC_RELAXED); }
static uint64_t stat_get(const uint64_t *counter) { return __atomic_load_n(counter, __ATOMIC_RELAXED); }

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
static int writer_start(tap_device *dev);
static void writer_stop(tap_device *dev);

static void device_close(tap_device *dev) {
  if (dev->closed) return;
  dev->closed = 1;
  if (dev->poll != NULL) {
    uv_poll_stop(dev->poll);
    uv_close((uv_handle_t *)dev->poll, on_poll_closed);
    dev->poll = NULL;
  }
  /* The writer thread writes what is queued, then exits; only then may the fd go. */
  writer_stop(dev);
  if (dev->fd >= 0) {
    close(dev->fd);
    dev->fd = -1;
  }
  if (dev->callback != NULL) {
    napi_delete_reference(dev->env, dev->callback);
    dev->callback = NULL;
  }
  if (dev->rx_slices_ref != NULL) {
    napi_delete_reference(dev->env, dev->rx_slices_ref);
    dev->rx_slices_ref = NULL;
  }
  if (dev->async_context != NULL) {
    napi_async_destroy(dev->env, dev->async_context);
    dev->async_context = NULL;
  }
}

/* The environment goes away (process exit, a worker ends) with the device still
 * open: close it, so that the writer thread is joined before the memory it uses can
 * disappear (bounded: the flush gives up after TAP_FLUSH_MS). The hook is an async
 * one because closing the poll handle finishes in a libuv callback, which is code of
 * this addon: when a worker ends, Node unloads the addon after its cleanup hooks, so
 * the callback must have run before the hook says it is done. */
static void on_poll_closed_at_cleanup(uv_handle_t *handle) {
  napi_async_cleanup_hook_handle hook = handle->data;
  free(handle);
  napi_remove_async_cleanup_hook(hook);
}

static void device_cleanup(napi_async_cleanup_hook_handle hook, void *data) {
  tap_device *dev = (tap_device *)data;
  dev->cleanup_hook = NULL; /* running: the finalizer must not remove it */
  uv_poll_t *poll = dev->poll;
  dev->poll = NULL;
  device_close(dev);
  if (poll != NULL) {
    uv_poll_stop(poll);
    poll->data = hook;
    uv_close((uv_handle_t *)poll, on_poll_closed_at_cleanup);
  } else {
    napi_remove_async_cleanup_hook(hook);
  }
}

/* The handle was garbage collected: close the device if JS forgot to. */
static void device_finalize(napi_env env, void *data, void *hint) {
  tap_device *dev = (tap_device *)data;
  if (dev->cleanup_hook != NULL) napi_remove_async_cleanup_hook(dev->cleanup_hook);
  device_close(dev);
  free(dev->scratch);
  free(dev->tx_scratch);
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
  int tx_csum = get_option(env, argc > 1 ? argv[1] : NULL, "txChecksum", 1) != 0;
  int rx_csum = get_option(env, argc > 1 ? argv[1] : NULL, "rxChecksum", 1) != 0;
  int threaded = get_option(env, argc > 1 ? argv[1] : NULL, "writerThread", 1) != 0;

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
  uint8_t *tx_scratch = threaded ? NULL : malloc(TAP_READ_BUFFER);
  if (dev == NULL || scratch == NULL || (!threaded && tx_scratch == NULL)) {
    free(dev);
    free(scratch);
    free(tx_scratch);
    close(fd);
    napi_throw_error(env, "ENOMEM", "tap: out of memory");
    return NULL;
  }
  dev->fd = fd;
  dev->env = env;
  dev->scratch = scratch;
  dev->polled.bytes = scratch;
  dev->tx_scratch = tx_scratch;
  dev->offload = offload;
  dev->tx_csum = tx_csum;
  dev->rx_csum = rx_csum;
  memcpy(dev->name, ifr.ifr_name, IFNAMSIZ);
  dev->name[IFNAMSIZ - 1] = '\0';
  int err = threaded ? writer_start(dev) : 0;
  if (err != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "tap %s: cannot start the writer thread: %s", dev->name, strerror(err));
    close(fd);
    free(scratch);
    free(dev);
    napi_throw_error(env, errno_code(err), msg);
    return NULL;
  }

  napi_value result, handle, actual_name, mac;
  if (napi_create_external(env, dev, device_finalize, NULL, &handle) != napi_ok) {
    writer_stop(dev);
    close(fd);
    free(scratch);
    free(dev);
    napi_throw_error(env, NULL, "tap: could not create the device handle");
    return NULL;
  }
  napi_add_async_cleanup_hook(env, device_cleanup, dev, &dev->cleanup_hook);
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
  NAPI_CALL(env, napi_get_boolean(env, tx_csum, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "txChecksum", value));
  NAPI_CALL(env, napi_get_boolean(env, rx_csum, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "rxChecksum", value));
  NAPI_CALL(env, napi_get_boolean(env, threaded, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "writerThread", value));
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

/* Call the JS receiver with `arg0` (frames or null) and optional `arg1` (the
 * checksum verdicts with frames, an error with null). */
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
 * a Uint8Array view into its chunk (made here by batch_to_js, or in JS from the
 * chunk and the slices of batch_to_js_slices). JS may keep any frame for as long as it
 * likes, so a chunk is never written again while a view of it is alive.
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

/* Hand the frames of one wake-up (b->bytes, ending at b->ends[]) to JS as an array of
 * Uint8Array views, several frames per chunk. NULL if allocation failed. */
static napi_value batch_to_js(tap_device *dev, const rx_batch *b) {
  napi_env env = dev->env;
  uint32_t count = b->count;
  napi_value frames;
  if (napi_create_array_with_length(env, count, &frames) != napi_ok) return NULL;
  uint32_t i = 0;
  size_t start = 0;
  while (i < count) {
    /* The chunk: frames i..j-1, at least one, as many as fit in TAP_CHUNK. */
    uint32_t j = i + 1;
    while (j < count && b->ends[j] - start <= TAP_CHUNK) j++;
    napi_value arraybuffer;
    size_t base;
    if (!chunk_to_js(env, b->bytes + start, b->ends[j - 1] - start, &arraybuffer, &base))
      return NULL;
    size_t offset = 0;
    for (; i < j; i++) {
      size_t len = b->ends[i] - start - offset;
      napi_value view;
      if (napi_create_typedarray(env, napi_uint8_array, len, arraybuffer, base + offset, &view) !=
              napi_ok ||
          napi_set_element(env, frames, i, view) != napi_ok)
        return NULL;
      offset += len;
    }
    start = b->ends[j - 1];
  }
  return frames;
}

/* The memory of the slices array of start(..., true), looked up on every wake-up
 * instead of kept from start(): JS owns that ArrayBuffer and may detach it (transfer it
 * to a worker, structuredClone with `transfer`), after which its memory belongs to
 * someone else, or is freed. NULL then (the batch is dropped and counted in rxDrops). */
static uint32_t *rx_slices(tap_device *dev) {
  napi_value array;
  napi_typedarray_type type;
  size_t length;
  void *data = NULL;
  if (napi_get_reference_value(dev->env, dev->rx_slices_ref, &array) != napi_ok || array == NULL ||
      napi_get_typedarray_info(dev->env, array, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint32_array || length < 1 + 3 * (size_t)TAP_MAX_BATCH)
    return NULL; /* a detached array has length 0 */
  return data;
}

/* The same batch as chunks for JS to cut (start(..., true)); cheaper than the views
 * above, which cost a napi_create_typedarray and a napi_set_element per frame
 * (native-notes): an array of the chunks' ArrayBuffers, and in `out` (rx_slices) the
 * frame count, then (chunk index, byte offset, length) per frame. */
static napi_value batch_to_js_slices(tap_device *dev, const rx_batch *b, uint32_t *out) {
  napi_env env = dev->env;
  uint32_t count = b->count;
  napi_value chunks;
  if (napi_create_array(env, &chunks) != napi_ok) return NULL;
  uint32_t i = 0, nchunk = 0;
  size_t start = 0;
  out[0] = count;
  while (i < count) {
    uint32_t j = i + 1;
    while (j < count && b->ends[j] - start <= TAP_CHUNK) j++;
    napi_value arraybuffer;
    size_t base;
    if (!chunk_to_js(env, b->bytes + start, b->ends[j - 1] - start, &arraybuffer, &base) ||
        napi_set_element(env, chunks, nchunk, arraybuffer) != napi_ok)
      return NULL;
    size_t offset = 0;
    for (; i < j; i++) {
      size_t len = b->ends[i] - start - offset;
      out[1 + 3 * i] = nchunk;
      out[2 + 3 * i] = (uint32_t)(base + offset);
      out[3 + 3 * i] = (uint32_t)len;
      offset += len;
    }
    nchunk++;
    start = b->ends[j - 1];
  }
  return chunks;
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

/* ------------------------------------------------------------- checksums
 *
 * Checksum offload, as a NIC does it (Link.checksumOffload in src/link/link.ts;
 * open(name, { txChecksum, rxChecksum }), both on unless false):
 *   tx  when writeBatch() is asked to (its finishChecksums argument: the stack left
 *       the checksums to us), every IPv4 frame carrying a whole TCP segment (not a
 *       fragment: MF 0, offset 0) gets its TCP checksum computed here from scratch,
 *       pseudo-header included (RFC 9293 3.1), whatever the field held. The writer
 *       thread does it, on its own copy of the frame (see "writer thread").
 *   rx  every frame read gets a verdict, RX_CHECKSUM_GOOD / _BAD / _NOT_CHECKED, in one
 *       byte per frame beside the batch (the second argument of the JS callback):
 *       GOOD when the IPv4 header checksum and the TCP or UDP checksum of an
 *       unfragmented IPv4 frame verified (a UDP checksum of 0 means none, RFC 768),
 *       BAD when one of them did not. The stack then skips its own verification of
 *       GOOD frames and still checks (and counts) all the others itself.
 * C sums about 8 bytes per cycle here, ten times what the JS checksum reaches; and
 * on the tx side it is not even the JS thread that does it. */

/* The ones' complement sum (RFC 1071) of p[0..len) added to `acc`, not folded yet.
 * RFC 1071 2(B): the sum does not care which byte of a 16-bit word is the high one,
 * so native 32-bit words are added into a 64-bit accumulator (it cannot overflow
 * before 2^32 words) and the folded result is stored in memory order as it is.
 * Every piece summed must start at an even offset of the checksummed data. */
static uint64_t sum_bytes(uint64_t acc, const uint8_t *p, size_t len) {
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    uint32_t w[4];
    memcpy(w, p + i, 16);
    acc += (uint64_t)w[0] + w[1] + w[2] + w[3];
  }
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
  return acc;
}

/* Fold the carries back in (end-around carry): a 16-bit ones' complement sum. */
static uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

/* The Internet checksum of p[0..len): the complement of the sum. */
static uint16_t internet_checksum(const uint8_t *p, size_t len) {
  return (uint16_t)~fold(sum_bytes(0, p, len));
}

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned le16(const uint8_t *p) { return p[0] | (unsigned)p[1] << 8; }

/* The sum of the IPv4 pseudo-header (RFC 9293 3.1, RFC 768): source and destination
 * address, zero, protocol, and the TCP/UDP length, as the 12 bytes they would be. */
static uint64_t pseudo_header_sum(const uint8_t *ip, unsigned protocol, unsigned length) {
  uint8_t pseudo[12];
  memcpy(pseudo, ip + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = (uint8_t)protocol;
  pseudo[10] = (uint8_t)(length >> 8);
  pseudo[11] = (uint8_t)length;
  return sum_bytes(0, pseudo, sizeof pseudo);
}

/* Where the layers of an IPv4 frame are, as far as the checksums care. */
typedef struct {
  const uint8_t *ip;
  size_t l4;          /* offset of the TCP/UDP header in the frame */
  unsigned l4_length; /* its length with payload: IP total length less IP header */
  unsigned protocol;
  int fragment;       /* MF set or offset not 0: the L4 checksum spans several frames */
} ipv4_layers;

#define ETH_HDR 14
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17

/* 1 if `f` is an Ethernet frame carrying an IPv4 datagram that fits it (Ethernet
 * padding after it is allowed), with its layers in *out; else 0. */
static int ipv4_frame(const uint8_t *f, size_t len, ipv4_layers *out) {
  if (len < ETH_HDR + 20 || f[12] != 0x08 || f[13] != 0x00) return 0;
  const uint8_t *ip = f + ETH_HDR;
  unsigned ihl = (ip[0] & 0x0f) * 4u, total = be16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || ETH_HDR + (size_t)total > len) return 0;
  out->ip = ip;
  out->l4 = ETH_HDR + ihl;
  out->l4_length = total - ihl;
  out->protocol = ip[9];
  out->fragment = (be16(ip + 6) & 0x3fff) != 0; /* MF flag or fragment offset */
  return 1;
}

/* The verdict on a received frame (see above). `l4_valid`: the virtio_net_hdr said
 * the TCP/UDP checksum is right (DATA_VALID), or the binding has just finished it. */
static uint8_t rx_verdict(const uint8_t *f, size_t len, int l4_valid) {
  ipv4_layers l;
  if (!ipv4_frame(f, len, &l)) return RX_CHECKSUM_NOT_CHECKED;
  if (internet_checksum(l.ip, l.l4 - ETH_HDR) != 0) return RX_CHECKSUM_BAD;
  if (l.fragment) return RX_CHECKSUM_NOT_CHECKED;
  size_t min;
  if (l.protocol == IP_PROTO_TCP) {
    min = 20;
  } else if (l.protocol == IP_PROTO_UDP) {
    min = 8;
  } else {
    return RX_CHECKSUM_NOT_CHECKED; /* ICMP and others: the stack checks them */
  }
  if (l.l4_length < min) return RX_CHECKSUM_NOT_CHECKED; /* malformed: the stack says why */
  if (l4_valid) return RX_CHECKSUM_GOOD;
  if (l.protocol == IP_PROTO_UDP && be16(f + l.l4 + 6) == 0) return RX_CHECKSUM_GOOD; /* none */
  /* A right checksum makes the sum over pseudo-header, header and data all ones. */
  uint64_t acc = sum_bytes(pseudo_header_sum(l.ip, l.protocol, l.l4_length), f + l.l4, l.l4_length);
  return fold(acc) == 0xffff ? RX_CHECKSUM_GOOD : RX_CHECKSUM_BAD;
}

/* Before a frame goes out: the TCP checksum of an unfragmented IPv4/TCP frame.
 * `partial` (a NEEDS_CSUM super-frame of an offload device): only the folded,
 * uncomplemented pseudo-header sum, TCP length of the whole super-segment, as Linux
 * leaves it for a device (the kernel finishes it per segment, or never verifies it
 * when it delivers locally). Else, with `full` (tx checksum offload on), the whole
 * checksum. Both from scratch: what the field held does not matter. */
static void tx_checksum(uint8_t *f, size_t len, int partial, int full) {
  ipv4_layers l;
  if (!ipv4_frame(f, len, &l) || l.fragment || l.protocol != IP_PROTO_TCP || l.l4_length < 20)
    return;
  uint8_t *field = f + l.l4 + 16;
  uint64_t pseudo = pseudo_header_sum(l.ip, IP_PROTO_TCP, l.l4_length);
  uint16_t sum;
  if (partial) {
    sum = fold(pseudo);
  } else if (full) {
    memset(field, 0, 2);
    sum = (uint16_t)~fold(sum_bytes(pseudo, f + l.l4, l.l4_length));
  } else {
    return;
  }
  memcpy(field, &sum, 2);
}

/* Handle the virtio_net_hdr of a received frame. Returns -1 when the header does not
 * fit the frame (the frame is dropped), 1 when the TCP/UDP checksum is known right
 * (DATA_VALID, or NEEDS_CSUM finished here), else 0. */
static int vnet_receive(tap_device *dev, const uint8_t *vnet, uint8_t *frame, size_t len) {
  if (vnet[1] != VIRTIO_NET_HDR_GSO_NONE) dev->rx_super_frames++;
  if (vnet[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    size_t start = le16(vnet + 6), field = start + le16(vnet + 8);
    if (field + 2 > len) return -1;
    /* The field already holds the pseudo-header sum: summing from csum_start over
     * everything, that field included, gives the finished checksum. */
    uint16_t sum = internet_checksum(frame + start, len - start);
    /* RFC 768: a UDP checksum that computes to 0 is sent as all ones (0 = none). */
    if (sum == 0 && le16(vnet + 8) == 6) sum = 0xffff;
    memcpy(frame + field, &sum, 2);
    dev->rx_csum_completed++;
    return 1;
  }
  return (vnet[0] & VIRTIO_NET_HDR_F_DATA_VALID) ? 1 : 0;
}

/* ------------------------------------------------------------------- read */

/* Read every ready frame into `b` after those it holds, up to TAP_MAX_BATCH frames
 * or until less than TAP_READ_BUFFER bytes are left (each read is offered at least
 * that much, so no frame can be truncated); stops at EAGAIN. Sets b->fatal when the
 * device failed. Checksums are verified here, frame by frame (see "checksums"). */
static void read_frames(tap_device *dev, rx_batch *b) {
  size_t used = b->count > 0 ? b->ends[b->count - 1] : 0;
  while (!b->fatal && b->count < TAP_MAX_BATCH && TAP_SLAB - used >= TAP_READ_BUFFER) {
    uint8_t *frame = b->bytes + used;
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
      b->fatal = errno; /* e.g. EBADFD: the interface was deleted under us */
      break;
    }
    if (n == 0) break;
    int l4_valid = 0;
    if (dev->offload) {
      if (n < VNET_HDR_LEN || (l4_valid = vnet_receive(dev, vnet, frame, (size_t)n - VNET_HDR_LEN)) < 0) {
        dev->rx_bad_vnet++; /* dropped, like a frame with a bad checksum */
        continue;
      }
      n -= VNET_HDR_LEN;
    }
    if (dev->rx_csum) {
      uint8_t verdict = rx_verdict(frame, (size_t)n, l4_valid);
      b->verdicts[b->count] = verdict;
      if (verdict == RX_CHECKSUM_GOOD) dev->rx_csum_good++;
      if (verdict == RX_CHECKSUM_BAD) dev->rx_csum_bad++;
    }
    b->ends[b->count++] = (uint32_t)(used += (size_t)n);
  }
}

/* JS thread: hand batch `b` to the receiver in one call, then report a read failure
 * once (unless the receiver closed the device meanwhile). */
static void deliver(tap_device *dev, const rx_batch *b) {
  napi_env env = dev->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value frames = NULL;
  if (b->count > 0 && dev->rx_slices_ref == NULL) {
    frames = batch_to_js(dev, b);
  } else if (b->count > 0) {
    uint32_t *out = rx_slices(dev);
    if (out != NULL) frames = batch_to_js_slices(dev, b, out);
  }
  napi_value verdicts = NULL;
  if (frames != NULL && dev->rx_csum &&
      napi_create_buffer_copy(env, b->count, b->verdicts, NULL, &verdicts) != napi_ok)
    frames = NULL;
  if (frames != NULL) {
    dev->rx_frames += b->count;
    dev->rx_batches++;
    call_js(dev, frames, verdicts);
  } else if (b->count > 0) {
    /* Out of memory, or the slices array was detached: the frames are lost, like a
     * full queue would lose them. */
    dev->rx_drops += b->count;
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
      napi_get_and_clear_last_exception(env, &ignored);
  }

  if (b->fatal && !dev->closed) {
    dev->rx_errors++;
    if (dev->poll != NULL) uv_poll_stop(dev->poll);
    char msg[256];
    snprintf(msg, sizeof msg, "tap %s: reading the device failed: %s", dev->name,
             strerror(b->fatal));
    napi_value code, text, error, null_value;
    napi_create_string_utf8(env, errno_code(b->fatal), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, code, text, &error);
    napi_get_null(env, &null_value);
    call_js(dev, null_value, error);
  }
  napi_close_handle_scope(env, scope);
}

/* libuv says the fd is readable: read what is ready, deliver it in one JS call. */
static void on_readable(uv_poll_t *poll, int status, int events) {
  tap_device *dev = (tap_device *)poll->data;
  if (dev == NULL || dev->closed) return;
  rx_batch *b = &dev->polled;
  b->count = 0;
  b->fatal = status < 0 ? -status : 0;
  read_frames(dev, b);
  deliver(dev, b);
}

static napi_value tap_start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  tap_device *dev = device_args(env, info, 3, argv);
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
  bool slices = false;
  napi_get_value_bool(env, argv[2], &slices);
  napi_value slices_array = NULL;
  if (slices) {
    napi_value ab;
    void *data;
    NAPI_CALL(env, napi_create_arraybuffer(env, (1 + 3 * TAP_MAX_BATCH) * 4, &data, &ab));
    NAPI_CALL(env, napi_create_typedarray(env, napi_uint32_array, 1 + 3 * TAP_MAX_BATCH, ab, 0,
                                          &slices_array));
    NAPI_CALL(env, napi_create_reference(env, slices_array, 1, &dev->rx_slices_ref));
  }
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
  return slices_array;
}

/* ------------------------------------------------------------------ write
 *
 * One write() is one frame. The fd is non-blocking. On an offload device the frame
 * goes out behind its virtio_net_hdr (`vnet`; NULL: all zeros, a finished frame that
 * needs nothing done), in one writev. */
static ssize_t write_once(tap_device *dev, const uint8_t *vnet, const void *data, size_t len) {
  static const uint8_t plain[VNET_HDR_LEN];
  if (!dev->offload) return write(dev->fd, data, len);
  struct iovec iov[2] = {{(void *)(vnet ? vnet : plain), VNET_HDR_LEN}, {(void *)data, len}};
  return writev(dev->fd, iov, 2);
}

static int needs_partial(const uint8_t *vnet) {
  return vnet != NULL && (vnet[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
}

static void count_sent(tap_device *dev, const uint8_t *vnet) {
  stat_add(&dev->tx_frames, 1);
  if (vnet != NULL && vnet[1] != VIRTIO_NET_HDR_GSO_NONE) stat_add(&dev->tx_super_frames, 1);
}

/* Without a writer thread (open(..., { writerThread: false })): the frame goes out
 * from the JS thread at once. If the kernel cannot take it now (EAGAIN) it is dropped
 * and counted, never waited for. A frame whose checksum we fill is copied first: the
 * caller's bytes are not ours to change. */
static int write_now(tap_device *dev, const uint8_t *vnet, const uint8_t *data, size_t len,
                     int finish) {
  if ((finish || needs_partial(vnet)) && len <= TAP_READ_BUFFER) {
    memcpy(dev->tx_scratch, data, len);
    tx_checksum(dev->tx_scratch, len, needs_partial(vnet), finish);
    data = dev->tx_scratch;
  }
  for (;;) {
    if (write_once(dev, vnet, data, len) >= 0) {
      count_sent(dev, vnet);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      stat_add(&dev->tx_drops, 1);
    } else {
      stat_add(&dev->tx_errors, 1); /* e.g. EINVAL for a frame shorter than an Ethernet header */
    }
    return 0;
  }
}

/* ---------------------------------------------------------- writer thread
 *
 * A write() into a TAP device is expensive: the kernel takes the frame through its
 * whole receive path inside our syscall (for TCP, down to waking the receiving
 * socket). Profiles showed about a third of the JS thread's time there. So by
 * default (writerThread: true) write() and writeBatch() only COPY the frames into a
 * ring and ring a doorbell; a thread of our own, one per device, takes them out,
 * finishes their checksums (see "checksums") and writes them. On two cores, the JS
 * thread builds the next segments while the writer thread and the kernel deliver
 * the last ones.
 *
 *   JS thread (producer)                      writer thread (consumer)
 *   copy record(s) at head                    loop: record at tail?
 *   publish head (atomic), doorbell           checksum, write() (EAGAIN: poll POLLOUT)
 *     if the writer sleeps                    publish tail (atomic)
 *                                             nothing left: sleep on the doorbell
 *
 * The ring is bounded (TAP_RING_BYTES): a frame that does not fit is dropped and
 * counted in txDrops, as a NIC's full queue drops; TCP sees the loss and slows down.
 * A record is a 16-byte header (frame length, virtio_net_hdr) and the frame, padded
 * to 16 bytes, always contiguous: where one would not fit before the end, a WRAP
 * record sends the reader back to the start. head and tail only grow, so
 * head - tail is the bytes in use and no slot needs to stay empty.
 *
 * The doorbell is an eventfd. The writer sets `sleeping` before it looks at head
 * a last time and sleeps; the producer publishes head before it looks at `sleeping`.
 * With sequentially consistent atomics, one of the two sees the other's write, so a
 * frame is never left waiting for a wake-up that nobody sends (at worst the writer
 * wakes once for nothing). A busy writer is never woken: no syscall per batch.
 *
 * Only the JS thread calls N-API; the writer thread touches the ring, the fd and the
 * tx_* counters (atomics). close() sets `stop`, rings, and joins the thread, which
 * first writes everything queued (giving a kernel that keeps refusing at most
 * TAP_FLUSH_MS); only then is the fd closed and the ring freed. */

typedef struct {
  uint32_t len;                 /* frame bytes after this header, or RING_WRAP */
  uint8_t has_vnet;
  uint8_t vnet[VNET_HDR_LEN];
  uint8_t finish;               /* fill in the TCP checksum (see send_frames) */
} ring_record;                  /* 16 bytes */
_Static_assert(sizeof(ring_record) == 16, "a ring record header is 16 bytes (RING_ALIGN)");
#define RING_WRAP UINT32_MAX
#define RING_ALIGN 16u

static size_t record_size(size_t len) {
  return (sizeof(ring_record) + len + RING_ALIGN - 1) & ~(size_t)(RING_ALIGN - 1);
}

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void drain_doorbell(tap_writer *w) {
  uint64_t ignored;
  if (read(w->wake, &ignored, sizeof ignored) < 0) { /* EAGAIN: nothing rang */ }
}

/* Write one frame of the ring; on EAGAIN wait until the kernel can take it (POLLOUT),
 * but once close() asked us to stop, not past `*deadline`. */
static void writer_send(tap_device *dev, tap_writer *w, const uint8_t *vnet, uint8_t *frame,
                        size_t len, int finish, int64_t *deadline) {
  tx_checksum(frame, len, needs_partial(vnet), finish);
  for (;;) {
    if (write_once(dev, vnet, frame, len) >= 0) {
      count_sent(dev, vnet);
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
      stat_add(&dev->tx_errors, 1);
      return;
    }
    int stopping = __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
    if (stopping) {
      if (*deadline < 0) *deadline = now_ms() + TAP_FLUSH_MS;
      if (now_ms() >= *deadline) {
        stat_add(&dev->tx_drops, 1);
        return;
      }
    }
    struct pollfd p[2] = {{dev->fd, POLLOUT, 0}, {w->wake, POLLIN, 0}};
    if (poll(p, 2, stopping ? 10 : 100) > 0 && (p[1].revents & POLLIN)) drain_doorbell(w);
  }
}

static void *writer_main(void *arg) {
  tap_device *dev = (tap_device *)arg;
  tap_writer *w = dev->writer;
  uint64_t tail = w->tail;
  int64_t deadline = -1;
  for (;;) {
    uint64_t head = __atomic_load_n(&w->head, __ATOMIC_ACQUIRE);
    if (tail == head) {
      if (__atomic_load_n(&w->stop, __ATOMIC_SEQ_CST)) break;
      __atomic_store_n(&w->sleeping, 1, __ATOMIC_SEQ_CST);
      if (__atomic_load_n(&w->head, __ATOMIC_SEQ_CST) == tail &&
          !__atomic_load_n(&w->stop, __ATOMIC_SEQ_CST)) {
        struct pollfd p = {w->wake, POLLIN, 0};
        poll(&p, 1, -1);
        drain_doorbell(w);
      }
      __atomic_store_n(&w->sleeping, 0, __ATOMIC_SEQ_CST);
      continue;
    }
    size_t pos = (size_t)(tail % TAP_RING_BYTES);
    ring_record *r = (ring_record *)(w->bytes + pos);
    if (r->len == RING_WRAP) {
      tail += TAP_RING_BYTES - pos;
    } else {
      writer_send(dev, w, r->has_vnet ? r->vnet : NULL, (uint8_t *)(r + 1), r->len, r->finish,
                  &deadline);
      tail += record_size(r->len);
      /* Release: whoever reads `frames` with acquire and finds this frame gone also
       * sees the tx counter writer_send just added for it (stats(), flush()). */
      __atomic_fetch_sub(&w->frames, 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&w->tail, tail, __ATOMIC_RELEASE);
  }
  return NULL;
}

/* Copy one frame into the ring after *head (not visible to the writer until
 * ring_publish). 0 if the ring has no room for it now. */
static int ring_put(tap_writer *w, uint64_t *head, const uint8_t *vnet, const void *data,
                    size_t len, int finish) {
  size_t need = record_size(len);
  uint64_t tail = __atomic_load_n(&w->tail, __ATOMIC_ACQUIRE);
  size_t pos = (size_t)(*head % TAP_RING_BYTES);
  size_t pad = pos + need > TAP_RING_BYTES ? TAP_RING_BYTES - pos : 0;
  if (*head - tail + pad + need > TAP_RING_BYTES) return 0;
  if (pad) {
    ((ring_record *)(w->bytes + pos))->len = RING_WRAP; /* at least 16 bytes are left */
    *head += pad;
    pos = 0;
  }
  ring_record *r = (ring_record *)(w->bytes + pos);
  r->len = (uint32_t)len;
  r->has_vnet = vnet != NULL;
  r->finish = (uint8_t)finish;
  if (vnet != NULL) memcpy(r->vnet, vnet, VNET_HDR_LEN);
  memcpy(r + 1, data, len);
  *head += need;
  return 1;
}

/* Make the records up to `head` visible to the writer, and wake it if it sleeps. */
static void ring_publish(tap_writer *w, uint64_t head, uint32_t frames) {
  if (frames == 0) return;
  __atomic_fetch_add(&w->frames, frames, __ATOMIC_RELAXED);
  __atomic_store_n(&w->head, head, __ATOMIC_SEQ_CST);
  if (__atomic_exchange_n(&w->sleeping, 0, __ATOMIC_SEQ_CST)) {
    uint64_t one = 1;
    if (write(w->wake, &one, sizeof one) < 0) { /* the counter is full: it rings anyway */ }
  }
}

/* Start the writer thread of a new device. Returns 0 or an errno. */
static int writer_start(tap_device *dev) {
  tap_writer *w = calloc(1, sizeof *w);
  if (w == NULL) return ENOMEM;
  w->bytes = malloc(TAP_RING_BYTES);
  w->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->bytes == NULL || w->wake < 0) {
    int err = w->bytes == NULL ? ENOMEM : errno;
    if (w->wake >= 0) close(w->wake);
    free(w->bytes);
    free(w);
    return err;
  }
  dev->writer = w;
  /* Signals stay with the JS thread: the writer thread blocks them all. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&w->thread, NULL, writer_main, dev);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    dev->writer = NULL;
    close(w->wake);
    free(w->bytes);
    free(w);
    return rc;
  }
  pthread_setname_np(w->thread, "tap-writer");
  w->started = 1;
  return 0;
}

/* close(): let the writer flush what is queued, join it, free the ring. */
static void writer_stop(tap_device *dev) {
  tap_writer *w = dev->writer;
  if (w == NULL) return;
  __atomic_store_n(&w->stop, 1, __ATOMIC_SEQ_CST);
  uint64_t one = 1;
  if (write(w->wake, &one, sizeof one) < 0) { /* it rings anyway */ }
  if (w->started) pthread_join(w->thread, NULL);
  dev->writer = NULL;
  close(w->wake);
  free(w->bytes);
  free(w);
}

/* Whether the kernel could take a frame of `len` bytes at all: the TAP driver refuses
 * one shorter than an Ethernet header (EINVAL), and none is longer than the largest
 * MTU plus its header. Refused here, at once, so the caller learns it (txErrors). */
static int frame_length_ok(tap_device *dev, size_t len) {
  if (len >= ETH_HDR && len <= TAP_READ_BUFFER) return 1;
  stat_add(&dev->tx_errors, 1);
  return 0;
}

/* Queue (writer thread) or write (none) frames[0..count); how many were taken.
 * `finish`: the caller left their TCP checksums to us (writeBatch's finishChecksums;
 * only the stack right above the link asks, never middleware: a frame a fault
 * injector corrupted must reach the kernel as corrupted). Honoured only with tx
 * checksum offload on (open's txChecksum). */
static uint32_t send_frames(tap_device *dev, const uint8_t *vnet, void **data, size_t *lens,
                            uint32_t count, int finish) {
  uint32_t taken = 0;
  finish = finish && dev->tx_csum;
  if (dev->writer == NULL) {
    for (uint32_t i = 0; i < count; i++)
      if (frame_length_ok(dev, lens[i]))
        taken += write_now(dev, vnet ? vnet + (size_t)i * VNET_HDR_LEN : NULL, data[i], lens[i],
                           finish);
    return taken;
  }
  tap_writer *w = dev->writer;
  uint64_t head = w->head; /* only this thread writes it */
  for (uint32_t i = 0; i < count; i++) {
    if (!frame_length_ok(dev, lens[i])) {
      continue;
    } else if (ring_put(w, &head, vnet ? vnet + (size_t)i * VNET_HDR_LEN : NULL, data[i], lens[i],
                       finish)) {
      taken++;
    } else {
      stat_add(&dev->tx_drops, 1); /* the ring is full: dropped, as a full queue drops */
    }
  }
  ring_publish(w, head, taken);
  return taken;
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
    stat_add(&dev->tx_errors, 1);
  } else {
    ok = send_frames(dev, vnet, &data, &len, 1, 0) == 1;
  }
  NAPI_CALL(env, napi_get_boolean(env, ok, &result));
  return result;
}

/* Frames of one writeBatch() call are gathered in groups of this many. */
#define WRITE_GROUP 64

/* A pointer into JS memory (get_bytes, napi_get_arraybuffer_info) stays valid only
 * until JS runs again: JS could detach the ArrayBuffer (transfer it away) and let it be
 * freed. napi_get_element can run JS (a getter on an index, a Proxy), so writeBatch and
 * writeSlices fetch every element first and look up the memory after that. */

static napi_value tap_write_batch(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  tap_device *dev = device_args(env, info, 4, argv);
  if (dev == NULL) return NULL;
  bool is_array = false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "tap: writeBatch(handle, frames) needs an array");
    return NULL;
  }
  uint32_t length = 0, written = 0;
  const uint8_t *vnet;
  NAPI_CALL(env, napi_get_array_length(env, argv[1], &length));
  bool finish = false; /* stays false unless the argument is true */
  napi_get_value_bool(env, argv[3], &finish);
  napi_value elements[WRITE_GROUP];
  void *data[WRITE_GROUP];
  size_t lens[WRITE_GROUP];
  for (uint32_t first = 0; first < length; first += WRITE_GROUP) {
    uint32_t n = length - first < WRITE_GROUP ? length - first : WRITE_GROUP;
    for (uint32_t i = 0; i < n; i++)
      NAPI_CALL(env, napi_get_element(env, argv[1], first + i, &elements[i]));
    /* No JS runs from here to send_frames: the pointers stay valid (see above). */
    if (!get_vnet_headers(env, argv[2], length, &vnet)) return NULL;
    for (uint32_t i = 0; i < n; i++) {
      if (!get_bytes(env, elements[i], &data[i], &lens[i])) {
        napi_throw_type_error(env, NULL, "tap: writeBatch: every frame must be a Uint8Array");
        return NULL;
      }
    }
    if (dev->closed) {
      stat_add(&dev->tx_errors, n);
      continue;
    }
    written += send_frames(dev, vnet ? vnet + (size_t)first * VNET_HDR_LEN : NULL, data, lens, n,
                           finish);
  }
  NAPI_CALL(env, napi_create_uint32(env, written, &result));
  return result;
}

/* writeSlices(handle, buffers, slices, count, vnetHeaders?, finishChecksums?): the same
 * as writeBatch, described so that it costs a handful of N-API calls per batch instead
 * of several per frame. The stack carves its frames one after the other from a few big
 * slabs (src/stack/frame-allocator.ts), so a batch lies in one or two ArrayBuffers:
 * `buffers` lists the distinct ArrayBuffers the batch touches, and `slices` (a
 * Uint32Array, reused by the caller) holds three numbers per frame: the index of its
 * buffer in `buffers`, its byte offset there, its length. We ask for each buffer's
 * memory once (napi_get_arraybuffer_info) and copy every frame from there. */
#define SLICE_BUFFERS 16

static napi_value tap_write_slices(napi_env env, napi_callback_info info) {
  napi_value argv[6], result;
  tap_device *dev = device_args(env, info, 6, argv);
  if (dev == NULL) return NULL;
  bool is_array = false;
  uint32_t nbuf = 0, count = 0, written = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &nbuf) != napi_ok || nbuf > SLICE_BUFFERS) {
    napi_throw_type_error(env, NULL, "tap: writeSlices needs an array of at most 16 ArrayBuffers");
    return NULL;
  }
  NAPI_CALL(env, napi_get_value_uint32(env, argv[3], &count));
  napi_value elements[SLICE_BUFFERS];
  for (uint32_t b = 0; b < nbuf; b++) NAPI_CALL(env, napi_get_element(env, argv[1], b, &elements[b]));
  /* No JS runs from here to the last send_frames: the pointers stay valid (see above). */
  napi_typedarray_type type;
  size_t nslices;
  void *slice_data;
  bool is_typed = false;
  if (napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[2], &type, &nslices, &slice_data, NULL, NULL) != napi_ok ||
      type != napi_uint32_array || nslices < (size_t)count * 3) {
    napi_throw_type_error(env, NULL, "tap: writeSlices needs a Uint32Array of 3 numbers per frame");
    return NULL;
  }
  const uint32_t *slices = slice_data;
  uint8_t *base[SLICE_BUFFERS];
  size_t size[SLICE_BUFFERS];
  for (uint32_t b = 0; b < nbuf; b++) {
    void *data = NULL;
    if (napi_get_arraybuffer_info(env, elements[b], &data, &size[b]) != napi_ok) {
      napi_throw_type_error(env, NULL, "tap: writeSlices: every buffer must be an ArrayBuffer");
      return NULL;
    }
    base[b] = data;
  }
  const uint8_t *vnet;
  if (!get_vnet_headers(env, argv[4], count, &vnet)) return NULL;
  bool finish = false; /* stays false unless the argument is true */
  napi_get_value_bool(env, argv[5], &finish);
  /* Check every slice before sending any, so a bad call sends nothing. */
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t *s = slices + (size_t)i * 3;
    if (s[0] >= nbuf || (uint64_t)s[1] + s[2] > size[s[0]]) {
      napi_throw_range_error(env, NULL, "tap: writeSlices: a frame lies outside its buffer");
      return NULL;
    }
  }
  void *data[WRITE_GROUP];
  size_t lens[WRITE_GROUP];
  for (uint32_t first = 0; first < count; first += WRITE_GROUP) {
    uint32_t n = count - first < WRITE_GROUP ? count - first : WRITE_GROUP;
    if (dev->closed) {
      stat_add(&dev->tx_errors, n);
      continue;
    }
    for (uint32_t i = 0; i < n; i++) {
      const uint32_t *s = slices + (size_t)(first + i) * 3;
      data[i] = base[s[0]] + s[1];
      lens[i] = s[2];
    }
    written += send_frames(dev, vnet ? vnet + (size_t)first * VNET_HDR_LEN : NULL, data, lens, n,
                           finish);
  }
  NAPI_CALL(env, napi_create_uint32(env, written, &result));
  return result;
}

/* ------------------------------------------------------- stats, ref, close */

static napi_value tap_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, value;
  tap_device *dev = device_args(env, info, 1, argv);
  if (dev == NULL) return NULL;
  /* Read first, with acquire: every frame it no longer counts is in the tx counters
   * read below (writer_main releases it after counting), so "txQueued 0" means the
   * tx counters are final for everything queued so far. */
  uint32_t queued = dev->writer ? __atomic_load_n(&dev->writer->frames, __ATOMIC_ACQUIRE) : 0;
  NAPI_CALL(env, napi_create_object(env, &result));
#define STAT(js_name, field)                                              \
  NAPI_CALL(env, napi_create_double(env, (double)dev->field, &value));    \
  NAPI_CALL(env, napi_set_named_property(env, result, js_name, value));
  STAT("rxFrames", rx_frames)
  STAT("rxBatches", rx_batches)
  STAT("rxErrors", rx_errors)
  STAT("rxDrops", rx_drops)
  STAT("rxChecksumGood", rx_csum_good)
  STAT("rxChecksumBad", rx_csum_bad)
  STAT("rxSuperFrames", rx_super_frames)
  STAT("rxChecksumsCompleted", rx_csum_completed)
  STAT("rxBadVnetHeaders", rx_bad_vnet)
#undef STAT
  /* Written by the writer thread: read atomically. */
#define ATOMIC_STAT(js_name, number)                                          \
  NAPI_CALL(env, napi_create_double(env, (double)(number), &value));      \
  NAPI_CALL(env, napi_set_named_property(env, result, js_name, value));
  ATOMIC_STAT("txFrames", stat_get(&dev->tx_frames))
  ATOMIC_STAT("txDrops", stat_get(&dev->tx_drops))
  ATOMIC_STAT("txErrors", stat_get(&dev->tx_errors))
  ATOMIC_STAT("txSuperFrames", stat_get(&dev->tx_super_frames))
  ATOMIC_STAT("txQueued", queued)
#undef ATOMIC_STAT
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
      {"writeSlices", NULL, tap_write_slices, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, tap_stats, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, tap_ref, NULL, NULL, NULL, napi_default, NULL},
      {"pool", NULL, tap_pool, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, tap_close, NULL, NULL, NULL, napi_default, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
