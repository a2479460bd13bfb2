; 1 GiB in 1 MiB steps: brk grows the heap, every page is written.
section .text
global _start
_start:
    mov rax, 12             ; brk(0)
    xor rdi, rdi
    syscall
    mov r12, rax            ; current break
    mov r13, 1024
.more:
    lea rdi, [r12 + 1048576]
    mov rax, 12
    syscall
    cmp rax, rdi
    jne .fail
.touch:
    mov byte [r12], 1
    add r12, 4096
    cmp r12, rax
    jb .touch
    dec r13
    jnz .more
    mov rax, 60
    xor rdi, rdi
    syscall
.fail:
    mov rax, 60
    mov rdi, 3
    syscall
