  ;; The prelude of every generated case module (tests/conformance/src/module.rs).
  ;; Memory map of the one 64 KiB page (more pages only when a case asks):
  ;;   0x0000  iovec and written count for fd_write
  ;;   0x0100  decimal digits scratch
  ;;   0x0200  output locations, unaligned on purpose: status 0x0201, handle 0x0213,
  ;;           written 0x0225
  ;;   0x0300  handles saved by req steps (4 bytes per step)
  ;;   0x0800  label strings
  ;;   0x1000  case data (URLs, methods, header blocks, bodies, names)
  ;;   0x8000  the output buffer of header_get, headers_get_all and body_read (16 KiB)
  ;;   0xE000  stdout buffer (8 KiB), flushed when full and at the end
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_experimental_http" "req" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (import "wasi_experimental_http" "header_get" (func $header_get (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "headers_get_all" (func $headers_get_all (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func $body_read (param i32 i32 i32 i32) (result i32)))
  (global $out_len (mut i32) (i32.const 0))

  (func $flush (local $p i32) (local $n i32)
    (local.set $p (i32.const 0xE000))
    (local.set $n (global.get $out_len))
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (i32.store (i32.const 0) (local.get $p))
        (i32.store (i32.const 4) (local.get $n))
        (br_if $done (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br_if $done (i32.eqz (i32.load (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.load (i32.const 8))))
        (local.set $n (i32.sub (local.get $n) (i32.load (i32.const 8))))
        (br $again)))
    (global.set $out_len (i32.const 0)))

  (func $putc (param $c i32)
    (i32.store8 (i32.add (i32.const 0xE000) (global.get $out_len)) (local.get $c))
    (global.set $out_len (i32.add (global.get $out_len) (i32.const 1)))
    (if (i32.ge_u (global.get $out_len) (i32.const 0x2000)) (then (call $flush))))

  (func $puts (param $p i32) (param $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (call $putc (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))

  (func $hexdigit (param $d i32) (result i32)
    (select
      (i32.add (local.get $d) (i32.const 48))
      (i32.add (local.get $d) (i32.const 87))
      (i32.lt_u (local.get $d) (i32.const 10))))

  ;; Bytes 0x20-0x7E as themselves except `\`; every other byte as \xHH.
  (func $putesc (param $p i32) (param $n i32) (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.and
              (i32.and (i32.ge_u (local.get $c) (i32.const 0x20)) (i32.le_u (local.get $c) (i32.const 0x7e)))
              (i32.ne (local.get $c) (i32.const 0x5c)))
          (then (call $putc (local.get $c)))
          (else
            (call $putc (i32.const 0x5c))
            (call $putc (i32.const 0x78))
            (call $putc (call $hexdigit (i32.shr_u (local.get $c) (i32.const 4))))
            (call $putc (call $hexdigit (i32.and (local.get $c) (i32.const 15))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))

  (func $putu (param $v i32) (local $i i32)
    (local.set $i (i32.const 0x10A))
    (loop $next
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (local.get $i) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $next (local.get $v)))
    (call $puts (local.get $i) (i32.sub (i32.const 0x10A) (local.get $i))))

  (func $fill (param $p i32) (param $n i32) (param $b i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (i32.store8 (local.get $p) (local.get $b))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))
