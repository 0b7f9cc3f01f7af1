/*
 * count_alloc: an LD_PRELOAD shared object that counts the heap allocations of a process.
 *
 *   cc -O2 -shared -fPIC -o libcount_alloc.so bench/tools/count_alloc.c -ldl
 *   COUNT_ALLOC_OUT=/tmp/allocs.jsonl LD_PRELOAD=$PWD/libcount_alloc.so CLIENT ARGS...
 *
 * It interposes malloc, calloc, realloc, reallocarray, free, posix_memalign, aligned_alloc,
 * memalign, valloc and pvalloc, counts each call with a relaxed atomic counter and forwards
 * it to the next definition (glibc's) found with dlsym(RTLD_NEXT). C++ operator new/delete
 * in libstdc++ call malloc/free (aligned new calls aligned_alloc), so they are counted too.
 *
 * When the process exits (normally, through exit() or a return from main) it appends one line
 *
 *   {"mallocs":A,"callocs":B,"reallocs":C,"frees":D,"bytes":E}
 *
 * to the file named by COUNT_ALLOC_OUT (read at load time; created if missing), or writes it
 * to stderr when that is unset or empty. The line is written with open/write, not stdio.
 * Only in the stderr case, the object holds one extra descriptor (a close-on-exec duplicate
 * of stderr numbered 1000 or above when the limit allows) so that the line still gets out
 * of programs that close stderr at exit; with COUNT_ALLOC_OUT it holds none.
 *
 *   mallocs   calls of malloc and of the aligned allocators (posix_memalign, aligned_alloc,
 *             memalign, valloc, pvalloc)
 *   callocs   calls of calloc
 *   reallocs  calls of realloc and reallocarray (including realloc(NULL, n) and realloc(p, 0))
 *   frees     calls of free with a non-NULL pointer (free(NULL) is not counted)
 *   bytes     the sum of the sizes asked for by all of the above (calloc: n * size; realloc:
 *             the new size), not of what is live at exit
 *
 * Caveats: a process that ends with _exit(), by a signal or through exec without returning
 * writes nothing; a forked child that does not exec writes nothing (its counts would repeat
 * its parent's); every program started with LD_PRELOAD set (a wrapper shell, a child it
 * execs) writes its own line, so run the client directly. Allocations made after this
 * object's destructor has run (late atexit handlers, other destructors) are not in the line.
 *
 * While dlsym itself runs (it may call calloc/malloc), allocations are served from a small
 * static arena; free() ignores pointers into it and realloc() moves them to the real heap.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*reallocarray_fn)(void *, size_t, size_t);
typedef void (*free_fn)(void *);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*aligned_alloc_fn)(size_t, size_t);
typedef void *(*memalign_fn)(size_t, size_t);
typedef void *(*valloc_fn)(size_t);

static malloc_fn real_malloc;
static calloc_fn real_calloc;
static realloc_fn real_realloc;
static reallocarray_fn real_reallocarray;
static free_fn real_free;
static posix_memalign_fn real_posix_memalign;
static aligned_alloc_fn real_aligned_alloc;
static memalign_fn real_memalign;
static valloc_fn real_valloc;
static valloc_fn real_pvalloc;

/* 0: not started, 1: resolving the real functions, 2: ready. */
static atomic_int init_state;

/* Counters, each on its own cache line so that threads bumping different ones do not share. */
struct counter {
    alignas(64) atomic_ullong value;
};
static struct counter n_mallocs, n_callocs, n_reallocs, n_frees, n_bytes;

static inline void count(struct counter *c, unsigned long long by)
{
    atomic_fetch_add_explicit(&c->value, by, memory_order_relaxed);
}

/* ---- the bootstrap arena ------------------------------------------------------------- */

#define ARENA_SIZE (64 * 1024)
#define ARENA_HEADER 16 /* bytes before each block; the block's size is stored there */
static alignas(64) unsigned char arena[ARENA_SIZE];
static atomic_size_t arena_used;

static inline int in_arena(const void *p)
{
    return (const unsigned char *)p >= arena && (const unsigned char *)p < arena + ARENA_SIZE;
}

static void die(const char *message)
{
    ssize_t ignored = write(2, message, strlen(message));
    (void)ignored;
    abort();
}

