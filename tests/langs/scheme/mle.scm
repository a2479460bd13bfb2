;; 1 GiB in 1 MiB bytevectors, each written so that it is really used.
(use-modules (rnrs bytevectors))
(define (grow i acc)
  (if (= i 1024)
      acc
      (grow (+ i 1) (cons (make-bytevector (* 1024 1024) (modulo i 256)) acc))))
(display (length (grow 0 '())))
(newline)
