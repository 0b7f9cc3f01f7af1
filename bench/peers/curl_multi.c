/*
 * curl-peer: a benchmark peer for leash-load built on the libcurl multi interface.
 *
 *   curl-peer [-n N] [-c C] [--insecure | --cacert FILE] [--expect-status S] [--expect-bytes B] URL
 *
 * One thread, one multi handle driven by curl_multi_perform/curl_multi_poll, and C easy handles
 * that are recycled (removed and re-added) as soon as their transfer finishes, so exactly C GETs
 * are in flight until N have been issued. The multi handle owns the connection cache, so the
 * recycled handles reuse its keep-alive connections (at most C to the host). Bodies are counted,
 * never stored. At exit one JSON object is printed on stdout.
 *
 * The loop uses curl_multi_poll rather than curl_multi_socket_action over epoll: measured against
 * nginx on loopback (libcurl 7.88) the epoll variant used as much or more CPU at -c 16, 256 and
 * 1024, because connections that go back to the cache are removed from and re-added to the
 * socket set on every request, and libcurl still polls each socket driven by a timer.
 *
 * Build: cc -O2 -o curl-peer bench/peers/curl_multi.c -lcurl
 */
#define _GNU_SOURCE
#include <curl/curl.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

struct transfer {
    CURL* easy;
    uint64_t bytes; /* body bytes received by the current request */
};

static struct {
    CURLM* multi;
    uint64_t requests, issued, completed, ok, failed;
    long expect_status;
    int64_t expect_bytes; /* -1 = any length */
} g = {.expect_bytes = -1};

static void die(const char* msg, const char* arg)
{
    fprintf(stderr, "curl-peer: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(1);
}

static void usage_error(const char* msg, const char* arg)
{
    fprintf(stderr, "curl-peer: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "usage: curl-peer [-n N] [-c C] [--insecure | --cacert FILE] [--expect-status S] "
                    "[--expect-bytes B] URL\n");
    exit(2);
}

static uint64_t parse_u64(const char* name, const char* text, uint64_t min, uint64_t max)
{
    char* end = NULL;
    if (!text || !*text || *text < '0' || *text > '9')
        usage_error("expected a non-negative integer", name);
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < min || v > max)
        usage_error("value out of range or not an integer", name);
    return (uint64_t)v;
}

static size_t on_body(char* data, size_t size, size_t nmemb, void* userp)
{
    (void)data;
    size_t n = size * nmemb;
    ((struct transfer*)userp)->bytes += n;
    return n;
}

static void start(struct transfer* t)
{
    t->bytes = 0;
    ++g.issued;
    CURLMcode rc = curl_multi_add_handle(g.multi, t->easy);
    if (rc != CURLM_OK)
        die("curl_multi_add_handle failed", curl_multi_strerror(rc));
}

/* Accounts for finished transfers and immediately starts the next request on the freed handle. */
static void reap(void)
{
    CURLMsg* msg;
    int left;
    while ((msg = curl_multi_info_read(g.multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL* easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        struct transfer* t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char**)&t);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (result == CURLE_OK && status == g.expect_status
            && (g.expect_bytes < 0 || t->bytes == (uint64_t)g.expect_bytes))
            ++g.ok;
        else
            ++g.failed;
        ++g.completed;
        curl_multi_remove_handle(g.multi, easy);
        if (g.issued < g.requests)
            start(t);
    }
}