/* A zeroed block of `size` bytes aligned to `align` (a power of two, at least 16). */
static void *arena_alloc(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    size_t used = atomic_load_explicit(&arena_used, memory_order_relaxed);
    for (;;) {
        size_t start = (used + ARENA_HEADER + align - 1) & ~(align - 1);
        size_t end = start + ((size + 15) & ~(size_t)15);
        if (end > ARENA_SIZE || end < start)
            die("count_alloc: bootstrap arena exhausted\n");
        if (atomic_compare_exchange_weak_explicit(&arena_used, &used, end, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            memcpy(arena + start - sizeof(size_t), &size, sizeof(size_t));
            return arena + start; /* static storage: already zero, never reused */
        }
    }
}

static size_t arena_block_size(const void *p)
{
    size_t size;
    memcpy(&size, (const unsigned char *)p - sizeof(size_t), sizeof(size_t));
    return size;
}

/* ---- resolving the real functions ---------------------------------------------------- */

static void *next_symbol(const char *name, int required)
{
    void *sym = dlsym(RTLD_NEXT, name);
    if (!sym && required) {
        static const char prefix[] = "count_alloc: cannot find the real ";
        ssize_t ignored = write(2, prefix, sizeof prefix - 1);
        ignored = write(2, name, strlen(name));
        (void)ignored;
        die("\n");
    }
    return sym;
}

/* Returns 1 when the real functions can be used, 0 while they are being resolved (by this
 * thread, from inside dlsym, or by another thread): then the caller uses the arena. */
static int ready_slow(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&init_state, &expected, 1))
        return expected == 2;
    real_malloc = (malloc_fn)next_symbol("malloc", 1);
    real_calloc = (calloc_fn)next_symbol("calloc", 1);
    real_realloc = (realloc_fn)next_symbol("realloc", 1);
    real_free = (free_fn)next_symbol("free", 1);
    real_reallocarray = (reallocarray_fn)next_symbol("reallocarray", 0);
    real_posix_memalign = (posix_memalign_fn)next_symbol("posix_memalign", 1);
    real_aligned_alloc = (aligned_alloc_fn)next_symbol("aligned_alloc", 0);
    real_memalign = (memalign_fn)next_symbol("memalign", 0);
    real_valloc = (valloc_fn)next_symbol("valloc", 0);
    real_pvalloc = (valloc_fn)next_symbol("pvalloc", 0);
    atomic_store(&init_state, 2);
    return 1;
}

static inline int ready(void)
{
    if (__builtin_expect(atomic_load_explicit(&init_state, memory_order_acquire) == 2, 1))
        return 1;
    return ready_slow();
}

/* ---- the interposed functions -------------------------------------------------------- */

EXPORT void *malloc(size_t size)
{
    count(&n_mallocs, 1);
    count(&n_bytes, size);
    if (!ready())
        return arena_alloc(size, 16);
    return real_malloc(size);
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        total = SIZE_MAX;
    count(&n_callocs, 1);
    count(&n_bytes, total);
    if (!ready()) {
        if (total == SIZE_MAX) {
            errno = ENOMEM;
            return NULL;
        }
        return arena_alloc(total, 16);
    }
    return real_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t size)
{
    count(&n_reallocs, 1);
    count(&n_bytes, size);
    if (!ready() || (p && in_arena(p))) {
        /* Arena blocks never move back into the arena once the real functions are known. */
        void *q = ready() ? real_malloc(size) : arena_alloc(size, 16);
        if (q && p) {
            size_t old = arena_block_size(p);
            memcpy(q, p, old < size ? old : size);
        }
        return q;
    }
    return real_realloc(p, size);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        count(&n_reallocs, 1);
        errno = ENOMEM;
        return NULL;
    }
    if (ready() && real_reallocarray && !(p && in_arena(p))) {
        count(&n_reallocs, 1);
        count(&n_bytes, total);
        return real_reallocarray(p, n, size);
    }
    return realloc(p, total);
}

