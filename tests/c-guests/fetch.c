/* The C test guest of tests/tests/c_guest.rs: `fetch MODE URL [ARG...]`. Every mode prints
 * `key: value` lines that the test compares with what its server was told to send.
 *
 *   get URL            status; Content-Type through weh_header with a buffer grown after
 *                      WEH_BUFFER_TOO_SMALL; the body through weh_read_all
 *   post URL           POST with a header block and a body; status and echoed body
 *   headers URL        weh_headers_get_all with a needed-length probe, then a missing header
 *   stream URL BUFSIZE the body through weh_read into one buffer: byte count and FNV-1a
 *   limit URL N        N+1 requests without closing, then close one and request again
 *   error URL          a forbidden header and a denied URL: code, name, message
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wasi_experimental_http.h"

static char body[64 * 1024];

static int fail(const char *what, uint32_t err) {
    printf("error: %s %u %s: %s\n", what, (unsigned)err, weh_error_name(err), weh_strerror(err));
    return 1;
}

static int get(const char *url) {
    uint16_t status;
    uint32_t h, err;
    char small[4], *big;
    size_t len = 0, n = 0;
    if ((err = weh_get(url, &status, &h))) return fail("req", err);
    printf("status: %u\n", (unsigned)status);
    err = weh_header(h, "Content-Type", small, sizeof small, &len);
    printf("first-try: %u %s needed %zu\n", (unsigned)err, weh_error_name(err), len);
    if (err == WEH_BUFFER_TOO_SMALL) {
        big = malloc(len + 1);
        if (!big) return 1;
        err = weh_header(h, "Content-Type", big, len + 1, &len);
        if (err) return fail("header", err);
        printf("content-type: %s (%zu)\n", big, len);
        free(big);
    }
    if ((err = weh_read_all(h, body, sizeof body, &n))) return fail("body", err);
    printf("body: %.*s\n", (int)n, body);
    return weh_close(h) ? 1 : 0;
}

static int post(const char *url) {
    static const char msg[] = "Testing with a request body. Does this actually work?";
    uint16_t status;
    uint32_t h, err;
    size_t n = 0;
    err = weh_request(url, "POST", "Content-Type:text/plain\nabc:def\n", msg, sizeof msg - 1,
                      &status, &h);
    if (err) return fail("req", err);
    printf("status: %u\n", (unsigned)status);
    if ((err = weh_read_all(h, body, sizeof body, &n))) return fail("body", err);
    printf("body: %.*s\n", (int)n, body);
    return weh_close(h) ? 1 : 0;
}

static int headers(const char *url) {
    uint16_t status;
    uint32_t h, err, needed = 0, written = 0;
    char value[8];
    if ((err = weh_get(url, &status, &h))) return fail("req", err);
    /* A zero-length probe reports the needed length (abi.md, header_get NOTES). */
    err = weh_headers_get_all(h, (uint8_t *)body, 0, &needed);
    printf("probe: %u needed %u\n", (unsigned)err, (unsigned)needed);
    err = weh_headers_get_all(h, (uint8_t *)body, needed, &written);
    if (err) return fail("headers", err);
    printf("block: %u bytes\n%.*s", (unsigned)written, (int)written, body);
    err = weh_header(h, "X-Missing", value, sizeof value, NULL);
    printf("missing: %u %s\n", (unsigned)err, weh_error_name(err));
    printf("close: %u\n", (unsigned)weh_close(h));
    printf("close-again: %u %s\n", (unsigned)weh_close(h), weh_error_name(weh_close(h)));
    return 0;
}

static int stream(const char *url, size_t cap) {
    uint16_t status;
    uint32_t h, err;
    uint64_t hash = 0xcbf29ce484222325ull, total = 0;
    size_t n;
    char *buf = malloc(cap);
    if (!buf) return 1;
    if ((err = weh_get(url, &status, &h))) return fail("req", err);
    while ((err = weh_read(h, buf, cap, &n)) == WEH_SUCCESS && n > 0) {
        for (size_t i = 0; i < n; i++) hash = (hash ^ (uint8_t)buf[i]) * 0x100000001b3ull;
        total += n;
    }
    if (err) return fail("body", err);
    printf("status: %u\nbody-bytes: %llu\nbody-fnv: %016llx\n", (unsigned)status,
           (unsigned long long)total, (unsigned long long)hash);
    return weh_close(h) ? 1 : 0;
}

static int limit(const char *url, int want) {
    uint16_t status;
    uint32_t handles[64], err;
    int open = 0;
    if (want < 1 || want > 63) return 2;
    for (int i = 0; i <= want; i++) {
        err = weh_get(url, &status, &handles[open]);
        if (err) printf("req %d: %u %s\n", i + 1, (unsigned)err, weh_error_name(err));
        else open++;
    }
    printf("open: %d\n", open);
    weh_close(handles[0]);
    err = weh_get(url, &status, &handles[0]);
    printf("after-close: %u\n", (unsigned)err);
    for (int i = 0; i < open; i++) weh_close(handles[i]);
    return 0;
}

static int error(const char *url) {
    uint16_t status = 0xAAAA;
    uint32_t h = 0xAAAAAAAA;
    uint32_t err = weh_request(url, "GET", "Connection:close\n", NULL, 0, &status, &h);
    printf("code: %u\nname: %s\nmessage: %s\n", (unsigned)err, weh_error_name(err), weh_strerror(err));
    printf("outputs-untouched: %s\n", status == 0xAAAA && h == 0xAAAAAAAA ? "yes" : "no");
    err = weh_get("http://192.0.2.1/", &status, &h);
    printf("denied: %u %s\n", (unsigned)err, weh_error_name(err));
    printf("unknown: %s\n", weh_error_name(WEH_LAST + 1));
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *mode = argv[1], *url = argv[2];
    if (!strcmp(mode, "get")) return get(url);
    if (!strcmp(mode, "post")) return post(url);
    if (!strcmp(mode, "headers")) return headers(url);
    if (!strcmp(mode, "stream") && argc > 3) return stream(url, (size_t)atol(argv[3]));
    if (!strcmp(mode, "limit") && argc > 3) return limit(url, atoi(argv[3]));
    if (!strcmp(mode, "error")) return error(url);
    printf("unknown mode %s\n", mode);
    return 2;
}
