program re
  error stop 3
end program re