EXPORT void free(void *p)
{
    if (!p)
        return;
    count(&n_frees, 1);
    if (in_arena(p))
        return;
    if (!ready())
        return; /* cannot happen: only the arena hands out memory before that */
    real_free(p);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    count(&n_mallocs, 1);
    count(&n_bytes, size);
    if (!ready()) {
        if (align < sizeof(void *) || (align & (align - 1)))
            return EINVAL;
        *out = arena_alloc(size, align);
        return 0;
    }
    return real_posix_memalign(out, align, size);
}

/* The aligned allocators below that glibc might lack fall back to posix_memalign. */
static void *aligned_fallback(size_t align, size_t size)
{
    void *p = NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    int rc = ready() ? real_posix_memalign(&p, align, size) : (p = arena_alloc(size, align), 0);
    if (rc) {
        errno = rc;
        return NULL;
    }
    return p;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    count(&n_mallocs, 1);
    count(&n_bytes, size);
    if (ready() && real_aligned_alloc)
        return real_aligned_alloc(align, size);
    return aligned_fallback(align, size);
}

EXPORT void *memalign(size_t align, size_t size)
{
    count(&n_mallocs, 1);
    count(&n_bytes, size);
    if (ready() && real_memalign)
        return real_memalign(align, size);
    return aligned_fallback(align, size);
}

EXPORT void *valloc(size_t size)
{
    count(&n_mallocs, 1);
    count(&n_bytes, size);
    if (ready() && real_valloc)
        return real_valloc(size);
    return aligned_fallback((size_t)sysconf(_SC_PAGESIZE), size);
}

EXPORT void *pvalloc(size_t size)
{
    count(&n_mallocs, 1);
    count(&n_bytes, size);
    if (ready() && real_pvalloc)
        return real_pvalloc(size);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return aligned_fallback(page, (size + page - 1) & ~(page - 1));
}

/* ---- the report ---------------------------------------------------------------------- */

static char out_path[PATH_MAX];
static pid_t owner_pid;
/* Without COUNT_ALLOC_OUT: a duplicate of stderr taken at load time, since some programs
 * (GNU coreutils, for one) close stderr in an atexit handler, which runs before the report. */
static int report_fd = -1;

__attribute__((constructor)) static void count_alloc_init(void)
{
    ready();
    owner_pid = getpid();
    const char *path = getenv("COUNT_ALLOC_OUT");
    if (path && *path) {
        size_t len = strlen(path);
        if (len >= sizeof out_path)
            die("count_alloc: COUNT_ALLOC_OUT is too long\n");
        memcpy(out_path, path, len + 1);
    } else {
        report_fd = fcntl(2, F_DUPFD_CLOEXEC, 1000);
        if (report_fd < 0)
            report_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    }
}

static char *put_str(char *at, const char *s)
{
    while (*s)
        *at++ = *s++;
    return at;
}

static char *put_u64(char *at, unsigned long long v)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *at++ = digits[--n];
    return at;
}

__attribute__((destructor)) static void count_alloc_report(void)
{
    if (getpid() != owner_pid)
        return; /* a forked child that did not exec */
    char line[256];
    char *at = line;
    at = put_str(at, "{\"mallocs\":");
    at = put_u64(at, atomic_load(&n_mallocs.value));
    at = put_str(at, ",\"callocs\":");
    at = put_u64(at, atomic_load(&n_callocs.value));
    at = put_str(at, ",\"reallocs\":");
    at = put_u64(at, atomic_load(&n_reallocs.value));
    at = put_str(at, ",\"frees\":");
    at = put_u64(at, atomic_load(&n_frees.value));
    at = put_str(at, ",\"bytes\":");
    at = put_u64(at, atomic_load(&n_bytes.value));
    at = put_str(at, "}\n");

    int fd = report_fd >= 0 ? report_fd : 2;
    if (out_path[0]) {
        do
            fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            static const char msg[] = "count_alloc: cannot open COUNT_ALLOC_OUT; writing to stderr\n";
            ssize_t ignored = write(2, msg, sizeof msg - 1);
            (void)ignored;
            fd = 2;
        }
    }
    /* One write() of a short line in O_APPEND mode lands whole, even with other writers. */
    const char *p = line;
    size_t left = (size_t)(at - line);
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    if (fd != 2)
        close(fd);
    report_fd = -1;
}
