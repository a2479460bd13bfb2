# 1 GiB in 1 MiB strings, each distinct.
set blocks {}
for {set i 0} {$i < 1024} {incr i} {
    lappend blocks [string repeat [format %c [expr {65 + $i % 26}]] 1048576]$i
}
puts [llength $blocks]
