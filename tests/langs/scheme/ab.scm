(define a (read))
(define b (read))
(display (+ a b))
(newline)
