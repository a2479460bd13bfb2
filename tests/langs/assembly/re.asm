section .text
global _start
_start:
    xor rax, rax
    mov rax, [rax]          ; SIGSEGV
