program mle
  ! 1 GiB in 1 MiB blocks, each written so that it is really used.
  type block
    character(len=1), allocatable :: b(:)
  end type block
  type(block) :: blocks(1024)
  integer :: i
  do i = 1, 1024
    allocate(blocks(i)%b(1048576))
    blocks(i)%b = achar(mod(i, 26) + 65)
  end do
  print '(a)', 'allocated'
end program mle
