;; Re-exports the five wasi_experimental_http imports as wasm functions, so a test can call
;; each host function with any raw (ptr, len) arguments it likes and inspect memory after.
;;
;; The wrappers are real wasm functions (not re-exported imports) on purpose: a host function
;; finds the caller's `memory` through the calling instance, which only exists when wasm code
;; makes the call. Signatures are exactly those of abi.md ("Functions"): all i32.
(module
  (import "wasi_experimental_http" "req"
    (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close"
    (func $close (param i32) (result i32)))
  (import "wasi_experimental_http" "header_get"
    (func $header_get (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "headers_get_all"
    (func $headers_get_all (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read"
    (func $body_read (param i32 i32 i32 i32) (result i32)))

  ;; One 64 KiB page: tests use `mem_size()` for the end of memory.
  (memory (export "memory") 1)

  (func (export "req")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $req (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
               (local.get 5) (local.get 6) (local.get 7) (local.get 8) (local.get 9)))
  (func (export "close") (param i32) (result i32)
    (call $close (local.get 0)))
  (func (export "header_get") (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $header_get (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
                      (local.get 5)))
  (func (export "headers_get_all") (param i32 i32 i32 i32) (result i32)
    (call $headers_get_all (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "body_read") (param i32 i32 i32 i32) (result i32)
    (call $body_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
)
