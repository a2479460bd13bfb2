gets stdin line
lassign [regexp -all -inline {\S+} $line] a b
puts [expr {$a + $b}]
