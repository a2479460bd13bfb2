; 1 GiB in 1 MiB blocks, each written so that it is really used.
(def blocks (java.util.ArrayList.))
(dotimes [i 1024]
  (let [b (byte-array (bit-shift-left 1 20))]
    (java.util.Arrays/fill b (byte (mod i 128)))
    (.add blocks b)))
(println (.size blocks))
