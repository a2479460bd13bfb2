section .text
global _start
_start:
    mov rax, 60
    notaninstruction rdi, rdi
    syscall
