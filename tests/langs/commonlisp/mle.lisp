; 1 GiB in 1 MiB blocks, each written so that it is really used.
(defvar *blocks* nil)
(dotimes (i 1024)
  (push (make-array (* 1024 1024) :element-type '(unsigned-byte 8) :initial-element (mod i 256)) *blocks*))
(format t "~d~%" (length *blocks*))
