#lang racket/base
(define (f x)
  (+ x 1)
