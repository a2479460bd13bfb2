#lang racket/base
;; 1 GiB in 1 MiB blocks, each written so that it is really used.
(define blocks
  (for/list ([i (in-range 1024)])
    (make-bytes (* 1024 1024) (modulo i 256))))
(displayln (length blocks))
