/* The smallest complete GET program in C: `get URL` prints the status and the body, or the
 * error's name. No malloc: `main(void)` keeps wasi-libc from allocating argv, and the URL is
 * fetched into a stack buffer.
 * Build: clang --target=wasm32-wasi -Oz -Wl,--strip-all -I../../guest/c -o get.wasm get.c */
#include <unistd.h>
#include <wasi/api.h>
#include "wasi_experimental_http.h"

static void put(const char *s) { write(1, s, strlen(s)); }

int main(void) {
    char args[4096], *argv[8], buf[1024], digits[4] = "   \n";
    size_t argc, size, n;
    uint16_t status;
    uint32_t handle, err;
    if (__wasi_args_sizes_get(&argc, &size) || argc < 2 || argc > 8 || size > sizeof args ||
        __wasi_args_get((uint8_t **)argv, (uint8_t *)args))
        return 2;
    if ((err = weh_get(argv[1], &status, &handle))) {
        put(weh_error_name(err));
        put("\n");
        return 1;
    }
    for (int i = 2; i >= 0; i--, status /= 10) digits[i] = (char)('0' + status % 10);
    write(1, digits, 4);
    while (!(err = weh_read(handle, buf, sizeof buf, &n)) && n > 0) write(1, buf, n);
    weh_close(handle);
    return err ? 1 : 0;
}
