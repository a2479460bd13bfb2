program ce
  integer :: x
  x = 'not an integer'
  print *, x
end program ce