static double tv_seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char** argv)
{
    uint64_t concurrency = 16;
    int insecure = 0;
    const char* cacert = NULL;
    const char* url = NULL;
    g.requests = 1000;
    g.expect_status = 200;

    for (int i = 1; i < argc; ++i) {
        const char* arg = argv[i];
        if (arg[0] != '-' || !arg[1]) {
            if (url)
                usage_error("more than one URL", arg);
            url = arg;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            printf("usage: curl-peer [-n N] [-c C] [--insecure | --cacert FILE] [--expect-status S] "
                   "[--expect-bytes B] URL\n");
            return 0;
        }
        if (!strcmp(arg, "--insecure")) {
            insecure = 1;
            continue;
        }
        /* options with a value: "-n N", "-nN", "--opt V", "--opt=V" */
        static const char* const names[] = {"-n", "-c", "--cacert", "--expect-status", "--expect-bytes"};
        const char* value = NULL;
        int which = -1;
        for (int k = 0; k < 5 && which < 0; ++k) {
            size_t len = strlen(names[k]);
            if (strncmp(arg, names[k], len))
                continue;
            if (!arg[len]) {
                if (i + 1 >= argc)
                    usage_error("missing value", arg);
                value = argv[++i];
                which = k;
            } else if (k < 2 || arg[len] == '=') {
                value = arg + len + (arg[len] == '=');
                which = k;
            }
        }
        switch (which) {
        case 0: g.requests = parse_u64("-n", value, 0, UINT64_MAX / 2); break;
        case 1: concurrency = parse_u64("-c", value, 1, 100000); break;
        case 2:
            if (!*value)
                usage_error("--cacert: empty file name", NULL);
            cacert = value;
            break;
        case 3: g.expect_status = (long)parse_u64("--expect-status", value, 100, 999); break;
        case 4: g.expect_bytes = (int64_t)parse_u64("--expect-bytes", value, 0, INT64_MAX); break;
        default: usage_error("unknown option", arg);
        }
    }
    if (!url)
        usage_error("missing URL", NULL);
    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
        usage_error("the URL must start with http:// or https://", url);
    if (insecure && cacert)
        usage_error("--insecure and --cacert are mutually exclusive", NULL);
    if (cacert) {
        FILE* f = fopen(cacert, "r");
        if (!f)
            usage_error("cannot open --cacert file", cacert);
        fclose(f);
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init failed", NULL);
    g.multi = curl_multi_init();
    if (!g.multi)
        die("curl_multi_init failed", NULL);
    curl_multi_setopt(g.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
    curl_multi_setopt(g.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)concurrency);
    curl_multi_setopt(g.multi, CURLMOPT_MAXCONNECTS, (long)concurrency); /* idle cache size */
    curl_multi_setopt(g.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);

    uint64_t nhandles = concurrency < g.requests ? concurrency : g.requests;
    struct transfer* transfers = calloc(nhandles ? nhandles : 1, sizeof *transfers);
    if (!transfers)
        die("out of memory", NULL);
    for (uint64_t i = 0; i < nhandles; ++i) {
        struct transfer* t = &transfers[i];
        CURL* e = t->easy = curl_easy_init();
        if (!e)
            die("curl_easy_init failed", NULL);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char*)t);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_PROXY, ""); /* ignore http_proxy & co. from the environment */
        if (insecure) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        } else if (cacert) {
            curl_easy_setopt(e, CURLOPT_CAINFO, cacert);
            curl_easy_setopt(e, CURLOPT_CAPATH, NULL); /* trust only FILE, not the system store */
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
        }
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < nhandles; ++i)
        start(&transfers[i]);

    int running = 0;
    for (;;) {
        CURLMcode rc = curl_multi_perform(g.multi, &running);
        if (rc != CURLM_OK)
            die("curl_multi_perform failed", curl_multi_strerror(rc));
        uint64_t issued = g.issued;
        reap();
        if (g.completed >= g.requests)
            break;
        if (g.issued != issued)
            continue; /* send the restarted requests now rather than after a poll */
        rc = curl_multi_poll(g.multi, NULL, 0, 1000, NULL);
        if (rc != CURLM_OK)
            die("curl_multi_poll failed", curl_multi_strerror(rc));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    for (uint64_t i = 0; i < nhandles; ++i)
        curl_easy_cleanup(transfers[i].easy);
    curl_multi_cleanup(g.multi);
    free(transfers);

    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double rps = elapsed > 0 ? (double)g.requests / elapsed : 0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"client\":\"curl\",\"requests\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
           ",\"elapsed_s\":%.6f,\"rps\":%.6f,\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,\"peak_rss_kb\":%ld}\n",
           g.requests, g.ok, g.failed, elapsed, rps, tv_seconds(ru.ru_utime), tv_seconds(ru.ru_stime),
           ru.ru_maxrss);
    return 0;
}
