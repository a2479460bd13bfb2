: skip-space  ( -- c )  begin key dup bl = over 10 = or while drop repeat ;
: read-num  ( -- n )
  0 skip-space
  begin dup [char] 0 [char] 9 1+ within while [char] 0 - swap 10 * + key repeat
  drop ;
read-num read-num + 0 .r cr
